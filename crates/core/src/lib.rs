//! # bordin-core
//!
//! The pure domain of Bordin: questionnaires defined as data ([`instrument`]), answers that are
//! range-checked on construction ([`answers`]), exact scoring ([`scoring`]), licence-aware text packs
//! ([`textpack`]) and the registry of instruments a clinic can use ([`registry`]).
//!
//! Invariants of this crate: it does no I/O (no files, no network, no database, no clock, no
//! randomness); callers pass text in and get values out. Numbers are exact: answers and scores are
//! rationals ([`Value`]), rounded only where an instrument's rule says so and when formatted.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod answers;
pub mod care;
pub mod formbody;
pub mod goals;
pub mod instrument;
pub mod monitoring;
pub mod registry;
pub mod scoring;
pub mod setting;
pub mod textpack;

pub use answers::{AnswerError, AnswerProblem, Answers};
pub use instrument::{Instrument, LoadError, Respondent};
pub use registry::Registry;
pub use scoring::{ScaleScore, ScoreSheet};
pub use setting::{Setting, SettingWords};
pub use textpack::TextPack;

/// An exact answer or score: a ratio of two integers.
pub type Value = num_rational::Ratio<i64>;

/// Parses a plain decimal number (`3`, `-1`, `7.25`, ` 4 `) into an exact [`Value`].
///
/// Exponents, `NaN`, thousands separators and empty strings are rejected: answers are typed by
/// people and by spreadsheets, and a value we cannot read exactly is an invalid answer.
///
/// ```
/// use bordin_core::{parse_decimal, Value};
/// assert_eq!(parse_decimal("7.25"), Some(Value::new(29, 4)));
/// assert_eq!(parse_decimal("3"), Some(Value::from_integer(3)));
/// assert_eq!(parse_decimal("3.0"), Some(Value::from_integer(3)));
/// assert_eq!(parse_decimal("1e3"), None);
/// ```
pub fn parse_decimal(s: &str) -> Option<Value> {
    parse_decimal_bytes(s.trim().as_bytes())
}

/// Byte-level form of [`parse_decimal`] (no trimming), used by the batch scorer's hot loop.
#[inline]
pub fn parse_decimal_bytes(b: &[u8]) -> Option<Value> {
    // Fast path: one or two plain digits, which is nearly every questionnaire answer.
    match b {
        [d] if d.is_ascii_digit() => return Some(Value::from_integer(i64::from(d - b'0'))),
        [d1, d2] if d1.is_ascii_digit() && d2.is_ascii_digit() => {
            return Some(Value::from_integer(
                i64::from(d1 - b'0') * 10 + i64::from(d2 - b'0'),
            ))
        }
        _ => {}
    }
    let (neg, rest) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    if rest.is_empty() || rest.len() > 18 {
        return None;
    }
    let mut num: i64 = 0;
    let mut den: i64 = 1;
    let mut seen_point = false;
    let mut digits = 0;
    for &c in rest {
        match c {
            b'0'..=b'9' => {
                num = num.checked_mul(10)?.checked_add(i64::from(c - b'0'))?;
                if seen_point {
                    den = den.checked_mul(10)?;
                }
                digits += 1;
            }
            b'.' if !seen_point => seen_point = true,
            _ => return None,
        }
    }
    if digits == 0 {
        return None;
    }
    Some(Value::new(if neg { -num } else { num }, den))
}

/// Formats an exact value with `decimals` places, rounding half away from zero.
///
/// ```
/// use bordin_core::{format_value, Value};
/// assert_eq!(format_value(Value::new(52, 3), 2), "17.33");
/// assert_eq!(format_value(Value::new(35, 2), 0), "18");
/// assert_eq!(format_value(Value::from_integer(16), 2), "16.00");
/// ```
pub fn format_value(v: Value, decimals: u8) -> String {
    let mut s = String::new();
    write_value(&mut s, v, decimals);
    s
}

/// Appends the formatted value to `out` (allocation-free for the batch scorer).
pub fn write_value(out: &mut String, v: Value, decimals: u8) {
    use std::fmt::Write as _;
    let decimals = decimals.min(9);
    let scale = 10i64.pow(u32::from(decimals));
    let scaled = (v * Value::from_integer(scale)).round();
    let n = *scaled.numer();
    if n < 0 {
        out.push('-');
    }
    let n = n.unsigned_abs();
    let scale = scale.unsigned_abs();
    // Writing into a String cannot fail.
    let _ = write!(out, "{}", n / scale);
    if decimals > 0 {
        let _ = write!(out, ".{:0width$}", n % scale, width = usize::from(decimals));
    }
}

/// Lossy conversion for display, bands and charts.
pub fn to_f64(v: Value) -> f64 {
    *v.numer() as f64 / *v.denom() as f64
}

/// Serialises an exact value as a JSON number (for API and report shapes).
pub fn ser_value<S: serde::Serializer>(v: &Value, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(to_f64(*v))
}

/// The exact decimal text of a value whose denominator is a product of 2s and 5s (every answer
/// read by [`parse_decimal`] is); `None` for values such as 1/3 that have no finite decimal.
///
/// ```
/// use bordin_core::{exact_decimal, Value};
/// assert_eq!(exact_decimal(Value::new(73, 10)).as_deref(), Some("7.3"));
/// assert_eq!(exact_decimal(Value::from_integer(4)).as_deref(), Some("4"));
/// assert_eq!(exact_decimal(Value::new(1, 3)), None);
/// ```
pub fn exact_decimal(v: Value) -> Option<String> {
    let mut den = *v.denom();
    let mut places = 0u8;
    while den % 10 == 0 {
        den /= 10;
        places += 1;
    }
    while den % 2 == 0 || den % 5 == 0 {
        den = if den % 2 == 0 { den / 2 } else { den / 5 };
        places += 1;
    }
    if den != 1 || places > 9 {
        return None;
    }
    Some(format_value(v, places))
}
