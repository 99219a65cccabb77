//! The on-disk shape of an instrument file (TOML), exactly as written by people.
//!
//! These types are only deserialised; [`super::Instrument::from_toml`] turns them into a
//! validated [`super::Instrument`]. Unknown keys are rejected so that a typo such as
//! `reverse_keyd = true` is an error rather than a silently ignored line.
//!
//! Why TOML: instrument files are written and reviewed by hand by clinicians and clinic admins.
//! TOML allows comments (citations, notes on a scoring rule next to the rule), has no significant
//! indentation, and maps one-to-one onto these structs. The JSON API and FHIR export carry the
//! same data as JSON when machines exchange it.

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct InstrumentFile {
    pub id: String,
    pub version: String,
    pub title: String,
    #[serde(default)]
    pub short_title: Option<String>,
    pub citation: String,
    #[serde(default)]
    pub notes: Option<String>,
    pub licence: LicenceFile,
    pub respondent: String,
    #[serde(default)]
    pub instructions: Option<String>,
    #[serde(default)]
    pub kind: Option<String>,
    pub response_scales: Vec<ResponseScaleFile>,
    pub items: Vec<ItemFile>,
    pub scales: Vec<ScaleFile>,
    #[serde(default)]
    pub flags: Vec<FlagFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LicenceFile {
    pub status: String,
    pub holder: String,
    pub note: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResponseScaleFile {
    pub id: String,
    /// `"choice"` (a fixed set of points) or `"visual_analogue"` (a continuous line).
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub points: Vec<PointFile>,
    /// Visual-analogue scales: the ends of the line and the smallest step recorded.
    #[serde(default)]
    pub min: Option<toml::Value>,
    #[serde(default)]
    pub max: Option<toml::Value>,
    #[serde(default)]
    pub step: Option<toml::Value>,
    #[serde(default)]
    pub min_label: Option<String>,
    #[serde(default)]
    pub max_label: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PointFile {
    pub value: i64,
    pub label: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ItemFile {
    pub id: String,
    #[serde(default)]
    pub text: Option<String>,
    /// Bordin's own neutral description of the item, safe to show when the wording is licensed.
    #[serde(default)]
    pub label: Option<String>,
    pub response_scale: String,
    #[serde(default)]
    pub subscale: Option<String>,
    #[serde(default)]
    pub reverse: bool,
    #[serde(default = "default_true")]
    pub required: bool,
}

fn default_true() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScaleFile {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub items: Vec<String>,
    /// A composite scale built from other scales (e.g. a total from subscales).
    #[serde(default)]
    pub of_scales: Vec<String>,
    pub method: String,
    pub missing: MissingFile,
    #[serde(default)]
    pub decimals: Option<u8>,
    #[serde(default)]
    pub bands: Vec<BandFile>,
    #[serde(default)]
    pub change: Option<ChangeFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MissingFile {
    pub max_missing: u32,
    #[serde(default)]
    pub prorate: bool,
    #[serde(default)]
    pub rounding: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BandFile {
    pub min: f64,
    pub max: f64,
    pub label: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChangeFile {
    pub direction: String,
    #[serde(default)]
    pub reliable_change: Option<f64>,
    #[serde(default)]
    pub reliability: Option<f64>,
    #[serde(default)]
    pub sd_clinical: Option<f64>,
    #[serde(default)]
    pub mean_clinical: Option<f64>,
    #[serde(default)]
    pub sd_functional: Option<f64>,
    #[serde(default)]
    pub mean_functional: Option<f64>,
    #[serde(default)]
    pub caseness: Option<f64>,
    pub source: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FlagFile {
    pub id: String,
    pub item: String,
    pub at_least: i64,
    pub severity: String,
    pub message: String,
}
