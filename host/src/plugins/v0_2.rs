//! Contract 0.2.x adapted to the 0.3 host: conversions between the records
//! and variants each kind's interface declares (both versions share
//! `types`, see [`super::bindings`]), and 0.2's `log` import.
//!
//! Inputs go 0.3 → 0.2 (a field 0.3 added is left out: a 0.2 plugin never
//! knew it), answers 0.2 → 0.3. The only interface that differs today is
//! `sanitizer`: `sanitize-input` gained `window`, `finish-reason`,
//! `context-window` and `estimated-input-tokens`. A 0.2 sanitiser therefore
//! sees a streamed answer's window as the answer itself, and is told
//! nothing about context windows.

use super::bindings::v0_2::{cost_api as ocost, provider_api as oprov, router_api as oroute};
use super::bindings::v0_2::{log as olog, sanitizer_api as osan};
use super::bindings::{cost_api as ncost, provider_api as nprov, router_api as nroute};
use super::bindings::{log as nlog, sanitizer_api as nsan, types};
use super::store::HostState;

/// A conversion between one version's value and another's.
pub trait Adapt<T> {
    fn adapt(self) -> T;
}

macro_rules! same {
    ($($t:ty),* $(,)?) => {
        $(impl Adapt<$t> for $t {
            fn adapt(self) -> $t {
                self
            }
        })*
    };
}

same!(
    String,
    u8,
    u16,
    u32,
    u64,
    f64,
    bool,
    types::Field,
    types::Prices,
    types::Usage,
    types::PluginError,
    types::ChatRequest,
    types::Caller,
    types::Message,
);

impl<A: Adapt<B>, B> Adapt<Vec<B>> for Vec<A> {
    fn adapt(self) -> Vec<B> {
        self.into_iter().map(Adapt::adapt).collect()
    }
}

impl<A: Adapt<B>, B> Adapt<Option<B>> for Option<A> {
    fn adapt(self) -> Option<B> {
        self.map(Adapt::adapt)
    }
}

impl<A: Adapt<B>, B, E: Adapt<F>, F> Adapt<Result<B, F>> for Result<A, E> {
    fn adapt(self) -> Result<B, F> {
        self.map(Adapt::adapt).map_err(Adapt::adapt)
    }
}

/// Both directions for a record whose fields are the same in both versions.
macro_rules! record {
    ($old:ident, $new:ident : $t:ident { $($f:ident),* $(,)? }) => {
        impl Adapt<$new::$t> for $old::$t {
            fn adapt(self) -> $new::$t {
                $new::$t { $($f: self.$f.adapt()),* }
            }
        }
        impl Adapt<$old::$t> for $new::$t {
            fn adapt(self) -> $old::$t {
                $old::$t { $($f: self.$f.adapt()),* }
            }
        }
    };
}

/// Both directions for a variant or enum whose cases are the same in both
/// versions (each case with at most one payload).
macro_rules! variant {
    ($old:ident, $new:ident : $t:ident { $($c:ident $(($x:ident))?),* $(,)? }) => {
        impl Adapt<$new::$t> for $old::$t {
            fn adapt(self) -> $new::$t {
                match self {
                    $($old::$t::$c $(($x))? => $new::$t::$c $(($x.adapt()))?),*
                }
            }
        }
        impl Adapt<$old::$t> for $new::$t {
            fn adapt(self) -> $old::$t {
                match self {
                    $($new::$t::$c $(($x))? => $old::$t::$c $(($x.adapt()))?),*
                }
            }
        }
    };
}

// router
record!(oroute, nroute: Deployment {
    id, model_group, provider, model, rpm_limit, tpm_limit, prices, context_window, tags,
    weight, order, extra,
});
variant!(oroute, nroute: Health { Healthy, CoolingDown(x), Unhealthy(x), Other(x) });
record!(oroute, nroute: Candidate {
    deployment, health, in_flight, latency_avg_ms, ttft_avg_ms, rpm_used, tpm_used,
});
record!(oroute, nroute: RouteRequest {
    request, caller, candidates, estimated_input_tokens, seed, now_ms,
});
record!(oroute, nroute: RouteDecision { order, model_group, reason, extra });

// provider
record!(oprov, nprov: Header { name, value });
variant!(oprov, nprov: Operation { Chat, Embeddings, Other(x) });
record!(oprov, nprov: Target { provider, model, api_base, api_key, api_version, params });
variant!(oprov, nprov: Framing { Sse, Bytes });
record!(oprov, nprov: HttpRequest { method, url, headers, body, framing });
record!(oprov, nprov: HttpResponse { status, headers, body });
variant!(oprov, nprov: Outbound { Send(x), Respond(x) });
record!(oprov, nprov: BuildInput { operation, body, target });
variant!(oprov, nprov: ErrorClass {
    BadRequest, Authentication, PermissionDenied, NotFound, RateLimit, ContextWindowExceeded,
    ContentPolicy, Timeout, ServerError, Other(x),
});
record!(oprov, nprov: ProviderError { status, class, message, code });
variant!(oprov, nprov: ParseError { Provider(x), Plugin(x) });
record!(oprov, nprov: ParsedResponse { body, usage });
record!(oprov, nprov: SseEvent { event, data, id });
variant!(oprov, nprov: StreamInput { Event(x), Bytes(x) });
record!(oprov, nprov: StreamOutput { chunks, usage, done });

// cost
record!(ocost, ncost: CostInput {
    model_group, deployment_id, provider, model, prices, usage, caller, previous, extra,
});
variant!(ocost, ncost: CostAnswer { Usd(x), NoOpinion });

// sanitizer: 0.3 added fields to `sanitize-input`, so only 0.3 → 0.2.
variant!(osan, nsan: Stage { Request, Response, Other(x) });
variant!(osan, nsan: Verdict { Allow, Deny(x), Rewrite(x) });

impl Adapt<osan::SanitizeInput> for nsan::SanitizeInput {
    fn adapt(self) -> osan::SanitizeInput {
        let mut response = self.response;
        // A 0.2 sanitiser does not know a window's first `overlap`
        // characters were already released: it would return them in its
        // rewrite and the client would read them twice. It sees only the
        // held-back text, which is what a rewrite replaces.
        if let Some(w) = &self.window {
            drop_leading_chars(&mut response, w.overlap as usize);
        }
        osan::SanitizeInput {
            stage: self.stage.adapt(),
            request: self.request,
            caller: self.caller,
            response,
        }
    }
}

/// Removes the first `n` characters of text from `messages`' text parts,
/// in order.
fn drop_leading_chars(messages: &mut [crate::plugins::bindings::types::Message], mut n: usize) {
    use crate::plugins::bindings::types::ContentPart;
    for part in messages.iter_mut().flat_map(|m| m.content.iter_mut()) {
        if n == 0 {
            return;
        }
        if let ContentPart::Text(text) = part {
            let cut = text.char_indices().nth(n).map_or(text.len(), |(i, _)| i);
            n -= text[..cut].chars().count();
            text.replace_range(..cut, "");
        }
    }
}

// log
variant!(olog, nlog: Level { Trace, Debug, Info, Warn, Error });

impl olog::Host for HostState {
    fn log(&mut self, level: olog::Level, message: String) {
        nlog::Host::log(self, level.adapt(), message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_0_3_sanitize_input_drops_what_0_2_never_knew() {
        let input = nsan::SanitizeInput {
            stage: nsan::Stage::Response,
            request: types::ChatRequest {
                model: "gpt-4o".into(),
                messages: vec![],
                stream: true,
                max_tokens: None,
                tags: vec![],
                metadata: vec![],
                extra: vec![],
            },
            caller: types::Caller {
                key_alias: None,
                user: None,
                team: None,
                tags: vec![],
                tier: None,
                metadata: vec![],
            },
            response: vec![],
            window: Some(nsan::StreamWindow {
                choice: 0,
                released: 10,
                overlap: 2,
                last: false,
            }),
            finish_reason: Some("stop".into()),
            context_window: Some(8192),
            estimated_input_tokens: 12,
        };
        let old: osan::SanitizeInput = input.clone().adapt();
        assert_eq!(old.stage, osan::Stage::Response);
        assert_eq!(old.request, input.request);
    }

    #[test]
    fn a_0_2_sanitiser_sees_only_the_held_back_text_of_a_window() {
        let text = |t: &str| types::ContentPart::Text(t.into());
        let mut messages = vec![types::Message {
            role: types::Role::Assistant,
            content: vec![text("é"), text("ab"), text("cdé")],
            name: None,
            extra: vec![],
        }];
        drop_leading_chars(&mut messages, 3);
        assert_eq!(messages[0].content, vec![text(""), text(""), text("cdé")]);
        drop_leading_chars(&mut messages, 2);
        assert_eq!(messages[0].content, vec![text(""), text(""), text("é")]);
        drop_leading_chars(&mut messages, 5);
        assert_eq!(messages[0].content, vec![text(""), text(""), text("")]);
    }

    #[test]
    fn answers_come_back_unchanged() {
        let verdict = osan::Verdict::Deny("no".into());
        assert_eq!(
            Adapt::<nsan::Verdict>::adapt(verdict),
            nsan::Verdict::Deny("no".into())
        );
        let out = oprov::Outbound::Send(oprov::HttpRequest {
            method: "POST".into(),
            url: "https://x".into(),
            headers: vec![oprov::Header {
                name: "a".into(),
                value: "b".into(),
            }],
            body: b"{}".to_vec(),
            framing: oprov::Framing::Bytes,
        });
        let new: nprov::Outbound = out.adapt();
        let nprov::Outbound::Send(req) = new else {
            panic!("expected send");
        };
        assert_eq!(req.framing, nprov::Framing::Bytes);
        assert_eq!(req.headers[0].value, "b");
    }
}
