//! Writing reasons: they go out in the `x-switchyard-route-reason` response
//! header, so they must be short, printable ASCII and free of newlines even
//! when they quote deployment ids or the client's own tags.

use std::fmt::Write;

/// The most characters of one quoted name (an id, a tag) a reason holds.
pub const NAME_MAX: usize = 40;

/// Appends `s`, at most `max` characters of it, replacing anything that is
/// not printable ASCII with `?` and marking a cut with `...`.
pub fn push_clean(out: &mut String, s: &str, max: usize) {
    for (n, c) in s.chars().enumerate() {
        if n == max {
            out.push_str("...");
            return;
        }
        out.push(if c.is_ascii_graphic() || c == ' ' {
            c
        } else {
            '?'
        });
    }
}

/// Appends `v` with at most four significant digits, in plain decimal
/// (never `1e-6`, which reads badly in a header), trailing zeros dropped.
pub fn push_number(out: &mut String, v: f64) {
    if !v.is_finite() {
        out.push('?');
        return;
    }
    if v == 0.0 {
        out.push('0');
        return;
    }
    let magnitude = v.abs().log10().floor() as i32;
    let decimals = (3 - magnitude).clamp(0, 15) as usize;
    let start = out.len();
    let _ = write!(out, "{v:.decimals$}");
    if decimals > 0 {
        let trimmed = out[start..]
            .trim_end_matches('0')
            .trim_end_matches('.')
            .len();
        out.truncate(start + trimmed);
    }
}

/// Appends an integer.
pub fn push_int(out: &mut String, v: impl std::fmt::Display) {
    let _ = write!(out, "{v}");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean(s: &str, max: usize) -> String {
        let mut out = String::new();
        push_clean(&mut out, s, max);
        out
    }

    fn number(v: f64) -> String {
        let mut out = String::new();
        push_number(&mut out, v);
        out
    }

    #[test]
    fn names_are_made_header_safe_and_cut() {
        assert_eq!(clean("gpt4-eu", NAME_MAX), "gpt4-eu");
        assert_eq!(clean("a\r\nb\tcé", NAME_MAX), "a??b?c?");
        assert_eq!(clean("abcdef", 3), "abc...");
        assert_eq!(clean("abc", 3), "abc");
    }

    #[test]
    fn numbers_are_plain_decimals_with_four_significant_digits() {
        assert_eq!(number(0.0000035), "0.0000035");
        assert_eq!(number(0.0000025 + 0.00001), "0.0000125");
        assert_eq!(number(120.5), "120.5");
        assert_eq!(number(80.0), "80");
        assert_eq!(number(1234.56), "1235");
        assert_eq!(number(98765.4), "98765");
        assert_eq!(number(0.25), "0.25");
        assert_eq!(number(0.0), "0");
        assert_eq!(number(-2.5), "-2.5");
        assert_eq!(number(f64::NAN), "?");
    }
}
