//! When a key expires: `duration` (from now; `mo` counts calendar months)
//! or `expires` itself, as RFC 3339 UTC.

use serde_json::Value;
use switchyard_limits::Period;

use super::input::{self, Checked};
use super::rows;
use crate::gateway::ApiError;

/// `expires` from `duration` (now + duration; calendar months for `mo`),
/// or from `expires` itself; both given is a 400. `Some(None)` clears it.
pub fn expiry(checked: &Checked) -> Result<Option<Option<String>>, ApiError> {
    let duration = checked.request.get("duration");
    let expires = checked.record.get("expires");
    match (duration, expires) {
        (Some(_), Some(_)) => Err(ApiError::bad_param(
            "duration",
            "give `duration` or `expires`, not both",
        )),
        (Some(Value::String(d)), None) => {
            let period = input::period("duration", d)?;
            Ok(Some(expires_after(rows::now_ms(), &period)))
        }
        (Some(_), None) => Ok(Some(None)),
        (None, _) => Ok(None),
    }
}

/// The RFC 3339 time `period` after `now_ms`; `None` for forever.
pub fn expires_after(now_ms: i64, period: &Period) -> Option<String> {
    let now = time::OffsetDateTime::from_unix_timestamp(now_ms / 1000).ok()?;
    let at = match period {
        Period::Forever => return None,
        // Past the calendar's end (`99999999999d`): as good as forever.
        Period::Seconds(s) => now.checked_add(time::Duration::seconds(i64::try_from(*s).ok()?))?,
        Period::Months(m) => add_months(now, *m)?,
    };
    at.format(&time::format_description::well_known::Rfc3339)
        .ok()
}

/// Calendar months later, the day clamped to the month's length.
fn add_months(t: time::OffsetDateTime, months: u32) -> Option<time::OffsetDateTime> {
    let index = i64::from(t.year()) * 12 + i64::from(u8::from(t.month())) - 1 + i64::from(months);
    let year = i32::try_from(index.div_euclid(12)).ok()?;
    let month = time::Month::try_from(u8::try_from(index.rem_euclid(12) + 1).ok()?).ok()?;
    let day = t.day().min(month.length(year));
    let date = time::Date::from_calendar_date(year, month, day).ok()?;
    Some(t.replace_date(date))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_become_expiry_times() {
        // 2026-01-31T10:00:00Z
        let now = 1_769_853_600_000;
        assert_eq!(
            expires_after(now, &Period::Seconds(90)).as_deref(),
            Some("2026-01-31T10:01:30Z")
        );
        assert_eq!(
            expires_after(now, &Period::Months(1)).as_deref(),
            Some("2026-02-28T10:00:00Z")
        );
        assert_eq!(
            expires_after(now, &Period::Months(13)).as_deref(),
            Some("2027-02-28T10:00:00Z")
        );
        assert_eq!(expires_after(now, &Period::Forever), None);
    }
}
