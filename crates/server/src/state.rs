//! Shared application state.

use std::sync::Arc;

use bordin_core::{Registry, TextPack};
use bordin_store::Store;

use crate::config::Config;
use crate::error::AppError;

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    /// Shipped instruments plus the clinic-wide instrument folder, loaded at start-up.
    pub instruments: Arc<Registry>,
    pub config: Arc<Config>,
    /// Monitoring rules calibrated per clinic.
    pub rules: Arc<crate::monitor::RulesCache>,
    /// Counters and histograms served at `/metrics`.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Login and link throttles (in memory).
    pub throttle: Arc<crate::security::Throttle>,
    /// Password length rules and the breached-password list.
    pub passwords: Arc<crate::security::PasswordRules>,
    /// Transcript analysis (with the embedding model when it is installed) and the live
    /// co-pilot sessions in progress.
    pub analyzer: Arc<bordin_listen::Analyzer>,
    pub live: Arc<crate::live::LiveHub>,
}

impl AppState {
    /// Panics only if the configured breached-password list cannot be read: use
    /// [`AppState::try_new`] to get that as an error.
    pub fn new(store: Store, instruments: Registry, config: Config) -> Self {
        match Self::try_new(store, instruments, config) {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        }
    }

    /// The state, or why the configured breached-password list could not be read.
    pub fn try_new(
        store: Store,
        instruments: Registry,
        config: Config,
    ) -> Result<Self, crate::security::ListError> {
        let passwords = crate::security::PasswordRules::load(&config.security)?;
        let throttle = crate::security::Throttle::new(config.security.throttle);
        Ok(Self {
            store,
            instruments: Arc::new(instruments),
            config: Arc::new(config),
            rules: Arc::default(),
            metrics: Arc::new(new_metrics()),
            throttle: Arc::new(throttle),
            passwords: Arc::new(passwords),
            analyzer: Arc::new(crate::transcripts::default_analyzer()),
            live: Arc::default(),
        })
    }

    /// The same state with another transcript analyzer (e.g. the model from `--model-dir`).
    pub fn with_analyzer(mut self, analyzer: bordin_listen::Analyzer) -> Self {
        self.analyzer = Arc::new(analyzer);
        self
    }

    /// The instruments of one clinic: the shared ones with the clinic's installed text packs.
    ///
    /// Packs are read from the database on each call (a clinic has a handful), so a pack
    /// installed with `bordin instruments add-text` is used without a restart.
    pub async fn registry(&self, clinic_id: &str) -> Result<Registry, AppError> {
        let mut reg = (*self.instruments).clone();
        for (id, toml) in self.store.text_packs(clinic_id).await? {
            install_stored_pack(&mut reg, &id, &toml)?;
        }
        Ok(reg)
    }

    /// The form of one instrument for one clinic: what `registry(clinic_id)?.form(…)` gives,
    /// reading only that instrument's pack (one row) and copying the registry only when the
    /// clinic has a pack for it. Every client-link request asks for its form.
    pub async fn form(
        &self,
        clinic_id: &str,
        instrument_id: &str,
        words: &bordin_core::setting::SettingWords,
    ) -> Result<
        Result<bordin_core::registry::Form, bordin_core::registry::NotAdministrable>,
        AppError,
    > {
        let pack = self.store.text_pack(clinic_id, instrument_id).await?;
        self.form_with_pack(instrument_id, words, pack.as_deref())
    }

    /// [`AppState::form`] with the clinic's pack for the instrument already read (`None`: the
    /// clinic has none).
    pub fn form_with_pack(
        &self,
        instrument_id: &str,
        words: &bordin_core::setting::SettingWords,
        pack: Option<&str>,
    ) -> Result<
        Result<bordin_core::registry::Form, bordin_core::registry::NotAdministrable>,
        AppError,
    > {
        Ok(match pack {
            None => self.instruments.form(instrument_id, words),
            Some(toml) => {
                let mut reg = (*self.instruments).clone();
                install_stored_pack(&mut reg, instrument_id, toml)?;
                reg.form(instrument_id, words)
            }
        })
    }
}

/// Installs a clinic's stored pack into `reg`; a pack that no longer fits is left out (logged).
fn install_stored_pack(reg: &mut Registry, id: &str, toml: &str) -> Result<(), AppError> {
    let pack = TextPack::from_toml(&format!("text pack for {id}"), toml).map_err(|e| {
        AppError::Internal(format!("stored text pack for {id} is unreadable: {e:?}"))
    })?;
    if let Err(e) = reg.install_pack(id, pack) {
        // An instrument whose version changed since the pack was installed: the pack no
        // longer fits, and the form stays unavailable until a fitting pack is installed.
        tracing::warn!(instrument = %id, error = %e, "stored text pack no longer fits its instrument");
    }
    Ok(())
}

/// The metric names and labels are constants; registering them cannot fail at run time (a
/// mistake in them fails every test).
#[allow(clippy::expect_used)]
fn new_metrics() -> crate::metrics::Metrics {
    crate::metrics::Metrics::new().expect("metric definitions are valid")
}

/// Milliseconds since the Unix epoch (the clock lives at the edge, never in the core).
pub fn now_ms() -> i64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Today's date (UTC) as `YYYY-MM-DD`.
pub fn today() -> String {
    let now = time::OffsetDateTime::from_unix_timestamp(now_ms() / 1000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let d = now.date();
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// Formats a millisecond timestamp as `YYYY-MM-DD HH:MM` UTC.
pub fn format_ms(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(ms / 1000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    )
}
