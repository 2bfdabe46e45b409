//! What a request's cache key is: `{namespace}:{scope}:{sha256 hex}`.
//!
//! The hash covers everything that changes the answer: the operation, the
//! model group (in place of the deployment, so every deployment of a group
//! shares entries) and every body field but those that do not (`model`,
//! `stream`, `stream_options`, `user` and the gateway's own fields, which
//! the host names through `skip`). The body is fed to the hasher as
//! canonical JSON (object keys sorted at every depth, no whitespace), so
//! two bodies that differ only in key order share a key. Nothing is built
//! in memory on the way: the encoder writes straight into the hasher.
//!
//! The namespace comes first and holds no `:`, so a flush is a prefix
//! (`ns:` or `ns:scope:`) and a key parses back into its three parts.

use std::io::{self, Write};

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// Body fields that never change the answer: the model is replaced by the
/// group, streamed and whole answers share entries, and `user` is who asks.
const NEVER_HASHED: &[&str] = &["model", "stream", "stream_options", "user"];

/// Tags that keep a request's hash and an embeddings item's hash apart, and
/// let a later format change every key at once.
const REQUEST_TAG: &[u8] = b"switchyard-cache/request/1\0";
const ITEM_TAG: &[u8] = b"switchyard-cache/embeddings-item/1\0";

/// The longest namespace [`valid_namespace`] accepts.
pub const MAX_NAMESPACE_LEN: usize = 64;

/// The hash of a request: `operation` (such as `chat` or `embeddings`),
/// `group` (the model group the request names) and every top-level body
/// field but `model`, `stream`, `stream_options`, `user` and those `skip`
/// names.
pub fn request_hash(
    operation: &str,
    group: &str,
    body: &Map<String, Value>,
    skip: &dyn Fn(&str) -> bool,
) -> [u8; 32] {
    let mut out = HashWriter::default();
    let written = encode_request(&mut out, operation, group, body, skip);
    debug_assert!(written.is_ok(), "a hasher takes every byte");
    out.finish()
}

/// The hash of one embeddings input item: `group`, the item and every body
/// field but `input` (and those [`request_hash`] leaves out).
pub fn item_hash(
    group: &str,
    body: &Map<String, Value>,
    item: &Value,
    skip: &dyn Fn(&str) -> bool,
) -> [u8; 32] {
    let mut out = HashWriter::default();
    let written = encode_item(&mut out, group, body, item, skip);
    debug_assert!(written.is_ok(), "a hasher takes every byte");
    out.finish()
}

/// The key an entry is stored under.
pub fn cache_key(namespace: &str, scope: &str, hash: &[u8; 32]) -> String {
    format!("{namespace}:{scope}:{}", hex::encode(hash))
}

/// The prefix every key of a namespace (`"ns:"`), or of one scope in it
/// (`"ns:scope:"`), starts with; `""` (every key) with neither.
///
/// A scope without a namespace is no prefix (the namespace comes first):
/// the result then starts with `:`, which no key does, so a flush with it
/// deletes nothing rather than every tenant's entries. To reach one scope
/// in every namespace, filter keys with [`parse_key`].
pub fn scope_prefix(namespace: Option<&str>, scope: Option<&str>) -> String {
    match (namespace, scope) {
        (Some(ns), Some(scope)) => format!("{ns}:{scope}:"),
        (Some(ns), None) => format!("{ns}:"),
        (None, Some(scope)) => format!(":{scope}:"),
        (None, None) => String::new(),
    }
}

/// A key's namespace, scope and hash (64 lowercase hex digits), or `None`
/// when it is not a key [`cache_key`] makes. The scope may hold `:`
/// (`team:<id>`); the namespace may not.
pub fn parse_key(key: &str) -> Option<(&str, &str, &str)> {
    let (namespace, rest) = key.split_once(':')?;
    let (scope, hex) = rest.rsplit_once(':')?;
    let is_hash = hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    (valid_namespace(namespace) && !scope.is_empty() && is_hash).then_some((namespace, scope, hex))
}

/// Whether `namespace` may prefix keys: 1 to 64 characters of
/// `[A-Za-z0-9_.-]` (no `:`, so keys parse back and flushes are prefixes).
pub fn valid_namespace(namespace: &str) -> bool {
    (1..=MAX_NAMESPACE_LEN).contains(&namespace.len())
        && namespace
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// Feeds bytes to SHA-256; never fails.
#[derive(Default)]
struct HashWriter(Sha256);

impl HashWriter {
    fn finish(self) -> [u8; 32] {
        self.0.finalize().into()
    }
}

impl Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn encode_request(
    out: &mut impl Write,
    operation: &str,
    group: &str,
    body: &Map<String, Value>,
    skip: &dyn Fn(&str) -> bool,
) -> io::Result<()> {
    out.write_all(REQUEST_TAG)?;
    write_field(out, operation.as_bytes())?;
    write_field(out, group.as_bytes())?;
    write_object(out, body, &|k| NEVER_HASHED.contains(&k) || skip(k))
}

fn encode_item(
    out: &mut impl Write,
    group: &str,
    body: &Map<String, Value>,
    item: &Value,
    skip: &dyn Fn(&str) -> bool,
) -> io::Result<()> {
    out.write_all(ITEM_TAG)?;
    write_field(out, group.as_bytes())?;
    // JSON is self-delimiting: the item ends where the body begins.
    write_canonical(out, item)?;
    write_object(out, body, &|k| {
        k == "input" || NEVER_HASHED.contains(&k) || skip(k)
    })
}

/// A length-prefixed field, so ("ab", "c") and ("a", "bc") differ.
fn write_field(out: &mut impl Write, bytes: &[u8]) -> io::Result<()> {
    out.write_all(&(bytes.len() as u64).to_le_bytes())?;
    out.write_all(bytes)
}

/// `value` as canonical JSON: object keys sorted (by their bytes) at every
/// depth, no whitespace. Recursion is bounded by serde_json's parse depth.
fn write_canonical(out: &mut impl Write, value: &Value) -> io::Result<()> {
    match value {
        Value::Object(map) => write_object(out, map, &|_| false),
        Value::Array(items) => {
            out.write_all(b"[")?;
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.write_all(b",")?;
                }
                write_canonical(out, item)?;
            }
            out.write_all(b"]")
        }
        scalar => serde_json::to_writer(&mut *out, scalar).map_err(io::Error::other),
    }
}

/// An object with its keys sorted, leaving out those `skip` names.
fn write_object(
    out: &mut impl Write,
    map: &Map<String, Value>,
    skip: &dyn Fn(&str) -> bool,
) -> io::Result<()> {
    let mut fields: Vec<(&String, &Value)> = map.iter().filter(|(k, _)| !skip(k)).collect();
    fields.sort_unstable_by_key(|&(k, _)| k);
    out.write_all(b"{")?;
    for (i, (key, value)) in fields.into_iter().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        serde_json::to_writer(&mut *out, key).map_err(io::Error::other)?;
        out.write_all(b":")?;
        write_canonical(out, value)?;
    }
    out.write_all(b"}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            other => panic!("not an object: {other}"),
        }
    }

    fn own(k: &str) -> bool {
        matches!(k, "metadata" | "cache" | "tags")
    }

    fn chat(body: Value) -> [u8; 32] {
        request_hash("chat", "gpt-4o", &obj(body), &own)
    }

    fn canonical(v: &Value) -> String {
        let mut out = Vec::new();
        write_canonical(&mut out, v).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_depth_without_whitespace() {
        let v: Value = serde_json::from_str(
            r#"{"b": [ {"z": 1, "a": "x\"y\n"}, 2.5, null, true ], "a": {"d": {}, "c": []}}"#,
        )
        .unwrap();
        assert_eq!(
            canonical(&v),
            r#"{"a":{"c":[],"d":{}},"b":[{"a":"x\"y\n","z":1},2.5,null,true]}"#
        );
    }

    #[test]
    fn the_request_encoding_is_tag_lengths_and_the_kept_fields() {
        let body = obj(
            json!({"model": "m", "stream": true, "user": "u", "metadata": {},
            "temperature": 0.5, "messages": [{"role": "user", "content": "hi"}]}),
        );
        let mut out = Vec::new();
        encode_request(&mut out, "chat", "g1", &body, &own).unwrap();
        let mut expected = REQUEST_TAG.to_vec();
        expected.extend_from_slice(&4u64.to_le_bytes());
        expected.extend_from_slice(b"chat");
        expected.extend_from_slice(&2u64.to_le_bytes());
        expected.extend_from_slice(b"g1");
        expected.extend_from_slice(
            br#"{"messages":[{"content":"hi","role":"user"}],"temperature":0.5}"#,
        );
        assert_eq!(out, expected);
        assert_eq!(
            request_hash("chat", "g1", &body, &own),
            <[u8; 32]>::from(Sha256::digest(&expected))
        );
    }

    #[test]
    fn key_order_and_skipped_fields_do_not_change_the_hash() {
        let a = chat(json!({
            "model": "gpt-4o-mini",
            "messages": [{"role": "user", "content": "hi", "name": "n"}],
            "temperature": 0.2,
            "response_format": {"type": "json_schema", "json_schema": {"name": "x", "strict": true}},
        }));
        let b = chat(json!({
            "response_format": {"json_schema": {"strict": true, "name": "x"}, "type": "json_schema"},
            "temperature": 0.2,
            "messages": [{"name": "n", "content": "hi", "role": "user"}],
            "model": "another-deployment",
            "stream": true,
            "stream_options": {"include_usage": true},
            "user": "alice",
            "metadata": {"trace": 1},
            "cache": {"no-store": true},
            "tags": ["a"],
        }));
        assert_eq!(a, b);
    }

    #[test]
    fn any_other_difference_changes_the_hash() {
        let base = json!({
            "messages": [{"role": "user", "content": "hi"}],
            "temperature": 0.2,
            "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
        });
        let h = chat(base.clone());
        let mut variants = Vec::new();
        let mut v = base.clone();
        v["temperature"] = json!(0.3);
        variants.push(v);
        let mut v = base.clone();
        v["messages"][0]["content"] = json!("hi!");
        variants.push(v);
        let mut v = base.clone();
        v["tools"][0]["function"]["name"] = json!("g");
        variants.push(v);
        let mut v = base.clone();
        v["seed"] = json!(1);
        variants.push(v);
        let mut v = base.clone();
        v["messages"] =
            json!([{"role": "user", "content": "hi"}, {"role": "user", "content": "hi"}]);
        variants.push(v);
        let hashes: Vec<_> = variants.into_iter().map(chat).collect();
        assert_eq!(hashes.len(), 5);
        for (i, x) in hashes.iter().enumerate() {
            assert_ne!(*x, h, "variant {i}");
            for (j, y) in hashes.iter().enumerate().skip(i + 1) {
                assert_ne!(x, y, "variants {i} and {j}");
            }
        }
        // The operation and the group are part of it too.
        let body = obj(base);
        assert_ne!(request_hash("embeddings", "gpt-4o", &body, &own), h);
        assert_ne!(request_hash("chat", "gpt-4o-mini", &body, &own), h);
    }

    #[test]
    fn operation_and_group_are_separated() {
        let body = Map::new();
        assert_ne!(
            request_hash("ab", "c", &body, &own),
            request_hash("a", "bc", &body, &own)
        );
        assert_ne!(
            item_hash("ab", &body, &json!("c"), &own),
            item_hash("a", &body, &json!("bc"), &own)
        );
    }

    #[test]
    fn an_item_hash_covers_the_group_the_item_and_every_field_but_input() {
        let body = obj(json!({"model": "e", "input": ["a", "b"], "dimensions": 256, "user": "u"}));
        let same = obj(json!({"input": "other", "dimensions": 256, "model": "f", "metadata": {}}));
        let a = item_hash("emb", &body, &json!("a"), &own);
        assert_eq!(a, item_hash("emb", &same, &json!("a"), &own));
        assert_ne!(a, item_hash("emb", &body, &json!("b"), &own));
        assert_ne!(a, item_hash("emb2", &body, &json!("a"), &own));
        let other = obj(json!({"input": "a", "dimensions": 512}));
        assert_ne!(a, item_hash("emb", &other, &json!("a"), &own));
        // A string item and the same tokens are different items.
        assert_ne!(
            item_hash("emb", &body, &json!([1, 2]), &own),
            item_hash("emb", &body, &json!("[1,2]"), &own)
        );
        // An item is never a request.
        assert_ne!(
            a,
            request_hash(
                "embeddings",
                "emb",
                &obj(json!({"input": "a", "dimensions": 256})),
                &own
            )
        );
    }

    #[test]
    fn known_hashes() {
        // Computed apart (Python's hashlib over the encoding above), so a
        // change to the encoding, which would orphan every stored entry,
        // shows here.
        let h = request_hash("chat", "g", &obj(json!({"model": "x"})), &own);
        assert_eq!(
            hex::encode(h),
            "35780f8e5509c78966bf4bb9f0caf36910fd90225d61113ef3628d3bdc193490"
        );
        let body = json!({"temperature": 0.5, "model": "m", "messages": [{"role": "user", "content": "hi"}]});
        assert_eq!(
            hex::encode(chat(body)),
            "f6c57150b9159e8ca95418ae69f6f359a020afc9ddf57b048558f66a0ccacc8b"
        );
    }

    #[test]
    fn keys_are_made_and_parsed_back() {
        let hash = [0xabu8; 32];
        let key = cache_key("switchyard", "team:t-1", &hash);
        assert_eq!(key, format!("switchyard:team:t-1:{}", "ab".repeat(32)));
        assert_eq!(
            parse_key(&key),
            Some(("switchyard", "team:t-1", "ab".repeat(32).as_str()))
        );
        let key = cache_key("ns.v2", "master", &[0; 32]);
        assert_eq!(
            parse_key(&key),
            Some(("ns.v2", "master", "0".repeat(64).as_str()))
        );
        assert!(key.starts_with(&scope_prefix(Some("ns.v2"), Some("master"))));
        assert!(key.starts_with(&scope_prefix(Some("ns.v2"), None)));
        assert!(!key.starts_with(&scope_prefix(Some("ns"), None)));
    }

    #[test]
    fn malformed_keys_do_not_parse() {
        let hex = "0".repeat(64);
        assert_eq!(parse_key(&format!("ns:{hex}")), None, "no scope");
        assert_eq!(parse_key(&format!("ns::{hex}")), None, "empty scope");
        assert_eq!(parse_key(&format!(":key:{hex}")), None, "empty namespace");
        assert_eq!(parse_key(&format!("n s:key:{hex}")), None, "bad namespace");
        assert_eq!(parse_key("ns:key:abc"), None, "short hash");
        assert_eq!(
            parse_key(&format!("ns:key:{}", "A".repeat(64))),
            None,
            "uppercase hash"
        );
        assert_eq!(
            parse_key(&format!("ns:key:{}g", "0".repeat(63))),
            None,
            "not hex"
        );
        assert_eq!(parse_key("nothing"), None);
    }

    #[test]
    fn scope_prefixes() {
        assert_eq!(
            scope_prefix(Some("ns"), Some("key:0123456789abcdef")),
            "ns:key:0123456789abcdef:"
        );
        assert_eq!(scope_prefix(Some("ns"), None), "ns:");
        assert_eq!(scope_prefix(None, None), "");
        // Matches no key rather than every key.
        let prefix = scope_prefix(None, Some("team:t"));
        assert_eq!(prefix, ":team:t:");
        assert!(!cache_key("switchyard", "team:t", &[0; 32]).starts_with(&prefix));
    }

    #[test]
    fn namespaces() {
        assert!(valid_namespace("switchyard"));
        assert!(valid_namespace("A-z_0.9"));
        assert!(valid_namespace(&"n".repeat(64)));
        assert!(!valid_namespace(&"n".repeat(65)));
        assert!(!valid_namespace(""));
        assert!(!valid_namespace("a:b"));
        assert!(!valid_namespace("a b"));
        assert!(!valid_namespace("é"));
        assert!(!valid_namespace("a/b"));
    }
}
