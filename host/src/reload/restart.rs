//! The parts of a config that only a restart applies: the listen address
//! (not in the file), the master key, the database, Redis, the cache's
//! backend, the plugins directory and compile cache, and what the
//! observability sinks were built from. A reload keeps their running values
//! and names each changed key, so nothing is half-applied: the new file's
//! value takes effect, whole, at the next start.

use crate::config::Config;

/// Copies every restart-only value of `running` into `next`, and returns
/// the keys whose value in `next`'s file differed (sorted, each once).
pub fn hold(running: &Config, next: &mut Config) -> Vec<String> {
    let mut changed = Vec::new();
    let mut keep = |key: &str, differs: bool| {
        if differs {
            changed.push(key.to_string());
        }
    };
    keep(
        "general_settings.master_key",
        running.master_key != next.master_key,
    );
    next.master_key.clone_from(&running.master_key);

    let (a, b) = (&running.money, &mut next.money);
    keep(
        "general_settings.database_url",
        a.database_url != b.database_url,
    );
    keep(
        "general_settings.disable_spend_logs",
        a.spend_logs != b.spend_logs,
    );
    keep("spend log spill file", a.spill_path != b.spill_path);
    b.database_url.clone_from(&a.database_url);
    b.database_is_default = a.database_is_default;
    b.spend_logs = a.spend_logs;
    b.spill_path.clone_from(&a.spill_path);

    keep(
        "router_settings.redis_* (Redis)",
        running.redis != next.redis,
    );
    next.redis.clone_from(&running.redis);

    // The cache may be turned on or off live; its backend stays.
    if let (Some(a), Some(b)) = (&running.cache, &mut next.cache) {
        keep(
            "litellm_settings.cache_params backend (type, host, port, url, dir)",
            a.backend != b.backend,
        );
        b.backend = a.backend.clone();
    }

    let (a, b) = (&running.plugins, &mut next.plugins);
    keep("plugins.dir", a.dir != b.dir);
    keep("plugins.cache_dir", a.cache_dir != b.cache_dir);
    keep("plugins.watch", a.watch != b.watch);
    b.dir.clone_from(&a.dir);
    b.cache_dir.clone_from(&a.cache_dir);
    b.watch = a.watch;

    keep(
        "litellm_settings callbacks and logging (observability)",
        running.observability != next.observability,
    );
    next.observability.clone_from(&running.observability);
    keep(
        "webhooks",
        format!("{:?}", running.webhooks) != format!("{:?}", next.webhooks),
    );
    next.webhooks.clone_from(&running.webhooks);
    keep(
        "litellm_settings.enable_end_user_cost_tracking_prometheus_only",
        running.metrics_caller_labels != next.metrics_caller_labels,
    );
    next.metrics_caller_labels = running.metrics_caller_labels;
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn parse(text: &str) -> Config {
        Config::parse_with_env(text, Path::new("."), &|_| None).unwrap()
    }

    #[test]
    fn restart_only_keys_keep_their_running_values_and_are_named() {
        let running =
            parse("general_settings:\n  master_key: sk-a\nrouter_settings:\n  num_retries: 1\n");
        let mut next =
            parse("general_settings:\n  master_key: sk-b\nrouter_settings:\n  num_retries: 3\n");
        let changed = hold(&running, &mut next);
        assert_eq!(changed, vec!["general_settings.master_key".to_string()]);
        assert_eq!(next.master_key.as_deref(), Some("sk-a"));
        assert_eq!(next.reliability.num_retries, 3);
    }

    #[test]
    fn an_unchanged_file_needs_no_restart() {
        let text = "general_settings:\n  master_key: sk-a\n";
        assert!(hold(&parse(text), &mut parse(text)).is_empty());
    }
}
