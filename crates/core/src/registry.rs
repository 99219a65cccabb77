//! The instruments a clinic can use: the ones shipped in the binary, the clinic's own files, and
//! the text packs that word licence-gated instruments.
//!
//! The registry decides whether a form may be put in front of a respondent
//! ([`Registry::form`]): an instrument without wording can still score imported answers, but is
//! never shown; the refusal says why and how to fix it.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use crate::instrument::{LicenceStatus, LoadError, ResponseScale};
use crate::{Instrument, SettingWords, TextPack};

/// Instruments shipped in the binary: (file name, TOML text).
pub const BUILTIN: [(&str, &str); 5] = [
    (
        "session_check.toml",
        include_str!("../instruments/session_check.toml"),
    ),
    ("wai_sr.toml", include_str!("../instruments/wai_sr.toml")),
    ("wai_srt.toml", include_str!("../instruments/wai_srt.toml")),
    ("phq9.toml", include_str!("../instruments/phq9.toml")),
    ("gad7.toml", include_str!("../instruments/gad7.toml")),
];

/// Placeholder text packs for the WAI forms, used by the demo and the tests. Their texts say
/// plainly that they are placeholders; they are never the licensed wording.
pub const PLACEHOLDER_PACKS: [(&str, &str); 2] = [
    (
        "wai_sr.placeholder.toml",
        include_str!("../instruments/packs/wai_sr.placeholder.toml"),
    ),
    (
        "wai_srt.placeholder.toml",
        include_str!("../instruments/packs/wai_srt.placeholder.toml"),
    ),
];

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RegistryError {
    #[error("{0}")]
    Load(LoadError),
    #[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<LoadError>),
    #[error("instrument '{0}' is already defined ({1})")]
    Duplicate(String, String),
    #[error("no instrument '{0}' is known")]
    Unknown(String),
}

/// Why a form cannot be shown, and what fixes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{reason} {fix}")]
pub struct NotAdministrable {
    pub instrument: String,
    pub reason: String,
    pub fix: String,
}

/// Where the wording of a form comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum WordingSource {
    InstrumentFile,
    TextPack { source: String, placeholder: bool },
}

/// One question of a form, ready to render.
#[derive(Debug, Clone, Serialize)]
pub struct FormItem {
    pub id: String,
    pub text: String,
    pub required: bool,
    pub response_scale: ResponseScale,
}

/// An instrument with its wording resolved, ready to put in front of a respondent.
#[derive(Debug, Clone, Serialize)]
pub struct Form {
    #[serde(skip)]
    pub instrument: Arc<Instrument>,
    pub instrument_id: String,
    pub title: String,
    pub instructions: Option<String>,
    pub items: Vec<FormItem>,
    pub wording: WordingSource,
}

/// A row of `bordin instruments list`.
#[derive(Debug, Clone, Serialize)]
pub struct InstrumentStatus {
    pub id: String,
    pub version: String,
    pub title: String,
    pub respondent: String,
    pub licence: &'static str,
    pub items: usize,
    /// `file`, `text pack`, `placeholder text pack` or `none`.
    pub wording: String,
    pub can_administer: bool,
    pub origin: String,
}

#[derive(Debug, Clone)]
struct Entry {
    instrument: Arc<Instrument>,
    origin: String,
}

/// Known instruments and installed text packs.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    entries: BTreeMap<String, Entry>,
    packs: BTreeMap<String, TextPack>,
}

impl Registry {
    /// The instruments shipped with Bordin (PHQ-9, GAD-7, Session Check, and WAI-SR / WAI-SRT
    /// structure without wording). Fails only if a shipped file is broken, which the test suite
    /// rules out.
    pub fn builtin() -> Result<Self, RegistryError> {
        let mut reg = Self::default();
        for (name, text) in BUILTIN {
            let i = Instrument::from_toml(&format!("builtin:{name}"), text)
                .map_err(RegistryError::Invalid)?;
            reg.add(i, "built in")?;
        }
        Ok(reg)
    }

    /// Adds an instrument parsed from a clinic's file.
    pub fn add_toml(&mut self, file: &str, text: &str) -> Result<Arc<Instrument>, RegistryError> {
        let i = Instrument::from_toml(file, text).map_err(RegistryError::Invalid)?;
        self.add(i, file)
    }

    /// Adds a validated instrument; ids are unique.
    pub fn add(
        &mut self,
        instrument: Instrument,
        origin: &str,
    ) -> Result<Arc<Instrument>, RegistryError> {
        if let Some(e) = self.entries.get(&instrument.id) {
            return Err(RegistryError::Duplicate(
                instrument.id.clone(),
                e.origin.clone(),
            ));
        }
        let arc = Arc::new(instrument);
        self.entries.insert(
            arc.id.clone(),
            Entry {
                instrument: arc.clone(),
                origin: origin.to_owned(),
            },
        );
        Ok(arc)
    }

    /// Validates a text pack against its instrument and installs it (replacing an earlier one).
    pub fn install_pack(&mut self, file: &str, pack: TextPack) -> Result<(), RegistryError> {
        let instrument = self.get(&pack.instrument).ok_or_else(|| {
            RegistryError::Invalid(vec![LoadError::new(
                file,
                "instrument",
                format!("no instrument '{}' is known", pack.instrument),
            )])
        })?;
        pack.validate(file, instrument)
            .map_err(RegistryError::Invalid)?;
        self.packs.insert(pack.instrument.clone(), pack);
        Ok(())
    }

    /// Installs Bordin's placeholder packs for the WAI forms (demo and tests only).
    pub fn install_placeholder_packs(&mut self) -> Result<(), RegistryError> {
        for (name, text) in PLACEHOLDER_PACKS {
            let pack = TextPack::from_toml(name, text).map_err(RegistryError::Invalid)?;
            self.install_pack(name, pack)?;
        }
        Ok(())
    }

    pub fn get(&self, id: &str) -> Option<&Arc<Instrument>> {
        self.entries.get(id).map(|e| &e.instrument)
    }

    pub fn pack(&self, id: &str) -> Option<&TextPack> {
        self.packs.get(id)
    }

    pub fn instruments(&self) -> impl Iterator<Item = &Arc<Instrument>> {
        self.entries.values().map(|e| &e.instrument)
    }

    /// Each instrument with its licence and whether it can be put in front of a respondent.
    pub fn status(&self) -> Vec<InstrumentStatus> {
        self.entries
            .values()
            .map(|e| {
                let i = &e.instrument;
                let wording = if i.has_own_wording() {
                    "file".to_owned()
                } else {
                    match self.packs.get(&i.id) {
                        Some(p) if p.placeholder => "placeholder text pack".to_owned(),
                        Some(_) => "text pack".to_owned(),
                        None => "none".to_owned(),
                    }
                };
                InstrumentStatus {
                    id: i.id.clone(),
                    version: i.version.clone(),
                    title: i.title.clone(),
                    respondent: i.respondent.as_str().to_owned(),
                    licence: i.licence.status.as_str(),
                    items: i.items.len(),
                    can_administer: wording != "none",
                    wording,
                    origin: e.origin.clone(),
                }
            })
            .collect()
    }

    /// The form for an instrument with its wording, or why it cannot be shown.
    pub fn form(&self, id: &str, words: &SettingWords) -> Result<Form, NotAdministrable> {
        let instrument = self.get(id).ok_or_else(|| NotAdministrable {
            instrument: id.to_owned(),
            reason: format!("No instrument '{id}' is known."),
            fix: "Check the id with `bordin instruments list`.".to_owned(),
        })?;
        let pack = self.packs.get(id);
        let wording = if instrument.has_own_wording() {
            WordingSource::InstrumentFile
        } else if let Some(p) = pack {
            WordingSource::TextPack {
                source: p.source.clone(),
                placeholder: p.placeholder,
            }
        } else {
            let why = match instrument.licence.status {
                LicenceStatus::Restricted => format!(
                    "{} is licence-gated: {} Bordin ships its structure and scoring, not its wording, so it can score imported answers but will not show the form.",
                    instrument.short_title, instrument.licence.note
                ),
                _ => format!("{} has no wording for some items.", instrument.short_title),
            };
            return Err(NotAdministrable {
                instrument: id.to_owned(),
                reason: why,
                fix: format!(
                    "A clinic that holds the permission installs the wording as a text pack: `bordin instruments add-text FILE` (see docs/text-packs.md; the pack must word every item of {id})."
                ),
            });
        };
        let items = instrument
            .items
            .iter()
            .map(|item| {
                let text = item
                    .text
                    .as_deref()
                    .or_else(|| pack.and_then(|p| p.items.get(&item.id)).map(String::as_str))
                    .unwrap_or("");
                let mut rs = instrument.response_scales[item.response_scale].clone();
                if let (Some(p), crate::instrument::ResponseScaleKind::Choice { points }) =
                    (pack, &mut rs.kind)
                {
                    if let Some(labels) = p.answer_labels.get(&rs.id) {
                        for pt in points.iter_mut() {
                            if let Some(l) = labels.get(&pt.value.to_string()) {
                                pt.label = l.clone();
                            }
                        }
                    }
                }
                FormItem {
                    id: item.id.clone(),
                    text: words.fill(text),
                    required: item.required,
                    response_scale: rs,
                }
            })
            .collect();
        let instructions = instrument
            .instructions
            .as_deref()
            .or_else(|| pack.and_then(|p| p.instructions.as_deref()))
            .map(|t| words.fill(t));
        Ok(Form {
            instrument: instrument.clone(),
            instrument_id: instrument.id.clone(),
            title: instrument.title.clone(),
            instructions,
            items,
            wording,
        })
    }
}
