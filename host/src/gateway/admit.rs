//! The money checks, once per request and before the sanitisers, in this
//! order: the key may call the model (401), the end user is not blocked
//! (401), and every limit that applies admits the request and reserves its
//! share (429 naming the limit). A budget reserves the call's maximum cost,
//! priced by the cost rules from the input's estimated tokens and the
//! output limit ([`super::reservation`]), so a burst against a nearly spent
//! budget overspends by at most one call.

use std::sync::Arc;

use switchyard_limits::{Ask, RefusalKind};

use crate::config::ModelGroup;
use crate::ledger::{Ledger, refusal};
use crate::plugins::ActiveSet;
use crate::plugins::bindings::types::Caller;

use super::Gateway;
use super::error::ApiError;
use super::reservation::Question;

/// What the checks read of a request.
pub(super) struct Admit<'a> {
    pub caller: &'a Caller,
    /// The request's `user` field.
    pub end_user: Option<&'a str>,
    /// The model as the client named it (an alias, perhaps).
    pub asked: &'a str,
    pub group: &'a ModelGroup,
    /// The prompt's estimated tokens.
    pub input_tokens: u64,
    /// The request's output limit.
    pub max_tokens: Option<u64>,
}

impl Gateway {
    /// Checks and reserves the caller's limits (see the module doc).
    pub(super) async fn admit(
        &self,
        ledger: &Arc<Ledger>,
        set: &Arc<ActiveSet>,
        ask: Admit<'_>,
    ) -> Result<(), ApiError> {
        let Admit {
            caller,
            end_user,
            asked,
            group,
            input_tokens,
            max_tokens,
        } = ask;
        let accounts = ledger.accounts();
        ledger
            .principal
            .check_model(asked, &group.name, &self.config.aliases)?;
        let entry = end_user.and_then(|u| accounts.identity.directory().end_user(u));
        if let Some(e) = &entry
            && e.record.blocked
        {
            let mut err = ApiError::unauthorized(format!(
                "Authentication Error: end user {} is blocked.",
                e.id
            ));
            err.code = Some("end_user_blocked".into());
            return Err(err);
        }
        ledger.set_caller(caller, end_user, &group.name);
        let limits = accounts.limits_for(
            &ledger.principal,
            entry.as_deref(),
            end_user,
            caller,
            &group.name,
        );
        if limits.is_empty() {
            return Ok(());
        }
        let max_cost = if limits.iter().any(|l| l.budget.is_some()) {
            let q = Question {
                group,
                input_tokens,
                max_tokens,
                caller,
            };
            self.reservations
                .max_cost(set, &self.config.plugins.cost_rules, &q)
        } else {
            None
        };
        let ask = Ask {
            tokens: input_tokens + max_tokens.unwrap_or(0),
            max_cost_usd: max_cost,
        };
        match accounts.limiter.admit(&limits, &ask).await {
            Ok(admission) => {
                ledger.admitted(admission);
                Ok(())
            }
            Err(refused) => {
                // `key my-alias`: the scope, then its name.
                let (scope, name) = refused
                    .label
                    .split_once(' ')
                    .unwrap_or((refused.label.as_str(), ""));
                crate::observe::refused(&crate::observe::Refused {
                    kind: match refused.kind {
                        RefusalKind::Budget => crate::observe::Refusal::Budget,
                        _ => crate::observe::Refusal::RateLimit,
                    },
                    request_id: ledger.call_id(),
                    model_group: &group.name,
                    scope,
                    name,
                    limit_type: match refused.kind {
                        RefusalKind::Budget => "budget",
                        RefusalKind::Rpm => "rpm",
                        RefusalKind::Tpm => "tpm",
                        RefusalKind::Parallel => "max_parallel_requests",
                    },
                    limit: refused.limit,
                    current: refused.current,
                });
                Err(refusal::to_api(&refused))
            }
        }
    }
}
