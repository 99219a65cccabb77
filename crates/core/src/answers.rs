//! Answers to one administration of an instrument, range-checked on construction.
//!
//! Holding an [`Answers`] means every present answer is valid on its item's response scale and
//! every item id is known: scoring cannot meet a bad value. Problems are collected per item so a
//! form can name each one beside the question and keep the rest of what the person entered.

use serde::Serialize;

use crate::{Instrument, Value};

/// What is wrong with one answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum AnswerProblem {
    /// The item id is not part of the instrument.
    UnknownItem,
    /// The value is not a number, not a whole number on a choice scale, or outside the scale.
    Invalid { given: String, expected: String },
    /// A required item was left blank (forms only; batch scoring applies the missing-item rules).
    Required,
    /// The same item was answered twice in one submission.
    Duplicate,
}

/// One problem, at one item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("item {item}: {}", describe(.problem))]
pub struct AnswerError {
    pub item: String,
    #[serde(flatten)]
    pub problem: AnswerProblem,
}

fn describe(p: &AnswerProblem) -> String {
    match p {
        AnswerProblem::UnknownItem => "is not an item of this instrument".to_owned(),
        AnswerProblem::Invalid { given, expected } => {
            format!("'{given}' is not a valid answer (expected {expected})")
        }
        AnswerProblem::Required => "needs an answer".to_owned(),
        AnswerProblem::Duplicate => "was answered more than once".to_owned(),
    }
}

/// Valid answers, one slot per item of the instrument (in the instrument's item order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answers {
    values: Vec<Option<Value>>,
}

impl Answers {
    /// Reads answers given as `(item id, text)` pairs; blank text means "not answered".
    ///
    /// All problems are reported, not just the first.
    pub fn parse<'a, I>(instrument: &Instrument, pairs: I) -> Result<Self, Vec<AnswerError>>
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let mut values = vec![None; instrument.items.len()];
        let mut seen = vec![false; instrument.items.len()];
        let mut errors = Vec::new();
        for (id, raw) in pairs {
            let Some(pos) = instrument.item_position(id) else {
                errors.push(AnswerError {
                    item: id.to_owned(),
                    problem: AnswerProblem::UnknownItem,
                });
                continue;
            };
            if std::mem::replace(&mut seen[pos], true) {
                errors.push(AnswerError {
                    item: id.to_owned(),
                    problem: AnswerProblem::Duplicate,
                });
                continue;
            }
            let raw = raw.trim();
            if raw.is_empty() {
                continue;
            }
            match check(instrument, pos, raw.as_bytes()) {
                Ok(v) => values[pos] = Some(v),
                Err(problem) => errors.push(AnswerError {
                    item: id.to_owned(),
                    problem,
                }),
            }
        }
        if errors.is_empty() {
            Ok(Self { values })
        } else {
            Err(errors)
        }
    }

    /// Builds answers from values already in item order (e.g. read back from storage).
    pub fn from_values(
        instrument: &Instrument,
        values: Vec<Option<Value>>,
    ) -> Result<Self, Vec<AnswerError>> {
        let mut errors = Vec::new();
        if values.len() != instrument.items.len() {
            errors.push(AnswerError {
                item: "*".to_owned(),
                problem: AnswerProblem::Invalid {
                    given: format!("{} answers", values.len()),
                    expected: format!("{} answers", instrument.items.len()),
                },
            });
            return Err(errors);
        }
        for (pos, v) in values.iter().enumerate() {
            if let Some(v) = v {
                let rs = instrument.response_scale_of(pos);
                if !rs.accepts(*v) {
                    errors.push(AnswerError {
                        item: instrument.items[pos].id.clone(),
                        problem: AnswerProblem::Invalid {
                            given: crate::format_value(*v, 3),
                            expected: rs.describe(),
                        },
                    });
                }
            }
        }
        if errors.is_empty() {
            Ok(Self { values })
        } else {
            Err(errors)
        }
    }

    /// Required items that were left blank (forms ask for these before saving).
    pub fn missing_required(&self, instrument: &Instrument) -> Vec<AnswerError> {
        instrument
            .items
            .iter()
            .zip(&self.values)
            .filter(|(item, v)| item.required && v.is_none())
            .map(|(item, _)| AnswerError {
                item: item.id.clone(),
                problem: AnswerProblem::Required,
            })
            .collect()
    }

    /// The answers in item order.
    pub fn values(&self) -> &[Option<Value>] {
        &self.values
    }

    /// The answer to an item, by id.
    pub fn get(&self, instrument: &Instrument, item: &str) -> Option<Value> {
        instrument
            .item_position(item)
            .and_then(|p| self.values.get(p).copied().flatten())
    }

    /// `(item id, answer)` pairs for the answered items, for storage and export.
    pub fn pairs<'a>(
        &'a self,
        instrument: &'a Instrument,
    ) -> impl Iterator<Item = (&'a str, Value)> + 'a {
        instrument
            .items
            .iter()
            .zip(&self.values)
            .filter_map(|(i, v)| v.map(|v| (i.id.as_str(), v)))
    }
}

/// Checks one answer against its item's response scale.
#[inline]
pub fn check(instrument: &Instrument, item: usize, raw: &[u8]) -> Result<Value, AnswerProblem> {
    let rs = instrument.response_scale_of(item);
    match crate::parse_decimal_bytes(raw) {
        Some(v) if rs.accepts(v) => Ok(v),
        _ => Err(AnswerProblem::Invalid {
            given: String::from_utf8_lossy(raw).into_owned(),
            expected: rs.describe(),
        }),
    }
}
