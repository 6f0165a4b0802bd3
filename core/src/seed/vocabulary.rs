//! Word lists the generated names, products and reasons are drawn from.
pub(super) const COMPANY_WORDS: &[&str] = &[
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Vandelay",
    "Soylent",
    "Tyrell",
    "Cyberdyne",
    "Wonka",
    "Oscorp",
    "Monarch",
    "Aperture",
    "Nakatomi",
    "Northwind",
    "Contoso",
    "Fabrikam",
    "Tailspin",
    "Litware",
    "Wingtip",
];

pub(super) const COMPANY_TRADES: &[&str] = &[
    "Industries",
    "Logistics",
    "Foods",
    "Systems",
    "Labs",
    "Consulting",
    "Energy",
    "Media",
    "Retail",
    "Pharma",
];

pub(super) const COMPANY_FORMS: &[&str] = &["GmbH", "SA", "Ltd", "Inc", "SAS", "BV"];

pub(super) const FIRST_NAMES: &[&str] = &[
    "Emma", "Liam", "Olivia", "Noah", "Chloe", "Lucas", "Mia", "Hugo", "Lea", "Paul", "Anna",
    "Jonas", "Sara", "Louis", "Julia", "Felix", "Ines", "Max", "Clara", "Leon",
];

pub(super) const LAST_NAMES: &[&str] = &[
    "Smith", "Muller", "Dupont", "Garcia", "Rossi", "Jansen", "Novak", "Silva", "Berg", "Moreau",
    "Fischer", "Lambert", "Costa", "Weber", "Laurent", "Kowalski", "Meyer", "Bernard", "Ricci",
    "Schmidt",
];

pub(super) const PRODUCTS: &[&str] = &[
    "CRM licences",
    "Consulting package",
    "Annual maintenance",
    "Website redesign",
    "Training days",
    "Hardware renewal",
    "Support contract",
    "Cloud migration",
    "Data audit",
    "Custom integration",
];

pub(super) const CONTACT_ROLES: &[Option<&str>] = &[
    Some("decision maker"),
    Some("buyer"),
    Some("technical contact"),
    Some("champion"),
    None,
];

pub(super) const LOST_REASONS: &[&str] = &[
    "Price too high",
    "Chose a competitor",
    "No budget this year",
    "Project cancelled",
    "No response",
];

pub(super) const OVERRIDES: &[i32] = &[15, 35, 65, 90];

/// Foreign currencies used beside the tenant's, with their rate in
/// billionths of a EUR.
pub(super) const RATES: &[(&str, i64)] = &[("USD", 920_000_000), ("GBP", 1_170_000_000)];
