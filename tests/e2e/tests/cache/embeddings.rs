//! Embeddings are cached per input item: a batch with some items cached
//! sends only the others upstream and answers in the original order.

use serde_json::{Value, json};
use switchyard_e2e::mock::*;
use switchyard_e2e::*;

use crate::*;

fn embed(input: Value) -> Value {
    json!({"model": "embed", "input": input, "encoding_format": "float"})
}

fn keys(r: &Reply) -> Vec<String> {
    key_of(r).split(',').map(str::to_string).collect()
}

/// The vectors of an answer, checking `index` is 0..n in order.
fn vectors(r: &Reply) -> Vec<Value> {
    let v = r.json();
    assert_eq!(v["object"], "list", "{v}");
    let data = v["data"].as_array().unwrap();
    for (i, d) in data.iter().enumerate() {
        assert_eq!(d["index"], i, "{v}");
        assert_eq!(d["object"], "embedding", "{v}");
    }
    data.iter().map(|d| d["embedding"].clone()).collect()
}

fn e(i: usize) -> Value {
    json!(embedding(i))
}

#[test]
fn a_half_cached_batch_sends_only_the_missing_items_and_answers_in_order() {
    let openai = MockProvider::start(Flavor::OpenAi);
    let gw = Gateway::start(&cached(&gpt_and_embed(&openai), &[]));
    let path = "/v1/embeddings";

    // "p" and "q" cached: p gets the mock's vector 0, q its vector 1.
    let first = expect(&gw, path, KEY, &embed(json!(["p", "q"])), "miss");
    let first_keys = keys(&first);
    assert_eq!(first_keys.len(), 2);
    for k in &first_keys {
        assert_eq!(*k, format!("switchyard:master:{}", hash_of(k)));
    }
    assert_ne!(first_keys[0], first_keys[1]);
    assert_eq!(vectors(&first), [e(0), e(1)]);
    wait_writes(&gw, 2);

    // x, q, y, p: q and p cached; x and y go upstream, in that order.
    let batch = embed(json!(["x", "q", "y", "p"]));
    let half = expect(&gw, path, KEY, &batch, "miss");
    assert_eq!(half.header("x-switchyard-cache-hits"), Some("2/4"));
    let sent = openai.requests();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1].path, "/v1/embeddings");
    assert_eq!(sent[1].body["input"], json!(["x", "y"]));
    assert_eq!(sent[1].body["encoding_format"], "float");
    // Fresh x and y are the mock's vectors 0 and 1 of that call.
    assert_eq!(vectors(&half), [e(0), e(1), e(1), e(0)]);
    let half_keys = keys(&half);
    assert_eq!(half_keys.len(), 4);
    assert_eq!(half_keys[1], first_keys[1]);
    assert_eq!(half_keys[3], first_keys[0]);
    wait_writes(&gw, 4);

    // All four cached now: a hit, nothing upstream, the same answer.
    let all = expect(&gw, path, KEY, &batch, "hit");
    assert_eq!(cost(&all), 0.0);
    assert_eq!(vectors(&all), [e(0), e(1), e(1), e(0)]);
    assert_eq!(keys(&all), half_keys);
    // One item alone, as a string, hits its entry from the batch.
    let one = expect(&gw, path, KEY, &embed(json!("y")), "hit");
    assert_eq!(keys(&one), [half_keys[2].clone()]);
    assert_eq!(vectors(&one), [e(1)]);
    assert_eq!(openai.count(), 2);

    // Other fields are part of each item's key: other dimensions, other
    // entries.
    let mut other = embed(json!(["p", "q"]));
    other["dimensions"] = json!(256);
    expect(&gw, path, KEY, &other, "miss");
    assert_eq!(openai.count(), 3);
    assert_eq!(openai.requests()[2].body["input"], json!(["p", "q"]));
}

#[test]
fn a_batch_of_more_than_32_items_names_only_its_first_key() {
    let openai = MockProvider::start(Flavor::OpenAi);
    let gw = Gateway::start(&cached(&gpt_and_embed(&openai), &[]));
    let items: Vec<String> = (0..33).map(|i| format!("item {i}")).collect();
    let r = expect(&gw, "/v1/embeddings", KEY, &embed(json!(items)), "miss");
    let header = key_of(&r);
    let (first, rest) = header.split_once(',').unwrap();
    assert_eq!(rest, "...", "{header}");
    hash_of(first);
    assert_eq!(vectors(&r).len(), 33);
    // 32 of them, all cached: every key named.
    wait_writes(&gw, 33);
    let r = expect(
        &gw,
        "/v1/embeddings",
        KEY,
        &embed(json!(items[..32])),
        "hit",
    );
    let keys = keys(&r);
    assert_eq!(keys.len(), 32);
    assert_eq!(keys[0], first);
    assert_eq!(vectors(&r).len(), 32);
    assert_eq!(openai.count(), 1);
}
