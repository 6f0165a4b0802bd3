//! An opportunity row: its stage, owner, status and contact matched by
//! name, then created or (matched by external id) updated.
use super::*;

impl Rows<'_> {
    fn stage(&self, cells: &[String]) -> RowResult<Option<Uuid>> {
        let p = self.cell(cells, &Target::Pipeline).map(fold);
        let s = self.cell(cells, &Target::Stage).map(fold);
        let stages = &self.stages;
        let in_pipeline = |name: String| stages.iter().filter(move |st| st.0 == name);
        match (p, s) {
            (None, None) => Ok(None),
            (Some(p), None) => in_pipeline(p.clone())
                .next()
                .map(|st| Some(st.2))
                .ok_or_else(|| self.bad(&Target::Pipeline, format!("no pipeline is named {p:?}"))),
            (Some(p), Some(s)) => in_pipeline(p.clone())
                .find(|st| st.1 == s)
                .map(|st| Some(st.2))
                .ok_or_else(|| {
                    self.bad(&Target::Stage, format!("pipeline {p:?} has no stage {s:?}"))
                }),
            (None, Some(s)) => {
                let found: Vec<&(String, String, Uuid)> =
                    self.stages.iter().filter(|st| st.1 == s).collect();
                match found.as_slice() {
                    [] => Err(self.bad(&Target::Stage, format!("no stage is named {s:?}"))),
                    [one] => Ok(Some(one.2)),
                    _ => Err(self.bad(
                        &Target::Stage,
                        format!("several pipelines have a stage {s:?}: map a pipeline column"),
                    )),
                }
            }
        }
    }

    fn owner(&self, cells: &[String]) -> RowResult<Option<Uuid>> {
        let Some(raw) = self.cell(cells, &Target::Owner) else {
            return Ok(None);
        };
        let (email, name) = (raw.to_lowercase(), fold(raw));
        let by_email = self.users.iter().find(|u| u.0 == email);
        let by_name: Vec<_> = self.users.iter().filter(|u| u.1 == name).collect();
        match (by_email, by_name.as_slice()) {
            (Some(u), _) => Ok(Some(u.2)),
            (None, [u]) => Ok(Some(u.2)),
            (None, []) => Err(self.bad(
                &Target::Owner,
                format!("no active user has the email or name {raw:?}"),
            )),
            (None, _) => Err(self.bad(
                &Target::Owner,
                format!("several users are named {raw:?}: use their email"),
            )),
        }
    }

    /// An opportunity row's contact: the one with its email, else a new
    /// PERSON (of its company), else its company alone.
    async fn opportunity_contact(
        &self,
        st: &InTxn<'_>,
        cells: &[String],
    ) -> RowResult<Option<Uuid>> {
        let email = self.email(cells, &Target::ContactEmail)?;
        if let Some(e) = &email
            && let Some(found) = self.by_email(st, e).await?
        {
            return Ok(Some(found.id));
        }
        let company = match self.cell(cells, &Target::Company) {
            Some(c) => Some(self.company(st, c).await?),
            None => None,
        };
        let name = self
            .cell(cells, &Target::ContactName)
            .map(str::to_string)
            .or_else(|| email.as_ref().map(|e| e.as_str().to_string()));
        let Some(name) = name else {
            return Ok(company);
        };
        let input = ContactInput {
            kind: ContactKind::Person,
            name,
            email: email.map(|e| e.as_str().to_string()),
            phone: self.cell(cells, &Target::ContactPhone).map(str::to_string),
            company_id: company.map(|c| c.to_string()),
            source_id: None,
            tag_ids: None,
            custom_fields: None,
            external_id: None,
        };
        let made = contacts::create(st, self.run.auth, input)
            .await
            .map_err(|e| self.at(&Target::ContactName, e))?;
        Ok(Some(made.id))
    }

    fn status(&self, cells: &[String]) -> RowResult<Option<Status>> {
        let Some(raw) = self.cell(cells, &Target::Status) else {
            return Ok(None);
        };
        match fold(raw).as_str() {
            "open" | "ouvert" | "ouverte" | "en cours" | "in progress" | "late" | "en retard" => {
                Ok(Some(Status::Open))
            }
            "won" | "gagne" | "gagnee" | "closed won" | "signe" | "signee" => Ok(Some(Status::Won)),
            "lost" | "perdu" | "perdue" | "closed lost" => Ok(Some(Status::Lost)),
            _ => Err(self.bad(
                &Target::Status,
                format!("{raw:?} is not a status (OPEN, WON or LOST)"),
            )),
        }
    }

    pub(super) async fn opportunity(
        &mut self,
        st: &InTxn<'_>,
        cells: &[String],
    ) -> RowResult<Outcome> {
        let title = self
            .cell(cells, &Target::Title)
            .ok_or_else(|| self.bad(&Target::Title, "the title is empty".into()))?
            .to_string();
        let external_id = self.external_id(cells)?;
        let nf = self.run.options.number_format;
        let (potential, symbol) = match self.cell(cells, &Target::Potential) {
            Some(raw) => {
                let (p, c) = parse::amount(raw, nf).ok_or_else(|| {
                    self.bad(&Target::Potential, format!("{raw:?} is not an amount"))
                })?;
                (Some(p), c)
            }
            None => (None, None),
        };
        let currency = self
            .cell(cells, &Target::Currency)
            .map(|c| c.to_uppercase())
            .or(symbol);
        let due = match self.cell(cells, &Target::DueDate) {
            Some(raw) => Some(
                parse::date(raw, self.run.options.date_format)
                    .ok_or_else(|| self.bad(&Target::DueDate, format!("{raw:?} is not a date")))?,
            ),
            None => None,
        };
        let probability = match self.cell(cells, &Target::Probability) {
            Some(raw) => {
                let n = parse::number(raw.trim_end_matches('%').trim(), nf)
                    .and_then(|d| d.round().to_i32())
                    .ok_or_else(|| {
                        self.bad(&Target::Probability, format!("{raw:?} is not a percentage"))
                    })?;
                Some(n)
            }
            None => None,
        };
        let stage = self.stage(cells)?;
        let owner = self.owner(cells)?;
        let source = self.source(cells)?;
        let status = self.status(cells)?;
        let lost_reason = self.cell(cells, &Target::LostReason).map(str::to_string);
        let custom = self.custom(cells)?;
        let existing = match &external_id {
            Some(e) => self
                .run
                .scope_of()
                .find::<opportunity::Entity>()
                .filter(opportunity::Column::ExternalId.eq(e.as_str()))
                .one(st.conn())
                .await
                .map_err(AppError::from)?,
            None => None,
        };
        let tags = self.tags(st, cells).await?;
        let (auth, settings) = (self.run.auth, &self.run.settings);
        let model = if let Some(cur) = existing {
            let input = UpdateOpportunityInput {
                title: Some(title),
                potential,
                currency,
                due_date: due.map_or(Patch::Undefined, Patch::Value),
                owner_id: owner.map(|o| o.to_string()),
                team_ids: None,
                source_id: source.map_or(Patch::Undefined, |s| Patch::Value(s.to_string())),
                probability_override: probability.map_or(Patch::Undefined, Patch::Value),
                clear_probability_override: None,
                tag_ids: tags,
                custom_fields: custom,
            };
            let id = OpportunityId(cur.id);
            let mut m = opportunities::update(st, auth, settings, id, input, None).await?;
            if let Some(s) = stage.filter(|s| *s != m.stage_id) {
                m = opportunities::move_to(st, auth, id, StageId(s), None).await?;
            }
            self.close(st, m, status, lost_reason).await?;
            return Ok(Outcome::Updated);
        } else {
            let stage = stage.or(self.default_stage).ok_or_else(|| {
                RowError::from(AppError::bad_input(
                    "stage",
                    "the tenant has no pipeline to import into",
                ))
            })?;
            let contact = self.opportunity_contact(st, cells).await?;
            let input = CreateOpportunityInput {
                title,
                stage_id: stage.to_string(),
                potential: potential.unwrap_or(Decimal::ZERO),
                currency,
                due_date: due,
                owner_id: owner.map(|o| o.to_string()),
                team_ids: None,
                source_id: source.map(|s| s.to_string()),
                contacts: contact.map(|c| {
                    vec![OpportunityContactInput {
                        contact_id: c.to_string(),
                        role: None,
                        is_primary: Some(true),
                    }]
                }),
                probability_override: probability,
                tag_ids: tags,
                custom_fields: custom,
                external_id,
            };
            opportunities::create(st, auth, settings, input).await?
        };
        self.close(st, model, status, lost_reason).await?;
        Ok(Outcome::Created)
    }

    /// Brings a row to the status its file gives.
    async fn close(
        &self,
        st: &InTxn<'_>,
        m: opportunity::Model,
        status: Option<Status>,
        lost_reason: Option<String>,
    ) -> RowResult<()> {
        let Some(s) = status.filter(|s| *s != m.status) else {
            return Ok(());
        };
        let (state, auth, id) = (st, self.run.auth, OpportunityId(m.id));
        let done = match s {
            Status::Won => opportunities::mark_won(state, auth, id, None).await,
            Status::Lost => {
                let reason = lost_reason.as_deref().unwrap_or("imported as lost");
                opportunities::mark_lost(state, auth, id, reason, None).await
            }
            Status::Open => opportunities::reopen(state, auth, id, None).await,
        };
        done.map(|_| ()).map_err(|e| self.at(&Target::Status, e))
    }
}
