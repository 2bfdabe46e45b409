//! Rendering the gateway's [`ApiError`] as an HTTP response: its JSON body,
//! its status, `Retry-After` and the gateway's own headers.

use axum::Json;
use axum::response::{IntoResponse, Response};

use crate::gateway::ApiError;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (self.status, Json(self.body())).into_response();
        if let Some(secs) = self.retry_after
            && let Ok(v) = secs.to_string().parse()
        {
            resp.headers_mut().insert("retry-after", v);
        }
        for (name, value) in self.headers.iter() {
            if let Ok(v) = value.parse() {
                resp.headers_mut().insert(*name, v);
            }
        }
        resp
    }
}
