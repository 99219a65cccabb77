//! Server configuration, validated before the server starts.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Everything `bordin serve` needs to know.
#[derive(Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub database_url: String,
    /// Extra instrument files (`*.toml`) to load at start-up.
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
    /// Throttles, password rules, proxy trust (`security.rs`).
    pub security: crate::security::SecurityConfig,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The database URL may carry a password: never print it.
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("database_url", &"<redacted>")
            .field("instruments_dir", &self.instruments_dir)
            .field("public_url", &self.public_url)
            .field("secure_cookies", &self.secure_cookies)
            .field("link_ttl_hours", &self.link_ttl_hours)
            .field("security", &self.security)
            .finish_non_exhaustive()
    }
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
            security: crate::security::SecurityConfig::default(),
        }
    }
}
