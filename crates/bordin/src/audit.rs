//! `bordin audit verify` and `bordin audit head`: recompute each clinic's hash chain and name
//! the first entry that does not fit; print the heads for anchoring elsewhere.

use std::io::Write;

use bordin_store::{ChainReport, Store, StoreError};

/// An anchored head as printed by `bordin audit head`: `SEQ:HASH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    pub seq: i64,
    pub hash: String,
}

/// A malformed `--expect-head` value.
#[derive(Debug, thiserror::Error)]
#[error(
    "--expect-head must be SEQ:HASH as printed by `bordin audit head` (e.g. 42:9f86…), got '{0}'"
)]
pub struct AnchorError(String);

impl Anchor {
    pub fn parse(s: &str) -> Result<Self, AnchorError> {
        let err = || AnchorError(s.chars().take(80).collect());
        let (seq, hash) = s.trim().split_once(':').ok_or_else(err)?;
        let seq: i64 = seq.parse().map_err(|_| err())?;
        let ok = seq >= 1 && hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit());
        if !ok {
            return Err(err());
        }
        Ok(Self {
            seq,
            hash: hash.to_ascii_lowercase(),
        })
    }
}

/// Verifies the chains of `clinic` (or of every clinic with a trail), writing one line per
/// chain to `out`. Returns the reports; any with a problem means the trail was tampered with.
pub async fn verify(
    store: &Store,
    clinic: Option<&str>,
    anchor: Option<&Anchor>,
    out: &mut impl Write,
) -> Result<Vec<ChainReport>, StoreError> {
    let clinics = match clinic {
        Some(c) => vec![c.to_owned()],
        None => store.audit_clinics().await?,
    };
    let mut reports = Vec::new();
    for c in clinics {
        let report = store
            .verify_audit_chain(&c, anchor.map(|a| (a.seq, a.hash.as_str())))
            .await?;
        let _ = match &report.problem {
            None => writeln!(
                out,
                "clinic {}: ok, {} entries, head {}:{}",
                report.clinic_id, report.entries, report.entries, report.head
            ),
            Some(p) => writeln!(out, "clinic {}: TAMPERED: {p}", report.clinic_id),
        };
        reports.push(report);
    }
    Ok(reports)
}

/// Writes each clinic's head as `CLINIC SEQ:HASH`.
pub async fn heads(store: &Store, out: &mut impl Write) -> Result<(), StoreError> {
    for h in store.audit_heads().await? {
        let _ = writeln!(out, "{} {}:{}", h.clinic_id, h.seq, h.hash);
    }
    Ok(())
}
