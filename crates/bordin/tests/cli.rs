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

// ---------------------------------------------------------------------------------------------
// `bordin monitor`: long-format scores in, one JSON line per signal out.

const MONITOR_HEADER: &str = "case,session,date,measure,value\n";

/// Case `a`: WAI-SR total stable near 50 with a dip to 42 at session 5 and back at 6 (a rupture
/// and its repair); PHQ-9 8 → 10 → 15 (+7 ≥ 6 points: reliable deterioration at session 5);
/// item 9 answered 2 at session 3 (risk). Case `q`: a quiet course, no signals.
fn monitor_input() -> String {
    let mut s = String::from(MONITOR_HEADER);
    for (n, v) in [50, 51, 50, 50, 42, 50, 51].iter().enumerate() {
        let n = n + 1;
        s.push_str(&format!("a,{n},2025-03-{:02},wai_sr.total,{v}\n", n * 2));
    }
    for (n, total, q9) in [(1, 8, 0), (3, 10, 2), (5, 15, 0)] {
        s.push_str(&format!("a,{n},2025-03-{:02},phq9.total,{total}\n", n * 2));
        s.push_str(&format!("a,{n},2025-03-{:02},phq9.q9,{q9}\n", n * 2));
    }
    for (n, v) in [48, 49, 48, 49].iter().enumerate() {
        s.push_str(&format!(
            "q,{},2025-04-0{},wai_sr.total,{v}\n",
            n + 1,
            n + 1
        ));
    }
    s
}

fn signals(stdout: &[u8]) -> Vec<serde_json::Value> {
    text(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is a JSON object"))
        .collect()
}

/// (case, kind, measure, session) of each signal, for comparing whole outputs.
fn brief(v: &[serde_json::Value]) -> Vec<(String, String, String, i64)> {
    v.iter()
        .map(|s| {
            (
                s["case"].as_str().unwrap().to_owned(),
                s["kind"].as_str().unwrap().to_owned(),
                s["measure"].as_str().unwrap().to_owned(),
                s["session"].as_i64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn monitor_finds_planted_events_at_their_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scores.csv");
    std::fs::write(&path, monitor_input()).unwrap();
    let out = bordin(&["monitor", "--input", path.to_str().unwrap()], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let got = signals(&out.stdout);
    let b = |c: &str, k: &str, m: &str, s: i64| (c.to_owned(), k.to_owned(), m.to_owned(), s);
    assert_eq!(
        brief(&got),
        vec![
            b("a", "risk", "phq9.q9", 3),
            b("a", "rupture", "wai_sr.total", 5),
            b("a", "reliable_deterioration", "phq9.total", 5),
            b("a", "repair", "wai_sr.total", 6),
        ]
    );
    // Every line carries the figures behind it and a message.
    let rupture = &got[1];
    assert_eq!(rupture["detail"]["baseline"], 50.25);
    assert_eq!(rupture["detail"]["lowest"], 42.0);
    assert_eq!(rupture["urgency"], "amber");
    assert!(rupture["message"].as_str().unwrap().contains("session 5"));
    assert_eq!(got[2]["detail"]["intake"], 8.0);
    assert_eq!(got[2]["detail"]["reliable_points"], 6.0);
}

#[test]
fn monitor_reads_stdin_in_any_order() {
    let input = monitor_input();
    let sorted = bordin(&["monitor"], Some(&input));
    assert!(sorted.status.success(), "{}", text(&sorted.stderr));
    // The same rows reversed: the same signals (cases come out in order of first appearance).
    let mut rows: Vec<&str> = input.lines().skip(1).collect();
    rows.reverse();
    let reversed = format!("{MONITOR_HEADER}{}\n", rows.join("\n"));
    let out = bordin(&["monitor", "--input", "-"], Some(&reversed));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        brief(&signals(&out.stdout)),
        brief(&signals(&sorted.stdout))
    );
}

#[test]
fn monitor_reports_bad_rows_with_their_line_and_uses_the_rest() {
    let mut input = monitor_input();
    // Lines 19–23 (the header is line 1, then 17 good rows).
    input.push_str("a,seven,2025-03-20,wai_sr.total,50\n");
    input.push_str("a,8,2025-13-01,wai_sr.total,50\n");
    input.push_str("a,8,2025-03-20,wai_sr.warmth,50\n");
    input.push_str("a,8,2025-03-20,wai_sr.total,\n");
    input.push_str("a,8,2025-03-20\n");
    let out = bordin(&["monitor"], Some(&input));
    assert_eq!(
        out.status.code(),
        Some(2),
        "exit status 2 when rows were rejected"
    );
    let err = text(&out.stderr);
    for expected in [
        "line 19: session 'seven' is not a whole number",
        "line 20: date '2025-13-01' is not a calendar date",
        "line 21: measure 'wai_sr.warmth': wai_sr has no scale or item 'warmth'",
        "line 22: value '' is not a number",
        "line 23: expected 5 fields as in the header, found 3",
        "5 of 22 rows rejected",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in {err}");
    }
    // The good rows were all used.
    let got = brief(&signals(&out.stdout));
    assert!(got.contains(&("a".into(), "rupture".into(), "wai_sr.total".into(), 5)));
    assert!(got.contains(&("a".into(), "risk".into(), "phq9.q9".into(), 3)));
}

#[test]
fn monitor_header_errors_stop_with_the_column_named() {
    let out = bordin(&["monitor"], Some("case,session,when,measure,value\n"));
    assert!(!out.status.success());
    assert_ne!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("'when'"),
        "{}",
        text(&out.stderr)
    );
    let out = bordin(&["monitor", "--input", "/nonexistent/scores.csv"], None);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("cannot open"));
}

// ---- bordin gas ----------------------------------------------------------------------------

/// Case a: w = (2, 1), x = (+1, −1). Case b: w = (3, 1, 2), x = (−1, +2, −2). Case c: one goal.
const GAS_INPUT: &str = "case,goal,weight,level\n\
                         a,sleep,2,1\n\
                         b,work,3,-1\n\
                         a,friends,1,-1\n\
                         b,mood,1,2\n\
                         c,walk,1,-2\n\
                         b,money,2,-2\n";

#[test]
fn gas_scores_each_case_with_weights_and_the_default_rho() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("goals.csv");
    std::fs::write(&path, GAS_INPUT).unwrap();
    let out = bordin(&["gas", "--input", path.to_str().unwrap()], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // ρ = 0.3.
    // a: Σwx = 2 − 1 = 1, Σw² = 5, (Σw)² = 9, √(0.7·5 + 0.3·9) = √6.2 = 2.48998
    //    → 50 + 10/2.48998 = 54.0161.
    // b: Σwx = −3 + 2 − 4 = −5, Σw² = 14, (Σw)² = 36, √(0.7·14 + 0.3·36) = √20.6 = 4.53872
    //    → 50 − 50/4.53872 = 38.9837.
    // c: one goal at −2: 50 + 10·(−2)/√(0.7 + 0.3) = 30.
    assert_eq!(
        text(&out.stdout),
        "case,t_score\na,54.02\nb,38.98\nc,30.00\n"
    );
}

#[test]
fn gas_takes_rho_and_reads_stdin() {
    // ρ = 0.5.
    // a: √(0.5·5 + 0.5·9) = √7 = 2.64575 → 50 + 10/2.64575 = 53.7796.
    // b: √(0.5·14 + 0.5·36) = √25 = 5 → 50 − 50/5 = 40.
    // c: one goal: ρ cancels, 30.
    let out = bordin(&["gas", "--rho", "0.5"], Some(GAS_INPUT));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "case,t_score\na,53.78\nb,40.00\nc,30.00\n"
    );
    // ρ = 0, two equally weighted goals at +2: 50 + 10·4/√2 = 78.2843.
    let out = bordin(
        &["gas", "--rho", "0", "--input", "-"],
        Some("case,goal,weight,level\nd,x,1,2\nd,y,1,2\n"),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "case,t_score\nd,78.28\n");
    // ρ must lie in [0, 1).
    let out = bordin(&["gas", "--rho", "1"], Some(GAS_INPUT));
    assert!(!out.status.success());
    assert_ne!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("rho"), "{}", text(&out.stderr));
}

#[test]
fn gas_reports_bad_rows_with_their_line_and_uses_the_rest() {
    let input = "case,goal,weight,level\n\
                 a,sleep,2,1\n\
                 a,zero,0,1\n\
                 a,negative,-1,1\n\
                 a,words,heavy,1\n\
                 a,high,1,3\n\
                 a,half,1,0.5\n\
                 a,short,1\n\
                 a,friends,1,-1\n";
    let out = bordin(&["gas"], Some(input));
    assert_eq!(
        out.status.code(),
        Some(2),
        "exit status 2 when rows were rejected"
    );
    // The good rows are a's sleep (2, +1) and friends (1, −1): 54.02 as above.
    assert_eq!(text(&out.stdout), "case,t_score\na,54.02\n");
    let err = text(&out.stderr);
    for expected in [
        "line 3: weight '0' must be greater than 0",
        "line 4: weight '-1' must be greater than 0",
        "line 5: weight 'heavy' is not a number",
        "line 6: level '3' is not a whole number from -2 to 2",
        "line 7: level '0.5' is not a whole number from -2 to 2",
        "line 8: expected 4 fields as in the header, found 3",
        "6 of 8 rows rejected",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in {err}");
    }
}

#[test]
fn gas_header_errors_stop_with_the_column_named() {
    let out = bordin(&["gas"], Some("case,goal,importance,level\na,g,1,1\n"));
    assert!(!out.status.success());
    assert_ne!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("'importance'"),
        "{}",
        text(&out.stderr)
    );
    let out = bordin(&["gas", "--input", "/nonexistent/goals.csv"], None);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("cannot open"));
}

// ---------------------------------------------------------------------------------------------
// Operations: backup and restore, tokens, configuration check, a client's export and erasure.

/// Runs bordin with extra environment variables and no standard input.
fn bordin_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bordin"));
    cmd.args(args).stdin(Stdio::null());
    for v in [
        "BORDIN_INSTRUMENTS",
        "BORDIN_DB",
        "BORDIN_CONFIG",
        "BORDIN_LOG_FORMAT",
    ] {
        cmd.env_remove(v);
    }
    cmd.envs(env.iter().copied());
    cmd.output().expect("the bordin binary runs")
}

#[test]
fn backup_restore_token_and_erasure_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("live.db").display());
    let out = bordin_env(
        &[
            "clinic",
            "create",
            "--name",
            "Riverside",
            "--admin-email",
            "ada@example.org",
            "--admin-name",
            "Ada",
            "--db",
            &db,
        ],
        &[("BORDIN_PASSWORD", "a long passphrase")],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));

    // A token: printed once, listed by its prefix.
    let out = bordin_env(
        &[
            "token",
            "create",
            "--user",
            "ada@example.org",
            "--scope",
            "read",
            "--label",
            "EHR",
            "--db",
            &db,
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let token = text(&out.stdout).trim().to_owned();
    assert!(token.starts_with("bdn_"), "{token}");
    let out = bordin_env(&["token", "list", "--db", &db], &[]);
    let list = text(&out.stdout);
    assert!(list.contains("EHR") && list.contains("active"), "{list}");
    assert!(!list.contains(&token), "the token itself is never listed");

    // Backup, then restore elsewhere; a second restore over data is refused without --force.
    let backup = dir.path().join("backup.db");
    let out = bordin_env(
        &["backup", "--db", &db, "--out", backup.to_str().unwrap()],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("integrity_check: ok"),
        "{}",
        text(&out.stdout)
    );
    let restored = format!("sqlite://{}", dir.path().join("restored.db").display());
    let out = bordin_env(
        &[
            "restore",
            "--from",
            backup.to_str().unwrap(),
            "--db",
            &restored,
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("clinics: 1"),
        "{}",
        text(&out.stdout)
    );
    let out = bordin_env(
        &[
            "restore",
            "--from",
            backup.to_str().unwrap(),
            "--db",
            &restored,
        ],
        &[],
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("--force"),
        "{}",
        text(&out.stderr)
    );
    let out = bordin_env(
        &[
            "restore",
            "--from",
            backup.to_str().unwrap(),
            "--db",
            &restored,
            "--force",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    // The restored database knows the token's user: the token list is the same.
    let out = bordin_env(&["token", "list", "--db", &restored], &[]);
    assert!(text(&out.stdout).contains("EHR"));

    // PostgreSQL: the command says what to use instead of pretending.
    let out = bordin_env(
        &[
            "backup",
            "--db",
            "postgres://bordin@localhost/bordin",
            "--out",
            "x.dump",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("pg_dump"),
        "{}",
        text(&out.stderr)
    );

    // Unknown client: a clear error.
    let out = bordin_env(&["client", "export", "--code", "NOPE", "--db", &db], &[]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("no client with code 'NOPE'"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn config_check_names_the_key_and_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.toml");
    std::fs::write(
        &good,
        "listen = \"127.0.0.1:9999\"\nlog_format = \"json\"\n",
    )
    .unwrap();
    let out = bordin_env(&["config", "check", good.to_str().unwrap()], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "link_ttl_hours = 0\nmetrix = \"off\"\n").unwrap();
    let out = bordin_env(&["config", "check", bad.to_str().unwrap()], &[]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("metrix") && err.contains("unknown key"),
        "{err}"
    );

    let typed = dir.path().join("typed.toml");
    std::fs::write(&typed, "link_ttl_hours = 0\n").unwrap();
    let out = bordin_env(&["config", "check", typed.to_str().unwrap()], &[]);
    let err = text(&out.stderr);
    assert!(
        err.contains("link_ttl_hours") && err.contains("at least 1"),
        "{err}"
    );

    // `serve` stops before listening on a bad value from the environment, naming the variable.
    let out = bordin_env(
        &["serve", "--config", good.to_str().unwrap()],
        &[("BORDIN_SECURE_COOKIES", "perhaps")],
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("BORDIN_SECURE_COOKIES"),
        "{}",
        text(&out.stderr)
    );
}

// bordin audit verify / head, bordin keys, and serve without its key

/// A database with a short audit trail written through the store; returns (url, clinic id).
fn audited_db(dir: &std::path::Path) -> (String, String) {
    let url = format!("sqlite://{}", dir.join("b.db").display());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let clinic = rt.block_on(async {
        let store = bordin_store::Store::connect(&url).await.unwrap();
        let c = store
            .create_clinic("Audited", bordin_core::Setting::Therapy, 0)
            .await
            .unwrap();
        for i in 0..5 {
            store
                .audit_as(
                    &bordin_store::AuditEvent::on_case(
                        &c.clinic_id,
                        "case-1",
                        "read",
                        "case",
                        "case-1",
                    ),
                    &bordin_store::AuditActor::user("u1"),
                    "192.0.2.1",
                    i,
                )
                .await
                .unwrap();
        }
        store.close().await;
        c.clinic_id
    });
    (url, clinic)
}

fn raw_sql(url: &str, statements: &[&str]) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = bordin_store::Store::connect(url).await.unwrap();
        for s in statements {
            store.execute_raw_for_tests(s).await.unwrap();
        }
        store.close().await;
    });
}

#[test]
fn audit_verify_passes_an_untouched_trail_and_names_a_changed_entry() {
    let dir = tempfile::tempdir().unwrap();
    let (url, clinic) = audited_db(dir.path());
    let ok = bordin(&["audit", "verify", "--db", &url], None);
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    assert!(
        text(&ok.stdout).contains("ok, 5 entries"),
        "{}",
        text(&ok.stdout)
    );

    let head = bordin(&["audit", "head", "--db", &url], None);
    let head_line = text(&head.stdout);
    let anchor = head_line
        .split_whitespace()
        .nth(1)
        .expect("CLINIC SEQ:HASH")
        .to_owned();
    assert!(anchor.starts_with("5:"), "{head_line}");

    raw_sql(
        &url,
        &[
            "DROP TRIGGER audit_log_is_append_only",
            "DROP TRIGGER audit_log_is_kept",
            "DROP TRIGGER audit_heads_move_by_one",
            "UPDATE audit_log SET source = '203.0.113.9' WHERE seq = 2",
        ],
    );
    let bad = bordin(&["audit", "verify", "--db", &url], None);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        text(&bad.stdout).contains("entry 2 was changed"),
        "{}",
        text(&bad.stdout)
    );

    // Truncation with the head row rewritten too: only the anchor sees it.
    let (url2, clinic2) = audited_db(&dir.path().join("second").tap_mkdir());
    let head = bordin(&["audit", "head", "--db", &url2], None);
    let anchor = text(&head.stdout)
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_owned();
    raw_sql(
        &url2,
        &[
            "DROP TRIGGER audit_log_is_kept",
            "DROP TRIGGER audit_heads_move_by_one",
            "DELETE FROM audit_log WHERE seq = 5",
            "UPDATE audit_heads SET seq = 4, hash = (SELECT hash FROM audit_log WHERE seq = 4)",
        ],
    );
    let plain = bordin(&["audit", "verify", "--db", &url2], None);
    assert!(plain.status.success());
    let anchored = bordin(
        &[
            "audit",
            "verify",
            "--db",
            &url2,
            "--clinic",
            &clinic2,
            "--expect-head",
            &anchor,
        ],
        None,
    );
    assert_eq!(anchored.status.code(), Some(1));
    assert!(
        text(&anchored.stdout).contains("entry 5 is missing"),
        "{}",
        text(&anchored.stdout)
    );
    let _ = clinic;
}

trait TapMkdir {
    fn tap_mkdir(self) -> Self;
}

impl TapMkdir for std::path::PathBuf {
    fn tap_mkdir(self) -> Self {
        std::fs::create_dir_all(&self).unwrap();
        self
    }
}

#[test]
fn serve_refuses_to_start_without_the_key_of_a_sealed_database() {
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("k.key");
    let g = bordin(
        &["keys", "generate", "--out", key_path.to_str().unwrap()],
        None,
    );
    assert!(g.status.success(), "{}", text(&g.stderr));
    let again = bordin(
        &["keys", "generate", "--out", key_path.to_str().unwrap()],
        None,
    );
    assert!(
        !again.status.success(),
        "an existing key file is never overwritten"
    );

    let url = format!("sqlite://{}", dir.path().join("s.db").display());
    let key_text = std::fs::read_to_string(&key_path).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let ring = std::sync::Arc::new(bordin_store::Keyring::parse(&key_text).unwrap());
        let store = bordin_store::Store::connect(&url)
            .await
            .unwrap()
            .with_keyring(ring);
        let c = store
            .create_clinic("Sealed", bordin_core::Setting::Therapy, 0)
            .await
            .unwrap();
        let u = store
            .create_user(
                &c.clinic_id,
                "a@b.c",
                "A",
                bordin_core::care::Role::Clinician,
                "x",
                0,
            )
            .await
            .unwrap();
        let case = store
            .create_case(
                &c.clinic_id,
                &bordin_store::NewCase {
                    title: "T",
                    setting: bordin_core::Setting::Therapy,
                    opened_on: "2026-01-01",
                    client_ids: &[],
                    lead_clinician: &u.user_id,
                },
                0,
            )
            .await
            .unwrap();
        let _ = store
            .save_formulation(
                &c.clinic_id,
                &case,
                0,
                &bordin_core::goals::FormulationDraft::parse("Private words", "", "", "", &[])
                    .unwrap(),
                &bordin_store::Change {
                    actor: bordin_store::Actor {
                        role: bordin_core::goals::Rater::Clinician,
                        id: &u.user_id,
                    },
                    at: 0,
                    reason: None,
                },
            )
            .await
            .unwrap();
        store.close().await;
    });
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bordin"));
    let out = cmd
        .args(["serve", "--db", &url, "--listen", "127.0.0.1:0"])
        .env_remove("BORDIN_KEY_FILE")
        .env_remove("BORDIN_KEY")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("encrypted values but no key is configured"),
        "{err}"
    );
    assert!(err.contains("--key-file"), "{err}");

    // Rotation to a new key, then the new key alone is enough.
    let new_key = dir.path().join("new.key");
    bordin(
        &["keys", "generate", "--out", new_key.to_str().unwrap()],
        None,
    );
    let rot = bordin(
        &[
            "keys",
            "rotate",
            "--db",
            &url,
            "--key-file",
            key_path.to_str().unwrap(),
            "--new-key",
            new_key.to_str().unwrap(),
        ],
        None,
    );
    assert!(rot.status.success(), "{}", text(&rot.stderr));
    assert!(
        text(&rot.stdout).contains("formulations"),
        "{}",
        text(&rot.stdout)
    );
    let wrong = bordin(
        &[
            "keys",
            "rotate",
            "--db",
            &url,
            "--key-file",
            new_key.to_str().unwrap(),
            "--new-key",
            key_path.to_str().unwrap(),
        ],
        None,
    );
    assert!(
        wrong.status.success(),
        "old key put back first: {}",
        text(&wrong.stderr)
    );
}

// ---- bordin analyze / eval (transcripts) ----

fn listen_data(name: &str) -> String {
    format!("{}/../listen/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Runs bordin with the model folder pointed at an empty place, so these tests behave the same
/// with or without the model fetched.
fn bordin_without_model(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bordin"))
        .args(args)
        .env("BORDIN_MODEL_DIR", "/nonexistent/bordin-model")
        .output()
        .expect("the bordin binary runs")
}

#[test]
fn analyze_prints_the_documented_json_and_says_the_semantic_part_is_off() {
    let dir = tempfile::tempdir().unwrap();
    let goals = dir.path().join("goals.json");
    std::fs::write(
        &goals,
        r#"{"clinicians": ["Therapist"], "goals": [{"id": "g1", "text": "Sleep better at night"}]}"#,
    )
    .unwrap();
    let out = bordin_without_model(&[
        "analyze",
        &listen_data("session.srt"),
        "--goals",
        goals.to_str().unwrap(),
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["turns"].as_array().unwrap().len(), 3);
    assert_eq!(v["turns"][1]["role"], "client");
    assert_eq!(v["turns"][1]["markers"][0], "withdrawal.minimal_response");
    assert_eq!(v["speakers"][0]["speaker"], "Therapist");
    assert_eq!(v["silences"][0]["seconds"], 2.5);
    assert_eq!(v["silences"][0]["after_speaker"], "Therapist");
    assert_eq!(v["markers"][0]["kind"], "withdrawal");
    assert_eq!(v["markers"][0]["turn"], 1);
    assert_eq!(v["goals"][0]["covered"], true);
    assert_eq!(v["session"]["semantic"], false);
    assert!(v["session"]["bond"].is_null());
    assert!(v["session"]["semantic_note"]
        .as_str()
        .unwrap()
        .contains("off"));
}

#[test]
fn analyze_names_the_file_and_line_of_a_broken_transcript() {
    let out = bordin_without_model(&["analyze", &listen_data("broken_timing.vtt")]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("broken_timing.vtt: line 8: expected a cue timing line"),
        "{err}"
    );
}

#[test]
fn analyze_with_a_missing_model_folder_named_is_an_error() {
    let out = bordin_without_model(&[
        "analyze",
        &listen_data("session.txt"),
        "--model",
        "/nonexistent/model",
    ]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("is missing model.safetensors"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn eval_prints_agreement_with_the_shipped_labelled_set() {
    let dir = format!("{}/../listen/eval", env!("CARGO_MANIFEST_DIR"));
    let out = bordin_without_model(&["eval", &dir, "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["sessions"], 6);
    let w = &v["by_kind"]["withdrawal"];
    // Session 02's six withdrawal labels are all found by rule (hand-checked); session 04's
    // self-criticism ("I'm useless at …") is found too; nothing is flagged in sessions 01 and 05.
    assert_eq!(w["true_positives"], 6);
    assert_eq!(w["false_negatives"], 0);
    let table = bordin_without_model(&["eval", &dir]);
    assert!(text(&table.stdout).contains("markers: confrontation"));
}
