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
    // A usage-like event without text waits behind the held text, in order.
    let usage = "data: {\"choices\":[],\"usage\":{\"total_tokens\":1}}\n\n";
    g.push(usage.as_bytes());
    assert!(g.next_out().is_none());
    // A full window releases both, in order.
    g.push(text("cdefgh ij").as_bytes());
    let a = g.next_out().unwrap();
    let b = g.next_out().unwrap();
    assert_eq!((&a[..], &b[..]), (text("ab ").as_bytes(), usage.as_bytes()));
    // "cdefgh ij" was cut after "cdefgh ": its checked part went out as a
    // chunk of its own; "ij" waits.
    let c = String::from_utf8(g.next_out().unwrap().to_vec()).unwrap();
    assert_eq!(streamed_text(&[c]), "cdefgh ");
    assert!(g.next_out().is_none());
}

/// Every window with its choice and finish reason.
#[derive(Default, Clone)]
struct Full(std::sync::Arc<std::sync::Mutex<Vec<FullWindow>>>);

#[derive(Debug, PartialEq)]
struct FullWindow {
    choice: u32,
    text: String,
    released: u64,
    overlap: u32,
    last: bool,
    finish_reason: Option<String>,
}

impl Checker for Full {
    fn check(&mut self, w: &Window<'_>) -> Outcome {
        self.0.lock().unwrap().push(FullWindow {
            choice: w.choice,
            text: w.text.to_string(),
            released: w.released,
            overlap: w.overlap,
            last: w.last,
            finish_reason: w.finish_reason.map(str::to_string),
        });
        Outcome::Allow
    }
}

fn drain<C: Checker>(g: &mut StreamGuard<C>) -> Vec<String> {
    std::iter::from_fn(|| g.next_out())
        .map(|b| String::from_utf8(b.to_vec()).unwrap())
        .collect()
}

#[test]
fn tool_call_deltas_go_out_as_they_arrive_after_one_check_of_the_text() {
    let full = Full::default();
    let mut g = StreamGuard::new(full.clone(), 200, 4);
    g.push(events(&[])[0].as_bytes());
    assert_eq!(drain(&mut g).len(), 1);
    g.push(text("Let me check.").as_bytes());
    assert!(drain(&mut g).is_empty());
    let tools: Vec<String> = (0..3)
        .map(|i| {
            chunk(
                json!({"tool_calls": [{"index": 0, "function": {"arguments": format!("{{\"a{i}\"")}}]}),
                Value::Null,
            )
        })
        .collect();
    // The first delta releases the text (checked once, not as the last
    // window), then goes out itself.
    g.push(tools[0].as_bytes());
    assert_eq!(drain(&mut g), vec![text("Let me check."), tools[0].clone()]);
    // The next ones go out at once, unchecked (no text waits).
    g.push(tools[1].as_bytes());
    assert_eq!(drain(&mut g), vec![tools[1].clone()]);
    g.push(tools[2].as_bytes());
    assert_eq!(drain(&mut g), vec![tools[2].clone()]);
    assert_eq!(full.0.lock().unwrap().len(), 1);
    // The finish: the last window (only the overlap), then the chunk.
    let finish = chunk(json!({}), json!("tool_calls"));
    g.push(finish.as_bytes());
    assert_eq!(drain(&mut g), vec![finish]);
    assert_eq!(
        *full.0.lock().unwrap(),
        vec![
            FullWindow {
                choice: 0,
                text: "Let me check.".into(),
                released: 0,
                overlap: 0,
                last: false,
                finish_reason: None,
            },
            FullWindow {
                choice: 0,
                text: "eck.".into(),
                released: 13,
                overlap: 4,
                last: true,
                finish_reason: Some("tool_calls".into()),
            },
        ]
    );
}

#[test]
fn a_huge_choice_index_is_checked_without_allocating_for_it() {
    let full = Full::default();
    let mut g = StreamGuard::new(full.clone(), 100, 4);
    let at = |index: u64, delta: Value, finish: Value| {
        format!(
            "data: {}\n\n",
            json!({"id": "c1", "choices": [{"index": index, "delta": delta, "finish_reason": finish}]})
        )
    };
    let input = vec![
        at(4_000_000_000, json!({"content": "hi there"}), Value::Null),
        at(1 << 40, json!({"content": "far"}), Value::Null),
        at(4_000_000_000, json!({}), json!("stop")),
        "data: [DONE]\n\n".to_string(),
    ];
    let out = run(&mut g, &input);
    assert_eq!(out, input);
    // Two choices kept, not billions.
    assert_eq!(
        g.choices.keys().copied().collect::<Vec<_>>(),
        vec![4_000_000_000, 1 << 40]
    );
    let seen = full.0.lock().unwrap();
    let got: Vec<(u32, &str, bool)> = seen
        .iter()
        .map(|w| (w.choice, w.text.as_str(), w.last))
        .collect();
    assert_eq!(
        got,
        vec![(4_000_000_000, "hi there", true), (u32::MAX, "far", true)]
    );
}

#[test]
fn text_ending_on_a_window_boundary_still_gets_a_last_window() {
    let full = Full::default();
    let mut g = StreamGuard::new(full.clone(), 6, 2);
    let input = events(&["Hello "]);
    assert_eq!(run(&mut g, &input), input);
    assert_eq!(
        *full.0.lock().unwrap(),
        vec![
            FullWindow {
                choice: 0,
                text: "Hello ".into(),
                released: 0,
                overlap: 0,
                last: false,
                finish_reason: None,
            },
            FullWindow {
                choice: 0,
                text: "o ".into(),
                released: 6,
                overlap: 2,
                last: true,
                finish_reason: Some("stop".into()),
            },
        ]
    );
}

#[test]
fn an_empty_last_window_can_still_add_text() {
    let (mut g, seen) = guard_with(
        |t, overlap| {
            if overlap as usize == t.chars().count() {
                Outcome::Rewrite("[end]".into())
            } else {
                Outcome::Allow
            }
        },
        6,
        2,
    );
    let out = run(&mut g, &events(&["Hello "]));
    assert_eq!(streamed_text(&out), "Hello [end]");
    // The added text comes before the finish chunk.
    let finish = out.iter().position(|e| e.contains("\"stop\"")).unwrap();
    let added = out.iter().position(|e| e.contains("[end]")).unwrap();
    assert!(added < finish, "{out:?}");
    assert_eq!(seen.lock().unwrap().len(), 2);
}

#[test]
fn an_oversized_event_ends_guarding_after_checking_what_is_held() {
    let (mut g, seen) = guard_with(|_, _| Outcome::Allow, 100, 4);
    g.push(text("ab ").as_bytes());
    assert!(drain(&mut g).is_empty());
    // An event that never ends within the limit.
    let big = format!("data: {{\"x\": \"{}", "y".repeat(MAX_PARTIAL_EVENT));
    let (first, second) = big.as_bytes().split_at(10);
    g.push(first);
    assert!(drain(&mut g).is_empty());
    g.push(second);
    assert_eq!(drain(&mut g), vec![text("ab "), big.clone()]);
    assert_eq!(
        *seen.lock().unwrap(),
        vec![("ab ".to_string(), 0, 0, false)]
    );
    // From here on bytes pass as they come, unchecked.
    let after = text("anything at all");
    g.push(after.as_bytes());
    assert_eq!(drain(&mut g), vec![after]);
    g.end();
    assert!(drain(&mut g).is_empty());
    assert_eq!(seen.lock().unwrap().len(), 1);
    assert!(g.partial.is_empty());
}

#[test]
fn crlf_events_fed_byte_by_byte_are_put_back_together() {
    let (mut g, _) = guard_with(|_, _| Outcome::Allow, 100, 4);
    let input: Vec<String> = events(&["one two ", "three"])
        .into_iter()
        .map(|e| e.replace("\n\n", "\r\n\r\n"))
        .collect();
    let joined = input.concat();
    let mut out = Vec::new();
    for piece in joined.as_bytes().chunks(1) {
        g.push(piece);
        out.extend(drain(&mut g));
    }
    g.end();
    out.extend(drain(&mut g));
    assert_eq!(out, input);
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
