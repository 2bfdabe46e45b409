//! The store's one error type. Messages never carry a URL's password: every
//! database error passes through [`Secrets::scrub`] on its way out.

use std::sync::Arc;

/// What went wrong in the store.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StoreError {
    /// The URL is not one the store understands (the password is redacted).
    #[error("database URL: {0}")]
    Url(String),
    /// The database is behind this binary.
    #[error(
        "the database schema is at version {have}, this binary needs {need}: run `switchyard db migrate --config <FILE>`"
    )]
    Outdated {
        /// Highest version applied to the database.
        have: i64,
        /// Highest version this binary knows.
        need: i64,
    },
    /// A newer binary migrated the database; this one must not write to it.
    #[error(
        "the database schema is at version {have}, newer than this binary knows ({know}): upgrade switchyard"
    )]
    Newer {
        /// Highest version applied to the database.
        have: i64,
        /// Highest version this binary knows.
        know: i64,
    },
    /// The database failed or could not be reached.
    #[error("database: {0}")]
    Db(String),
    /// The row does not exist (or was deleted).
    #[error("not found: {0}")]
    NotFound(String),
    /// A live row already has this id.
    #[error("already exists: {0}")]
    Conflict(String),
    /// The caller passed something the store refuses (a bad metadata field name, say).
    #[error("invalid: {0}")]
    Invalid(String),
}

/// Strings that must never leave the store in a message (the URL's password).
#[derive(Debug, Clone, Default)]
pub(crate) struct Secrets(Arc<Vec<String>>);

impl Secrets {
    pub(crate) fn new(secrets: Vec<String>) -> Self {
        Self(Arc::new(
            secrets.into_iter().filter(|s| !s.is_empty()).collect(),
        ))
    }

    /// Replaces every secret in `text` with `***`.
    pub(crate) fn scrub(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in self.0.iter() {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), "***");
            }
        }
        out
    }

    /// A database error as a [`StoreError::Db`] without secrets.
    pub(crate) fn db(&self, e: impl std::fmt::Display) -> StoreError {
        StoreError::Db(self.scrub(&e.to_string()))
    }
}
