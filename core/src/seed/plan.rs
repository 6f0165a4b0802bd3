//! What each tenant gets: pipelines, stages, users, time zones.
use super::*;

#[derive(Clone, Copy)]
pub(super) struct StageSpec {
    pub(super) name: &'static str,
    pub(super) probability: i32,
    pub(super) rotten_after_days: Option<i32>,
}

pub(super) const fn st(
    name: &'static str,
    probability: i32,
    rotten_after_days: Option<i32>,
) -> StageSpec {
    StageSpec {
        name,
        probability,
        rotten_after_days,
    }
}

/// The demo tenant has the pipeline a sign-up gets; its open stages rot
/// after this many days, so that the demo shows rotting too.
pub(super) const DEMO_ROTTEN_AFTER_DAYS: i32 = 21;

pub(super) const SCALE_STAGES: &[StageSpec] = &[
    st("Lead in", 10, Some(14)),
    st("Qualified", 25, None),
    st("Demo done", 40, Some(21)),
    st("Proposal sent", 60, None),
    st("Negotiation", 80, Some(30)),
    st("Closing", 100, None),
];

pub(super) const SCALE_PIPELINES: &[&str] = &[
    "New business",
    "Renewals",
    "Upsell",
    "Partners",
    "Public tenders",
];

/// Role, email local part and name. The admin comes first: the report
/// names it as the tenant's login.
pub(super) type UserSpec = (Role, &'static str, &'static str);

pub(super) const SCALE_USERS: &[UserSpec] = &[
    (Role::Admin, "admin", "Alice Martin"),
    (Role::Manager, "manager", "Marc Dubois"),
    (Role::Sales, "sales1", "Sofia Rossi"),
    (Role::Sales, "sales2", "Tom Becker"),
];

/// One user of each role.
pub(super) const DEMO_USERS: &[UserSpec] = SCALE_USERS.split_at(3).0;

pub(super) const TIMEZONES: &[&str] = &[
    "Europe/Paris",
    "Europe/Berlin",
    "Europe/London",
    "America/New_York",
    "UTC",
];

pub(super) struct TenantPlan {
    pub(super) slug: String,
    pub(super) name: String,
    pub(super) timezone: &'static str,
    pub(super) users: &'static [UserSpec],
    pub(super) pipelines: Vec<(&'static str, Vec<StageSpec>)>,
    pub(super) contacts: usize,
    pub(super) opportunities: usize,
}

pub(super) fn plans(opts: &SeedOptions) -> Vec<TenantPlan> {
    let mut out = Vec::new();
    if opts.demo {
        out.push(TenantPlan {
            slug: "demo".into(),
            name: "Demo Company".into(),
            timezone: "Europe/Paris",
            users: DEMO_USERS,
            pipelines: vec![(
                "Sales",
                DEFAULT_STAGES
                    .iter()
                    .map(|&(name, probability)| StageSpec {
                        name,
                        probability,
                        rotten_after_days: (probability < 100).then_some(DEMO_ROTTEN_AFTER_DAYS),
                    })
                    .collect(),
            )],
            contacts: 20,
            opportunities: 30,
        });
    }
    if let Some(n) = opts.scale {
        let n = n as usize;
        let tenants = SCALE_TENANTS as usize;
        for i in 0..tenants {
            let opportunities = n / tenants + usize::from(i < n % tenants);
            out.push(TenantPlan {
                slug: format!("scale-{}", i + 1),
                name: format!("Scale Tenant {}", i + 1),
                timezone: nth(TIMEZONES, i),
                users: SCALE_USERS,
                pipelines: SCALE_PIPELINES
                    .iter()
                    .map(|name| (*name, SCALE_STAGES.to_vec()))
                    .collect(),
                // a handful even for tiny runs, so that opportunities can
                // have two distinct contacts
                contacts: (opportunities / 2).max(4),
                opportunities,
            });
        }
    }
    out
}
