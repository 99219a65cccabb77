//! `bordin score` through the built binary: files and stdin, CSV and JSON Lines, rejected rows
//! (reported with line numbers, exit status 2), header errors.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::process::{Command, Output, Stdio};

const WAI_HEADER: &str = "id,q1,q2,q3,q4,q5,q6,q7,q8,q9,q10,q11,q12\n";

fn bordin(args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bordin"));
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // Keep the test independent of the environment it runs in.
    cmd.env_remove("BORDIN_INSTRUMENTS");
    let mut child = cmd.spawn().expect("the bordin binary runs");
    // Feed stdin from another thread: bordin streams, so it writes output while we still write
    // input, and a full stdout pipe would otherwise block both sides.
    let mut pipe = child.stdin.take().expect("stdin");
    let input = stdin.unwrap_or_default().to_owned();
    let feeder = std::thread::spawn(move || {
        // bordin may stop reading early (a header error); a broken pipe is fine then.
        let _ = pipe.write_all(input.as_bytes());
    });
    let out = child.wait_with_output().expect("bordin finishes");
    feeder.join().expect("stdin feeder");
    out
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("UTF-8 output")
}

#[test]
fn scores_a_wai_file_to_csv() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wai.csv");
    // b: bond 3+1+4+2 = 10, goal 2+5+3+5 = 15, task 5+4+1+4 = 14 → 39.
    // c: q9 blank → bond (3+1+4)/3 × 4 = 32/3 = 10.67; total 119/3 = 39.67.
    // d: q3 and q9 blank → bond and total empty.
    let input = format!("{WAI_HEADER}b,5,4,3,2,1,5,4,3,2,1,5,4\nc,5,4,3,2,1,5,4,3,,1,5,4\nd,5,4,,2,1,5,4,3,,1,5,4\n");
    std::fs::write(&path, input).unwrap();
    let out = bordin(
        &[
            "score",
            "--instrument",
            "wai_sr",
            "--input",
            path.to_str().unwrap(),
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "id,total,bond,goal,task,severity,flags,missing\n\
         b,39.00,10.00,15.00,14.00,,,0\n\
         c,39.67,10.67,15.00,14.00,,,1\n\
         d,,,15.00,14.00,,,2\n"
    );
}

#[test]
fn reads_stdin_and_writes_json_lines() {
    // p1: q5 blank, 15 × 9 / 8 = 16.875 → 17, moderately severe, q9 = 1 flags.
    let input = "id,q1,q2,q3,q4,q5,q6,q7,q8,q9,q10\np1,3,2,2,2,,2,2,1,1,2\n";
    let out = bordin(
        &["score", "--instrument", "phq9", "--format", "json"],
        Some(input),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_str(text(&out.stdout).trim_end()).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"id": "p1", "scales": {"total": 17}, "severity": "moderately severe", "flags": ["risk:q9"], "missing": 1})
    );
    // `--input -` is stdin too.
    let out = bordin(
        &["score", "--instrument", "phq9", "--input", "-"],
        Some(input),
    );
    assert!(out.status.success());
    assert_eq!(
        text(&out.stdout),
        "id,total,severity,flags,missing\np1,17,moderately severe,risk:q9,1\n"
    );
}

#[test]
fn rejected_rows_are_reported_and_the_rest_scored() {
    let input = "id,q1,q2,q3,q4,q5,q6,q7\n\
                 ok,1,1,1,1,1,1,1\n\
                 high,4,1,1,1,1,1,1\n\
                 text,1,abc,1,1,1,1,1\n\
                 short,1,1\n\
                 ok2,3,3,3,3,3,3,\n";
    let out = bordin(&["score", "--instrument", "gad7"], Some(input));
    assert_eq!(
        out.status.code(),
        Some(2),
        "exit status 2 when rows were rejected"
    );
    // ok2: q7 blank, 18 × 7 / 6 = 21 → severe.
    assert_eq!(
        text(&out.stdout),
        "id,total,severity,flags,missing\nok,7,mild,,0\nok2,21,severe,,1\n"
    );
    let err = text(&out.stderr);
    assert!(
        err.contains("line 3: item q1: '4' is not a valid answer (expected one of 0, 1, 2, 3)"),
        "{err}"
    );
    assert!(
        err.contains("line 4: item q2: 'abc' is not a valid answer"),
        "{err}"
    );
    assert!(err.contains("line 5: expected 8 fields"), "{err}");
}

#[test]
fn header_errors_stop_with_the_column_named() {
    let out = bordin(
        &["score", "--instrument", "gad7"],
        Some("id,q1,q2,q3,q4,q5,q6,q7,q8\n1,0,0,0,0,0,0,0,0\n"),
    );
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("'q8'"), "{}", text(&out.stderr));
    let out = bordin(
        &["score", "--instrument", "gad7"],
        Some("q1,q2,q3,q4,q5,q6,q7\n"),
    );
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("'id'"), "{}", text(&out.stderr));
    let out = bordin(
        &["score", "--instrument", "gad7"],
        Some("id,q1,q2,q3,q4,q5,q6\n"),
    );
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("'q7'"), "{}", text(&out.stderr));
    let out = bordin(&["score", "--instrument", "nope"], Some("id\n"));
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("nope"));
}

#[test]
fn session_check_has_one_column_per_scale() {
    let out = bordin(
        &["score", "--instrument", "session_check"],
        Some("id,q1,q2,q3,q4\ns1,8,7,9,10\n"),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "id,total,bond,goal,task,overall,severity,flags,missing\ns1,34,8,7,9,10,,,0\n"
    );
}

#[test]
fn many_rows_stream_through() {
    // 50,000 responses through a pipe: every row comes out, in order.
    let mut input = String::from(WAI_HEADER);
    for r in 0..50_000 {
        input.push_str(&format!("r{r},4,4,4,4,4,4,4,4,4,4,4,{}\n", 1 + r % 5));
    }
    let out = bordin(&["score", "--instrument", "wai_sr"], Some(&input));
    assert!(out.status.success());
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().count(), 50_001);
    // r49999: q12 = 1 + 49999 % 5 = 5 → task 4+4+4+5 = 17, total 16+16+17 = 49.
    assert_eq!(
        stdout.lines().last(),
        Some("r49999,49.00,16.00,16.00,17.00,,,0")
    );
}
