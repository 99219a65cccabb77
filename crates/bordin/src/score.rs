//! `bordin score`: streaming batch scoring of CSV answers.
//!
//! Input is CSV with a header row: `id`, then one column per item id (`q1`, `q2`, …) in any
//! order; a blank (or whitespace-only) field is a missing answer. Columns for items that belong
//! to no scale (PHQ-9 `q10`) may be left out. Each data row is one response.
//!
//! Output is one row per valid response: CSV with `id`, one column per scale in the instrument's
//! scale order, `severity`, `flags` (`;`-separated) and `missing` (scored items left blank), or
//! JSON Lines with the same content. A scale that cannot be scored under its missing-item rule is
//! empty (`null` in JSON).
//!
//! A row with an invalid answer (out of range, not a number, not on the scale) or the wrong
//! number of fields is reported on the error stream with its physical line number (the header is
//! line 1) and skipped; the other rows are still scored, and [`Summary::rejected`] counts the
//! skipped ones so the command can exit non-zero.
//!
//! Memory is constant whatever the input size: one reused [`csv::ByteRecord`], one reused answer
//! vector, one reused [`ScoreSheet`] and one reused output line. The hot loop does not allocate.

use std::io::{BufWriter, Read, Write};

use bordin_core::answers::{AnswerError, AnswerProblem};
use bordin_core::{Instrument, ScoreSheet, Value};

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// CSV with a header row.
    #[default]
    Csv,
    /// JSON Lines: one object per response.
    Json,
}

impl Format {
    /// `csv` or `json` (also `jsonl`).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "csv" => Some(Self::Csv),
            "json" | "jsonl" => Some(Self::Json),
            _ => None,
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Summary {
    /// Data rows read (the header is not counted).
    pub rows: u64,
    /// Rows scored and written to the output.
    pub scored: u64,
    /// Rows reported on the error stream and skipped.
    pub rejected: u64,
}

/// Why a run stopped. Bad rows do not stop a run; they are counted in [`Summary::rejected`].
#[derive(Debug, thiserror::Error)]
pub enum ScoreError {
    #[error("the input is empty: expected a header row `id,q1,q2,…`")]
    EmptyInput,
    #[error("line 1: column '{column}' is not an item of {instrument} (the header is `id` and item ids such as q1)")]
    UnknownColumn { column: String, instrument: String },
    #[error("line 1: column '{column}' appears more than once")]
    DuplicateColumn { column: String },
    #[error("line 1: there is no 'id' column")]
    MissingIdColumn,
    #[error("line 1: there is no column for item '{item}', which {instrument} scores (leave its fields blank when it was not answered)")]
    MissingItemColumn { item: String, instrument: String },
    #[error("reading the input: {0}")]
    Read(#[source] csv::Error),
    #[error("writing: {0}")]
    Io(#[from] std::io::Error),
}

/// How one input column is used.
#[derive(Debug, Clone, Copy)]
enum Column {
    Id,
    Item {
        /// Index into the instrument's items.
        item: usize,
        /// Bit `n` is set when the whole number `n` (0..=99) is a valid answer: the fast path for
        /// the one- and two-digit answers that make up nearly every questionnaire.
        small: u128,
    },
}

/// The per-instrument tables the hot loop reads.
struct Plan {
    columns: Vec<Column>,
    /// Decimals of each scale, in scale order.
    decimals: Vec<u8>,
}

impl Plan {
    fn from_header(instrument: &Instrument, header: &csv::ByteRecord) -> Result<Self, ScoreError> {
        let mut columns = Vec::with_capacity(header.len());
        let mut seen_item = vec![false; instrument.items.len()];
        let mut seen_id = false;
        for (k, raw) in header.iter().enumerate() {
            let raw = if k == 0 {
                raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw)
            } else {
                raw
            };
            let name = String::from_utf8_lossy(raw.trim_ascii());
            if name == "id" {
                if std::mem::replace(&mut seen_id, true) {
                    return Err(ScoreError::DuplicateColumn {
                        column: name.into_owned(),
                    });
                }
                columns.push(Column::Id);
                continue;
            }
            let Some(item) = instrument.item_position(&name) else {
                return Err(ScoreError::UnknownColumn {
                    column: name.into_owned(),
                    instrument: instrument.id.clone(),
                });
            };
            if std::mem::replace(&mut seen_item[item], true) {
                return Err(ScoreError::DuplicateColumn {
                    column: name.into_owned(),
                });
            }
            let rs = instrument.response_scale_of(item);
            let small = (0..100u32)
                .filter(|&n| rs.accepts(Value::from_integer(i64::from(n))))
                .fold(0u128, |m, n| m | (1u128 << n));
            columns.push(Column::Item { item, small });
        }
        if !seen_id {
            return Err(ScoreError::MissingIdColumn);
        }
        if let Some(k) =
            (0..instrument.items.len()).find(|&k| instrument.is_scored_item(k) && !seen_item[k])
        {
            return Err(ScoreError::MissingItemColumn {
                item: instrument.items[k].id.clone(),
                instrument: instrument.id.clone(),
            });
        }
        Ok(Self {
            columns,
            decimals: instrument.scales.iter().map(|s| s.decimals).collect(),
        })
    }
}

/// Reads one answer: `Ok(None)` for a blank, `Err(())` for an invalid answer.
#[inline(always)]
fn read_answer(
    instrument: &Instrument,
    item: usize,
    small: u128,
    field: &[u8],
) -> Result<Option<Value>, ()> {
    // Fast path: one or two plain digits.
    let n = match field {
        [] => return Ok(None),
        [d] if d.is_ascii_digit() => Some(u32::from(d - b'0')),
        [d1, d2] if d1.is_ascii_digit() && d2.is_ascii_digit() => {
            Some(u32::from(d1 - b'0') * 10 + u32::from(d2 - b'0'))
        }
        _ => None,
    };
    if let Some(n) = n {
        return if small & (1u128 << n) != 0 {
            Ok(Some(Value::from_integer(i64::from(n))))
        } else {
            Err(())
        };
    }
    let field = field.trim_ascii();
    if field.is_empty() {
        return Ok(None);
    }
    match bordin_core::parse_decimal_bytes(field) {
        Some(v) if instrument.response_scale_of(item).accepts(v) => Ok(Some(v)),
        _ => Err(()),
    }
}

/// Scores CSV answers from `input`, writing scores to `output` and one line per problem to
/// `errors`. See the module documentation for the formats.
pub fn score_stream<R: Read, W: Write, E: Write>(
    instrument: &Instrument,
    input: R,
    output: W,
    errors: E,
    format: Format,
) -> Result<Summary, ScoreError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(1 << 20)
        .from_reader(input);
    let mut out = BufWriter::with_capacity(1 << 20, output);
    let mut err = BufWriter::new(errors);
    let mut record = csv::ByteRecord::new();

    if !reader
        .read_byte_record(&mut record)
        .map_err(ScoreError::Read)?
    {
        return Err(ScoreError::EmptyInput);
    }
    let plan = Plan::from_header(instrument, &record)?;
    let n_fields = plan.columns.len();

    let mut line = String::with_capacity(256);
    if format == Format::Csv {
        line.push_str("id");
        for s in &instrument.scales {
            line.push(',');
            push_csv_field(&mut line, s.id.as_bytes());
        }
        line.push_str(",severity,flags,missing\n");
        out.write_all(line.as_bytes())?;
    }

    let mut values: Vec<Option<Value>> = vec![None; instrument.items.len()];
    let mut sheet = ScoreSheet::default();
    let mut summary = Summary::default();
    let mut itoa_buf = itoa::Buffer::new();

    while reader
        .read_byte_record(&mut record)
        .map_err(ScoreError::Read)?
    {
        summary.rows += 1;
        if record.len() != n_fields {
            let at = record.position().map_or(0, csv::Position::line);
            writeln!(
                err,
                "line {at}: expected {n_fields} fields as in the header, found {}",
                record.len()
            )?;
            summary.rejected += 1;
            continue;
        }
        values.fill(None);
        let mut id: &[u8] = b"";
        let mut bad = false;
        for (column, field) in plan.columns.iter().zip(record.iter()) {
            match *column {
                Column::Id => id = field,
                Column::Item { item, small } => match read_answer(instrument, item, small, field) {
                    Ok(v) => values[item] = v,
                    Err(()) => {
                        bad = true;
                        report_invalid(&mut err, instrument, &record, item, field)?;
                    }
                },
            }
        }
        if bad {
            summary.rejected += 1;
            continue;
        }
        instrument.score_values_into(&values, &mut sheet);
        line.clear();
        match format {
            Format::Csv => write_csv_row(&mut line, instrument, &plan, id, &sheet, &mut itoa_buf),
            Format::Json => write_json_row(&mut line, instrument, &plan, id, &sheet, &mut itoa_buf),
        }
        out.write_all(line.as_bytes())?;
        summary.scored += 1;
    }
    out.flush()?;
    err.flush()?;
    Ok(summary)
}

#[cold]
#[inline(never)]
fn report_invalid<E: Write>(
    err: &mut E,
    instrument: &Instrument,
    record: &csv::ByteRecord,
    item: usize,
    field: &[u8],
) -> std::io::Result<()> {
    let at = record.position().map_or(0, csv::Position::line);
    let e = AnswerError {
        item: instrument.items[item].id.clone(),
        problem: AnswerProblem::Invalid {
            given: String::from_utf8_lossy(field.trim_ascii()).into_owned(),
            expected: instrument.response_scale_of(item).describe(),
        },
    };
    writeln!(err, "line {at}: {e}")
}

fn write_csv_row(
    line: &mut String,
    instrument: &Instrument,
    plan: &Plan,
    id: &[u8],
    sheet: &ScoreSheet,
    itoa_buf: &mut itoa::Buffer,
) {
    push_csv_field(line, id);
    for (score, &decimals) in sheet.scales.iter().zip(&plan.decimals) {
        line.push(',');
        if let Some(v) = score.value {
            push_value(line, v, decimals, itoa_buf);
        }
    }
    line.push(',');
    if let Some(label) = sheet.severity(instrument) {
        push_csv_field(line, label.as_bytes());
    }
    line.push(',');
    for (k, flag) in sheet.flag_ids(instrument).enumerate() {
        if k > 0 {
            line.push(';');
        }
        // Flag ids contain no ',' or ';' (checked on load).
        line.push_str(flag);
    }
    line.push(',');
    line.push_str(itoa_buf.format(sheet.missing));
    line.push('\n');
}

fn write_json_row(
    line: &mut String,
    instrument: &Instrument,
    plan: &Plan,
    id: &[u8],
    sheet: &ScoreSheet,
    itoa_buf: &mut itoa::Buffer,
) {
    line.push_str("{\"id\":");
    push_json_string(line, &String::from_utf8_lossy(id));
    line.push_str(",\"scales\":{");
    for (k, ((def, score), &decimals)) in instrument
        .scales
        .iter()
        .zip(&sheet.scales)
        .zip(&plan.decimals)
        .enumerate()
    {
        if k > 0 {
            line.push(',');
        }
        push_json_string(line, &def.id);
        line.push(':');
        match score.value {
            // A plain decimal such as 17.33 is a JSON number.
            Some(v) => push_value(line, v, decimals, itoa_buf),
            None => line.push_str("null"),
        }
    }
    line.push_str("},\"severity\":");
    match sheet.severity(instrument) {
        Some(label) => push_json_string(line, label),
        None => line.push_str("null"),
    }
    line.push_str(",\"flags\":[");
    for (k, flag) in sheet.flag_ids(instrument).enumerate() {
        if k > 0 {
            line.push(',');
        }
        push_json_string(line, flag);
    }
    line.push_str("],\"missing\":");
    line.push_str(itoa_buf.format(sheet.missing));
    line.push_str("}\n");
}

/// Appends a score formatted as [`bordin_core::write_value`] does. Whole numbers (nearly every
/// score: every complete WAI subscale, every rounded PHQ-9 / GAD-7 total) take a fast path that
/// skips the rational multiply-and-round and `fmt` machinery; the output is the same.
#[inline]
fn push_value(line: &mut String, v: Value, decimals: u8, itoa_buf: &mut itoa::Buffer) {
    if v.is_integer() {
        line.push_str(itoa_buf.format(*v.numer()));
        let decimals = usize::from(decimals.min(9));
        if decimals > 0 {
            line.push_str(&".000000000"[..=decimals]);
        }
    } else {
        bordin_core::write_value(line, v, decimals);
    }
}

/// Appends a CSV field, quoted when it holds a separator, quote or line break.
fn push_csv_field(line: &mut String, field: &[u8]) {
    let text = String::from_utf8_lossy(field);
    if text
        .bytes()
        .any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r'))
        || text.starts_with(' ')
        || text.ends_with(' ')
    {
        line.push('"');
        for c in text.chars() {
            if c == '"' {
                line.push('"');
            }
            line.push(c);
        }
        line.push('"');
    } else {
        line.push_str(&text);
    }
}

/// Appends a JSON string literal.
fn push_json_string(line: &mut String, s: &str) {
    if s.bytes()
        .all(|b| b >= 0x20 && b != b'"' && b != b'\\' && b < 0x7f)
    {
        line.push('"');
        line.push_str(s);
        line.push('"');
    } else {
        // Escaping a string into JSON cannot fail.
        line.push_str(&serde_json::to_string(s).unwrap_or_default());
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use bordin_core::Registry;

    fn run(id: &str, input: &str, format: Format) -> (Result<Summary, ScoreError>, String, String) {
        let reg = Registry::builtin().unwrap();
        let instrument = reg.get(id).unwrap();
        let mut out = Vec::new();
        let mut err = Vec::new();
        let r = score_stream(instrument, input.as_bytes(), &mut out, &mut err, format);
        (
            r,
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    }

    #[test]
    fn wai_csv_complete_one_missing_two_missing() {
        let input = "id,q1,q2,q3,q4,q5,q6,q7,q8,q9,q10,q11,q12\n\
                     a,4,4,4,4,4,4,4,4,4,4,4,4\n\
                     b,5,4,3,2,1,5,4,3,2,1,5,4\n\
                     c,5,4,3,2,1,5,4,3,,1,5,4\n\
                     d,5,4,,2,1,5,4,3,,1,5,4\n";
        let (r, out, err) = run("wai_sr", input, Format::Csv);
        assert_eq!(
            r.unwrap(),
            Summary {
                rows: 4,
                scored: 4,
                rejected: 0
            }
        );
        assert_eq!(err, "");
        // b: bond 3+1+4+2 = 10, goal 2+5+3+5 = 15, task 5+4+1+4 = 14, total 39.
        // c: q9 blank → bond (3+1+4)/3×4 = 32/3 = 10.67; total 32/3 + 29 = 119/3 = 39.67.
        // d: q3 and q9 blank → bond and total empty.
        assert_eq!(
            out,
            "id,total,bond,goal,task,severity,flags,missing\n\
             a,48.00,16.00,16.00,16.00,,,0\n\
             b,39.00,10.00,15.00,14.00,,,0\n\
             c,39.67,10.67,15.00,14.00,,,1\n\
             d,,,15.00,14.00,,,2\n"
        );
    }

    #[test]
    fn phq9_csv_with_flags_severity_and_optional_q10() {
        // q10 column left out; columns in any order.
        let input = "q9,id,q1,q2,q3,q4,q5,q6,q7,q8\n\
                     1,p1,3,2,2,2,,2,2,1\n\
                     0,p2,1,1,1,1,0,0,0,0\n\
                     2,p3,,,,3,3,3,3,3\n";
        let (r, out, err) = run("phq9", input, Format::Csv);
        assert_eq!(
            r.unwrap(),
            Summary {
                rows: 3,
                scored: 3,
                rejected: 0
            },
            "{err}"
        );
        // p1: 15 × 9 / 8 = 16.875 → 17; p2: 4; p3: three blank → not scored, q9 = 2 flags.
        assert_eq!(
            out,
            "id,total,severity,flags,missing\n\
             p1,17,moderately severe,risk:q9,1\n\
             p2,4,minimal,,0\n\
             p3,,,risk:q9,3\n"
        );
    }

    #[test]
    fn invalid_rows_are_reported_with_line_numbers_and_skipped() {
        let input = "id,q1,q2,q3,q4,q5,q6,q7,q8,q9,q10\n\
                     ok1,0,0,0,0,0,0,0,0,0,0\n\
                     bad1,4,0,0,0,0,0,0,0,0,\n\
                     bad2,0,2.5,abc,0,0,0,0,0,0,\n\
                     short,0,0\n\
                     ok2,1,1,1,1,1,1,1,1,0, 2 \n";
        let (r, out, err) = run("phq9", input, Format::Csv);
        assert_eq!(
            r.unwrap(),
            Summary {
                rows: 5,
                scored: 2,
                rejected: 3
            }
        );
        assert_eq!(
            out,
            "id,total,severity,flags,missing\nok1,0,minimal,,0\nok2,8,mild,,0\n"
        );
        assert_eq!(
            err,
            "line 3: item q1: '4' is not a valid answer (expected one of 0, 1, 2, 3)\n\
             line 4: item q2: '2.5' is not a valid answer (expected one of 0, 1, 2, 3)\n\
             line 4: item q3: 'abc' is not a valid answer (expected one of 0, 1, 2, 3)\n\
             line 5: expected 11 fields as in the header, found 3\n"
        );
    }

    #[test]
    fn line_numbers_count_physical_lines() {
        // A quoted id spanning two lines moves the following row to line 4.
        let input = "id,q1,q2,q3,q4,q5,q6,q7\n\"two\nlines\",0,0,0,0,0,0,0\nx,0,0,0,0,0,0,9\n";
        let (r, out, err) = run("gad7", input, Format::Csv);
        assert_eq!(
            r.unwrap(),
            Summary {
                rows: 2,
                scored: 1,
                rejected: 1
            }
        );
        assert_eq!(
            err,
            "line 4: item q7: '9' is not a valid answer (expected one of 0, 1, 2, 3)\n"
        );
        assert_eq!(
            out,
            "id,total,severity,flags,missing\n\"two\nlines\",0,minimal,,0\n"
        );
    }

    #[test]
    fn session_check_and_json_lines() {
        let input = "id,q1,q2,q3,q4\ns1,8,7,9,10\ns2,8,7,9,\n";
        let (r, out, _) = run("session_check", input, Format::Csv);
        assert_eq!(r.unwrap().scored, 2);
        assert_eq!(out, "id,total,bond,goal,task,overall,severity,flags,missing\ns1,34,8,7,9,10,,,0\ns2,,8,7,9,,,,1\n");
        let (r, out, _) = run("session_check", input, Format::Json);
        assert_eq!(r.unwrap().scored, 2);
        let lines: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(
            lines[0],
            serde_json::json!({"id": "s1", "scales": {"total": 34, "bond": 8, "goal": 7, "task": 9, "overall": 10}, "severity": null, "flags": [], "missing": 0})
        );
        assert_eq!(lines[1]["scales"]["total"], serde_json::Value::Null);
        assert_eq!(lines[1]["missing"], 1);
    }

    #[test]
    fn json_phq9_and_wai() {
        let (r, out, _) = run(
            "phq9",
            "id,q1,q2,q3,q4,q5,q6,q7,q8,q9\n\"a \"\"b\"\"\",3,2,2,2,,2,2,1,1\n",
            Format::Json,
        );
        assert_eq!(r.unwrap().scored, 1);
        let v: serde_json::Value = serde_json::from_str(out.trim_end()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"id": "a \"b\"", "scales": {"total": 17}, "severity": "moderately severe", "flags": ["risk:q9"], "missing": 1})
        );
        let (_, out, _) = run(
            "wai_sr",
            "id,q1,q2,q3,q4,q5,q6,q7,q8,q9,q10,q11,q12\nc,5,4,3,2,1,5,4,3,,1,5,4\n",
            Format::Json,
        );
        assert_eq!(out, "{\"id\":\"c\",\"scales\":{\"total\":39.67,\"bond\":10.67,\"goal\":15.00,\"task\":14.00},\"severity\":null,\"flags\":[],\"missing\":1}\n");
    }

    #[test]
    fn header_errors_name_the_column() {
        let e = run("phq9", "id,q1,q2,q3,q4,q5,q6,q7,q8,q9,q11\n", Format::Csv)
            .0
            .unwrap_err();
        assert!(
            matches!(&e, ScoreError::UnknownColumn { column, .. } if column == "q11"),
            "{e}"
        );
        assert!(e.to_string().contains("'q11'"));
        let e = run("phq9", "q1,q2,q3,q4,q5,q6,q7,q8,q9\n", Format::Csv)
            .0
            .unwrap_err();
        assert!(matches!(e, ScoreError::MissingIdColumn));
        let e = run("phq9", "id,q1,q2,q3,q4,q5,q6,q7,q8\n", Format::Csv)
            .0
            .unwrap_err();
        assert!(
            matches!(&e, ScoreError::MissingItemColumn { item, .. } if item == "q9"),
            "{e}"
        );
        assert!(e.to_string().contains("'q9'"));
        let e = run("gad7", "id,q1,q1,q2,q3,q4,q5,q6,q7\n", Format::Csv)
            .0
            .unwrap_err();
        assert!(matches!(&e, ScoreError::DuplicateColumn { column } if column == "q1"));
        assert!(matches!(
            run("gad7", "", Format::Csv).0.unwrap_err(),
            ScoreError::EmptyInput
        ));
        // A BOM and spaces around header names are tolerated; a header alone scores nothing.
        let (r, out, _) = run("gad7", "\u{feff}id, q1,q2,q3,q4,q5,q6,q7 \n", Format::Csv);
        assert_eq!(r.unwrap(), Summary::default());
        assert_eq!(out, "id,total,severity,flags,missing\n");
    }

    #[test]
    fn crlf_blank_whitespace_and_general_numbers() {
        // CRLF endings, " 3" with spaces, "2.0" (a whole number), whitespace-only = blank.
        let input = "id,q1,q2,q3,q4,q5,q6,q7\r\nr1, 3 ,2.0,1,1,1,1,  \r\n";
        let (r, out, err) = run("gad7", input, Format::Csv);
        assert_eq!(r.unwrap().scored, 1, "{err}");
        // 3+2+1+1+1+1 = 9 over 6 → 63/6 = 10.5 → 11.
        assert_eq!(out, "id,total,severity,flags,missing\nr1,11,moderate,,1\n");
    }

    #[test]
    fn push_value_agrees_with_write_value() {
        let mut buf = itoa::Buffer::new();
        for n in [
            -1_000_001i64,
            -61,
            -60,
            -1,
            0,
            1,
            4,
            9,
            10,
            12,
            17,
            48,
            60,
            99,
            100,
            1_000_000,
            i64::from(i32::MAX),
        ] {
            for den in [1i64, 2, 3, 4, 7, 8, 10, 200] {
                for decimals in 0..=11u8 {
                    let v = Value::new(n, den);
                    let mut ours = String::new();
                    push_value(&mut ours, v, decimals, &mut buf);
                    assert_eq!(
                        ours,
                        bordin_core::format_value(v, decimals),
                        "{v} with {decimals} decimals"
                    );
                }
            }
        }
    }

    #[test]
    fn fast_path_agrees_with_the_core_parser() {
        let reg = Registry::builtin().unwrap();
        for inst in reg.instruments() {
            for item in 0..inst.items.len() {
                let rs = inst.response_scale_of(item);
                let small = (0..100u32)
                    .filter(|&n| rs.accepts(Value::from_integer(i64::from(n))))
                    .fold(0u128, |m, n| m | (1u128 << n));
                for text in [
                    "0", "1", "3", "5", "9", "10", "11", "00", "03", "99", "-1", "1.0", "1.5", "x",
                    " 2", "100",
                ] {
                    let core = bordin_core::answers::check(inst, item, text.trim().as_bytes()).ok();
                    let ours = read_answer(inst, item, small, text.as_bytes())
                        .ok()
                        .flatten();
                    assert_eq!(ours, core, "{} {} {text:?}", inst.id, inst.items[item].id);
                }
            }
        }
    }
}
