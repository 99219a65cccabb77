//! Transcripts: stored with their session, analysed, kept per clinic, and their words deleted
//! (the summary kept) when the clinic's retention period is over.

use bordin_store::{
    NewAnalysis, NewTranscript, TranscriptStatus, DEFAULT_TRANSCRIPT_RETENTION_DAYS,
};
use serde_json::json;

use crate::support::*;

const DAY: i64 = 86_400_000;

fn new<'a>(
    w: &'a World,
    body: &'a str,
    speakers: &'a serde_json::Value,
    at: i64,
) -> NewTranscript<'a> {
    NewTranscript {
        case_id: &w.case_id,
        session_id: &w.session.session_id,
        source: "upload",
        format: "txt",
        body,
        speakers,
        created_by: &w.clinician_id,
        at,
    }
}

#[tokio::test]
async fn a_transcript_waits_for_roles_then_keeps_its_analysis() {
    let (store, _g) = fresh_store().await;
    let w = world(&store, "Northside").await;
    let speakers = json!({"Ann": null, "Ben": null});
    let t = store
        .create_transcript(
            &w.clinic_id,
            &new(&w, "Ann: hello\nBen: hi", &speakers, T0),
            None,
        )
        .await
        .unwrap();
    assert_eq!(t.status, TranscriptStatus::NeedsRoles);
    assert_eq!(t.summary, None);

    let roles = json!({"Ann": "clinician", "Ben": "client"});
    let analysis = json!({"turns": [{"text": "hello"}]});
    let summary = json!({"markers": 0});
    store
        .save_transcript_analysis(
            &w.clinic_id,
            &t.transcript_id,
            &NewAnalysis {
                speakers: &roles,
                analysis: &analysis,
                summary: &summary,
                at: T0 + 5,
            },
        )
        .await
        .unwrap();
    let back = store
        .transcript(&w.clinic_id, &t.transcript_id)
        .await
        .unwrap();
    assert_eq!(back.status, TranscriptStatus::Analysed);
    assert_eq!(back.analysed_at, Some(T0 + 5));
    assert_eq!(back.summary, Some(summary));
    let text = store
        .transcript_text(&w.clinic_id, &t.transcript_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(text.body, "Ann: hello\nBen: hi");
    assert_eq!(text.speakers, roles);
    assert_eq!(text.analysis, Some(analysis));
    assert_eq!(
        store
            .transcripts_of_case(&w.clinic_id, &w.case_id)
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn a_transcript_is_invisible_from_another_clinic_and_needs_a_session_of_its_case() {
    let (store, _g) = fresh_store().await;
    let a = world(&store, "Northside").await;
    let b = world(&store, "Southside").await;
    let speakers = json!({});
    let t = store
        .create_transcript(&a.clinic_id, &new(&a, "x", &speakers, T0), None)
        .await
        .unwrap();
    assert!(store
        .transcript(&b.clinic_id, &t.transcript_id)
        .await
        .is_err());
    assert_eq!(
        store
            .transcript_text(&b.clinic_id, &t.transcript_id)
            .await
            .unwrap(),
        None
    );
    // B's session under A's case: refused.
    let mut wrong = new(&a, "x", &speakers, T0);
    wrong.session_id = &b.session.session_id;
    assert!(store
        .create_transcript(&a.clinic_id, &wrong, None)
        .await
        .is_err());
}

#[tokio::test]
async fn the_retention_sweep_deletes_words_after_the_clinics_period_and_keeps_the_summary() {
    let (store, _g) = fresh_store().await;
    let a = world(&store, "Northside").await;
    let b = world(&store, "Southside").await;
    assert_eq!(
        store.transcript_retention_days(&a.clinic_id).await.unwrap(),
        DEFAULT_TRANSCRIPT_RETENTION_DAYS
    );
    store
        .set_transcript_retention_days(&a.clinic_id, 7, &a.clinician_id, T0)
        .await
        .unwrap();
    assert_eq!(
        store.transcript_retention_days(&a.clinic_id).await.unwrap(),
        7
    );
    assert!(store
        .set_transcript_retention_days(&a.clinic_id, 0, &a.clinician_id, T0)
        .await
        .is_err());

    let speakers = json!({"Ann": "clinician"});
    let summary = json!({"talk_share_client": 0.5});
    let ta = store
        .create_transcript(
            &a.clinic_id,
            &new(&a, "old words", &speakers, T0),
            Some(&NewAnalysis {
                speakers: &speakers,
                analysis: &speakers,
                summary: &summary,
                at: T0,
            }),
        )
        .await
        .unwrap();
    let ta_new = store
        .create_transcript(
            &a.clinic_id,
            &new(&a, "newer", &speakers, T0 + 5 * DAY),
            None,
        )
        .await
        .unwrap();
    let tb = store
        .create_transcript(
            &b.clinic_id,
            &new(&b, "B keeps 30 days", &speakers, T0),
            None,
        )
        .await
        .unwrap();

    // Day 7 exactly after the first upload: clinic A's first transcript is due, nothing else.
    let now = T0 + 7 * DAY;
    assert_eq!(store.purge_expired_transcripts(now - 1).await.unwrap(), 0);
    assert_eq!(store.purge_expired_transcripts(now).await.unwrap(), 1);
    let gone = store
        .transcript(&a.clinic_id, &ta.transcript_id)
        .await
        .unwrap();
    assert_eq!(gone.status, TranscriptStatus::Purged);
    assert_eq!(gone.purged_at, Some(now));
    assert_eq!(gone.summary, Some(summary.clone()), "the numbers stay");
    assert_eq!(
        store
            .transcript_text(&a.clinic_id, &ta.transcript_id)
            .await
            .unwrap(),
        None
    );
    assert!(store
        .transcript_text(&a.clinic_id, &ta_new.transcript_id)
        .await
        .unwrap()
        .is_some());
    assert!(store
        .transcript_text(&b.clinic_id, &tb.transcript_id)
        .await
        .unwrap()
        .is_some());
    // Idempotent; and a purged transcript cannot be analysed again.
    assert_eq!(store.purge_expired_transcripts(now).await.unwrap(), 0);
    assert!(store
        .save_transcript_analysis(
            &a.clinic_id,
            &ta.transcript_id,
            &NewAnalysis {
                speakers: &speakers,
                analysis: &speakers,
                summary: &summary,
                at: now
            }
        )
        .await
        .is_err());
    // Clinic B's default (30 days) and A's second transcript come due later.
    assert_eq!(
        store
            .purge_expired_transcripts(T0 + 30 * DAY)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        store
            .transcript_text(&b.clinic_id, &tb.transcript_id)
            .await
            .unwrap(),
        None
    );
}
