use serde_json::json;

use super::both;
use crate::{Change, Entity, ListFilter, Row, Store, StoreError};

fn key(id: &str, team: &str, user: &str) -> Row {
    Row {
        alias: Some(format!("alias-{id}")),
        team_id: Some(team.to_owned()),
        user_id: Some(user.to_owned()),
        ..Row::new(id, json!({"models": ["gpt-4o"], "max_budget": 10.0}))
    }
}

async fn key_lifecycle(store: &Store) {
    let row = key("h1", "t1", "u1");
    store.insert(Entity::Key, &row).await.unwrap();
    let got = store.get(Entity::Key, "h1").await.unwrap().unwrap();
    assert_eq!(got.id, "h1");
    assert_eq!(got.alias.as_deref(), Some("alias-h1"));
    assert_eq!(got.team_id.as_deref(), Some("t1"));
    assert_eq!(got.user_id.as_deref(), Some("u1"));
    assert_eq!(got.body, json!({"models": ["gpt-4o"], "max_budget": 10.0}));
    assert_eq!(got.spend, 0.0);
    assert!(got.created_ms > 1_700_000_000_000);
    assert_eq!(got.created_ms, got.updated_ms);

    assert_eq!(
        store.insert(Entity::Key, &row).await.unwrap_err(),
        StoreError::Conflict("key h1".to_owned())
    );

    let changed = Row {
        alias: None,
        team_id: Some("t2".to_owned()),
        body: json!({"models": []}),
        ..row.clone()
    };
    store.update(Entity::Key, &changed).await.unwrap();
    let after = store.get(Entity::Key, "h1").await.unwrap().unwrap();
    assert_eq!(after.alias, None);
    assert_eq!(after.team_id.as_deref(), Some("t2"));
    assert_eq!(after.body, json!({"models": []}));
    assert_eq!(after.created_ms, got.created_ms);
    assert!(after.updated_ms > got.updated_ms, "updated_ms always grows");

    assert_eq!(
        store
            .update(Entity::Key, &key("nope", "t", "u"))
            .await
            .unwrap_err(),
        StoreError::NotFound("key nope".to_owned())
    );

    store.delete(Entity::Key, "h1").await.unwrap();
    assert_eq!(store.get(Entity::Key, "h1").await.unwrap(), None);
    assert_eq!(
        store.delete(Entity::Key, "h1").await.unwrap_err(),
        StoreError::NotFound("key h1".to_owned())
    );
    assert_eq!(
        store.update(Entity::Key, &row).await.unwrap_err(),
        StoreError::NotFound("key h1".to_owned())
    );
    // A deleted id can be inserted again, as a new row.
    store.insert(Entity::Key, &row).await.unwrap();
    let again = store.get(Entity::Key, "h1").await.unwrap().unwrap();
    assert_eq!(again.team_id.as_deref(), Some("t1"));
    assert!(again.updated_ms > after.updated_ms);
}

async fn every_entity_round_trips(store: &Store) {
    for (e, noun) in [
        (Entity::Key, "key"),
        (Entity::Team, "team"),
        (Entity::User, "user"),
        (Entity::EndUser, "end user"),
    ] {
        let row = Row {
            spend: 1.5,
            ..key("id-1", "t", "u")
        };
        store.insert(e, &row).await.unwrap();
        let got = store.get(e, "id-1").await.unwrap().unwrap();
        assert_eq!(got.alias.as_deref(), Some("alias-id-1"));
        assert_eq!(got.spend, 1.5);
        let owners = e == Entity::Key;
        assert_eq!(got.team_id.is_some(), owners, "{e:?}");
        assert_eq!(got.user_id.is_some(), owners, "{e:?}");
        assert_eq!(
            store.insert(e, &row).await.unwrap_err(),
            StoreError::Conflict(format!("{noun} id-1"))
        );
        store.delete(e, "id-1").await.unwrap();
        assert_eq!(store.get(e, "id-1").await.unwrap(), None);
    }
}

async fn list_filters_and_pages(store: &Store) {
    for (i, team) in ["a", "b", "a", "a", "b"].iter().enumerate() {
        store
            .insert(Entity::Key, &key(&format!("k{i}"), team, "u"))
            .await
            .unwrap();
    }
    store.delete(Entity::Key, "k2").await.unwrap();
    let ids = |rows: Vec<Row>| rows.into_iter().map(|r| r.id).collect::<Vec<_>>();

    let all = store
        .list(Entity::Key, &ListFilter::default())
        .await
        .unwrap();
    assert_eq!(ids(all), ["k0", "k1", "k3", "k4"]);
    let team_a = ListFilter {
        team_id: Some("a".to_owned()),
        ..ListFilter::default()
    };
    assert_eq!(
        ids(store.list(Entity::Key, &team_a).await.unwrap()),
        ["k0", "k3"]
    );
    let page2 = ListFilter {
        page: 2,
        size: 3,
        ..ListFilter::default()
    };
    assert_eq!(ids(store.list(Entity::Key, &page2).await.unwrap()), ["k4"]);
    let by_alias = ListFilter {
        alias: Some("alias-k1".to_owned()),
        user_id: Some("u".to_owned()),
        ..ListFilter::default()
    };
    assert_eq!(
        ids(store.list(Entity::Key, &by_alias).await.unwrap()),
        ["k1"]
    );

    store
        .insert(Entity::Team, &Row::new("a", json!({})))
        .await
        .unwrap();
    store
        .insert(Entity::Team, &Row::new("b", json!({})))
        .await
        .unwrap();
    assert_eq!(ids(store.list(Entity::Team, &team_a).await.unwrap()), ["a"]);
    let by_user = ListFilter {
        user_id: Some("u".to_owned()),
        ..ListFilter::default()
    };
    assert!(matches!(
        store.list(Entity::Team, &by_user).await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        store.list(Entity::EndUser, &team_a).await,
        Err(StoreError::Invalid(_))
    ));
}

async fn changes_include_deletions(store: &Store) {
    store
        .insert(Entity::Team, &Row::new("t1", json!({"n": 1})))
        .await
        .unwrap();
    store
        .insert(Entity::Team, &Row::new("t2", json!({"n": 2})))
        .await
        .unwrap();
    let changes = store.changed_since(Entity::Team, 0).await.unwrap();
    assert_eq!(changes.len(), 2);
    let mut last = 0;
    for change in &changes {
        let Change::Upserted(row) = change else {
            panic!("{change:?}")
        };
        last = last.max(row.updated_ms);
    }
    assert_eq!(
        store.changed_since(Entity::Team, last).await.unwrap(),
        vec![]
    );

    // A later millisecond: within one, a poller needs its overlap.
    tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    store.delete(Entity::Team, "t1").await.unwrap();
    store
        .update(Entity::Team, &Row::new("t2", json!({"n": 3})))
        .await
        .unwrap();
    let changes = store.changed_since(Entity::Team, last).await.unwrap();
    assert_eq!(changes.len(), 2);
    assert_eq!(changes[0], Change::Deleted("t1".to_owned()));
    let Change::Upserted(row) = &changes[1] else {
        panic!("{changes:?}")
    };
    assert_eq!((row.id.as_str(), &row.body), ("t2", &json!({"n": 3})));
    // Other entities are untouched.
    assert_eq!(store.changed_since(Entity::User, 0).await.unwrap(), vec![]);
}

async fn rename_key_moves_spend_in_one_transaction(store: &Store) {
    let old = Row {
        spend: 2.5,
        ..key("old", "t", "u")
    };
    store.insert(Entity::Key, &old).await.unwrap();
    let since = store
        .get(Entity::Key, "old")
        .await
        .unwrap()
        .unwrap()
        .updated_ms;
    let new = Row {
        body: json!({"regenerated": true}),
        ..key("new", "t", "u")
    };
    store.rename_key("old", &new).await.unwrap();
    assert_eq!(store.get(Entity::Key, "old").await.unwrap(), None);
    let got = store.get(Entity::Key, "new").await.unwrap().unwrap();
    assert_eq!(got.spend, 2.5);
    assert_eq!(got.body, json!({"regenerated": true}));
    let changes = store.changed_since(Entity::Key, since - 1).await.unwrap();
    assert_eq!(changes.len(), 2);
    assert!(changes.contains(&Change::Deleted("old".to_owned())));
    assert!(changes.contains(&Change::Upserted(got.clone())));

    assert_eq!(
        store
            .rename_key("old", &key("newer", "t", "u"))
            .await
            .unwrap_err(),
        StoreError::NotFound("key old".to_owned())
    );
    // Renaming onto a live key fails and changes nothing.
    store
        .insert(Entity::Key, &key("other", "t", "u"))
        .await
        .unwrap();
    assert_eq!(
        store
            .rename_key("new", &key("other", "t", "u"))
            .await
            .unwrap_err(),
        StoreError::Conflict("key other".to_owned())
    );
    let still = store.get(Entity::Key, "new").await.unwrap().unwrap();
    assert_eq!(still.spend, 2.5);
}

both!(
    key_lifecycle,
    every_entity_round_trips,
    list_filters_and_pages,
    changes_include_deletions,
    rename_key_moves_spend_in_one_transaction,
);
