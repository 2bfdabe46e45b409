//! Embeddings in OpenAI's format, cached one input item at a time: a batch
//! splits into its items ([`items`]), only the items not cached go upstream
//! ([`subset_input`]), the fresh vectors are read back in order
//! ([`vectors`]) and the answer lists every item in the original order
//! ([`merge`]).

use serde_json::{Map, Value, json};

/// The items of an embeddings `input`: a string is one item, an array of
/// strings one per string, an array of integers (one tokenised input) one
/// item, an array of arrays of integers one per array. Anything else (an
/// empty array or inner array, a mix, other types) is `None`: the host
/// does not cache that request.
pub fn items(input: &Value) -> Option<Vec<Value>> {
    match shape(input)? {
        Shape::Text | Shape::Tokens => Some(vec![input.clone()]),
        Shape::Texts | Shape::TokenLists => input.as_array().cloned(),
    }
}

/// The `input` to send upstream with only the items at `missing` (indexes
/// into [`items`]), in their original order and the original's shape: a
/// lone string or token list stays as it is (it is the one item), a batch
/// stays a batch, even of one.
pub fn subset_input(original: &Value, missing: &[usize]) -> Value {
    match (shape(original), original) {
        (Some(Shape::Texts | Shape::TokenLists), Value::Array(all)) => Value::Array(
            missing
                .iter()
                .filter_map(|&i| all.get(i))
                .cloned()
                .collect(),
        ),
        _ => original.clone(),
    }
}

/// Each `data[i].embedding` of an embeddings response, ordered by its
/// `index` (its position when it has none); `None` unless the indexes are
/// exactly 0..n, each once, and every item has an embedding.
pub fn vectors(response: &Value) -> Option<Vec<Value>> {
    let data = response.get("data")?.as_array()?;
    let mut slots: Vec<Option<Value>> = vec![None; data.len()];
    for (position, item) in data.iter().enumerate() {
        let index = match item.get("index") {
            None => position,
            Some(index) => usize::try_from(index.as_u64()?).ok()?,
        };
        let embedding = item.get("embedding").filter(|e| !e.is_null())?;
        let slot = slots.get_mut(index)?;
        if slot.is_some() {
            return None;
        }
        *slot = Some(embedding.clone());
    }
    slots.into_iter().collect()
}

/// The answer to a request of `total` items: the `cached` vectors at their
/// positions and the `fresh` response's vectors at the positions listed
/// (in that order), as `{"object": "list", "data": [...], "model", "usage"}`
/// with `index` 0..total. The fresh response's usage and model are kept;
/// with everything cached, the usage is zero and the model is `model`.
///
/// The host reads the fresh vectors with [`vectors`] first (it stores
/// them) and does not merge a response that does not add up; a position
/// left without a vector here would read `"embedding": null`.
pub fn merge(
    total: usize,
    cached: Vec<(usize, Value)>,
    fresh: Option<(&Value, &[usize])>,
    model: &str,
) -> Value {
    let mut slots: Vec<Value> = vec![Value::Null; total];
    for (position, vector) in cached {
        if let Some(slot) = slots.get_mut(position) {
            *slot = vector;
        }
    }
    let mut usage = json!({"prompt_tokens": 0, "total_tokens": 0});
    let mut answer_model = Value::String(model.to_owned());
    if let Some((response, positions)) = fresh {
        for (&position, vector) in positions.iter().zip(vectors(response).unwrap_or_default()) {
            if let Some(slot) = slots.get_mut(position) {
                *slot = vector;
            }
        }
        if let Some(fresh_usage) = response.get("usage").filter(|u| u.is_object()) {
            usage = fresh_usage.clone();
        }
        if let Some(fresh_model) = response.get("model").filter(|m| m.is_string()) {
            answer_model = fresh_model.clone();
        }
    }
    let data = slots
        .into_iter()
        .enumerate()
        .map(|(index, embedding)| {
            let mut item = Map::new();
            item.insert("object".into(), "embedding".into());
            item.insert("index".into(), index.into());
            item.insert("embedding".into(), embedding);
            Value::Object(item)
        })
        .collect();
    json!({"object": "list", "data": Value::Array(data), "model": answer_model, "usage": usage})
}

/// The four shapes OpenAI accepts for `input`.
enum Shape {
    /// `"text"`
    Text,
    /// `["text", …]`
    Texts,
    /// `[1, 2, …]`: one tokenised input.
    Tokens,
    /// `[[1, 2], …]`
    TokenLists,
}

fn shape(input: &Value) -> Option<Shape> {
    match input {
        Value::String(_) => Some(Shape::Text),
        Value::Array(all) => {
            let first = all.first()?;
            if first.is_string() {
                all.iter().all(Value::is_string).then_some(Shape::Texts)
            } else if is_token(first) {
                all.iter().all(is_token).then_some(Shape::Tokens)
            } else {
                all.iter().all(is_token_list).then_some(Shape::TokenLists)
            }
        }
        _ => None,
    }
}

fn is_token(value: &Value) -> bool {
    value.is_u64() || value.is_i64()
}

fn is_token_list(value: &Value) -> bool {
    value
        .as_array()
        .is_some_and(|tokens| !tokens.is_empty() && tokens.iter().all(is_token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_of_each_input_shape() {
        assert_eq!(items(&json!("a")), Some(vec![json!("a")]));
        assert_eq!(
            items(&json!(["a", "b", "a"])),
            Some(vec![json!("a"), json!("b"), json!("a")])
        );
        assert_eq!(items(&json!([1, 2, 3])), Some(vec![json!([1, 2, 3])]));
        assert_eq!(
            items(&json!([[1, 2], [3]])),
            Some(vec![json!([1, 2]), json!([3])])
        );
        assert_eq!(items(&json!(["one"])), Some(vec![json!("one")]));
    }

    #[test]
    fn other_inputs_are_not_cached() {
        for input in [
            json!([]),
            json!([[]]),
            json!([[1], []]),
            json!(["a", 1]),
            json!([1, "a"]),
            json!([1.5]),
            json!([[1.5]]),
            json!([["a"]]),
            json!([null]),
            json!({"text": "a"}),
            json!(1),
            Value::Null,
        ] {
            assert_eq!(items(&input), None, "{input}");
        }
    }

    #[test]
    fn the_subset_keeps_the_original_shape() {
        assert_eq!(
            subset_input(&json!(["a", "b", "c", "d"]), &[0, 2]),
            json!(["a", "c"])
        );
        assert_eq!(subset_input(&json!(["a", "b"]), &[1]), json!(["b"]));
        assert_eq!(subset_input(&json!("a"), &[0]), json!("a"));
        assert_eq!(subset_input(&json!([5, 6]), &[0]), json!([5, 6]));
        assert_eq!(
            subset_input(&json!([[1], [2], [3]]), &[1, 2]),
            json!([[2], [3]])
        );
    }

    fn response(data: Value) -> Value {
        json!({"object": "list", "data": data, "model": "text-embedding-3-small",
               "usage": {"prompt_tokens": 4, "total_tokens": 4}})
    }

    #[test]
    fn vectors_come_in_index_order() {
        let r = response(json!([
            {"object": "embedding", "index": 1, "embedding": [0.2]},
            {"object": "embedding", "index": 0, "embedding": [0.1]},
            {"object": "embedding", "index": 2, "embedding": "AAAA"},
        ]));
        assert_eq!(
            vectors(&r),
            Some(vec![json!([0.1]), json!([0.2]), json!("AAAA")])
        );
        let no_index = response(json!([{"embedding": [1]}, {"embedding": [2]}]));
        assert_eq!(vectors(&no_index), Some(vec![json!([1]), json!([2])]));
        assert_eq!(vectors(&response(json!([]))), Some(vec![]));
    }

    #[test]
    fn vectors_that_do_not_add_up_are_none() {
        let bad = [
            json!([{"index": 0, "embedding": [1]}, {"index": 0, "embedding": [2]}]),
            json!([{"index": 0, "embedding": [1]}, {"index": 2, "embedding": [2]}]),
            json!([{"index": -1, "embedding": [1]}]),
            json!([{"index": "0", "embedding": [1]}]),
            json!([{"index": 0}]),
            json!([{"index": 0, "embedding": null}]),
            json!({"index": 0}),
        ];
        for data in bad {
            assert_eq!(vectors(&response(data.clone())), None, "{data}");
        }
        assert_eq!(vectors(&json!({"error": {"message": "x"}})), None);
    }

    #[test]
    fn a_half_cached_batch_of_four() {
        // Items 1 and 3 were cached; 0 and 2 went upstream as ["a", "c"].
        let original = json!(["a", "b", "c", "d"]);
        let missing = [0, 2];
        assert_eq!(subset_input(&original, &missing), json!(["a", "c"]));
        let fresh = json!({"object": "list", "model": "text-embedding-3-small-2024",
            "data": [
                {"object": "embedding", "index": 1, "embedding": [0.3, 0.3]},
                {"object": "embedding", "index": 0, "embedding": [0.1, 0.1]},
            ],
            "usage": {"prompt_tokens": 2, "total_tokens": 2}});
        let answer = merge(
            4,
            vec![(3, json!([0.4, 0.4])), (1, json!([0.2, 0.2]))],
            Some((&fresh, &missing)),
            "embed-group",
        );
        assert_eq!(
            answer,
            json!({"object": "list", "data": [
                {"object": "embedding", "index": 0, "embedding": [0.1, 0.1]},
                {"object": "embedding", "index": 1, "embedding": [0.2, 0.2]},
                {"object": "embedding", "index": 2, "embedding": [0.3, 0.3]},
                {"object": "embedding", "index": 3, "embedding": [0.4, 0.4]},
            ], "model": "text-embedding-3-small-2024", "usage": {"prompt_tokens": 2, "total_tokens": 2}})
        );
    }

    #[test]
    fn all_cached_answers_with_zero_usage_and_the_given_model() {
        let answer = merge(
            2,
            vec![(1, json!("BBBB")), (0, json!("AAAA"))],
            None,
            "embed-group",
        );
        assert_eq!(
            answer,
            json!({"object": "list", "data": [
                {"object": "embedding", "index": 0, "embedding": "AAAA"},
                {"object": "embedding", "index": 1, "embedding": "BBBB"},
            ], "model": "embed-group", "usage": {"prompt_tokens": 0, "total_tokens": 0}})
        );
    }

    #[test]
    fn nothing_cached_is_the_fresh_answer_renumbered() {
        let fresh = response(json!([
            {"object": "embedding", "index": 0, "embedding": [1]},
            {"object": "embedding", "index": 1, "embedding": [2]},
        ]));
        let answer = merge(2, vec![], Some((&fresh, &[0, 1])), "embed-group");
        assert_eq!(answer, fresh);
    }
}
