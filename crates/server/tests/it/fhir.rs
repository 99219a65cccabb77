//! FHIR R4 over HTTP: Questionnaires out, QuestionnaireResponses in (scored and alerted exactly
//! as the native form), searchset Bundles out, OperationOutcomes for bad resources. Everything
//! Bordin writes is checked against the R4 rules in `bordin_interop::fhir::validate`.

use bordin_interop::fhir::validate;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::*;

const FHIR: &str = "application/fhir+json";

/// PHQ-9 answers with item 9 above "Not at all": 2,2,1,2,1,1,2,1,2 = 14 (moderate), risk:q9.
const PHQ9_14_RISK: [(&str, &str); 10] = [
    ("q1", "2"),
    ("q2", "2"),
    ("q3", "1"),
    ("q4", "2"),
    ("q5", "1"),
    ("q6", "1"),
    ("q7", "2"),
    ("q8", "1"),
    ("q9", "2"),
    ("q10", "1"),
];

/// The LOINC answer code of a PHQ-9 frequency point, and Bordin's code for the difficulty item.
fn phq9_coding(item: &str, value: &str) -> Value {
    if item == "q10" {
        return json!({"system": "https://bordin.example/fhir/CodeSystem/phq9-difficulty4", "code": value});
    }
    let code = ["LA6568-5", "LA6569-3", "LA6570-1", "LA6571-9"][value.parse::<usize>().unwrap()];
    json!({"system": "http://loinc.org", "code": code})
}

fn phq9_response(code: &str, answers: &[(&str, &str)]) -> Value {
    json!({
        "resourceType": "QuestionnaireResponse",
        "questionnaire": "https://bordin.example/fhir/Questionnaire/phq9|1",
        "status": "completed",
        "subject": {"identifier": {"system": "urn:ehr", "value": code}},
        "authored": "2026-03-02T09:30:00+01:00",
        "item": answers.iter().map(|(i, v)| json!({"linkId": i, "answer": [{"valueCoding": phq9_coding(i, v)}]})).collect::<Vec<_>>()
    })
}

async fn post_fhir(s: &Session, path: &str, body: &Value) -> (StatusCode, Option<String>, Value) {
    let r = s
        .http
        .post(s.url(path))
        .header("x-csrf-token", &s.csrf)
        .header("content-type", FHIR)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = r.status();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, ct, r.json().await.unwrap_or(Value::Null))
}

fn alert_summary(alerts: &Value) -> Vec<(String, String, String, i64)> {
    let mut v: Vec<_> = alerts
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["kind"].as_str().unwrap().to_owned(),
                a["measure"].as_str().unwrap().to_owned(),
                a["urgency"].as_str().unwrap().to_owned(),
                a["session_number"].as_i64().unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn a_phq9_questionnaire_response_is_scored_and_alerted_exactly_as_the_native_form() {
    let app = spawn_app().await;
    let s = app.login(&app.clinician).await;

    // The native form: a link answered on the client's phone.
    let native_case = s.new_case("NATIVE-1").await;
    crate::consent::grant_all(&app, &app.clinic_a, &native_case).await;
    let link = s.send_link(&native_case, "phq9").await;
    let (status, _) = submit_link_form(&app.base, &link, &PHQ9_14_RISK).await;
    assert_eq!(status, StatusCode::OK);

    // The same answers as FHIR, for another client.
    let fhir_case = s.new_case("FHIR-1").await;
    crate::consent::grant_all(&app, &app.clinic_a, &fhir_case).await;
    let (status, ct, qr) = post_fhir(
        &s,
        "/fhir/QuestionnaireResponse",
        &phq9_response("FHIR-1", &PHQ9_14_RISK),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{qr}");
    assert_eq!(ct.as_deref(), Some(FHIR));
    assert!(
        validate::resource(&qr).is_empty(),
        "{:?}",
        validate::resource(&qr)
    );
    let response_id = qr["id"].as_str().unwrap();

    // Same stored total and band...
    let native = s.scores(&native_case, "phq9", "total").await;
    let imported = s.scores(&fhir_case, "phq9", "total").await;
    assert_eq!(native.len(), 1);
    assert_eq!(imported.len(), 1);
    assert_eq!(native[0]["value"], json!(14.0));
    assert_eq!(imported[0]["value"], native[0]["value"]);
    assert_eq!(imported[0]["band"], "moderate");
    assert_eq!(imported[0]["band"], native[0]["band"]);
    // ...same flags...
    let (_, detail) = s
        .get_json(&format!("/api/v1/responses/{response_id}"))
        .await;
    assert_eq!(detail["scores"]["flags"], json!(["risk:q9"]), "{detail}");
    assert_eq!(detail["case_id"], fhir_case);
    // ...and the same alerts raised.
    let (_, native_alerts) = s
        .get_json(&format!("/api/v1/alerts?case_id={native_case}"))
        .await;
    let (_, fhir_alerts) = s
        .get_json(&format!("/api/v1/alerts?case_id={fhir_case}"))
        .await;
    let native_alerts = alert_summary(&native_alerts);
    assert!(
        native_alerts.iter().any(|a| a.0 == "risk"),
        "the native form raised a risk alert: {native_alerts:?}"
    );
    assert_eq!(alert_summary(&fhir_alerts), native_alerts);

    // The response comes back in a searchset with its Observation and Patient, all valid R4.
    let r = s
        .http
        .get(s.url("/fhir/QuestionnaireResponse?patient=FHIR-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let bundle: Value = r.json().await.unwrap();
    assert!(
        validate::resource(&bundle).is_empty(),
        "{:?}",
        validate::resource(&bundle)
    );
    assert_eq!(bundle["total"], 1);
    let entries = bundle["entry"].as_array().unwrap();
    let obs = entries
        .iter()
        .find(|e| e["resource"]["resourceType"] == "Observation")
        .expect("an Observation");
    assert_eq!(obs["resource"]["code"]["coding"][0]["code"], "44261-6");
    assert_eq!(obs["resource"]["valueQuantity"]["value"], json!(14));
    assert_eq!(
        obs["resource"]["derivedFrom"][0]["reference"],
        format!("QuestionnaireResponse/{response_id}")
    );
    let patient = entries
        .iter()
        .find(|e| e["resource"]["resourceType"] == "Patient")
        .expect("the Patient");
    assert_eq!(patient["resource"]["identifier"][0]["value"], "FHIR-1");
    assert!(
        patient["resource"].get("name").is_none(),
        "no name leaves Bordin"
    );

    // And it answers its own Questionnaire.
    let (status, q) = s.get_json("/fhir/Questionnaire/phq9").await;
    assert_eq!(status, StatusCode::OK);
    let matched = &entries[0]["resource"];
    assert!(
        validate::response_against(matched, &q).is_empty(),
        "{:?}",
        validate::response_against(matched, &q)
    );
}

#[tokio::test]
async fn questionnaires_are_valid_r4_and_licence_gated_wording_stays_home() {
    let app = spawn_app().await;
    let s = app.login(&app.clinician).await;
    for id in ["phq9", "gad7", "session-check"] {
        let r = s.get(&format!("/fhir/Questionnaire/{id}")).await;
        assert_eq!(r.status(), StatusCode::OK, "{id}");
        assert_eq!(r.headers()["content-type"], FHIR);
        let q: Value = r.json().await.unwrap();
        assert!(
            validate::resource(&q).is_empty(),
            "{id}: {:?}",
            validate::resource(&q)
        );
    }
    let (_, gad7) = s.get_json("/fhir/Questionnaire/gad7").await;
    assert_eq!(gad7["code"][0]["code"], "69737-5");

    // WAI-SR without the clinic's text pack: refused with the reason and the fix.
    let (status, oo) = s.get_json("/fhir/Questionnaire/wai-sr").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{oo}");
    assert_eq!(oo["resourceType"], "OperationOutcome");
    assert!(validate::resource(&oo).is_empty());
    assert!(oo["issue"][0]["diagnostics"]
        .as_str()
        .unwrap()
        .contains("text pack"));
    // With the pack: the clinic's wording, never anything else.
    app.install_placeholder_packs().await;
    let (status, q) = s.get_json("/fhir/Questionnaire/wai-sr").await;
    assert_eq!(status, StatusCode::OK, "{q}");
    assert!(
        validate::resource(&q).is_empty(),
        "{:?}",
        validate::resource(&q)
    );
    let pack = bordin_core::TextPack::from_toml("p", bordin_core::registry::PLACEHOLDER_PACKS[0].1)
        .unwrap();
    let q1 = q["item"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["linkId"] == "q1")
        .unwrap();
    assert_eq!(
        q1["text"].as_str(),
        pack.items.get("q1").map(String::as_str)
    );

    let (status, oo) = s.get_json("/fhir/Questionnaire/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(oo["issue"][0]["code"], "not-found");
}

#[tokio::test]
async fn bad_resources_get_an_operation_outcome_naming_the_element() {
    let app = spawn_app().await;
    let s = app.login(&app.clinician).await;
    let bad_case = s.new_case("BAD-1").await;
    crate::consent::grant_all(&app, &app.clinic_a, &bad_case).await;

    let mut bad = phq9_response("BAD-1", &PHQ9_14_RISK);
    bad["item"][3]["answer"][0] = json!({"valueInteger": 2});
    let (status, ct, oo) = post_fhir(&s, "/fhir/QuestionnaireResponse", &bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{oo}");
    assert_eq!(ct.as_deref(), Some(FHIR));
    assert!(validate::resource(&oo).is_empty());
    assert_eq!(
        oo["issue"][0]["expression"][0],
        "QuestionnaireResponse.item[3].answer[0]"
    );

    for (body, expression) in [
        (json!("[]"), None),
        (json!({"resourceType": "Patient"}), None),
        (
            {
                let mut b = phq9_response("BAD-1", &PHQ9_14_RISK);
                b["questionnaire"] = json!("https://bordin.example/fhir/Questionnaire/phq9|7");
                b
            },
            Some("QuestionnaireResponse.questionnaire"),
        ),
        (
            phq9_response("NOBODY", &PHQ9_14_RISK),
            Some("QuestionnaireResponse.subject.identifier.value"),
        ),
    ] {
        let (status, _, oo) = post_fhir(&s, "/fhir/QuestionnaireResponse", &body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body} → {oo}");
        assert_eq!(oo["resourceType"], "OperationOutcome");
        if let Some(e) = expression {
            assert_eq!(oo["issue"][0]["expression"][0], e, "{oo}");
        }
    }
    // Nothing was stored for any of them.
    assert!(s.scores(&bad_case, "phq9", "total").await.is_empty());

    // Without the client's consent to questionnaires (here: withdrawn) nothing is stored either.
    let nc = s.new_case("NOCONSENT-1").await;
    let client = app.store.case(&app.clinic_a, &nc).await.unwrap().clients[0]
        .client_id
        .clone();
    let (status, body) = s
        .post_json(
            &format!("/api/v1/cases/{nc}/consents"),
            &json!({"client_id": client, "kind": "questionnaires", "granted": false}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, _, oo) = post_fhir(
        &s,
        "/fhir/QuestionnaireResponse",
        &phq9_response("NOCONSENT-1", &PHQ9_14_RISK),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{oo}");
    assert_eq!(oo["issue"][0]["code"], "business-rule");
    assert!(oo["issue"][0]["diagnostics"]
        .as_str()
        .unwrap()
        .contains("NOCONSENT-1"));

    // Another clinic's client is simply not found; no login is a 401 OperationOutcome.
    let b = app.login(&app.b_clinician).await;
    let (status, _, oo) = post_fhir(
        &b,
        "/fhir/QuestionnaireResponse",
        &phq9_response("BAD-1", &PHQ9_14_RISK),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(oo["issue"][0]["code"], "not-found");
    let r = reqwest::Client::new()
        .get(app.url("/fhir/QuestionnaireResponse?patient=BAD-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let oo: Value = r.json().await.unwrap();
    assert_eq!(oo["issue"][0]["code"], "login");
    // A write without the CSRF header is refused.
    let r = s
        .http
        .post(s.url("/fhir/QuestionnaireResponse"))
        .header("content-type", FHIR)
        .body(phq9_response("BAD-1", &PHQ9_14_RISK).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_admin_downloads_the_research_export_of_consenting_clients() {
    let app = spawn_app().await;
    let s = app.login(&app.clinician).await;
    let yes = s.new_case("R-YES").await;
    crate::consent::grant_all(&app, &app.clinic_a, &yes).await;
    let no = s.new_case("R-NO").await; // consents to questionnaires only
    for code in ["R-YES", "R-NO"] {
        let (status, _, qr) = post_fhir(
            &s,
            "/fhir/QuestionnaireResponse",
            &phq9_response(code, &PHQ9_14_RISK),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{qr}");
    }
    let _ = no;
    let admin = app.login(&app.admin).await;
    let r = admin
        .get("/admin/research-export.csv?from=2026-03-01&to=2026-03-31")
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = r.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    // Header, 10 PHQ-9 items and the total of R-YES only.
    assert_eq!(lines.len(), 12, "{csv}");
    assert!(lines[1..].iter().all(|l| l.contains(",R-YES,")), "{csv}");
    assert!(
        lines[11].contains(",2026-03-02,phq9,1,client,")
            && lines[11].ends_with(",score,total,14,import"),
        "{csv}"
    );
    let (status, book) = admin.get_json("/admin/research-codebook.json").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(book["instruments"][0]["id"], "phq9");
    // Outside the date range: only the header.
    let r = admin.get("/admin/research-export.csv?to=2026-02-28").await;
    assert_eq!(r.text().await.unwrap().lines().count(), 1);
    // Not for clinicians.
    assert_eq!(
        s.get("/admin/research-export.csv").await.status(),
        StatusCode::NOT_FOUND
    );
}
