//! Loading instruments and text packs from files (the I/O the core does not do).
//!
//! A folder given at start-up (`--instruments DIR`) may hold instrument files and text packs side
//! by side; a file with a top-level `instrument = "…"` key is a text pack, any other a definition.

use std::path::{Path, PathBuf};

use bordin_core::instrument::LoadError;
use bordin_core::registry::RegistryError;
use bordin_core::{Registry, TextPack};

/// Problems found while loading, each naming its file, field and what is wrong.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.join("\n"))]
pub struct LoadProblems(pub Vec<String>);

fn lines(errors: &[LoadError]) -> Vec<String> {
    errors.iter().map(ToString::to_string).collect()
}

fn registry_lines(e: RegistryError) -> Vec<String> {
    match e {
        RegistryError::Invalid(errs) => lines(&errs),
        other => vec![other.to_string()],
    }
}

/// The `*.toml` files of a folder, sorted by name.
pub fn toml_files(dir: &Path) -> Result<Vec<PathBuf>, LoadProblems> {
    let rd = std::fs::read_dir(dir)
        .map_err(|e| LoadProblems(vec![format!("{}: cannot read folder: {e}", dir.display())]))?;
    let mut files: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    Ok(files)
}

/// Whether a TOML text is a text pack (it names the instrument it words).
pub fn is_text_pack(text: &str) -> bool {
    text.parse::<toml::Table>()
        .is_ok_and(|t| t.get("instrument").is_some_and(toml::Value::is_str))
}

/// The outcome of checking one file.
#[derive(Debug)]
pub struct FileCheck {
    pub file: String,
    /// What the file is, or every problem found in it.
    pub result: Result<String, Vec<String>>,
}

/// Checks every file of a folder: instrument definitions first, then text packs against the
/// shipped instruments and the folder's own.
pub fn check_dir(dir: &Path) -> Result<(Registry, Vec<FileCheck>), LoadProblems> {
    let mut reg = Registry::builtin().map_err(|e| LoadProblems(registry_lines(e)))?;
    let mut checks = Vec::new();
    let mut packs = Vec::new();
    for file in toml_files(dir)? {
        let name = file.display().to_string();
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) => {
                checks.push(FileCheck {
                    file: name.clone(),
                    result: Err(vec![format!("{name}: cannot read: {e}")]),
                });
                continue;
            }
        };
        if is_text_pack(&text) {
            packs.push((name, text));
            continue;
        }
        let result = reg
            .add_toml(&name, &text)
            .map(|i| {
                format!(
                    "instrument {} v{} ({} items, {} scales, licence {})",
                    i.id,
                    i.version,
                    i.items.len(),
                    i.scales.len(),
                    i.licence.status.as_str()
                )
            })
            .map_err(registry_lines);
        checks.push(FileCheck { file: name, result });
    }
    for (name, text) in packs {
        let result = TextPack::from_toml(&name, &text)
            .map_err(|e| lines(&e))
            .and_then(|pack| {
                let instrument = pack.instrument.clone();
                let placeholder = pack.placeholder;
                reg.install_pack(&name, pack)
                    .map_err(registry_lines)
                    .map(|()| {
                        format!(
                            "text pack for {instrument}{}",
                            if placeholder { " (placeholder)" } else { "" }
                        )
                    })
            });
        checks.push(FileCheck { file: name, result });
    }
    Ok((reg, checks))
}

/// Shipped instruments plus every instrument and text pack in `dir`. All problems are reported,
/// and any problem stops the load: a server does not start with half its instruments.
pub fn load_registry(dir: Option<&Path>) -> Result<Registry, LoadProblems> {
    let Some(dir) = dir else {
        return Registry::builtin().map_err(|e| LoadProblems(registry_lines(e)));
    };
    let (reg, checks) = check_dir(dir)?;
    let problems: Vec<String> = checks
        .into_iter()
        .filter_map(|c| c.result.err())
        .flatten()
        .collect();
    if problems.is_empty() {
        Ok(reg)
    } else {
        Err(LoadProblems(problems))
    }
}

/// Reads and validates a text pack against the registry's instrument.
pub fn read_text_pack(registry: &Registry, file: &Path) -> Result<TextPack, LoadProblems> {
    let name = file.display().to_string();
    let text = std::fs::read_to_string(file)
        .map_err(|e| LoadProblems(vec![format!("{name}: cannot read: {e}")]))?;
    let pack = TextPack::from_toml(&name, &text).map_err(|e| LoadProblems(lines(&e)))?;
    let instrument = registry.get(&pack.instrument).ok_or_else(|| {
        LoadProblems(vec![format!(
            "{name}: instrument: no instrument '{}' is known",
            pack.instrument
        )])
    })?;
    pack.validate(&name, instrument)
        .map_err(|e| LoadProblems(lines(&e)))?;
    Ok(pack)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_with_an_instrument_and_a_pack_loads_and_a_broken_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let pack = bordin_core::registry::PLACEHOLDER_PACKS[0].1;
        std::fs::write(dir.path().join("wai_sr.pack.toml"), pack).unwrap();
        let reg = load_registry(Some(dir.path())).unwrap();
        assert!(reg
            .form("wai_sr", &bordin_core::Setting::Therapy.words())
            .is_ok());

        std::fs::write(dir.path().join("broken.toml"), "id = \"x\"\nversion = 1\n").unwrap();
        let err = load_registry(Some(dir.path())).unwrap_err().to_string();
        assert!(err.contains("broken.toml"), "{err}");
        assert!(err.contains("version"), "{err}");
    }

    #[test]
    fn a_pack_for_an_unknown_instrument_is_refused_with_its_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("p.toml"), "instrument = \"nope\"\ninstrument_version = \"1\"\nsource = \"s\"\npermission = \"p\"\n[items]\nq1 = \"x\"\n").unwrap();
        let (_, checks) = check_dir(dir.path()).unwrap();
        let problems = checks[0].result.as_ref().unwrap_err();
        assert!(
            problems[0].contains("p.toml") && problems[0].contains("nope"),
            "{problems:?}"
        );
    }
}
