//! Background health checks (`general_settings.background_health_checks`):
//! every `health_check_interval`, each deployment gets one cheap request
//! (a one-token chat completion, or a one-word embedding for deployments
//! whose `model_info.mode` is `embedding`). Results feed `/health` and the
//! routers' view (an unhealthy deployment is tried after the healthy ones);
//! they do not count as traffic, failures or usage.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::config::Deployment;
use crate::plugins::ActiveSet;
use crate::plugins::bindings::provider_api::Operation;
use crate::state::{Health, now_ms};

use super::Gateway;

/// The longest a check may take, whatever the deployment's timeout.
const CHECK_TIMEOUT: Duration = Duration::from_secs(30);

/// Checks every deployment every `every`, for as long as the gateway lives.
pub fn spawn(gateway: &Arc<Gateway>, every: Duration) {
    let gateway = Arc::downgrade(gateway);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(gateway) = gateway.upgrade() else {
                return;
            };
            gateway.check_all().await;
        }
    });
}

impl Gateway {
    /// Checks every deployment once, all at the same time.
    pub async fn check_all(&self) {
        let set = self.registry.snapshot();
        let checks = self.config.deployments.iter().map(|d| self.check(&set, d));
        futures::future::join_all(checks).await;
    }

    async fn check(&self, set: &ActiveSet, d: &Deployment) {
        let embedding = d.model_info.get("mode").and_then(Value::as_str) == Some("embedding");
        let (operation, body) = if embedding {
            (
                Operation::Embeddings,
                json!({"model": d.group, "input": "ping"}),
            )
        } else {
            (
                Operation::Chat,
                json!({"model": d.group, "messages": [{"role": "user", "content": "ping"}], "max_tokens": 1}),
            )
        };
        let Value::Object(raw) = body else {
            return;
        };
        let timeout = d.timeout.unwrap_or(CHECK_TIMEOUT).min(CHECK_TIMEOUT);
        let result = tokio::time::timeout(timeout, self.probe(operation, set, d, &raw)).await;
        let checked_ms = now_ms();
        let health = match result {
            Ok(Ok(())) => Health::Healthy { checked_ms },
            Ok(Err(error)) => Health::Unhealthy { checked_ms, error },
            Err(_) => Health::Unhealthy {
                checked_ms,
                error: format!("no answer within {timeout:?}"),
            },
        };
        if let Health::Unhealthy { error, .. } = &health {
            tracing::warn!(deployment = %d.id, %error, "health check failed");
        }
        self.state.set_health(d, health);
    }

    async fn probe(
        &self,
        operation: Operation,
        set: &ActiveSet,
        d: &Deployment,
        raw: &Map<String, Value>,
    ) -> Result<(), String> {
        let mut waited = Duration::ZERO;
        self.exchange(operation, set, d, raw, &mut waited)
            .await
            .map(|_| ())
            .map_err(|f| f.summary())
    }
}
