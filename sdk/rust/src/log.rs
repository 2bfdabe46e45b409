//! Writing to the gateway's log. In a native build (unit tests) lines go to
//! stderr, because there is no host to import from.

use crate::bindings::worlds::router::switchyard::plugin::log as wit;

pub use wit::Level;

/// Writes one line at `level`.
#[cfg_attr(
    not(target_arch = "wasm32"),
    expect(
        clippy::print_stderr,
        reason = "a native build has no host log; stderr is where a test shows it"
    )
)]
pub fn log(level: Level, message: &str) {
    #[cfg(target_arch = "wasm32")]
    wit::log(level, message);
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("[{level:?}] {message}");
}

/// Writes a debug line.
pub fn debug(message: &str) {
    log(Level::Debug, message);
}

/// Writes an info line.
pub fn info(message: &str) {
    log(Level::Info, message);
}

/// Writes a warning.
pub fn warn(message: &str) {
    log(Level::Warn, message);
}

/// Writes an error line.
pub fn error(message: &str) {
    log(Level::Error, message);
}
