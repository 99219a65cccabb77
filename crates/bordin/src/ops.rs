//! Operations commands: `bordin token`, `bordin client export|erase`, `bordin backup`,
//! `bordin restore`, `bordin config check`. Thin: the work is in `bordin-server` (tokens,
//! privacy, configuration) and `bordin-store` (backup, export, erasure).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use bordin_server::privacy::Who;
use bordin_store::backup::{is_postgres_url, restore_sqlite};
use bordin_store::{Store, TokenScope};
use clap::Subcommand;

/// The clinic to act on: the one named, or the only one in the database.
pub async fn pick_clinic(store: &Store, clinic: Option<String>) -> Result<String> {
    if let Some(c) = clinic {
        return Ok(store
            .clinic(&c)
            .await
            .with_context(|| format!("no clinic '{c}'"))?
            .clinic_id);
    }
    let clinics = store.clinics().await?;
    match clinics.as_slice() {
        [only] => Ok(only.clinic_id.clone()),
        [] => bail!("the database has no clinic yet: create one with `bordin clinic create`"),
        many => bail!(
            "the database holds {} clinics: name one with --clinic ({})",
            many.len(),
            many.iter()
                .map(|c| format!("{} = {}", c.clinic_id, c.name))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn now() -> i64 {
    bordin_server::state::now_ms()
}

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Create a token acting as a user of the clinic; it is printed once and never again.
    Create {
        /// Email of the user whose rights the token carries.
        #[arg(long)]
        user: String,
        /// `read` (GET only) or `write` (also state-changing calls).
        #[arg(long)]
        scope: String,
        /// What uses the token, e.g. "EHR sync".
        #[arg(long)]
        label: String,
        /// Days until it stops working (default: until revoked).
        #[arg(long)]
        expires_in_days: Option<i64>,
        #[arg(long)]
        clinic: Option<String>,
        #[arg(long, env = "BORDIN_DB", default_value = "sqlite://bordin.db")]
        db: String,
    },
    /// List the clinic's tokens (never the tokens themselves).
    List {
        #[arg(long)]
        clinic: Option<String>,
        #[arg(long, env = "BORDIN_DB", default_value = "sqlite://bordin.db")]
        db: String,
    },
    /// Revoke a token by its id; it stops working at once.
    Revoke {
        token_id: String,
        #[arg(long)]
        clinic: Option<String>,
        #[arg(long, env = "BORDIN_DB", default_value = "sqlite://bordin.db")]
        db: String,
    },
}

pub async fn token(command: TokenCommand) -> Result<ExitCode> {
    match command {
        TokenCommand::Create {
            user,
            scope,
            label,
            expires_in_days,
            clinic,
            db,
        } => {
            let scope = TokenScope::parse(&scope)
                .with_context(|| format!("--scope '{scope}' is not read or write"))?;
            let store = Store::connect(&db).await?;
            let clinic_id = pick_clinic(&store, clinic).await?;
            let email = user.trim().to_lowercase();
            let u = store
                .users(&clinic_id)
                .await?
                .into_iter()
                .find(|u| u.email == email)
                .with_context(|| format!("no user with email '{user}' in clinic {clinic_id}"))?;
            let issued = bordin_server::tokens::issue(
                &store,
                &bordin_server::tokens::TokenRequest {
                    clinic_id: &clinic_id,
                    user_id: &u.user_id,
                    scope,
                    label: &label,
                    expires_in_days,
                    created_by: "cli",
                    now: now(),
                },
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            eprintln!(
                "Created {} token {} for {} ({}). It is shown only now; Bordin keeps only its hash:",
                issued.row.scope.as_str(),
                issued.row.token_id,
                u.email,
                u.role.as_str()
            );
            println!("{}", issued.token);
            store.close().await;
            Ok(ExitCode::SUCCESS)
        }
        TokenCommand::List { clinic, db } => {
            let store = Store::connect(&db).await?;
            let clinic_id = pick_clinic(&store, clinic).await?;
            let users = store.users(&clinic_id).await?;
            println!(
                "{:<36} {:<14} {:<6} {:<8} {:<24} {:<20} LABEL",
                "ID", "SHOWN AS", "SCOPE", "STATUS", "ACTS AS", "LAST USED"
            );
            let n = now();
            for t in store.api_tokens(&clinic_id).await? {
                let who = users
                    .iter()
                    .find(|u| u.user_id == t.user_id)
                    .map_or(t.user_id.as_str(), |u| u.email.as_str());
                let status = if t.revoked_at.is_some() {
                    "revoked"
                } else if t.is_live(n) {
                    "active"
                } else {
                    "expired"
                };
                println!(
                    "{:<36} {:<14} {:<6} {:<8} {:<24} {:<20} {}",
                    t.token_id,
                    bordin_server::tokens::display(&t),
                    t.scope.as_str(),
                    status,
                    who,
                    t.last_used_at
                        .map_or_else(|| "never".into(), bordin_server::state::format_ms),
                    t.label
                );
            }
            store.close().await;
            Ok(ExitCode::SUCCESS)
        }
        TokenCommand::Revoke {
            token_id,
            clinic,
            db,
        } => {
            let store = Store::connect(&db).await?;
            let clinic_id = pick_clinic(&store, clinic).await?;
            bordin_server::tokens::revoke(&store, &clinic_id, &token_id, "cli", now())
                .await
                .map_err(|_| anyhow::anyhow!("no live token '{token_id}' in clinic {clinic_id}"))?;
            println!("Revoked token {token_id}; it no longer works.");
            store.close().await;
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[derive(Subcommand)]
pub enum ClientCommand {
    /// Write everything held on a client as JSON (to --out, or standard output).
    Export {
        /// The client's code.
        #[arg(long)]
        code: String,
        #[arg(long)]
        out: Option<PathBuf>,
        #[arg(long)]
        clinic: Option<String>,
        #[arg(long, env = "BORDIN_DB", default_value = "sqlite://bordin.db")]
        db: String,
    },
    /// Erase a client's clinical data; keeps an erasure record (who, when, why) and the audit
    /// trail, which hold no clinical content. Without --yes, only says what would be erased.
    Erase {
        /// The client's code.
        #[arg(long)]
        code: String,
        /// Why (kept in the erasure record; no clinical details).
        #[arg(long)]
        reason: String,
        /// Really erase.
        #[arg(long)]
        yes: bool,
        #[arg(long)]
        clinic: Option<String>,
        #[arg(long, env = "BORDIN_DB", default_value = "sqlite://bordin.db")]
        db: String,
    },
}

pub async fn client(command: ClientCommand) -> Result<ExitCode> {
    match command {
        ClientCommand::Export {
            code,
            out,
            clinic,
            db,
        } => {
            let store = Store::connect(&db).await?;
            let clinic_id = pick_clinic(&store, clinic).await?;
            let id = bordin_server::privacy::client_id(&store, &clinic_id, Who::Code(&code))
                .await
                .map_err(|_| {
                    anyhow::anyhow!("no client with code '{code}' in clinic {clinic_id}")
                })?;
            let doc = bordin_server::privacy::export(&store, &clinic_id, &id, now())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let text = serde_json::to_string_pretty(&doc)?;
            match out {
                Some(path) => {
                    write_new(&path, text.as_bytes())?;
                    eprintln!("Wrote the export of client {code} to {}.", path.display());
                }
                None => println!("{text}"),
            }
            store.close().await;
            Ok(ExitCode::SUCCESS)
        }
        ClientCommand::Erase {
            code,
            reason,
            yes,
            clinic,
            db,
        } => {
            let store = Store::connect(&db).await?;
            let clinic_id = pick_clinic(&store, clinic).await?;
            let id = bordin_server::privacy::client_id(&store, &clinic_id, Who::Code(&code))
                .await
                .map_err(|_| {
                    anyhow::anyhow!("no client with code '{code}' in clinic {clinic_id}")
                })?;
            if !yes {
                let doc = store.export_client(&clinic_id, &id).await?;
                eprintln!("Erasing client {code} would remove:");
                if let Some(tables) = doc["tables"].as_object() {
                    for (t, rows) in tables {
                        let n = rows.as_array().map_or(0, Vec::len);
                        if n > 0 {
                            eprintln!("  {t}: {n} (cases shared with other clients keep their own records)");
                        }
                    }
                }
                eprintln!("Nothing was changed. Run again with --yes to erase; consider `bordin client export` first.");
                store.close().await;
                return Ok(ExitCode::from(2));
            }
            let r = bordin_server::privacy::erase(
                &store,
                &clinic_id,
                Who::Id(&id),
                None,
                "cli",
                &reason,
                now(),
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "Erased client {code} (erasure {}): {} case(s) removed, {} shared case(s) kept without the client's rows.",
                r.erasure_id,
                r.cases_removed.len(),
                r.cases_kept.len()
            );
            for (t, n) in &r.removed {
                println!("  {t}: {n}");
            }
            store.close().await;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Writes a file that must not exist yet (an export is never written over another file).
fn write_new(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("cannot create {} (it must not exist yet)", path.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}

const PG_BACKUP: &str = "Bordin does not back up PostgreSQL itself: use PostgreSQL's own tools, which take a consistent snapshot while the server runs:\n\n  pg_dump --format=custom --file=bordin.dump \"$DATABASE_URL\"\n  pg_restore --list bordin.dump > /dev/null   # check the dump can be read\n\nSee docs/operations.md.";
const PG_RESTORE: &str = "Bordin does not restore PostgreSQL itself: restore into an empty database with PostgreSQL's own tools:\n\n  createdb bordin_restored\n  pg_restore --exit-on-error --no-owner --dbname=bordin_restored bordin.dump\n\nSee docs/operations.md.";

/// `bordin backup`: SQLite online backup with a checked copy; PostgreSQL: the commands to use.
pub async fn backup(db: &str, out: &Path) -> Result<ExitCode> {
    if is_postgres_url(db) {
        eprintln!("{PG_BACKUP}");
        return Ok(ExitCode::from(2));
    }
    let store = Store::connect(db).await.context("opening the database")?;
    let summary = store.backup_to(out).await?;
    store.close().await;
    println!(
        "Backup written to {} ({} bytes) and checked (integrity_check: ok). {}",
        summary.path.display(),
        summary.bytes,
        counts(&summary.counts)
    );
    Ok(ExitCode::SUCCESS)
}

/// `bordin restore`: SQLite from a backup file; PostgreSQL: the commands to use.
pub async fn restore(from: &Path, db: &str, force: bool) -> Result<ExitCode> {
    if is_postgres_url(db) {
        eprintln!("{PG_RESTORE}");
        return Ok(ExitCode::from(2));
    }
    let summary = restore_sqlite(from, db, force).await?;
    println!(
        "Restored {} into {} and checked it (integrity_check: ok). {}",
        from.display(),
        summary.path.display(),
        counts(&summary.counts)
    );
    Ok(ExitCode::SUCCESS)
}

fn counts(c: &[(String, i64)]) -> String {
    c.iter()
        .map(|(t, n)| format!("{t}: {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `bordin config check FILE`: every problem named with its key; exit 1 when there are any.
pub fn config_check(file: &Path) -> Result<ExitCode> {
    match bordin_server::config::check_file(file) {
        Ok(c) => {
            println!("{}: ok", file.display());
            println!("{c:?}");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("{}: {e}", file.display());
            Ok(ExitCode::FAILURE)
        }
    }
}
