//! Questionnaires defined as data.
//!
//! An [`Instrument`] is parsed from a TOML file (format: `docs/instrument-format.md`) and fully
//! validated on construction: once you hold one, every item points at an existing response
//! scale, every scale at existing items, bands are ordered, flags name real items. Scoring
//! ([`crate::scoring`]) can therefore not fail on the definition, only on the answers.

mod file;

use std::collections::{HashMap, HashSet};
use std::fmt;

use serde::Serialize;

use crate::Value;
use file::InstrumentFile;

/// Error loading an instrument (or a text pack): which file, where in it, and what is wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{file}: {path}: {message}")]
pub struct LoadError {
    /// The file (or built-in name) that was being read.
    pub file: String,
    /// Field path inside the file, e.g. `items[3].response_scale`, or `line 12` for syntax errors.
    pub path: String,
    /// What is wrong, in words.
    pub message: String,
}

impl LoadError {
    pub(crate) fn new(file: &str, path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            file: file.to_owned(),
            path: path.into(),
            message: message.into(),
        }
    }
}

/// Who fills in an instrument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Respondent {
    Client,
    Therapist,
    Observer,
}

impl Respondent {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Client => "client",
            Self::Therapist => "therapist",
            Self::Observer => "observer",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "client" => Some(Self::Client),
            "therapist" => Some(Self::Therapist),
            "observer" => Some(Self::Observer),
            _ => None,
        }
    }
}

impl fmt::Display for Respondent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the instrument's owner allows, which decides whether Bordin may show its wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LicenceStatus {
    /// Free to reproduce and administer electronically (e.g. PHQ-9, GAD-7).
    Open,
    /// Written by the Bordin project and released with it.
    Project,
    /// Wording needs the owner's permission for electronic use; it comes from a clinic text pack.
    Restricted,
}

impl LicenceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Project => "project",
            Self::Restricted => "restricted",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Licence {
    pub status: LicenceStatus,
    pub holder: String,
    pub note: String,
}

/// A feedback check is not a validated psychometric instrument; the UI says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InstrumentKind {
    Validated,
    FeedbackCheck,
}

/// One point of a choice scale.
#[derive(Debug, Clone, Serialize)]
pub struct Point {
    pub value: i64,
    pub label: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ResponseScaleKind {
    /// A fixed set of whole-number points (Likert, frequency, 0–10 ratings).
    Choice { points: Vec<Point> },
    /// A continuous line from `min` to `max`, recorded in steps of `step` (e.g. 0–10 cm by 0.1).
    VisualAnalogue {
        #[serde(serialize_with = "crate::ser_value")]
        min: Value,
        #[serde(serialize_with = "crate::ser_value")]
        max: Value,
        #[serde(serialize_with = "crate::ser_value")]
        step: Value,
        min_label: String,
        max_label: String,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct ResponseScale {
    pub id: String,
    #[serde(flatten)]
    pub kind: ResponseScaleKind,
}

impl ResponseScale {
    /// Lowest and highest valid answer.
    pub fn bounds(&self) -> (Value, Value) {
        match &self.kind {
            ResponseScaleKind::Choice { points } => {
                let lo = points.iter().map(|p| p.value).min().unwrap_or(0);
                let hi = points.iter().map(|p| p.value).max().unwrap_or(0);
                (Value::from_integer(lo), Value::from_integer(hi))
            }
            ResponseScaleKind::VisualAnalogue { min, max, .. } => (*min, *max),
        }
    }

    /// Whether `v` is a valid answer on this scale.
    pub fn accepts(&self, v: Value) -> bool {
        match &self.kind {
            ResponseScaleKind::Choice { points } => {
                v.is_integer() && points.iter().any(|p| p.value == *v.numer())
            }
            ResponseScaleKind::VisualAnalogue { min, max, step, .. } => {
                v >= *min && v <= *max && on_step(v, *min, *step)
            }
        }
    }

    /// Words describing the valid answers, for error messages.
    pub fn describe(&self) -> String {
        match &self.kind {
            ResponseScaleKind::Choice { points } => {
                let vals: Vec<String> = points.iter().map(|p| p.value.to_string()).collect();
                format!("one of {}", vals.join(", "))
            }
            ResponseScaleKind::VisualAnalogue { min, max, step, .. } => format!(
                "a number from {} to {} in steps of {}",
                crate::format_value(*min, 2),
                crate::format_value(*max, 2),
                crate::format_value(*step, 2)
            ),
        }
    }

    pub fn points(&self) -> &[Point] {
        match &self.kind {
            ResponseScaleKind::Choice { points } => points,
            ResponseScaleKind::VisualAnalogue { .. } => &[],
        }
    }
}

/// Whether `(v − min) / step` is a whole number, in `i128` so that an answer with many decimals
/// (`0.000000000000000001`) cannot overflow `Ratio<i64>` arithmetic. With `v = a/b`, `min = c/d`,
/// `step = e/f`: `(a·d − c·b)·f` must be a multiple of `b·d·e`.
fn on_step(v: Value, min: Value, step: Value) -> bool {
    let (a, b) = (i128::from(*v.numer()), i128::from(*v.denom()));
    let (c, d) = (i128::from(*min.numer()), i128::from(*min.denom()));
    let (e, f) = (i128::from(*step.numer()), i128::from(*step.denom()));
    let num = a
        .checked_mul(d)
        .zip(c.checked_mul(b))
        .and_then(|(x, y)| x.checked_sub(y))
        .and_then(|x| x.checked_mul(f));
    let den = b.checked_mul(d).and_then(|x| x.checked_mul(e));
    match (num, den) {
        (Some(n), Some(m)) if m != 0 => n % m == 0,
        _ => false,
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Item {
    pub id: String,
    /// The wording, when the instrument file carries it (open instruments).
    pub text: Option<String>,
    /// Bordin's own neutral description (always safe to show).
    pub label: Option<String>,
    /// Index into [`Instrument::response_scales`].
    #[serde(skip)]
    pub response_scale: usize,
    #[serde(rename = "response_scale")]
    pub response_scale_id: String,
    pub subscale: Option<String>,
    pub reverse: bool,
    pub required: bool,
}

/// How the answered items of a scale are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    Sum,
    Mean,
}

/// How a prorated value is rounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rounding {
    None,
    /// Half away from zero to a whole number (all Bordin's scores are ≥ 0).
    HalfUp,
}

/// The missing-item rule of a scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MissingRule {
    /// The scale is scored only when at most this many of its parts are missing.
    pub max_missing: u32,
    /// With missing parts, scale a sum up to the full number of items (sum × n / answered).
    pub prorate: bool,
    pub rounding: Rounding,
}

#[derive(Debug, Clone, Serialize)]
pub struct Band {
    pub min: f64,
    pub max: f64,
    pub label: String,
}

/// Which way is better on a scale, and the figures for judging change (used by monitoring).
#[derive(Debug, Clone, Serialize)]
pub struct ChangeNorms {
    pub higher_is_better: bool,
    /// Published fixed reliable-change threshold in raw points.
    pub reliable_change: Option<f64>,
    pub reliability: Option<f64>,
    pub sd_clinical: Option<f64>,
    pub mean_clinical: Option<f64>,
    pub sd_functional: Option<f64>,
    pub mean_functional: Option<f64>,
    pub caseness: Option<f64>,
    pub source: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", content = "ids", rename_all = "snake_case")]
pub enum ScaleParts {
    /// Indices into [`Instrument::items`].
    Items(Vec<usize>),
    /// Indices into [`Instrument::scales`] (acyclic; checked on load).
    Scales(Vec<usize>),
}

#[derive(Debug, Clone, Serialize)]
pub struct Scale {
    pub id: String,
    pub title: String,
    pub parts: ScaleParts,
    pub method: Method,
    pub missing: MissingRule,
    pub decimals: u8,
    pub bands: Vec<Band>,
    pub change: Option<ChangeNorms>,
    /// Lowest and highest possible score.
    pub range: (f64, f64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FlagSeverity {
    Info,
    Warning,
    Urgent,
}

#[derive(Debug, Clone, Serialize)]
pub struct FlagRule {
    pub id: String,
    #[serde(skip)]
    pub item: usize,
    #[serde(rename = "item")]
    pub item_id: String,
    pub at_least: i64,
    pub severity: FlagSeverity,
    pub message: String,
}

/// A validated questionnaire definition.
#[derive(Debug, Clone, Serialize)]
pub struct Instrument {
    pub id: String,
    pub version: String,
    pub title: String,
    pub short_title: String,
    pub citation: String,
    pub notes: Option<String>,
    pub licence: Licence,
    pub respondent: Respondent,
    pub kind: InstrumentKind,
    pub instructions: Option<String>,
    pub response_scales: Vec<ResponseScale>,
    pub items: Vec<Item>,
    pub scales: Vec<Scale>,
    pub flags: Vec<FlagRule>,
    /// Items that belong to at least one scale (counted as "missing" when unanswered).
    #[serde(skip)]
    pub(crate) scored_items: Vec<bool>,
    #[serde(skip)]
    item_index: HashMap<String, usize>,
    /// Scale indices in an order where every composite comes after its parts.
    #[serde(skip)]
    pub(crate) eval_order: Vec<usize>,
}

/// Orders scales so that parts come before the composites built from them; `None` on a cycle.
fn evaluation_order(scales: &[Scale]) -> Option<Vec<usize>> {
    // 0 = not visited, 1 = on the current path, 2 = done.
    fn visit(k: usize, scales: &[Scale], state: &mut [u8], out: &mut Vec<usize>) -> bool {
        match state[k] {
            2 => return true,
            1 => return false,
            _ => {}
        }
        state[k] = 1;
        if let ScaleParts::Scales(parts) = &scales[k].parts {
            for &j in parts {
                if !visit(j, scales, state, out) {
                    return false;
                }
            }
        }
        state[k] = 2;
        out.push(k);
        true
    }
    let mut state = vec![0u8; scales.len()];
    let mut out = Vec::with_capacity(scales.len());
    for k in 0..scales.len() {
        if !visit(k, scales, &mut state, &mut out) {
            return None;
        }
    }
    Some(out)
}

fn is_valid_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && s.as_bytes()[0].is_ascii_lowercase()
}

/// Collects validation problems so a file with three mistakes reports all three at once.
struct Problems<'a> {
    file: &'a str,
    list: Vec<LoadError>,
}

impl Problems<'_> {
    fn add(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.list.push(LoadError::new(self.file, path, message));
    }
}

/// Largest magnitude and finest fraction of a point value or visual-analogue bound. Keeping
/// definitions within these limits keeps every exact sum, prorating and step check far from
/// `i64` overflow.
const LIMIT: i64 = 1_000_000;
const LIMITS_MESSAGE: &str = "must be between -1000000 and 1000000 with at most 6 decimal places";

fn within_limits(v: Value) -> bool {
    v.numer()
        .checked_abs()
        .is_some_and(|n| n <= LIMIT * *v.denom())
        && *v.denom() <= LIMIT
}

/// Parses a TOML number (integer or float) or a decimal string into an exact value.
fn toml_to_value(v: &toml::Value) -> Option<Value> {
    match v {
        toml::Value::Integer(i) => Some(Value::from_integer(*i)),
        toml::Value::Float(f) => crate::parse_decimal(&f.to_string()),
        toml::Value::String(s) => crate::parse_decimal(s),
        _ => None,
    }
}

/// Converts a 1-based byte offset span into a `line N, column M` location.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// Deserialises TOML with the field path of any error (`items[3].reverse`), and its line.
pub(crate) fn parse_toml<T: serde::de::DeserializeOwned>(
    file: &str,
    text: &str,
) -> Result<T, LoadError> {
    let de = toml::Deserializer::new(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let location = inner.span().map(|s| {
            let (l, c) = line_col(text, s.start);
            format!("line {l}, column {c}")
        });
        // The toml crate leaves the message empty for a few syntax errors (found by the
        // never-panics property test); the user still gets a sentence that says what to check.
        let message = match inner.message().trim() {
            "" => "not valid TOML here (check quotes, brackets, commas and `=`)".to_owned(),
            m => m.to_owned(),
        };
        let path = match (path.as_str(), location) {
            (".", Some(loc)) => loc,
            (".", None) => "(top level)".to_owned(),
            (p, Some(loc)) => format!("{p} ({loc})"),
            (p, None) => p.to_owned(),
        };
        LoadError::new(file, path, message)
    })
}

impl Instrument {
    /// Parses and validates an instrument file. `file` names it in error messages.
    pub fn from_toml(file: &str, text: &str) -> Result<Self, Vec<LoadError>> {
        let raw: InstrumentFile = parse_toml(file, text).map_err(|e| vec![e])?;
        Self::from_file(file, raw)
    }

    fn from_file(file: &str, raw: InstrumentFile) -> Result<Self, Vec<LoadError>> {
        let mut p = Problems {
            file,
            list: Vec::new(),
        };

        if !is_valid_id(&raw.id) {
            p.add("id", format!("'{}' is not a valid id (lowercase letters, digits and _; starts with a letter)", raw.id));
        }
        for (field, v) in [
            ("version", &raw.version),
            ("title", &raw.title),
            ("citation", &raw.citation),
        ] {
            if v.trim().is_empty() {
                p.add(field, "must not be empty");
            }
        }
        let licence_status = match raw.licence.status.as_str() {
            "open" => LicenceStatus::Open,
            "project" => LicenceStatus::Project,
            "restricted" => LicenceStatus::Restricted,
            other => {
                p.add(
                    "licence.status",
                    format!("'{other}' is not one of open, project, restricted"),
                );
                LicenceStatus::Restricted
            }
        };
        let respondent = Respondent::parse(&raw.respondent).unwrap_or_else(|| {
            p.add(
                "respondent",
                format!(
                    "'{}' is not one of client, therapist, observer",
                    raw.respondent
                ),
            );
            Respondent::Client
        });
        let kind = match raw.kind.as_deref() {
            None | Some("validated") => InstrumentKind::Validated,
            Some("feedback_check") => InstrumentKind::FeedbackCheck,
            Some(other) => {
                p.add(
                    "kind",
                    format!("'{other}' is not one of validated, feedback_check"),
                );
                InstrumentKind::Validated
            }
        };

        // Response scales.
        let mut response_scales = Vec::new();
        let mut rs_index = HashMap::new();
        if raw.response_scales.is_empty() {
            p.add("response_scales", "at least one response scale is needed");
        }
        for (i, rs) in raw.response_scales.iter().enumerate() {
            let at = format!("response_scales[{i}]");
            if !is_valid_id(&rs.id) {
                p.add(format!("{at}.id"), format!("'{}' is not a valid id", rs.id));
            }
            if rs_index.insert(rs.id.clone(), i).is_some() {
                p.add(
                    format!("{at}.id"),
                    format!("response scale '{}' is defined twice", rs.id),
                );
            }
            let kind = match rs.kind.as_deref().unwrap_or("choice") {
                "choice" => {
                    if rs.points.len() < 2 {
                        p.add(
                            format!("{at}.points"),
                            "a choice scale needs at least 2 points",
                        );
                    }
                    let mut seen = HashSet::new();
                    for (j, pt) in rs.points.iter().enumerate() {
                        if !seen.insert(pt.value) {
                            p.add(
                                format!("{at}.points[{j}].value"),
                                format!("value {} appears twice", pt.value),
                            );
                        }
                        if !within_limits(Value::from_integer(pt.value)) {
                            p.add(format!("{at}.points[{j}].value"), LIMITS_MESSAGE);
                        }
                        if pt.label.trim().is_empty() {
                            p.add(format!("{at}.points[{j}].label"), "must not be empty");
                        }
                    }
                    if rs.min.is_some() || rs.max.is_some() || rs.step.is_some() {
                        p.add(
                            at.clone(),
                            "min, max and step belong to visual_analogue scales, not choice scales",
                        );
                    }
                    ResponseScaleKind::Choice {
                        points: rs
                            .points
                            .iter()
                            .map(|pt| Point {
                                value: pt.value,
                                label: pt.label.clone(),
                            })
                            .collect(),
                    }
                }
                "visual_analogue" => {
                    let mut num = |name: &str, v: &Option<toml::Value>| -> Value {
                        match v.as_ref().map(toml_to_value) {
                            // Bounded so that exact arithmetic on answers and sums cannot overflow.
                            Some(Some(x)) if !within_limits(x) => {
                                p.add(format!("{at}.{name}"), LIMITS_MESSAGE);
                                Value::from_integer(0)
                            }
                            Some(Some(x)) => x,
                            Some(None) => {
                                p.add(format!("{at}.{name}"), "must be a number");
                                Value::from_integer(0)
                            }
                            None => {
                                p.add(
                                    format!("{at}.{name}"),
                                    "is required for a visual_analogue scale",
                                );
                                Value::from_integer(0)
                            }
                        }
                    };
                    let min = num("min", &rs.min);
                    let max = num("max", &rs.max);
                    let step = num("step", &rs.step);
                    if max <= min {
                        p.add(format!("{at}.max"), "must be greater than min");
                    }
                    if step <= Value::from_integer(0) {
                        p.add(format!("{at}.step"), "must be greater than 0");
                    } else if !on_step(max, min, step) {
                        p.add(
                            format!("{at}.step"),
                            "max − min must be a whole number of steps",
                        );
                    }
                    if !rs.points.is_empty() {
                        p.add(
                            format!("{at}.points"),
                            "a visual_analogue scale has no points",
                        );
                    }
                    ResponseScaleKind::VisualAnalogue {
                        min,
                        max,
                        step: if step > Value::from_integer(0) {
                            step
                        } else {
                            Value::from_integer(1)
                        },
                        min_label: rs.min_label.clone().unwrap_or_default(),
                        max_label: rs.max_label.clone().unwrap_or_default(),
                    }
                }
                other => {
                    p.add(
                        format!("{at}.kind"),
                        format!("'{other}' is not one of choice, visual_analogue"),
                    );
                    ResponseScaleKind::Choice { points: vec![] }
                }
            };
            response_scales.push(ResponseScale {
                id: rs.id.clone(),
                kind,
            });
        }

        // Items.
        let mut items = Vec::new();
        let mut item_index = HashMap::new();
        if raw.items.is_empty() {
            p.add("items", "at least one item is needed");
        }
        for (i, it) in raw.items.iter().enumerate() {
            let at = format!("items[{i}]");
            if !is_valid_id(&it.id) {
                p.add(format!("{at}.id"), format!("'{}' is not a valid id", it.id));
            }
            if item_index.insert(it.id.clone(), i).is_some() {
                p.add(
                    format!("{at}.id"),
                    format!("item '{}' is defined twice", it.id),
                );
            }
            let rs = match rs_index.get(&it.response_scale) {
                Some(&r) => r,
                None => {
                    p.add(
                        format!("{at}.response_scale"),
                        format!("no response scale '{}' is defined", it.response_scale),
                    );
                    0
                }
            };
            if let Some(t) = &it.text {
                if t.trim().is_empty() {
                    p.add(
                        format!("{at}.text"),
                        "must not be empty (leave it out when the wording comes from a text pack)",
                    );
                }
            }
            if licence_status == LicenceStatus::Restricted && it.text.is_some() {
                p.add(format!("{at}.text"), "a restricted instrument carries no wording in its file; install it as a text pack");
            }
            if licence_status != LicenceStatus::Restricted && it.text.is_none() {
                p.add(
                    format!("{at}.text"),
                    "is required unless licence.status is 'restricted'",
                );
            }
            if it.reverse
                && matches!(
                    response_scales.get(rs).map(|s| &s.kind),
                    Some(ResponseScaleKind::VisualAnalogue { .. })
                )
            {
                // Reverse keying works on any bounded scale; allowed.
            }
            items.push(Item {
                id: it.id.clone(),
                text: it.text.clone(),
                label: it.label.clone(),
                response_scale: rs,
                response_scale_id: it.response_scale.clone(),
                subscale: it.subscale.clone(),
                reverse: it.reverse,
                required: it.required,
            });
        }

        // Scales: items first, composites may only refer to scales defined before them.
        let mut scales: Vec<Scale> = Vec::new();
        let mut scale_index: HashMap<String, usize> = HashMap::new();
        for (i, sc) in raw.scales.iter().enumerate() {
            if scale_index.insert(sc.id.clone(), i).is_some() {
                p.add(
                    format!("scales[{i}].id"),
                    format!("scale '{}' is defined twice", sc.id),
                );
            }
        }
        let mut scored_items = vec![false; items.len()];
        if raw.scales.is_empty() {
            p.add("scales", "at least one scale is needed");
        }
        for (i, sc) in raw.scales.iter().enumerate() {
            let at = format!("scales[{i}]");
            if !is_valid_id(&sc.id) {
                p.add(format!("{at}.id"), format!("'{}' is not a valid id", sc.id));
            }
            let method = match sc.method.as_str() {
                "sum" => Method::Sum,
                "mean" => Method::Mean,
                other => {
                    p.add(
                        format!("{at}.method"),
                        format!("'{other}' is not one of sum, mean"),
                    );
                    Method::Sum
                }
            };
            let rounding = match sc.missing.rounding.as_deref() {
                None | Some("none") => Rounding::None,
                Some("half_up") => Rounding::HalfUp,
                Some(other) => {
                    p.add(
                        format!("{at}.missing.rounding"),
                        format!("'{other}' is not one of none, half_up"),
                    );
                    Rounding::None
                }
            };
            let (parts, n_parts, range) = match (sc.items.is_empty(), sc.of_scales.is_empty()) {
                (false, true) => {
                    let mut idx = Vec::new();
                    let (mut lo, mut hi) = (0.0, 0.0);
                    let mut seen = HashSet::new();
                    for (j, id) in sc.items.iter().enumerate() {
                        if !seen.insert(id) {
                            p.add(
                                format!("{at}.items[{j}]"),
                                format!("item '{id}' is listed twice"),
                            );
                        }
                        match item_index.get(id) {
                            Some(&k) => {
                                idx.push(k);
                                scored_items[k] = true;
                                // `get`: with no response scales at all (already reported), items point at 0.
                                let (a, b) = response_scales.get(items[k].response_scale).map_or(
                                    (Value::from_integer(0), Value::from_integer(0)),
                                    ResponseScale::bounds,
                                );
                                lo += crate::to_f64(a);
                                hi += crate::to_f64(b);
                            }
                            None => p.add(
                                format!("{at}.items[{j}]"),
                                format!("no item '{id}' is defined"),
                            ),
                        }
                    }
                    let n = idx.len().max(1) as f64;
                    let range = if method == Method::Mean {
                        (lo / n, hi / n)
                    } else {
                        (lo, hi)
                    };
                    (ScaleParts::Items(idx), sc.items.len(), range)
                }
                (true, false) => {
                    let mut idx = Vec::new();
                    for (j, id) in sc.of_scales.iter().enumerate() {
                        match scale_index.get(id) {
                            Some(&k) if k == i => p.add(
                                format!("{at}.of_scales[{j}]"),
                                "a scale cannot contain itself",
                            ),
                            Some(&k) => idx.push(k),
                            None => p.add(
                                format!("{at}.of_scales[{j}]"),
                                format!("no scale '{id}' is defined"),
                            ),
                        }
                    }
                    // The range of a composite is filled in once its parts are known (below).
                    (ScaleParts::Scales(idx), sc.of_scales.len(), (0.0, 0.0))
                }
                (true, true) => {
                    p.add(at.clone(), "a scale needs either items or of_scales");
                    (ScaleParts::Items(vec![]), 0, (0.0, 0.0))
                }
                (false, false) => {
                    p.add(
                        at.clone(),
                        "a scale has either items or of_scales, not both",
                    );
                    (ScaleParts::Items(vec![]), 0, (0.0, 0.0))
                }
            };
            if n_parts > 0 && sc.missing.max_missing as usize >= n_parts {
                p.add(
                    format!("{at}.missing.max_missing"),
                    format!("must be less than the number of parts ({n_parts})"),
                );
            }
            if sc.missing.prorate && method == Method::Mean {
                p.add(
                    format!("{at}.missing.prorate"),
                    "a mean needs no prorating; use prorate with method = \"sum\"",
                );
            }
            if rounding == Rounding::HalfUp && !sc.missing.prorate {
                p.add(
                    format!("{at}.missing.rounding"),
                    "rounding applies to prorated sums only",
                );
            }
            let mut prev_max = f64::NEG_INFINITY;
            for (j, b) in sc.bands.iter().enumerate() {
                if b.max < b.min {
                    p.add(format!("{at}.bands[{j}]"), "max is below min");
                }
                if b.min <= prev_max {
                    p.add(
                        format!("{at}.bands[{j}].min"),
                        "bands must be in ascending order without overlap",
                    );
                }
                if b.label.trim().is_empty() {
                    p.add(format!("{at}.bands[{j}].label"), "must not be empty");
                }
                prev_max = b.max;
            }
            let change = sc.change.as_ref().map(|c| {
                let higher_is_better = match c.direction.as_str() {
                    "higher_is_better" => true,
                    "lower_is_better" => false,
                    other => {
                        p.add(
                            format!("{at}.change.direction"),
                            format!("'{other}' is not one of higher_is_better, lower_is_better"),
                        );
                        true
                    }
                };
                if let Some(r) = c.reliability {
                    if !(0.0..1.0).contains(&r) {
                        p.add(
                            format!("{at}.change.reliability"),
                            "must be between 0 and 1",
                        );
                    }
                }
                ChangeNorms {
                    higher_is_better,
                    reliable_change: c.reliable_change,
                    reliability: c.reliability,
                    sd_clinical: c.sd_clinical,
                    mean_clinical: c.mean_clinical,
                    sd_functional: c.sd_functional,
                    mean_functional: c.mean_functional,
                    caseness: c.caseness,
                    source: c.source.clone(),
                }
            });
            scales.push(Scale {
                id: sc.id.clone(),
                title: sc.title.clone(),
                parts,
                method,
                missing: MissingRule {
                    max_missing: sc.missing.max_missing,
                    prorate: sc.missing.prorate,
                    rounding,
                },
                decimals: sc.decimals.unwrap_or(0),
                bands: sc
                    .bands
                    .iter()
                    .map(|b| Band {
                        min: b.min,
                        max: b.max,
                        label: b.label.clone(),
                    })
                    .collect(),
                change,
                range,
            });
        }

        let eval_order = match evaluation_order(&scales) {
            Some(order) => order,
            None => {
                p.add("scales", "the of_scales references form a cycle");
                Vec::new()
            }
        };
        for &k in &eval_order {
            if let ScaleParts::Scales(parts) = &scales[k].parts {
                let (lo, hi) = parts.iter().fold((0.0, 0.0), |(lo, hi), &j| {
                    (lo + scales[j].range.0, hi + scales[j].range.1)
                });
                let n = parts.len().max(1) as f64;
                scales[k].range = if scales[k].method == Method::Mean {
                    (lo / n, hi / n)
                } else {
                    (lo, hi)
                };
            }
        }

        // Flags.
        let mut flags = Vec::new();
        for (i, f) in raw.flags.iter().enumerate() {
            let at = format!("flags[{i}]");
            let severity = match f.severity.as_str() {
                "info" => FlagSeverity::Info,
                "warning" => FlagSeverity::Warning,
                "urgent" => FlagSeverity::Urgent,
                other => {
                    p.add(
                        format!("{at}.severity"),
                        format!("'{other}' is not one of info, warning, urgent"),
                    );
                    FlagSeverity::Info
                }
            };
            let item = match item_index.get(&f.item) {
                Some(&k) => k,
                None => {
                    p.add(
                        format!("{at}.item"),
                        format!("no item '{}' is defined", f.item),
                    );
                    0
                }
            };
            if f.id.trim().is_empty() || f.id.contains(';') || f.id.contains(',') {
                p.add(
                    format!("{at}.id"),
                    "must be non-empty and contain no ';' or ','",
                );
            }
            flags.push(FlagRule {
                id: f.id.clone(),
                item,
                item_id: f.item.clone(),
                at_least: f.at_least,
                severity,
                message: f.message.clone(),
            });
        }

        if !p.list.is_empty() {
            return Err(p.list);
        }
        Ok(Self {
            short_title: raw.short_title.unwrap_or_else(|| raw.title.clone()),
            id: raw.id,
            version: raw.version,
            title: raw.title,
            citation: raw.citation,
            notes: raw.notes,
            licence: Licence {
                status: licence_status,
                holder: raw.licence.holder,
                note: raw.licence.note,
            },
            respondent,
            kind,
            instructions: raw.instructions,
            response_scales,
            items,
            scales,
            flags,
            scored_items,
            item_index,
            eval_order,
        })
    }

    /// Index of an item by id.
    pub fn item_position(&self, id: &str) -> Option<usize> {
        self.item_index.get(id).copied()
    }

    /// Index of a scale by id.
    pub fn scale_position(&self, id: &str) -> Option<usize> {
        self.scales.iter().position(|s| s.id == id)
    }

    /// Whether an item is part of any scale.
    pub fn is_scored_item(&self, index: usize) -> bool {
        self.scored_items.get(index).copied().unwrap_or(false)
    }

    /// The response scale of an item.
    pub fn response_scale_of(&self, item: usize) -> &ResponseScale {
        &self.response_scales[self.items[item].response_scale]
    }

    /// True when the file itself carries the wording of every item.
    pub fn has_own_wording(&self) -> bool {
        self.items.iter().all(|i| i.text.is_some())
    }
}
