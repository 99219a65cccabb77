//! `bordin gas`: Goal Attainment Scaling T-scores for goals kept elsewhere (a spreadsheet, a
//! review form).
//!
//! Input is CSV with a header row naming the columns `case,goal,weight,level` (in any order).
//! Each data row is one goal of one case: `goal` names it (a goal appears once per case), `weight`
//! is a number greater than 0 and `level` the attainment level, a whole number from −2 to +2
//! (0 = the expected outcome).
//!
//! Output is CSV `case,t_score`, one line per case in the order in which the cases first appear,
//! the T-score with two decimals ([`bordin_core::goals::gas_t_score`], Kiresuk & Sherman, 1968;
//! ρ = 0.3 unless given).
//!
//! A row with the wrong number of fields, a blank case or goal, a goal repeated within a case, a
//! weight that is not a number greater than 0 or a level outside −2..+2 is reported on the error
//! stream with its physical line number (the header is line 1) and skipped; the other rows are
//! still used, and [`Summary::rejected`] counts the skipped ones so the command can exit non-zero.

use std::collections::HashMap;
use std::io::{BufWriter, Read, Write};

use bordin_core::goals::{gas_t_score, GasError};

/// The input columns, in the order [`gas_stream`] reads them.
const COLUMNS: [&str; 4] = ["case", "goal", "weight", "level"];

/// What a run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Summary {
    /// Data rows read (the header is not counted).
    pub rows: u64,
    /// Rows reported on the error stream and skipped.
    pub rejected: u64,
    /// Cases written (those with at least one usable row).
    pub cases: u64,
}

/// Why a run stopped. Bad rows do not stop a run; they are counted in [`Summary::rejected`].
#[derive(Debug, thiserror::Error)]
pub enum GasCliError {
    #[error("--rho: {0}")]
    Rho(#[source] GasError),
    #[error("the input is empty: expected a header row `case,goal,weight,level`")]
    EmptyInput,
    #[error("line 1: column '{0}' is not one of case, goal, weight, level")]
    UnknownColumn(String),
    #[error("line 1: column '{0}' appears more than once")]
    DuplicateColumn(String),
    #[error("line 1: there is no '{0}' column (the header is `case,goal,weight,level`)")]
    MissingColumn(&'static str),
    #[error("reading the input: {0}")]
    Read(#[source] csv::Error),
    #[error("writing: {0}")]
    Write(#[from] csv::Error),
    #[error("writing: {0}")]
    Io(#[from] std::io::Error),
}

/// One case's goals as read: (goal name, line), (weight, level).
#[derive(Default)]
struct CaseGoals {
    names: HashMap<String, u64>,
    goals: Vec<(f64, i8)>,
}

fn parse_row(fields: [&str; 4]) -> Result<(f64, i8), String> {
    let [case, goal, weight, level] = fields;
    if case.is_empty() {
        return Err("the case is blank".into());
    }
    if goal.is_empty() {
        return Err("the goal is blank".into());
    }
    let weight = match weight.parse::<f64>() {
        Ok(w) if w.is_finite() && w > 0.0 => w,
        Ok(_) => return Err(format!("weight '{weight}' must be greater than 0")),
        Err(_) => return Err(format!("weight '{weight}' is not a number")),
    };
    let level = match level.parse::<i8>() {
        Ok(l) if (-2..=2).contains(&l) => l,
        _ => {
            return Err(format!(
                "level '{level}' is not a whole number from -2 to 2"
            ))
        }
    };
    Ok((weight, level))
}

/// Reads goals from `input`, writes each case's T-score to `output` and one line per problem to
/// `errors`. See the module documentation for the formats.
pub fn gas_stream<R: Read, W: Write, E: Write>(
    input: R,
    output: W,
    errors: E,
    rho: f64,
) -> Result<Summary, GasCliError> {
    // Check ρ before reading anything (one neutral goal exercises only the ρ check).
    gas_t_score(&[(1.0, 0)], rho).map_err(GasCliError::Rho)?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(input);
    let mut err = BufWriter::new(errors);
    let mut record = csv::StringRecord::new();

    if !reader.read_record(&mut record).map_err(GasCliError::Read)? {
        return Err(GasCliError::EmptyInput);
    }
    let mut at: [Option<usize>; 4] = [None; 4];
    for (k, name) in record.iter().enumerate() {
        let name = if k == 0 {
            name.trim_start_matches('\u{feff}')
        } else {
            name
        }
        .trim();
        let Some(c) = COLUMNS.iter().position(|&c| c == name) else {
            return Err(GasCliError::UnknownColumn(name.to_owned()));
        };
        if at[c].replace(k).is_some() {
            return Err(GasCliError::DuplicateColumn(name.to_owned()));
        }
    }
    let mut pos = [0usize; 4];
    for (c, p) in at.iter().enumerate() {
        pos[c] = p.ok_or(GasCliError::MissingColumn(COLUMNS[c]))?;
    }
    let n_fields = record.len();

    let mut summary = Summary::default();
    // Cases in order of first appearance.
    let mut cases: Vec<(String, CaseGoals)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    while reader.read_record(&mut record).map_err(GasCliError::Read)? {
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
        let fields = pos.map(|p| record.get(p).unwrap_or("").trim());
        let goal = match parse_row(fields) {
            Ok(g) => g,
            Err(why) => {
                writeln!(err, "line {line}: {why}")?;
                summary.rejected += 1;
                continue;
            }
        };
        let [case, name, ..] = fields;
        let k = match index.get(case) {
            Some(&k) => k,
            None => {
                index.insert(case.to_owned(), cases.len());
                cases.push((case.to_owned(), CaseGoals::default()));
                cases.len() - 1
            }
        };
        let entry = &mut cases[k].1;
        if let Some(first) = entry.names.get(name) {
            writeln!(
                err,
                "line {line}: goal '{name}' of case '{case}' appears twice (first on line {first})"
            )?;
            summary.rejected += 1;
            continue;
        }
        entry.names.insert(name.to_owned(), line);
        entry.goals.push(goal);
    }
    err.flush()?;

    let mut out = csv::Writer::from_writer(BufWriter::new(output));
    out.write_record(["case", "t_score"])?;
    for (case, goals) in &cases {
        if goals.goals.is_empty() {
            continue;
        }
        // Every goal was checked above and ρ at the start: this cannot fail, but a failure would
        // be reported rather than hidden.
        match gas_t_score(&goals.goals, rho) {
            Ok(t) => {
                out.write_record([case.as_str(), &format!("{t:.2}")])?;
                summary.cases += 1;
            }
            Err(e) => {
                writeln!(err, "case '{case}': {e}")?;
            }
        }
    }
    out.flush()?;
    err.flush()?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn run(input: &str, rho: f64) -> (Summary, String, String) {
        let mut out = Vec::new();
        let mut err = Vec::new();
        let s = gas_stream(input.as_bytes(), &mut out, &mut err, rho).unwrap();
        (
            s,
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    }

    #[test]
    fn one_line_per_case_in_order_of_first_appearance() {
        // b: w = (2, 1), x = (1, −1), ρ = 0.3 → 50 + 10·1/√6.2 = 54.02.
        // a: one goal at +2 → 70.00 (columns in another order).
        let (s, out, err) = run(
            "level,weight,goal,case\n1,2,g1,b\n2,1,g1,a\n-1,1,g2,b\n",
            0.3,
        );
        assert_eq!(err, "");
        assert_eq!(out, "case,t_score\nb,54.02\na,70.00\n");
        assert_eq!(
            s,
            Summary {
                rows: 3,
                rejected: 0,
                cases: 2
            }
        );
    }

    #[test]
    fn repeated_goals_and_bad_rho_are_refused() {
        let (s, out, err) = run("case,goal,weight,level\na,g,1,1\na,g,1,2\n", 0.3);
        assert_eq!(out, "case,t_score\na,60.00\n");
        assert!(
            err.contains("line 3: goal 'g' of case 'a' appears twice (first on line 2)"),
            "{err}"
        );
        assert_eq!(s.rejected, 1);
        let r = gas_stream(
            "case,goal,weight,level\n".as_bytes(),
            Vec::new(),
            Vec::new(),
            1.0,
        );
        assert!(matches!(r, Err(GasCliError::Rho(GasError::Rho(_)))));
        let r = gas_stream("case,goal,weight\n".as_bytes(), Vec::new(), Vec::new(), 0.3);
        assert!(matches!(r, Err(GasCliError::MissingColumn("level"))));
    }
}
