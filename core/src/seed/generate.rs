//! Generating one tenant's rows in memory.
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
    let history_secs = HISTORY_DAYS * 86_400;

    let users: Vec<user::Model> = plan
        .users
        .iter()
        .map(|&(role, local, name)| user::Model {
            id: rng.uuid(),
            tenant_id,
            email: format!("{local}@{}.test", plan.slug),
            name: name.to_string(),
            role: role.as_str().to_string(),
            active: true,
            password_hash: password_hash.to_string(),
            calendar_token_hash: None,
            calendar_version: 0,
            created_at: born,
            updated_at: born,
        })
        .collect();
    let sales: Vec<usize> = plan
        .users
        .iter()
        .enumerate()
        .filter(|(_, u)| u.0 == Role::Sales)
        .map(|(i, _)| i)
        .collect();

    let mut pipelines = Vec::with_capacity(plan.pipelines.len());
    let mut stages = Vec::new();
    // per pipeline, the range of its stages in `stages`, in board order
    let mut stage_ranges = Vec::with_capacity(plan.pipelines.len());
    for (position, (name, specs)) in plan.pipelines.iter().enumerate() {
        let pipeline_id = rng.uuid();
        pipelines.push(pipeline::Model {
            id: pipeline_id,
            tenant_id,
            name: (*name).to_string(),
            // a plan has a handful of pipelines and stages
            position: i32::try_from(position).unwrap_or(i32::MAX),
            archived: false,
            created_at: born,
            updated_at: born,
        });
        let first = stages.len();
        for (position, spec) in specs.iter().enumerate() {
            stages.push(stage::Model {
                id: rng.uuid(),
                tenant_id,
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
        stage_ranges.push(first..stages.len());
    }

    let sources: Vec<source::Model> = DEFAULT_SOURCES
        .iter()
        .map(|name| source::Model {
            id: rng.uuid(),
            tenant_id,
            name: (*name).to_string(),
            archived: false,
            created_at: born,
        })
        .collect();
    let source_ids: Vec<Uuid> = sources.iter().map(|s| s.id).collect();

    // Contacts in creation order, so that a person's company and an
    // opportunity's contacts are always older than what points at them.
    // The min of two draws leans towards the early months.
    let contact_span = (HISTORY_DAYS + 20) * 86_400;
    let mut contact_offsets: Vec<i64> = (0..plan.contacts)
        .map(|i| {
            if i == 0 {
                0
            } else {
                rng.range(0, contact_span).min(rng.range(0, contact_span))
            }
        })
        .collect();
    contact_offsets.sort_unstable();
    let mut contacts: Vec<contact::Model> = Vec::with_capacity(plan.contacts);
    // the company each contact belongs to (a company belongs to itself)
    let mut company_of: Vec<Option<usize>> = Vec::with_capacity(plan.contacts);
    let mut companies: Vec<usize> = Vec::new();
    // per contact, the email domain its people use (empty for a person)
    let mut domains: Vec<String> = Vec::with_capacity(plan.contacts);
    for (i, offset) in contact_offsets.iter().enumerate() {
        let created_at = born + Duration::seconds(*offset);
        let is_company = i == 0 || rng.percent(30);
        let id = rng.uuid();
        if is_company {
            let word = rng.pick(COMPANY_WORDS);
            let trade = rng.pick(COMPANY_TRADES);
            let form = rng.pick(COMPANY_FORMS);
            let domain = format!("{}-{}.test", word.to_lowercase(), trade.to_lowercase());
            let email = rng.percent(60).then(|| format!("contact@{domain}"));
            let phone = rng.percent(70).then(|| phone(&mut rng));
            let source_id = rng.percent(50).then(|| rng.pick(&source_ids));
            contacts.push(contact::Model {
                id,
                tenant_id,
                kind: "COMPANY".into(),
                lifecycle: "PROSPECT".into(),
                name: format!("{word} {trade} {form}"),
                email,
                phone,
                company_id: None,
                source_id,
                created_at,
                updated_at: created_at,
            });
            company_of.push(Some(i));
            companies.push(i);
            domains.push(domain);
        } else {
            let first = rng.pick(FIRST_NAMES);
            let last = rng.pick(LAST_NAMES);
            let company = (!companies.is_empty() && rng.percent(85)).then(|| rng.pick(&companies));
            let domain = company
                .and_then(|c| domains.get(c).cloned())
                .unwrap_or_else(|| "mail.test".to_string());
            let email = rng
                .percent(80)
                .then(|| format!("{}.{}@{domain}", first.to_lowercase(), last.to_lowercase()));
            let phone = rng.percent(50).then(|| phone(&mut rng));
            let source_id = rng.percent(50).then(|| rng.pick(&source_ids));
            contacts.push(contact::Model {
                id,
                tenant_id,
                kind: "PERSON".into(),
                lifecycle: "PROSPECT".into(),
                name: format!("{first} {last}"),
                email,
                phone,
                company_id: company.and_then(|c| contacts.get(c)).map(|c| c.id),
                source_id,
                created_at,
                updated_at: created_at,
            });
            company_of.push(company);
            domains.push(String::new());
        }
    }
    let mut won_contact = vec![false; contacts.len()];

    // Opportunities in creation order, so that OPP-1 is the oldest.
    let mut ages: Vec<i64> = (0..plan.opportunities)
        .map(|_| rng.range(3_600, history_secs))
        .collect();
    ages.sort_unstable_by(|a, b| b.cmp(a));
    let mut opportunities = Vec::with_capacity(plan.opportunities);
    let mut opportunity_contacts = Vec::with_capacity(plan.opportunities * 3 / 2);
    let mut team = Vec::new();
    let mut stage_changes = Vec::with_capacity(plan.opportunities * 3);
    let mut activities = Vec::with_capacity(plan.opportunities * 4);
    let mut used_currency = [false; RATES.len()];
    let today = anchor.date_naive();

    for (i, &age) in ages.iter().enumerate() {
        let id = rng.uuid();
        let created_at = anchor - Duration::seconds(age);

        let p = if rng.percent(40) {
            0
        } else {
            rng.below(pipelines.len())
        };
        // p is below pipelines.len(), which stage_ranges matches: the
        // fallbacks (no pipeline, no stages) are never taken
        let pipeline_id = pipelines.get(p).map(|p| p.id).unwrap_or_default();
        let pipeline_stages: &[stage::Model] = stage_ranges
            .get(p)
            .and_then(|r| stages.get(r.clone()))
            .unwrap_or_default();
        let n = pipeline_stages.len();
        let last = n.saturating_sub(1);

        // closing takes time: the newest opportunities are nearly all open
        let closed_pct = if age < 7 * 86_400 { 3 } else { 35 };
        let status = if rng.percent(closed_pct) {
            if rng.percent(55) { "WON" } else { "LOST" }
        } else {
            "OPEN"
        };
        let end = match status {
            "WON" => last,
            // an open deal rarely sits in the final (100%) stage unmarked
            _ => rng.below(last).min(rng.below(last)),
        };
        let start = if rng.percent(15) {
            rng.below(end + 1)
        } else {
            0
        };
        let mut path = vec![start];
        for s in start + 1..=end {
            if s == end || !rng.percent(15) {
                path.push(s);
            }
        }

        // seconds after created_at: the stage changes, then the close
        let close_offset = match status {
            "OPEN" => age,
            _ => rng.range((age / 10).max(60), age),
        };
        // drawn below close_offset by the path length, so that making the
        // times strictly increasing cannot push one past the close (a path
        // has at most one step per stage, so the fallback is never taken)
        let steps = i64::try_from(path.len()).unwrap_or(i64::MAX);
        let room = (close_offset - steps).max(1);
        let mut offsets: Vec<i64> = (1..path.len()).map(|_| rng.range(1, room)).collect();
        offsets.sort_unstable();
        offsets.insert(0, 0);
        let mut floor = i64::MIN;
        for offset in &mut offsets {
            *offset = (*offset).max(floor);
            floor = *offset + 1;
        }
        // one offset per step of the path, which is never empty
        let stage_entered_at =
            created_at + Duration::seconds(offsets.last().copied().unwrap_or_default());
        let closed_at = (status != "OPEN").then(|| created_at + Duration::seconds(close_offset));

        let currency_draw = rng.below(100);
        let currency = if currency_draw < 85 {
            TENANT_CURRENCY
        } else {
            let r = usize::from(currency_draw >= 95);
            // r is 0 or 1, and RATES has two entries
            if let Some(used) = used_currency.get_mut(r) {
                *used = true;
            }
            RATES.get(r).map_or(TENANT_CURRENCY, |rate| rate.0)
        };
        // squared draw: many small deals, a few large ones
        // below 50_001: the fallback is never taken
        let u = i64::try_from(rng.below(50_001)).unwrap_or_default();
        let potential_cents = u * u / 50_000 * 100;
        let due_date = rng
            .percent(85)
            .then(|| today + Duration::days(rng.range(-90, 180)));
        let owner = if !sales.is_empty() && rng.percent(75) {
            rng.pick(&sales)
        } else {
            rng.below(users.len())
        };
        // owner indexes users (a sales index or a draw below the count)
        let owner_id = users.get(owner).map(|u| u.id).unwrap_or_default();
        let source_id = rng.percent(80).then(|| rng.pick(&source_ids));
        let probability_override =
            (status == "OPEN" && rng.percent(5)).then(|| rng.pick(OVERRIDES));
        let lost_reason = (status == "LOST").then(|| rng.pick(LOST_REASONS).to_string());

        // only contacts that existed when the opportunity was created
        let known = contacts
            .partition_point(|c| c.created_at <= created_at)
            .max(1);
        let primary = rng.below(known);
        let mut linked = vec![primary];
        if rng.percent(40) {
            let other = match company_of.get(primary).copied().flatten() {
                Some(c) if c != primary && rng.percent(70) => c,
                _ => rng.below(known),
            };
            if other != primary {
                linked.push(other);
            }
        }
        for (k, &c) in linked.iter().enumerate() {
            opportunity_contacts.push(opportunity_contact::Model {
                id: rng.uuid(),
                tenant_id,
                opportunity_id: id,
                contact_id: contacts.get(c).map(|c| c.id).unwrap_or_default(),
                role: rng.pick(CONTACT_ROLES).map(str::to_string),
                is_primary: k == 0,
                created_at,
            });
            if status == "WON"
                && let Some(won) = won_contact.get_mut(c)
            {
                *won = true;
            }
        }
        if users.len() > 1 && rng.percent(15) {
            let mut member = rng.below(users.len() - 1);
            if member >= owner {
                member += 1;
            }
            team.push(opportunity_team::Model {
                id: rng.uuid(),
                tenant_id,
                opportunity_id: id,
                user_id: users.get(member).map(|u| u.id).unwrap_or_default(),
            });
        }

        let mut from = None;
        // path holds stage indices below n, one offset each
        for (&s, &offset) in path.iter().zip(&offsets) {
            let to = pipeline_stages.get(s).map(|s| s.id).unwrap_or_default();
            stage_changes.push(stage_change::Model {
                id: rng.uuid(),
                tenant_id,
                opportunity_id: id,
                from_stage_id: from,
                to_stage_id: to,
                changed_by: Some(owner_id),
                changed_at: created_at + Duration::seconds(offset),
            });
            from = Some(to);
        }

        // four activities per opportunity: the request note, a discovery
        // call, a meeting and a follow-up task (open ones still pending)
        let closed = status != "OPEN";
        let mut last_activity_at: Option<DateTime<Utc>> = None;
        let kinds: [(&str, &str, i64); 4] = [
            ("NOTE", "Initial request", 0),
            ("CALL", "Discovery call", 1),
            ("EVENT", "Meeting", rng.range(-10, 30)),
            ("TASK", "Follow up", rng.range(-5, 20)),
        ];
        for (kind, subject, days) in kinds {
            let at = match kind {
                "NOTE" | "CALL" => created_at + Duration::hours(1 + 24 * days),
                _ if closed => created_at + Duration::days(2 + days.abs()),
                _ => anchor + Duration::days(days),
            };
            let done =
                matches!(kind, "NOTE" | "CALL") || closed || (kind == "EVENT" && at < anchor);
            let completed_at = done.then_some(at);
            if let Some(c) = completed_at {
                last_activity_at = Some(last_activity_at.map_or(c, |l| l.max(c)));
            }
            activities.push(activity::Model {
                id: rng.uuid(),
                tenant_id,
                kind: kind.to_string(),
                subject: subject.to_string(),
                note: (kind == "CALL").then(|| "Talked through needs and budget.".to_string()),
                opportunity_id: Some(id),
                contact_id: contacts.get(primary).map(|c| c.id),
                assignee_id: owner_id,
                created_by: owner_id,
                due_at: (kind == "TASK").then_some(at),
                starts_at: (kind == "EVENT").then_some(at),
                ends_at: (kind == "EVENT").then_some(at + Duration::hours(1)),
                at,
                at_ms: at.timestamp_millis(),
                done,
                completed_at,
                // seeded history is not news: what is already past due is
                // marked, so the first sweep raises nothing for it
                overdue_marked_due: (kind == "TASK" && at < anchor).then_some(at),
                created_at,
                updated_at: completed_at.unwrap_or(created_at),
            });
        }

        let company = company_of
            .get(primary)
            .copied()
            .flatten()
            .unwrap_or(primary);
        let company_name = contacts.get(company).map_or("", |c| c.name.as_str());
        // opportunities number from 1; a plan holds far fewer than i64::MAX
        let number = i64::try_from(i + 1).unwrap_or(i64::MAX);
        opportunities.push(opportunity::Model {
            id,
            tenant_id,
            number,
            reference: format!("OPP-{number}"),
            title: format!("{} for {company_name}", rng.pick(PRODUCTS)),
            pipeline_id,
            stage_id: pipeline_stages.get(end).map(|s| s.id).unwrap_or_default(),
            status: status.to_string(),
            probability_override,
            potential_cents,
            currency: currency.to_string(),
            due_date,
            owner_id,
            source_id,
            lost_reason,
            closed_at,
            stage_entered_at,
            last_activity_at,
            version: 1,
            late_marked_due: due_date.filter(|d| *d < anchor.date_naive()),
            created_at,
            updated_at: closed_at.unwrap_or(stage_entered_at),
        });
    }

    // a contact becomes a client when one of its opportunities is won
    for (c, won) in contacts.iter_mut().zip(&won_contact) {
        if *won {
            c.lifecycle = "CLIENT".into();
        }
    }
    let exchange_rates = RATES
        .iter()
        .zip(used_currency)
        .filter(|(_, used)| *used)
        .map(|(&(currency, rate_nanos), _)| exchange_rate::Model {
            id: rng.uuid(),
            tenant_id,
            currency: currency.to_string(),
            rate_nanos,
            updated_at: anchor,
        })
        .collect();

    TenantData {
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
        users,
        pipelines,
        stages,
        sources,
        exchange_rates,
        contacts,
        opportunities,
        opportunity_contacts,
        team,
        stage_changes,
        activities,
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
