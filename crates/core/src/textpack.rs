//! Text packs: the wording of a licence-gated instrument, installed by a clinic that holds the
//! owner's permission (the approach CamCOPS takes for restricted tasks).
//!
//! A pack is validated against its instrument: every item has a non-empty text, no unknown item
//! ids, answer labels only for points that exist.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::instrument::{parse_toml, LoadError};
use crate::Instrument;

/// The file shape of a text pack (TOML).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TextPack {
    /// The instrument id this pack words, e.g. `wai_sr`.
    pub instrument: String,
    /// The instrument version it was written for.
    pub instrument_version: String,
    #[serde(default = "default_language")]
    pub language: String,
    /// Where the wording comes from (publication, translation).
    pub source: String,
    /// The permission the clinic holds for electronic clinical use (who granted it, when, reference).
    pub permission: String,
    /// True for Bordin's placeholder pack used by the demo and tests: never licensed wording.
    #[serde(default)]
    pub placeholder: bool,
    #[serde(default)]
    pub instructions: Option<String>,
    /// Item id → wording. `{helper}` is replaced by the setting's word for the helper.
    pub items: BTreeMap<String, String>,
    /// Response scale id → point value (as text) → label, overriding the instrument's labels.
    #[serde(default)]
    pub answer_labels: BTreeMap<String, BTreeMap<String, String>>,
}

fn default_language() -> String {
    "en".to_owned()
}

impl TextPack {
    /// Parses a pack's TOML; `file` names it in errors. Validate with [`TextPack::validate`].
    pub fn from_toml(file: &str, text: &str) -> Result<Self, Vec<LoadError>> {
        parse_toml(file, text).map_err(|e| vec![e])
    }

    /// Checks the pack against its instrument: every item, nothing else, nothing empty.
    pub fn validate(&self, file: &str, instrument: &Instrument) -> Result<(), Vec<LoadError>> {
        let mut errors = Vec::new();
        let mut err = |path: String, msg: String| errors.push(LoadError::new(file, path, msg));
        if self.instrument != instrument.id {
            err(
                "instrument".into(),
                format!(
                    "names '{}', but is being installed for '{}'",
                    self.instrument, instrument.id
                ),
            );
        }
        if self.instrument_version != instrument.version {
            err(
                "instrument_version".into(),
                format!(
                    "pack is for version '{}', the installed {} is version '{}'",
                    self.instrument_version, instrument.id, instrument.version
                ),
            );
        }
        for (field, v) in [("source", &self.source), ("permission", &self.permission)] {
            if v.trim().is_empty() {
                err(field.into(), "must not be empty".into());
            }
        }
        for item in &instrument.items {
            match self.items.get(&item.id) {
                None => err(
                    format!("items.{}", item.id),
                    "is missing: a pack must word every item".into(),
                ),
                Some(t) if t.trim().is_empty() => {
                    err(format!("items.{}", item.id), "must not be empty".into())
                }
                Some(_) => {}
            }
        }
        for id in self.items.keys() {
            if instrument.item_position(id).is_none() {
                err(
                    format!("items.{id}"),
                    format!("'{id}' is not an item of {}", instrument.id),
                );
            }
        }
        for (rs_id, labels) in &self.answer_labels {
            let Some(rs) = instrument.response_scales.iter().find(|r| &r.id == rs_id) else {
                err(
                    format!("answer_labels.{rs_id}"),
                    format!("'{rs_id}' is not a response scale of {}", instrument.id),
                );
                continue;
            };
            for (value, label) in labels {
                let ok = value
                    .parse::<i64>()
                    .ok()
                    .is_some_and(|v| rs.points().iter().any(|p| p.value == v));
                if !ok {
                    err(
                        format!("answer_labels.{rs_id}.{value}"),
                        format!("'{value}' is not a point of response scale '{rs_id}'"),
                    );
                }
                if label.trim().is_empty() {
                    err(
                        format!("answer_labels.{rs_id}.{value}"),
                        "must not be empty".into(),
                    );
                }
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// The TOML text of the pack (how it is stored).
    pub fn to_toml(&self) -> String {
        // Serialising plain strings and maps cannot fail.
        toml::to_string(self).unwrap_or_default()
    }
}
