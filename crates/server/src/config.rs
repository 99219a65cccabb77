//! Server configuration: one TOML file, `BORDIN_*` environment overrides, then command-line
//! flags, merged and validated once, before the server starts.
//!
//! Adding a key is a one-place change: add a field to [`Config`] (with a doc comment) and its
//! default to `Default`; the file key is the field's name (or its `serde(rename)`), the
//! environment variable is `BORDIN_` + the key in capitals, and a check of impossible values
//! goes in [`Config::problems`]. Then document the key in `docs/bordin.example.toml` (a test
//! fails until every key is there). Secrets use [`Secret`], which never prints.
//!
//! Precedence, lowest first: built-in defaults < the file < the environment < flags.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Everything `bordin serve` needs to know.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address and port to listen on.
    pub listen: SocketAddr,
    /// Database URL: `sqlite://PATH` (or `postgres://…` where supported).
    #[serde(rename = "db")]
    pub database_url: String,
    /// Extra instrument files (`*.toml`) to load at start-up.
    #[serde(rename = "instruments")]
    pub instruments_dir: Option<PathBuf>,
    /// Base URL put in front of client links (e.g. `https://bordin.example.org`). When absent,
    /// links use the address the clinician's browser used.
    pub public_url: Option<String>,
    /// Mark cookies `Secure` (set when served over TLS, directly or behind a proxy).
    pub secure_cookies: bool,
    /// How long a client link stays valid, in hours.
    pub link_ttl_hours: i64,
    /// Idle and absolute lifetimes of a login session, in minutes.
    pub session_idle_minutes: i64,
    pub session_absolute_minutes: i64,
    /// `text` (for people) or `json` (one JSON object per line, for log collectors).
    pub log_format: LogFormat,
    /// Who may read `/metrics`: `off`, `loopback` (only from 127.0.0.1/::1) or `token`
    /// (`Authorization: Bearer <metrics_token>`).
    pub metrics: MetricsAccess,
    /// The token `/metrics` asks for when `metrics = "token"` (at least 16 characters).
    pub metrics_token: Option<Secret>,
    /// Throttles, password rules, proxy trust (`security.rs`): the `[security]` table.
    pub security: crate::security::SecurityConfig,
    /// The key file for encryption at rest (`bordin keys generate`). When absent, the key comes
    /// from `BORDIN_KEY` (the key file's text) or from `DB.key` beside a SQLite database.
    pub key_file: Option<PathBuf>,
    /// The sentence-embedding model folder for transcript analysis (`bordin model fetch`).
    /// Without the model, analysis runs without its semantic part and says so.
    pub model_dir: PathBuf,
    /// The arithmetic of the embedding model's matrix products: `f32`, or `bf16-amx` (bfloat16
    /// products on Intel AMX tiles, about 1.5–2× faster, embeddings within cosine 0.9999 of
    /// f32). Unset or `auto`: the fastest this machine runs. Read by the same names as the
    /// command line's `BORDIN_EMBED_ARITHMETIC` (`Arithmetic::from_setting`).
    #[serde(deserialize_with = "arithmetic_setting")]
    pub embed_arithmetic: Option<bordin_listen::Arithmetic>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: "sqlite://bordin.db".into(),
            instruments_dir: None,
            public_url: None,
            secure_cookies: false,
            link_ttl_hours: 7 * 24,
            session_idle_minutes: 30,
            session_absolute_minutes: 12 * 60,
            log_format: LogFormat::Text,
            metrics: MetricsAccess::Loopback,
            metrics_token: None,
            security: crate::security::SecurityConfig::default(),
            key_file: None,
            model_dir: PathBuf::from(bordin_listen::model::DEFAULT_MODEL_DIR),
            embed_arithmetic: None,
        }
    }
}

/// `embed_arithmetic`: `auto` (or nothing) is `None`, the fastest available; other names as
/// `bordin_listen::Arithmetic::from_setting` reads them.
fn arithmetic_setting<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<bordin_listen::Arithmetic>, D::Error> {
    match Option::<String>::deserialize(d)?.as_deref().map(str::trim) {
        None | Some("auto" | "") => Ok(None),
        Some(name) => bordin_listen::Arithmetic::from_setting(Some(name))
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricsAccess {
    Off,
    Loopback,
    Token,
}

/// A secret value (a token, a password): usable, but never printed or logged.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("<redacted>")
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Every key, with secrets shown as <redacted> and the database URL's password hidden.
        let mut v = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Some(db) = v.get_mut("db") {
            *db = Value::String(redact_url(&self.database_url));
        }
        write!(f, "Config {v}")
    }
}

/// A URL with any `user:password@` part hidden.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(a)) if a > s => format!("{}://<redacted>@{}", &url[..s], &url[a + 1..]),
        _ => url.to_owned(),
    }
}

/// Where a key's value came from (named in error messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Default,
    File(PathBuf),
    Env(String),
    Flag(String),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Default => f.write_str("the default"),
            Self::File(p) => write!(f, "{}", p.display()),
            Self::Env(v) => write!(f, "environment variable {v}"),
            Self::Flag(v) => write!(f, "flag {v}"),
        }
    }
}

/// One thing wrong with a configuration: the key, where its value came from, and the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub key: String,
    pub source: Option<Source>,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.source {
            Some(s) => write!(f, "{} (from {s}): {}", self.key, self.message),
            None => write!(f, "{}: {}", self.key, self.message),
        }
    }
}

/// A configuration that cannot be used; every problem is listed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration:\n{}", .problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
pub struct ConfigError {
    pub problems: Vec<Problem>,
}

impl ConfigError {
    fn one(key: &str, source: Option<Source>, message: impl Into<String>) -> Self {
        Self {
            problems: vec![Problem {
                key: key.into(),
                source,
                message: message.into(),
            }],
        }
    }
}

/// The layers of a configuration, merged by [`Loader::load`].
#[derive(Debug, Default)]
pub struct Loader {
    file: Option<(PathBuf, String)>,
    env: Vec<(String, String)>,
    flags: Vec<(String, String, Value)>,
}

impl Loader {
    pub fn new() -> Self {
        Self::default()
    }

    /// The TOML file's path and text.
    pub fn file(mut self, path: impl Into<PathBuf>, text: impl Into<String>) -> Self {
        self.file = Some((path.into(), text.into()));
        self
    }

    /// Environment variables (all of them may be passed; only `BORDIN_<KEY>` of known keys are
    /// used, since other `BORDIN_*` variables belong to other commands).
    pub fn env(mut self, vars: impl IntoIterator<Item = (String, String)>) -> Self {
        self.env = vars
            .into_iter()
            .filter(|(k, _)| k.starts_with("BORDIN_"))
            .collect();
        self
    }

    /// A command-line flag's value for `key` (`flag` is its name, for messages).
    pub fn flag(mut self, key: &str, flag: &str, value: impl Into<Value>) -> Self {
        self.flags.push((key.into(), flag.into(), value.into()));
        self
    }

    /// Merges the layers and validates the result.
    pub fn load(self) -> Result<Config, ConfigError> {
        let mut merged = serde_json::to_value(Config::default()).unwrap_or(Value::Null);
        let defaults = merged.clone();
        let known = leaf_keys(&defaults);
        let mut sources: BTreeMap<String, Source> = BTreeMap::new();
        let mut problems = Vec::new();

        if let Some((path, text)) = &self.file {
            let table: toml::Table = toml::from_str(text).map_err(|e| {
                ConfigError::one(
                    "(file)",
                    Some(Source::File(path.clone())),
                    format!("not valid TOML: {}", e.to_string().trim()),
                )
            })?;
            let value = serde_json::to_value(table).unwrap_or(Value::Null);
            let mut leaves = Vec::new();
            flatten("", &value, &mut leaves);
            for (key, v) in leaves {
                if !known.contains(&key) {
                    problems.push(Problem {
                        key,
                        source: Some(Source::File(path.clone())),
                        message: format!("unknown key (known keys: {})", known.join(", ")),
                    });
                    continue;
                }
                set(&mut merged, &key, v);
                sources.insert(key, Source::File(path.clone()));
            }
        }
        for key in &known {
            let var = env_name(key);
            if let Some((_, raw)) = self.env.iter().find(|(k, _)| *k == var) {
                match env_value(get(&defaults, key).unwrap_or(&Value::Null), raw) {
                    Ok(v) => {
                        set(&mut merged, key, v);
                        sources.insert(key.clone(), Source::Env(var));
                    }
                    Err(m) => problems.push(Problem {
                        key: key.clone(),
                        source: Some(Source::Env(var)),
                        message: m,
                    }),
                }
            }
        }
        for (key, flag, v) in self.flags {
            if v.is_null() {
                continue;
            }
            set(&mut merged, &key, v);
            sources.insert(key, Source::Flag(flag));
        }
        if !problems.is_empty() {
            return Err(ConfigError { problems });
        }

        let config: Config = serde_path_to_error::deserialize(merged).map_err(|e| {
            let key = e.path().to_string();
            let source = sources.get(&key).cloned();
            ConfigError::one(&key, source, e.inner().to_string())
        })?;
        let problems: Vec<Problem> = config
            .problems()
            .into_iter()
            .map(|(key, message)| Problem {
                source: sources.get(key).cloned(),
                key: key.into(),
                message,
            })
            .collect();
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError { problems })
        }
    }
}

/// The dotted paths of every leaf of a value (`security.throttle.free_failures`).
fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        other => out.push((prefix.to_owned(), other.clone())),
    }
}

fn leaf_keys(v: &Value) -> Vec<String> {
    let mut out = Vec::new();
    flatten("", v, &mut out);
    out.into_iter().map(|(k, _)| k).collect()
}

fn get<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    key.split('.').try_fold(v, |v, k| v.get(k))
}

/// Sets the value at a dotted path, creating tables on the way.
fn set(root: &mut Value, key: &str, value: Value) {
    let mut v = root;
    let parts: Vec<&str> = key.split('.').collect();
    for (i, k) in parts.iter().enumerate() {
        if !v.is_object() {
            *v = Value::Object(serde_json::Map::new());
        }
        let Value::Object(m) = v else { return };
        if i + 1 == parts.len() {
            m.insert((*k).to_owned(), value);
            return;
        }
        v = m
            .entry((*k).to_owned())
            .or_insert_with(|| Value::Object(serde_json::Map::new()));
    }
}

/// The environment variable that overrides `key` (`security.min_password_chars` →
/// `BORDIN_SECURITY_MIN_PASSWORD_CHARS`).
pub fn env_name(key: &str) -> String {
    format!("BORDIN_{}", key.replace('.', "_").to_uppercase())
}

/// An environment variable's text as a value of the key's type (judged by its default).
fn env_value(default: &Value, raw: &str) -> Result<Value, String> {
    match default {
        Value::Bool(_) => match raw.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Ok(Value::Bool(true)),
            "0" | "false" | "no" | "off" | "" => Ok(Value::Bool(false)),
            other => Err(format!("'{other}' is not true or false")),
        },
        Value::Number(_) => raw
            .trim()
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| format!("'{raw}' is not a whole number")),
        // Strings and optional values (which are strings or paths): an empty variable unsets.
        _ if raw.is_empty() && default.is_null() => Ok(Value::Null),
        _ => Ok(Value::String(raw.to_owned())),
    }
}

impl Config {
    /// Every impossible value, as (key, problem).
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut p = Vec::new();
        if self.database_url.trim().is_empty() {
            p.push(("db", "must not be empty".into()));
        }
        if let Some(dir) = &self.instruments_dir {
            if !dir.is_dir() {
                p.push(("instruments", format!("{} is not a folder", dir.display())));
            }
        }
        if let Some(url) = &self.public_url {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                p.push((
                    "public_url",
                    format!("'{url}' must start with https:// (or http://)"),
                ));
            }
        }
        if self.link_ttl_hours < 1 {
            p.push(("link_ttl_hours", "must be at least 1".into()));
        }
        if self.session_idle_minutes < 1 {
            p.push(("session_idle_minutes", "must be at least 1".into()));
        }
        if self.session_absolute_minutes < self.session_idle_minutes {
            p.push((
                "session_absolute_minutes",
                format!(
                    "must be at least session_idle_minutes ({})",
                    self.session_idle_minutes
                ),
            ));
        }
        match (&self.metrics, &self.metrics_token) {
            (MetricsAccess::Token, None) => p.push((
                "metrics_token",
                "is required when metrics = \"token\"".into(),
            )),
            (_, Some(t)) if t.expose().chars().count() < 16 => {
                p.push(("metrics_token", "must have at least 16 characters".into()))
            }
            _ => {}
        }
        p
    }

    /// The public URL without a trailing slash.
    pub fn normalised(mut self) -> Self {
        self.public_url = self.public_url.map(|u| u.trim_end_matches('/').to_owned());
        self
    }

    /// The documented keys: every key of the configuration (for `bordin config keys` and the
    /// test that keeps the example file complete).
    pub fn keys() -> Vec<String> {
        leaf_keys(&serde_json::to_value(Config::default()).unwrap_or(Value::Null))
    }

    /// The defaults as TOML-like lines (`key = value`; unset keys commented out).
    pub fn defaults_text() -> String {
        let mut leaves = Vec::new();
        flatten(
            "",
            &serde_json::to_value(Config::default()).unwrap_or(Value::Null),
            &mut leaves,
        );
        let mut out = String::new();
        for (k, v) in leaves {
            let line = match v {
                Value::Null => format!("# {k} =  (unset)   env: {}\n", env_name(&k)),
                v => format!("{k} = {v}   # env: {}\n", env_name(&k)),
            };
            out.push_str(&line);
        }
        out
    }
}

/// Reads and checks a configuration file on its own (defaults for everything it leaves out,
/// no environment, no flags): `bordin config check FILE`.
pub fn check_file(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError::one(
            "(file)",
            Some(Source::File(path.to_owned())),
            format!("cannot be read: {e}"),
        )
    })?;
    Loader::new().file(path, text).load()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn file_then_environment_then_flags() {
        let c = Loader::new()
            .file(
                "b.toml",
                "listen = \"0.0.0.0:9000\"\nlink_ttl_hours = 48\ndb = \"sqlite://file.db\"\n",
            )
            .env(env(&[
                ("BORDIN_LINK_TTL_HOURS", "24"),
                ("BORDIN_PASSWORD", "not a key"),
            ]))
            .flag("db", "--db", "sqlite://flag.db")
            .load()
            .unwrap();
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.link_ttl_hours, 24);
        assert_eq!(c.database_url, "sqlite://flag.db");
        assert_eq!(
            c.session_idle_minutes, 30,
            "untouched keys keep their default"
        );

        // Nested tables: a partial [security] keeps the other defaults; the environment
        // reaches nested keys by their joined path.
        let c = Loader::new()
            .file("b.toml", "[security]\nmin_password_chars = 20\n")
            .env(env(&[("BORDIN_SECURITY_THROTTLE_FREE_FAILURES", "9")]))
            .flag(
                "security.trust_forwarded_for",
                "--trust-forwarded-for",
                true,
            )
            .load()
            .unwrap();
        assert_eq!(c.security.min_password_chars, 20);
        assert_eq!(c.security.max_password_chars, 256);
        assert_eq!(c.security.throttle.free_failures, 9);
        assert!(c.security.trust_forwarded_for);
        let e = Loader::new()
            .file("b.toml", "[security.throttle]\nfree_failure = 3\n")
            .load()
            .unwrap_err();
        assert_eq!(e.problems[0].key, "security.throttle.free_failure");
    }

    #[test]
    fn the_embedding_arithmetic_is_read_by_the_command_lines_names() {
        let load = |v: &str| {
            Loader::new()
                .env(env(&[("BORDIN_EMBED_ARITHMETIC", v)]))
                .load()
        };
        assert_eq!(
            load("f32").unwrap().embed_arithmetic,
            Some(bordin_listen::Arithmetic::F32)
        );
        assert_eq!(
            load("bf16-amx").unwrap().embed_arithmetic,
            Some(bordin_listen::Arithmetic::Bf16Amx)
        );
        assert_eq!(load("auto").unwrap().embed_arithmetic, None);
        assert_eq!(Loader::new().load().unwrap().embed_arithmetic, None);
        let e = load("f16").unwrap_err();
        assert_eq!(e.problems[0].key, "embed_arithmetic");
        assert!(e.to_string().contains("bf16-amx"), "{e}");
    }

    #[test]
    fn unknown_keys_wrong_types_and_impossible_values_are_named() {
        let e = Loader::new()
            .file("b.toml", "listen = \"127.0.0.1:1\"\nlnk_ttl_hours = 3\n")
            .load()
            .unwrap_err();
        assert_eq!(e.problems[0].key, "lnk_ttl_hours");
        assert!(e.to_string().contains("unknown key"), "{e}");

        let e = Loader::new()
            .file("b.toml", "link_ttl_hours = \"a week\"\n")
            .load()
            .unwrap_err();
        assert_eq!(e.problems[0].key, "link_ttl_hours");
        assert_eq!(e.problems[0].source, Some(Source::File("b.toml".into())));

        let e = Loader::new()
            .env(env(&[("BORDIN_SECURE_COOKIES", "maybe")]))
            .load()
            .unwrap_err();
        assert_eq!(e.problems[0].key, "secure_cookies");
        assert!(e.to_string().contains("BORDIN_SECURE_COOKIES"), "{e}");

        let e = Loader::new()
            .file("b.toml", "link_ttl_hours = 0\nmetrics = \"token\"\n")
            .load()
            .unwrap_err();
        let keys: Vec<&str> = e.problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, ["link_ttl_hours", "metrics_token"]);
    }

    #[test]
    fn the_example_file_is_valid_and_documents_every_key() {
        let text = include_str!("../../../docs/bordin.example.toml");
        Loader::new()
            .file("bordin.example.toml", text)
            .load()
            .unwrap();
        for key in Config::keys() {
            // Nested keys are documented under their [table] by their last part.
            let name = key.rsplit('.').next().unwrap_or(&key);
            let documented = text.lines().any(|l| {
                l.trim_start_matches(['#', ' '])
                    .starts_with(&format!("{name} ="))
            });
            assert!(
                documented,
                "docs/bordin.example.toml does not document `{key}`"
            );
        }
    }

    #[test]
    fn secrets_never_print() {
        let c = Loader::new()
            .file(
                "b.toml",
                "metrics = \"token\"\nmetrics_token = \"s3cret-s3cret-s3cret\"\ndb = \"postgres://bordin:pw@db/bordin\"\n",
            )
            .load()
            .unwrap();
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("s3cret") && !shown.contains(":pw@"),
            "{shown}"
        );
        assert_eq!(c.metrics_token.unwrap().expose(), "s3cret-s3cret-s3cret");
    }
}
