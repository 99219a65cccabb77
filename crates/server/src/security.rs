//! Login throttling, link-guessing throttling and password rules.
//!
//! Throttling state lives in memory: it only ever *delays*, never locks an account for good, so
//! losing it on a restart loses nothing an attacker could use (they cannot restart the server).
//!
//! Rules and their sources:
//! - NIST SP 800-63B §5.2.2: limit consecutive failed attempts on one account to at most 100;
//!   rate limiting (rather than a permanent lock) is an accepted way. Bordin lets 5 failures
//!   through, then makes the account wait `base · 2^(n−5)` after the n-th consecutive failure,
//!   capped at `cap` (30 s, 1 min, 2 min … 15 min): about 4 guesses an hour at the cap, and a
//!   user is never locked out for longer than the cap after their last failure.
//! - Unknown emails are throttled exactly like real ones (keyed by the typed email), so the
//!   answer never tells whether an account exists.
//! - Per source address: more than `address_failures` failed logins within `address_window`
//!   makes that address wait until the window ends (spraying many accounts from one address).
//! - Client links: more than `link_failures` unknown/expired link look-ups within `link_window`
//!   from one address make it wait (guessing 128-bit secrets is hopeless anyway; this keeps the
//!   log and the database quiet).

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Mutex;

use sha1::{Digest, Sha1};

/// Security settings (part of [`crate::Config`]: the `[security]` table of the configuration
/// file, `BORDIN_SECURITY_<KEY>` in the environment).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecurityConfig {
    /// Take the client's address from the last `X-Forwarded-For` entry (set only behind a
    /// reverse proxy you run; otherwise clients could pick their own address).
    pub trust_forwarded_for: bool,
    pub throttle: ThrottleRules,
    /// File of breached or common passwords (see `docs/security.md` for the format). Without
    /// one, only the small built-in sample list is checked.
    pub breached_passwords_file: Option<PathBuf>,
    /// Shortest new password, in characters. 15: NIST SP 800-63B-4 asks for 15 when the
    /// password is the only factor, and TOTP is optional in Bordin.
    pub min_password_chars: usize,
    /// Longest new password (NIST: allow at least 64).
    pub max_password_chars: usize,
}

impl Default for SecurityConfig {
    fn default() -> Self {
        Self {
            trust_forwarded_for: false,
            throttle: ThrottleRules::default(),
            breached_passwords_file: None,
            min_password_chars: 15,
            max_password_chars: 256,
        }
    }
}

/// The numbers of the throttles (milliseconds): the `[security.throttle]` table.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ThrottleRules {
    pub free_failures: u32,
    pub backoff_base_ms: i64,
    pub backoff_cap_ms: i64,
    /// Consecutive-failure counts are forgotten after this long without a failure.
    pub forget_after_ms: i64,
    pub address_failures: u32,
    pub address_window_ms: i64,
    pub link_failures: u32,
    pub link_window_ms: i64,
}

impl Default for ThrottleRules {
    fn default() -> Self {
        Self {
            free_failures: 5,
            backoff_base_ms: 30_000,
            backoff_cap_ms: 15 * 60_000,
            forget_after_ms: 24 * 3_600_000,
            address_failures: 50,
            address_window_ms: 15 * 60_000,
            link_failures: 20,
            link_window_ms: 10 * 60_000,
        }
    }
}

impl ThrottleRules {
    /// How long an account must wait after its `failures`-th consecutive failure.
    ///
    /// With the defaults: 4 → 0, 5 → 30 s, 6 → 60 s, 7 → 2 min, 10 → 15 min (cap), 100 → 15 min.
    pub fn backoff_ms(&self, failures: u32) -> i64 {
        if failures < self.free_failures {
            return 0;
        }
        let doublings = (failures - self.free_failures).min(40);
        self.backoff_base_ms
            .saturating_mul(1i64 << doublings)
            .min(self.backoff_cap_ms)
    }
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last_at: i64,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    start: i64,
    count: u32,
}

/// Entries kept per map before stale ones are swept (bounds memory under a flood).
const MAX_ENTRIES: usize = 100_000;

/// The in-memory throttles of one server.
#[derive(Debug, Default)]
pub struct Throttle {
    rules: ThrottleRules,
    accounts: Mutex<HashMap<String, Failures>>,
    addresses: Mutex<HashMap<String, Window>>,
    links: Mutex<HashMap<String, Window>>,
}

fn account_key(email: &str) -> String {
    email.trim().to_lowercase()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave the counters inconsistent: use them as-is.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Throttle {
    pub fn new(rules: ThrottleRules) -> Self {
        Self {
            rules,
            ..Self::default()
        }
    }

    /// When a login for `email` from `source` may be tried again (`None`: now).
    pub fn login_retry_at(&self, email: &str, source: &str, now: i64) -> Option<i64> {
        let account = lock(&self.accounts).get(&account_key(email)).and_then(|f| {
            let at = f.last_at + self.rules.backoff_ms(f.count);
            (at > now).then_some(at)
        });
        let address = lock(&self.addresses).get(source).and_then(|w| {
            let end = w.start + self.rules.address_window_ms;
            (w.count >= self.rules.address_failures && end > now).then_some(end)
        });
        account.max(address)
    }

    pub fn login_failed(&self, email: &str, source: &str, now: i64) {
        {
            let mut accounts = lock(&self.accounts);
            sweep(&mut accounts, |f| {
                now - f.last_at > self.rules.forget_after_ms
            });
            let e = accounts.entry(account_key(email)).or_insert(Failures {
                count: 0,
                last_at: now,
            });
            if now - e.last_at > self.rules.forget_after_ms {
                e.count = 0;
            }
            e.count = e.count.saturating_add(1);
            e.last_at = now;
        }
        count_in_window(&self.addresses, source, now, self.rules.address_window_ms);
    }

    /// A successful login clears the account's consecutive failures.
    pub fn login_succeeded(&self, email: &str) {
        lock(&self.accounts).remove(&account_key(email));
    }

    /// Lets an account log in again at once (the admin's "clear lock-out").
    pub fn clear_account(&self, email: &str) -> bool {
        lock(&self.accounts).remove(&account_key(email)).is_some()
    }

    /// Consecutive failures recorded for an account (for the admin page).
    pub fn account_failures(&self, email: &str) -> u32 {
        lock(&self.accounts)
            .get(&account_key(email))
            .map_or(0, |f| f.count)
    }

    pub fn link_allowed(&self, source: &str, now: i64) -> bool {
        lock(&self.links).get(source).is_none_or(|w| {
            w.count < self.rules.link_failures || now - w.start >= self.rules.link_window_ms
        })
    }

    pub fn link_failed(&self, source: &str, now: i64) {
        count_in_window(&self.links, source, now, self.rules.link_window_ms);
    }
}

fn sweep<V>(map: &mut HashMap<String, V>, stale: impl Fn(&V) -> bool) {
    if map.len() >= MAX_ENTRIES {
        map.retain(|_, v| !stale(v));
        if map.len() >= MAX_ENTRIES {
            // Still full of fresh entries: a flood from many addresses. Start over rather than
            // grow without bound; accounts keep their own back-off in the other map.
            map.clear();
        }
    }
}

fn count_in_window(m: &Mutex<HashMap<String, Window>>, key: &str, now: i64, window: i64) {
    let mut map = lock(m);
    sweep(&mut map, |w| now - w.start >= window);
    let w = map.entry(key.to_owned()).or_insert(Window {
        start: now,
        count: 0,
    });
    if now - w.start >= window {
        *w = Window {
            start: now,
            count: 0,
        };
    }
    w.count = w.count.saturating_add(1);
}

// ---------------------------------------------------------------------------------------------
// Password rules (NIST SP 800-63B §5.1.1.2)

/// A small list of common passwords generated for Bordin's tests and demo (not a real breach
/// corpus). Real deployments name a larger file in `breached_passwords_file`.
pub const SAMPLE_BREACHED: &str = include_str!("../../../docs/breached-passwords-sample.txt");

/// Why a new password is refused. The messages name the rule, never the password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordProblem {
    #[error("the password must be at least {0} characters long (a few words make a good one)")]
    TooShort(usize),
    #[error("the password may be at most {0} characters long")]
    TooLong(usize),
    #[error("this password appears in a list of breached or common passwords; choose another")]
    Breached,
    #[error("the password must not be your email address")]
    IsEmail,
}

#[derive(Debug, thiserror::Error)]
#[error("breached password list {path}: line {line}: {message}")]
pub struct ListError {
    pub path: String,
    pub line: usize,
    pub message: String,
}

/// Length limits and the breached-password list.
#[derive(Debug, Clone)]
pub struct PasswordRules {
    min: usize,
    max: usize,
    /// SHA-1 digests of listed passwords.
    breached: HashSet<[u8; 20]>,
}

impl PasswordRules {
    /// Reads the list named in the configuration (or the built-in sample).
    ///
    /// Format: one entry per line, either a password as plain text or its SHA-1 as 40 hex
    /// digits, optionally followed by `:count` (the Pwned Passwords download format). Blank
    /// lines and lines starting with `#` are skipped.
    pub fn load(cfg: &SecurityConfig) -> Result<Self, ListError> {
        let (path, text) = match &cfg.breached_passwords_file {
            Some(p) => (
                p.display().to_string(),
                std::fs::read_to_string(p).map_err(|e| ListError {
                    path: p.display().to_string(),
                    line: 0,
                    message: e.to_string(),
                })?,
            ),
            None => ("(built-in sample)".into(), SAMPLE_BREACHED.to_owned()),
        };
        let mut breached = HashSet::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let hex_part = line.split(':').next().unwrap_or("");
            let digest = if hex_part.len() == 40 && hex_part.bytes().all(|b| b.is_ascii_hexdigit())
            {
                let mut d = [0u8; 20];
                for (k, byte) in d.iter_mut().enumerate() {
                    *byte = u8::from_str_radix(&hex_part[2 * k..2 * k + 2], 16).map_err(|e| {
                        ListError {
                            path: path.clone(),
                            line: i + 1,
                            message: e.to_string(),
                        }
                    })?;
                }
                d
            } else {
                sha1(line)
            };
            breached.insert(digest);
        }
        Ok(Self {
            min: cfg.min_password_chars,
            max: cfg.max_password_chars,
            breached,
        })
    }

    pub fn min_chars(&self) -> usize {
        self.min
    }

    /// Checks a new password: length (in characters, any characters allowed, no composition
    /// rules), not the email, not on the list.
    pub fn check(&self, password: &str, email: &str) -> Result<(), PasswordProblem> {
        let n = password.chars().count();
        if n < self.min {
            return Err(PasswordProblem::TooShort(self.min));
        }
        if n > self.max {
            return Err(PasswordProblem::TooLong(self.max));
        }
        if password.trim().eq_ignore_ascii_case(email.trim()) {
            return Err(PasswordProblem::IsEmail);
        }
        if self.breached.contains(&sha1(password)) {
            return Err(PasswordProblem::Breached);
        }
        Ok(())
    }
}

fn sha1(s: &str) -> [u8; 20] {
    Sha1::digest(s.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_fifth_failure_and_is_capped() {
        let r = ThrottleRules::default();
        assert_eq!(r.backoff_ms(4), 0);
        assert_eq!(r.backoff_ms(5), 30_000);
        assert_eq!(r.backoff_ms(6), 60_000);
        assert_eq!(r.backoff_ms(7), 120_000);
        assert_eq!(r.backoff_ms(9), 480_000);
        assert_eq!(r.backoff_ms(10), 900_000);
        assert_eq!(r.backoff_ms(100), 900_000);
        assert_eq!(r.backoff_ms(u32::MAX), 900_000);
    }

    #[test]
    fn an_account_waits_after_five_failures_and_never_longer_than_the_cap() {
        let t = Throttle::new(ThrottleRules::default());
        for i in 0..5 {
            assert_eq!(t.login_retry_at("a@x", "1.2.3.4", 1000 + i), None);
            t.login_failed("A@x ", "1.2.3.4", 1000 + i);
        }
        assert_eq!(
            t.login_retry_at("a@x", "9.9.9.9", 1005),
            Some(1004 + 30_000)
        );
        for i in 5..200 {
            t.login_failed("a@x", "1.2.3.4", 2000 + i);
        }
        // 200 consecutive failures: still only the cap after the last one.
        assert_eq!(
            t.login_retry_at("a@x", "9.9.9.9", 2199),
            Some(2199 + 900_000)
        );
        assert_eq!(t.login_retry_at("a@x", "9.9.9.9", 2199 + 900_000), None);
        assert!(t.clear_account("a@x"));
        assert_eq!(t.login_retry_at("a@x", "9.9.9.9", 2200), None);
    }

    #[test]
    fn one_address_failing_on_many_accounts_waits_for_the_window() {
        let rules = ThrottleRules {
            address_failures: 3,
            ..ThrottleRules::default()
        };
        let t = Throttle::new(rules);
        for (i, who) in ["a", "b", "c"].iter().enumerate() {
            t.login_failed(who, "5.5.5.5", 10 + i as i64);
        }
        assert_eq!(
            t.login_retry_at("d", "5.5.5.5", 20),
            Some(10 + rules.address_window_ms)
        );
        assert_eq!(t.login_retry_at("d", "6.6.6.6", 20), None);
        assert_eq!(
            t.login_retry_at("d", "5.5.5.5", 10 + rules.address_window_ms),
            None
        );
    }

    #[test]
    fn link_guessing_is_slowed_per_address() {
        let rules = ThrottleRules {
            link_failures: 2,
            ..ThrottleRules::default()
        };
        let t = Throttle::new(rules);
        t.link_failed("1", 0);
        assert!(t.link_allowed("1", 1));
        t.link_failed("1", 1);
        assert!(!t.link_allowed("1", 2));
        assert!(t.link_allowed("2", 2));
        assert!(t.link_allowed("1", rules.link_window_ms));
    }

    #[test]
    fn password_rules_follow_nist_and_the_list() {
        let cfg = SecurityConfig::default();
        let rules = PasswordRules::load(&cfg).unwrap();
        assert_eq!(
            rules.check("short pass", "a@b"),
            Err(PasswordProblem::TooShort(15))
        );
        // No composition rules: lower-case words are fine; 64 characters are allowed.
        assert_eq!(rules.check("plain lower case words", "a@b"), Ok(()));
        assert_eq!(rules.check(&"x".repeat(64), "a@b"), Ok(()));
        assert_eq!(
            rules.check(&"x".repeat(257), "a@b"),
            Err(PasswordProblem::TooLong(256))
        );
        assert_eq!(
            rules.check("passwordpassword", "a@b"),
            Err(PasswordProblem::Breached)
        );
        assert_eq!(
            rules.check("clinician@example.org", "Clinician@example.org"),
            Err(PasswordProblem::IsEmail)
        );
    }

    #[test]
    fn the_list_accepts_plain_lines_and_sha1_hex_with_counts() {
        let dir = std::env::temp_dir().join(format!("bordin-list-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("list.txt");
        // SHA-1("this is a listed one") computed with `printf %s '…' | sha1sum`.
        std::fs::write(
            &path,
            "# comment\nmy very own plain entry\n\n8137350a981190b29da22c06117d09aeb2875c37:42\n",
        )
        .unwrap();
        let cfg = SecurityConfig {
            breached_passwords_file: Some(path),
            ..SecurityConfig::default()
        };
        let rules = PasswordRules::load(&cfg).unwrap();
        assert_eq!(
            rules.check("my very own plain entry", "a@b"),
            Err(PasswordProblem::Breached)
        );
        assert_eq!(rules.breached.len(), 2);
        assert!(rules.breached.contains(&sha1("this is a listed one")));
    }
}

/// Whether a browser request comes from Bordin's own pages. Browsers say where a request
/// comes from in `Sec-Fetch-Site` (Fetch Metadata): only `same-origin` or `none` (typed or
/// bookmarked) pass. Without it, an `Origin` must be this server's own (the `Host` it was sent
/// to, or the configured public URL); `Origin: null` passes, since Bordin's own
/// `Referrer-Policy: no-referrer` makes a browser send it on same-origin form posts. A request
/// with neither header is not a browser's cross-site request and passes. Used where no session
/// CSRF token can exist yet or be sent: the login form (against login CSRF; OWASP CSRF
/// Prevention Cheat Sheet, "Fetch Metadata headers" and "Verifying Origin with standard
/// headers") and the live co-pilot's WebSocket upgrade.
pub fn same_origin(state: &crate::state::AppState, headers: &axum::http::HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return site.eq_ignore_ascii_case("same-origin") || site.eq_ignore_ascii_case("none");
    }
    let Some(origin) = headers.get("origin").and_then(|v| v.to_str().ok()) else {
        return true;
    };
    if origin == "null" {
        return true;
    }
    let origin_host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
    let host = headers
        .get("host")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !host.is_empty() && origin_host.eq_ignore_ascii_case(host) {
        return true;
    }
    state
        .config
        .public_url
        .as_deref()
        .is_some_and(|p| p.trim_end_matches('/').eq_ignore_ascii_case(origin))
}
