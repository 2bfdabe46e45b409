//! Per-token pricing of one call's usage.

use switchyard_sdk::types::{Prices, Usage};

use crate::config::PriceEntry;
use crate::tiers::{self, Tier};

/// The prices a call is charged at.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rates {
    pub input: Option<f64>,
    pub output: Option<f64>,
    pub cache_read: Option<f64>,
    pub cache_write: Option<f64>,
    pub reasoning: Option<f64>,
    pub per_request: Option<f64>,
    /// Long-context prices (LiteLLM's `*_above_<N>k_tokens`), by threshold.
    pub tiers: Vec<Tier>,
}

/// A usable price: finite and not negative.
fn usable(v: Option<f64>) -> Option<f64> {
    v.filter(|v| v.is_finite() && *v >= 0.0)
}

/// `tiers` with every unusable price dropped.
fn usable_tiers(tiers: Vec<Tier>) -> Vec<Tier> {
    tiers
        .into_iter()
        .map(|t| Tier {
            input: usable(t.input),
            output: usable(t.output),
            cache_read: usable(t.cache_read),
            cache_write: usable(t.cache_write),
            ..t
        })
        .collect()
}

impl Rates {
    /// A deployment's prices; the long-context ones arrive in `extra`
    /// under LiteLLM's `model_info` names.
    pub fn from_prices(p: &Prices) -> Rates {
        let extra = p.extra.iter().filter_map(|f| {
            let value = serde_json::from_str(&f.value).ok()?;
            Some((f.key.as_str(), tiers::price_value(&value)?))
        });
        Rates {
            input: usable(p.input_per_token),
            output: usable(p.output_per_token),
            cache_read: usable(p.cache_read_per_token),
            cache_write: usable(p.cache_write_per_token),
            reasoning: usable(p.reasoning_per_token),
            per_request: usable(p.per_request),
            tiers: usable_tiers(tiers::collect(extra)),
        }
    }

    pub fn from_entry(e: &PriceEntry) -> Rates {
        Rates {
            input: usable(e.input_per_token),
            output: usable(e.output_per_token),
            cache_read: usable(e.cache_read_per_token),
            cache_write: usable(e.cache_write_per_token),
            reasoning: usable(e.reasoning_per_token),
            per_request: usable(e.per_request),
            tiers: usable_tiers(e.tiers()),
        }
    }

    /// Whether an input or output price is known.
    pub fn has_token_prices(&self) -> bool {
        self.input.is_some() || self.output.is_some()
    }

    /// These rates, with every price `over` sets taking precedence (its
    /// tiers replace these as a whole).
    pub fn overlaid_with(self, over: Rates) -> Rates {
        Rates {
            input: over.input.or(self.input),
            output: over.output.or(self.output),
            cache_read: over.cache_read.or(self.cache_read),
            cache_write: over.cache_write.or(self.cache_write),
            reasoning: over.reasoning.or(self.reasoning),
            per_request: over.per_request.or(self.per_request),
            tiers: if over.tiers.is_empty() {
                self.tiers
            } else {
                over.tiers
            },
        }
    }

    /// The flat rates of a call with `input_tokens` input tokens: those of
    /// the highest tier it exceeds that has an input price, each class the
    /// tier does not price at its base price, as LiteLLM does. Reasoning
    /// keeps its own price when one is set (LiteLLM has no long-context
    /// reasoning price); otherwise it is output, at the tier's price.
    pub fn for_input(&self, input_tokens: u64) -> Rates {
        let tier = self
            .tiers
            .iter()
            .filter(|t| t.input.is_some() && input_tokens > t.above)
            .max_by_key(|t| t.above);
        match tier {
            None => Rates {
                tiers: Vec::new(),
                ..self.clone()
            },
            Some(t) => Rates {
                input: t.input,
                output: t.output.or(self.output),
                cache_read: t.cache_read.or(self.cache_read),
                cache_write: t.cache_write.or(self.cache_write),
                reasoning: self.reasoning,
                per_request: self.per_request,
                tiers: Vec::new(),
            },
        }
    }
}

/// Why a call could not be priced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unpriced {
    /// Neither an input nor an output price is known.
    NoPrices,
    /// Tokens of this class were used but no price applies to them.
    Missing(&'static str),
}

fn term(tokens: u64, rate: Option<f64>, what: &'static str) -> Result<f64, Unpriced> {
    if tokens == 0 {
        return Ok(0.0);
    }
    rate.map(|r| tokens as f64 * r)
        .ok_or(Unpriced::Missing(what))
}

/// The cost of `usage` at `rates`, in US dollars:
///
/// - uncached input (`input - cache_read - cache_write`) at the input price,
/// - cache reads and writes at their own prices, else the input price,
/// - output at the output price; when a reasoning price is set, reasoning
///   tokens (part of output) at it and the rest at the output price,
/// - plus the per-request price;
///
/// each at the long-context price when the call's input exceeds a tier's
/// threshold ([`Rates::for_input`]).
pub fn cost(rates: &Rates, usage: &Usage) -> Result<f64, Unpriced> {
    let rates = &rates.for_input(usage.input_tokens);
    if !rates.has_token_prices() {
        return Err(Unpriced::NoPrices);
    }
    let uncached = usage
        .input_tokens
        .saturating_sub(usage.cache_read_tokens)
        .saturating_sub(usage.cache_write_tokens);
    let input = term(uncached, rates.input, "input")?
        + term(
            usage.cache_read_tokens,
            rates.cache_read.or(rates.input),
            "cache read",
        )?
        + term(
            usage.cache_write_tokens,
            rates.cache_write.or(rates.input),
            "cache write",
        )?;
    let output = match rates.reasoning {
        Some(r) => {
            let plain = usage.output_tokens.saturating_sub(usage.reasoning_tokens);
            term(usage.reasoning_tokens, Some(r), "reasoning")?
                + term(plain, rates.output, "output")?
        }
        None => term(usage.output_tokens, rates.output, "output")?,
    };
    Ok(input + output + rates.per_request.unwrap_or(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_sdk::testing;

    fn usage(input: u64, output: u64, read: u64, write: u64, reasoning: u64) -> Usage {
        Usage {
            cache_read_tokens: read,
            cache_write_tokens: write,
            reasoning_tokens: reasoning,
            ..testing::usage(input, output)
        }
    }

    fn rates(input: f64, output: f64) -> Rates {
        Rates {
            input: Some(input),
            output: Some(output),
            ..Rates::default()
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1e-12)
    }

    #[test]
    fn input_and_output() {
        let c = cost(&rates(2.5e-6, 1e-5), &usage(1000, 200, 0, 0, 0)).unwrap();
        assert!(close(c, 0.0045), "{c}");
    }

    #[test]
    fn cache_reads_and_writes() {
        let r = Rates {
            cache_read: Some(3e-7),
            cache_write: Some(3.75e-6),
            ..rates(3e-6, 1.5e-5)
        };
        let c = cost(&r, &usage(1000, 100, 300, 200, 0)).unwrap();
        assert!(
            close(
                c,
                500.0 * 3e-6 + 300.0 * 3e-7 + 200.0 * 3.75e-6 + 100.0 * 1.5e-5
            ),
            "{c}"
        );
        // Without their own prices, cached tokens cost as input.
        let c = cost(&rates(3e-6, 1.5e-5), &usage(1000, 100, 300, 200, 0)).unwrap();
        assert!(close(c, 1000.0 * 3e-6 + 100.0 * 1.5e-5), "{c}");
    }

    #[test]
    fn reasoning() {
        let r = Rates {
            reasoning: Some(2e-6),
            ..rates(1.1e-6, 4.4e-6)
        };
        let c = cost(&r, &usage(100, 500, 0, 0, 300)).unwrap();
        assert!(
            close(c, 100.0 * 1.1e-6 + 300.0 * 2e-6 + 200.0 * 4.4e-6),
            "{c}"
        );
        let c = cost(&rates(1.1e-6, 4.4e-6), &usage(100, 500, 0, 0, 300)).unwrap();
        assert!(close(c, 100.0 * 1.1e-6 + 500.0 * 4.4e-6), "{c}");
    }

    #[test]
    fn per_request_and_odd_usage() {
        let r = Rates {
            per_request: Some(0.01),
            ..rates(1e-6, 2e-6)
        };
        assert!(close(cost(&r, &usage(0, 0, 0, 0, 0)).unwrap(), 0.01));
        // More cached than input (bad data) does not go negative.
        assert!(close(
            cost(&rates(1e-6, 2e-6), &usage(10, 0, 50, 0, 0)).unwrap(),
            50.0 * 1e-6
        ));
    }

    #[test]
    fn unpriced() {
        assert_eq!(
            cost(&Rates::default(), &usage(1, 1, 0, 0, 0)),
            Err(Unpriced::NoPrices)
        );
        let only_request = Rates {
            per_request: Some(0.1),
            ..Rates::default()
        };
        assert_eq!(
            cost(&only_request, &usage(1, 1, 0, 0, 0)),
            Err(Unpriced::NoPrices)
        );
        let input_only = Rates {
            input: Some(1e-6),
            ..Rates::default()
        };
        assert_eq!(
            cost(&input_only, &usage(10, 5, 0, 0, 0)),
            Err(Unpriced::Missing("output"))
        );
        assert!(close(
            cost(&input_only, &usage(10, 0, 0, 0, 0)).unwrap(),
            1e-5
        ));
        let output_only = Rates {
            output: Some(1e-6),
            ..Rates::default()
        };
        assert_eq!(
            cost(&output_only, &usage(10, 5, 0, 0, 0)),
            Err(Unpriced::Missing("input"))
        );
    }

    /// Gemini 2.5 Pro's list prices: 1.25/10/0.125 per million, and
    /// 2.5/15/0.25 above 200k input tokens.
    fn long_context() -> Rates {
        Rates {
            cache_read: Some(0.125e-6),
            tiers: vec![Tier {
                above: 200_000,
                input: Some(2.5e-6),
                output: Some(15e-6),
                cache_read: Some(0.25e-6),
                cache_write: None,
            }],
            ..rates(1.25e-6, 10e-6)
        }
    }

    #[test]
    fn above_the_threshold_the_whole_call_is_at_the_long_context_prices() {
        let c = cost(&long_context(), &usage(250_000, 1000, 50_000, 0, 0)).unwrap();
        assert!(
            close(c, 200_000.0 * 2.5e-6 + 50_000.0 * 0.25e-6 + 1000.0 * 15e-6),
            "{c}"
        );
        // At the threshold itself, the base prices.
        let c = cost(&long_context(), &usage(200_000, 1000, 50_000, 0, 0)).unwrap();
        assert!(
            close(
                c,
                150_000.0 * 1.25e-6 + 50_000.0 * 0.125e-6 + 1000.0 * 10e-6
            ),
            "{c}"
        );
    }

    #[test]
    fn a_class_the_tier_does_not_price_keeps_its_base_price() {
        let r = Rates {
            cache_write: Some(3.75e-6),
            reasoning: Some(2e-6),
            tiers: vec![Tier {
                above: 200_000,
                input: Some(6e-6),
                ..Tier::default()
            }],
            ..rates(3e-6, 15e-6)
        };
        // Cache reads have no price at all: at the tier's input price.
        let c = cost(&r, &usage(300_000, 500, 10_000, 20_000, 100)).unwrap();
        assert!(
            close(
                c,
                270_000.0 * 6e-6
                    + 10_000.0 * 6e-6
                    + 20_000.0 * 3.75e-6
                    + 100.0 * 2e-6
                    + 400.0 * 15e-6
            ),
            "{c}"
        );
    }

    #[test]
    fn reasoning_without_its_own_price_is_output_at_the_tier_price() {
        let c = cost(&long_context(), &usage(300_000, 500, 0, 0, 300)).unwrap();
        assert!(close(c, 300_000.0 * 2.5e-6 + 500.0 * 15e-6), "{c}");
    }

    #[test]
    fn the_highest_threshold_exceeded_wins_and_a_tier_needs_an_input_price() {
        let tier = |above, input| Tier {
            above,
            input,
            output: Some(1.0),
            ..Tier::default()
        };
        let r = Rates {
            tiers: vec![
                tier(128_000, Some(2e-6)),
                tier(200_000, Some(3e-6)),
                tier(400_000, None),
            ],
            ..rates(1e-6, 0.0)
        };
        for (tokens, price) in [
            (100_000, 1e-6),
            (150_000, 2e-6),
            (250_000, 3e-6),
            (500_000, 3e-6),
        ] {
            let c = cost(&r, &usage(tokens, 0, 0, 0, 0)).unwrap();
            assert!(close(c, tokens as f64 * price), "{tokens}: {c}");
        }
    }

    #[test]
    fn long_context_prices_arrive_in_prices_extra() {
        let field = |key: &str, value: &str| switchyard_sdk::types::Field {
            key: key.into(),
            value: value.into(),
        };
        let p = Prices {
            input_per_token: Some(1.25e-6),
            output_per_token: Some(10e-6),
            cache_read_per_token: Some(0.125e-6),
            extra: vec![
                field("input_cost_per_token_above_200k_tokens", "2.5e-6"),
                field("output_cost_per_token_above_200k_tokens", "\"1.5e-5\""),
                field("cache_read_input_token_cost_above_200k_tokens", "2.5e-7"),
                field("cache_creation_input_token_cost_above_200k_tokens", "-1"),
                field("max_input_tokens", "1048576"),
                field("input_cost_per_token_above_200k_tokens_priority", "9"),
                field("mode", "not json"),
            ],
            ..testing::no_prices()
        };
        assert_eq!(Rates::from_prices(&p), long_context());
    }

    #[test]
    fn unusable_prices_are_ignored() {
        let p = Prices {
            input_per_token: Some(f64::NAN),
            output_per_token: Some(-1.0),
            ..testing::no_prices()
        };
        assert!(!Rates::from_prices(&p).has_token_prices());
    }
}
