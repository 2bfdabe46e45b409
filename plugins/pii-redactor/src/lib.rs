//! `pii-redactor`: finds personal data in every text part of every message
//! and redacts it (or denies the call).
//!
//! Detectors: e-mail addresses (`[EMAIL]`), phone numbers (`[PHONE]`,
//! international `+CC ...` and common national formats, 10-13 digits),
//! payment card numbers (`[CARD]`, 13-19 digits, Luhn-valid), Brazilian CPF
//! (`[CPF]`) and CNPJ (`[CNPJ]`), both with their check digits validated.
//! A hand-written single pass over the bytes finds them all; nothing is
//! allocated when nothing is found.

mod answer;
mod checks;
mod config;
mod email;
mod number;
mod scan;

use config::{Kinds, Mode};
use switchyard_sdk::prelude::*;

pub use config::{Config, Kind, Settings};

/// One item found: a byte range of the text and what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Match {
    pub start: usize,
    pub end: usize,
    pub kind: Kind,
}

/// The sanitiser, built from its config once per instance.
pub struct PiiRedactor(Config);

impl Plugin for PiiRedactor {
    type Config = Settings;
    const NAME: &'static str = "pii-redactor";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: Option<&'static str> = Some(
        "Redacts (or denies) e-mail addresses, phone numbers, Luhn-valid card numbers and Brazilian CPF/CNPJ",
    );

    fn new(settings: Settings) -> Result<Self, PluginError> {
        Ok(PiiRedactor(settings.into()))
    }
}

impl Sanitizer for PiiRedactor {
    fn sanitize(&self, input: SanitizeInput) -> Result<Verdict, PluginError> {
        Ok(sanitize_with(&self.0, input))
    }
}

/// Checks the request's messages (request stage) or the answer's (response
/// stage). Stages this version does not name pass.
pub fn sanitize_with(config: &Config, input: SanitizeInput) -> Verdict {
    if config.detectors.is_empty() {
        return Verdict::Allow;
    }
    match (&input.stage, config.mode) {
        (Stage::Request, Mode::Redact) if config.restore => {
            redact_numbered(input.request.messages, config.detectors)
        }
        (Stage::Request, Mode::Redact) => redact(input.request.messages, config.detectors),
        (Stage::Request, Mode::Deny) => deny(&input.request.messages, config.detectors, "request"),
        (Stage::Response, _) => respond(config, input),
        (Stage::Other(_), _) => Verdict::Allow,
    }
}

/// The response stage, whole answers and stream windows alike: deny on
/// personal data after the window's overlap, or rewrite (redact the
/// model's, restore the request's placeholders).
fn respond(config: &Config, input: SanitizeInput) -> Verdict {
    let on = config.detectors;
    let windowed = input.window.is_some();
    if config.mode == Mode::Deny {
        let mut found = Kinds::NONE;
        for text in texts(&input.response) {
            let overlap = answer::overlap_bytes(&input, text);
            found = answer::found(text, overlap, on)
                .iter()
                .fold(found, Kinds::with);
        }
        return deny_found(found, "response");
    }
    let numbering = config
        .restore
        .then(|| answer::Numbering::of(&input.request.messages, on));
    let mut messages = input.response.clone();
    let mut changed = false;
    for part in messages.iter_mut().flat_map(|m| &mut m.content) {
        if let ContentPart::Text(text) = part {
            let overlap = answer::overlap_bytes(&input, text);
            if let Some(new) =
                answer::rewrite_text(text, overlap, on, config.redact_output, numbering.as_ref())
            {
                *text = new;
                changed = true;
            } else if windowed {
                // A window's rewrite is its text after the overlap.
                *text = text[overlap..].to_string();
            }
        }
    }
    if changed {
        Verdict::Rewrite(messages)
    } else {
        Verdict::Allow
    }
}

/// The request's messages with numbered placeholders (`restore: true`).
fn redact_numbered(mut messages: Vec<Message>, on: Kinds) -> Verdict {
    let mut numbering = answer::Numbering::default();
    let mut matches = Vec::new();
    let mut changed = false;
    for part in messages.iter_mut().flat_map(|m| &mut m.content) {
        if let ContentPart::Text(text) = part {
            matches.clear();
            scan::scan(text, on, &mut matches);
            if !matches.is_empty() {
                *text = numbering.redact(text, &matches);
                changed = true;
            }
        }
    }
    if changed {
        Verdict::Rewrite(messages)
    } else {
        Verdict::Allow
    }
}

fn texts(messages: &[Message]) -> impl Iterator<Item = &String> {
    messages
        .iter()
        .flat_map(|m| &m.content)
        .filter_map(|p| match p {
            ContentPart::Text(t) => Some(t),
            _ => None,
        })
}

fn redact(mut messages: Vec<Message>, on: Kinds) -> Verdict {
    let mut matches = Vec::new();
    let mut changed = false;
    for part in messages.iter_mut().flat_map(|m| &mut m.content) {
        if let ContentPart::Text(text) = part {
            matches.clear();
            scan::scan(text, on, &mut matches);
            if !matches.is_empty() {
                *text = scan::redact(text, &matches);
                changed = true;
            }
        }
    }
    if changed {
        Verdict::Rewrite(messages)
    } else {
        Verdict::Allow
    }
}

fn deny(messages: &[Message], on: Kinds, stage: &str) -> Verdict {
    let mut matches = Vec::new();
    let mut found = Kinds::NONE;
    for text in texts(messages) {
        matches.clear();
        scan::scan(text, on, &mut matches);
        found = matches.iter().fold(found, |acc, m| acc.with(m.kind));
        if found == on {
            break;
        }
    }
    deny_found(found, stage)
}

fn deny_found(found: Kinds, stage: &str) -> Verdict {
    if found.is_empty() {
        return Verdict::Allow;
    }
    let what: Vec<&str> = found.iter().map(Kind::description).collect();
    Verdict::Deny(format!(
        "the {stage} contains personal data: {}",
        what.join(", ")
    ))
}

switchyard_sdk::export!(sanitizer PiiRedactor);

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_sdk::testing::{caller, chat_request, message, text};
    use switchyard_sdk::types::{PluginKind, Role};

    /// A sanitiser's input at `stage`, not a stream window, from an
    /// anonymous caller (`switchyard_sdk::testing` has no such builder).
    fn input(stage: Stage, request: Vec<Message>, response: Vec<Message>) -> SanitizeInput {
        SanitizeInput {
            stage,
            request: chat_request("m", request),
            caller: caller(),
            response,
            window: None,
            finish_reason: None,
            context_window: None,
            estimated_input_tokens: 0,
        }
    }

    #[test]
    fn describe() {
        let info = switchyard_sdk::typed::describe::<PiiRedactor>(PluginKind::Sanitizer, &[]);
        assert_eq!(
            (info.name.as_str(), info.version.as_str()),
            ("pii-redactor", env!("CARGO_PKG_VERSION"))
        );
        assert!(
            info.config_schema
                .is_some_and(|s| s.contains("\"detectors\""))
        );
        assert!(info.description.is_some());
    }

    #[test]
    fn clean_request_is_allowed() {
        let i = input(
            Stage::Request,
            vec![text(Role::User, "hello there, nothing to see")],
            vec![],
        );
        assert_eq!(sanitize_with(&Config::default(), i), Verdict::Allow);
    }

    #[test]
    fn request_is_rewritten_part_by_part() {
        let request = vec![
            text(Role::System, "be nice"),
            message(
                Role::User,
                vec![
                    ContentPart::Text("mail a@b.com".into()),
                    ContentPart::ImageUrl("https://x/a@b.com/4111111111111111.png".into()),
                    ContentPart::Other(
                        r#"{"type":"input_audio","input_audio":{"data":"a@b.com"}}"#.into(),
                    ),
                    ContentPart::Text("card 4111 1111 1111 1111".into()),
                ],
            ),
        ];
        let Verdict::Rewrite(out) = sanitize_with(
            &Config::default(),
            input(Stage::Request, request.clone(), vec![]),
        ) else {
            panic!()
        };
        assert_eq!(out[0], request[0]);
        assert_eq!(out[1].content[0], ContentPart::Text("mail [EMAIL]".into()));
        assert_eq!(out[1].content[1], request[1].content[1]);
        assert_eq!(out[1].content[2], request[1].content[2]);
        assert_eq!(out[1].content[3], ContentPart::Text("card [CARD]".into()));
    }

    #[test]
    fn response_stage_checks_the_answer() {
        let i = input(
            Stage::Response,
            vec![text(Role::User, "a@b.com")],
            vec![text(Role::Assistant, "call 555-123-4567")],
        );
        assert_eq!(
            sanitize_with(&Config::default(), i),
            Verdict::Rewrite(vec![text(Role::Assistant, "call [PHONE]")])
        );
        let i = input(
            Stage::Response,
            vec![text(Role::User, "a@b.com")],
            vec![text(Role::Assistant, "ok")],
        );
        assert_eq!(sanitize_with(&Config::default(), i), Verdict::Allow);
    }

    #[test]
    fn deny_names_kinds_never_values() {
        let c = Config {
            mode: Mode::Deny,
            ..Config::default()
        };
        let i = input(
            Stage::Request,
            vec![text(
                Role::User,
                "4111111111111111 and a@b.com and a2@b.com",
            )],
            vec![],
        );
        let Verdict::Deny(reason) = sanitize_with(&c, i) else {
            panic!()
        };
        assert_eq!(
            reason,
            "the request contains personal data: e-mail address, payment card number"
        );
        assert!(!reason.contains("4111") && !reason.contains("a@b"));
        let i = input(Stage::Request, vec![text(Role::User, "fine")], vec![]);
        assert_eq!(sanitize_with(&c, i), Verdict::Allow);
    }

    #[test]
    fn other_stage_and_no_detectors_allow() {
        let i = input(
            Stage::Other("x".into()),
            vec![text(Role::User, "a@b.com")],
            vec![],
        );
        assert_eq!(sanitize_with(&Config::default(), i), Verdict::Allow);
        let c = Config {
            detectors: Kinds::NONE,
            ..Config::default()
        };
        let i = input(Stage::Request, vec![text(Role::User, "a@b.com")], vec![]);
        assert_eq!(sanitize_with(&c, i), Verdict::Allow);
    }

    #[test]
    fn the_value_built_from_json_uses_its_config() {
        let p: PiiRedactor = switchyard_sdk::typed::from_json(r#"{"detectors":["cpf"]}"#).unwrap();
        let i = input(
            Stage::Request,
            vec![text(Role::User, "a@b.com 529.982.247-25")],
            vec![],
        );
        assert_eq!(
            p.sanitize(i).unwrap(),
            Verdict::Rewrite(vec![text(Role::User, "a@b.com [CPF]")])
        );
        assert!(matches!(
            switchyard_sdk::typed::from_json::<PiiRedactor>(r#"{"mode":"shout"}"#),
            Err(PluginError::InvalidConfig(m)) if m.starts_with("mode: ")
        ));
    }
}
