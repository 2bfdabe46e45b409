//! LiteLLM's management API: keys, teams, users, end users, spend logs
//! and usage, on LiteLLM's paths with LiteLLM's field names so existing
//! scripts work (see docs/management-api.md).
//!
//! Every endpoint needs the master key or a `proxy_admin` user's key,
//! except `/key/info` on one's own key and `/usage` (a key reads its own
//! team's usage). A write is checked whole before anything is stored, then
//! handed to this replica's key cache at once (other replicas poll).

mod budget;
mod customers;
mod expiry;
mod input;
mod keys;
mod query;
mod rows;
mod spend;
mod teams;
mod usage;
mod users;

use axum::Router;
use axum::routing::{get, post};

use super::AppState;

/// Every management route.
pub fn routes() -> Router<AppState> {
    let mut router = Router::new()
        .route("/key/generate", post(keys::generate))
        .route("/key/info", get(keys::info))
        .route("/key/update", post(keys::update))
        .route("/key/delete", post(keys::delete))
        .route("/key/list", get(keys::list))
        .route("/key/block", post(keys::block))
        .route("/key/unblock", post(keys::unblock))
        .route("/key/regenerate", post(keys::regenerate))
        .route("/key/{key}/regenerate", post(keys::regenerate_path))
        .route("/team/new", post(teams::new))
        .route("/team/update", post(teams::update))
        .route("/team/delete", post(teams::delete))
        .route("/team/info", get(teams::info))
        .route("/team/list", get(teams::list))
        .route("/team/block", post(teams::block))
        .route("/team/unblock", post(teams::unblock))
        .route("/user/new", post(users::new))
        .route("/user/update", post(users::update))
        .route("/user/delete", post(users::delete))
        .route("/user/info", get(users::info))
        .route("/user/list", get(users::list))
        .route("/spend/logs", get(spend::logs))
        .route("/usage", get(usage::usage));
    // LiteLLM's customers, also under their older `/end_user` name.
    for prefix in ["/customer", "/end_user"] {
        router = router
            .route(&format!("{prefix}/new"), post(customers::new))
            .route(&format!("{prefix}/update"), post(customers::update))
            .route(&format!("{prefix}/delete"), post(customers::delete))
            .route(&format!("{prefix}/info"), get(customers::info))
            .route(&format!("{prefix}/list"), get(customers::list));
    }
    router
}
