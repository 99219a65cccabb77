//! The research CSV: a long ("tidy") export of answers and scores with its codebook, and the
//! import of historical scores in the same format.
//!
//! One row per item answer and one per score (Wickham 2014, "Tidy data", J. Stat. Softw. 59(10):
//! one observation per row), UTF-8 with a header row, RFC 4180 quoting (the `csv` crate),
//! snake_case column names, ISO 8601 calendar dates. Clients appear only by their pseudonymous
//! code; dates may be shifted by a fixed offset per client (chosen by the caller), which keeps
//! intervals within a client's course and hides calendar dates.
//!
//! The import reads the same columns, so a clinic can bring its past data (a Bordin export, or a
//! spreadsheet written to match) and its closed cases count toward the clinic's own expected
//! courses. Every problem is reported by line and column, and nothing is returned unless the
//! whole file is valid.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use bordin_core::care::{CaseStatus, ResponseSource};
use bordin_core::scoring::ScaleScore;
use bordin_core::{format_value, Answers, Instrument, Registry, Respondent, ScoreSheet, Value};

/// The export's columns, in order, with their meaning (the codebook repeats these).
pub const COLUMNS: [(&str, &str); 14] = [
    ("clinic_id", "Bordin's id of the clinic the data comes from."),
    ("client_code", "The client's pseudonymous code in that clinic (no names are exported)."),
    ("case_key", "Identifier of the case (episode of care); stable within one export."),
    ("case_status", "State of the case when exported: active, closed or dropped_out."),
    ("session_number", "1-based number of the session within the case; empty when the answers are not tied to a session."),
    ("date", "Date of the session (or of the answers when there is no session), ISO 8601 YYYY-MM-DD; shifted per client when the export says so."),
    ("instrument", "Instrument id (see instruments in this codebook)."),
    ("instrument_version", "Version of the instrument definition."),
    ("respondent", "Who answered: client, therapist or observer."),
    ("response_key", "Identifier of the response; groups the item and score rows of one administration."),
    ("kind", "item (one answer) or score (one scale score)."),
    ("name", "Item id (kind = item) or scale id (kind = score) of the instrument."),
    ("value", "The answer, or the score with the scale's decimals; exact decimal text, '.' as decimal mark."),
    ("source", "How the answers reached Bordin: link, clinician, import or demo."),
];

/// One response to export.
#[derive(Debug, Clone)]
pub struct ExportResponse<'a> {
    pub clinic_id: &'a str,
    pub client_code: &'a str,
    pub case_key: &'a str,
    pub case_status: CaseStatus,
    pub session_number: Option<i64>,
    /// The unshifted date (`YYYY-MM-DD`).
    pub date: &'a str,
    pub instrument: &'a Instrument,
    pub respondent: Respondent,
    pub response_key: &'a str,
    pub source: ResponseSource,
    /// (item id, exact decimal text), in item order.
    pub answers: &'a [(String, String)],
    /// (scale id, exact value `num/den` or `num`).
    pub scores: &'a [(String, String)],
}

/// Date range and shifting of an export.
#[derive(Debug, Clone, Default)]
pub struct ExportOptions {
    /// Inclusive bounds on the unshifted date.
    pub from: Option<String>,
    pub to: Option<String>,
    /// Days added to each client's dates (by client code); absent codes are not shifted.
    pub shift_days: BTreeMap<String, i64>,
}

/// What an export wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExportSummary {
    pub responses: usize,
    pub rows: usize,
}

/// Errors of the research formats.
#[derive(Debug, thiserror::Error)]
pub enum ResearchError {
    #[error("writing the CSV: {0}")]
    Csv(#[from] csv::Error),
    #[error("a stored score '{0}' is not an exact value")]
    BadScore(String),
}

/// Parses a stored exact value (`num/den` or `num`).
pub fn parse_exact(s: &str) -> Option<Value> {
    let (n, d) = match s.split_once('/') {
        Some((n, d)) => (n.trim().parse::<i64>().ok()?, d.trim().parse::<i64>().ok()?),
        None => (s.trim().parse::<i64>().ok()?, 1),
    };
    (d != 0).then(|| Value::new(n, d))
}

/// Days since 1970-01-01 of a civil date (Hinnant, "chrono-Compatible Low-Level Date
/// Algorithms", days_from_civil).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day count (Hinnant, civil_from_days).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

/// Days since the epoch of a valid `YYYY-MM-DD` date.
pub fn date_days(date: &str) -> Option<i64> {
    if !bordin_core::goals::is_calendar_date(date) {
        return None;
    }
    let y = date.get(0..4)?.parse().ok()?;
    let m = date.get(5..7)?.parse().ok()?;
    let d = date.get(8..10)?.parse().ok()?;
    Some(days_from_civil(y, m, d))
}

/// `date` moved by `days`.
pub fn shift_date(date: &str, days: i64) -> Option<String> {
    let (y, m, d) = civil_from_days(date_days(date)? + days);
    Some(format!("{y:04}-{m:02}-{d:02}"))
}

/// Writes the long CSV (header included) of the responses inside the date range.
pub fn write_export<W: std::io::Write>(
    out: W,
    responses: &[ExportResponse<'_>],
    opts: &ExportOptions,
) -> Result<ExportSummary, ResearchError> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(COLUMNS.iter().map(|(c, _)| *c))?;
    let mut summary = ExportSummary::default();
    for r in responses {
        if opts.from.as_deref().is_some_and(|f| r.date < f)
            || opts.to.as_deref().is_some_and(|t| r.date > t)
        {
            continue;
        }
        let date = match opts.shift_days.get(r.client_code) {
            Some(&d) => shift_date(r.date, d).unwrap_or_else(|| r.date.to_owned()),
            None => r.date.to_owned(),
        };
        let session = r.session_number.map(|n| n.to_string()).unwrap_or_default();
        let inst = r.instrument;
        let mut row = |kind: &str, name: &str, value: &str| {
            w.write_record([
                r.clinic_id,
                r.client_code,
                r.case_key,
                r.case_status.as_str(),
                &session,
                &date,
                &inst.id,
                &inst.version,
                r.respondent.as_str(),
                r.response_key,
                kind,
                name,
                value,
                r.source.as_str(),
            ])
        };
        for (item, value) in r.answers {
            row("item", item, value)?;
            summary.rows += 1;
        }
        for scale in &inst.scales {
            let Some((_, exact)) = r.scores.iter().find(|(s, _)| *s == scale.id) else {
                continue;
            };
            let v = parse_exact(exact).ok_or_else(|| ResearchError::BadScore(exact.clone()))?;
            row("score", &scale.id, &format_value(v, scale.decimals))?;
            summary.rows += 1;
        }
        summary.responses += 1;
    }
    w.flush().map_err(csv::Error::from)?;
    Ok(summary)
}

// ---------------------------------------------------------------------------------------------
// Codebook

/// The codebook: every column and every code used in an export.
#[derive(Debug, Clone, Serialize)]
pub struct Codebook {
    pub format: &'static str,
    pub dates_shifted: bool,
    pub date_range: (Option<String>, Option<String>),
    pub columns: Vec<CodebookColumn>,
    pub codes: BTreeMap<&'static str, Vec<&'static str>>,
    pub instruments: Vec<CodebookInstrument>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CodebookColumn {
    pub name: &'static str,
    pub description: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct CodebookInstrument {
    pub id: String,
    pub version: String,
    pub title: String,
    pub citation: String,
    pub items: Vec<CodebookItem>,
    pub scales: Vec<CodebookScale>,
}

/// An item with its answer codes. `text` is the instrument file's wording; licence-gated
/// instruments have none there and only Bordin's neutral label is given.
#[derive(Debug, Clone, Serialize)]
pub struct CodebookItem {
    pub id: String,
    pub text: Option<String>,
    pub label: Option<String>,
    /// Value → meaning, for choice items.
    pub answers: BTreeMap<String, String>,
    /// `[min, max]` for visual-analogue items.
    pub range: Option<(f64, f64)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CodebookScale {
    pub id: String,
    pub title: String,
    pub decimals: u8,
    pub range: (f64, f64),
    pub bands: Vec<(f64, f64, String)>,
    pub higher_is_better: Option<bool>,
}

/// The codebook of an export that used `instruments`.
pub fn codebook(instruments: &[&Instrument], opts: &ExportOptions) -> Codebook {
    let mut codes = BTreeMap::new();
    codes.insert("case_status", vec!["active", "closed", "dropped_out"]);
    codes.insert("respondent", vec!["client", "therapist", "observer"]);
    codes.insert("kind", vec!["item", "score"]);
    codes.insert("source", vec!["link", "clinician", "import", "demo"]);
    Codebook {
        format:
            "long CSV, UTF-8, header row, RFC 4180 quoting, one row per item answer and per score",
        dates_shifted: !opts.shift_days.is_empty(),
        date_range: (opts.from.clone(), opts.to.clone()),
        columns: COLUMNS
            .iter()
            .map(|(name, description)| CodebookColumn { name, description })
            .collect(),
        codes,
        instruments: instruments
            .iter()
            .map(|i| CodebookInstrument {
                id: i.id.clone(),
                version: i.version.clone(),
                title: i.title.clone(),
                citation: i.citation.clone(),
                items: i
                    .items
                    .iter()
                    .enumerate()
                    .map(|(pos, it)| {
                        let rs = i.response_scale_of(pos);
                        let (lo, hi) = rs.bounds();
                        CodebookItem {
                            id: it.id.clone(),
                            text: it.text.clone(),
                            label: it.label.clone(),
                            answers: rs
                                .points()
                                .iter()
                                .map(|p| (p.value.to_string(), p.label.clone()))
                                .collect(),
                            range: rs
                                .points()
                                .is_empty()
                                .then(|| (bordin_core::to_f64(lo), bordin_core::to_f64(hi))),
                        }
                    })
                    .collect(),
                scales: i
                    .scales
                    .iter()
                    .map(|s| CodebookScale {
                        id: s.id.clone(),
                        title: s.title.clone(),
                        decimals: s.decimals,
                        range: s.range,
                        bands: s
                            .bands
                            .iter()
                            .map(|b| (b.min, b.max, b.label.clone()))
                            .collect(),
                        higher_is_better: s.change.as_ref().map(|c| c.higher_is_better),
                    })
                    .collect(),
            })
            .collect(),
    }
}

// ---------------------------------------------------------------------------------------------
// Import of historical scores

/// One problem in an import file, at a line (1-based, the header is line 1) and column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct LineError {
    pub line: u64,
    pub column: String,
    pub message: String,
}

/// A historical response, valid for its instrument.
#[derive(Debug, Clone)]
pub struct ImportedResponse {
    pub instrument: Arc<Instrument>,
    pub respondent: Respondent,
    /// The item answers (none answered when the file had only scores).
    pub answers: Answers,
    /// Computed by the core from the items, or the file's scores when it had no items.
    pub sheet: ScoreSheet,
}

#[derive(Debug, Clone)]
pub struct ImportedSession {
    pub number: i64,
    pub date: String,
    pub responses: Vec<ImportedResponse>,
}

#[derive(Debug, Clone)]
pub struct ImportedCase {
    pub key: String,
    pub client_code: String,
    pub status: CaseStatus,
    pub opened_on: String,
    /// The last session's date, for cases that ended.
    pub closed_on: Option<String>,
    pub sessions: Vec<ImportedSession>,
}

/// Import files are read whole; keep them to a size a clinic's history plausibly has.
pub const MAX_IMPORT_ROWS: usize = 2_000_000;

struct Row {
    line: u64,
    client_code: String,
    case_key: String,
    case_status: CaseStatus,
    session_number: i64,
    date: String,
    instrument: Arc<Instrument>,
    respondent: Respondent,
    response_key: String,
    is_item: bool,
    name: String,
    value: String,
}

fn client_code_ok(code: &str) -> bool {
    (1..=32).contains(&code.chars().count())
        && code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Reads a historical scores CSV (the export's columns; `clinic_id`, `instrument_version`,
/// `respondent`, `response_key` and `source` are optional) into cases. Items of a response are
/// scored by the core; scores given beside items must equal what the core computes; scores
/// given alone are checked against the scale's range. All problems are returned.
pub fn read_scores(text: &[u8], registry: &Registry) -> Result<Vec<ImportedCase>, Vec<LineError>> {
    let mut errors = Vec::new();
    let err = |line: u64, column: &str, message: String| LineError {
        line,
        column: column.to_owned(),
        message,
    };
    let mut rdr = csv::ReaderBuilder::new().flexible(false).from_reader(text);
    let headers = match rdr.headers() {
        Ok(h) => h.clone(),
        Err(e) => return Err(vec![err(1, "", format!("cannot read the header: {e}"))]),
    };
    let col = |name: &str| headers.iter().position(|h| h.trim() == name);
    let required = [
        "client_code",
        "case_key",
        "case_status",
        "session_number",
        "date",
        "instrument",
        "kind",
        "name",
        "value",
    ];
    for r in required {
        if col(r).is_none() {
            errors.push(err(
                1,
                r,
                format!(
                    "the header has no '{r}' column (columns: {})",
                    COLUMNS.map(|c| c.0).join(",")
                ),
            ));
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let idx = |name: &str| col(name).unwrap_or(usize::MAX);
    let (c_code, c_case, c_status, c_session, c_date, c_inst, c_kind, c_name, c_value) = (
        idx("client_code"),
        idx("case_key"),
        idx("case_status"),
        idx("session_number"),
        idx("date"),
        idx("instrument"),
        idx("kind"),
        idx("name"),
        idx("value"),
    );
    let (c_version, c_resp, c_key) = (
        col("instrument_version"),
        col("respondent"),
        col("response_key"),
    );
    let mut rows = Vec::new();
    for (n, rec) in rdr.records().enumerate() {
        let line = n as u64 + 2;
        if n >= MAX_IMPORT_ROWS {
            errors.push(err(
                line,
                "",
                format!("more than {MAX_IMPORT_ROWS} rows: split the file"),
            ));
            break;
        }
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                errors.push(err(line, "", format!("not a valid CSV row: {e}")));
                if errors.len() > 200 {
                    break;
                }
                continue;
            }
        };
        let get = |i: usize| rec.get(i).unwrap_or("").trim();
        let before = errors.len();
        let client_code = get(c_code);
        if !client_code_ok(client_code) {
            errors.push(err(
                line,
                "client_code",
                format!("'{client_code}' is not a client code (1-32 letters, digits, '-' or '_')"),
            ));
        }
        let case_key = get(c_case);
        if case_key.is_empty() || case_key.len() > 100 {
            errors.push(err(
                line,
                "case_key",
                "needs a case key of 1-100 characters".into(),
            ));
        }
        let case_status = CaseStatus::parse(get(c_status));
        if case_status.is_none() {
            errors.push(err(
                line,
                "case_status",
                format!("'{}' is not active, closed or dropped_out", get(c_status)),
            ));
        }
        let session_number = get(c_session)
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=10_000).contains(n));
        if session_number.is_none() {
            errors.push(err(
                line,
                "session_number",
                format!(
                    "'{}' is not a session number from 1 to 10000",
                    get(c_session)
                ),
            ));
        }
        let date = get(c_date);
        if !bordin_core::goals::is_calendar_date(date) {
            errors.push(err(
                line,
                "date",
                format!("'{date}' is not a date (YYYY-MM-DD)"),
            ));
        }
        let instrument = registry.get(get(c_inst)).cloned();
        if instrument.is_none() {
            let known: Vec<String> = registry.instruments().map(|i| i.id.clone()).collect();
            errors.push(err(
                line,
                "instrument",
                format!(
                    "no instrument '{}' (known: {})",
                    get(c_inst),
                    known.join(", ")
                ),
            ));
        }
        if let (Some(i), Some(c)) = (&instrument, c_version) {
            let v = get(c);
            if !v.is_empty() && v != i.version {
                errors.push(err(
                    line,
                    "instrument_version",
                    format!(
                        "version '{v}' of {} is not installed (installed: {})",
                        i.id, i.version
                    ),
                ));
            }
        }
        let respondent = match c_resp.map(get).filter(|s| !s.is_empty()) {
            None => instrument.as_ref().map(|i| i.respondent),
            Some(s) => {
                let r = Respondent::parse(s);
                if r.is_none() {
                    errors.push(err(
                        line,
                        "respondent",
                        format!("'{s}' is not client, therapist or observer"),
                    ));
                }
                r
            }
        };
        let is_item = match get(c_kind) {
            "item" => Some(true),
            "score" => Some(false),
            other => {
                errors.push(err(line, "kind", format!("'{other}' is not item or score")));
                None
            }
        };
        let name = get(c_name);
        if let (Some(i), Some(item)) = (&instrument, is_item) {
            let known = if item {
                i.item_position(name).is_some()
            } else {
                i.scale_position(name).is_some()
            };
            if !known {
                errors.push(err(
                    line,
                    "name",
                    format!(
                        "'{name}' is not {} of {}",
                        if item { "an item" } else { "a scale" },
                        i.id
                    ),
                ));
            }
        }
        if errors.len() > before {
            if errors.len() > 200 {
                break;
            }
            continue;
        }
        let (
            Some(case_status),
            Some(session_number),
            Some(instrument),
            Some(respondent),
            Some(is_item),
        ) = (case_status, session_number, instrument, respondent, is_item)
        else {
            continue;
        };
        let response_key = c_key.map(get).filter(|s| !s.is_empty()).map_or_else(
            || {
                format!(
                    "{case_key}/{session_number}/{}/{}",
                    instrument.id,
                    respondent.as_str()
                )
            },
            str::to_owned,
        );
        rows.push(Row {
            line,
            client_code: client_code.to_owned(),
            case_key: case_key.to_owned(),
            case_status,
            session_number,
            date: date.to_owned(),
            instrument,
            respondent,
            response_key,
            is_item,
            name: name.to_owned(),
            value: get(c_value).to_owned(),
        });
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let cases = assemble(rows, &mut errors);
    if errors.is_empty() {
        Ok(cases)
    } else {
        Err(errors)
    }
}

fn assemble(rows: Vec<Row>, errors: &mut Vec<LineError>) -> Vec<ImportedCase> {
    let err = |line: u64, column: &str, message: String| LineError {
        line,
        column: column.to_owned(),
        message,
    };
    // case key → session number → response key → rows (first-seen order kept by BTreeMap keys).
    let mut by_case: BTreeMap<String, BTreeMap<i64, BTreeMap<String, Vec<Row>>>> = BTreeMap::new();
    let mut first: BTreeMap<String, (u64, String, CaseStatus)> = BTreeMap::new();
    let mut dates: BTreeMap<(String, i64), (u64, String)> = BTreeMap::new();
    for r in rows {
        let (line0, code0, status0) = first
            .entry(r.case_key.clone())
            .or_insert((r.line, r.client_code.clone(), r.case_status))
            .clone();
        if code0 != r.client_code {
            errors.push(err(
                r.line,
                "client_code",
                format!(
                    "case '{}' belongs to client '{code0}' (line {line0}); one case, one client",
                    r.case_key
                ),
            ));
            continue;
        }
        if status0 != r.case_status {
            errors.push(err(
                r.line,
                "case_status",
                format!(
                    "case '{}' was '{}' on line {line0}",
                    r.case_key,
                    status0.as_str()
                ),
            ));
            continue;
        }
        let (dline, d0) = dates
            .entry((r.case_key.clone(), r.session_number))
            .or_insert((r.line, r.date.clone()))
            .clone();
        if d0 != r.date {
            errors.push(err(
                r.line,
                "date",
                format!(
                    "session {} of case '{}' is dated {d0} on line {dline}",
                    r.session_number, r.case_key
                ),
            ));
            continue;
        }
        by_case
            .entry(r.case_key.clone())
            .or_default()
            .entry(r.session_number)
            .or_default()
            .entry(r.response_key.clone())
            .or_default()
            .push(r);
    }
    let mut out = Vec::new();
    for (key, sessions) in by_case {
        let Some((_, code, status)) = first.get(&key).cloned() else {
            continue;
        };
        let mut case_sessions = Vec::new();
        for (number, responses) in sessions {
            let date = dates
                .get(&(key.clone(), number))
                .map(|d| d.1.clone())
                .unwrap_or_default();
            let mut rs = Vec::new();
            for (_, rows) in responses {
                if let Some(r) = response(&rows, errors) {
                    rs.push(r);
                }
            }
            case_sessions.push(ImportedSession {
                number,
                date,
                responses: rs,
            });
        }
        let opened_on = case_sessions
            .iter()
            .map(|s| s.date.clone())
            .min()
            .unwrap_or_default();
        let closed_on = (status != CaseStatus::Active)
            .then(|| case_sessions.iter().map(|s| s.date.clone()).max())
            .flatten();
        out.push(ImportedCase {
            key,
            client_code: code,
            status,
            opened_on,
            closed_on,
            sessions: case_sessions,
        });
    }
    out
}

fn response(rows: &[Row], errors: &mut Vec<LineError>) -> Option<ImportedResponse> {
    let first = rows.first()?;
    let inst = first.instrument.clone();
    let mut bad = false;
    for r in rows {
        if !Arc::ptr_eq(&r.instrument, &inst) || r.respondent != first.respondent {
            errors.push(LineError {
                line: r.line,
                column: "response_key".into(),
                message: format!(
                    "response '{}' mixes instruments or respondents (see line {})",
                    r.response_key, first.line
                ),
            });
            bad = true;
        }
    }
    if bad {
        return None;
    }
    let items: Vec<&Row> = rows.iter().filter(|r| r.is_item).collect();
    let answers = match Answers::parse(
        &inst,
        items.iter().map(|r| (r.name.as_str(), r.value.as_str())),
    ) {
        Ok(a) => a,
        Err(errs) => {
            for e in errs {
                let line = items
                    .iter()
                    .filter(|r| r.name == e.item)
                    .map(|r| r.line)
                    .next_back()
                    .unwrap_or(first.line);
                errors.push(LineError {
                    line,
                    column: "value".into(),
                    message: e.to_string(),
                });
            }
            return None;
        }
    };
    let computed = inst.score(&answers);
    let mut given: BTreeMap<usize, (u64, Value)> = BTreeMap::new();
    for r in rows.iter().filter(|r| !r.is_item) {
        let Some(pos) = inst.scale_position(&r.name) else {
            continue;
        };
        if r.value.is_empty() {
            continue; // not scored in the source
        }
        let Some(v) = bordin_core::parse_decimal(&r.value) else {
            errors.push(LineError {
                line: r.line,
                column: "value".into(),
                message: format!("'{}' is not a number", r.value),
            });
            bad = true;
            continue;
        };
        if given.insert(pos, (r.line, v)).is_some() {
            errors.push(LineError {
                line: r.line,
                column: "name".into(),
                message: format!("scale '{}' is given twice for this response", r.name),
            });
            bad = true;
        }
    }
    if bad {
        return None;
    }
    let has_items = !items.is_empty();
    let sheet = if has_items {
        for (pos, (line, v)) in &given {
            let def = &inst.scales[*pos];
            let shown = computed.scales[*pos]
                .value
                .map(|c| format_value(c, def.decimals));
            if shown.as_deref() != Some(format_value(*v, def.decimals).as_str()) {
                errors.push(LineError {
                    line: *line,
                    column: "value".into(),
                    message: format!(
                        "{} {} does not match the score of the items on this response ({})",
                        def.id,
                        format_value(*v, def.decimals),
                        shown.unwrap_or_else(|| "not scorable".into())
                    ),
                });
                bad = true;
            }
        }
        computed
    } else {
        let mut sheet = ScoreSheet::default();
        for (pos, def) in inst.scales.iter().enumerate() {
            let value = given.get(&pos).map(|g| g.1);
            if let (Some(v), Some((line, _))) = (value, given.get(&pos)) {
                let f = bordin_core::to_f64(v);
                if f < def.range.0 || f > def.range.1 {
                    errors.push(LineError {
                        line: *line,
                        column: "value".into(),
                        message: format!(
                            "{} {} is outside the scale's range {} to {}",
                            def.id,
                            r_fmt(v),
                            def.range.0,
                            def.range.1
                        ),
                    });
                    bad = true;
                }
            }
            let band = value.and_then(|v| {
                let f = bordin_core::to_f64(v);
                def.bands.iter().position(|b| f >= b.min && f <= b.max)
            });
            sheet.scales.push(ScaleScore {
                value,
                answered: 0,
                missing: 0,
                band,
            });
        }
        sheet
    };
    (!bad).then_some(ImportedResponse {
        instrument: inst,
        respondent: first.respondent,
        answers,
        sheet,
    })
}

fn r_fmt(v: Value) -> String {
    bordin_core::exact_decimal(v).unwrap_or_else(|| format_value(v, 3))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str =
        "client_code,case_key,case_status,session_number,date,instrument,kind,name,value\n";

    #[test]
    fn civil_dates_round_trip() {
        assert_eq!(date_days("1970-01-01"), Some(0));
        assert_eq!(date_days("2000-03-01"), Some(11_017));
        assert_eq!(shift_date("2024-02-28", 1).as_deref(), Some("2024-02-29"));
        assert_eq!(shift_date("2024-03-01", -1).as_deref(), Some("2024-02-29"));
        assert_eq!(shift_date("2023-12-31", 1).as_deref(), Some("2024-01-01"));
        for z in [-800_000, -1, 0, 59, 60, 10_000, 2_932_896] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
    }

    #[test]
    fn scores_only_and_items_import_and_bad_rows_are_named() {
        let reg = Registry::builtin().unwrap();
        let csv = format!(
            "{HEADER}H-1,k1,closed,1,2025-01-06,phq9,score,total,18\nH-1,k1,closed,2,2025-01-13,phq9,score,total,12\n\
             H-2,k2,closed,1,2025-01-07,gad7,item,q1,1\nH-2,k2,closed,1,2025-01-07,gad7,item,q2,2\nH-2,k2,closed,1,2025-01-07,gad7,item,q3,0\n\
             H-2,k2,closed,1,2025-01-07,gad7,item,q4,1\nH-2,k2,closed,1,2025-01-07,gad7,item,q5,1\nH-2,k2,closed,1,2025-01-07,gad7,item,q6,0\n\
             H-2,k2,closed,1,2025-01-07,gad7,item,q7,3\nH-2,k2,closed,1,2025-01-07,gad7,score,total,8\n"
        );
        let cases = read_scores(csv.as_bytes(), &reg).unwrap();
        assert_eq!(cases.len(), 2);
        assert_eq!(cases[0].closed_on.as_deref(), Some("2025-01-13"));
        let phq = &cases[0].sessions[0].responses[0];
        assert_eq!(
            phq.sheet.value(&phq.instrument, "total"),
            Some(Value::from_integer(18))
        );
        assert_eq!(
            phq.sheet.severity(&phq.instrument),
            Some("moderately severe")
        );
        let gad = &cases[1].sessions[0].responses[0];
        assert_eq!(
            gad.sheet.value(&gad.instrument, "total"),
            Some(Value::from_integer(8))
        );

        let bad = format!(
            "{HEADER}H-1,k1,closed,1,2025-01-06,phq9,score,total,99\nH 1,k1,closed,x,2025-02-30,phq99,thing,total,1\n\
             H-2,k2,closed,1,2025-01-07,gad7,item,q1,7\nH-2,k2,closed,1,2025-01-07,gad7,score,total,9\n"
        );
        let errs = read_scores(bad.as_bytes(), &reg).unwrap_err();
        let at: Vec<(u64, &str)> = errs.iter().map(|e| (e.line, e.column.as_str())).collect();
        for want in [
            (3, "client_code"),
            (3, "session_number"),
            (3, "date"),
            (3, "instrument"),
            (3, "kind"),
        ] {
            assert!(at.contains(&want), "{want:?} not in {at:?}");
        }
        // Second pass (after the row errors are fixed) finds the values.
        let bad2 = format!(
            "{HEADER}H-1,k1,closed,1,2025-01-06,phq9,score,total,99\n\
             H-2,k2,closed,1,2025-01-07,gad7,item,q1,7\nH-2,k2,closed,1,2025-01-07,gad7,score,total,9\n"
        );
        let errs = read_scores(bad2.as_bytes(), &reg).unwrap_err();
        let at: Vec<(u64, &str)> = errs.iter().map(|e| (e.line, e.column.as_str())).collect();
        assert!(at.contains(&(2, "value")), "{at:?}");
        assert!(at.contains(&(3, "value")), "{at:?}");
    }

    #[test]
    fn the_export_is_long_and_shifts_dates_per_client() {
        let reg = Registry::builtin().unwrap();
        let phq9 = reg.get("phq9").unwrap();
        let answers: Vec<(String, String)> =
            (1..=9).map(|i| (format!("q{i}"), "1".to_owned())).collect();
        let scores = vec![("total".to_owned(), "9".to_owned())];
        let r = ExportResponse {
            clinic_id: "c",
            client_code: "A, \"1\"",
            case_key: "k",
            case_status: CaseStatus::Closed,
            session_number: Some(1),
            date: "2025-01-31",
            instrument: phq9,
            respondent: Respondent::Client,
            response_key: "r",
            source: ResponseSource::Link,
            answers: &answers,
            scores: &scores,
        };
        let mut opts = ExportOptions::default();
        opts.shift_days.insert("A, \"1\"".into(), 3);
        let mut out = Vec::new();
        let s = write_export(&mut out, std::slice::from_ref(&r), &opts).unwrap();
        assert_eq!(
            s,
            ExportSummary {
                responses: 1,
                rows: 10
            }
        );
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "clinic_id,client_code,case_key,case_status,session_number,date,instrument,instrument_version,respondent,response_key,kind,name,value,source");
        assert_eq!(
            lines[1],
            "c,\"A, \"\"1\"\"\",k,closed,1,2025-02-03,phq9,1,client,r,item,q1,1,link"
        );
        assert_eq!(
            lines[10],
            "c,\"A, \"\"1\"\"\",k,closed,1,2025-02-03,phq9,1,client,r,score,total,9,link"
        );
        opts.from = Some("2025-02-01".into());
        let mut out = Vec::new();
        assert_eq!(write_export(&mut out, &[r], &opts).unwrap().rows, 0);
    }
}
