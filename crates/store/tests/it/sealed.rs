//! Encryption at rest: free text is stored sealed (the database file does not contain it),
//! opens only with the right key, and survives key rotation.

use std::sync::Arc;

use bordin_core::goals::{
    FormulationDraft, GoalDraft, GoalStatus, Rater, TaskDraft, TaskOutcome, TaskReport,
};
use bordin_store::{
    Actor, Change, Key, Keyring, NewAnalysis, NewTranscript, SealError, Store, StoreError,
};

use crate::support::{world, T0};

const SECRET_WORDS: &str = "Tell my sister about the accident";
const TRANSCRIPT_WORDS: &str = "I never told anyone about the night on the bridge";
const TOTP_SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

fn change<'a>(id: &'a str, reason: Option<&'a str>) -> Change<'a> {
    Change {
        actor: Actor {
            role: Rater::Clinician,
            id,
        },
        at: T0,
        reason,
    }
}

struct Db {
    dir: tempfile::TempDir,
}

impl Db {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn url(&self) -> String {
        format!("sqlite://{}", self.dir.path().join("b.db").display())
    }
    /// Every byte on disk: the database and its write-ahead log.
    fn bytes(&self) -> Vec<u8> {
        let mut all = Vec::new();
        for entry in std::fs::read_dir(self.dir.path()).unwrap() {
            all.extend(std::fs::read(entry.unwrap().path()).unwrap());
        }
        all
    }
    async fn open(&self, keyring: Option<&Arc<Keyring>>) -> Store {
        let s = Store::connect(&self.url()).await.unwrap();
        match keyring {
            Some(k) => s.with_keyring(k.clone()),
            None => s,
        }
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

fn ring_with(line: &str) -> Arc<Keyring> {
    Arc::new(Keyring::parse(line).unwrap())
}

/// Writes one of each kind of free text; returns (clinic, goal id, case id).
async fn write_free_text(store: &Store) -> (String, String, String) {
    let w = world(store, "Sealed").await;
    let by = w.clinician_id.clone();
    let goal = store
        .create_goal(
            &w.clinic_id,
            &w.case_id,
            &GoalDraft::parse(SECRET_WORDS, "Carrying it alone", 1, None, "We talk", None).unwrap(),
            GoalStatus::Active,
            &change(&by, Some("Agreed in session three")),
        )
        .await
        .unwrap();
    let task = store
        .create_task(
            &w.clinic_id,
            &goal.goal_id,
            &TaskDraft::parse("Write the first sentence", "Start small", "client", 2, None)
                .unwrap(),
            &change(&by, None),
        )
        .await
        .unwrap();
    store
        .report_task(
            &w.clinic_id,
            &task.task_id,
            None,
            &TaskReport::parse(
                TaskOutcome::Completed,
                Some(7),
                Some(8),
                "Cried after writing",
            )
            .unwrap(),
            &change(&by, None),
        )
        .await
        .unwrap();
    let _ = store
        .save_formulation(
            &w.clinic_id,
            &w.case_id,
            0,
            &FormulationDraft::parse("Grief after the accident", "", "Humour", "", &[]).unwrap(),
            &change(&by, None),
        )
        .await
        .unwrap();
    let speakers = serde_json::json!({"Dr Hale": "clinician", "Sam": "client"});
    let analysis = serde_json::json!({"turns": [{"text": TRANSCRIPT_WORDS}]});
    store
        .create_transcript(
            &w.clinic_id,
            &NewTranscript {
                case_id: &w.case_id,
                session_id: &w.session.session_id,
                source: "upload",
                format: "txt",
                body: &format!("Sam: {TRANSCRIPT_WORDS}"),
                speakers: &speakers,
                created_by: &by,
                at: T0,
            },
            Some(&NewAnalysis {
                speakers: &speakers,
                analysis: &analysis,
                summary: &serde_json::json!({"markers": 0}),
                at: T0,
            }),
        )
        .await
        .unwrap();
    assert!(store
        .start_totp(&w.clinic_id, &by, TOTP_SECRET, T0)
        .await
        .unwrap());
    let totp = store.totp(&w.clinic_id, &by).await.unwrap().unwrap();
    assert_eq!(totp.secret_base32, TOTP_SECRET);
    (w.clinic_id, goal.goal_id, w.case_id)
}

#[tokio::test]
async fn free_text_is_not_in_the_database_file_and_reads_back_with_the_key() {
    let db = Db::new();
    let key = Key::generate();
    let ring = ring_with(&key.to_line());
    let store = db.open(Some(&ring)).await;
    let (clinic, goal_id, case_id) = write_free_text(&store).await;
    store.close().await;
    let bytes = db.bytes();
    for plain in [
        SECRET_WORDS,
        "Carrying it alone",
        "Write the first sentence",
        "Cried after writing",
        "Grief after the accident",
        "Agreed in session three",
        "night on the bridge",
        "Dr Hale",
        TOTP_SECRET,
    ] {
        assert!(!contains(&bytes, plain), "'{plain}' is in the file");
    }
    assert!(contains(&bytes, "sealed:v1:"));

    let store = db.open(Some(&ring)).await;
    assert_eq!(
        store.goal(&clinic, &goal_id).await.unwrap().words,
        SECRET_WORDS
    );
    let log = store.agreements_log(&clinic, &case_id).await.unwrap();
    assert_eq!(log[0].snapshot["words"], SECRET_WORDS);
    assert_eq!(log[0].reason.as_deref(), Some("Agreed in session three"));
    let transcripts = store.transcripts_of_case(&clinic, &case_id).await.unwrap();
    let text = store
        .transcript_text(&clinic, &transcripts[0].transcript_id)
        .await
        .unwrap()
        .unwrap();
    assert!(text.body.contains(TRANSCRIPT_WORDS));
    assert_eq!(text.speakers["Sam"], "client");
    assert_eq!(text.analysis.unwrap()["turns"][0]["text"], TRANSCRIPT_WORDS);
    assert!(store.sealed_value_count().await.unwrap() >= 10);
}

#[tokio::test]
async fn a_missing_or_wrong_key_is_a_clear_error() {
    let db = Db::new();
    let ring = ring_with(&Key::generate().to_line());
    let (clinic, goal_id, _) = write_free_text(&db.open(Some(&ring)).await).await;

    let no_key = db.open(None).await;
    let err = no_key.goal(&clinic, &goal_id).await.unwrap_err();
    assert!(matches!(err, StoreError::Sealed(SealError::NoKey)), "{err}");
    assert!(err.to_string().contains("BORDIN_KEY_FILE"));

    let wrong = db.open(Some(&ring_with(&Key::generate().to_line()))).await;
    let err = wrong.goal(&clinic, &goal_id).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Sealed(SealError::UnknownKey { .. })),
        "{err}"
    );
    assert!(err.to_string().contains("goals.words"), "{err}");
}

#[tokio::test]
async fn rotation_reseals_everything_under_the_new_key_and_can_be_repeated() {
    let db = Db::new();
    // Some text written before the clinic had a key, then more under key A.
    let plain_store = db.open(None).await;
    let (clinic, early_goal, _) = write_free_text(&plain_store).await;
    let a = Key::generate();
    let a_line = a.to_line();
    let store_a = db.open(Some(&ring_with(&a_line))).await;
    let late = store_a
        .create_goal(
            &clinic,
            &store_a.goal(&clinic, &early_goal).await.unwrap().case_id,
            &GoalDraft::parse("Sleep again", "", 2, None, "", None).unwrap(),
            GoalStatus::Proposed,
            &change("someone", None),
        )
        .await
        .unwrap();

    let b = Key::generate();
    let b_line = b.to_line();
    let both = Keyring::parse(&a_line)
        .unwrap()
        .merged_under(Keyring::parse(&b_line).unwrap());
    let rotating = db.open(Some(&Arc::new(both))).await;
    let report = rotating.reseal_all(3).await.unwrap();
    assert_eq!(report.key_id, b.id());
    let goals = report.tables.iter().find(|(t, _)| t == "goals").unwrap().1;
    // Early goal: words, why, how_we_know; late goal: words (why/how empty are NULL).
    assert_eq!(goals, 4);
    assert!(report.total() > goals);
    // Again: nothing left to do.
    assert_eq!(rotating.reseal_all(3).await.unwrap().total(), 0);

    // Key B alone now opens everything; key A alone opens nothing any more.
    let only_b = db.open(Some(&ring_with(&b_line))).await;
    assert_eq!(
        only_b.goal(&clinic, &early_goal).await.unwrap().words,
        SECRET_WORDS
    );
    assert_eq!(
        only_b.goal(&clinic, &late.goal_id).await.unwrap().words,
        "Sleep again"
    );
    assert!(only_b.agreements_log(&clinic, &late.case_id).await.is_ok());
    let only_a = db.open(Some(&ring_with(&a_line))).await;
    assert!(only_a.goal(&clinic, &late.goal_id).await.is_err());
    // Nothing of the text as first written is left on disk (secure_delete, WAL truncated).
    for s in [plain_store, store_a, rotating, only_a] {
        s.close().await;
    }
    only_b.close().await;
    assert!(!contains(&db.bytes(), SECRET_WORDS));
}

#[tokio::test]
async fn append_only_tables_accept_only_resealing() {
    let db = Db::new();
    let ring = ring_with(&Key::generate().to_line());
    let store = db.open(Some(&ring)).await;
    write_free_text(&store).await;
    for sql in [
        "UPDATE agreements_log SET reason = 'rewritten'",
        "UPDATE agreements_log SET seq = seq + 100",
        "UPDATE formulations SET strengths = NULL",
    ] {
        assert!(store.execute_raw_for_tests(sql).await.is_err(), "{sql}");
    }
    assert!(store
        .execute_raw_for_tests(
            "UPDATE agreements_log SET reason = 'sealed:v1:x:y' WHERE reason IS NOT NULL"
        )
        .await
        .is_ok());
}
