use std::collections::HashMap;

use serde_json::json;

use super::{both, record, spend_rows};
use crate::{
    Entity, GroupBy, Row, SpendBy, SpendQuery, SpendRecord, Store, StoreError, Totals, UsageQuery,
};

async fn entities(store: &Store) {
    for (e, ids) in [
        (Entity::Key, &["hash0", "hash1", "hash2", "hash3"][..]),
        (Entity::Team, &["team0", "team1"][..]),
        (Entity::User, &["user0", "user1", "user2"][..]),
        (
            Entity::EndUser,
            &["end0", "end1", "end2", "end3", "end4"][..],
        ),
    ] {
        for id in ids {
            store.insert(e, &Row::new(*id, json!({}))).await.unwrap();
        }
    }
}

async fn spend_of(store: &Store, e: Entity, id: &str) -> f64 {
    store.get(e, id).await.unwrap().unwrap().spend
}

async fn insert_is_idempotent_and_adds_spend_once(store: &Store) {
    entities(store).await;
    let mut records: Vec<SpendRecord> = (0..8).map(record).collect();
    records[1].cost = None; // unknown: adds nothing
    records.push(record(0)); // the same request twice in one batch
    assert_eq!(store.insert_spend(&records).await.unwrap(), 8);
    assert_eq!(store.insert_spend(&records).await.unwrap(), 0);
    assert_eq!(spend_rows(store).await, 8);
    // hash0: records 0 and 4; hash1: 1 (unknown cost) and 5.
    assert_eq!(spend_of(store, Entity::Key, "hash0").await, 0.5);
    assert_eq!(spend_of(store, Entity::Key, "hash1").await, 0.25);
    // team0: 0, 2, 4, 6; team1: 1 (unknown), 3, 5, 7.
    assert_eq!(spend_of(store, Entity::Team, "team0").await, 1.0);
    assert_eq!(spend_of(store, Entity::Team, "team1").await, 0.75);
    // user0: 0, 3, 6; user1: 1 (unknown), 4, 7.
    assert_eq!(spend_of(store, Entity::User, "user0").await, 0.75);
    assert_eq!(spend_of(store, Entity::User, "user1").await, 0.5);
    // end0: 0, 5; end1: 1 (unknown), 6.
    assert_eq!(spend_of(store, Entity::EndUser, "end0").await, 0.5);
    assert_eq!(spend_of(store, Entity::EndUser, "end1").await, 0.25);
    // Spend does not bump updated_ms: the gateway's cache is not reloaded.
    let key = store.get(Entity::Key, "hash0").await.unwrap().unwrap();
    assert_eq!(key.created_ms, key.updated_ms);
}

/// 3000 new records (chunks of 64, 32, 16 and 8) go in the first pass, which
/// learns only how many rows were stored, and each cost is charged once.
async fn large_batches_are_chunked_and_charged_once(store: &Store) {
    entities(store).await;
    let records: Vec<SpendRecord> = (0..3000).map(record).collect();
    assert_eq!(store.insert_spend(&records).await.unwrap(), 3000);
    assert_eq!(spend_rows(store).await, 3000);
    // hash0: every fourth record, 750 of them at 0.25.
    assert_eq!(spend_of(store, Entity::Key, "hash0").await, 750.0 * 0.25);
    // team0: the 1500 even records.
    assert_eq!(spend_of(store, Entity::Team, "team0").await, 1500.0 * 0.25);
}

/// One request id twice in one 2-row INSERT: stored once, charged once.
async fn an_id_twice_in_one_statement_counts_once(store: &Store) {
    entities(store).await;
    let records = [record(0), record(0)];
    assert_eq!(store.insert_spend(&records).await.unwrap(), 1);
    assert_eq!(spend_rows(store).await, 1);
    assert_eq!(spend_of(store, Entity::Key, "hash0").await, 0.25);
    assert_eq!(spend_of(store, Entity::Team, "team0").await, 0.25);
}

/// 77 records go as 64 + 8 + 4 + 1 rows; a request id repeated across
/// chunks, or already stored, is counted and charged once.
async fn odd_batches_go_in_fixed_chunks_and_count_once(store: &Store) {
    entities(store).await;
    let first: Vec<SpendRecord> = (0..10).map(record).collect();
    assert_eq!(store.insert_spend(&first).await.unwrap(), 10);
    let mut records: Vec<SpendRecord> = (0..75).map(record).collect();
    records.push(record(3)); // stored by the first batch
    records.push(record(70)); // also in this batch's 8-row chunk
    assert_eq!(records.len(), 77);
    assert_eq!(store.insert_spend(&records).await.unwrap(), 65);
    assert_eq!(spend_rows(store).await, 75);
    // hash0: records 0, 4, ..., 72, each 0.25 once.
    assert_eq!(spend_of(store, Entity::Key, "hash0").await, 19.0 * 0.25);
    // team1: the 37 odd records below 75.
    assert_eq!(spend_of(store, Entity::Team, "team1").await, 37.0 * 0.25);
}

/// An unknown cost first, then known ones, through the same cached
/// statements on one connection (one transaction): sqlx 0.8 typed the
/// first NULL as `float4`, and PostgreSQL then refused every known cost.
async fn a_known_cost_may_follow_an_unknown_one(store: &Store) {
    entities(store).await;
    // 128 records: the same 64-row INSERT twice, an unknown cost first
    // and a known one in its place the second time.
    let mut records: Vec<SpendRecord> = (0..128).map(record).collect();
    records[0].cost = None;
    records[8].cost = None;
    records[64].cost = Some(1.5);
    assert_eq!(store.insert_spend(&records).await.unwrap(), 128);
    // And again in another batch, known cost where the unknown one was.
    let mut next: Vec<SpendRecord> = (128..138).map(record).collect();
    next[0].cost = Some(2.0);
    next[8].cost = Some(3.0);
    next[9].cost = None;
    assert_eq!(store.insert_spend(&next).await.unwrap(), 10);
    assert_eq!(spend_rows(store).await, 138);
    let costs: HashMap<String, Option<f64>> = store
        .spend_logs(&SpendQuery {
            page_size: 200,
            ..SpendQuery::default()
        })
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.request_id, r.cost))
        .collect();
    assert_eq!(costs.len(), 138);
    assert_eq!(costs["req-00000000"], None);
    assert_eq!(costs["req-00000001"], Some(0.25));
    assert_eq!(costs["req-00000008"], None);
    assert_eq!(costs["req-00000064"], Some(1.5));
    assert_eq!(costs["req-00000128"], Some(2.0));
    assert_eq!(costs["req-00000136"], Some(3.0));
    assert_eq!(costs["req-00000137"], None);
    assert_eq!(costs.values().filter(|c| c.is_none()).count(), 3);
    // hash0 holds every fourth record, 35 of them: 0 and 8 unknown, 64 at
    // 1.5, 128 at 2.0, 136 at 3.0, the other 30 at 0.25.
    assert_eq!(spend_of(store, Entity::Key, "hash0").await, 14.0);
}

async fn logs_round_trip_filter_and_page(store: &Store) {
    let mut full = record(1);
    full.error_kind = Some("rate_limited".to_owned());
    full.status = 429;
    full.estimated = true;
    full.cache_hit = true;
    full.attempts = 3;
    full.fallbacks = 1;
    full.cost = None;
    full.input_tokens = u64::MAX; // saturates at i64::MAX
    let mut records: Vec<SpendRecord> = (2..30).map(record).collect();
    records.push(full.clone());
    store.insert_spend(&records).await.unwrap();

    let one = store
        .spend_logs(&SpendQuery {
            request_id: Some("req-00000001".to_owned()),
            ..SpendQuery::default()
        })
        .await
        .unwrap();
    let expected = SpendRecord {
        input_tokens: i64::MAX as u64,
        ..full
    };
    assert_eq!(one, vec![expected]);

    let page = |q: SpendQuery| async move {
        store
            .spend_logs(&q)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.request_id)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        page(SpendQuery {
            page_size: 3,
            ..SpendQuery::default()
        })
        .await,
        ["req-00000029", "req-00000028", "req-00000027"]
    );
    assert_eq!(
        page(SpendQuery {
            page: 2,
            page_size: 3,
            ..SpendQuery::default()
        })
        .await,
        ["req-00000026", "req-00000025", "req-00000024"]
    );
    // hash1 has records 1, 5, 9, …, 29; start/end bound start_ms (half-open).
    let base = record(0).start_ms;
    assert_eq!(
        page(SpendQuery {
            key_hash: Some("hash1".to_owned()),
            start_ms: Some(base + 5),
            end_ms: Some(base + 13),
            ..SpendQuery::default()
        })
        .await,
        ["req-00000009", "req-00000005"]
    );
    assert_eq!(
        page(SpendQuery {
            team_id: Some("team0".to_owned()),
            user_id: Some("user0".to_owned()),
            end_ms: Some(base + 13),
            ..SpendQuery::default()
        })
        .await,
        ["req-00000012", "req-00000006"]
    );
}

async fn metadata_is_truncated_to_4_kib(store: &Store) {
    let mut r = record(1);
    r.metadata = json!({"huge": "x".repeat(5000), "keep": 1})
        .as_object()
        .unwrap()
        .clone();
    store.insert_spend(&[r]).await.unwrap();
    let got = store.spend_logs(&SpendQuery::default()).await.unwrap();
    assert_eq!(
        serde_json::Value::Object(got[0].metadata.clone()),
        json!({"keep": 1})
    );
}

fn totals(requests: u64, tokens: u64, cost: f64) -> Totals {
    Totals {
        requests,
        tokens,
        cost,
    }
}

async fn usage_groups_and_filters(store: &Store) {
    let mut records: Vec<SpendRecord> = (0..6).map(record).collect();
    records[5].cost = None;
    records[5].model_group = None;
    records[5].metadata = json!({"flag": true}).as_object().unwrap().clone();
    records[4].tags = vec![];
    records[3].key_hash = Some("3f2a9c1b7e4d6a08".to_owned());
    store.insert_spend(&records).await.unwrap();
    let base = record(0).start_ms;
    let q = |group_by: GroupBy, filter: Vec<(GroupBy, String)>| UsageQuery {
        start_ms: base,
        end_ms: base + 6,
        group_by,
        filter,
    };
    let groups = |u: crate::Usage| u.groups.into_iter().collect::<Vec<_>>();

    let by_model = store.usage(&q(GroupBy::Model, vec![])).await.unwrap();
    assert_eq!(by_model.summary, totals(6, 90, 1.25));
    assert_eq!(
        groups(by_model),
        [
            ("".to_owned(), totals(1, 15, 0.0)),
            ("gpt-4o".to_owned(), totals(5, 75, 1.25))
        ]
    );
    // Key: alias for hash0 (records 0 and 4), else the hash's first 8
    // characters.
    assert_eq!(
        groups(store.usage(&q(GroupBy::Key, vec![])).await.unwrap()),
        [
            ("3f2a9c1b".to_owned(), totals(1, 15, 0.25)),
            ("alias0".to_owned(), totals(2, 30, 0.5)),
            ("hash1".to_owned(), totals(2, 30, 0.25)),
            ("hash2".to_owned(), totals(1, 15, 0.25)),
        ]
    );
    // The short form and the whole hash both filter.
    for key in ["3f2a9c1b", "3f2a9c1b7e4d6a08"] {
        let u = store
            .usage(&q(GroupBy::Key, vec![(GroupBy::Key, key.to_owned())]))
            .await
            .unwrap();
        assert_eq!(u.summary, totals(1, 15, 0.25), "{key}");
    }
    // Tags: one row per tag; record 4 has none.
    assert_eq!(
        groups(store.usage(&q(GroupBy::Tag, vec![])).await.unwrap()),
        [
            ("prod".to_owned(), totals(5, 75, 1.0)),
            ("t0".to_owned(), totals(2, 30, 0.5)),
            ("t1".to_owned(), totals(3, 45, 0.5)),
        ]
    );
    assert_eq!(
        groups(store.usage(&q(GroupBy::Day, vec![])).await.unwrap()),
        [("2024-06-01".to_owned(), totals(6, 90, 1.25))]
    );
    assert_eq!(
        groups(
            store
                .usage(&q(GroupBy::Metadata("trace.env".to_owned()), vec![]))
                .await
                .unwrap()
        ),
        [
            ("".to_owned(), totals(1, 15, 0.0)),
            ("ci".to_owned(), totals(5, 75, 1.25))
        ]
    );
    assert_eq!(
        groups(
            store
                .usage(&q(GroupBy::Metadata("flag".to_owned()), vec![]))
                .await
                .unwrap()
        ),
        [
            ("".to_owned(), totals(5, 75, 1.25)),
            ("true".to_owned(), totals(1, 15, 0.0))
        ]
    );
    assert_eq!(
        groups(
            store
                .usage(&q(GroupBy::Metadata("n".to_owned()), vec![]))
                .await
                .unwrap()
        )
        .into_iter()
        .map(|(k, _)| k)
        .collect::<Vec<_>>(),
        ["", "0", "1", "2", "3", "4"]
    );
    // Filters: team1 (1, 3, 5) tagged t1, by end user.
    let filtered = store
        .usage(&q(
            GroupBy::EndUser,
            vec![
                (GroupBy::Team, "team1".to_owned()),
                (GroupBy::Tag, "t1".to_owned()),
            ],
        ))
        .await
        .unwrap();
    assert_eq!(filtered.summary, totals(3, 45, 0.5));
    assert_eq!(
        groups(filtered),
        [
            ("end0".to_owned(), totals(1, 15, 0.0)),
            ("end1".to_owned(), totals(1, 15, 0.25)),
            ("end3".to_owned(), totals(1, 15, 0.25)),
        ]
    );
    // A Key filter matches the alias or the whole hash.
    for key in ["alias0", "hash0"] {
        let u = store
            .usage(&q(GroupBy::User, vec![(GroupBy::Key, key.to_owned())]))
            .await
            .unwrap();
        assert_eq!(u.summary, totals(2, 30, 0.5), "{key}");
        assert_eq!(
            groups(u),
            [
                ("user0".to_owned(), totals(1, 15, 0.25)),
                ("user1".to_owned(), totals(1, 15, 0.25)),
            ]
        );
    }
    let by_meta = store
        .usage(&q(
            GroupBy::Model,
            vec![(GroupBy::Metadata("trace.env".to_owned()), "ci".to_owned())],
        ))
        .await
        .unwrap();
    assert_eq!(by_meta.summary, totals(5, 75, 1.25));
    // Nothing in range.
    let empty = store
        .usage(&UsageQuery {
            start_ms: 0,
            end_ms: 1,
            group_by: GroupBy::Tag,
            filter: vec![],
        })
        .await
        .unwrap();
    assert_eq!(empty, crate::Usage::default());
    assert!(matches!(
        store
            .usage(&q(
                GroupBy::Metadata("a'; DROP TABLE spend".to_owned()),
                vec![]
            ))
            .await,
        Err(StoreError::Invalid(_))
    ));
}

async fn spend_since_sums_known_costs(store: &Store) {
    let mut records: Vec<SpendRecord> = (0..6).map(record).collect();
    records[5].cost = None;
    records[2].cost = Some(1.0);
    store.insert_spend(&records).await.unwrap();
    let base = record(0).start_ms;
    let map = |pairs: &[(&str, f64)]| {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), *v))
            .collect::<HashMap<_, _>>()
    };
    assert_eq!(
        store.spend_since(SpendBy::Key, base).await.unwrap(),
        map(&[
            ("hash0", 0.5),
            ("hash1", 0.25),
            ("hash2", 1.0),
            ("hash3", 0.25)
        ])
    );
    assert_eq!(
        store.spend_since(SpendBy::Key, base + 2).await.unwrap(),
        map(&[("hash0", 0.25), ("hash2", 1.0), ("hash3", 0.25)])
    );
    assert_eq!(
        store.spend_since(SpendBy::Tag, base).await.unwrap(),
        map(&[("prod", 2.0), ("t0", 1.5), ("t1", 0.5)])
    );
    assert_eq!(
        store.spend_since(SpendBy::Model, base).await.unwrap(),
        map(&[("gpt-4o", 2.0)])
    );
    assert_eq!(
        store.spend_since(SpendBy::Provider, base).await.unwrap(),
        map(&[("azure", 2.0)])
    );
    assert_eq!(
        store.spend_since(SpendBy::Deployment, base).await.unwrap(),
        map(&[("azure-east", 2.0)])
    );
    assert_eq!(
        store.spend_since(SpendBy::Team, base).await.unwrap(),
        map(&[("team0", 1.5), ("team1", 0.5)])
    );
    assert_eq!(
        store.spend_since(SpendBy::User, base).await.unwrap(),
        map(&[("user0", 0.5), ("user1", 0.5), ("user2", 1.0)])
    );
    assert_eq!(
        store.spend_since(SpendBy::EndUser, base).await.unwrap(),
        map(&[
            ("end0", 0.25),
            ("end1", 0.25),
            ("end2", 1.0),
            ("end3", 0.25),
            ("end4", 0.25)
        ])
    );
    assert_eq!(
        store
            .spend_since(SpendBy::Metadata("trace.env".to_owned()), base)
            .await
            .unwrap(),
        map(&[("ci", 2.0)])
    );
}

async fn nul_characters_are_stripped_before_binding(store: &Store) {
    store
        .insert(Entity::User, &Row::new("a", json!({})))
        .await
        .unwrap();
    let dirty = SpendRecord {
        request_id: "req\0-nul".to_owned(),
        user_id: Some("a\0".to_owned()),
        key_alias: Some("al\0ias".to_owned()),
        error_kind: Some("\0".to_owned()),
        tags: vec!["t\0ag".to_owned()],
        metadata: json!({"k\0": "v\0", "deep": {"x\0": ["y\0", 1]}})
            .as_object()
            .unwrap()
            .clone(),
        ..record(1)
    };
    // PostgreSQL refused the whole batch before: TEXT takes no NUL, jsonb
    // no \u0000.
    assert_eq!(
        store
            .insert_spend(&[dirty.clone(), record(2)])
            .await
            .unwrap(),
        2
    );
    let got = store
        .spend_logs(&SpendQuery {
            request_id: Some("req-nul".to_owned()),
            ..SpendQuery::default()
        })
        .await
        .unwrap();
    let clean = SpendRecord {
        request_id: "req-nul".to_owned(),
        user_id: Some("a".to_owned()),
        key_alias: Some("alias".to_owned()),
        error_kind: Some(String::new()),
        tags: vec!["tag".to_owned()],
        metadata: json!({"k": "v", "deep": {"x": ["y", 1]}})
            .as_object()
            .unwrap()
            .clone(),
        ..dirty
    };
    assert_eq!(got, vec![clean]);
    // The cleaned user id is the one charged.
    assert_eq!(spend_of(store, Entity::User, "a").await, 0.25);
    // Metadata and tags read back through JSON (jsonb on PostgreSQL).
    let base = record(0).start_ms;
    let usage = |group_by| UsageQuery {
        start_ms: base,
        end_ms: base + 3,
        group_by,
        filter: vec![],
    };
    let by_meta = store
        .usage(&usage(GroupBy::Metadata("k".to_owned())))
        .await
        .unwrap();
    assert_eq!(
        by_meta.groups.keys().collect::<Vec<_>>(),
        ["", "v"],
        "{by_meta:?}"
    );
    let by_tag = store.usage(&usage(GroupBy::Tag)).await.unwrap();
    assert_eq!(
        by_tag.groups.keys().collect::<Vec<_>>(),
        ["prod", "t0", "tag"]
    );
}

both!(
    nul_characters_are_stripped_before_binding,
    insert_is_idempotent_and_adds_spend_once,
    large_batches_are_chunked_and_charged_once,
    odd_batches_go_in_fixed_chunks_and_count_once,
    an_id_twice_in_one_statement_counts_once,
    a_known_cost_may_follow_an_unknown_one,
    logs_round_trip_filter_and_page,
    metadata_is_truncated_to_4_kib,
    usage_groups_and_filters,
    spend_since_sums_known_costs,
);
