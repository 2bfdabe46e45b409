use super::*;

/// A checker from a closure, recording every window it saw.
struct Seen<F> {
    f: F,
    windows: Log,
}

impl<F: FnMut(&str, u32) -> Outcome + Send> Checker for Seen<F> {
    fn check(&mut self, w: &Window<'_>) -> Outcome {
        self.windows
            .lock()
            .unwrap()
            .push((w.text.to_string(), w.released, w.overlap, w.last));
        (self.f)(w.text, w.overlap)
    }
}

type Log = std::sync::Arc<std::sync::Mutex<Vec<(String, u64, u32, bool)>>>;

fn guard_with<F: FnMut(&str, u32) -> Outcome + Send>(
    f: F,
    window: usize,
    overlap: usize,
) -> (StreamGuard<Seen<F>>, Log) {
    let windows = Log::default();
    (
        StreamGuard::new(
            Seen {
                f,
                windows: windows.clone(),
            },
            window,
            overlap,
        ),
        windows,
    )
}

fn chunk(delta: Value, finish: Value) -> String {
    format!(
        "data: {}\n\n",
        json!({"id": "c1", "object": "chat.completion.chunk", "created": 7, "model": "m",
               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    )
}

fn text(t: &str) -> String {
    chunk(json!({"content": t}), Value::Null)
}

fn events(pieces: &[&str]) -> Vec<String> {
    let mut out = vec![chunk(
        json!({"role": "assistant", "content": ""}),
        Value::Null,
    )];
    out.extend(pieces.iter().map(|p| text(p)));
    out.push(chunk(json!({}), json!("stop")));
    out.push("data: [DONE]\n\n".into());
    out
}

fn run<C: Checker>(g: &mut StreamGuard<C>, input: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for e in input {
        g.push(e.as_bytes());
        while let Some(b) = g.next_out() {
            out.push(String::from_utf8(b.to_vec()).unwrap());
        }
    }
    g.end();
    while let Some(b) = g.next_out() {
        out.push(String::from_utf8(b.to_vec()).unwrap());
    }
    out
}

fn streamed_text(out: &[String]) -> String {
    out.iter()
        .filter_map(|e| e.strip_prefix("data: ")?.trim_end().parse::<Value>().ok())
        .filter_map(|v| {
            v.pointer("/choices/0/delta/content")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .collect()
}

#[test]
fn allowed_text_goes_out_byte_for_byte_in_order() {
    let (mut g, seen) = guard_with(|_, _| Outcome::Allow, 100, 4);
    let input = events(&["Hello ", "world, this ", "is a test."]);
    assert_eq!(run(&mut g, &input), input);
    assert_eq!(
        *seen.lock().unwrap(),
        vec![("Hello world, this is a test.".to_string(), 0, 0, true)]
    );
}

#[test]
fn windows_are_cut_at_whitespace_and_start_with_the_overlap() {
    let (mut g, seen) = guard_with(|_, _| Outcome::Allow, 10, 4);
    let input = events(&["Hello ", "world, this ", "is a test."]);
    let out = run(&mut g, &input);
    // Chunks cut by a window are split; the text is the same.
    assert_eq!(streamed_text(&out), "Hello world, this is a test.");
    assert_eq!(out.len(), input.len() + 2);
    let seen = seen.lock().unwrap();
    // "Hello world, this " reaches 10 at "Hello worl": cut after "Hello ".
    assert_eq!(
        *seen,
        vec![
            ("Hello ".to_string(), 0, 0, false),
            // The overlap is the last 4 characters released.
            ("llo world, ".to_string(), 6, 4, false),
            ("ld, this is a ".to_string(), 13, 4, false),
            ("s a test.".to_string(), 23, 4, true),
        ]
    );
}

#[test]
fn held_chunks_wait_only_for_their_window() {
    let (mut g, _) = guard_with(|_, _| Outcome::Allow, 10, 2);
    // The role chunk passes at once; "ab " waits (3 < 10).
    g.push(events(&[])[0].as_bytes());
    assert!(g.next_out().is_some());
    g.push(text("ab ").as_bytes());
    assert!(g.next_out().is_none());
    // Tool-call deltas (no text) wait behind the held text, in order.
    let tool = chunk(json!({"tool_calls": [{"index": 0}]}), Value::Null);
    g.push(tool.as_bytes());
    assert!(g.next_out().is_none());
    // A full window releases both, in order.
    g.push(text("cdefgh ij").as_bytes());
    let a = g.next_out().unwrap();
    let b = g.next_out().unwrap();
    assert_eq!((&a[..], &b[..]), (text("ab ").as_bytes(), tool.as_bytes()));
    // "cdefgh ij" was cut after "cdefgh ": its checked part went out as a
    // chunk of its own; "ij" waits.
    let c = String::from_utf8(g.next_out().unwrap().to_vec()).unwrap();
    assert_eq!(streamed_text(&[c]), "cdefgh ");
    assert!(g.next_out().is_none());
}

#[test]
fn a_phrase_across_two_windows_stops_the_stream() {
    let (mut g, _) = guard_with(
        |t, _| {
            if t.contains("forbidden word") {
                Outcome::Stop(filtered("words", "denied phrase"))
            } else {
                Outcome::Allow
            }
        },
        12,
        11,
    );
    let input = events(&["This is the ", "forbidden ", "word and more"]);
    let out = run(&mut g, &input);
    // The windows: "This is the ", " is the forbidden " (allowed: the
    // phrase is not whole yet), " forbidden word and " (the overlap holds
    // "forbidden "): the stream stops there.
    assert_eq!(out[..3], input[..3]);
    assert_eq!(streamed_text(&out), "This is the forbidden ");
    let rest: Vec<Value> = out[3..]
        .iter()
        .map(|e| {
            let d = e.strip_prefix("data: ").unwrap().trim_end();
            serde_json::from_str(d).unwrap_or(Value::String(d.into()))
        })
        .collect();
    assert_eq!(
        rest,
        vec![
            json!({"id": "c1", "object": "chat.completion.chunk", "created": 7, "model": "m",
                   "choices": [{"index": 0, "delta": {}, "finish_reason": "content_filter"}]}),
            json!({"error": {"message": "answer stopped by words: denied phrase",
                             "type": "invalid_request_error", "param": null, "code": "content_filter"}}),
            json!("[DONE]"),
        ]
    );
    assert!(g.stopped());
}

#[test]
fn a_placeholder_split_over_chunks_is_rewritten_whole() {
    let (mut g, _) = guard_with(
        |t, overlap| {
            let held: String = t.chars().skip(overlap as usize).collect();
            if held.contains("[EMAIL_1]") {
                Outcome::Rewrite(held.replace("[EMAIL_1]", "ana@example.com"))
            } else {
                Outcome::Allow
            }
        },
        12,
        9,
    );
    let input = events(&["Write to ", "[EMA", "IL_1] today, ", "thanks."]);
    let out = run(&mut g, &input);
    assert_eq!(
        streamed_text(&out),
        "Write to ana@example.com today, thanks."
    );
    assert_eq!(out.last().unwrap(), "data: [DONE]\n\n");
    // The finish chunk is there, once.
    assert_eq!(
        out.iter()
            .filter(|e| e.contains("\"finish_reason\":\"stop\""))
            .count(),
        1
    );
}

#[test]
fn a_rewrite_of_a_last_window_replaces_its_text() {
    let (mut g, seen) = guard_with(|_, _| Outcome::Rewrite("[redacted]".into()), 100, 10);
    let out = run(&mut g, &events(&["a", "b", "c"]));
    assert_eq!(streamed_text(&out), "[redacted]");
    assert_eq!(*seen.lock().unwrap(), vec![("abc".to_string(), 0, 0, true)]);
}

#[test]
fn events_split_across_reads_are_put_back_together() {
    let (mut g, _) = guard_with(|_, _| Outcome::Allow, 4, 1);
    let input = events(&["one two ", "three"]);
    let joined = input.concat();
    let mut out = Vec::new();
    for piece in joined.as_bytes().chunks(7) {
        g.push(piece);
        while let Some(b) = g.next_out() {
            out.push(String::from_utf8(b.to_vec()).unwrap());
        }
    }
    g.end();
    while let Some(b) = g.next_out() {
        out.push(String::from_utf8(b.to_vec()).unwrap());
    }
    assert_eq!(streamed_text(&out), "one two three");
    assert_eq!(out.last().unwrap(), "data: [DONE]\n\n");
}

#[test]
fn windows_end_after_the_last_whitespace() {
    assert_eq!(cut_point("hello world foo", 12), 12);
    assert_eq!(cut_point("hello world foo", 11), 6);
    assert_eq!(cut_point("[EMAIL_1] x", 5), 5);
    assert_eq!(cut_point("ab [EMAIL_1]", 8), 3);
}

#[test]
fn empty_chunks_are_those_with_nothing_left() {
    assert!(is_empty_chunk(
        &json!({"choices": [{"delta": {"content": ""}, "finish_reason": null}]})
    ));
    assert!(!is_empty_chunk(
        &json!({"choices": [{"delta": {"role": "assistant"}}]})
    ));
    assert!(!is_empty_chunk(
        &json!({"choices": [{"delta": {}, "finish_reason": "stop"}]})
    ));
    assert!(!is_empty_chunk(
        &json!({"choices": [], "usage": {"total_tokens": 1}})
    ));
}
