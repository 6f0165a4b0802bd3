//! Domain newtypes that validate themselves. GraphQL inputs are converted
//! into these at the edge; past that point a value of one of these types is
//! known to be valid.
use std::fmt;

use uuid::Uuid;

use crate::error::{AppError, AppResult};

macro_rules! typed_id {
    ($($name:ident => $what:literal),* $(,)?) => {$(
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub Uuid);

        impl $name {
            /// Parses a client-supplied ID. A malformed ID names nothing that
            /// exists, so it answers NOT_FOUND like any unknown one.
            pub fn parse(id: &str) -> AppResult<Self> {
                Uuid::parse_str(id).map(Self).map_err(|_| AppError::NotFound($what))
            }
            pub fn new() -> Self {
                Self(Uuid::new_v4())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    )*};
}

typed_id! {
    TenantId => "tenant",
    UserId => "user",
    PipelineId => "pipeline",
    StageId => "stage",
    SourceId => "source",
    ContactId => "contact",
    OpportunityId => "opportunity",
    ActivityId => "activity",
    DocumentId => "document",
    IntakeKeyId => "intake key",
    WebhookEndpointId => "webhook endpoint",
    WebhookDeliveryId => "webhook delivery",
    TagId => "tag",
    CustomFieldId => "custom field",
    CustomFieldOptionId => "custom field option",
    SavedViewId => "saved view",
    ImportJobId => "import",
}

/// What a user may do in their tenant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Sets up the tenant: users, pipelines, sources, exchange rates.
    Admin,
    /// Reads and changes every opportunity and contact of the tenant.
    Manager,
    /// Reads everything; changes what it owns or is on the team of.
    Sales,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "ADMIN",
            Role::Manager => "MANAGER",
            Role::Sales => "SALES",
        }
    }
    pub fn from_db(s: &str) -> AppResult<Self> {
        match s {
            "ADMIN" => Ok(Role::Admin),
            "MANAGER" => Ok(Role::Manager),
            "SALES" => Ok(Role::Sales),
            other => Err(AppError::Internal(
                format!("unknown role {other:?} in database").into(),
            )),
        }
    }
}

fn check_len(field: &'static str, value: &str, min: usize, max: usize) -> AppResult<()> {
    let n = value.chars().count();
    if n < min || n > max {
        return Err(AppError::bad_input(
            field,
            format!("{field} must be {min} to {max} characters"),
        ));
    }
    Ok(())
}

/// A trimmed display name of 1..=200 characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Name(String);

impl Name {
    pub fn parse(field: &'static str, raw: &str) -> AppResult<Self> {
        let v = raw.trim();
        check_len(field, v, 1, 200)?;
        if v.chars().any(char::is_control) {
            return Err(AppError::bad_input(
                field,
                format!("{field} contains control characters"),
            ));
        }
        Ok(Self(v.to_string()))
    }
    pub fn into_inner(self) -> String {
        self.0
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// An email address, trimmed and lower-cased: addresses compare
/// case-insensitively everywhere in the product.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(field: &'static str, raw: &str) -> AppResult<Self> {
        let v = raw.trim().to_lowercase();
        let bad = || AppError::bad_input(field, format!("{field} is not a valid email address"));
        if v.len() > 254 || v.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad());
        }
        let (local, domain) = v.rsplit_once('@').ok_or_else(bad)?;
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && domain
                .chars()
                .all(|c| c.is_alphanumeric() || c == '.' || c == '-');
        if local.is_empty() || local.len() > 64 || local.contains('@') || !domain_ok {
            return Err(bad());
        }
        Ok(Self(v))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password of 8 to 128 characters. Longer input is refused before it
/// reaches the (deliberately slow) hasher.
pub struct Password(String);

impl Password {
    pub fn parse(field: &'static str, raw: &str) -> AppResult<Self> {
        check_len(field, raw, 8, 128)?;
        Ok(Self(raw.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// An active ISO 4217 currency code, upper case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CurrencyCode(String);

const ISO_4217: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT",
    "BGN", "BHD", "BIF", "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD",
    "CDF", "CHF", "CLP", "CNY", "COP", "CRC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD",
    "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ",
    "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD", "JOD",
    "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR",
    "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR",
    "MWK", "MXN", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN",
    "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR",
    "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB",
    "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "UYU", "UZS",
    "VES", "VND", "VUV", "WST", "XAF", "XCD", "XCG", "XOF", "XPF", "YER", "ZAR", "ZMW", "ZWG",
];

impl CurrencyCode {
    pub fn parse(field: &'static str, raw: &str) -> AppResult<Self> {
        let v = raw.trim().to_uppercase();
        if ISO_4217.binary_search(&v.as_str()).is_err() {
            return Err(AppError::bad_input(
                field,
                format!("{field} must be an ISO 4217 currency code such as EUR or USD"),
            ));
        }
        Ok(Self(v))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An IANA time zone name known to chrono-tz, such as "Europe/Paris".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timezone(chrono_tz::Tz);

impl Timezone {
    pub fn parse(field: &'static str, raw: &str) -> AppResult<Self> {
        raw.trim().parse::<chrono_tz::Tz>().map(Self).map_err(|_| {
            AppError::bad_input(
                field,
                format!("{field} must be an IANA time zone name such as Europe/Paris"),
            )
        })
    }
    pub fn name(&self) -> &'static str {
        self.0.name()
    }

    /// The calendar date at `now` in this zone.
    pub fn today_at(&self, now: chrono::DateTime<chrono::Utc>) -> chrono::NaiveDate {
        now.with_timezone(&self.0).date_naive()
    }
}

/// A tenant slug: 3..=63 characters of a-z, 0-9 and inner hyphens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slug(String);

impl Slug {
    pub fn parse(field: &'static str, raw: &str) -> AppResult<Self> {
        let v = raw.trim().to_lowercase();
        let ok = (3..=63).contains(&v.len())
            && v.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !v.starts_with('-')
            && !v.ends_with('-');
        if !ok {
            return Err(AppError::bad_input(
                field,
                format!("{field} must be 3 to 63 characters of a-z, 0-9 and inner hyphens"),
            ));
        }
        Ok(Self(v))
    }

    /// Derives a slug from a company name: "Acme & Söhne GmbH" → "acme-sohne-gmbh".
    pub fn derive_from(name: &str) -> Self {
        let mut out = String::new();
        for c in name.to_lowercase().chars() {
            let c = match c {
                'à' | 'á' | 'â' | 'ä' | 'ã' | 'å' => 'a',
                'ç' => 'c',
                'è' | 'é' | 'ê' | 'ë' => 'e',
                'ì' | 'í' | 'î' | 'ï' => 'i',
                'ñ' => 'n',
                'ò' | 'ó' | 'ô' | 'ö' | 'õ' | 'ø' => 'o',
                'ù' | 'ú' | 'û' | 'ü' => 'u',
                'ý' | 'ÿ' => 'y',
                c => c,
            };
            if c.is_ascii_alphanumeric() {
                out.push(c);
            } else if !out.ends_with('-') && !out.is_empty() {
                out.push('-');
            }
        }
        let mut s: String = out.trim_matches('-').chars().take(50).collect();
        s = s.trim_end_matches('-').to_string();
        while s.len() < 3 {
            s.push('x');
        }
        Self(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Longest search text: a person types a few words; longer input only
/// makes LIKE patterns that SQLite refuses as too complex.
pub const MAX_SEARCH_CHARS: usize = 200;

/// A search text, trimmed; None when blank.
pub fn search_text<'a>(field: &'static str, s: Option<&'a str>) -> AppResult<Option<&'a str>> {
    let Some(s) = s.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    if s.chars().count() > MAX_SEARCH_CHARS {
        return Err(AppError::bad_input(
            field,
            format!("{field} must be at most {MAX_SEARCH_CHARS} characters"),
        ));
    }
    Ok(Some(s))
}

/// Whether text may be stored: no NUL or other control characters, bar
/// the line breaks and tabs that notes legitimately carry. (PostgreSQL
/// refuses NUL in text; SQLite would store it.)
pub fn clean_text(s: &str) -> bool {
    !s.chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currency_list_is_sorted_for_binary_search() {
        assert!(ISO_4217.windows(2).all(|w| w[0] < w[1]));
        assert!(CurrencyCode::parse("c", "eur").is_ok());
        assert!(CurrencyCode::parse("c", "EUX").is_err());
    }

    #[test]
    fn emails() {
        assert_eq!(
            Email::parse("e", " Ann@Example.COM ").unwrap().as_str(),
            "ann@example.com"
        );
        for bad in ["", "a", "a@b", "@b.com", "a b@c.com", "a@.com", "a@b..com"] {
            assert!(Email::parse("e", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn slugs() {
        assert_eq!(
            Slug::derive_from("Acme & Söhne GmbH").as_str(),
            "acme-sohne-gmbh"
        );
        assert_eq!(Slug::derive_from("!").as_str(), "xxx");
        assert!(Slug::parse("s", "-ab").is_err());
        assert!(Slug::parse("s", "acme-1").is_ok());
    }

    #[test]
    fn today_follows_the_tenant_time_zone_around_midnight() {
        use chrono::{NaiveDate, TimeZone, Utc};
        let paris = Timezone::parse("t", "Europe/Paris").unwrap();
        let auckland = Timezone::parse("t", "Pacific/Auckland").unwrap();
        let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        // 22:59:59 UTC on 27 Nov is 23:59:59 in Paris (UTC+1): still the 27th
        let before = Utc.with_ymd_and_hms(2026, 11, 27, 22, 59, 59).unwrap();
        let after = Utc.with_ymd_and_hms(2026, 11, 27, 23, 0, 0).unwrap();
        assert_eq!(paris.today_at(before), date(2026, 11, 27));
        assert_eq!(paris.today_at(after), date(2026, 11, 28));
        // Auckland is UTC+13 in November: midnight falls at 11:00 UTC
        let before = Utc.with_ymd_and_hms(2026, 11, 27, 10, 59, 59).unwrap();
        let after = Utc.with_ymd_and_hms(2026, 11, 27, 11, 0, 0).unwrap();
        assert_eq!(auckland.today_at(before), date(2026, 11, 27));
        assert_eq!(auckland.today_at(after), date(2026, 11, 28));
        // summer time in Paris: UTC+2, midnight at 22:00 UTC
        let summer = Utc.with_ymd_and_hms(2026, 7, 1, 22, 0, 0).unwrap();
        assert_eq!(paris.today_at(summer), date(2026, 7, 2));
    }

    #[test]
    fn timezones_and_passwords() {
        assert!(Timezone::parse("t", "Europe/Paris").is_ok());
        assert!(Timezone::parse("t", "Mars/Base").is_err());
        assert!(Password::parse("p", "short").is_err());
        assert!(Password::parse("p", &"x".repeat(129)).is_err());
        assert!(Password::parse("p", &"x".repeat(128)).is_ok());
    }
}

/// A field of a partial update: left out (keep the stored value), `null`
/// (clear it) or a new value. The GraphQL layer maps its `MaybeUndefined`
/// onto this.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Patch<T> {
    #[default]
    Undefined,
    Null,
    Value(T),
}

impl<T> Patch<T> {
    pub fn value(&self) -> Option<&T> {
        match self {
            Self::Value(v) => Some(v),
            _ => None,
        }
    }
    pub fn is_null(&self) -> bool {
        matches!(self, Self::Null)
    }
    pub fn is_undefined(&self) -> bool {
        matches!(self, Self::Undefined)
    }
}

/// A LIKE pattern matching `search` anywhere, case-folded, with its
/// wildcards escaped (used with `ESCAPE '\\'` where the backend needs it).
pub fn like_pattern(search: &str) -> String {
    let escaped = search
        .trim()
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// A required text of 1 to `max` characters, trimmed: titles, subjects.
pub fn required_text(field: &'static str, raw: &str, max: usize) -> AppResult<String> {
    let t = raw.trim();
    if t.is_empty() || t.chars().count() > max {
        return Err(AppError::bad_input(
            field,
            format!("{field} must be 1 to {max} characters"),
        ));
    }
    Ok(t.to_string())
}

/// An id in another system (an import's key): 1 to 100 characters on one
/// line, trimmed.
pub fn external_id(raw: &str) -> AppResult<String> {
    let t = required_text("externalId", raw, 100)?;
    if t.chars().any(char::is_control) {
        return Err(AppError::bad_input(
            "externalId",
            "externalId must be on one line, without control characters",
        ));
    }
    Ok(t)
}

/// A percentage, 0 to 100: probabilities.
pub fn percent(field: &'static str, p: i32) -> AppResult<i32> {
    if (0..=100).contains(&p) {
        Ok(p)
    } else {
        Err(AppError::bad_input(
            field,
            format!("{field} must be between 0 and 100"),
        ))
    }
}
