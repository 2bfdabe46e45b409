//! Why a limiter could not be made.

/// Setting up the Redis limiter failed. Messages never hold the URL's
/// password.
#[derive(Debug, thiserror::Error)]
pub enum LimitError {
    /// The Redis URL does not parse.
    #[error("invalid redis url: {0}")]
    Url(String),
    /// The connection manager could not be set up.
    #[error("redis: {0}")]
    Connect(String),
    /// [`crate::Limiter::redis`] was called outside a tokio runtime (its
    /// connection and background sync run on one).
    #[error("the redis limiter must be created inside a tokio runtime")]
    NoRuntime,
}
