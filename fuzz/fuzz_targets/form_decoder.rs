//! The client form body decoder (`bordin_core::formbody::decode`, run by the server on every
//! form before a handler) on arbitrary bytes, then the link form's answer parsing on what it
//! decoded. Never a panic; every limit holds on success; decoding is stable under re-encoding;
//! answer errors name items that were given.
//!
//! Input: raw bytes, as a phone's browser would POST them (`q1=8&q2=9…`).
#![no_main]

use std::sync::OnceLock;

use bordin_core::formbody::{decode, FORM_LIMITS};
use bordin_core::{Answers, Registry};
use libfuzzer_sys::fuzz_target;

fn registry() -> &'static Registry {
    static REG: OnceLock<Registry> = OnceLock::new();
    REG.get_or_init(|| Registry::builtin().expect("shipped instruments load"))
}

fuzz_target!(|body: &[u8]| {
    let Ok(pairs) = decode(body, &FORM_LIMITS) else {
        return;
    };
    assert!(pairs.len() <= FORM_LIMITS.max_fields);
    for (name, value) in &pairs {
        assert!(name.len() <= FORM_LIMITS.max_name_bytes);
        assert!(value.chars().count() <= FORM_LIMITS.limit(name), "field {name} over its limit");
    }
    // Re-encoding what was decoded and decoding again gives the same pairs.
    let again: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs.iter())
        .finish();
    assert_eq!(decode(again.as_bytes(), &FORM_LIMITS).as_ref(), Ok(&pairs));
    for id in ["session_check", "phq9"] {
        let instrument = registry().get(id).expect("shipped instrument");
        if let Err(errors) = Answers::parse(instrument, pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
            assert!(!errors.is_empty());
            for e in &errors {
                assert!(pairs.iter().any(|(k, _)| *k == e.item), "error names an item that was given");
            }
        }
    }
});
