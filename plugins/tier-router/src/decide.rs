//! From a request to a tier, and the reason that explains it.
//!
//! The precedence is fixed (see the crate docs): intent base tier, plus
//! complexity, plus the customer's bump, clamped to 1..=4, then raised to
//! the customer's `min_tier` and lowered to its `max_tier`.

use std::fmt::Write as _;

use switchyard_sdk::router::RouteRequest;
use switchyard_sdk::types::{ContentPart, Message, Role};

use crate::complexity::{self, Complexity};
use crate::config::{Config, Customer, MAX_TIER, MIN_TIER};
use crate::intent::{self, Intent};
use crate::keywords::TERMS;
use crate::text;

/// How many user messages before the last one may supply the intent when
/// the last matches none. Older turns rarely describe the current ask, and
/// the bound keeps the work per request small.
pub const EARLIER_MESSAGES: usize = 3;

/// Where the base tier came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base {
    /// The last user message matched an intent.
    Intent(Intent),
    /// An earlier user message did (the last matched none).
    EarlierIntent(Intent),
    /// Nothing matched: `default_tier`.
    Default,
}

impl Base {
    pub fn intent(self) -> Option<Intent> {
        match self {
            Base::Intent(i) | Base::EarlierIntent(i) => Some(i),
            Base::Default => None,
        }
    }
}

/// A computed tier and everything that went into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision<'c> {
    pub tier: u8,
    pub base: Base,
    pub complexity: Complexity,
    pub customer: &'c Customer,
    /// The customer's floor raised the tier.
    pub floored: bool,
    /// The customer's cap lowered the tier.
    pub capped: bool,
}

/// Decides the tier of `request`.
pub fn decide<'c>(config: &'c Config, request: &RouteRequest) -> Decision<'c> {
    let messages = &request.request.messages;
    let mut users = messages
        .iter()
        .rev()
        .filter(|m| matches!(m.role, Role::User));
    let last = users.next();

    // One buffer, reused for each message that is folded.
    let mut folded = String::new();
    let (mut base, terms, structure) = match last {
        Some(m) => {
            fold_message(m, &mut folded);
            let hits = config.matcher.scan(&folded);
            let base =
                intent::pick(&hits, &config.intent_tiers, true).map_or(Base::Default, Base::Intent);
            (base, hits.of(TERMS), structure_of(m))
        }
        None => (Base::Default, 0, complexity::Structure::default()),
    };
    if base == Base::Default {
        for m in users.take(EARLIER_MESSAGES) {
            folded.clear();
            fold_message(m, &mut folded);
            // A greeting belongs to the turn it was said in.
            if let Some(i) =
                intent::pick(&config.matcher.scan(&folded), &config.intent_tiers, false)
            {
                base = Base::EarlierIntent(i);
                break;
            }
        }
    }

    let base_tier = match base.intent() {
        Some(i) => config
            .intent_tiers
            .get(i.list())
            .copied()
            .unwrap_or(config.default_tier),
        None => config.default_tier,
    };
    let complexity = complexity::assess(
        &config.complexity,
        request.estimated_input_tokens,
        structure,
        terms,
    );
    let customer = config.customer(request.caller.tier.as_deref());

    let raw = i16::from(base_tier) + i16::from(complexity.bump()) + i16::from(customer.bump);
    let clamped = raw.clamp(i16::from(MIN_TIER), i16::from(MAX_TIER)) as u8;
    // Floor, then cap (`parse` guarantees min_tier <= max_tier).
    let tier = clamped.max(customer.min_tier).min(customer.max_tier);
    Decision {
        tier,
        base,
        complexity,
        customer,
        floored: tier > clamped,
        capped: tier < clamped,
    }
}

/// Folds the text parts of `m` into `out` (images and other parts carry no
/// words).
fn fold_message(m: &Message, out: &mut String) {
    for part in &m.content {
        if let ContentPart::Text(t) = part {
            text::fold_into(t, out);
        }
    }
}

/// Code and asks over the text parts of `m`.
fn structure_of(m: &Message) -> complexity::Structure {
    let mut total = complexity::Structure::default();
    for part in &m.content {
        if let ContentPart::Text(t) = part {
            let s = complexity::structure(t);
            total.code |= s.code;
            total.asks += s.asks;
        }
    }
    total
}

/// The longest reason, in bytes: it travels in a response header.
pub const MAX_REASON: usize = 119;

impl Decision<'_> {
    /// `tier 3 -> support-advanced: intent technical, complexity +1 (code),
    /// customer vip +1`: short, ASCII, one line, at most [`MAX_REASON`]
    /// bytes (cut if a long group name would make it longer).
    pub fn reason(&self, group: &str) -> String {
        let mut r = String::with_capacity(MAX_REASON + 1);
        let _ = write!(r, "tier {} -> ", self.tier);
        push_ascii(&mut r, group);
        match self.base {
            Base::Intent(i) => {
                let _ = write!(r, ": intent {}", i.name());
            }
            Base::EarlierIntent(i) => {
                let _ = write!(r, ": intent {} (earlier message)", i.name());
            }
            Base::Default => r.push_str(": no intent (default)"),
        }
        let bump = self.complexity.bump();
        if bump > 0 {
            let _ = write!(r, ", complexity +{bump} (");
            for (n, label) in self.complexity.labels().enumerate() {
                if n > 0 {
                    r.push_str(", ");
                }
                r.push_str(label);
            }
            r.push(')');
        }
        r.push_str(", customer ");
        push_ascii(&mut r, &self.customer.name);
        if self.customer.bump != 0 {
            let _ = write!(r, " {:+}", self.customer.bump);
        }
        if self.floored {
            let _ = write!(r, " floor {}", self.customer.min_tier);
        }
        if self.capped {
            let _ = write!(r, " cap {}", self.customer.max_tier);
        }
        r.truncate(MAX_REASON);
        r
    }
}

/// Appends `s` with anything but printable ASCII replaced by `?`, so a
/// model group's name cannot break the header.
pub fn push_ascii(out: &mut String, s: &str) {
    out.extend(s.chars().map(|c| {
        if c == ' ' || c.is_ascii_graphic() {
            c
        } else {
            '?'
        }
    }));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config;
    use crate::tests::{request, user};
    use switchyard_sdk::testing::{message, text};

    fn config(extra: &str) -> Config {
        let tiers = r#""tiers":{"1":"fast","2":"standard","3":"advanced","4":"premium"}"#;
        let json = if extra.is_empty() {
            format!("{{{tiers}}}")
        } else {
            format!("{{{tiers},{extra}}}")
        };
        config::parse(&json).unwrap()
    }

    fn tier_and_reason(c: &Config, req: &RouteRequest) -> (u8, String) {
        let d = decide(c, req);
        (d.tier, d.reason(c.group(d.tier)))
    }

    #[test]
    fn each_intent_gives_its_tier() {
        let c = config("");
        for (text_, tier, intent) in [
            ("good morning", 1, "greeting"),
            ("bom dia!", 1, "greeting"),
            ("what are your opening hours", 1, "faq"),
            ("qual o horário de funcionamento?", 1, "faq"),
            ("my order arrived broken", 2, "support"),
            ("quero reembolso", 2, "support"),
            ("I'd like a quote for 10 seats", 2, "sales"),
            ("quero contratar o plano anual", 2, "sales"),
            ("the endpoint returns 401", 3, "technical"),
            ("recebo um erro 401", 3, "technical"),
        ] {
            let (t, r) = tier_and_reason(&c, &request(vec![user(text_)]));
            assert_eq!(t, tier, "{text_}");
            assert!(
                r.contains(&format!(": intent {intent}, customer standard")),
                "{text_}: {r}"
            );
        }
    }

    #[test]
    fn no_intent_uses_the_default_tier() {
        let c = config(r#""default_tier":3"#);
        let (t, r) = tier_and_reason(&c, &request(vec![user("tell me a story")]));
        assert_eq!(t, 3);
        assert_eq!(
            r,
            "tier 3 -> advanced: no intent (default), customer standard"
        );
        // No user message at all.
        let (t, _) = tier_and_reason(&c, &request(vec![]));
        assert_eq!(t, 3);
    }

    #[test]
    fn the_last_user_message_decides() {
        let c = config("");
        let msgs = vec![
            user("the API fails"),
            text(Role::Assistant, "Try again"),
            user("thanks, bye"),
        ];
        assert_eq!(
            decide(&c, &request(msgs)).base,
            Base::Intent(Intent::Greeting)
        );
    }

    #[test]
    fn earlier_messages_supply_an_intent_but_not_a_greeting() {
        let c = config("");
        let msgs = vec![
            user("a integração não conecta"),
            text(Role::Assistant, "Qual mensagem aparece?"),
            user("aparece isso aqui"),
        ];
        let (t, r) = tier_and_reason(&c, &request(msgs));
        assert_eq!(t, 3);
        assert_eq!(
            r,
            "tier 3 -> advanced: intent technical (earlier message), customer standard"
        );
        let msgs = vec![user("hello"), user("my order number is 123")];
        assert_eq!(decide(&c, &request(msgs)).base, Base::Default);
        // Only the last EARLIER_MESSAGES user messages are read.
        let mut msgs = vec![user("refund")];
        msgs.extend((0..EARLIER_MESSAGES).map(|_| user("ok")));
        msgs.push(user("and?"));
        assert_eq!(decide(&c, &request(msgs)).base, Base::Default);
    }

    #[test]
    fn system_and_assistant_text_is_ignored() {
        let c = config("");
        let msgs = vec![
            text(Role::System, "You help with API errors and refunds."),
            text(Role::Assistant, "Hello!"),
        ];
        assert_eq!(decide(&c, &request(msgs)).base, Base::Default);
    }

    #[test]
    fn complexity_bumps_the_intent_tier() {
        let c = config("");
        let mut req = request(vec![user("hello")]);
        req.estimated_input_tokens = 1500;
        assert_eq!(
            tier_and_reason(&c, &req),
            (2, "tier 2 -> standard: intent greeting, complexity +1 (long prompt), customer standard".into())
        );
        req.estimated_input_tokens = 6000;
        assert_eq!(decide(&c, &req).tier, 3);
        let req = request(vec![user("how much?\n```\nlet x = 1;\n```")]);
        assert_eq!(
            tier_and_reason(&c, &req),
            (
                2,
                "tier 2 -> standard: intent faq, complexity +1 (code), customer standard".into()
            )
        );
        let req = request(vec![user(
            "Preciso de ajuda: json, oauth, docker e servidor",
        )]);
        assert_eq!(
            tier_and_reason(&c, &req),
            (3, "tier 3 -> advanced: no intent (default), complexity +1 (technical terms), customer standard".into())
        );
        let req = request(vec![user("Qual o preço? Tem frete? Aceita pix?")]);
        assert_eq!(
            tier_and_reason(&c, &req),
            (
                2,
                "tier 2 -> standard: intent faq, complexity +1 (multi-part), customer standard"
                    .into()
            )
        );
    }

    #[test]
    fn customers_bump_floor_and_cap() {
        let c = config(r#""customers":{"standard":{"max_tier":3}}"#);
        let mut req = request(vec![user("hi")]);
        req.caller.tier = Some("vip".into());
        assert_eq!(
            tier_and_reason(&c, &req),
            (
                2,
                "tier 2 -> standard: intent greeting, customer vip +1".into()
            )
        );
        req.caller.tier = Some("Enterprise".into());
        assert_eq!(
            tier_and_reason(&c, &req),
            (
                3,
                "tier 3 -> advanced: intent greeting, customer enterprise floor 3".into()
            )
        );
        // Unknown tiers are standard; standard is capped at 3 here.
        req.caller.tier = Some("platinum".into());
        req.estimated_input_tokens = 10_000;
        let mut req2 = req.clone();
        req2.request.messages = vec![user("the API returns an error")];
        assert_eq!(
            tier_and_reason(&c, &req2),
            (3, "tier 3 -> advanced: intent technical, complexity +2 (very long prompt), customer standard cap 3".into())
        );
    }

    #[test]
    fn clamps_to_one_and_four() {
        let c = config(r#""customers":{"trial":{"bump":-3}}"#);
        let mut req = request(vec![user("hi")]);
        req.caller.tier = Some("trial".into());
        assert_eq!(
            tier_and_reason(&c, &req),
            (
                1,
                "tier 1 -> fast: intent greeting, customer trial -3".into()
            )
        );
        let mut req = request(vec![user("API error?\n1. a\n2. b\n```\nx\n```")]);
        req.estimated_input_tokens = 9000;
        req.caller.tier = Some("vip".into());
        let d = decide(&c, &req);
        assert_eq!((d.tier, d.complexity.bump()), (4, 4));
        assert_eq!(
            d.reason(c.group(d.tier)),
            "tier 4 -> premium: intent technical, complexity +4 (very long prompt, code, multi-part), customer vip +1"
        );
    }

    #[test]
    fn reason_is_short_ascii_on_one_line() {
        let long = "g".repeat(200);
        let c = config("");
        let mut d = decide(&c, &request(vec![user("hi")]));
        let r = d.reason(&long);
        assert_eq!(r.len(), MAX_REASON);
        let r = d.reason("grupo-ação\nx");
        assert_eq!(
            r,
            "tier 1 -> grupo-a??o?x: intent greeting, customer standard"
        );
        d.floored = true;
        d.capped = true;
        assert!(d.reason("g").ends_with("customer standard floor 1 cap 4"));
    }

    #[test]
    fn text_parts_are_joined_and_images_ignored() {
        let c = config("");
        let msg = message(
            Role::User,
            vec![
                ContentPart::ImageUrl("https://x/y.png".into()),
                ContentPart::Text("não".into()),
                ContentPart::Text("funciona".into()),
            ],
        );
        assert_eq!(
            decide(&c, &request(vec![msg])).base,
            Base::Intent(Intent::Support)
        );
    }
}
