//! `bordin fhir`, `bordin export research` and `bordin import scores`: the library steps over a
//! real SQLite database, and the binary's exit codes and messages.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fmt::Write as _;
use std::process::Command;

use bordin_core::care::Role;
use bordin_core::goals::ConsentKind;
use bordin_core::{Registry, Setting};
use bordin_interop::fhir::validate;
use bordin_server::{AppState, Config};
use bordin_store::Store;
use serde_json::{json, Value};

const HEADER: &str =
    "client_code,case_key,case_status,session_number,date,instrument,kind,name,value\n";

fn bordin(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_bordin"))
        .args(args)
        .env_remove("BORDIN_INSTRUMENTS")
        .env_remove("BORDIN_DB")
        .output()
        .expect("bordin runs")
}

async fn clinic_db(dir: &std::path::Path) -> (String, Store, String) {
    let url = format!("sqlite://{}", dir.join("bordin.db").display());
    let store = Store::connect(&url).await.unwrap();
    let clinic = store
        .create_clinic("Northside", Setting::Therapy, 1_700_000_000_000)
        .await
        .unwrap();
    (url, store, clinic.clinic_id)
}

/// `n` closed PHQ-9 cases of 4 weekly sessions (scores only), falling from an intake of 14..=22.
fn history(n: usize) -> String {
    let mut csv = HEADER.to_owned();
    for c in 0..n {
        let intake = 14 + (c % 9) as i64;
        for s in 1..=4i64 {
            let value = (intake - 3 * (s - 1) + (c % 3) as i64 - 1).max(0);
            let day = 1 + 7 * (s - 1);
            writeln!(
                csv,
                "H-{c},case-{c},closed,{s},2024-03-{day:02},phq9,score,total,{value}"
            )
            .unwrap();
        }
    }
    csv
}

#[tokio::test]
async fn imported_closed_cases_count_toward_the_clinics_expected_course() {
    let dir = tempfile::tempdir().unwrap();
    let (_, store, clinic) = clinic_db(dir.path()).await;
    let registry = Registry::builtin().unwrap();
    let state = AppState::new(store.clone(), registry.clone(), Config::default());
    let before = bordin_server::monitor::rules(&state, &clinic)
        .await
        .unwrap();
    assert!(!before.expected.models.contains_key("phq9.total"));

    let n = bordin_core::monitoring::expected::ExpectedTrajectories::MIN_CASES;
    let summary =
        bordin::interop::import_scores(&store, &registry, &clinic, history(n).as_bytes(), 1)
            .await
            .unwrap();
    assert_eq!(
        (summary.cases, summary.sessions, summary.responses),
        (n, 4 * n, 4 * n)
    );
    assert_eq!(summary.clients_created, n);

    // A fresh state (the rules are cached per process for a while): calibrated on the import.
    let state = AppState::new(store.clone(), registry.clone(), Config::default());
    let rules = bordin_server::monitor::rules(&state, &clinic)
        .await
        .unwrap();
    let model = rules
        .expected
        .models
        .get("phq9.total")
        .expect("the clinic's own expected course for the PHQ-9 total");
    assert_eq!(model.closed_cases, n);

    // The same file again is refused whole: history is not doubled.
    let again =
        bordin::interop::import_scores(&store, &registry, &clinic, history(n).as_bytes(), 2).await;
    let err = again.unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert!(
        err.to_string().contains("'case-0' was imported before"),
        "{err}"
    );
    let all = store.all_case_series(&clinic).await.unwrap();
    assert_eq!(all.len(), n);
}

#[tokio::test]
async fn the_research_export_holds_consenting_clients_only_and_round_trips_through_the_import() {
    let dir = tempfile::tempdir().unwrap();
    let (_, store, clinic) = clinic_db(dir.path()).await;
    let registry = Registry::builtin().unwrap();
    // Two imported cases with item answers (GAD-7) and one scores-only (PHQ-9).
    let mut csv = HEADER.to_owned();
    for (code, key, vals) in [
        ("A-1", "ka", [1, 2, 0, 1, 1, 0, 3]),
        ("B-2", "kb", [3, 3, 3, 3, 3, 3, 3]),
    ] {
        for (i, v) in vals.iter().enumerate() {
            writeln!(
                csv,
                "{code},{key},closed,1,2025-01-07,gad7,item,q{},{v}",
                i + 1
            )
            .unwrap();
        }
    }
    csv.push_str("A-1,ka,closed,2,2025-01-14,phq9,score,total,11\n");
    bordin::interop::import_scores(&store, &registry, &clinic, csv.as_bytes(), 1)
        .await
        .unwrap();

    // Only A-1 consents (B-2 granted, then withdrew).
    let admin = store
        .create_user(&clinic, "a@x.test", "Ada", Role::Admin, "x", 1)
        .await
        .unwrap();
    let cases = store.all_case_ids(&clinic).await.unwrap();
    for case_id in &cases {
        let case = store.case(&clinic, case_id).await.unwrap();
        let client = &case.clients[0];
        let actor = bordin_store::Actor {
            id: &admin.user_id,
            role: bordin_core::goals::Rater::Clinician,
        };
        let change = bordin_store::Change {
            actor,
            at: 10,
            reason: None,
        };
        store
            .record_consent(
                &clinic,
                case_id,
                &client.client_id,
                ConsentKind::ResearchExport,
                true,
                &change,
            )
            .await
            .unwrap();
        if client.code == "B-2" {
            let change = bordin_store::Change {
                actor,
                at: 20,
                reason: None,
            };
            store
                .record_consent(
                    &clinic,
                    case_id,
                    &client.client_id,
                    ConsentKind::ResearchExport,
                    false,
                    &change,
                )
                .await
                .unwrap();
        }
    }

    let out = dir.path().join("export");
    let s = bordin::interop::export_research(
        &store,
        &registry,
        &clinic,
        Default::default(),
        None,
        &out,
    )
    .await
    .unwrap();
    // 7 GAD-7 items + its total, and the PHQ-9 total.
    assert_eq!((s.responses, s.rows), (2, 9));
    let text = std::fs::read_to_string(out.join("research.csv")).unwrap();
    assert!(!text.contains("B-2"), "a withdrawn consent is not exported");
    assert!(text.contains(",A-1,"));
    assert!(text.contains(",2025-01-07,gad7,1,client,"));
    assert!(
        text.lines().any(|l| l.ends_with(",score,total,8,import")),
        "{text}"
    );
    let book: Value =
        serde_json::from_slice(&std::fs::read(out.join("codebook.json")).unwrap()).unwrap();
    let columns: Vec<&str> = book["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        columns,
        text.lines().next().unwrap().split(',').collect::<Vec<_>>()
    );
    assert_eq!(book["instruments"][0]["id"], "gad7");
    assert_eq!(
        book["instruments"][0]["items"][0]["answers"]["3"],
        "Nearly every day"
    );

    // Date range and shifting.
    let opts = bordin_interop::research::ExportOptions {
        from: Some("2025-01-10".into()),
        ..Default::default()
    };
    let s = bordin::interop::export_research(&store, &registry, &clinic, opts, Some(7), &out)
        .await
        .unwrap();
    assert_eq!(s.rows, 1);
    let text = std::fs::read_to_string(out.join("research.csv")).unwrap();
    assert!(!text.contains("2025-01-14"), "the date is shifted: {text}");

    // The export is the import's format: a second clinic takes it as it is.
    let other = store
        .create_clinic("Elsewhere", Setting::Therapy, 1)
        .await
        .unwrap();
    let s = bordin::interop::export_research(
        &store,
        &registry,
        &clinic,
        Default::default(),
        None,
        &out,
    )
    .await
    .unwrap();
    assert_eq!(s.responses, 2);
    let exported = std::fs::read(out.join("research.csv")).unwrap();
    let imported =
        bordin::interop::import_scores(&store, &registry, &other.clinic_id, &exported, 3)
            .await
            .unwrap();
    assert_eq!((imported.cases, imported.responses), (1, 2));
}

#[test]
fn bordin_fhir_questionnaire_prints_valid_r4() {
    let out = bordin(&["fhir", "questionnaire", "phq9"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let q: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(q["resourceType"], "Questionnaire");
    assert_eq!(q["code"][0]["code"], "44249-1");
    assert!(
        validate::resource(&q).is_empty(),
        "{:?}",
        validate::resource(&q)
    );

    let out = bordin(&["fhir", "questionnaire", "wai_sr"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "no wording leaks");
    assert!(String::from_utf8_lossy(&out.stderr).contains("text pack"));
}

#[test]
fn bordin_fhir_import_takes_a_bundle_whole_or_not_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (url, store, clinic) = rt.block_on(async {
        let (url, store, clinic) = clinic_db(dir.path()).await;
        let client = store.create_client(&clinic, "P-7", None, 1).await.unwrap();
        let user = store
            .create_user(&clinic, "c@x.test", "Cleo", Role::Clinician, "x", 1)
            .await
            .unwrap();
        store
            .create_case(
                &clinic,
                &bordin_store::NewCase {
                    title: "P-7",
                    setting: Setting::Therapy,
                    opened_on: "2026-01-05",
                    client_ids: std::slice::from_ref(&client.client_id),
                    lead_clinician: &user.user_id,
                },
                1,
            )
            .await
            .unwrap();
        let case_id = store.all_case_ids(&clinic).await.unwrap().remove(0);
        let change = bordin_store::Change {
            actor: bordin_store::Actor {
                id: &user.user_id,
                role: bordin_core::goals::Rater::Clinician,
            },
            at: 2,
            reason: None,
        };
        store
            .record_consent(
                &clinic,
                &case_id,
                &client.client_id,
                ConsentKind::Questionnaires,
                true,
                &change,
            )
            .await
            .unwrap();
        (url, store, clinic)
    });
    let codes = ["LA6568-5", "LA6569-3", "LA6570-1", "LA6571-9"];
    let qr = |vals: [usize; 9], date: &str| {
        json!({"resourceType": "QuestionnaireResponse", "questionnaire": "https://bordin.example/fhir/Questionnaire/phq9|1",
               "status": "completed", "subject": {"reference": "Patient/P-7"}, "authored": date,
               "item": vals.iter().enumerate().map(|(i, v)| json!({"linkId": format!("q{}", i + 1), "answer": [{"valueCoding": {"system": "http://loinc.org", "code": codes[*v]}}]})).collect::<Vec<_>>()})
    };
    let mut bad = qr([1; 9], "2026-01-12");
    bad["item"][8]["answer"][0]["valueCoding"]["code"] = json!("LA0000-0");
    let bundle = json!({"resourceType": "Bundle", "type": "collection",
        "entry": [{"resource": qr([2; 9], "2026-01-05")}, {"resource": bad}]});
    let file = dir.path().join("bundle.json");
    std::fs::write(&file, bundle.to_string()).unwrap();
    let f = file.to_str().unwrap();
    let out = bordin(&["fhir", "import", f, "--db", &url, "--clinic", &clinic]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Bundle.entry[1].resource.item[8].answer[0].valueCoding"),
        "{err}"
    );
    let case_id = rt.block_on(store.all_case_ids(&clinic)).unwrap().remove(0);
    assert!(
        rt.block_on(store.case_scores(&clinic, &case_id))
            .unwrap()
            .is_empty(),
        "nothing imported"
    );

    let good = json!({"resourceType": "Bundle", "type": "collection",
        "entry": [{"resource": qr([2; 9], "2026-01-05")}, {"resource": qr([1; 9], "2026-01-12")}]});
    std::fs::write(&file, good.to_string()).unwrap();
    let out = bordin(&["fhir", "import", f, "--db", &url, "--clinic", &clinic]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 2);
    let scores = rt.block_on(store.case_scores(&clinic, &case_id)).unwrap();
    let totals: Vec<(Option<i64>, Option<f64>)> = scores
        .iter()
        .filter(|s| s.scale_id == "total")
        .map(|s| (s.session_number, s.value))
        .collect();
    assert_eq!(totals, [(Some(1), Some(18.0)), (Some(2), Some(9.0))]);
}

#[test]
fn bordin_import_scores_names_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (url, _store, clinic) = rt.block_on(clinic_db(dir.path()));
    let file = dir.path().join("scores.csv");
    std::fs::write(
        &file,
        format!("{HEADER}H-1,k1,closed,1,2025-01-06,phq9,score,total,40\n"),
    )
    .unwrap();
    let out = bordin(&[
        "import",
        "scores",
        file.to_str().unwrap(),
        "--db",
        &url,
        "--clinic",
        &clinic,
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("line 2, column value: total 40 is outside the scale's range 0 to 27"),
        "{err}"
    );
}
