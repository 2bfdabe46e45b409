//! A rough native timing of a 2 KB prompt (the plugin's budget is 30 µs per
//! call including the wasm call). Run with
//! `cargo test -p pii-redactor --release --test speed -- --ignored --nocapture`.

use pii_redactor::PiiRedactor;
use switchyard_sdk::sanitizer::{SanitizeInput, Stage};
use switchyard_sdk::types::{Caller, ChatRequest, ContentPart, Message, Role};
use switchyard_sdk::{Plugin, Sanitizer};

pub fn prompt_2kb(with_pii: bool) -> String {
    let para = "Please summarise the following customer conversation for the support team. \
The customer explained that the order #48213 placed on 2024-03-14 arrived late, that the invoice total was $1,234.56 \
and that version 2.4.1 of the app crashed twice at 10:30. ";
    let mut s = String::new();
    while s.len() < 2048 {
        s.push_str(para);
    }
    if with_pii {
        s.push_str(" Contact: maria.souza@example.com.br, +55 11 98765-4321, card 4111 1111 1111 1111, CPF 529.982.247-25.");
    }
    s
}

fn input(text: &str) -> SanitizeInput {
    SanitizeInput {
        stage: Stage::Request,
        request: ChatRequest {
            model: "m".into(),
            messages: vec![
                Message {
                    role: Role::System,
                    content: vec![ContentPart::Text("You are a helpful assistant.".into())],
                    name: None,
                    extra: vec![],
                },
                Message {
                    role: Role::User,
                    content: vec![ContentPart::Text(text.to_string())],
                    name: None,
                    extra: vec![],
                },
            ],
            stream: false,
            max_tokens: None,
            tags: vec![],
            metadata: vec![],
            extra: vec![],
        },
        caller: Caller {
            key_alias: None,
            user: None,
            team: None,
            tags: vec![],
            tier: None,
            metadata: vec![],
        },
        response: vec![],
    }
}

#[test]
#[ignore]
fn timing_2kb() {
    PiiRedactor::init("{}".into()).unwrap();
    for with_pii in [false, true] {
        let text = prompt_2kb(with_pii);
        let inputs: Vec<_> = (0..20_000).map(|_| input(&text)).collect();
        let t = std::time::Instant::now();
        let mut rewrites = 0;
        for i in inputs {
            if !matches!(
                PiiRedactor::sanitize(i).unwrap(),
                switchyard_sdk::sanitizer::Verdict::Allow
            ) {
                rewrites += 1;
            }
        }
        let per = t.elapsed().as_nanos() as f64 / 20_000.0;
        eprintln!(
            "{} bytes, pii={with_pii}: {per:.0} ns per call ({rewrites} rewrites)",
            text.len()
        );
    }
}

#[test]
#[ignore]
fn timing_plain_text() {
    PiiRedactor::init("{}".into()).unwrap();
    let text =
        "Please summarise the following customer conversation for the support team. ".repeat(28);
    let inputs: Vec<_> = (0..20_000).map(|_| input(&text)).collect();
    let t = std::time::Instant::now();
    for i in inputs {
        let _ = PiiRedactor::sanitize(i).unwrap();
    }
    eprintln!(
        "{} bytes without digits: {:.0} ns per call",
        text.len(),
        t.elapsed().as_nanos() as f64 / 20_000.0
    );
}
