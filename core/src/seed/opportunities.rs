//! Generating opportunities with their contacts, team, stage history and
//! activities, drawn in a fixed order from the tenant's `Rng`.
use super::generate::Gen;
use super::*;
use entity::opportunity::Status;

/// What is drawn first for one opportunity: where it is and how it ends.
pub(super) struct Course {
    pub(super) created_at: DateTime<Utc>,
    pub(super) pipeline: usize,
    pub(super) status: Status,
    /// Index of its current stage in the pipeline.
    pub(super) end: usize,
    /// The stages it went through, in order, and the seconds after
    /// `created_at` at which it entered each.
    pub(super) path: Vec<usize>,
    pub(super) offsets: Vec<i64>,
    pub(super) close_offset: i64,
}

impl Gen {
    /// Opportunities in creation order, so that OPP-1 is the oldest; then
    /// a contact becomes a client when one of its opportunities is won.
    pub(super) fn opportunities(&mut self, plan: &TenantPlan) {
        let history_secs = HISTORY_DAYS * 86_400;
        let mut ages: Vec<i64> = (0..plan.opportunities)
            .map(|_| self.rng.range(3_600, history_secs))
            .collect();
        ages.sort_unstable_by(|a, b| b.cmp(a));
        for (i, &age) in ages.iter().enumerate() {
            self.opportunity(i, age);
        }
        for (c, won) in self.data.contacts.iter_mut().zip(&self.won_contact) {
            if *won {
                c.lifecycle = "CLIENT".into();
            }
        }
    }

    fn opportunity(&mut self, i: usize, age: i64) {
        let id = self.rng.uuid();
        let course = self.course(age);
        let stage_entered_at = course.created_at
            + Duration::seconds(course.offsets.last().copied().unwrap_or_default());
        let closed_at = (course.status != Status::Open)
            .then(|| course.created_at + Duration::seconds(course.close_offset));
        let currency = self.currency();
        let rng = &mut self.rng;
        // squared draw: many small deals, a few large ones
        // below 50_001: the fallback is never taken
        let u = i64::try_from(rng.below(50_001)).unwrap_or_default();
        let potential_cents = u * u / 50_000 * 100;
        let today = self.anchor.date_naive();
        let due_date = rng
            .percent(85)
            .then(|| today + Duration::days(rng.range(-90, 180)));
        let owner = if !self.sales.is_empty() && rng.percent(75) {
            rng.pick(&self.sales)
        } else {
            rng.below(self.data.users.len())
        };
        // owner indexes users (a sales index or a draw below the count)
        let owner_id = self.data.users.get(owner).map(|u| u.id).unwrap_or_default();
        let source_id = rng.percent(80).then(|| rng.pick(&self.source_ids));
        let probability_override =
            (course.status == Status::Open && rng.percent(5)).then(|| rng.pick(OVERRIDES));
        let lost_reason =
            (course.status == Status::Lost).then(|| rng.pick(LOST_REASONS).to_string());

        let primary = self.link_contacts(id, &course);
        self.team_member(id, owner);
        let stage_ids = self.stage_history(id, &course, owner_id);
        let last_activity_at = self.activities(id, &course, primary, owner_id);

        let company = self
            .company_of
            .get(primary)
            .copied()
            .flatten()
            .unwrap_or(primary);
        let company_name = self
            .data
            .contacts
            .get(company)
            .map_or("", |c| c.name.as_str());
        // opportunities number from 1; a plan holds far fewer than i64::MAX
        let number = i64::try_from(i + 1).unwrap_or(i64::MAX);
        let title = format!("{} for {company_name}", self.rng.pick(PRODUCTS));
        let pipeline_id = self
            .data
            .pipelines
            .get(course.pipeline)
            .map(|p| p.id)
            .unwrap_or_default();
        self.data.opportunities.push(opportunity::Model {
            id,
            tenant_id: self.tenant_id,
            number,
            reference: format!("OPP-{number}"),
            title,
            pipeline_id,
            stage_id: stage_ids.get(course.end).copied().unwrap_or_default(),
            status: course.status,
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
            late_marked_due: due_date.filter(|d| *d < today),
            created_at: course.created_at,
            updated_at: closed_at.unwrap_or(stage_entered_at),
            external_id: None,
        });
    }

    /// Its pipeline, its status, the stages it went through and when.
    fn course(&mut self, age: i64) -> Course {
        let rng = &mut self.rng;
        let created_at = self.anchor - Duration::seconds(age);
        let pipeline = if rng.percent(40) {
            0
        } else {
            rng.below(self.data.pipelines.len())
        };
        let n = self.stage_ranges.get(pipeline).map_or(0, |r| r.len());
        let last = n.saturating_sub(1);
        // closing takes time: the newest opportunities are nearly all open
        let closed_pct = if age < 7 * 86_400 { 3 } else { 35 };
        let status = if rng.percent(closed_pct) {
            if rng.percent(55) {
                Status::Won
            } else {
                Status::Lost
            }
        } else {
            Status::Open
        };
        let end = match status {
            Status::Won => last,
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
            Status::Open => age,
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
        Course {
            created_at,
            pipeline,
            status,
            end,
            path,
            offsets,
            close_offset,
        }
    }

    /// Mostly the tenant's currency; sometimes one of `RATES`.
    fn currency(&mut self) -> &'static str {
        let draw = self.rng.below(100);
        if draw < 85 {
            return TENANT_CURRENCY;
        }
        let r = usize::from(draw >= 95);
        // r is 0 or 1, and RATES has two entries
        if let Some(used) = self.used_currency.get_mut(r) {
            *used = true;
        }
        RATES.get(r).map_or(TENANT_CURRENCY, |rate| rate.0)
    }

    /// Its primary contact (answered) and sometimes a second one, among
    /// the contacts that existed when it was created.
    fn link_contacts(&mut self, id: Uuid, course: &Course) -> usize {
        let rng = &mut self.rng;
        let known = self
            .data
            .contacts
            .partition_point(|c| c.created_at <= course.created_at)
            .max(1);
        let primary = rng.below(known);
        let mut linked = vec![primary];
        if rng.percent(40) {
            let other = match self.company_of.get(primary).copied().flatten() {
                Some(c) if c != primary && rng.percent(70) => c,
                _ => rng.below(known),
            };
            if other != primary {
                linked.push(other);
            }
        }
        for (k, &c) in linked.iter().enumerate() {
            self.data
                .opportunity_contacts
                .push(opportunity_contact::Model {
                    id: self.rng.uuid(),
                    tenant_id: self.tenant_id,
                    opportunity_id: id,
                    contact_id: self.data.contacts.get(c).map(|c| c.id).unwrap_or_default(),
                    role: self.rng.pick(CONTACT_ROLES).map(str::to_string),
                    is_primary: k == 0,
                    created_at: course.created_at,
                });
            if course.status == Status::Won
                && let Some(won) = self.won_contact.get_mut(c)
            {
                *won = true;
            }
        }
        primary
    }

    /// Sometimes a team member other than the owner.
    fn team_member(&mut self, id: Uuid, owner: usize) {
        let users = self.data.users.len();
        if users > 1 && self.rng.percent(15) {
            let mut member = self.rng.below(users - 1);
            if member >= owner {
                member += 1;
            }
            self.data.team.push(opportunity_team::Model {
                id: self.rng.uuid(),
                tenant_id: self.tenant_id,
                opportunity_id: id,
                user_id: self
                    .data
                    .users
                    .get(member)
                    .map(|u| u.id)
                    .unwrap_or_default(),
            });
        }
    }

    /// One stage change per step of its path; answers the ids of its
    /// pipeline's stages.
    fn stage_history(&mut self, id: Uuid, course: &Course, owner_id: Uuid) -> Vec<Uuid> {
        let stage_ids: Vec<Uuid> = self
            .stage_ranges
            .get(course.pipeline)
            .and_then(|r| self.data.stages.get(r.clone()))
            .unwrap_or_default()
            .iter()
            .map(|s| s.id)
            .collect();
        let mut from = None;
        // path holds stage indices below the stage count, one offset each
        for (&s, &offset) in course.path.iter().zip(&course.offsets) {
            let to = stage_ids.get(s).copied().unwrap_or_default();
            self.data.stage_changes.push(stage_change::Model {
                id: self.rng.uuid(),
                tenant_id: self.tenant_id,
                opportunity_id: id,
                from_stage_id: from,
                to_stage_id: to,
                changed_by: Some(owner_id),
                changed_at: course.created_at + Duration::seconds(offset),
            });
            from = Some(to);
        }
        stage_ids
    }

    /// Four activities: the request note, a discovery call, a meeting and
    /// a follow-up task (open ones still pending). Answers when the last
    /// one was done.
    fn activities(
        &mut self,
        id: Uuid,
        course: &Course,
        primary: usize,
        owner_id: Uuid,
    ) -> Option<DateTime<Utc>> {
        let (created_at, anchor) = (course.created_at, self.anchor);
        let closed = course.status != Status::Open;
        let mut last_activity_at: Option<DateTime<Utc>> = None;
        let kinds: [(&str, &str, i64); 4] = [
            ("NOTE", "Initial request", 0),
            ("CALL", "Discovery call", 1),
            ("EVENT", "Meeting", self.rng.range(-10, 30)),
            ("TASK", "Follow up", self.rng.range(-5, 20)),
        ];
        let contact_id = self.data.contacts.get(primary).map(|c| c.id);
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
            self.data.activities.push(activity::Model {
                id: self.rng.uuid(),
                tenant_id: self.tenant_id,
                kind: kind.to_string(),
                subject: subject.to_string(),
                note: (kind == "CALL").then(|| "Talked through needs and budget.".to_string()),
                opportunity_id: Some(id),
                contact_id,
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
        last_activity_at
    }
}
