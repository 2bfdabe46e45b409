//! Keys, spend and limits as the config sets them: where the database is,
//! Switchyard's `limits:` rules (counters by a metadata field, the user, a
//! tag, the team, the key alias or the model group), LiteLLM's provider and
//! proxy-wide budgets, and the `budget_and_rate_limits` shape real files
//! carry in `general_settings`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_yaml::Value;
use switchyard_limits::{Budget, Period};

use super::error::{ConfigError, KeyPath};
use super::values::{Count, NonNegative};

/// The database file used when the config names none.
pub const DEFAULT_DATABASE_FILE: &str = "switchyard.db";

/// What a `limits:` rule counts by: one counter per distinct value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match {
    /// `metadata.<field>` of the request (merged over the key's and team's).
    Metadata(String),
    /// The request's `user` (the end user).
    User,
    /// Each tag of the request, key or team.
    Tag,
    Team,
    KeyAlias,
    /// The model group asked for.
    Model,
}

impl Match {
    fn parse(s: &str) -> Option<Match> {
        Some(match s {
            "user" | "end_user" | "customer" => Match::User,
            "tag" | "tags" => Match::Tag,
            "team" | "team_id" => Match::Team,
            "key_alias" | "key" => Match::KeyAlias,
            "model" | "model_group" => Match::Model,
            _ => {
                let field = s.strip_prefix("metadata.")?;
                // A top-level field: the caller's metadata is matched by
                // its top-level keys.
                if field.is_empty()
                    || !field
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
                {
                    return None;
                }
                Match::Metadata(field.to_string())
            }
        })
    }

    /// The scope kind its counters are kept under (`metadata.plan`,
    /// `tag`, ...).
    pub fn kind(&self) -> String {
        match self {
            Match::Metadata(f) => format!("metadata.{f}"),
            Match::User => "end_user".into(),
            Match::Tag => "tag".into(),
            Match::Team => "team".into(),
            Match::KeyAlias => "key_alias".into(),
            Match::Model => "model".into(),
        }
    }
}

/// One `limits:` rule.
#[derive(Debug, Clone)]
pub struct LimitRule {
    pub matches: Match,
    /// Only this value (`metadata.plan: free`); every value when `None`.
    pub value: Option<String>,
    pub rpm: Option<u64>,
    pub tpm: Option<u64>,
    pub max_parallel: Option<u64>,
    pub budget: Option<Budget>,
}

/// Keys, spend and limits.
#[derive(Debug, Clone)]
pub struct Money {
    /// `general_settings.database_url`, else a SQLite file beside the config.
    pub database_url: String,
    /// Whether the URL is the default (the start-up log says where it is).
    pub database_is_default: bool,
    /// Where spend records wait while the database is unreachable.
    pub spill_path: std::path::PathBuf,
    /// Whether spend records are written (`general_settings.disable_spend_logs`
    /// turns them off; budgets still count).
    pub spend_logs: bool,
    pub rules: Vec<LimitRule>,
    /// `router_settings.provider_budget_config`: provider prefix → budget.
    pub provider_budgets: BTreeMap<String, Budget>,
    /// `litellm_settings.max_budget` (+ `budget_duration`): the whole proxy.
    pub global_budget: Option<Budget>,
}

/// A `limits:` rule as written.
#[derive(Debug, Deserialize)]
#[serde(expecting = "a mapping with `match` and limits")]
pub struct RawRule {
    #[serde(rename = "match")]
    pub matches: String,
    pub value: Option<String>,
    pub rpm: Option<Count>,
    pub tpm: Option<Count>,
    #[serde(alias = "max_parallel_requests")]
    pub max_parallel: Option<Count>,
    pub max_budget: Option<NonNegative>,
    pub budget_duration: Option<Value>,
    #[serde(flatten)]
    pub unknown: BTreeMap<String, Value>,
}

/// `general_settings.budget_and_rate_limits` items (not LiteLLM's, but
/// real files carry it): per-model-group rules.
#[derive(Debug, Clone, Deserialize)]
#[serde(expecting = "a mapping with `model` and limits")]
pub struct RawModelLimit {
    pub model: String,
    pub max_budget: Option<NonNegative>,
    pub budget_duration: Option<Value>,
    pub rpm: Option<Count>,
    pub tpm: Option<Count>,
    #[serde(alias = "max_parallel_requests")]
    pub max_parallel: Option<Count>,
    #[serde(flatten)]
    pub unknown: BTreeMap<String, Value>,
}

/// `provider_budget_config` entries, LiteLLM's shape.
#[derive(Debug, Clone, Deserialize)]
#[serde(expecting = "a mapping with `budget_limit` and `time_period`")]
pub struct RawProviderBudget {
    pub budget_limit: NonNegative,
    pub time_period: Option<Value>,
}

/// A budget duration as written (`30d`, `1mo`, or a number of seconds,
/// which real files also carry).
pub fn period(value: Option<&Value>, at: &KeyPath) -> Result<Period, ConfigError> {
    let text = match value {
        None | Some(Value::Null) => return Ok(Period::Forever),
        Some(Value::String(s)) => s.trim().to_string(),
        Some(Value::Number(n)) => format!("{n}s"),
        Some(_) => {
            return Err(ConfigError::invalid(
                at.clone(),
                "expected a duration such as 30s, 10m, 24h, 30d or 1mo",
            ));
        }
    };
    text.parse::<Period>().map_err(|e| {
        ConfigError::invalid(
            at.clone(),
            format!("{e} (expected a duration such as 30s, 10m, 24h, 30d or 1mo)"),
        )
    })
}

fn budget(
    max: Option<NonNegative>,
    duration: Option<&Value>,
    at: &KeyPath,
    duration_key: &str,
) -> Result<Option<Budget>, ConfigError> {
    let Some(max) = max else {
        return Ok(None);
    };
    Ok(Some(Budget {
        max_usd: max.0,
        period: period(duration, &at.key(duration_key))?,
    }))
}

/// Reads the `limits:` rules (at `at`).
pub fn rules(
    raw: Vec<RawRule>,
    at: &KeyPath,
    warnings: &mut Vec<String>,
) -> Result<Vec<LimitRule>, ConfigError> {
    raw.into_iter()
        .enumerate()
        .map(|(i, r)| {
            let at = at.index(i);
            unknown_keys(&r.unknown, &at, warnings);
            let matches = Match::parse(r.matches.trim()).ok_or_else(|| {
                ConfigError::invalid(
                    at.key("match"),
                    format!(
                        "{:?} is not something a limit can count by: use metadata.<field>, user, tag, team, key_alias or model",
                        r.matches
                    ),
                )
            })?;
            let rule = LimitRule {
                matches,
                value: r.value,
                rpm: r.rpm.map(|c| c.0),
                tpm: r.tpm.map(|c| c.0),
                max_parallel: r.max_parallel.map(|c| c.0),
                budget: budget(r.max_budget, r.budget_duration.as_ref(), &at, "budget_duration")?,
            };
            if rule.rpm.is_none()
                && rule.tpm.is_none()
                && rule.max_parallel.is_none()
                && rule.budget.is_none()
            {
                return Err(ConfigError::invalid(
                    at,
                    "the rule sets no limit: give rpm, tpm, max_parallel or max_budget",
                ));
            }
            Ok(rule)
        })
        .collect()
}

/// `budget_and_rate_limits` items as per-model-group rules.
pub fn model_rules(
    raw: Vec<RawModelLimit>,
    at: &KeyPath,
    warnings: &mut Vec<String>,
) -> Result<Vec<LimitRule>, ConfigError> {
    if !raw.is_empty() {
        warnings.push(format!(
            "{at} is not a LiteLLM key; Switchyard reads it as per-model-group limits (write them as `limits:` rules with `match: model`)"
        ));
    }
    raw.into_iter()
        .enumerate()
        .map(|(i, r)| {
            let at = at.index(i);
            unknown_keys(&r.unknown, &at, warnings);
            Ok(LimitRule {
                matches: Match::Model,
                value: Some(r.model),
                rpm: r.rpm.map(|c| c.0),
                tpm: r.tpm.map(|c| c.0),
                max_parallel: r.max_parallel.map(|c| c.0),
                budget: budget(
                    r.max_budget,
                    r.budget_duration.as_ref(),
                    &at,
                    "budget_duration",
                )?,
            })
        })
        .collect()
}

fn unknown_keys(unknown: &BTreeMap<String, Value>, at: &KeyPath, warnings: &mut Vec<String>) {
    for key in unknown.keys() {
        warnings.push(format!(
            "{} is not used by Switchyard and is ignored",
            at.key(key)
        ));
    }
}

/// `provider_budget_config`.
pub fn provider_budgets(
    raw: BTreeMap<String, RawProviderBudget>,
    at: &KeyPath,
) -> Result<BTreeMap<String, Budget>, ConfigError> {
    raw.into_iter()
        .map(|(provider, b)| {
            let at = at.key(&provider);
            let period = period(b.time_period.as_ref(), &at.key("time_period"))?;
            Ok((
                provider,
                Budget {
                    max_usd: b.budget_limit.0,
                    period,
                },
            ))
        })
        .collect()
}

/// A deployment's `max_budget` + `budget_duration` (`litellm_params`).
pub fn deployment_budget(
    max: Option<NonNegative>,
    duration: Option<&Value>,
    at: &KeyPath,
) -> Result<Option<Budget>, ConfigError> {
    budget(max, duration, at, "budget_duration")
}

/// The spill file of the spend writer: beside the config.
pub const SPILL_FILE: &str = "switchyard-spend.spill";

/// The database URL: as configured, else a SQLite file beside the config.
pub fn database_url(configured: Option<String>, base: &Path) -> (String, bool) {
    match configured {
        Some(url) if !url.trim().is_empty() => (url.trim().to_string(), false),
        _ => {
            let path = base.join(DEFAULT_DATABASE_FILE);
            let abs = std::path::absolute(&path).unwrap_or(path);
            (format!("sqlite://{}", abs.display()), true)
        }
    }
}
