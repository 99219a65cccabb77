//! Loading instruments and text packs from files (the I/O the core does not do).

use std::path::{Path, PathBuf};

use bordin_core::instrument::LoadError;
use bordin_core::registry::RegistryError;
use bordin_core::{Registry, TextPack};

/// Problems found while loading a folder, each naming its file, field and what is wrong.
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
    let rd = std::fs::read_dir(dir).map_err(|e| LoadProblems(vec![format!("{}: cannot read folder: {e}", dir.display())]))?;
    let mut files: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|x| x == "toml")).collect();
    files.sort();
    Ok(files)
}

/// Shipped instruments plus every `*.toml` instrument in `dir`. All problems are reported.
pub fn load_registry(dir: Option<&Path>) -> Result<Registry, LoadProblems> {
    let mut reg = Registry::builtin().map_err(|e| LoadProblems(registry_lines(e)))?;
    let Some(dir) = dir else { return Ok(reg) };
    let mut problems = Vec::new();
    for file in toml_files(dir)? {
        let name = file.display().to_string();
        match std::fs::read_to_string(&file) {
            Ok(text) => {
                if let Err(e) = reg.add_toml(&name, &text) {
                    problems.extend(registry_lines(e));
                }
            }
            Err(e) => problems.push(format!("{name}: cannot read: {e}")),
        }
    }
    if problems.is_empty() {
        Ok(reg)
    } else {
        Err(LoadProblems(problems))
    }
}

/// Reads and validates a text pack against the registry's instrument.
pub fn read_text_pack(registry: &Registry, file: &Path) -> Result<TextPack, LoadProblems> {
    let name = file.display().to_string();
    let text = std::fs::read_to_string(file).map_err(|e| LoadProblems(vec![format!("{name}: cannot read: {e}")]))?;
    let pack = TextPack::from_toml(&name, &text).map_err(|e| LoadProblems(lines(&e)))?;
    let instrument = registry
        .get(&pack.instrument)
        .ok_or_else(|| LoadProblems(vec![format!("{name}: instrument: no instrument '{}' is known", pack.instrument)]))?;
    pack.validate(&name, instrument).map_err(|e| LoadProblems(lines(&e)))?;
    Ok(pack)
}
