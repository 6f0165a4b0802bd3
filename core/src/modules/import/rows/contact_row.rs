//! A contact row: matched by external id, email or (a company) name and
//! updated, or created.
use super::*;

impl Rows<'_> {
    pub(super) async fn contact(&mut self, st: &InTxn<'_>, cells: &[String]) -> RowResult<Outcome> {
        let name = self
            .cell(cells, &Target::Name)
            .ok_or_else(|| self.bad(&Target::Name, "the name is empty".into()))?
            .to_string();
        let kind = match self.cell(cells, &Target::Kind).map(fold).as_deref() {
            None | Some("person" | "personne" | "individual" | "particulier" | "contact") => {
                ContactKind::Person
            }
            Some(
                "company" | "societe" | "entreprise" | "organization" | "organisation" | "account",
            ) => ContactKind::Company,
            Some(other) => {
                return Err(self.bad(
                    &Target::Kind,
                    format!("{other:?} is not a kind (PERSON or COMPANY)"),
                ));
            }
        };
        let external_id = self.external_id(cells)?;
        let email = self.email(cells, &Target::Email)?;
        let phone = self.cell(cells, &Target::Phone).map(str::to_string);
        let source = self.source(cells)?;
        let custom = self.custom(cells)?;
        let by_id = match &external_id {
            Some(e) => self
                .run
                .scope_of()
                .find::<contact::Entity>()
                .filter(contact::Column::ExternalId.eq(e.as_str()))
                .one(st.conn())
                .await
                .map_err(AppError::from)?,
            None => None,
        };
        let existing = match (by_id, &email) {
            (Some(c), _) => Some(c),
            (None, Some(e)) => self.by_email(st, e).await?,
            (None, None) if kind == ContactKind::Company => self.company_named(st, &name).await?,
            (None, None) => None,
        };
        let company = match self.cell(cells, &Target::Company) {
            Some(c) if kind == ContactKind::Person => Some(self.company(st, c).await?),
            _ => None,
        };
        let tags = self.tags(st, cells).await?;
        let auth = self.run.auth;
        if let Some(cur) = existing {
            let input = UpdateContactInput {
                name: Some(name),
                email: email.map_or(Patch::Undefined, |e| Patch::Value(e.as_str().to_string())),
                phone: phone.map_or(Patch::Undefined, Patch::Value),
                company_id: company.map_or(Patch::Undefined, |c| Patch::Value(c.to_string())),
                lifecycle: None,
                tag_ids: tags,
                custom_fields: custom,
                external_id: external_id
                    .filter(|x| cur.external_id.as_ref() != Some(x))
                    .map_or(Patch::Undefined, Patch::Value),
            };
            contacts::update(st, auth, ContactId(cur.id), input).await?;
            return Ok(Outcome::Updated);
        }
        let input = ContactInput {
            kind,
            name,
            email: email.map(|e| e.as_str().to_string()),
            phone,
            company_id: company.map(|c| c.to_string()),
            source_id: source.map(|s| s.to_string()),
            tag_ids: tags,
            custom_fields: custom,
            external_id,
        };
        contacts::create(st, auth, input).await?;
        Ok(Outcome::Created)
    }
}
