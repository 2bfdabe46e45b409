//! E-mail addresses, found from their `@`: the local part is read leftwards,
//! the domain rightwards. Non-ASCII letters count as letters (internationalised
//! addresses); because scanning stops only at ASCII bytes, a match always
//! starts and ends on a character boundary.

fn is_local(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b >= 0x80 || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-')
}

fn is_domain(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b >= 0x80 || matches!(b, b'.' | b'-')
}

/// The address around the `@` at `at`, as a byte range, if there is one.
/// The local part does not reach below `floor` (the end of the previous
/// match).
pub fn at(b: &[u8], at: usize, floor: usize) -> Option<(usize, usize)> {
    let mut start = at;
    while start > floor && is_local(b[start - 1]) {
        start -= 1;
    }
    while start < at && b[start] == b'.' {
        start += 1;
    }
    if start == at {
        return None;
    }
    let mut end = at + 1;
    while end < b.len() && is_domain(b[end]) {
        end += 1;
    }
    // A sentence's full stop is not part of the domain.
    while end > at + 1 && matches!(b[end - 1], b'.' | b'-') {
        end -= 1;
    }
    valid_domain(&b[at + 1..end]).then_some((start, end))
}

/// Labels of letters, digits and inner hyphens, at least two, the last all
/// letters and two or more long.
fn valid_domain(d: &[u8]) -> bool {
    let mut labels = 0;
    let mut last: &[u8] = &[];
    for label in d.split(|&c| c == b'.') {
        if label.is_empty() || label[0] == b'-' || label[label.len() - 1] == b'-' {
            return false;
        }
        labels += 1;
        last = label;
    }
    labels >= 2 && last.len() >= 2 && last.iter().all(u8::is_ascii_alphabetic)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(s: &str) -> Option<&str> {
        let at_pos = s.find('@')?;
        at(s.as_bytes(), at_pos, 0).map(|(a, b)| &s[a..b])
    }

    #[test]
    fn finds_addresses() {
        assert_eq!(
            find("mail me at john.doe+tag@example.co.uk."),
            Some("john.doe+tag@example.co.uk")
        );
        assert_eq!(
            find("<a_b-c%d@mail-server.example.com>"),
            Some("a_b-c%d@mail-server.example.com")
        );
        assert_eq!(find(".x@y.io"), Some("x@y.io"));
        assert_eq!(find("é joão@müller.de!"), Some("joão@müller.de"));
    }

    #[test]
    fn rejects_non_addresses() {
        for s in [
            "@example.com",
            "a@b",
            "a@localhost",
            "a@b.c",
            "a@-b.com",
            "a@b..com",
            "a@b.c0m",
            "twitter @handle",
            "a@ b.com",
        ] {
            assert_eq!(find(s), None, "{s}");
        }
    }

    #[test]
    fn floor_limits_the_local_part() {
        let s = "xx123@ab.com";
        assert_eq!(at(s.as_bytes(), 5, 2), Some((2, 12)));
        assert_eq!(at(s.as_bytes(), 5, 5), None);
    }
}
