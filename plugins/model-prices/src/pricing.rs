//! Per-token pricing of one call's usage.

use switchyard_sdk::types::{Prices, Usage};

use crate::config::PriceEntry;

/// The prices a call is charged at.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Rates {
    pub input: Option<f64>,
    pub output: Option<f64>,
    pub cache_read: Option<f64>,
    pub cache_write: Option<f64>,
    pub reasoning: Option<f64>,
    pub per_request: Option<f64>,
}

/// A usable price: finite and not negative.
fn usable(v: Option<f64>) -> Option<f64> {
    v.filter(|v| v.is_finite() && *v >= 0.0)
}

impl Rates {
    pub fn from_prices(p: &Prices) -> Rates {
        Rates {
            input: usable(p.input_per_token),
            output: usable(p.output_per_token),
            cache_read: usable(p.cache_read_per_token),
            cache_write: usable(p.cache_write_per_token),
            reasoning: usable(p.reasoning_per_token),
            per_request: usable(p.per_request),
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
        }
    }

    /// Whether an input or output price is known.
    pub fn has_token_prices(&self) -> bool {
        self.input.is_some() || self.output.is_some()
    }

    /// These rates, with every price `over` sets taking precedence.
    pub fn overlaid_with(self, over: Rates) -> Rates {
        Rates {
            input: over.input.or(self.input),
            output: over.output.or(self.output),
            cache_read: over.cache_read.or(self.cache_read),
            cache_write: over.cache_write.or(self.cache_write),
            reasoning: over.reasoning.or(self.reasoning),
            per_request: over.per_request.or(self.per_request),
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
/// - plus the per-request price.
pub fn cost(rates: &Rates, usage: &Usage) -> Result<f64, Unpriced> {
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
