//! Exact scoring: totals, subscales, means, reverse keys, missing-item rules, bands and flags.
//!
//! Every rule comes from the instrument's definition; nothing here knows about a particular
//! questionnaire. Arithmetic is on exact rationals, so a prorated PHQ-9 of 15 × 9 / 8 is 135/8
//! until the instrument's rounding rule (half up → 17) is applied.

use serde::Serialize;

use crate::instrument::{Method, Rounding, Scale, ScaleParts};
use crate::{Answers, Instrument, Value};

/// The result of one scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ScaleScore {
    /// `None` when the scale cannot be scored under its missing-item rule.
    #[serde(serialize_with = "ser_value")]
    pub value: Option<Value>,
    /// Parts (items or sub-scales) that were present.
    pub answered: u32,
    /// Parts that were missing.
    pub missing: u32,
    /// Index into the scale's bands, when the value falls in one.
    pub band: Option<usize>,
}

fn ser_value<S: serde::Serializer>(v: &Option<Value>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.serialize_some(&crate::to_f64(*v)),
        None => s.serialize_none(),
    }
}

/// All scores of one response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ScoreSheet {
    /// One entry per scale, in the instrument's scale order.
    pub scales: Vec<ScaleScore>,
    /// Indices of the instrument's flag rules that were raised.
    pub flags: Vec<usize>,
    /// Items that belong to a scale and were not answered.
    pub missing: u32,
}

impl ScoreSheet {
    /// The score of a scale, by id.
    pub fn value(&self, instrument: &Instrument, scale: &str) -> Option<Value> {
        instrument
            .scale_position(scale)
            .and_then(|i| self.scales.get(i))
            .and_then(|s| s.value)
    }

    /// The band label of the first banded scale that was scored (the instrument's severity).
    pub fn severity<'a>(&self, instrument: &'a Instrument) -> Option<&'a str> {
        instrument
            .scales
            .iter()
            .zip(&self.scales)
            .find_map(|(def, s)| s.band.map(|b| def.bands[b].label.as_str()))
    }

    /// Ids of the raised flags, e.g. `["risk:q9"]`.
    pub fn flag_ids<'a>(
        &'a self,
        instrument: &'a Instrument,
    ) -> impl Iterator<Item = &'a str> + 'a {
        self.flags.iter().map(|&f| instrument.flags[f].id.as_str())
    }
}

impl Instrument {
    /// Scores a set of answers.
    ///
    /// ```
    /// use bordin_core::{Answers, Registry};
    /// let reg = Registry::builtin().unwrap();
    /// let phq9 = reg.get("phq9").unwrap();
    /// // Eight items answered (sum 15), q5 missing: prorated 15 × 9 / 8 = 16.875 → 17 (half up).
    /// let a = Answers::parse(phq9, [("q1","3"),("q2","2"),("q3","2"),("q4","2"),("q6","2"),
    ///     ("q7","2"),("q8","1"),("q9","1")]).unwrap();
    /// let s = phq9.score(&a);
    /// assert_eq!(bordin_core::format_value(s.value(phq9, "total").unwrap(), 0), "17");
    /// assert_eq!(s.severity(phq9), Some("moderately severe"));
    /// assert_eq!(s.flag_ids(phq9).collect::<Vec<_>>(), ["risk:q9"]);
    /// ```
    pub fn score(&self, answers: &Answers) -> ScoreSheet {
        let mut sheet = ScoreSheet::default();
        self.score_values_into(answers.values(), &mut sheet);
        sheet
    }

    /// Scores values in item order into `out`, reusing its buffers (the batch scorer's path).
    ///
    /// The values must already be valid on their response scales (as [`Answers`] guarantees).
    pub fn score_values_into(&self, values: &[Option<Value>], out: &mut ScoreSheet) {
        out.scales.clear();
        out.flags.clear();
        out.missing = 0;
        for (i, v) in values.iter().enumerate() {
            if v.is_none() && self.is_scored_item(i) {
                out.missing += 1;
            }
        }
        out.scales.resize(
            self.scales.len(),
            ScaleScore {
                value: None,
                answered: 0,
                missing: 0,
                band: None,
            },
        );
        for &k in &self.eval_order {
            let s = self.score_scale(&self.scales[k], values, &out.scales);
            out.scales[k] = s;
        }
        for (fi, rule) in self.flags.iter().enumerate() {
            if let Some(Some(v)) = values.get(rule.item) {
                if *v >= Value::from_integer(rule.at_least) {
                    out.flags.push(fi);
                }
            }
        }
    }

    fn keyed(&self, item: usize, v: Value) -> Value {
        if self.items[item].reverse {
            let (lo, hi) = self.response_scale_of(item).bounds();
            lo + hi - v
        } else {
            v
        }
    }

    fn score_scale(
        &self,
        scale: &Scale,
        values: &[Option<Value>],
        done: &[ScaleScore],
    ) -> ScaleScore {
        let mut sum = Value::from_integer(0);
        let mut answered = 0u32;
        let n = match &scale.parts {
            ScaleParts::Items(items) => {
                for &i in items {
                    if let Some(Some(v)) = values.get(i) {
                        sum += self.keyed(i, *v);
                        answered += 1;
                    }
                }
                items.len() as u32
            }
            ScaleParts::Scales(parts) => {
                for &j in parts {
                    if let Some(v) = done.get(j).and_then(|s| s.value) {
                        sum += v;
                        answered += 1;
                    }
                }
                parts.len() as u32
            }
        };
        let missing = n - answered;
        let value = if missing > scale.missing.max_missing || answered == 0 {
            None
        } else {
            Some(combine(scale, sum, answered, n))
        };
        let band = value.and_then(|v| band_of(scale, v));
        ScaleScore {
            value,
            answered,
            missing,
            band,
        }
    }
}

/// Applies a scale's method and missing-item rule to the sum of its present parts.
///
/// Prorating (Bordin convention, see `shared/reference/instruments.md`; informed by Arrieta et al.
/// 2017 on prorating PHQ-9 items): sum × n / answered, then the scale's rounding.
fn combine(scale: &Scale, sum: Value, answered: u32, n: u32) -> Value {
    let answered = Value::from_integer(i64::from(answered));
    match scale.method {
        Method::Mean => sum / answered,
        Method::Sum if scale.missing.prorate && answered < Value::from_integer(i64::from(n)) => {
            let v = sum * Value::from_integer(i64::from(n)) / answered;
            match scale.missing.rounding {
                Rounding::None => v,
                // Ratio::round rounds half away from zero, which is "half up" for scores ≥ 0.
                Rounding::HalfUp => v.round(),
            }
        }
        Method::Sum => sum,
    }
}

fn band_of(scale: &Scale, v: Value) -> Option<usize> {
    let x = crate::to_f64(v);
    scale.bands.iter().position(|b| x >= b.min && x <= b.max)
}
