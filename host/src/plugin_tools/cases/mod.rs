//! `switchyard plugin test`: runs a plugin against a cases file with no
//! gateway and no network (see `docs/plugin-testing.md` for the format).
//!
//! - [`format`]: the cases file and each kind's case input.
//! - [`run`]: each case's call on the plugin, and the report.
//! - [`matching`]: how an expectation is compared with the outcome.

pub mod format;
pub mod matching;
pub mod run;

pub use format::{Case, CaseFile, CaseResult};
pub use matching::matches;
pub use run::{parse_sse, report, run_case, run_file};
