use std::time::{Duration, Instant};

use serde_json::json;

use super::proxy::Proxy;
use super::{both, eventually, record, spend_rows};
use crate::writer::spill;
use crate::{Backend, Entity, Row, SpendRecord, SpendWriter, Store, WriterOptions};

fn options(dir: &std::path::Path) -> WriterOptions {
    WriterOptions {
        interval: Duration::from_millis(10),
        ..WriterOptions::new(dir.join("spill").join("spend.jsonl"))
    }
}

async fn key_spend(store: &Store, id: &str) -> f64 {
    store.get(Entity::Key, id).await.unwrap().unwrap().spend
}

async fn add_keys(store: &Store) {
    for id in ["hash0", "hash1", "hash2", "hash3"] {
        store
            .insert(Entity::Key, &Row::new(id, json!({})))
            .await
            .unwrap();
    }
}

/// Makes the spend table disappear (writes fail) or come back.
async fn spend_table(store: &Store, present: bool) {
    let sql = if present {
        "ALTER TABLE spend_away RENAME TO spend"
    } else {
        "ALTER TABLE spend RENAME TO spend_away"
    };
    sqlx::query(sql).execute(&store.pool).await.unwrap();
}

async fn writes_10000_records_exactly(store: &Store) {
    add_keys(store).await;
    let dir = tempfile::tempdir().unwrap();
    let writer = SpendWriter::start(store.clone(), options(dir.path()));
    for n in 0..10_000 {
        writer.record(record(n));
    }
    let report = writer.shutdown().await;
    let stats = writer.stats();
    assert_eq!(stats.written, 10_000);
    assert_eq!((stats.queued, stats.spilled, stats.dropped), (0, 0, 0));
    assert!(stats.db_up);
    assert!(!report.timed_out);
    assert_eq!(spend_rows(store).await, 10_000);
    for id in ["hash0", "hash1", "hash2", "hash3"] {
        assert_eq!(key_spend(store, id).await, 2500.0 * 0.25, "{id}");
    }
}

/// Full batches go at once; the rest waits for the interval (here longer
/// than the test), so a loaded writer is not kept writing a few records
/// per transaction. Shutdown writes the rest.
async fn full_batches_go_at_once_and_the_rest_waits_for_the_interval(store: &Store) {
    let dir = tempfile::tempdir().unwrap();
    let opts = WriterOptions {
        interval: Duration::from_secs(600),
        batch: 10,
        ..options(dir.path())
    };
    let writer = SpendWriter::start(store.clone(), opts);
    for n in 0..25 {
        writer.record(record(n));
    }
    eventually(10, "two full batches", || writer.stats().written == 20).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stats = writer.stats();
    assert_eq!((stats.written, stats.queued), (20, 5));
    assert_eq!(spend_rows(store).await, 20);
    let report = writer.shutdown().await;
    assert_eq!((report.written, report.timed_out), (5, false));
    assert_eq!(spend_rows(store).await, 25);
}

async fn replay_is_idempotent(store: &Store) {
    add_keys(store).await;
    let dir = tempfile::tempdir().unwrap();
    let first = SpendWriter::start(store.clone(), options(dir.path()));
    for n in 0..100 {
        first.record(record(n));
    }
    first.shutdown().await;
    let second = SpendWriter::start(store.clone(), options(dir.path()));
    for n in 0..100 {
        second.record(record(n));
    }
    second.record(record(100));
    second.shutdown().await;
    let stats = second.stats();
    assert_eq!((stats.written, stats.duplicates), (1, 100));
    assert_eq!(spend_rows(store).await, 101);
    assert_eq!(key_spend(store, "hash0").await, 26.0 * 0.25);
}

async fn records_after_shutdown_are_dropped(store: &Store) {
    let dir = tempfile::tempdir().unwrap();
    let writer = SpendWriter::start(store.clone(), options(dir.path()));
    writer.record(record(1));
    let report = writer.shutdown().await;
    assert_eq!((report.written, report.dropped), (1, 0));
    writer.record(record(2));
    assert_eq!(writer.stats().dropped, 1);
    assert_eq!(spend_rows(store).await, 1);
}

/// Makes the database refuse records whose request id starts with `bad`,
/// as it would refuse a value it cannot store.
async fn refuse_bad_ids(store: &Store) {
    let sql = match store.backend {
        Backend::Sqlite => {
            "CREATE TRIGGER refuse_bad BEFORE INSERT ON spend \
             WHEN NEW.request_id LIKE 'bad%' BEGIN SELECT RAISE(ABORT, 'bad record'); END"
        }
        Backend::Postgres => {
            "ALTER TABLE spend ADD CONSTRAINT refuse_bad CHECK (request_id NOT LIKE 'bad%')"
        }
    };
    sqlx::raw_sql(sql).execute(&store.pool).await.unwrap();
}

fn bad(n: u64) -> SpendRecord {
    SpendRecord {
        request_id: format!("bad-{n}"),
        ..record(n)
    }
}

async fn records_the_database_refuses_are_set_aside_and_the_rest_written(store: &Store) {
    add_keys(store).await;
    refuse_bad_ids(store).await;
    let dir = tempfile::tempdir().unwrap();
    let opts = WriterOptions {
        batch: 50,
        ..options(dir.path())
    };
    let writer = SpendWriter::start(store.clone(), opts);
    for n in 0..100 {
        writer.record(if [7, 50, 99].contains(&n) {
            bad(n)
        } else {
            record(n)
        });
    }
    // NULs are stripped: written, not set aside.
    writer.record(SpendRecord {
        user_id: Some("user0\0".to_owned()),
        metadata: json!({"k\0": "v\0"}).as_object().unwrap().clone(),
        ..record(100)
    });
    let report = writer.shutdown().await;
    let stats = writer.stats();
    assert_eq!(
        (stats.written, stats.dropped, stats.queued, stats.spilled),
        (98, 3, 0, 0)
    );
    assert!(stats.db_up);
    assert!(
        stats
            .last_error
            .as_deref()
            .unwrap()
            .starts_with("record bad-"),
        "{stats:?}"
    );
    assert_eq!((report.dropped, report.timed_out), (3, false));
    assert_eq!(spend_rows(store).await, 98);
    // hash0: 0, 4, …, 100 (26 records); hash3: 3, …, 99 less 7 and 99.
    assert_eq!(key_spend(store, "hash0").await, 26.0 * 0.25);
    assert_eq!(key_spend(store, "hash3").await, 23.0 * 0.25);
}

async fn a_spilled_record_the_database_refuses_is_set_aside_once(store: &Store) {
    refuse_bad_ids(store).await;
    let dir = tempfile::tempdir().unwrap();
    let opts = options(dir.path());
    let lines: Vec<u8> = (0..20)
        .map(|n| if n == 5 { bad(n) } else { record(n) })
        .flat_map(|r| spill::line(&r))
        .collect();
    std::fs::create_dir_all(opts.spill_path.parent().unwrap()).unwrap();
    std::fs::write(&opts.spill_path, lines).unwrap();
    let writer = SpendWriter::start(store.clone(), opts.clone());
    eventually(5, "the replay", || {
        let s = writer.stats();
        s.written == 19 && s.spilled == 0 && s.queued == 0
    })
    .await;
    let report = writer.shutdown().await;
    assert_eq!((report.written, report.dropped, report.spilled), (0, 1, 0));
    assert_eq!(writer.stats().dropped, 1);
    assert_eq!(spend_rows(store).await, 19);
    assert_eq!(std::fs::metadata(&opts.spill_path).unwrap().len(), 0);
}

both!(
    records_the_database_refuses_are_set_aside_and_the_rest_written,
    a_spilled_record_the_database_refuses_is_set_aside_once,
    writes_10000_records_exactly,
    full_batches_go_at_once_and_the_rest_waits_for_the_interval,
    replay_is_idempotent,
    records_after_shutdown_are_dropped,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_database_spills_and_catches_up() {
    let db = super::sqlite().await;
    let store = &db.store;
    add_keys(store).await;
    let opts = WriterOptions {
        batch: 20,
        queue_capacity: 100,
        ..options(db.dir.path())
    };
    let writer = SpendWriter::start(store.clone(), opts.clone());
    for n in 0..50 {
        writer.record(record(n));
    }
    eventually(5, "the first records", || writer.stats().written == 50).await;

    spend_table(store, false).await;
    // Paced so the task keeps spilling: nothing may be dropped.
    for n in 50..450 {
        writer.record(record(n));
        if n % 25 == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    eventually(5, "records in the spill file", || {
        writer.stats().spilled > 0
    })
    .await;
    let stats = writer.stats();
    assert!(!stats.db_up);
    assert!(
        stats.last_error.as_deref().unwrap().contains("spend"),
        "{stats:?}"
    );
    assert_eq!(stats.written, 50);
    assert_eq!(stats.dropped, 0);
    assert_eq!(stats.queued + stats.spilled, 400);

    spend_table(store, true).await;
    eventually(10, "the spill file replayed", || {
        let s = writer.stats();
        s.written == 450 && s.spilled == 0 && s.queued == 0
    })
    .await;
    assert!(writer.stats().db_up);
    assert_eq!(spend_rows(store).await, 450);
    assert_eq!(key_spend(store, "hash0").await, 113.0 * 0.25);
    assert_eq!(std::fs::metadata(&opts.spill_path).unwrap().len(), 0);
    let report = writer.shutdown().await;
    assert_eq!(
        (report.spilled, report.dropped, report.timed_out),
        (0, 0, false)
    );
}

/// Current-thread runtime: the task only runs when the test awaits, so the
/// counts are exact.
#[tokio::test]
async fn drops_are_counted_exactly_when_queue_and_spill_are_full() {
    let db = super::sqlite().await;
    let store = &db.store;
    spend_table(store, false).await;
    // Records 100..=999 without an alias serialize to the same length.
    let record = |n| SpendRecord {
        key_alias: None,
        ..record(n)
    };
    let line = spill::line(&record(100)).len() as u64;
    assert_eq!(line, spill::line(&record(999)).len() as u64);
    let opts = WriterOptions {
        batch: 10,
        queue_capacity: 100,
        spill_max_bytes: 50 * line + line / 2,
        ..options(db.dir.path())
    };
    let writer = SpendWriter::start(store.clone(), opts.clone());
    for n in 100..220 {
        writer.record(record(n));
    }
    assert_eq!(writer.stats().dropped, 20);
    assert_eq!(writer.stats().queued, 100);
    // The task takes a batch of 10, fails, and spills the queue as far as
    // 50 records fit.
    eventually(5, "the spill", || writer.stats().spilled == 50).await;
    let stats = writer.stats();
    assert_eq!((stats.queued, stats.spilled, stats.dropped), (50, 50, 20));
    for n in 220..290 {
        writer.record(record(n));
    }
    // 40 in the queue + 10 held: 60 more fit, 10 are dropped.
    assert_eq!(writer.stats().dropped, 30);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stats = writer.stats();
    assert_eq!((stats.queued, stats.spilled, stats.dropped), (110, 50, 30));
    assert_eq!(
        std::fs::metadata(&opts.spill_path).unwrap().len(),
        50 * line
    );

    spend_table(store, true).await;
    let report = writer.shutdown().await;
    assert_eq!(
        (
            report.written,
            report.spilled,
            report.dropped,
            report.timed_out
        ),
        (160, 0, 30, false)
    );
    assert_eq!(spend_rows(store).await, 160);
}

#[tokio::test]
async fn shutdown_spills_what_the_database_refuses_and_the_next_start_replays_it() {
    let db = super::sqlite().await;
    let store = &db.store;
    add_keys(store).await;
    spend_table(store, false).await;
    let opts = options(db.dir.path());
    let writer = SpendWriter::start(store.clone(), opts.clone());
    for n in 0..50 {
        writer.record(record(n));
    }
    let started = Instant::now();
    let report = writer.shutdown_within(Duration::from_millis(300)).await;
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(
        (
            report.written,
            report.spilled,
            report.dropped,
            report.timed_out
        ),
        (0, 50, 0, true)
    );
    let lines = std::fs::read_to_string(&opts.spill_path).unwrap();
    let spilled: Vec<SpendRecord> = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(spilled, (0..50).map(record).collect::<Vec<_>>());

    spend_table(store, true).await;
    let next = SpendWriter::start(store.clone(), opts.clone());
    assert_eq!(
        next.stats().spilled,
        0,
        "counted once the task has read the file"
    );
    eventually(5, "the replay", || next.stats().written == 50).await;
    assert_eq!(next.stats().spilled, 0);
    assert_eq!(std::fs::metadata(&opts.spill_path).unwrap().len(), 0);
    assert_eq!(key_spend(store, "hash0").await, 13.0 * 0.25);
    next.shutdown().await;
}

/// A replay under way when shutdown begins stops at the shutdown's deadline:
/// the writes after the first are not left without one. What is left stays
/// in the spill file, and the next start writes exactly the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_stops_a_long_replay_at_its_deadline() {
    const N: u64 = 20_000;
    let db = super::sqlite().await;
    let store = &db.store;
    add_keys(store).await;
    let opts = WriterOptions {
        batch: 2,
        ..options(db.dir.path())
    };
    std::fs::create_dir_all(opts.spill_path.parent().unwrap()).unwrap();
    let lines: Vec<u8> = (0..N).flat_map(|n| spill::line(&record(n))).collect();
    std::fs::write(&opts.spill_path, lines).unwrap();

    let writer = SpendWriter::start(store.clone(), opts.clone());
    eventually(5, "the replay to begin", || writer.stats().written > 0).await;
    let started = Instant::now();
    let report = writer.shutdown_within(Duration::from_millis(100)).await;
    let took = started.elapsed();
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert!(report.timed_out, "{report:?}");
    assert_eq!(report.dropped, 0, "{report:?}");
    assert!(
        spend_rows(store).await < N as i64,
        "the replay ran to the end: {report:?}"
    );

    let next = SpendWriter::start(
        store.clone(),
        WriterOptions {
            batch: 500,
            ..opts.clone()
        },
    );
    // `spilled` counts down from the file's records once the task read it.
    eventually(30, "the rest replayed", || {
        let s = next.stats();
        s.written > 0 && s.spilled == 0 && s.queued == 0
    })
    .await;
    next.shutdown().await;
    // Exactly once, each charged once: a write cut off at the deadline may
    // still have committed, and its records come back from the file.
    assert_eq!(spend_rows(store).await, N as i64);
    assert_eq!(key_spend(store, "hash0").await, (N / 4) as f64 * 0.25);
    assert_eq!(std::fs::metadata(&opts.spill_path).unwrap().len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_going_away_loses_and_double_counts_nothing() {
    let target = "127.0.0.1:5432".parse().unwrap();
    let proxy = Proxy::start(target).await;
    let url = super::pg_url().replace(":5432/", &format!(":{}/", proxy.port));
    let db = super::pg_with(&url).await;
    let store = &db.store;
    store.ensure_current().await.unwrap();
    add_keys(store).await;
    let opts = WriterOptions {
        batch: 50,
        queue_capacity: 200,
        ..options(db.dir.path())
    };
    let writer = SpendWriter::start(store.clone(), opts);
    for n in 0..100 {
        writer.record(record(n));
    }
    eventually(5, "the first records", || writer.stats().written == 100).await;

    proxy.down().await;
    for n in 100..400 {
        writer.record(record(n));
        if n % 50 == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    eventually(10, "the writer to notice", || {
        let s = writer.stats();
        !s.db_up && s.spilled > 0
    })
    .await;
    assert_eq!(writer.stats().dropped, 0);
    assert_eq!(writer.stats().written, 100);

    proxy.up().await;
    eventually(20, "the catch-up", || {
        let s = writer.stats();
        s.written == 400 && s.spilled == 0 && s.queued == 0
    })
    .await;
    let report = writer.shutdown().await;
    assert_eq!((report.dropped, report.timed_out), (0, false));
    assert_eq!(spend_rows(store).await, 400);
    for id in ["hash0", "hash1", "hash2", "hash3"] {
        assert_eq!(key_spend(store, id).await, 100.0 * 0.25, "{id}");
    }
}

/// `cargo test --release -p switchyard-store -- --ignored --nocapture spend_throughput`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, not a check"]
async fn spend_throughput() {
    const N: u64 = 200_000;
    for db in [super::sqlite().await, super::postgres().await] {
        let store = &db.store;
        add_keys(store).await;
        let writer = SpendWriter::start(
            store.clone(),
            WriterOptions::new(db.dir.path().join("spill")),
        );
        let started = Instant::now();
        // Arrivals as fast as the writer drains them, the queue never full.
        for chunk in 0..N / 10_000 {
            while writer.stats().queued > 50_000 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            for n in chunk * 10_000..(chunk + 1) * 10_000 {
                writer.record(record(n));
            }
        }
        let report = writer.shutdown_within(Duration::from_secs(120)).await;
        let secs = started.elapsed().as_secs_f64();
        let stats = writer.stats();
        assert_eq!((stats.written, stats.dropped), (N, 0), "{report:?}");
        println!(
            "spend_throughput {}: {N} records in {secs:.2} s = {:.0} records/s",
            store.describe(),
            N as f64 / secs
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_does_not_wait_on_a_hung_write() {
    let proxy = Proxy::start("127.0.0.1:5432".parse().unwrap()).await;
    let url = super::pg_url().replace(":5432/", &format!(":{}/", proxy.port));
    let db = super::pg_with(&url).await;
    let store = &db.store;
    store.ensure_current().await.unwrap();
    proxy.down().await;
    let opts = options(db.dir.path());
    let writer = SpendWriter::start(store.clone(), opts.clone());
    for n in 0..30 {
        writer.record(record(n));
    }
    // The pool retries refused connections for 3 s; shutdown does not wait for that.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let report = writer.shutdown_within(Duration::from_millis(300)).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        (
            report.written,
            report.spilled,
            report.dropped,
            report.timed_out
        ),
        (0, 30, 0, true)
    );

    proxy.up().await;
    let next = SpendWriter::start(store.clone(), opts);
    eventually(10, "the replay", || next.stats().written == 30).await;
    next.shutdown().await;
    assert_eq!(spend_rows(store).await, 30);
}
