//! `TextPack::from_toml` on arbitrary UTF-8, then `validate` against the shipped WAI-SR: errors,
//! never panics; a pack that validates must word every item and install into a registry.
#![no_main]

use std::sync::OnceLock;

use bordin_core::{Registry, TextPack};
use libfuzzer_sys::fuzz_target;

fn registry() -> &'static Registry {
    static REG: OnceLock<Registry> = OnceLock::new();
    REG.get_or_init(|| Registry::builtin().expect("shipped instruments load"))
}

fuzz_target!(|text: &str| {
    let Ok(pack) = TextPack::from_toml("pack.toml", text) else { return };
    let wai = registry().get("wai_sr").expect("wai_sr is shipped");
    if pack.validate("pack.toml", wai).is_ok() {
        assert!(wai.items.iter().all(|i| pack.items.get(&i.id).is_some_and(|t| !t.trim().is_empty())));
        let mut reg = registry().clone();
        reg.install_pack("pack.toml", pack).expect("a validated pack installs");
        let form = reg.form("wai_sr", &bordin_core::Setting::Therapy.words()).expect("administrable once worded");
        assert_eq!(form.items.len(), wai.items.len());
    }
});
