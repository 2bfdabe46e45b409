//! Numbers: payment cards, CPF, CNPJ and phone numbers.
//!
//! A *span* is a run of digit groups joined by short separators (`-`, `.`,
//! `/`, a space, parentheses), with an optional leading `+` or `(`. Within a
//! span, items are searched greedily from the left, longest first, and a new
//! item may only start or end where the separator holds a space (so
//! "555-123-4567 4111 1111 1111 1111" is a phone and a card, but a decimal's
//! fraction is never read on its own). Each candidate range is tried as CPF,
//! CNPJ and card (all check-digit validated) before phone, so a card number
//! is never taken for a phone number.

use crate::Match;
use crate::checks;
use crate::config::{Kind, Kinds};

const MAX_GROUPS: usize = 16;
const MAX_DIGITS: usize = 19;
/// The fewest digits of any item (a phone number).
const MIN_DIGITS: usize = 10;

/// A character that glues a number to a word: such a number is part of an
/// identifier, not free-standing.
pub fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'@'
}

/// The one or two separator characters before a group (0 = none).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Sep([u8; 2]);

impl Sep {
    fn has(self, c: u8) -> bool {
        self.0[0] == c || self.0[1] == c
    }

    /// Exactly the one character `c`.
    fn is(self, c: u8) -> bool {
        self.0 == [c, 0]
    }

    fn single(self) -> Option<u8> {
        (self.0[0] != 0 && self.0[1] == 0).then_some(self.0[0])
    }

    fn valid(self) -> bool {
        match self.0 {
            [a, 0] => matches!(a, b' ' | b'-' | b'.' | b'/' | b'(' | b')'),
            pair => matches!(&pair, b") " | b" (" | b")-"),
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Group {
    start: usize,
    end: usize,
    /// The separator before the group; for the first, a `(` prefix.
    sep: Sep,
}

impl Group {
    fn len(&self) -> usize {
        self.end - self.start
    }
}

/// Room for one span's groups, made once per text rather than per span.
pub struct Scratch([Group; MAX_GROUPS]);

impl Scratch {
    pub fn new() -> Scratch {
        Scratch([Group::default(); MAX_GROUPS])
    }
}

/// Scans the span starting at `i` (a digit, or `+`/`(` before one), pushes
/// what it finds to `out` and returns where the span ends.
pub fn scan(b: &[u8], i: usize, on: Kinds, scratch: &mut Scratch, out: &mut Vec<Match>) -> usize {
    let n = b.len();
    let mut j = i;
    let plus = b[j] == b'+';
    if plus {
        j += 1;
    }
    let mut sep = Sep::default();
    if j < n && b[j] == b'(' {
        sep = Sep([b'(', 0]);
        j += 1;
    }
    if j >= n || !b[j].is_ascii_digit() {
        return i + 1;
    }
    let groups = &mut scratch.0;
    let mut g = 0;
    loop {
        let start = j;
        while j < n && b[j].is_ascii_digit() {
            j += 1;
        }
        groups[g] = Group { start, end: j, sep };
        g += 1;
        if g == MAX_GROUPS {
            break;
        }
        let mut s = Sep::default();
        let mut k = j;
        while k < n && k - j < 2 && matches!(b[k], b' ' | b'-' | b'.' | b'/' | b'(' | b')') {
            s.0[k - j] = b[k];
            k += 1;
        }
        if k == j || k >= n || !b[k].is_ascii_digit() || !s.valid() {
            break;
        }
        sep = s;
        j = k;
    }
    let span_end = j;
    // Digits glued to a word ("4567x", "4567@") are not free-standing.
    if span_end < n && is_word(b[span_end]) {
        g -= 1;
    }
    // Every item has at least 10 digits: most numbers in prose stop here.
    let digits: usize = groups[..g].iter().map(Group::len).sum();
    if digits >= MIN_DIGITS {
        find_items(b, i, plus, &groups[..g], on, out);
    }
    span_end
}

/// Greedy search of the span's groups for items.
fn find_items(
    b: &[u8],
    span_start: usize,
    plus: bool,
    groups: &[Group],
    on: Kinds,
    out: &mut Vec<Match>,
) {
    let g = groups.len();
    let mut k = 0;
    while k < g {
        if k > 0 && !groups[k].sep.has(b' ') {
            k += 1;
            continue;
        }
        let mut total = 0;
        let mut last = None;
        for (j, group) in groups.iter().enumerate().skip(k) {
            total += group.len();
            if total > MAX_DIGITS {
                break;
            }
            last = Some(j);
        }
        let Some(last) = last else {
            k += 1;
            continue;
        };
        let plus_here = plus && k == 0;
        let found = (k..=last).rev().find_map(|j| {
            let ends_cleanly = j + 1 == g || groups[j + 1].sep.has(b' ');
            if !ends_cleanly {
                return None;
            }
            classify(b, &groups[k..=j], plus_here, on).map(|kind| (j, kind))
        });
        match found {
            Some((j, kind)) => {
                let start = if k == 0 {
                    span_start
                } else if groups[k].sep.0.contains(&b'(') {
                    groups[k].start - 1
                } else {
                    groups[k].start
                };
                out.push(Match {
                    start,
                    end: groups[j].end,
                    kind,
                });
                k = j + 1;
            }
            None => k += 1,
        }
    }
}

/// The inner separators of a range must be exactly `seps`.
fn seps_are(groups: &[Group], seps: &[u8]) -> bool {
    groups.len() == seps.len() + 1 && groups[1..].iter().zip(seps).all(|(g, &c)| g.sep.is(c))
}

fn lens_are(groups: &[Group], lens: &[usize]) -> bool {
    groups.len() == lens.len() && groups.iter().zip(lens).all(|(g, &l)| g.len() == l)
}

/// ###.###.###-##
fn cpf_formatted(gs: &[Group]) -> bool {
    lens_are(gs, &[3, 3, 3, 2]) && seps_are(gs, b"..-")
}

/// ##.###.###/####-##
fn cnpj_formatted(gs: &[Group]) -> bool {
    lens_are(gs, &[2, 3, 3, 4, 2]) && seps_are(gs, b"../-")
}

/// Groups of 4 (the last 1-4), Amex's 4-6-5, Diners' 4-6-4, or no
/// separators; separators single spaces or dashes.
fn card_shaped(gs: &[Group]) -> bool {
    let seps_ok = gs[1..].iter().all(|g| g.sep.is(b' ') || g.sep.is(b'-'));
    let fours = gs.len() >= 3
        && gs[..gs.len() - 1].iter().all(|g| g.len() == 4)
        && (1..=4).contains(&gs[gs.len() - 1].len());
    seps_ok && (gs.len() == 1 || fours || lens_are(gs, &[4, 6, 5]) || lens_are(gs, &[4, 6, 4]))
}

fn classify(b: &[u8], gs: &[Group], plus: bool, on: Kinds) -> Option<Kind> {
    let mut digits = [0u8; MAX_DIGITS];
    let mut d = 0;
    for g in gs {
        for &c in &b[g.start..g.end] {
            digits[d] = c - b'0';
            d += 1;
        }
    }
    let digits = &digits[..d];
    let open = gs[0].sep.has(b'(');
    if !plus && !open {
        let one = gs.len() == 1;
        if on.has(Kind::Cpf) && ((one && d == 11) || cpf_formatted(gs)) && checks::cpf(digits) {
            return Some(Kind::Cpf);
        }
        if on.has(Kind::Cnpj) && ((one && d == 14) || cnpj_formatted(gs)) && checks::cnpj(digits) {
            return Some(Kind::Cnpj);
        }
        if on.has(Kind::Card)
            && (13..=19).contains(&d)
            && (2..=6).contains(&digits[0])
            && card_shaped(gs)
            && checks::luhn(digits)
        {
            return Some(Kind::Card);
        }
    }
    (on.has(Kind::Phone) && phone(gs, plus, open, d)).then_some(Kind::Phone)
}

/// International (`+CC ...`) or national formats with separators, 10-13
/// digits; shapes that are something else (dates, IP addresses, decimals,
/// thousands, CPF/CNPJ/card layouts) are not phones.
fn phone(gs: &[Group], plus: bool, open: bool, d: usize) -> bool {
    let g = gs.len();
    if !(10..=13).contains(&d) || g > 6 || gs[1..].iter().any(|x| x.sep.has(b'/')) {
        return false;
    }
    if open && !(g >= 2 && gs[1].sep.has(b')')) {
        return false;
    }
    if cpf_formatted(gs) || cnpj_formatted(gs) {
        return false;
    }
    if plus {
        return true;
    }
    // Card layouts (4-4-4-..., or 13+ digits laid out like a card) are not
    // read as phones, even when the Luhn check failed.
    let fours = g >= 3 && gs.iter().all(|x| x.len() == 4);
    if g < 2 || fours || (d >= 13 && card_shaped(gs)) {
        return false;
    }
    let seps: Vec<Sep> = gs[1..].iter().map(|x| x.sep).collect();
    let lens: Vec<usize> = gs.iter().map(Group::len).collect();
    let date_sep = |s: Sep| s.is(b'-') || s.is(b'.') || s.is(b'/');
    let date = g >= 3
        && date_sep(seps[0])
        && seps[1] == seps[0]
        && ((lens[0] == 4 && lens[1] <= 2 && lens[2] <= 2)
            || (lens[0] <= 2 && lens[1] <= 2 && lens[2] == 4));
    let ip = g == 4 && seps.iter().all(|s| s.is(b'.')) && lens.iter().all(|&l| l <= 3);
    let decimal = seps.iter().filter(|s| s.has(b'.')).count() == 1;
    let thousands = g >= 3
        && (1..=3).contains(&lens[0])
        && lens[1..].iter().all(|&l| l == 3)
        && seps[0].single().is_some()
        && seps.iter().all(|&s| s == seps[0]);
    !(date || ip || decimal || thousands)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(s: &str) -> Vec<(&str, Kind)> {
        let b = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            let c = b[i];
            let starts = c.is_ascii_digit()
                || ((c == b'+' || c == b'(') && b.get(i + 1).is_some_and(u8::is_ascii_digit));
            if starts && (i == 0 || !is_word(b[i - 1])) {
                i = scan(b, i, Kinds::ALL, &mut Scratch::new(), &mut out);
            } else if is_word(c) {
                while i < b.len() && is_word(b[i]) {
                    i += 1;
                }
            } else {
                i += 1;
            }
        }
        out.into_iter()
            .map(|m| (&s[m.start..m.end], m.kind))
            .collect()
    }

    #[test]
    fn phones() {
        for p in [
            "555-123-4567",
            "(555) 123-4567",
            "555.123.4567",
            "1-800-555-1234",
            "+1 555 123 4567",
            "+1 (555) 123-4567",
            "+44 20 7946 0958",
            "+49 30 123456",
            "+33 1 23 45 67 89",
            "(11) 98765-4321",
            "11 98765-4321",
            "+55 11 98765-4321",
            "+55 (11) 98765-4321",
            "+5511987654321",
            "01 23 45 67 89",
        ] {
            assert_eq!(
                found(&format!("call {p} now")),
                vec![(p, Kind::Phone)],
                "{p}"
            );
        }
    }

    #[test]
    fn not_phones() {
        for s in [
            "555-1234",
            "5551234567",
            "2024-01-15 10:30",
            "15-01-2024 1030",
            "192.168.100.200",
            "3.14159265358979",
            "12.3456789012",
            "1 000 000 000",
            "1.000.000.000",
            "ID12345678901",
            "5551234567890123456789",
            "555-123-4567x",
            "v555-123-4567",
            "123.456.789-00",
            "12.345.678/0001-00",
            "4111 1111 1111 2",
            "2024-01-15T10:30:00Z",
        ] {
            assert_eq!(found(s), vec![], "{s}");
        }
    }

    #[test]
    fn cards_before_phones() {
        for c in [
            "4111111111111111",
            "4111 1111 1111 1111",
            "4111-1111-1111-1111",
            "3782 822463 10005",
            "5555555555554444",
            "4222 2222 2222 2",
            "6011 1111 1111 1117",
        ] {
            assert_eq!(found(&format!("card: {c}.")), vec![(c, Kind::Card)], "{c}");
        }
        for bad in [
            "4111 1111 1111 1112",
            "1234 5678 9012 3452",
            "4111.1111.1111.1111",
            "+4111111111111111",
            "1732233600000",
        ] {
            assert!(found(bad).iter().all(|(_, k)| *k != Kind::Card), "{bad}");
        }
    }

    #[test]
    fn cpf_and_cnpj() {
        assert_eq!(
            found("CPF 529.982.247-25."),
            vec![("529.982.247-25", Kind::Cpf)]
        );
        assert_eq!(found("cpf 52998224725"), vec![("52998224725", Kind::Cpf)]);
        assert_eq!(
            found("CNPJ 11.222.333/0001-81"),
            vec![("11.222.333/0001-81", Kind::Cnpj)]
        );
        assert_eq!(
            found("cnpj 11222333000181"),
            vec![("11222333000181", Kind::Cnpj)]
        );
        assert_eq!(
            found("529.982.247-26 52998224726 11.222.333/0001-82 11222333000182"),
            vec![]
        );
    }

    #[test]
    fn several_items_in_one_span() {
        assert_eq!(
            found("555-123-4567 4111 1111 1111 1111 2024"),
            vec![
                ("555-123-4567", Kind::Phone),
                ("4111 1111 1111 1111", Kind::Card)
            ]
        );
        assert_eq!(
            found("order 12345 4111111111111111"),
            vec![("4111111111111111", Kind::Card)]
        );
        assert_eq!(
            found("x (555) 123-4567"),
            vec![("(555) 123-4567", Kind::Phone)]
        );
    }

    #[test]
    fn detectors_off_find_nothing_of_their_kind() {
        let b = b"4111111111111111 555-123-4567";
        let mut out = Vec::new();
        scan(
            b,
            0,
            Kinds::NONE.with(Kind::Phone),
            &mut Scratch::new(),
            &mut out,
        );
        assert_eq!(
            out.iter().map(|m| m.kind).collect::<Vec<_>>(),
            vec![Kind::Phone]
        );
        out.clear();
        let end = scan(
            b,
            0,
            Kinds::NONE.with(Kind::Card),
            &mut Scratch::new(),
            &mut out,
        );
        assert_eq!(
            out.iter().map(|m| m.kind).collect::<Vec<_>>(),
            vec![Kind::Card]
        );
        assert_eq!(end, b.len());
        out.clear();
        scan(
            b,
            0,
            Kinds::NONE.with(Kind::Email),
            &mut Scratch::new(),
            &mut out,
        );
        assert!(out.is_empty());
    }
}
