//! What one spend record costs the writer on SQLite: a 500-record batch
//! (the writer's batch) into a table that already holds 200,000 rows, with
//! request ids in random order (UUID v4) and in time order (UUID v7).
//!
//! `cargo bench -p switchyard-store --bench spend_insert`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use switchyard_store::{SpendRecord, Store};

const BATCH: usize = 500;
const PREFILL: usize = 200_000;

#[derive(Clone, Copy)]
enum Ids {
    Random,
    TimeOrdered,
}

fn id(ids: Ids, ms: u64) -> String {
    let random = fastrand::u128(..).to_le_bytes();
    let uuid = match ids {
        Ids::Random => uuid::Builder::from_random_bytes(random),
        Ids::TimeOrdered => {
            let mut tail = [0u8; 10];
            tail.copy_from_slice(&random[..10]);
            uuid::Builder::from_unix_timestamp_millis(ms, &tail)
        }
    };
    uuid.into_uuid().to_string()
}

fn record(ids: Ids, n: u64) -> SpendRecord {
    let ms = 1_780_000_000_000 + n;
    let mut metadata = serde_json::Map::new();
    metadata.insert("user_api_key_alias".into(), "bench".into());
    SpendRecord {
        request_id: id(ids, ms),
        start_ms: ms as i64,
        end_ms: ms as i64 + 2,
        key_hash: Some(format!("hash{}", n % 16)),
        key_alias: Some("bench".into()),
        user_id: Some(format!("user{}", n % 8)),
        team_id: Some(format!("team{}", n % 4)),
        end_user: None,
        tags: vec!["load".into()],
        metadata,
        model_group: Some("gpt-4o-mini".into()),
        deployment: Some("mock-1".into()),
        provider: Some("openai".into()),
        status: 200,
        error_kind: None,
        input_tokens: 12,
        output_tokens: 9,
        cache_read_tokens: 0,
        cache_write_tokens: 0,
        reasoning_tokens: 0,
        cost: Some(0.000_021),
        estimated: false,
        cache_hit: false,
        attempts: 1,
        fallbacks: 0,
        overhead_ms: 0.3,
        latency_ms: 1.2,
    }
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("spend_insert");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    for (name, ids) in [
        ("random_ids", Ids::Random),
        ("time_ordered_ids", Ids::TimeOrdered),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/spend.db", dir.path().display());
        let store = rt.block_on(Store::open(&url)).unwrap();
        let mut n = 0u64;
        let mut batch = |size: usize| -> Vec<SpendRecord> {
            let b = (n..n + size as u64).map(|i| record(ids, i)).collect();
            n += size as u64;
            b
        };
        for _ in 0..PREFILL / 5000 {
            rt.block_on(store.insert_spend(&batch(5000))).unwrap();
        }
        group.bench_function(format!("500_records_after_200k/{name}"), |b| {
            b.iter_custom(|iters| {
                let batches: Vec<_> = (0..iters).map(|_| batch(BATCH)).collect();
                let start = Instant::now();
                for records in &batches {
                    rt.block_on(store.insert_spend(records)).unwrap();
                }
                start.elapsed()
            })
        });
        rt.block_on(store.close());
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
