//! The cost of the audit trail and of encryption at rest, each against the same work without
//! it, measured in the same run on a SQLite file (WAL, synchronous=FULL, as served):
//! - `case_read`: what a case page's access check reads (`store.case`), alone;
//! - `case_read_audited`: the same plus the audit entry `policy::case` appends (one write
//!   transaction: head row, entry, head update, commit with fsync);
//! - `goal_read` / `goal_read_sealed`: reading a case's 10 goals as plain text / sealed.
//!
//! Run with `cargo bench -p bordin --bench audit`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::sync::Arc;

use bordin_core::goals::{GoalDraft, GoalStatus, Rater};
use bordin_store::{Actor, AuditEvent, Change, Key, Keyring, NewCase, Store};
use criterion::{criterion_group, criterion_main, Criterion};

async fn clinic(store: &Store) -> (String, String) {
    let c = store
        .create_clinic("Bench", bordin_core::Setting::Therapy, 0)
        .await
        .unwrap();
    let u = store
        .create_user(
            &c.clinic_id,
            "b@b.b",
            "B",
            bordin_core::care::Role::Clinician,
            "x",
            0,
        )
        .await
        .unwrap();
    let case = store
        .create_case(
            &c.clinic_id,
            &NewCase {
                title: "Case",
                setting: bordin_core::Setting::Therapy,
                opened_on: "2026-01-01",
                client_ids: &[],
                lead_clinician: &u.user_id,
            },
            0,
        )
        .await
        .unwrap();
    for i in 0..10 {
        store
            .create_goal(
                &c.clinic_id,
                &case,
                &GoalDraft::parse(
                    &format!("Goal {i}: a sentence of about the length clients write, in their own words"),
                    "Because it matters to me and to my family",
                    2,
                    None,
                    "I will notice that I sleep better",
                    None,
                )
                .unwrap(),
                GoalStatus::Active,
                &Change {
                    actor: Actor {
                        role: Rater::Clinician,
                        id: &u.user_id,
                    },
                    at: 0,
                    reason: None,
                },
            )
            .await
            .unwrap();
    }
    (c.clinic_id, case)
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ring = Arc::new(Keyring::new(Key::generate()));
    let (plain, sealed, clinic_p, case_p, clinic_s, case_s) = rt.block_on(async {
        let plain = Store::connect(&format!("sqlite://{}", dir.path().join("p.db").display()))
            .await
            .unwrap();
        let sealed = Store::connect(&format!("sqlite://{}", dir.path().join("s.db").display()))
            .await
            .unwrap()
            .with_keyring(ring.clone());
        let (cp, kp) = clinic(&plain).await;
        let (cs, ks) = clinic(&sealed).await;
        (plain, sealed, cp, kp, cs, ks)
    });
    let mut group = c.benchmark_group("audit");
    group.sample_size(30);
    group.bench_function("case_read", |b| {
        b.iter(|| rt.block_on(async { black_box(plain.case(&clinic_p, &case_p).await.unwrap()) }))
    });
    group.bench_function("case_read_audited", |b| {
        b.iter(|| {
            rt.block_on(async {
                plain
                    .audit(&AuditEvent::on_case(
                        &clinic_p, &case_p, "read", "case", &case_p,
                    ))
                    .await
                    .unwrap();
                black_box(plain.case(&clinic_p, &case_p).await.unwrap())
            })
        })
    });
    group.finish();
    let mut group = c.benchmark_group("sealed");
    group.sample_size(30);
    group.bench_function("goal_read", |b| {
        b.iter(|| rt.block_on(async { black_box(plain.goals(&clinic_p, &case_p).await.unwrap()) }))
    });
    group.bench_function("goal_read_sealed", |b| {
        b.iter(|| rt.block_on(async { black_box(sealed.goals(&clinic_s, &case_s).await.unwrap()) }))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
