//! Where each column goes, and the mapping suggested from the header row
//! (English and French names, as other CRMs and spreadsheets write them).
use serde::{Deserialize, Serialize};

use super::ImportEntity;
use super::parse::fold;
use crate::error::{AppError, AppResult};

/// A built-in field a column can fill, or a custom field by key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Target {
    ExternalId,
    /// Opportunities: the title.
    Title,
    Potential,
    Currency,
    DueDate,
    /// The pipeline a STAGE name is looked for in.
    Pipeline,
    Stage,
    /// OPEN, WON or LOST (English or French).
    Status,
    LostReason,
    Probability,
    /// A user, by email or name.
    Owner,
    /// A source, by name.
    Source,
    ContactName,
    ContactEmail,
    ContactPhone,
    /// A company: the opportunity's or the person's.
    Company,
    /// Contacts: the name.
    Name,
    /// Contacts: PERSON or COMPANY.
    Kind,
    Email,
    Phone,
    /// Tag names separated by `,`, `;` or `|`; missing tags are created.
    Tags,
    Custom(String),
}

impl Target {
    /// Whether a column of an `entity` file may go here.
    pub fn fits(&self, entity: ImportEntity) -> bool {
        use Target::*;
        match entity {
            ImportEntity::Opportunity => !matches!(self, Name | Kind | Email | Phone),
            ImportEntity::Contact => matches!(
                self,
                ExternalId | Name | Kind | Email | Phone | Company | Source | Tags | Custom(_)
            ),
        }
    }

    pub fn label(&self) -> String {
        match self {
            Self::Custom(k) => format!("custom.{k}"),
            other => format!("{other:?}"),
        }
    }
}

/// One column's destination.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnMapping {
    /// Its position in the file, from 0.
    pub column: usize,
    pub target: Target,
}

/// Checks a mapping against the file's header and the entity: each column
/// once, each target once, and the name or title mapped.
pub fn check(
    entity: ImportEntity,
    headers: &[String],
    mapping: &[ColumnMapping],
    custom_keys: &[String],
) -> AppResult<()> {
    let bad = |m: String| AppError::bad_input("mapping", m);
    for (i, m) in mapping.iter().enumerate() {
        if m.column >= headers.len() {
            return Err(bad(format!(
                "column {} does not exist: the file has {} columns",
                m.column,
                headers.len()
            )));
        }
        if !m.target.fits(entity) {
            return Err(bad(format!(
                "{} is not a field of {} imports",
                m.target.label(),
                entity.as_str().to_lowercase()
            )));
        }
        if let Target::Custom(k) = &m.target
            && !custom_keys.contains(k)
        {
            return Err(bad(format!("no custom field has the key {k}")));
        }
        if let Some(earlier) = mapping.get(..i) {
            if earlier.iter().any(|e| e.column == m.column) {
                return Err(bad(format!("column {} is mapped twice", m.column)));
            }
            if earlier.iter().any(|e| e.target == m.target) {
                return Err(bad(format!("{} is mapped twice", m.target.label())));
            }
        }
    }
    let needed = match entity {
        ImportEntity::Opportunity => Target::Title,
        ImportEntity::Contact => Target::Name,
    };
    if !mapping.iter().any(|m| m.target == needed) {
        return Err(bad(format!(
            "a column must be mapped to {}",
            needed.label()
        )));
    }
    Ok(())
}

/// Header names (folded) that suggest each target.
fn names(entity: ImportEntity) -> Vec<(Target, &'static [&'static str])> {
    use Target::*;
    let common: Vec<(Target, &'static [&'static str])> = vec![
        (
            ExternalId,
            &[
                "id",
                "external id",
                "externalid",
                "ext id",
                "identifiant",
                "identifiant externe",
                "record id",
                "deal id",
                "contact id",
                "ref",
                "reference externe",
            ],
        ),
        (
            Source,
            &[
                "source",
                "lead source",
                "origin",
                "origine",
                "canal",
                "channel",
                "provenance",
            ],
        ),
        (
            Tags,
            &[
                "tags",
                "tag",
                "labels",
                "label",
                "etiquettes",
                "etiquette",
                "mots cles",
            ],
        ),
        (
            Company,
            &[
                "company",
                "company name",
                "organization",
                "organisation",
                "account",
                "account name",
                "societe",
                "entreprise",
                "raison sociale",
                "nom de la societe",
                "compte",
            ],
        ),
    ];
    let specific: Vec<(Target, &'static [&'static str])> = match entity {
        ImportEntity::Opportunity => vec![
            (
                Title,
                &[
                    "title",
                    "name",
                    "deal",
                    "deal name",
                    "opportunity",
                    "opportunity name",
                    "subject",
                    "titre",
                    "nom",
                    "affaire",
                    "nom de l affaire",
                    "opportunite",
                    "nom de l opportunite",
                    "intitule",
                    "objet",
                ],
            ),
            (
                Potential,
                &[
                    "amount",
                    "value",
                    "deal value",
                    "potential",
                    "revenue",
                    "expected revenue",
                    "montant",
                    "valeur",
                    "potentiel",
                    "ca",
                    "chiffre d affaires",
                    "montant ht",
                ],
            ),
            (Currency, &["currency", "devise", "monnaie"]),
            (
                DueDate,
                &[
                    "due date",
                    "close date",
                    "closing date",
                    "expected close date",
                    "deadline",
                    "echeance",
                    "date d echeance",
                    "date de cloture",
                    "date de cloture prevue",
                    "date limite",
                ],
            ),
            (
                Pipeline,
                &["pipeline", "funnel", "tunnel", "tunnel de vente", "pipe"],
            ),
            (
                Stage,
                &[
                    "stage",
                    "deal stage",
                    "step",
                    "phase",
                    "etape",
                    "etape de vente",
                ],
            ),
            (Status, &["status", "state", "statut", "etat"]),
            (
                LostReason,
                &[
                    "lost reason",
                    "reason lost",
                    "raison de perte",
                    "motif de perte",
                    "raison",
                ],
            ),
            (
                Probability,
                &["probability", "probabilite", "chance", "chances"],
            ),
            (
                Owner,
                &[
                    "owner",
                    "deal owner",
                    "salesperson",
                    "sales rep",
                    "assigned to",
                    "user",
                    "responsable",
                    "commercial",
                    "proprietaire",
                    "vendeur",
                    "attribue a",
                ],
            ),
            (
                ContactName,
                &[
                    "contact",
                    "contact name",
                    "person",
                    "nom du contact",
                    "interlocuteur",
                ],
            ),
            (
                ContactEmail,
                &[
                    "email",
                    "e mail",
                    "contact email",
                    "mail",
                    "courriel",
                    "adresse email",
                    "adresse e mail",
                ],
            ),
            (
                ContactPhone,
                &[
                    "phone",
                    "telephone",
                    "tel",
                    "mobile",
                    "portable",
                    "contact phone",
                ],
            ),
        ],
        ImportEntity::Contact => vec![
            (
                Name,
                &[
                    "name",
                    "full name",
                    "contact",
                    "contact name",
                    "nom",
                    "nom complet",
                    "nom du contact",
                    "prenom nom",
                ],
            ),
            (Kind, &["kind", "type", "contact type", "type de contact"]),
            (
                Email,
                &[
                    "email",
                    "e mail",
                    "mail",
                    "courriel",
                    "adresse email",
                    "adresse e mail",
                ],
            ),
            (
                Phone,
                &[
                    "phone",
                    "telephone",
                    "tel",
                    "mobile",
                    "portable",
                    "phone number",
                ],
            ),
        ],
    };
    specific.into_iter().chain(common).collect()
}

/// The mapping the header row suggests: each header matched (folded) to a
/// built-in field's names, a custom field's key or label; each target at
/// most once, the first column winning.
pub fn suggest(
    entity: ImportEntity,
    headers: &[String],
    custom: &[(String, String)],
) -> Vec<(usize, Option<Target>)> {
    let table = names(entity);
    let mut taken: Vec<Target> = Vec::new();
    headers
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let f = fold(h);
            let builtin = table
                .iter()
                .find(|(_, names)| names.contains(&f.as_str()))
                .map(|(t, _)| t.clone());
            let found = builtin.or_else(|| {
                custom
                    .iter()
                    .find(|(key, label)| fold(key) == f || fold(label) == f)
                    .map(|(key, _)| Target::Custom(key.clone()))
            });
            let target = found.filter(|t| !taken.contains(t));
            if let Some(t) = &target {
                taken.push(t.clone());
            }
            (i, target)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn french_and_english_headers_are_suggested() {
        let h: Vec<String> = [
            "Nom de l'affaire",
            "Montant",
            "Échéance",
            "Étape",
            "Commercial",
            "E-mail",
            "Société",
            "Région",
            "Whatever",
            "Amount",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let custom = vec![("region".to_string(), "Région".to_string())];
        let s = suggest(ImportEntity::Opportunity, &h, &custom);
        let t: Vec<Option<Target>> = s.into_iter().map(|(_, t)| t).collect();
        assert_eq!(
            t,
            vec![
                Some(Target::Title),
                Some(Target::Potential),
                Some(Target::DueDate),
                Some(Target::Stage),
                Some(Target::Owner),
                Some(Target::ContactEmail),
                Some(Target::Company),
                Some(Target::Custom("region".into())),
                None,
                // Potential is taken by Montant already
                None,
            ]
        );
    }

    #[test]
    fn a_mapping_is_checked() {
        let h = vec!["a".to_string(), "b".to_string()];
        let ok = [ColumnMapping {
            column: 0,
            target: Target::Name,
        }];
        assert!(check(ImportEntity::Contact, &h, &ok, &[]).is_ok());
        let twice = [
            ColumnMapping {
                column: 0,
                target: Target::Name,
            },
            ColumnMapping {
                column: 1,
                target: Target::Name,
            },
        ];
        assert!(check(ImportEntity::Contact, &h, &twice, &[]).is_err());
        let outside = [ColumnMapping {
            column: 5,
            target: Target::Name,
        }];
        assert!(check(ImportEntity::Contact, &h, &outside, &[]).is_err());
        let wrong = [
            ColumnMapping {
                column: 0,
                target: Target::Name,
            },
            ColumnMapping {
                column: 1,
                target: Target::Stage,
            },
        ];
        assert!(check(ImportEntity::Contact, &h, &wrong, &[]).is_err());
        let no_title = [ColumnMapping {
            column: 0,
            target: Target::Potential,
        }];
        assert!(check(ImportEntity::Opportunity, &h, &no_title, &[]).is_err());
        let unknown = [
            ColumnMapping {
                column: 0,
                target: Target::Name,
            },
            ColumnMapping {
                column: 1,
                target: Target::Custom("nope".into()),
            },
        ];
        assert!(check(ImportEntity::Contact, &h, &unknown, &[]).is_err());
    }
}
