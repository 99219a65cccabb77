//! Throughput of `bordin score` over an in-memory WAI-SR CSV (100,000 responses, ~3% blank
//! answers), reported as responses per second. Run with `cargo bench -p bordin --bench score`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::io::Write;

use bordin::score::{score_stream, Format};
use bordin_core::Registry;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const ROWS: u64 = 100_000;

/// A deterministic WAI-SR CSV: answers 1–5 leaning high (as real alliance ratings do), ~3% blank.
fn wai_csv(rows: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(rows as usize * 40);
    out.extend_from_slice(b"id,q1,q2,q3,q4,q5,q6,q7,q8,q9,q10,q11,q12\n");
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    for r in 0..rows {
        write!(out, "r{r}").unwrap();
        for _ in 0..12 {
            // xorshift64*
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            let x = state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33;
            if x % 100 >= 3 {
                out.extend_from_slice(&[b',', b"1233444455"[(x / 100 % 10) as usize]]);
            } else {
                out.extend_from_slice(b","); // a blank answer
            }
        }
        out.push(b'\n');
    }
    out
}

fn bench(c: &mut Criterion) {
    let reg = Registry::builtin().unwrap();
    let wai = reg.get("wai_sr").unwrap();
    let input = wai_csv(ROWS);
    let mut group = c.benchmark_group("score_stream");
    group.throughput(Throughput::Elements(ROWS));
    group.sample_size(20);
    let mut out = Vec::with_capacity(input.len() * 2);
    group.bench_function("wai_sr_csv", |b| {
        b.iter(|| {
            out.clear();
            let s = score_stream(
                wai,
                black_box(&input[..]),
                &mut out,
                std::io::sink(),
                Format::Csv,
            )
            .unwrap();
            assert_eq!(s.rows, ROWS);
            black_box(&out);
        })
    });
    group.bench_function("wai_sr_json", |b| {
        b.iter(|| {
            out.clear();
            let s = score_stream(
                wai,
                black_box(&input[..]),
                &mut out,
                std::io::sink(),
                Format::Json,
            )
            .unwrap();
            assert_eq!(s.rows, ROWS);
            black_box(&out);
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
