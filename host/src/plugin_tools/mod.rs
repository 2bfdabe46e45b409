//! Tooling for plugin authors, apart from the runtime it drives:
//! `switchyard plugin test` ([`cases`]) and `switchyard plugin inspect`
//! ([`inspect`]).

pub mod cases;
pub mod inspect;
pub mod new;
