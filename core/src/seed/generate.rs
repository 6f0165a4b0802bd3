//! Generating one tenant's rows in memory, one small generator per kind of
//! row. They draw from one `Rng` in a fixed order, so a seed always writes
//! the same data: reordering the calls below changes every generated row.
use super::*;

pub(super) struct TenantData {
    pub(super) tenant: tenant::Model,
    pub(super) users: Vec<user::Model>,
    pub(super) pipelines: Vec<pipeline::Model>,
    pub(super) stages: Vec<stage::Model>,
    pub(super) sources: Vec<source::Model>,
    pub(super) exchange_rates: Vec<exchange_rate::Model>,
    pub(super) contacts: Vec<contact::Model>,
    pub(super) opportunities: Vec<opportunity::Model>,
    pub(super) opportunity_contacts: Vec<opportunity_contact::Model>,
    pub(super) team: Vec<opportunity_team::Model>,
    pub(super) stage_changes: Vec<stage_change::Model>,
    pub(super) activities: Vec<activity::Model>,
}

impl TenantData {
    pub(super) fn counts(&self) -> Counts {
        Counts {
            users: self.users.len(),
            pipelines: self.pipelines.len(),
            stages: self.stages.len(),
            sources: self.sources.len(),
            exchange_rates: self.exchange_rates.len(),
            contacts: self.contacts.len(),
            opportunities: self.opportunities.len(),
            opportunity_contacts: self.opportunity_contacts.len(),
            team_members: self.team.len(),
            stage_changes: self.stage_changes.len(),
            activities: self.activities.len(),
        }
    }
}

pub(super) fn generate(
    plan: &TenantPlan,
    seed: u64,
    anchor: DateTime<Utc>,
    password_hash: &str,
) -> TenantData {
    let mut rng = Rng::new(stream_seed(seed, &plan.slug));
    let tenant_id = rng.uuid();
    // the tenant predates its oldest opportunity
    let born = anchor - Duration::days(HISTORY_DAYS + 20);
    let mut g = Gen {
        rng,
        tenant_id,
        born,
        anchor,
        data: TenantData {
            tenant: tenant::Model {
                id: tenant_id,
                name: plan.name.clone(),
                slug: plan.slug.clone(),
                currency: TENANT_CURRENCY.to_string(),
                timezone: plan.timezone.to_string(),
                // later creations continue after the seeded references
                opportunity_seq: i64::try_from(plan.opportunities).unwrap_or(i64::MAX),
                created_at: born,
                updated_at: born,
            },
            users: Vec::new(),
            pipelines: Vec::new(),
            stages: Vec::new(),
            sources: Vec::new(),
            exchange_rates: Vec::new(),
            contacts: Vec::with_capacity(plan.contacts),
            opportunities: Vec::with_capacity(plan.opportunities),
            opportunity_contacts: Vec::with_capacity(plan.opportunities * 3 / 2),
            team: Vec::new(),
            stage_changes: Vec::with_capacity(plan.opportunities * 3),
            activities: Vec::with_capacity(plan.opportunities * 4),
        },
        sales: Vec::new(),
        stage_ranges: Vec::new(),
        source_ids: Vec::new(),
        company_of: Vec::with_capacity(plan.contacts),
        won_contact: Vec::new(),
        used_currency: [false; RATES.len()],
    };
    g.users(plan, password_hash);
    g.pipelines(plan);
    g.sources();
    g.contacts(plan);
    g.opportunities(plan);
    g.exchange_rates();
    g.data
}

/// The generator's state: the draws so far and the indexes later rows
/// point into (a contact's company, a pipeline's stages, the sales users).
pub(super) struct Gen {
    pub(super) rng: Rng,
    pub(super) tenant_id: Uuid,
    pub(super) born: DateTime<Utc>,
    pub(super) anchor: DateTime<Utc>,
    pub(super) data: TenantData,
    /// Indexes of the SALES users in `data.users`.
    pub(super) sales: Vec<usize>,
    /// Per pipeline, the range of its stages in `data.stages`, in board order.
    pub(super) stage_ranges: Vec<std::ops::Range<usize>>,
    pub(super) source_ids: Vec<Uuid>,
    /// The company each contact belongs to (a company belongs to itself).
    pub(super) company_of: Vec<Option<usize>>,
    /// Per contact, whether one of its opportunities is won.
    pub(super) won_contact: Vec<bool>,
    /// Which of `RATES` an opportunity uses (only those get a rate).
    pub(super) used_currency: [bool; RATES.len()],
}

impl Gen {
    fn users(&mut self, plan: &TenantPlan, password_hash: &str) {
        for &(role, local, name) in plan.users {
            self.data.users.push(user::Model {
                id: self.rng.uuid(),
                tenant_id: self.tenant_id,
                email: format!("{local}@{}.test", plan.slug),
                name: name.to_string(),
                role: role.as_str().to_string(),
                active: true,
                password_hash: password_hash.to_string(),
                calendar_token_hash: None,
                calendar_version: 0,
                created_at: self.born,
                updated_at: self.born,
            });
        }
        self.sales = plan
            .users
            .iter()
            .enumerate()
            .filter(|(_, u)| u.0 == Role::Sales)
            .map(|(i, _)| i)
            .collect();
    }

    fn pipelines(&mut self, plan: &TenantPlan) {
        let born = self.born;
        for (position, (name, specs)) in plan.pipelines.iter().enumerate() {
            let pipeline_id = self.rng.uuid();
            self.data.pipelines.push(pipeline::Model {
                id: pipeline_id,
                tenant_id: self.tenant_id,
                name: (*name).to_string(),
                // a plan has a handful of pipelines and stages
                position: i32::try_from(position).unwrap_or(i32::MAX),
                archived: false,
                created_at: born,
                updated_at: born,
            });
            let first = self.data.stages.len();
            for (position, spec) in specs.iter().enumerate() {
                self.data.stages.push(stage::Model {
                    id: self.rng.uuid(),
                    tenant_id: self.tenant_id,
                    pipeline_id,
                    name: spec.name.to_string(),
                    position: i32::try_from(position).unwrap_or(i32::MAX),
                    probability: spec.probability,
                    rotten_after_days: spec.rotten_after_days,
                    deleted: false,
                    created_at: born,
                    updated_at: born,
                });
            }
            self.stage_ranges.push(first..self.data.stages.len());
        }
    }

    fn sources(&mut self) {
        for name in DEFAULT_SOURCES {
            self.data.sources.push(source::Model {
                id: self.rng.uuid(),
                tenant_id: self.tenant_id,
                name: (*name).to_string(),
                archived: false,
                created_at: self.born,
            });
        }
        self.source_ids = self.data.sources.iter().map(|s| s.id).collect();
    }

    /// Contacts in creation order, so that a person's company and an
    /// opportunity's contacts are always older than what points at them.
    fn contacts(&mut self, plan: &TenantPlan) {
        // the min of two draws leans towards the early months
        let span = (HISTORY_DAYS + 20) * 86_400;
        let mut offsets: Vec<i64> = (0..plan.contacts)
            .map(|i| {
                if i == 0 {
                    0
                } else {
                    self.rng.range(0, span).min(self.rng.range(0, span))
                }
            })
            .collect();
        offsets.sort_unstable();
        let mut companies: Vec<usize> = Vec::new();
        // per contact, the email domain its people use (empty for a person)
        let mut domains: Vec<String> = Vec::with_capacity(plan.contacts);
        for (i, offset) in offsets.iter().enumerate() {
            let created_at = self.born + Duration::seconds(*offset);
            let is_company = i == 0 || self.rng.percent(30);
            let id = self.rng.uuid();
            if is_company {
                let domain = self.company(id, created_at);
                self.company_of.push(Some(i));
                companies.push(i);
                domains.push(domain);
            } else {
                let company = self.person(id, created_at, &companies, &domains);
                self.company_of.push(company);
                domains.push(String::new());
            }
        }
        self.won_contact = vec![false; self.data.contacts.len()];
    }

    /// A COMPANY contact; answers the email domain its people use.
    fn company(&mut self, id: Uuid, created_at: DateTime<Utc>) -> String {
        let rng = &mut self.rng;
        let word = rng.pick(COMPANY_WORDS);
        let trade = rng.pick(COMPANY_TRADES);
        let form = rng.pick(COMPANY_FORMS);
        let domain = format!("{}-{}.test", word.to_lowercase(), trade.to_lowercase());
        let email = rng.percent(60).then(|| format!("contact@{domain}"));
        let phone = rng.percent(70).then(|| phone(rng));
        let source_id = rng.percent(50).then(|| rng.pick(&self.source_ids));
        self.data.contacts.push(contact::Model {
            id,
            tenant_id: self.tenant_id,
            kind: "COMPANY".into(),
            lifecycle: "PROSPECT".into(),
            name: format!("{word} {trade} {form}"),
            email,
            phone,
            company_id: None,
            source_id,
            created_at,
            updated_at: created_at,
            external_id: None,
        });
        domain
    }

    /// A PERSON contact, most often working for an older company; answers
    /// that company.
    fn person(
        &mut self,
        id: Uuid,
        created_at: DateTime<Utc>,
        companies: &[usize],
        domains: &[String],
    ) -> Option<usize> {
        let rng = &mut self.rng;
        let first = rng.pick(FIRST_NAMES);
        let last = rng.pick(LAST_NAMES);
        let company = (!companies.is_empty() && rng.percent(85)).then(|| rng.pick(companies));
        let domain = company
            .and_then(|c| domains.get(c).cloned())
            .unwrap_or_else(|| "mail.test".to_string());
        let email = rng
            .percent(80)
            .then(|| format!("{}.{}@{domain}", first.to_lowercase(), last.to_lowercase()));
        let phone = rng.percent(50).then(|| phone(rng));
        let source_id = rng.percent(50).then(|| rng.pick(&self.source_ids));
        let company_id = company
            .and_then(|c| self.data.contacts.get(c))
            .map(|c| c.id);
        self.data.contacts.push(contact::Model {
            id,
            tenant_id: self.tenant_id,
            kind: "PERSON".into(),
            lifecycle: "PROSPECT".into(),
            name: format!("{first} {last}"),
            email,
            phone,
            company_id,
            source_id,
            created_at,
            updated_at: created_at,
            external_id: None,
        });
        company
    }

    /// A rate for each foreign currency an opportunity uses.
    fn exchange_rates(&mut self) {
        for (&(currency, rate_nanos), used) in RATES.iter().zip(self.used_currency) {
            if used {
                self.data.exchange_rates.push(exchange_rate::Model {
                    id: self.rng.uuid(),
                    tenant_id: self.tenant_id,
                    currency: currency.to_string(),
                    rate_nanos,
                    updated_at: self.anchor,
                });
            }
        }
    }
}

pub(super) fn phone(rng: &mut Rng) -> String {
    format!(
        "+33 1 {:02} {:02} {:02} {:02}",
        rng.below(100),
        rng.below(100),
        rng.below(100),
        rng.below(100)
    )
}
