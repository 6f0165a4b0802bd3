//! Reading a spreadsheet's cells: text in UTF-8 or Windows-1252, numbers
//! written `1 234,56` or `1,234.56`, dates day-first, month-first or ISO,
//! yes/no in English and French.
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::str::FromStr;

/// How the file writes numbers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum NumberFormat {
    /// Decides per cell: with both `,` and `.`, the last one is the
    /// decimal mark; with one of them alone, it is the decimal mark unless
    /// it groups exactly three digits (`1,234` and `1.234` are thousands).
    #[default]
    Auto,
    /// `1,234.56` (English).
    DotDecimal,
    /// `1 234,56` or `1.234,56` (French, German).
    CommaDecimal,
}

/// How the file writes dates (ISO `2026-12-31` is always understood).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum DateFormat {
    /// `31/12/2026` (French, British).
    #[default]
    DayFirst,
    /// `12/31/2026` (American).
    MonthFirst,
}

/// A cell's text: UTF-8 when it is, Windows-1252 (what spreadsheet software
/// in Western Europe saves "CSV" as) otherwise; trimmed.
pub fn text(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.trim().to_string(),
        Err(_) => encoding_rs::WINDOWS_1252
            .decode_without_bom_handling(bytes)
            .0
            .trim()
            .to_string(),
    }
}

/// The currency a symbol in an amount names.
fn symbol_currency(c: char) -> Option<&'static str> {
    match c {
        '€' => Some("EUR"),
        '$' => Some("USD"),
        '£' => Some("GBP"),
        '¥' => Some("JPY"),
        _ => None,
    }
}

/// A number as the file writes it, and the currency its symbol or code
/// names (`1 234,56 €`, `$1,234.56`, `1234.56 EUR`).
pub fn amount(raw: &str, format: NumberFormat) -> Option<(Decimal, Option<String>)> {
    let trimmed = raw.trim();
    let code = |p: Option<&str>| {
        p.filter(|p| p.len() == 3 && p.chars().all(|c| c.is_ascii_uppercase()))
            .map(str::to_string)
    };
    // a trailing or leading three-letter code
    let split = trimmed.len().saturating_sub(3);
    let (s, mut currency) = if let Some(c) = code(trimmed.get(split..)) {
        (trimmed.get(..split).unwrap_or_default(), Some(c))
    } else if let Some(c) = code(trimmed.get(..3)) {
        (trimmed.get(3..).unwrap_or_default(), Some(c))
    } else {
        (trimmed, None)
    };
    let mut digits = String::with_capacity(s.len());
    for c in s.chars() {
        if let Some(code) = symbol_currency(c) {
            currency.get_or_insert_with(|| code.to_string());
        } else if c.is_whitespace() || matches!(c, '\u{a0}' | '\u{202f}' | '\'' | '’') {
            // grouping spaces and apostrophes (Swiss)
        } else {
            digits.push(c);
        }
    }
    number(&digits, format).map(|n| (n, currency))
}

/// A plain number in `format` (no spaces or symbols left).
pub fn number(raw: &str, format: NumberFormat) -> Option<Decimal> {
    let s: String = raw
        .trim()
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '\u{a0}' | '\u{202f}' | '\''))
        .collect();
    if s.is_empty()
        || !s
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ',' | '.' | '-' | '+'))
    {
        return None;
    }
    let decimal = match format {
        NumberFormat::DotDecimal => Some('.'),
        NumberFormat::CommaDecimal => Some(','),
        NumberFormat::Auto => {
            let (last_comma, last_dot) = (s.rfind(','), s.rfind('.'));
            match (last_comma, last_dot) {
                (Some(c), Some(d)) => Some(if c > d { ',' } else { '.' }),
                (Some(p), None) | (None, Some(p)) => {
                    let mark = if last_comma.is_some() { ',' } else { '.' };
                    let after = s.len().saturating_sub(p + 1);
                    let once = s.matches(mark).count() == 1;
                    // `1,234` and `1.234`: thousands; `12,5`, `0,125`, `1.5`: decimals
                    let int_part = s
                        .get(..p)
                        .unwrap_or_default()
                        .trim_start_matches(['-', '+']);
                    let grouped = after == 3 && !int_part.is_empty() && !int_part.starts_with('0');
                    if once && !grouped { Some(mark) } else { None }
                }
                (None, None) => None,
            }
        }
    };
    let cleaned: String = s
        .chars()
        .filter_map(|c| match c {
            ',' | '.' if Some(c) == decimal => Some('.'),
            ',' | '.' => None,
            other => Some(other),
        })
        .collect();
    Decimal::from_str(&cleaned).ok()
}

/// A date: ISO (`2026-12-31`, with or without a time after it), or with
/// `/`, `.` or `-` between day, month and a four-digit year in `format`'s
/// order.
pub fn date(raw: &str, format: DateFormat) -> Option<NaiveDate> {
    let s = raw.trim();
    let day_part = s.split(['T', ' ']).next().unwrap_or(s);
    if let Ok(d) = NaiveDate::parse_from_str(day_part, "%Y-%m-%d") {
        return Some(d);
    }
    let parts: Vec<&str> = day_part.split(['/', '.', '-']).collect();
    let [a, b, y] = parts.as_slice() else {
        return None;
    };
    if y.len() != 4 {
        return None;
    }
    let (a, b, y): (u32, u32, i32) = (a.parse().ok()?, b.parse().ok()?, y.parse().ok()?);
    match format {
        DateFormat::DayFirst => NaiveDate::from_ymd_opt(y, b, a),
        DateFormat::MonthFirst => NaiveDate::from_ymd_opt(y, a, b),
    }
}

/// Yes or no, in English or French, or 1/0, x/empty.
pub fn boolean(raw: &str) -> Option<bool> {
    match raw.trim().to_lowercase().as_str() {
        "true" | "yes" | "y" | "1" | "x" | "oui" | "o" | "vrai" => Some(true),
        "false" | "no" | "n" | "0" | "non" | "faux" => Some(false),
        _ => None,
    }
}

/// A header or a name as it is compared: lower case, accents and
/// punctuation dropped (`Échéance` and `echeance`, `E-mail` and `email`).
pub fn fold(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.trim().to_lowercase().chars() {
        let c = match c {
            'à' | 'â' | 'ä' | 'á' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'î' | 'ï' | 'í' => 'i',
            'ô' | 'ö' | 'ó' => 'o',
            'ù' | 'û' | 'ü' | 'ú' => 'u',
            'ç' => 'c',
            'ñ' => 'n',
            c if c.is_alphanumeric() => c,
            _ => ' ',
        };
        out.push(c);
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str, f: NumberFormat) -> Option<String> {
        number(s, f).map(|d| d.normalize().to_string())
    }

    #[test]
    fn numbers_in_both_locales() {
        use NumberFormat::*;
        assert_eq!(n("1234,56", Auto).as_deref(), Some("1234.56"));
        assert_eq!(n("1.234,56", Auto).as_deref(), Some("1234.56"));
        assert_eq!(n("1,234.56", Auto).as_deref(), Some("1234.56"));
        assert_eq!(n("1,234", Auto).as_deref(), Some("1234"));
        assert_eq!(n("12,5", Auto).as_deref(), Some("12.5"));
        assert_eq!(n("0,125", Auto).as_deref(), Some("0.125"));
        assert_eq!(n("-3.5", Auto).as_deref(), Some("-3.5"));
        assert_eq!(n("1,234", CommaDecimal).as_deref(), Some("1.234"));
        assert_eq!(n("1.234", DotDecimal).as_deref(), Some("1.234"));
        assert_eq!(n("1,234,567", Auto).as_deref(), Some("1234567"));
        assert_eq!(n("abc", Auto), None);
        assert_eq!(n("", Auto), None);
        assert_eq!(n("1.2.3,4", Auto).as_deref(), Some("123.4"));
    }

    #[test]
    fn amounts_with_spaces_symbols_and_codes() {
        let a =
            |s: &str| amount(s, NumberFormat::Auto).map(|(d, c)| (d.normalize().to_string(), c));
        assert_eq!(
            a("1 234,56 €"),
            Some(("1234.56".into(), Some("EUR".into())))
        );
        assert_eq!(a("1\u{202f}234,56"), Some(("1234.56".into(), None)));
        assert_eq!(a("$1,234.56"), Some(("1234.56".into(), Some("USD".into()))));
        assert_eq!(
            a("1234.56 GBP"),
            Some(("1234.56".into(), Some("GBP".into())))
        );
        assert_eq!(
            a("CHF 1'234.50"),
            Some(("1234.5".into(), Some("CHF".into())))
        );
        assert_eq!(a("lots"), None);
    }

    #[test]
    fn dates_iso_day_first_month_first() {
        let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd);
        assert_eq!(date("2026-12-31", DateFormat::DayFirst), d(2026, 12, 31));
        assert_eq!(
            date("2026-12-31T10:00:00Z", DateFormat::MonthFirst),
            d(2026, 12, 31)
        );
        assert_eq!(date("31/12/2026", DateFormat::DayFirst), d(2026, 12, 31));
        assert_eq!(date("12/31/2026", DateFormat::MonthFirst), d(2026, 12, 31));
        assert_eq!(date("31.12.2026", DateFormat::DayFirst), d(2026, 12, 31));
        assert_eq!(date("12/31/2026", DateFormat::DayFirst), None);
        assert_eq!(date("31/12/26", DateFormat::DayFirst), None);
        assert_eq!(date("soon", DateFormat::DayFirst), None);
    }

    #[test]
    fn text_falls_back_to_windows_1252_and_fold_drops_accents() {
        assert_eq!(text(b" \xc9ch\xe9ance "), "Échéance");
        assert_eq!(text("Échéance".as_bytes()), "Échéance");
        assert_eq!(fold(" Date d'échéance "), "date d echeance");
        assert_eq!(fold("E-mail"), "e mail");
        assert_eq!(boolean("Oui"), Some(true));
        assert_eq!(boolean("maybe"), None);
    }
}
