//! Helpers every provider adapter needs, in one place so that each adapter
//! behaves the same where providers do not differ: the same `extra_headers`
//! rules, the same error text for a body that is not JSON, the same class for
//! a bare HTTP status.
//!
//! - [`request`]: building the provider's request from the deployment
//!   ([`api_base`], [`extra_headers`], [`percent_encode`], [`check_api_base`]).
//! - [`answer`]: reading the provider's answer ([`body_json`], [`event_json`],
//!   [`sse_event`], [`stream_event`], [`created`], [`snippet`],
//!   [`bad_answer`]).
//! - [`errors`]: provider errors ([`class_for_status`], [`body_text`],
//!   [`unsupported`]).
//!
//! ```
//! use switchyard_sdk::adapter;
//! use switchyard_sdk::provider::ErrorClass;
//! use switchyard_sdk::testing::target;
//!
//! let mut t = target("openai", "gpt-4o");
//! t.api_base = Some("http://proxy:4000/v1/".into());
//! let url = format!("{}/chat/completions", adapter::api_base(&t, None).unwrap_or_default());
//! assert_eq!(url, "http://proxy:4000/v1/chat/completions");
//! assert_eq!(adapter::class_for_status(429), ErrorClass::RateLimit);
//! ```

pub mod answer;
pub mod errors;
pub mod request;

pub use answer::{
    SNIPPET_CHARS, StreamEvent, bad_answer, body_json, created, event_json, snippet, sse_event,
    stream_event,
};
pub use errors::{MAX_MESSAGE_CHARS, body_text, class_for_status, unsupported};
pub use request::{api_base, check_api_base, extra_headers, percent_encode};
