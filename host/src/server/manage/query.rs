//! Reading management query strings: only the names an endpoint reads,
//! numbers in range, dates as days or RFC 3339; refusals are 400s naming
//! the parameter.

use axum::extract::Query;
use axum::extract::rejection::QueryRejection;

use super::input::time_ms;
use crate::gateway::ApiError;

/// A query string, checked against the names an endpoint reads.
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Reads the query; rejects names that are not in `known` (LiteLLM
    /// names the gateway ignores belong in `known` too).
    pub fn read(
        query: Result<Query<Vec<(String, String)>>, QueryRejection>,
        endpoint: &str,
        known: &[&str],
    ) -> Result<Params, ApiError> {
        let params = Params::any(query)?;
        if let Some((name, _)) = params
            .pairs
            .iter()
            .find(|(k, _)| !known.contains(&k.as_str()))
        {
            let reads = if known.is_empty() {
                "it reads none".to_string()
            } else {
                format!("it reads: {}", known.join(", "))
            };
            return Err(ApiError::bad_param(
                name,
                format!("{endpoint}: unknown query parameter `{name}` ({reads})"),
            ));
        }
        Ok(params)
    }

    /// Reads the query without checking names.
    pub fn any(
        query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    ) -> Result<Params, ApiError> {
        match query {
            Ok(Query(pairs)) => Ok(Params { pairs }),
            Err(e) => Err(ApiError::bad_request(format!(
                "the query string does not read: {e}"
            ))),
        }
    }

    /// The first value of `name`, if given and not empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// Every (name, value) pair, in order.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// A whole number in `1..=max`, `default` when absent.
    pub fn number(&self, name: &str, default: u64, max: u64) -> Result<u64, ApiError> {
        let Some(v) = self.get(name) else {
            return Ok(default);
        };
        match v.parse::<u64>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(ApiError::bad_param(
                name,
                format!("`{name}` must be a whole number from 1 to {max}, got {v:?}"),
            )),
        }
    }

    /// `true` / `false` (any case), `default` when absent.
    pub fn flag(&self, name: &str, default: bool) -> Result<bool, ApiError> {
        let Some(v) = self.get(name) else {
            return Ok(default);
        };
        match v.to_ascii_lowercase().as_str() {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            _ => Err(ApiError::bad_param(
                name,
                format!("`{name}` must be true or false, got {v:?}"),
            )),
        }
    }

    /// A date bound: `YYYY-MM-DD` (the start of that day, UTC, or with
    /// `end_of_day` the start of the next) or RFC 3339.
    pub fn date_ms(&self, name: &str, end_of_day: bool) -> Result<Option<i64>, ApiError> {
        let Some(v) = self.get(name) else {
            return Ok(None);
        };
        if let Ok(day) = time::Date::parse(v, DAY) {
            let start = day.midnight().assume_utc();
            let t = if end_of_day {
                start + time::Duration::days(1)
            } else {
                start
            };
            return Ok(Some((t.unix_timestamp_nanos() / 1_000_000) as i64));
        }
        time_ms(name, v).map(Some).map_err(|_| {
            ApiError::bad_param(
                name,
                format!("`{name}` must be a date YYYY-MM-DD or an RFC 3339 time, got {v:?}"),
            )
        })
    }
}

const DAY: &[time::format_description::FormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_read_as_days_or_rfc3339() {
        let p = Params {
            pairs: vec![
                ("start_date".into(), "2026-01-02".into()),
                ("end_date".into(), "2026-01-02T00:00:01Z".into()),
                ("bad".into(), "02/01/2026".into()),
            ],
        };
        assert_eq!(
            p.date_ms("start_date", false).unwrap(),
            Some(1_767_312_000_000)
        );
        assert_eq!(
            p.date_ms("start_date", true).unwrap(),
            Some(1_767_398_400_000)
        );
        assert_eq!(
            p.date_ms("end_date", true).unwrap(),
            Some(1_767_312_001_000)
        );
        assert_eq!(
            p.date_ms("bad", false).unwrap_err().param.as_deref(),
            Some("bad")
        );
        assert_eq!(p.date_ms("absent", false).unwrap(), None);
    }
}
