//! Encryption at rest for clinical free text ("sealing").
//!
//! Each value is encrypted with XChaCha20-Poly1305 (an AEAD; crate `chacha20poly1305`) under a
//! fresh random 192-bit nonce, and stored as text: `sealed:v1:KEY_ID:BASE64(nonce ‖ ciphertext)`
//! (shared/reference/security.md, "Encryption at rest for free text"). The associated data binds
//! the value to its place — clinic, table and column — and to the key id, so a sealed value copied
//! into another row's column, another clinic or another key id fails to open instead of showing.
//!
//! Keys come from a file or the environment, never from the database. A key file holds one key
//! per line, `bordin-key-v1 KEY_ID BASE64(32 bytes)`; the first line seals, every line opens, so
//! values sealed under an older key still open after a new key is put first. Key bytes live in
//! `Zeroizing` buffers, wiped when dropped, and are never printed (`Debug` shows ids only).
//!
//! A store without a keyring writes free text as plain text (a clinic that has not set up keys
//! yet) and refuses to show sealed values ([`SealError::NoKey`]); `bordin keys rotate` seals
//! plain values and re-seals old ones under the new key.

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use zeroize::Zeroizing;

/// The prefix of every sealed value; anything else in a sealed column is legacy plain text.
pub const SEALED_PREFIX: &str = "sealed:v1:";

const KEY_LINE_TAG: &str = "bordin-key-v1";
const NONCE_LEN: usize = 24;

/// Where a value lives: what its associated data binds it to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place<'a> {
    pub clinic_id: &'a str,
    pub table: &'a str,
    pub column: &'a str,
}

/// Why a value could not be sealed or opened, or a key could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    #[error("the database holds encrypted text but no key is configured: set BORDIN_KEY_FILE (or BORDIN_KEY) to the clinic's key file")]
    NoKey,
    #[error("encrypted text in {table}.{column} is under key '{key_id}', which is not in the configured key file")]
    UnknownKey {
        key_id: String,
        table: String,
        column: String,
    },
    #[error("encrypted text in {table}.{column} does not open with key '{key_id}': wrong key, or the value was altered or moved")]
    Undecryptable {
        key_id: String,
        table: String,
        column: String,
    },
    #[error("encrypted text in {table}.{column} is malformed")]
    Malformed { table: String, column: String },
    #[error("key file line {line}: {problem}")]
    KeyFile { line: usize, problem: String },
    #[error("encryption failed")]
    Encrypt,
}

/// One key: an id and 32 secret bytes.
pub struct Key {
    id: String,
    bytes: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("id", &self.id)
            .field("bytes", &"…")
            .finish()
    }
}

impl Key {
    /// A new random key with a random id.
    pub fn generate() -> Self {
        let k = XChaCha20Poly1305::generate_key(&mut OsRng);
        let mut bytes = Zeroizing::new([0u8; 32]);
        bytes.copy_from_slice(&k);
        let id_bytes = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let id = format!(
            "k{}",
            id_bytes[..6]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
        Self { id, bytes }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// The key as one key-file line (secret: write it only to a file readable by its owner).
    pub fn to_line(&self) -> Zeroizing<String> {
        Zeroizing::new(format!(
            "{KEY_LINE_TAG} {} {}\n",
            self.id,
            base64::engine::general_purpose::STANDARD.encode(*self.bytes)
        ))
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new((&*self.bytes).into())
    }
}

/// The keys a server knows: the first seals, all open.
#[derive(Debug)]
pub struct Keyring {
    keys: Vec<Key>,
}

impl Keyring {
    pub fn new(active: Key) -> Self {
        Self { keys: vec![active] }
    }

    /// Reads keys from key-file text (one `bordin-key-v1 ID BASE64` per line; blank lines and
    /// `#` comments are skipped). Problems name the line, never the key.
    pub fn parse(text: &str) -> Result<Self, SealError> {
        let mut keys: Vec<Key> = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line_no = i + 1;
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |problem: &str| SealError::KeyFile {
                line: line_no,
                problem: problem.to_owned(),
            };
            let mut parts = line.split_whitespace();
            if parts.next() != Some(KEY_LINE_TAG) {
                return Err(bad(
                    "expected 'bordin-key-v1 KEY_ID KEY' (make one with `bordin keys generate`)",
                ));
            }
            let id = parts.next().ok_or_else(|| bad("the key id is missing"))?;
            let valid_id = !id.is_empty()
                && id.len() <= 32
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !valid_id {
                return Err(bad("a key id is 1–32 letters, digits, '-' or '_'"));
            }
            let b64 = parts.next().ok_or_else(|| bad("the key is missing"))?;
            if parts.next().is_some() {
                return Err(bad("unexpected text after the key"));
            }
            let raw = Zeroizing::new(
                base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .map_err(|_| bad("the key is not base64"))?,
            );
            if raw.len() != 32 {
                return Err(bad("a key is 32 bytes (44 base64 characters)"));
            }
            if keys.iter().any(|k| k.id == id) {
                return Err(bad("this key id appears twice"));
            }
            let mut bytes = Zeroizing::new([0u8; 32]);
            bytes.copy_from_slice(&raw);
            keys.push(Key {
                id: id.to_owned(),
                bytes,
            });
        }
        if keys.is_empty() {
            return Err(SealError::KeyFile {
                line: 0,
                problem: "no key in the file".into(),
            });
        }
        Ok(Self { keys })
    }

    /// The id of the key that seals.
    pub fn active_id(&self) -> &str {
        &self.keys[0].id
    }

    /// Puts `key` first (it seals from now on); the others still open.
    pub fn with_active(mut self, key: Key) -> Self {
        self.keys.retain(|k| k.id != key.id);
        self.keys.insert(0, key);
        self
    }

    /// `self`'s keys (which still open) under `newer`'s keys, `newer`'s first key sealing.
    pub fn merged_under(self, newer: Keyring) -> Keyring {
        let mut keys = newer.keys;
        for k in self.keys {
            if !keys.iter().any(|n| n.id == k.id) {
                keys.push(k);
            }
        }
        Keyring { keys }
    }

    fn key(&self, id: &str) -> Option<&Key> {
        self.keys.iter().find(|k| k.id == id)
    }

    /// Seals `plaintext` for `place` under the active key.
    pub fn seal(&self, place: &Place<'_>, plaintext: &str) -> Result<String, SealError> {
        let key = &self.keys[0];
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let aad = associated_data(place, &key.id);
        let ct = key
            .cipher()
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: &aad,
                },
            )
            .map_err(|_| SealError::Encrypt)?;
        let mut blob = Vec::with_capacity(NONCE_LEN + ct.len());
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&ct);
        Ok(format!(
            "{SEALED_PREFIX}{}:{}",
            key.id,
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(blob)
        ))
    }

    /// Opens a stored value; plain (legacy) text comes back as it is.
    pub fn open(&self, place: &Place<'_>, stored: &str) -> Result<String, SealError> {
        open_with(Some(self), place, stored)
    }
}

/// The key id a stored value is sealed under, or `None` for plain text.
pub fn sealed_key_id(stored: &str) -> Option<&str> {
    stored
        .strip_prefix(SEALED_PREFIX)
        .and_then(|rest| rest.split_once(':'))
        .map(|(id, _)| id)
}

/// Opens a stored value with an optional keyring: plain text passes through; a sealed value
/// without a keyring is [`SealError::NoKey`].
pub fn open_with(
    keyring: Option<&Keyring>,
    place: &Place<'_>,
    stored: &str,
) -> Result<String, SealError> {
    let Some(rest) = stored.strip_prefix(SEALED_PREFIX) else {
        return Ok(stored.to_owned());
    };
    let keyring = keyring.ok_or(SealError::NoKey)?;
    let malformed = || SealError::Malformed {
        table: place.table.to_owned(),
        column: place.column.to_owned(),
    };
    let (key_id, b64) = rest.split_once(':').ok_or_else(malformed)?;
    let key = keyring.key(key_id).ok_or_else(|| SealError::UnknownKey {
        key_id: key_id.to_owned(),
        table: place.table.to_owned(),
        column: place.column.to_owned(),
    })?;
    let blob = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(b64)
        .map_err(|_| malformed())?;
    if blob.len() < NONCE_LEN + 16 {
        return Err(malformed());
    }
    let (nonce, ct) = blob.split_at(NONCE_LEN);
    let aad = associated_data(place, key_id);
    let undecryptable = || SealError::Undecryptable {
        key_id: key_id.to_owned(),
        table: place.table.to_owned(),
        column: place.column.to_owned(),
    };
    let plain = key
        .cipher()
        .decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad: &aad })
        .map_err(|_| undecryptable())?;
    String::from_utf8(plain).map_err(|_| undecryptable())
}

/// `bordin-seal-v1` then clinic, table, column and key id, each length-prefixed (4 bytes,
/// big-endian), so no two places share associated data.
fn associated_data(place: &Place<'_>, key_id: &str) -> Vec<u8> {
    let mut out = b"bordin-seal-v1".to_vec();
    for part in [place.clinic_id, place.table, place.column, key_id] {
        out.extend_from_slice(&u32::try_from(part.len()).unwrap_or(u32::MAX).to_be_bytes());
        out.extend_from_slice(part.as_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const HERE: Place<'static> = Place {
        clinic_id: "c1",
        table: "goals",
        column: "words",
    };

    #[test]
    fn a_sealed_value_opens_only_in_its_place_and_hides_its_text() {
        let ring = Keyring::new(Key::generate());
        let sealed = ring.seal(&HERE, "sleep through the night").unwrap();
        assert!(sealed.starts_with(SEALED_PREFIX));
        assert!(!sealed.contains("sleep"));
        assert_eq!(
            ring.open(&HERE, &sealed).unwrap(),
            "sleep through the night"
        );
        // Two seals of the same text differ (fresh nonce).
        assert_ne!(
            ring.seal(&HERE, "x").unwrap(),
            ring.seal(&HERE, "x").unwrap()
        );
        for other in [
            Place {
                clinic_id: "c2",
                ..HERE
            },
            Place {
                table: "tasks",
                ..HERE
            },
            Place {
                column: "why",
                ..HERE
            },
        ] {
            assert!(matches!(
                ring.open(&other, &sealed),
                Err(SealError::Undecryptable { .. })
            ));
        }
    }

    #[test]
    fn a_wrong_key_or_no_key_is_a_clear_error_not_a_panic() {
        let a = Keyring::new(Key::generate());
        let sealed = a.seal(&HERE, "private").unwrap();
        let b = Keyring::new(Key::generate());
        let err = b.open(&HERE, &sealed).unwrap_err();
        assert!(matches!(err, SealError::UnknownKey { .. }));
        assert!(err.to_string().contains("not in the configured key file"));
        assert_eq!(
            open_with(None, &HERE, &sealed).unwrap_err(),
            SealError::NoKey
        );
        // Same id, different bytes: the key is wrong.
        let line = a.keys[0].to_line();
        let forged = line.replacen(&line[line.len() - 6..line.len() - 2], "AAAA", 1);
        let c = Keyring::parse(&forged).unwrap();
        assert!(matches!(
            c.open(&HERE, &sealed),
            Err(SealError::Undecryptable { .. })
        ));
        for bad in ["sealed:v1:", "sealed:v1:x", "sealed:v1:kx:@@"] {
            assert!(a.open(&HERE, bad).is_err());
        }
    }

    #[test]
    fn old_keys_still_open_after_a_new_one_is_put_first() {
        let old = Key::generate();
        let old_line = old.to_line();
        let ring = Keyring::new(old);
        let sealed = ring.seal(&HERE, "kept").unwrap();
        let ring = Keyring::parse(&old_line)
            .unwrap()
            .with_active(Key::generate());
        assert_eq!(ring.open(&HERE, &sealed).unwrap(), "kept");
        assert_ne!(
            sealed_key_id(&ring.seal(&HERE, "new").unwrap()),
            sealed_key_id(&sealed)
        );
    }

    #[test]
    fn key_files_are_checked_line_by_line() {
        let err = Keyring::parse("# keys\n\nnot a key\n").unwrap_err();
        assert_eq!(
            err,
            SealError::KeyFile {
                line: 3,
                problem:
                    "expected 'bordin-key-v1 KEY_ID KEY' (make one with `bordin keys generate`)"
                        .into()
            }
        );
        assert!(Keyring::parse("bordin-key-v1 k1 AAAA").is_err());
        assert!(Keyring::parse("").is_err());
        let k = Key::generate();
        assert!(!format!("{k:?}").contains(&k.to_line()[20..]));
    }

    #[test]
    fn every_single_byte_change_is_an_error_never_a_panic() {
        // Exhaustive one-byte mutations of a sealed value and of a key line (the two parsers
        // here): each must open to an error (the AEAD tag catches the rest), never panic.
        let ring = Keyring::new(Key::generate());
        let sealed = ring.seal(&HERE, "a note").unwrap();
        for i in 0..sealed.len() {
            for b in [b'A', b':', b'\xff', b'0'] {
                let mut v = sealed.as_bytes().to_vec();
                if v[i] == b {
                    continue;
                }
                v[i] = b;
                let v = String::from_utf8_lossy(&v);
                if v != sealed {
                    let _ = ring.open(&HERE, &v);
                }
            }
        }
        let line = Key::generate().to_line();
        for i in 0..line.len() {
            let mut v = line.as_bytes().to_vec();
            v[i] = b' ';
            let _ = Keyring::parse(&String::from_utf8_lossy(&v));
            let _ = Keyring::parse(&line[..i]);
        }
    }

    #[test]
    fn plain_text_passes_through() {
        assert_eq!(
            open_with(None, &HERE, "plain words").unwrap(),
            "plain words"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Inside the store: sealing and opening columns

/// Seals a column value for writing; without a keyring it is written as plain text.
pub(crate) fn seal_col(
    k: Option<&Keyring>,
    clinic_id: &str,
    table: &str,
    column: &str,
    text: &str,
) -> crate::Result<String> {
    match k {
        Some(k) => Ok(k.seal(
            &Place {
                clinic_id,
                table,
                column,
            },
            text,
        )?),
        None => Ok(text.to_owned()),
    }
}

pub(crate) fn seal_opt(
    k: Option<&Keyring>,
    clinic_id: &str,
    table: &str,
    column: &str,
    text: Option<&str>,
) -> crate::Result<Option<String>> {
    text.map(|t| seal_col(k, clinic_id, table, column, t))
        .transpose()
}

/// Opens a column value read from the database.
pub(crate) fn open_col(
    k: Option<&Keyring>,
    clinic_id: &str,
    table: &str,
    column: &str,
    stored: String,
) -> crate::Result<String> {
    if !stored.starts_with(SEALED_PREFIX) {
        return Ok(stored);
    }
    Ok(open_with(
        k,
        &Place {
            clinic_id,
            table,
            column,
        },
        &stored,
    )?)
}

pub(crate) fn open_opt(
    k: Option<&Keyring>,
    clinic_id: &str,
    table: &str,
    column: &str,
    stored: Option<String>,
) -> crate::Result<Option<String>> {
    stored
        .map(|s| open_col(k, clinic_id, table, column, s))
        .transpose()
}

/// Every column of clinical free text, by table, with the columns that identify a row
/// (after `clinic_id`). `bordin keys rotate` walks this list; a new free-text column is added
/// here and sealed/opened in its store functions.
pub const SEALED_COLUMNS: &[(&str, &[&str], &[&str])] = &[
    (
        "goals",
        &["goal_id"],
        &["words", "why", "how_we_know", "gas_levels"],
    ),
    ("tasks", &["task_id"], &["title", "rationale"]),
    ("task_reports", &["report_id"], &["note"]),
    (
        "formulations",
        &["case_id", "version"],
        &[
            "presenting_concerns",
            "preferences",
            "strengths",
            "identities_context",
            "reason",
        ],
    ),
    ("consent_records", &["consent_id"], &["note"]),
    ("agreements_log", &["entry_id"], &["reason", "snapshot"]),
    ("responses", &["response_id"], &["correction_reason"]),
    ("alerts", &["alert_id"], &["action_taken"]),
    ("alert_events", &["alert_id", "at", "action"], &["note"]),
    (
        "transcript_texts",
        &["transcript_id"],
        &["body", "speakers", "analysis"],
    ),
    ("user_totp", &["user_id"], &["secret_base32"]),
];

/// What `bordin keys rotate` did: values re-sealed under the new key, per table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RotationReport {
    pub key_id: String,
    /// (table, values re-sealed) in [`SEALED_COLUMNS`] order.
    pub tables: Vec<(String, u64)>,
}

impl RotationReport {
    pub fn total(&self) -> u64 {
        self.tables.iter().map(|(_, n)| n).sum()
    }
}

/// A row's identifying value, read back for its UPDATE.
enum KeyValue {
    Text(String),
    Int(i64),
}

impl crate::Store {
    /// How many stored values are sealed (any key). `serve` refuses to start without a key when
    /// this is not zero.
    pub async fn sealed_value_count(&self) -> crate::Result<u64> {
        use sqlx::Row as _;
        let mut total = 0u64;
        for (table, _, columns) in SEALED_COLUMNS {
            let cond = columns
                .iter()
                .map(|c| format!("substr({c}, 1, 10) = 'sealed:v1:'"))
                .collect::<Vec<_>>()
                .join(" OR ");
            let n: i64 = sqlx::query(&format!("SELECT COUNT(*) AS n FROM {table} WHERE {cond}"))
                .fetch_one(&self.pool)
                .await?
                .try_get("n")?;
            total += u64::try_from(n).unwrap_or(0);
        }
        Ok(total)
    }

    /// Re-seals every free-text value not yet under the keyring's active key (sealed under an
    /// older key, or still plain text), in transactions of `batch` rows. Each batch commits on
    /// its own, and rows already under the active key are skipped, so an interrupted rotation
    /// is finished by running it again. Fails, with nothing of the failing batch written, if a
    /// value does not open with the keyring.
    pub async fn reseal_all(&self, batch: i64) -> crate::Result<RotationReport> {
        use sqlx::Row as _;
        let keyring = self.keys().ok_or(SealError::NoKey)?;
        let prefix = format!("{SEALED_PREFIX}{}:", keyring.active_id());
        let prefix_len = i64::try_from(prefix.len()).unwrap_or(i64::MAX);
        let mut report = RotationReport {
            key_id: keyring.active_id().to_owned(),
            tables: Vec::new(),
        };
        for (table, keys, columns) in SEALED_COLUMNS {
            let mut done = 0u64;
            let pending = columns
                .iter()
                .map(|c| format!("({c} IS NOT NULL AND substr({c}, 1, $1) <> $2)"))
                .collect::<Vec<_>>()
                .join(" OR ");
            let select = format!(
                "SELECT clinic_id, {}, {} FROM {table} WHERE {pending} ORDER BY clinic_id, {} LIMIT $3",
                keys.join(", "),
                columns.join(", "),
                keys.join(", ")
            );
            let sets = columns
                .iter()
                .enumerate()
                .map(|(i, c)| format!("{c} = ${}", i + 1))
                .collect::<Vec<_>>()
                .join(", ");
            let n = columns.len();
            let wheres = std::iter::once(format!("clinic_id = ${}", n + 1))
                .chain(
                    keys.iter()
                        .enumerate()
                        .map(|(i, k)| format!("{k} = ${}", n + 2 + i)),
                )
                .collect::<Vec<_>>()
                .join(" AND ");
            let update = format!("UPDATE {table} SET {sets} WHERE {wheres}");
            loop {
                let mut tx = self.write_tx().await?;
                let rows = sqlx::query(&select)
                    .bind(prefix_len)
                    .bind(&prefix)
                    .bind(batch.max(1))
                    .fetch_all(&mut *tx)
                    .await?;
                if rows.is_empty() {
                    break;
                }
                for r in &rows {
                    let clinic_id: String = r.try_get("clinic_id")?;
                    let mut values = Vec::with_capacity(n);
                    for c in columns.iter() {
                        let stored: Option<String> = r.try_get(*c)?;
                        let value = match stored {
                            Some(v) if !v.starts_with(&prefix) => {
                                let place = Place {
                                    clinic_id: &clinic_id,
                                    table,
                                    column: c,
                                };
                                let plain = keyring.open(&place, &v)?;
                                done += 1;
                                Some(keyring.seal(&place, &plain)?)
                            }
                            other => other,
                        };
                        values.push(value);
                    }
                    let mut q = sqlx::query(&update);
                    for v in values {
                        q = q.bind(v);
                    }
                    q = q.bind(clinic_id.clone());
                    for k in keys.iter() {
                        let kv = match r.try_get::<String, _>(*k) {
                            Ok(s) => KeyValue::Text(s),
                            Err(_) => KeyValue::Int(r.try_get::<i64, _>(*k)?),
                        };
                        q = match kv {
                            KeyValue::Text(s) => q.bind(s),
                            KeyValue::Int(i) => q.bind(i),
                        };
                    }
                    q.execute(&mut *tx).await?;
                }
                tx.commit().await?;
            }
            report.tables.push(((*table).to_owned(), done));
        }
        if self.backend == crate::Backend::Sqlite {
            // Old page images (with the text as it was) stay in the write-ahead log until a
            // checkpoint: copy them into the database (where secure_delete has zeroed them)
            // and truncate the log.
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&self.pool)
                .await?;
        }
        Ok(report)
    }
}
