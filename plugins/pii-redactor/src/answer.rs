//! The response stage: personal data in the answer, and the request's
//! placeholders put back (`restore: true`).
//!
//! With `restore`, the request stage numbers its placeholders (`[EMAIL_1]`,
//! `[CPF_2]`, ...): per kind, from 1, in the order values first appear in
//! the request's messages, the same value keeping its number. The response
//! stage receives the request as this sanitiser received it, so it redoes
//! that numbering ([`Numbering::of`]) and replaces each placeholder in the
//! answer with its value. With `redact_output` (the default), personal data
//! the model itself writes is redacted (`[EMAIL]`, unnumbered), except
//! values the caller sent (they are the caller's own).
//!
//! A streamed answer comes in windows: the window's first `overlap`
//! characters were already released, so only what follows is rewritten;
//! a match that starts in the overlap and ends after it has its unreleased
//! part redacted. The host ends windows at whitespace, so a placeholder
//! (which has none) arrives whole in one window.

use switchyard_sdk::sanitizer::SanitizeInput;
use switchyard_sdk::types::Message;

use crate::Match;
use crate::config::{Kind, Kinds};
use crate::scan;

/// A request's placeholders: (placeholder, value), in numbering order.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Numbering {
    pub entries: Vec<(String, String)>,
    counts: [u32; 5],
}

impl Numbering {
    /// The numbering the request stage gave `messages`.
    pub fn of(messages: &[Message], on: Kinds) -> Numbering {
        let mut n = Numbering::default();
        let mut matches = Vec::new();
        for text in crate::texts(messages) {
            matches.clear();
            scan::scan(text, on, &mut matches);
            for m in &matches {
                n.placeholder(m.kind, &text[m.start..m.end]);
            }
        }
        n
    }

    /// The placeholder of `value`, numbered on first sight.
    pub fn placeholder(&mut self, kind: Kind, value: &str) -> &str {
        let at = match self.entries.iter().position(|(_, v)| v == value) {
            Some(i) => i,
            None => {
                let count = &mut self.counts[kind as usize];
                *count += 1;
                let tag = kind.placeholder().trim_end_matches(']');
                self.entries
                    .push((format!("{tag}_{count}]"), value.to_string()));
                self.entries.len() - 1
            }
        };
        &self.entries[at].0
    }

    /// `text` with `matches` replaced by their numbered placeholders.
    pub fn redact(&mut self, text: &str, matches: &[Match]) -> String {
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for m in matches {
            out.push_str(&text[at..m.start]);
            out.push_str(self.placeholder(m.kind, &text[m.start..m.end]));
            at = m.end;
        }
        out.push_str(&text[at..]);
        out
    }

    fn knows(&self, value: &str) -> bool {
        self.entries.iter().any(|(_, v)| v == value)
    }

    /// `text` with every placeholder of this numbering replaced by its
    /// value.
    pub fn restore(&self, text: &str) -> String {
        if self.entries.is_empty() || !text.contains('[') {
            return text.to_string();
        }
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(i) = rest.find('[') {
            out.push_str(&rest[..i]);
            rest = &rest[i..];
            match self
                .entries
                .iter()
                .find(|(p, _)| rest.starts_with(p.as_str()))
            {
                Some((p, v)) => {
                    out.push_str(v);
                    rest = &rest[p.len()..];
                }
                None => {
                    out.push('[');
                    rest = &rest[1..];
                }
            }
        }
        out.push_str(rest);
        out
    }
}

/// What the response stage does with one text: the part after `overlap`
/// bytes, with the model's personal data redacted (`redact`) and the
/// request's placeholders restored (`numbering`). `None` when unchanged.
pub fn rewrite_text(
    text: &str,
    overlap: usize,
    on: Kinds,
    redact: bool,
    numbering: Option<&Numbering>,
) -> Option<String> {
    let held = &text[overlap..];
    let mut out = String::with_capacity(held.len());
    let mut at = overlap;
    if redact {
        let mut matches = Vec::new();
        scan::scan(text, on, &mut matches);
        for m in matches.iter().filter(|m| m.end > overlap) {
            let value = &text[m.start..m.end];
            if numbering.is_some_and(|n| n.knows(value)) {
                continue;
            }
            let start = m.start.max(overlap);
            out.push_str(&text[at..start]);
            out.push_str(m.kind.placeholder());
            at = m.end;
        }
    }
    out.push_str(&text[at..]);
    let out = match numbering {
        Some(n) => n.restore(&out),
        None => out,
    };
    (out != held).then_some(out)
}

/// Whether the text after `overlap` bytes holds personal data (a match
/// that ends there).
pub fn found(text: &str, overlap: usize, on: Kinds) -> Kinds {
    let mut matches = Vec::new();
    scan::scan(text, on, &mut matches);
    matches
        .iter()
        .filter(|m| m.end > overlap)
        .fold(Kinds::NONE, |acc, m| acc.with(m.kind))
}

/// The byte where a window's overlap (in characters) ends.
pub fn overlap_bytes(input: &SanitizeInput, text: &str) -> usize {
    let chars = input.window.as_ref().map_or(0, |w| w.overlap as usize);
    text.char_indices()
        .nth(chars)
        .map_or(text.len(), |(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_sdk::testing::text;
    use switchyard_sdk::types::Role;

    #[test]
    fn numbering_is_per_kind_in_order_and_a_value_keeps_its_number() {
        let messages = vec![
            text(Role::User, "a@b.com and 529.982.247-25"),
            text(Role::Assistant, "noted"),
            text(Role::User, "also c@d.org, again a@b.com"),
        ];
        let n = Numbering::of(&messages, Kinds::ALL);
        assert_eq!(
            n.entries,
            vec![
                ("[EMAIL_1]".to_string(), "a@b.com".to_string()),
                ("[CPF_1]".to_string(), "529.982.247-25".to_string()),
                ("[EMAIL_2]".to_string(), "c@d.org".to_string()),
            ]
        );
        assert_eq!(
            n.restore("[EMAIL_2], [CPF_1] [EMAIL_1] [EMAIL_3] [x"),
            "c@d.org, 529.982.247-25 a@b.com [EMAIL_3] [x"
        );
    }

    #[test]
    fn only_the_text_after_the_overlap_is_rewritten() {
        let n = Numbering::of(&[text(Role::User, "a@b.com")], Kinds::ALL);
        // Restore in the held part; the model's own address redacted; the
        // caller's own value left.
        assert_eq!(
            rewrite_text(
                "ok [EMAIL_1], x@y.io a@b.com",
                3,
                Kinds::ALL,
                true,
                Some(&n)
            ),
            Some("a@b.com, [EMAIL] a@b.com".to_string())
        );
        // A match begun in the overlap: its unreleased part is redacted.
        assert_eq!(
            rewrite_text("mail x@y.io now", 8, Kinds::ALL, true, None),
            Some("[EMAIL] now".to_string())
        );
        assert_eq!(
            rewrite_text("all fine", 2, Kinds::ALL, true, Some(&n)),
            None
        );
        // A match wholly in the overlap was the previous window's.
        assert_eq!(rewrite_text("x@y.io then", 7, Kinds::ALL, true, None), None);
    }

    #[test]
    fn found_ignores_matches_wholly_released() {
        assert!(found("x@y.io then", 7, Kinds::ALL).is_empty());
        assert!(found("x@y.io then", 3, Kinds::ALL).has(Kind::Email));
    }
}
