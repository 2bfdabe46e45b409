//! One pass over a text, finding every item the enabled detectors know.

use crate::config::{Kind, Kinds};
use crate::{Match, email, number};

/// Bytes the scanner stops at: digits, `+`, `(` (numbers) and `@` (e-mail).
/// Everything else is skipped with one table look-up per byte.
const STOP: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = b'0';
    while c <= b'9' {
        t[c as usize] = true;
        c += 1;
    }
    t[b'+' as usize] = true;
    t[b'(' as usize] = true;
    t[b'@' as usize] = true;
    t
};

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// Whether any byte of `x` is zero (exact: no false positives for "any").
fn has_zero(x: u64) -> bool {
    x.wrapping_sub(ONES) & !x & HIGH != 0
}

/// Whether any of the eight bytes in `x` is a [`STOP`] byte: a digit (the
/// exact "48 <= byte <= 57" test from Bit Twiddling Hacks' `hasbetween`),
/// `+`, `(` or `@`.
fn any_stop(x: u64) -> bool {
    let low = x & (ONES * 127);
    let digits =
        (ONES * (127 + 58)).wrapping_sub(low) & !x & low.wrapping_add(ONES * (127 - 47)) & HIGH;
    digits != 0
        || has_zero(x ^ (ONES * u64::from(b'@')))
        || has_zero(x ^ (ONES * u64::from(b'+')))
        || has_zero(x ^ (ONES * u64::from(b'(')))
}

/// The index of the first [`STOP`] byte at or after `from`, or `b.len()`.
/// Eight bytes at a time, then byte by byte within the word that has one.
fn next_stop(b: &[u8], from: usize) -> usize {
    let mut i = from;
    for chunk in b[from.min(b.len())..].chunks_exact(8) {
        let Ok(word) = <[u8; 8]>::try_from(chunk) else {
            break;
        };
        if any_stop(u64::from_le_bytes(word)) {
            break;
        }
        i += 8;
    }
    while i < b.len() && !STOP[b[i] as usize] {
        i += 1;
    }
    i
}

/// Appends the matches in `text` to `out`, in order and not overlapping.
/// Allocates nothing when nothing matches.
pub fn scan(text: &str, on: Kinds, out: &mut Vec<Match>) {
    let b = text.as_bytes();
    let n = b.len();
    let numbers = on.any_number();
    let emails = on.has(Kind::Email);
    // Where the last match ended: an e-mail's local part does not reach back
    // over it.
    let mut floor = 0;
    let mut scratch = number::Scratch::new();
    let mut i = 0;
    loop {
        i = next_stop(b, i);
        if i >= n {
            break;
        }
        let c = b[i];
        if c == b'@' {
            if emails && let Some((start, end)) = email::at(b, i, floor) {
                out.push(Match {
                    start,
                    end,
                    kind: Kind::Email,
                });
                floor = end;
                i = end;
            } else {
                i += 1;
            }
            continue;
        }
        // A digit inside a word ("abc123") is part of an identifier; so is
        // every later digit of it, since each is preceded by a word byte.
        let starts = c.is_ascii_digit() || (i + 1 < n && b[i + 1].is_ascii_digit());
        if numbers && starts && (i == 0 || !number::is_word(b[i - 1])) {
            let before = out.len();
            i = number::scan(b, i, on, &mut scratch, out);
            if out.len() > before {
                floor = out[out.len() - 1].end;
            }
        } else {
            i += 1;
        }
    }
}

/// `text` with every match replaced by its placeholder.
pub fn redact(text: &str, matches: &[Match]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for m in matches {
        out.push_str(&text[at..m.start]);
        out.push_str(m.kind.placeholder());
        at = m.end;
    }
    out.push_str(&text[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str) -> String {
        let mut m = Vec::new();
        scan(text, Kinds::ALL, &mut m);
        redact(text, &m)
    }

    #[test]
    fn word_check_agrees_with_the_table() {
        for pos in 0..8 {
            for v in 0..=255u8 {
                for fill in [b'a', 0u8, 0xFF, b' ', b'9' + 1, b'0' - 1] {
                    let mut w = [fill; 8];
                    w[pos] = v;
                    let want = w.iter().any(|&c| STOP[c as usize]);
                    assert_eq!(any_stop(u64::from_le_bytes(w)), want, "{w:?}");
                }
            }
        }
        let text = b"abcdefgh ijklmnop qrstuvw@ xyz 12 (x +y";
        for from in 0..text.len() {
            let want = (from..text.len())
                .find(|&i| STOP[text[i] as usize])
                .unwrap_or(text.len());
            assert_eq!(next_stop(text, from), want, "{from}");
        }
        assert_eq!(next_stop(b"", 0), 0);
    }

    #[test]
    fn mixed_text() {
        assert_eq!(
            run(
                "Hi, I'm Ana (ana.silva@example.com.br), CPF 529.982.247-25, tel +55 11 98765-4321, card 4111 1111 1111 1111. Empresa: 11.222.333/0001-81."
            ),
            "Hi, I'm Ana ([EMAIL]), CPF [CPF], tel [PHONE], card [CARD]. Empresa: [CNPJ]."
        );
    }

    #[test]
    fn nothing_found_leaves_text_alone_and_allocates_nothing() {
        let mut m = Vec::new();
        scan(
            "The meeting is on 2024-05-01 at 10:30 in room 12, version 1.2.3, total $1,234.56.",
            Kinds::ALL,
            &mut m,
        );
        assert!(m.is_empty());
        assert_eq!(m.capacity(), 0);
    }

    #[test]
    fn email_local_part_with_digits_is_an_email() {
        assert_eq!(run("write to 5551234567@example.com"), "write to [EMAIL]");
        assert_eq!(run("write to 555-123-4567@example.com"), "write to [EMAIL]");
        assert_eq!(run("user.4111111111111111@x.com"), "[EMAIL]");
        assert_eq!(
            run("ID12345678909 and abc4111111111111111"),
            "ID12345678909 and abc4111111111111111"
        );
    }

    #[test]
    fn non_ascii_text_is_fine() {
        assert_eq!(
            run("Olá, meu e-mail é joão@example.com e o telefone é (11) 98765-4321 — obrigado"),
            "Olá, meu e-mail é [EMAIL] e o telefone é [PHONE] — obrigado"
        );
        assert_eq!(run("número:52998224725…"), "número:[CPF]…");
    }

    #[test]
    fn detectors_can_be_off() {
        let text = "a@b.com 529.982.247-25";
        let mut m = Vec::new();
        scan(text, Kinds::NONE.with(Kind::Cpf), &mut m);
        assert_eq!(redact(text, &m), "a@b.com [CPF]");
        m.clear();
        scan(text, Kinds::NONE.with(Kind::Email), &mut m);
        assert_eq!(redact(text, &m), "[EMAIL] 529.982.247-25");
    }
}
