//! Decoding of HTML form bodies (`application/x-www-form-urlencoded`) with limits per field.
//!
//! Every form Bordin receives — a client's answers through a link, a clinician's goals and
//! notes — is decoded here first (the server runs it before any handler), so an oversized
//! field is refused with its name instead of reaching the database. Percent-decoding is done by
//! the `form_urlencoded` crate (the WHATWG URL Standard's algorithm); invalid UTF-8 becomes
//! U+FFFD as browsers do.

/// Limits on a form body.
#[derive(Debug, Clone, Copy)]
pub struct FieldLimits {
    /// Most fields in one body.
    pub max_fields: usize,
    /// Longest field name, in bytes after decoding.
    pub max_name_bytes: usize,
    /// Longest value of a field not named in `per_field`, in characters.
    pub max_value_chars: usize,
    /// Tighter limits for named fields, in characters.
    pub per_field: &'static [(&'static str, usize)],
}

/// Bordin's limits: free text up to 20,000 characters (a formulation, a long note); short
/// fields (emails, passwords, codes, tokens) much less.
pub const FORM_LIMITS: FieldLimits = FieldLimits {
    max_fields: 500,
    max_name_bytes: 100,
    max_value_chars: 20_000,
    per_field: &[
        ("csrf", 64),
        ("email", 254),
        ("password", 1_024),
        ("current", 1_024),
        ("new", 1_024),
        ("confirm", 1_024),
        ("code", 64),
        ("display_name", 200),
        ("title", 500),
        ("words", 2_000),
    ],
};

/// Why a form body was refused. Each names the field when there is one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormBodyError {
    #[error("the form has more than {max} fields")]
    TooManyFields { max: usize },
    #[error("a field name is longer than {max} bytes")]
    NameTooLong { max: usize },
    #[error("the field '{field}' is too long: at most {max} characters")]
    FieldTooLong { field: String, max: usize },
}

impl FieldLimits {
    /// The limit for one field, in characters.
    pub fn limit(&self, field: &str) -> usize {
        self.per_field
            .iter()
            .find(|(name, _)| *name == field)
            .map_or(self.max_value_chars, |(_, max)| *max)
    }
}

/// Decodes a form body into its (name, value) pairs, in order, checking every limit.
pub fn decode(body: &[u8], limits: &FieldLimits) -> Result<Vec<(String, String)>, FormBodyError> {
    let mut out = Vec::new();
    for (name, value) in form_urlencoded::parse(body) {
        if out.len() >= limits.max_fields {
            return Err(FormBodyError::TooManyFields {
                max: limits.max_fields,
            });
        }
        if name.len() > limits.max_name_bytes {
            return Err(FormBodyError::NameTooLong {
                max: limits.max_name_bytes,
            });
        }
        let max = limits.limit(&name);
        // Count characters only as far as needed.
        if value.len() > max && value.chars().nth(max).is_some() {
            return Err(FormBodyError::FieldTooLong {
                field: name.into_owned(),
                max,
            });
        }
        out.push((name.into_owned(), value.into_owned()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_pairs_in_order_with_percent_and_plus() {
        assert_eq!(
            decode(b"q1=8&words=a+b%C3%A9&q1=9", &FORM_LIMITS).unwrap(),
            vec![
                ("q1".to_owned(), "8".to_owned()),
                ("words".to_owned(), "a b\u{e9}".to_owned()),
                ("q1".to_owned(), "9".to_owned()),
            ]
        );
    }

    #[test]
    fn names_the_field_that_is_too_long() {
        let body = format!("csrf=x&email={}", "a".repeat(255));
        assert_eq!(
            decode(body.as_bytes(), &FORM_LIMITS),
            Err(FormBodyError::FieldTooLong {
                field: "email".into(),
                max: 254
            })
        );
        // 254 characters of two bytes each are fine: the limit counts characters.
        let body = format!("email={}", "%C3%A9".repeat(254));
        assert!(decode(body.as_bytes(), &FORM_LIMITS).is_ok());
        let body = format!("why={}", "x".repeat(20_001));
        assert_eq!(
            decode(body.as_bytes(), &FORM_LIMITS)
                .unwrap_err()
                .to_string(),
            "the field 'why' is too long: at most 20000 characters"
        );
    }

    #[test]
    fn refuses_too_many_fields() {
        let body = "a=1&".repeat(501);
        assert_eq!(
            decode(body.as_bytes(), &FORM_LIMITS),
            Err(FormBodyError::TooManyFields { max: 500 })
        );
    }
}
