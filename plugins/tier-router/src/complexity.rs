//! Complexity signals, each worth a tier bump:
//!
//! - prompt length, from the host's `estimated_input_tokens` (the whole
//!   prompt, system prompt and history included, since a bigger context
//!   needs a stronger model whatever the last message says): +1 from
//!   `long_prompt_tokens`, +2 from `very_long_prompt_tokens`;
//! - technical depth, in the last user message: a code block, or at least
//!   `technical_terms_min` distinct technical terms: +1 (one point for
//!   both, since pasted code is usually full of terms);
//! - a multi-part ask, in the last user message: at least
//!   `multi_part_asks` questions or numbered steps: +1.
//!
//! A threshold of 0 turns its signal off.

/// The thresholds, from the config's `complexity` section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    pub long_prompt_tokens: u64,
    pub very_long_prompt_tokens: u64,
    pub technical_terms_min: u32,
    pub code_blocks: bool,
    pub multi_part_asks: u32,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            long_prompt_tokens: 1500,
            very_long_prompt_tokens: 6000,
            technical_terms_min: 4,
            code_blocks: true,
            multi_part_asks: 3,
        }
    }
}

/// Built-in technical terms, English then Portuguese; folded at init.
pub const DEFAULT_TERMS: &[&str] = &[
    "api",
    "sdk",
    "endpoint",
    "webhook",
    "json",
    "xml",
    "yaml",
    "http",
    "https",
    "oauth",
    "jwt",
    "token",
    "ssl",
    "tls",
    "dns",
    "sql",
    "database",
    "query",
    "server",
    "cache",
    "latency",
    "timeout",
    "deploy",
    "docker",
    "kubernetes",
    "regex",
    "stack trace",
    "exception",
    "debug",
    "backend",
    "frontend",
    "payload",
    "header",
    "schema",
    "authentication",
    "encoding",
    "python",
    "javascript",
    "typescript",
    "curl",
    "banco de dados",
    "servidor",
    "latência",
    "exceção",
    "autenticação",
    "requisição",
    "cabeçalho",
    "codificação",
    "implantação",
];

/// How prompt length counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Length {
    Normal,
    Long,
    VeryLong,
}

/// What the complexity signals found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Complexity {
    pub length: Length,
    pub code: bool,
    pub technical_terms: bool,
    pub multi_part: bool,
}

impl Complexity {
    /// The total tier bump (0 to 4).
    pub fn bump(&self) -> u8 {
        let length = match self.length {
            Length::Normal => 0,
            Length::Long => 1,
            Length::VeryLong => 2,
        };
        length + u8::from(self.code || self.technical_terms) + u8::from(self.multi_part)
    }

    /// The signals that fired, for the reason.
    pub fn labels(&self) -> impl Iterator<Item = &'static str> {
        let length = match self.length {
            Length::Normal => None,
            Length::Long => Some("long prompt"),
            Length::VeryLong => Some("very long prompt"),
        };
        // Code and terms share one point; name what gave it.
        let depth = if self.code {
            Some("code")
        } else if self.technical_terms {
            Some("technical terms")
        } else {
            None
        };
        let multi = self.multi_part.then_some("multi-part");
        [length, depth, multi].into_iter().flatten()
    }
}

/// What the structure of a message shows: code, and how many asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Structure {
    pub code: bool,
    pub asks: u32,
}

/// Reads code blocks and asks from the raw text in one pass over its lines.
///
/// - Code: a fence line (```` ``` ```` or `~~~`), or two consecutive lines
///   indented by 4 spaces or a tab of which at least one holds a
///   code-looking character (`(){}[];=<>`); the character test keeps an
///   indented list or quoted e-mail from counting as code.
/// - Asks: question marks that end a word (followed by a space or the end,
///   so `a?b=1` in a URL and Rust's `x?;` do not count) plus lines that
///   start a numbered step (`1.` or `2)`). Text inside fences is skipped.
pub fn structure(text: &str) -> Structure {
    let mut s = Structure::default();
    let mut in_fence = false;
    // Indented lines in a row, and whether any of them looked like code.
    let mut indented_run = 0u32;
    let mut run_looks_like_code = false;
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            s.code = true;
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        if is_indented(line) && !trimmed.is_empty() {
            indented_run += 1;
            run_looks_like_code |=
                trimmed.contains(['(', ')', '{', '}', '[', ']', ';', '=', '<', '>']);
            if indented_run >= 2 && run_looks_like_code {
                s.code = true;
            }
            continue;
        }
        indented_run = 0;
        run_looks_like_code = false;
        if starts_numbered_step(trimmed) {
            s.asks += 1;
        }
        s.asks += questions(line);
    }
    s
}

fn is_indented(line: &str) -> bool {
    line.starts_with('\t') || line.starts_with("    ")
}

/// `1.`, `12)` and the like, followed by a space.
fn starts_numbered_step(line: &str) -> bool {
    let digits = line.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || digits > 2 {
        return false;
    }
    let mut rest = line.bytes().skip(digits);
    matches!(rest.next(), Some(b'.' | b')')) && matches!(rest.next(), Some(b' ' | b'\t'))
}

/// Question marks in `line` that end a word.
fn questions(line: &str) -> u32 {
    let bytes = line.as_bytes();
    let mut n = 0;
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'?'
            && bytes
                .get(i + 1)
                .is_none_or(|next| next.is_ascii_whitespace())
        {
            n += 1;
        }
    }
    n
}

/// Applies `rules` to a request's signals.
pub fn assess(
    rules: &Rules,
    estimated_tokens: u64,
    structure: Structure,
    terms: u32,
) -> Complexity {
    let over = |threshold: u64| threshold > 0 && estimated_tokens >= threshold;
    let length = if over(rules.very_long_prompt_tokens) {
        Length::VeryLong
    } else if over(rules.long_prompt_tokens) {
        Length::Long
    } else {
        Length::Normal
    };
    Complexity {
        length,
        code: rules.code_blocks && structure.code,
        technical_terms: rules.technical_terms_min > 0 && terms >= rules.technical_terms_min,
        multi_part: rules.multi_part_asks > 0 && structure.asks >= rules.multi_part_asks,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain() -> Structure {
        Structure::default()
    }

    #[test]
    fn length_thresholds() {
        let r = Rules::default();
        assert_eq!(assess(&r, 1499, plain(), 0).length, Length::Normal);
        assert_eq!(assess(&r, 1500, plain(), 0).length, Length::Long);
        assert_eq!(assess(&r, 5999, plain(), 0).bump(), 1);
        assert_eq!(assess(&r, 6000, plain(), 0).length, Length::VeryLong);
        assert_eq!(assess(&r, 6000, plain(), 0).bump(), 2);
    }

    #[test]
    fn zero_thresholds_turn_signals_off() {
        let r = Rules {
            long_prompt_tokens: 0,
            very_long_prompt_tokens: 0,
            technical_terms_min: 0,
            code_blocks: false,
            multi_part_asks: 0,
        };
        let busy = Structure {
            code: true,
            asks: 9,
        };
        assert_eq!(assess(&r, 1_000_000, busy, 50).bump(), 0);
        // Only the very-long threshold set: it alone gives +2.
        let r = Rules {
            very_long_prompt_tokens: 100,
            ..r
        };
        assert_eq!(assess(&r, 100, plain(), 0).bump(), 2);
        assert_eq!(assess(&r, 99, plain(), 0).bump(), 0);
    }

    #[test]
    fn code_or_terms_give_one_point_together() {
        let r = Rules::default();
        let code = Structure {
            code: true,
            asks: 0,
        };
        assert_eq!(assess(&r, 0, code, 0).bump(), 1);
        assert_eq!(assess(&r, 0, plain(), 4).bump(), 1);
        assert_eq!(assess(&r, 0, plain(), 3).bump(), 0);
        let both = assess(&r, 0, code, 9);
        assert_eq!(both.bump(), 1);
        assert_eq!(both.labels().collect::<Vec<_>>(), ["code"]);
    }

    #[test]
    fn every_signal_adds_up_and_is_labelled() {
        let r = Rules::default();
        let c = assess(
            &r,
            7000,
            Structure {
                code: false,
                asks: 3,
            },
            5,
        );
        assert_eq!(c.bump(), 4);
        assert_eq!(
            c.labels().collect::<Vec<_>>(),
            ["very long prompt", "technical terms", "multi-part"]
        );
        assert_eq!(assess(&r, 0, plain(), 0).labels().count(), 0);
    }

    #[test]
    fn fenced_code_is_code_even_unclosed() {
        assert!(structure("look:\n```rust\nfn main() {}\n```\n").code);
        assert!(structure("  ```\nunclosed").code);
        assert!(structure("~~~\nx\n~~~").code);
        assert!(!structure("no code here, just `inline`").code);
    }

    #[test]
    fn indented_code_needs_two_lines_and_a_code_character() {
        assert!(structure("See:\n\n    let x = 1;\n    print(x)\n").code);
        assert!(structure("See:\n\tif (a) {\n\t  b();\n").code);
        // One indented line is not a block.
        assert!(!structure("See:\n    let x = 1;\nthanks").code);
        // An indented list without code characters is not code.
        assert!(!structure("Items:\n    - apples\n    - pears\n").code);
    }

    #[test]
    fn asks_count_questions_and_numbered_steps() {
        assert_eq!(structure("Why? How? When?").asks, 3);
        assert_eq!(structure("Por quê? Como?\nQuando?").asks, 3);
        assert_eq!(structure("1. do this\n2) then that\n3. and more").asks, 3);
        // URLs, Rust's `?` and version numbers do not count.
        assert_eq!(structure("see https://x.io/a?b=1 and foo()?;").asks, 0);
        assert_eq!(structure("version 1.2 is out\n2024. was a year").asks, 0);
        // Questions inside fences do not count.
        assert_eq!(structure("```\na ? b : c\nwhy?\n```\nok?").asks, 1);
    }

    #[test]
    fn multi_part_threshold() {
        let r = Rules::default();
        let two = Structure {
            code: false,
            asks: 2,
        };
        let three = Structure {
            code: false,
            asks: 3,
        };
        assert!(!assess(&r, 0, two, 0).multi_part);
        assert!(assess(&r, 0, three, 0).multi_part);
    }
}
