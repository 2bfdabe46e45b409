//! Small helpers for building SQL by hand: numbered `$n` placeholders (both
//! SQLite and PostgreSQL read them) with their values, and the clock.

use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, AnyPool};

/// A bind value the store's dynamic queries use.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    Text(String),
    OptText(Option<String>),
    Int(i64),
    Real(f64),
}

/// SQL text with its placeholders' values, in order.
#[derive(Debug, Default)]
pub(crate) struct Sql {
    pub(crate) text: String,
    args: Vec<Arg>,
}

impl Sql {
    pub(crate) fn new(text: impl Into<String>) -> Self {
        Sql {
            text: text.into(),
            args: Vec::new(),
        }
    }

    /// Appends plain SQL.
    pub(crate) fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Records a value and returns its placeholder (`$3`).
    pub(crate) fn arg(&mut self, arg: Arg) -> String {
        self.args.push(arg);
        format!("${}", self.args.len())
    }

    pub(crate) fn query(&self) -> Query<'_, Any, AnyArguments<'_>> {
        let mut q = sqlx::query(&self.text);
        for arg in &self.args {
            q = match arg {
                Arg::Text(s) => q.bind(s.as_str()),
                Arg::OptText(s) => q.bind(s.as_deref()),
                Arg::Int(i) => q.bind(*i),
                Arg::Real(f) => q.bind(*f),
            };
        }
        q
    }

    pub(crate) async fn fetch_all(
        &self,
        pool: &AnyPool,
    ) -> Result<Vec<sqlx::any::AnyRow>, sqlx::Error> {
        self.query().fetch_all(pool).await
    }
}

/// Milliseconds since the epoch, now.
pub(crate) fn now_ms() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(now.as_millis()).unwrap_or(i64::MAX)
}

/// `u64` counters are stored as BIGINT; saturate rather than wrap.
pub(crate) fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The UTC day ('YYYY-MM-DD') a time in milliseconds falls on.
pub(crate) fn day(ms: i64) -> String {
    let nanos = i128::from(ms) * 1_000_000;
    let date = time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .date();
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn day_is_the_utc_date() {
        assert_eq!(super::day(0), "1970-01-01");
        // 2024-02-29T23:59:59.999Z and one millisecond later.
        assert_eq!(super::day(1_709_251_199_999), "2024-02-29");
        assert_eq!(super::day(1_709_251_200_000), "2024-03-01");
        assert_eq!(super::day(-1), "1969-12-31");
    }

    #[test]
    fn placeholders_are_numbered_in_order() {
        let mut sql = super::Sql::new("SELECT 1 WHERE a = ");
        let a = sql.arg(super::Arg::Int(1));
        sql.push(&a).push(" AND b = ");
        let b = sql.arg(super::Arg::Text("x".into()));
        sql.push(&b);
        assert_eq!(sql.text, "SELECT 1 WHERE a = $1 AND b = $2");
    }
}
