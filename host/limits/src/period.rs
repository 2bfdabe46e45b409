//! Budget periods and the windows they cut time into.
//!
//! Windows are computed from the time alone (epoch-aligned for second
//! periods, calendar months in UTC for month periods), so every replica
//! agrees on them and no job ever resets a counter: a new window simply has
//! a new counter, and the old one expires.

use std::fmt;
use std::str::FromStr;

use time::{Date, Month, OffsetDateTime};

/// How long a budget's window lasts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Period {
    /// One window for all time: the budget never resets.
    Forever,
    /// Fixed windows of this many seconds, aligned to the Unix epoch
    /// (`30s`, `10m`, `24h`, `30d`).
    Seconds(u64),
    /// Calendar months in UTC (`1mo` resets on the 1st at 00:00 UTC; `2mo`
    /// windows start in January, March, May...).
    Months(u32),
}

/// A period string that is not `<positive number><s|m|h|d|mo>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid period {input:?}: expected a positive number followed by s, m, h, d or mo (30s, 10m, 24h, 30d, 1mo)"
)]
pub struct PeriodError {
    /// The text that was given.
    pub input: String,
}

impl FromStr for Period {
    type Err = PeriodError;

    fn from_str(input: &str) -> Result<Period, PeriodError> {
        let error = || PeriodError {
            input: input.to_string(),
        };
        let text = input.trim();
        let digits = text.bytes().take_while(u8::is_ascii_digit).count();
        let (number, unit) = text.split_at(digits);
        let n: u64 = number.parse().map_err(|_| error())?;
        if n == 0 {
            return Err(error());
        }
        let seconds = |per: u64| n.checked_mul(per).map(Period::Seconds).ok_or_else(error);
        match unit {
            "s" => seconds(1),
            "m" => seconds(60),
            "h" => seconds(3_600),
            "d" => seconds(86_400),
            "mo" => u32::try_from(n).map(Period::Months).map_err(|_| error()),
            _ => Err(error()),
        }
    }
}

impl fmt::Display for Period {
    /// The shortest form `FromStr` reads back (`2592000` seconds is `30d`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Period::Forever => f.write_str("forever"),
            Period::Months(n) => write!(f, "{n}mo"),
            Period::Seconds(s) if s != 0 && s % 86_400 == 0 => write!(f, "{}d", s / 86_400),
            Period::Seconds(s) if s != 0 && s % 3_600 == 0 => write!(f, "{}h", s / 3_600),
            Period::Seconds(s) if s != 0 && s % 60 == 0 => write!(f, "{}m", s / 60),
            Period::Seconds(s) => write!(f, "{s}s"),
        }
    }
}

/// One window of a period: its number (part of the counter's name) and its
/// bounds in Unix milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// Counts windows from the epoch; `0` for [`Period::Forever`].
    pub index: u64,
    /// When the window began (`0` for forever).
    pub start_ms: u64,
    /// When it ends; `None` for forever.
    pub end_ms: Option<u64>,
}

impl Period {
    /// The window that holds `now_ms`. The host uses `start_ms` to read the
    /// spend of the current window back from its spend records.
    pub fn window(&self, now_ms: u64) -> Window {
        match *self {
            Period::Forever => Window {
                index: 0,
                start_ms: 0,
                end_ms: None,
            },
            Period::Seconds(s) => {
                let len = s.saturating_mul(1_000).max(1);
                let index = now_ms / len;
                let start_ms = index * len;
                Window {
                    index,
                    start_ms,
                    end_ms: Some(start_ms.saturating_add(len)),
                }
            }
            Period::Months(m) => {
                let m = u64::from(m.max(1));
                let index = months_since_epoch(now_ms) / m;
                Window {
                    index,
                    start_ms: month_start_ms(index * m),
                    end_ms: Some(month_start_ms((index + 1) * m)),
                }
            }
        }
    }

    /// A short stable name for counter keys (`30d` and `720h` are the same).
    pub(crate) fn key_tag(&self) -> String {
        match *self {
            Period::Forever => "ever".to_string(),
            Period::Seconds(s) => format!("{s}s"),
            Period::Months(m) => format!("{m}mo"),
        }
    }
}

/// The minute window that rpm and tpm count in.
pub(crate) fn minute(now_ms: u64) -> Window {
    Period::Seconds(60).window(now_ms)
}

/// Whole calendar months from January 1970 to the month holding `now_ms`.
fn months_since_epoch(now_ms: u64) -> u64 {
    let seconds = i64::try_from(now_ms / 1_000).unwrap_or(i64::MAX);
    let at = OffsetDateTime::from_unix_timestamp(seconds).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let months = (i64::from(at.year()) - 1970) * 12 + i64::from(u8::from(at.month())) - 1;
    u64::try_from(months).unwrap_or(0)
}

/// The first millisecond of the `months`-th month after January 1970.
fn month_start_ms(months: u64) -> u64 {
    let year = i32::try_from(1970 + months / 12).unwrap_or(i32::MAX);
    let month = u8::try_from(months % 12 + 1)
        .ok()
        .and_then(|m| Month::try_from(m).ok())
        .unwrap_or(Month::January);
    let Ok(date) = Date::from_calendar_date(year, month, 1) else {
        return u64::MAX;
    };
    let seconds = date.midnight().assume_utc().unix_timestamp();
    u64::try_from(seconds).map_or(0, |s| s.saturating_mul(1_000))
}

/// `2026-12-31T00:00:00Z` for messages.
pub(crate) fn rfc3339(ms: u64) -> String {
    let seconds = i64::try_from(ms / 1_000).unwrap_or(i64::MAX);
    match OffsetDateTime::from_unix_timestamp(seconds) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        ),
        Err(_) => format!("{ms} ms after the epoch"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_forms() {
        assert_eq!("30s".parse(), Ok(Period::Seconds(30)));
        assert_eq!("10m".parse(), Ok(Period::Seconds(600)));
        assert_eq!("1h".parse(), Ok(Period::Seconds(3_600)));
        assert_eq!("24h".parse(), Ok(Period::Seconds(86_400)));
        assert_eq!("7d".parse(), Ok(Period::Seconds(604_800)));
        assert_eq!("30d".parse(), Ok(Period::Seconds(2_592_000)));
        assert_eq!("1mo".parse(), Ok(Period::Months(1)));
        assert_eq!(" 2mo ".parse(), Ok(Period::Months(2)));
    }

    #[test]
    fn rejects_bare_numbers_zero_and_unknown_units_naming_the_input() {
        for bad in [
            "30", "0s", "0mo", "", "mo", "1w", "1.5h", "-1d", "1 d", "1M",
        ] {
            let err = bad.parse::<Period>().unwrap_err();
            assert_eq!(err.input, bad);
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
        }
        assert!("99999999999999999999d".parse::<Period>().is_err());
    }

    #[test]
    fn displays_the_shortest_form_that_parses_back() {
        for text in ["30s", "10m", "12h", "30d", "1mo", "90s"] {
            let period: Period = text.parse().unwrap();
            assert_eq!(period.to_string(), text);
        }
        assert_eq!(Period::Seconds(86_400 * 7).to_string(), "7d");
        assert_eq!("24h".parse::<Period>().unwrap().to_string(), "1d");
        assert_eq!(Period::Forever.to_string(), "forever");
    }

    #[test]
    fn second_windows_are_epoch_aligned() {
        let w = Period::Seconds(30).window(95_500);
        assert_eq!(
            w,
            Window {
                index: 3,
                start_ms: 90_000,
                end_ms: Some(120_000)
            }
        );
        assert_eq!(minute(119_999).index, 1);
        assert_eq!(minute(120_000).index, 2);
    }

    #[test]
    fn month_windows_follow_the_utc_calendar() {
        // 2026-02-15T12:00:00Z
        let now = 1_771_156_800_000;
        let w = Period::Months(1).window(now);
        assert_eq!(rfc3339(w.start_ms), "2026-02-01T00:00:00Z");
        assert_eq!(rfc3339(w.end_ms.unwrap()), "2026-03-01T00:00:00Z");
        let w2 = Period::Months(2).window(now);
        assert_eq!(rfc3339(w2.start_ms), "2026-01-01T00:00:00Z");
        assert_eq!(rfc3339(w2.end_ms.unwrap()), "2026-03-01T00:00:00Z");
        // December rolls into the next year.
        let dec = Period::Months(1).window(1_796_000_000_000); // 2026-11-29
        assert_eq!(rfc3339(dec.end_ms.unwrap()), "2026-12-01T00:00:00Z");
        let next = Period::Months(1).window(dec.end_ms.unwrap());
        assert_eq!(next.index, dec.index + 1);
        assert_eq!(rfc3339(next.end_ms.unwrap()), "2027-01-01T00:00:00Z");
    }

    #[test]
    fn forever_is_one_window() {
        assert_eq!(Period::Forever.window(5).index, 0);
        assert_eq!(Period::Forever.window(u64::MAX / 2).end_ms, None);
    }
}
