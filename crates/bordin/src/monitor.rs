//! `bordin monitor`: monitoring signals for scores kept elsewhere (a spreadsheet, another system).
//!
//! Input is long-format CSV with a header row naming the columns `case,session,date,measure,value`
//! (in any order). Each data row is one score: `measure` is `instrument.scale` (`wai_sr.total`,
//! `phq9.total`, `session_check.bond`) or `instrument.item` (`phq9.q9`) of a known instrument,
//! `session` a whole number from 1, `date` a calendar date `YYYY-MM-DD` (checked, not otherwise
//! used) and `value` a number. A second value for the same case, session and measure replaces the
//! first. Every session that has a score counts as attended.
//!
//! Rows may come in any order: each case's scores are gathered in memory as they are read (about
//! 50 bytes a score) and the cases are evaluated when the input ends, in the order in which they
//! first appear. Input sorted by case needs no more memory than unsorted input.
//!
//! Each case is evaluated with Bordin's rules for the known instruments
//! ([`Rules::for_registry`]): the shipped thresholds, not calibrated on the input (a clinic's own
//! calibration needs to know which cases are closed, which the input does not say).
//!
//! Output is JSON Lines, one object per signal:
//! `{"case","session","kind","measure","urgency","message","detail"}` with `kind` one of
//! [`SignalKind::as_str`] (`rupture`, `repair`, `reliable_improvement`, …).
//!
//! A row with the wrong number of fields, a session or value that is not a number, an unknown
//! measure or a malformed date is reported on the error stream with its physical line number
//! (the header is line 1) and skipped; the other rows are still used, and
//! [`Summary::rejected`] counts the skipped ones so the command can exit non-zero.

use std::collections::{HashMap, HashSet};
use std::io::{BufWriter, Read, Write};

use bordin_core::monitoring::signals::{evaluate, CaseData, Rules, Signal, SignalKind};
use bordin_core::Registry;

/// The input columns, in the order [`monitor_stream`] reads them.
const COLUMNS: [&str; 5] = ["case", "session", "date", "measure", "value"];

/// What a run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Summary {
    /// Data rows read (the header is not counted).
    pub rows: u64,
    /// Rows reported on the error stream and skipped.
    pub rejected: u64,
    /// Cases with at least one usable row.
    pub cases: u64,
    /// Signals written.
    pub signals: u64,
}

/// Why a run stopped. Bad rows do not stop a run; they are counted in [`Summary::rejected`].
#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    #[error("the input is empty: expected a header row `case,session,date,measure,value`")]
    EmptyInput,
    #[error("line 1: column '{0}' is not one of case, session, date, measure, value")]
    UnknownColumn(String),
    #[error("line 1: column '{0}' appears more than once")]
    DuplicateColumn(String),
    #[error("line 1: there is no '{0}' column (the header is `case,session,date,measure,value`)")]
    MissingColumn(&'static str),
    #[error("reading the input: {0}")]
    Read(#[source] csv::Error),
    #[error("writing: {0}")]
    Io(#[from] std::io::Error),
}

/// Which measure names the registry knows, resolved once: `instrument.scale` and
/// `instrument.item`.
struct Measures<'r> {
    registry: &'r Registry,
    /// Names already found known (the same few measures repeat on every row).
    known: HashSet<String>,
}

impl<'r> Measures<'r> {
    fn new(registry: &'r Registry) -> Self {
        Self {
            registry,
            known: HashSet::new(),
        }
    }

    /// `Ok(())` when `name` is a known measure, else why not.
    fn check(&mut self, name: &str) -> Result<(), String> {
        if self.known.contains(name) {
            return Ok(());
        }
        let Some((inst, part)) = name.split_once('.') else {
            return Err(format!(
                "measure '{name}' is not `instrument.scale` or `instrument.item` (e.g. wai_sr.total, phq9.q9)"
            ));
        };
        let Some(instrument) = self.registry.get(inst) else {
            let known: Vec<&str> = self.registry.instruments().map(|i| i.id.as_str()).collect();
            return Err(format!(
                "measure '{name}': no instrument '{inst}' (known: {})",
                known.join(", ")
            ));
        };
        if instrument.scales.iter().any(|s| s.id == part)
            || instrument.item_position(part).is_some()
        {
            self.known.insert(name.to_owned());
            return Ok(());
        }
        let scales: Vec<&str> = instrument.scales.iter().map(|s| s.id.as_str()).collect();
        let items = match (instrument.items.first(), instrument.items.last()) {
            (Some(a), Some(b)) => format!("; items {}–{}", a.id, b.id),
            _ => String::new(),
        };
        Err(format!(
            "measure '{name}': {inst} has no scale or item '{part}' (scales {}{items})",
            scales.join(", ")
        ))
    }
}

/// One usable row.
struct Row<'a> {
    case: &'a str,
    session: i64,
    measure: &'a str,
    value: f64,
}

fn parse_row<'a>(fields: [&'a str; 5], measures: &mut Measures<'_>) -> Result<Row<'a>, String> {
    let [case, session, date, measure, value] = fields.map(str::trim);
    if case.is_empty() {
        return Err("the case is blank".into());
    }
    let session = match session.parse::<i64>() {
        Ok(n) if n >= 1 => n,
        _ => return Err(format!("session '{session}' is not a whole number from 1")),
    };
    if crate::demo::parse_date(date).is_none() {
        return Err(format!("date '{date}' is not a calendar date YYYY-MM-DD"));
    }
    measures.check(measure)?;
    let value = match value.parse::<f64>() {
        Ok(v) if v.is_finite() => v,
        _ => return Err(format!("value '{value}' is not a number")),
    };
    Ok(Row {
        case,
        session,
        measure,
        value,
    })
}

/// Writes one signal as a JSON line.
fn write_signal<W: Write>(out: &mut W, case: &str, s: &Signal) -> std::io::Result<()> {
    let line = serde_json::json!({
        "case": case,
        "session": s.session,
        "kind": s.kind.as_str(),
        "measure": s.measure,
        "urgency": s.kind.urgency(),
        "message": s.message,
        "detail": s.detail,
    });
    serde_json::to_writer(&mut *out, &line)?;
    out.write_all(b"\n")
}

/// Reads long-format scores from `input`, writes every case's signals to `output` and one line
/// per problem to `errors`. See the module documentation for the formats.
pub fn monitor_stream<R: Read, W: Write, E: Write>(
    registry: &Registry,
    input: R,
    output: W,
    errors: E,
) -> Result<Summary, MonitorError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(input);
    let mut out = BufWriter::new(output);
    let mut err = BufWriter::new(errors);
    let mut record = csv::StringRecord::new();

    if !reader
        .read_record(&mut record)
        .map_err(MonitorError::Read)?
    {
        return Err(MonitorError::EmptyInput);
    }
    // Position of each of COLUMNS in the input.
    let mut at: [Option<usize>; 5] = [None; 5];
    for (k, name) in record.iter().enumerate() {
        let name = if k == 0 {
            name.trim_start_matches('\u{feff}')
        } else {
            name
        }
        .trim();
        let Some(c) = COLUMNS.iter().position(|&c| c == name) else {
            return Err(MonitorError::UnknownColumn(name.to_owned()));
        };
        if at[c].replace(k).is_some() {
            return Err(MonitorError::DuplicateColumn(name.to_owned()));
        }
    }
    let mut pos = [0usize; 5];
    for (c, p) in at.iter().enumerate() {
        pos[c] = p.ok_or(MonitorError::MissingColumn(COLUMNS[c]))?;
    }
    let n_fields = record.len();

    let mut measures = Measures::new(registry);
    let mut summary = Summary::default();
    // Cases in order of first appearance, with their data.
    let mut cases: Vec<(String, CaseData)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();

    while reader
        .read_record(&mut record)
        .map_err(MonitorError::Read)?
    {
        summary.rows += 1;
        let line = record.position().map_or(0, csv::Position::line);
        if record.len() != n_fields {
            writeln!(
                err,
                "line {line}: expected {n_fields} fields as in the header, found {}",
                record.len()
            )?;
            summary.rejected += 1;
            continue;
        }
        let fields = pos.map(|p| record.get(p).unwrap_or(""));
        let row = match parse_row(fields, &mut measures) {
            Ok(r) => r,
            Err(why) => {
                writeln!(err, "line {line}: {why}")?;
                summary.rejected += 1;
                continue;
            }
        };
        let k = match index.get(row.case) {
            Some(&k) => k,
            None => {
                index.insert(row.case.to_owned(), cases.len());
                cases.push((row.case.to_owned(), CaseData::default()));
                cases.len() - 1
            }
        };
        cases[k].1.add(row.measure, row.session, row.value);
    }
    err.flush()?;

    let rules = Rules::for_registry(registry);
    for (case, data) in &cases {
        for s in evaluate(data, &rules) {
            write_signal(&mut out, case, &s)?;
            summary.signals += 1;
        }
    }
    summary.cases = cases.len() as u64;
    out.flush()?;
    Ok(summary)
}

/// The kinds a signal line may carry (for documentation and tests).
pub fn kinds() -> impl Iterator<Item = &'static str> {
    [
        SignalKind::Rupture,
        SignalKind::Repair,
        SignalKind::ReliableImprovement,
        SignalKind::ReliableDeterioration,
        SignalKind::Recovery,
        SignalKind::NotOnTrack,
        SignalKind::Risk,
        SignalKind::Discrepancy,
        SignalKind::LowEarlyAlliance,
        SignalKind::MissingMeasure,
        SignalKind::DropoutRisk,
    ]
    .into_iter()
    .map(SignalKind::as_str)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn run(input: &str) -> (Summary, Vec<serde_json::Value>, String) {
        let registry = Registry::builtin().unwrap();
        let mut out = Vec::new();
        let mut err = Vec::new();
        let summary = monitor_stream(&registry, input.as_bytes(), &mut out, &mut err).unwrap();
        let lines = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        (summary, lines, String::from_utf8(err).unwrap())
    }

    fn find<'a>(
        lines: &'a [serde_json::Value],
        case: &str,
        kind: &str,
    ) -> Vec<&'a serde_json::Value> {
        lines
            .iter()
            .filter(|l| l["case"] == case && l["kind"] == kind)
            .collect()
    }

    const HEADER: &str = "case,session,date,measure,value\n";

    /// WAI-SR total of a stable client with a dip at session 5, back at 6.
    fn rupture_case(case: &str) -> String {
        [50, 51, 50, 50, 42, 50, 51]
            .iter()
            .enumerate()
            .map(|(i, v)| format!("{case},{},2025-01-{:02},wai_sr.total,{v}\n", i + 1, i + 1))
            .collect()
    }

    #[test]
    fn a_planted_rupture_and_repair_are_found_at_their_sessions() {
        let (summary, lines, err) = run(&format!("{HEADER}{}", rupture_case("a")));
        assert_eq!(err, "");
        assert_eq!(summary.rows, 7);
        assert_eq!(summary.rejected, 0);
        assert_eq!(summary.cases, 1);
        let r = find(&lines, "a", "rupture");
        assert_eq!(r.len(), 1);
        assert_eq!(r[0]["session"], 5);
        assert_eq!(r[0]["measure"], "wai_sr.total");
        assert_eq!(r[0]["detail"]["lowest"], 42.0);
        let r = find(&lines, "a", "repair");
        assert_eq!(r.len(), 1);
        assert_eq!(r[0]["session"], 6);
        // Nothing else: the alliance was rated at every session.
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert_eq!(summary.signals, 2);
    }

    #[test]
    fn unsorted_rows_are_grouped_by_case() {
        // The rows of two cases interleaved and in reverse: the same signals as sorted input.
        let mut rows: Vec<String> = rupture_case("a")
            .lines()
            .zip(rupture_case("b").lines())
            .flat_map(|(a, b)| [format!("{a}\n"), format!("{b}\n")])
            .collect();
        rows.reverse();
        let (summary, lines, _) = run(&format!("{HEADER}{}", rows.concat()));
        assert_eq!(summary.cases, 2);
        for case in ["a", "b"] {
            assert_eq!(find(&lines, case, "rupture")[0]["session"], 5);
            assert_eq!(find(&lines, case, "repair")[0]["session"], 6);
        }
        // Cases in order of first appearance: b's last row comes first.
        assert_eq!(lines[0]["case"], "b");
    }

    #[test]
    fn deterioration_and_risk_are_found() {
        // PHQ-9 8 → 10 → 15: +7 from intake is reliable (6 points) at session 5; item 9 answered
        // 1 at session 3 is a risk signal.
        let input = format!(
            "{HEADER}c,1,2025-01-01,phq9.total,8\nc,1,2025-01-01,phq9.q9,0\nc,3,2025-01-15,phq9.total,10\n\
             c,3,2025-01-15,phq9.q9,1\nc,5,2025-01-29,phq9.total,15\nc,5,2025-01-29,phq9.q9,0\n"
        );
        let (_, lines, _) = run(&input);
        let d = find(&lines, "c", "reliable_deterioration");
        assert_eq!(d.len(), 1);
        assert_eq!(
            (d[0]["session"].clone(), d[0]["measure"].clone()),
            (5.into(), "phq9.total".into())
        );
        let r = find(&lines, "c", "risk");
        assert_eq!(r.len(), 1);
        assert_eq!(r[0]["session"], 3);
        assert_eq!(r[0]["urgency"], "red");
    }

    #[test]
    fn bad_rows_are_reported_with_their_line_and_the_rest_used() {
        let input = format!(
            "{HEADER}{}a,x,2025-02-01,wai_sr.total,50\na,8,2025-02-30,wai_sr.total,50\n\
             a,8,2025-02-03,wai_sr.nope,50\na,8,2025-02-03,nope.total,50\na,8,2025-02-03,total,50\n\
             a,8,2025-02-03,wai_sr.total,high\na,8\n,8,2025-02-03,wai_sr.total,50\na,0,2025-02-03,wai_sr.total,50\n\
             a,8,2025-02-03,phq9.q9,1\n",
            rupture_case("a")
        );
        let (summary, lines, err) = run(&input);
        assert_eq!(summary.rows, 17);
        assert_eq!(summary.rejected, 9);
        for (line, what) in [
            (9, "session 'x'"),
            (10, "date '2025-02-30'"),
            (
                11,
                "measure 'wai_sr.nope': wai_sr has no scale or item 'nope'",
            ),
            (12, "measure 'nope.total': no instrument 'nope'"),
            (13, "measure 'total' is not"),
            (14, "value 'high'"),
            (15, "expected 5 fields"),
            (16, "the case is blank"),
            (17, "session '0'"),
        ] {
            assert!(
                err.contains(&format!("line {line}: {what}")),
                "{line}: {err}"
            );
        }
        assert_eq!(err.lines().count(), 9, "{err}");
        // The good rows still count: the rupture, and the risk answer (item q9 is a measure).
        assert_eq!(find(&lines, "a", "rupture")[0]["session"], 5);
        assert_eq!(find(&lines, "a", "risk")[0]["session"], 8);
    }

    #[test]
    fn header_problems_stop_the_run() {
        let registry = Registry::builtin().unwrap();
        let go = |input: &str| {
            monitor_stream(&registry, input.as_bytes(), Vec::new(), Vec::new())
                .unwrap_err()
                .to_string()
        };
        assert!(go("").contains("empty"));
        assert!(go("case,session,date,measure\n").contains("'value'"));
        assert!(go("case,session,date,measure,value,extra\n").contains("'extra'"));
        assert!(go("case,case,date,measure,value\n").contains("more than once"));
        // Columns in another order, and a byte-order mark, are fine.
        let mut out = Vec::new();
        let s = monitor_stream(
            &registry,
            "\u{feff}value,measure,date,session,case\n50,wai_sr.total,2025-01-01,1,a\n".as_bytes(),
            &mut out,
            Vec::new(),
        )
        .unwrap();
        assert_eq!((s.rows, s.rejected, s.cases), (1, 0, 1));
    }

    #[test]
    fn every_kind_has_a_name() {
        assert_eq!(kinds().count(), 11);
        assert!(kinds().all(|k| SignalKind::parse(k).is_some()));
    }
}
