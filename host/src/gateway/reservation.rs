//! What a budget reserves for a call: its most expensive outcome, priced by
//! the cost rules, and remembered.
//!
//! Pricing a reservation takes one cost-rule call per rule per deployment
//! (of the group's first few), on every request of a budgeted caller, cache
//! hits included. A cost rule is a pure function of its input (the
//! contract's first principle), so the same question gets the same answer
//! until the plugins change: [`Reservations`] keeps the answers, for the
//! active plugin set they were priced with, per model group, caller and
//! token counts.
//!
//! The input's token estimate is rounded up to five significant bits first
//! (at most 1/16 more), so a caller's calls of about the same size share
//! one answer. A reservation only bounds a call's cost from above, and the
//! call is settled at its real cost once answered.

use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use hashbrown::HashTable;

use crate::config::ModelGroup;
use crate::plugins::ActiveSet;
use crate::plugins::bindings::types::{Caller, Usage};

use super::cost;

/// The output a budget reserves for when neither the request nor the
/// deployment's `model_info` limits it.
const DEFAULT_MAX_OUTPUT_TOKENS: u64 = 4096;
/// Deployments priced for a reservation: the dearest of the first few.
const PRICED_DEPLOYMENTS: usize = 8;
/// Answers kept; past this many the memory starts again.
const MAX_ANSWERS: usize = 1024;
/// A caller larger than this (request metadata can be large) is priced
/// every time rather than kept: its strings' bytes, and [`STRING_BYTES`]
/// for each string.
const MAX_CALLER_BYTES: usize = 1024;
/// What a kept string costs besides its bytes (its `String` header and
/// the allocator's rounding), roughly.
const STRING_BYTES: usize = 32;
/// Significant bits kept of an input token estimate.
const TOKEN_BITS: u32 = 5;

/// A reservation's question.
pub struct Question<'a> {
    pub group: &'a ModelGroup,
    /// The prompt's estimated tokens.
    pub input_tokens: u64,
    /// The request's output limit.
    pub max_tokens: Option<u64>,
    pub caller: &'a Caller,
}

/// Reservation prices already worked out (see the module doc).
#[derive(Default)]
pub struct Reservations {
    memory: Mutex<Memory>,
    hasher: RandomState,
}

#[derive(Default)]
struct Memory {
    /// The plugin set the answers were priced with (held weakly: a reload
    /// frees the old set).
    set: Weak<ActiveSet>,
    /// By the question's hash; each answer keeps its question.
    answers: HashTable<Kept>,
}

impl Memory {
    /// Whether the answers were priced with `set`.
    fn priced_with(&self, set: &Arc<ActiveSet>) -> bool {
        std::ptr::eq(self.set.as_ptr(), Arc::as_ptr(set))
    }
}

struct Kept {
    hash: u64,
    group: String,
    input_tokens: u64,
    max_tokens: Option<u64>,
    caller: Caller,
    usd: Option<f64>,
}

impl Kept {
    fn answers(&self, q: &Question<'_>, input_tokens: u64) -> bool {
        self.input_tokens == input_tokens
            && self.max_tokens == q.max_tokens
            && self.group == q.group.name
            && self.caller == *q.caller
    }
}

impl Reservations {
    /// The most the call can cost on any of the group's (first few)
    /// deployments; `None` when no rule prices any of them.
    pub fn max_cost(
        &self,
        set: &Arc<ActiveSet>,
        rules: &[String],
        q: &Question<'_>,
    ) -> Option<f64> {
        self.remembered(set, q, |input_tokens| price(set, rules, q, input_tokens))
    }

    /// The kept answer to `q` priced with `set`, or `price`'s (given the
    /// rounded estimate), kept when every rule answered.
    fn remembered(
        &self,
        set: &Arc<ActiveSet>,
        q: &Question<'_>,
        price: impl FnOnce(u64) -> cost::Priced,
    ) -> Option<f64> {
        let input_tokens = round_up(q.input_tokens);
        let Some(hash) = self.hash(q, input_tokens) else {
            return price(input_tokens).usd;
        };
        let asked = |k: &Kept| k.answers(q, input_tokens);
        {
            let memory = self.memory();
            if memory.priced_with(set)
                && let Some(kept) = memory.answers.find(hash, asked)
            {
                return kept.usd;
            }
        }
        let priced = price(input_tokens);
        // A rule that failed (a trap, a deadline) may answer next time.
        if priced.complete {
            let mut memory = self.memory();
            if !memory.priced_with(set) {
                memory.set = Arc::downgrade(set);
                memory.answers.clear();
            }
            // Another thread may have kept the same answer meanwhile.
            if memory.answers.find(hash, asked).is_none() {
                if memory.answers.len() >= MAX_ANSWERS {
                    memory.answers.clear();
                }
                let kept = Kept {
                    hash,
                    group: q.group.name.clone(),
                    input_tokens,
                    max_tokens: q.max_tokens,
                    caller: q.caller.clone(),
                    usd: priced.usd,
                };
                memory.answers.insert_unique(hash, kept, |k| k.hash);
            }
        }
        priced.usd
    }

    fn memory(&self) -> MutexGuard<'_, Memory> {
        self.memory.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The question's hash; `None` for a caller too large to keep.
    fn hash(&self, q: &Question<'_>, input_tokens: u64) -> Option<u64> {
        let c = q.caller;
        if caller_bytes(c) > MAX_CALLER_BYTES {
            return None;
        }
        let mut h = self.hasher.build_hasher();
        // Each string's length first, so ("ab", "c") and ("a", "bc") hash
        // apart; `None` and `Some("")` hash alike (a hit compares the
        // question whole anyway).
        let text = |h: &mut dyn Hasher, s: Option<&str>| {
            let s = s.map_or(&[][..], str::as_bytes);
            h.write_usize(s.len());
            h.write(s);
        };
        text(&mut h, Some(&q.group.name));
        h.write_u64(input_tokens);
        h.write_u64(q.max_tokens.map_or(u64::MAX, |t| t.wrapping_add(1)));
        text(&mut h, c.key_alias.as_deref());
        text(&mut h, c.user.as_deref());
        text(&mut h, c.team.as_deref());
        text(&mut h, c.tier.as_deref());
        h.write_usize(c.tags.len());
        for t in &c.tags {
            text(&mut h, Some(t));
        }
        h.write_usize(c.metadata.len());
        for f in &c.metadata {
            text(&mut h, Some(&f.key));
            text(&mut h, Some(&f.value));
        }
        Some(h.finish())
    }
}

/// About what keeping `c` costs (see [`MAX_CALLER_BYTES`]).
fn caller_bytes(c: &Caller) -> usize {
    let text = |s: &str| s.len() + STRING_BYTES;
    let opt = |s: &Option<String>| s.as_deref().map_or(0, text);
    opt(&c.key_alias)
        + opt(&c.user)
        + opt(&c.team)
        + opt(&c.tier)
        + c.tags.iter().map(|t| text(t)).sum::<usize>()
        + c.metadata
            .iter()
            .map(|f| text(&f.key) + text(&f.value))
            .sum::<usize>()
}

/// The most the call can cost, by asking the rules; `input_tokens` is the
/// rounded estimate.
fn price(set: &ActiveSet, rules: &[String], q: &Question<'_>, input_tokens: u64) -> cost::Priced {
    let mut most = cost::Priced {
        usd: None,
        complete: true,
    };
    for d in q.group.deployments.iter().take(PRICED_DEPLOYMENTS) {
        let usage = Usage {
            input_tokens,
            output_tokens: q
                .max_tokens
                .or(d.max_output_tokens)
                .unwrap_or(DEFAULT_MAX_OUTPUT_TOKENS),
            cache_read_tokens: 0,
            cache_write_tokens: 0,
            reasoning_tokens: 0,
            extra: Vec::new(),
        };
        let priced = cost::price(set, rules, d, &usage, q.caller);
        most.complete &= priced.complete;
        most.usd = most.usd.into_iter().chain(priced.usd).reduce(f64::max);
    }
    most
}

/// `n` rounded up to [`TOKEN_BITS`] significant bits: never less, at most
/// 1/16 more.
fn round_up(n: u64) -> u64 {
    let bits = u64::BITS - n.leading_zeros();
    if bits <= TOKEN_BITS {
        return n;
    }
    let shift = bits - TOKEN_BITS;
    let step = 1u64 << shift;
    n.div_ceil(step).saturating_mul(step)
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;
    use crate::plugins::bindings::types::Field;

    #[test]
    fn an_estimate_rounds_up_by_at_most_a_sixteenth() {
        assert_eq!(round_up(0), 0);
        assert_eq!(round_up(31), 31);
        assert_eq!(round_up(32), 32);
        assert_eq!(round_up(33), 34);
        assert_eq!(round_up(1000), 1024);
        assert_eq!(round_up(1024), 1024);
        assert_eq!(round_up(1025), 1088);
        assert_eq!(round_up(u64::MAX), u64::MAX);
        for n in 1..100_000u64 {
            let r = round_up(n);
            assert!(r >= n && (r - n) * 16 <= n, "{n} -> {r}");
        }
    }

    fn group() -> ModelGroup {
        ModelGroup {
            name: "gpt-4o".into(),
            deployments: Vec::new(),
        }
    }

    fn caller(alias: &str) -> Caller {
        Caller {
            key_alias: Some(alias.into()),
            user: None,
            team: Some("t".into()),
            tags: vec!["a".into()],
            tier: None,
            metadata: vec![Field {
                key: "k".into(),
                value: "1".into(),
            }],
        }
    }

    fn question<'a>(
        group: &'a ModelGroup,
        input_tokens: u64,
        max_tokens: Option<u64>,
        caller: &'a Caller,
    ) -> Question<'a> {
        Question {
            group,
            input_tokens,
            max_tokens,
            caller,
        }
    }

    /// Asks `memo` with a pricer that counts its calls and answers the
    /// rounded estimate it was given, in dollars.
    fn ask(
        memo: &Reservations,
        set: &Arc<ActiveSet>,
        q: &Question<'_>,
        calls: &Cell<u32>,
        complete: bool,
    ) -> Option<f64> {
        memo.remembered(set, q, |tokens| {
            calls.set(calls.get() + 1);
            cost::Priced {
                usd: Some(tokens as f64),
                complete,
            }
        })
    }

    #[test]
    fn the_same_question_is_priced_once_per_plugin_set() {
        let memo = Reservations::default();
        let (g, bot, other) = (group(), caller("bot"), caller("other"));
        let set = Arc::new(ActiveSet::default());
        let calls = Cell::new(0);
        let q = |input_tokens, caller| question(&g, input_tokens, Some(200), caller);
        // 1000 and 1020 tokens share the rounded estimate 1024.
        assert_eq!(ask(&memo, &set, &q(1000, &bot), &calls, true), Some(1024.0));
        assert_eq!(ask(&memo, &set, &q(1020, &bot), &calls, true), Some(1024.0));
        assert_eq!(calls.get(), 1);
        // Another size, another caller: priced each.
        assert_eq!(ask(&memo, &set, &q(1100, &bot), &calls, true), Some(1152.0));
        assert_eq!(
            ask(&memo, &set, &q(1000, &other), &calls, true),
            Some(1024.0)
        );
        assert_eq!(calls.get(), 3);
        let mut other_metadata = bot.clone();
        other_metadata.metadata[0].value = "2".into();
        ask(&memo, &set, &q(1000, &other_metadata), &calls, true);
        assert_eq!(calls.get(), 4);
        // Another output limit.
        let no_limit = question(&g, 1000, None, &bot);
        ask(&memo, &set, &no_limit, &calls, true);
        assert_eq!(calls.get(), 5);
        // Plugins reloaded: a new set, everything priced again.
        let reloaded = Arc::new(ActiveSet::default());
        ask(&memo, &reloaded, &q(1000, &bot), &calls, true);
        assert_eq!(calls.get(), 6);
        assert_eq!(memo.memory().answers.len(), 1);
        ask(&memo, &reloaded, &q(1000, &bot), &calls, true);
        assert_eq!(calls.get(), 6);
    }

    #[test]
    fn an_answer_a_rule_failed_in_or_a_large_caller_is_not_kept() {
        let memo = Reservations::default();
        let g = group();
        let set = Arc::new(ActiveSet::default());
        let calls = Cell::new(0);
        let bot = caller("bot");
        let q = question(&g, 10, None, &bot);
        ask(&memo, &set, &q, &calls, false);
        ask(&memo, &set, &q, &calls, false);
        assert_eq!(calls.get(), 2);
        ask(&memo, &set, &q, &calls, true);
        ask(&memo, &set, &q, &calls, true);
        assert_eq!(calls.get(), 3);

        // Many small tags count too, not only long strings.
        let mut large = caller("bot");
        large.tags = (0..MAX_CALLER_BYTES / STRING_BYTES)
            .map(|i| i.to_string())
            .collect();
        let q = question(&g, 10, None, &large);
        ask(&memo, &set, &q, &calls, true);
        ask(&memo, &set, &q, &calls, true);
        assert_eq!(calls.get(), 5);
    }

    #[test]
    fn the_memory_starts_again_when_full() {
        let memo = Reservations::default();
        let g = group();
        let set = Arc::new(ActiveSet::default());
        let calls = Cell::new(0);
        let bot = caller("bot");
        for max in 0..MAX_ANSWERS as u64 + 1 {
            ask(
                &memo,
                &set,
                &question(&g, 10, Some(max), &bot),
                &calls,
                true,
            );
        }
        assert_eq!(memo.memory().answers.len(), 1);
        assert_eq!(calls.get(), MAX_ANSWERS as u32 + 1);
    }
}
