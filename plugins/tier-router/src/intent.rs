//! The five intents, their built-in English and Portuguese keywords, and
//! how one intent is chosen when a message matches several.

use crate::keywords::Hits;

/// What the customer wants, as far as keywords tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    Greeting,
    Faq,
    Support,
    Sales,
    Technical,
}

impl Intent {
    /// Every intent; an intent's position here is its keyword list index.
    pub const ALL: [Intent; 5] = [
        Intent::Greeting,
        Intent::Faq,
        Intent::Support,
        Intent::Sales,
        Intent::Technical,
    ];

    /// The keyword list index (see [`crate::keywords`]).
    pub fn list(self) -> usize {
        self as usize
    }

    /// The name used in config and in the reason.
    pub fn name(self) -> &'static str {
        match self {
            Intent::Greeting => "greeting",
            Intent::Faq => "faq",
            Intent::Support => "support",
            Intent::Sales => "sales",
            Intent::Technical => "technical",
        }
    }

    /// The tier an intent gives when the config does not say.
    pub fn default_tier(self) -> u8 {
        match self {
            Intent::Greeting | Intent::Faq => 1,
            Intent::Support | Intent::Sales => 2,
            Intent::Technical => 3,
        }
    }

    /// The last tie-break between intents of equal tier and hit count: the
    /// one whose mistakes cost more when under-served wins.
    fn priority(self) -> u8 {
        match self {
            Intent::Greeting => 0,
            Intent::Faq => 1,
            Intent::Sales => 2,
            Intent::Support => 3,
            Intent::Technical => 4,
        }
    }

    /// Built-in keywords, English then Portuguese. Written with accents
    /// for readability; they are folded like the text at init. Plurals and
    /// verb forms are listed because matching is on whole words.
    pub fn default_keywords(self) -> &'static [&'static str] {
        match self {
            Intent::Greeting => &[
                "hi",
                "hello",
                "hey",
                "good morning",
                "good afternoon",
                "good evening",
                "thanks",
                "thank you",
                "bye",
                "olá",
                "oi",
                "bom dia",
                "boa tarde",
                "boa noite",
                "tudo bem",
                "obrigado",
                "obrigada",
                "tchau",
            ],
            Intent::Faq => &[
                "opening hours",
                "business hours",
                "open on",
                "price",
                "prices",
                "how much",
                "shipping",
                "delivery time",
                "address",
                "horário",
                "horários",
                "horário de funcionamento",
                "preço",
                "preços",
                "quanto custa",
                "quanto é",
                "frete",
                "prazo de entrega",
                "endereço",
            ],
            Intent::Support => &[
                "refund",
                "broken",
                "not working",
                "doesn't work",
                "does not work",
                "isn't working",
                "stopped working",
                "problem",
                "issue",
                "complaint",
                "cancel my",
                "damaged",
                "reembolso",
                "estorno",
                "quebrado",
                "quebrou",
                "não funciona",
                "parou de funcionar",
                "problema",
                "defeito",
                "reclamação",
                "cancelar",
            ],
            Intent::Sales => &[
                "buy",
                "purchase",
                "upgrade",
                "plan",
                "plans",
                "quote",
                "subscribe",
                "subscription",
                "discount",
                "demo",
                "comprar",
                "compra",
                "plano",
                "planos",
                "orçamento",
                "assinar",
                "assinatura",
                "desconto",
                "contratar",
            ],
            Intent::Technical => &[
                "api",
                "error",
                "errors",
                "stack trace",
                "traceback",
                "exception",
                "integration",
                "integrate",
                "endpoint",
                "webhook",
                "sdk",
                "status code",
                "erro",
                "erros",
                "exceção",
                "integração",
                "integrar",
                "código de erro",
            ],
        }
    }
}

/// The tier each intent gives, by [`Intent::list`] index.
pub type IntentTiers = [u8; 5];

/// The intent of a text with `hits`: among the intents with at least one
/// keyword, the one with the highest tier (so a greeting in front of a
/// real question never lowers the tier), then the most distinct keywords,
/// then the fixed priority technical > support > sales > faq > greeting.
/// `None` when nothing matched. With `greetings: false`, greetings are
/// ignored (an old "hi" says nothing about a later question).
pub fn pick(hits: &Hits, tiers: &IntentTiers, greetings: bool) -> Option<Intent> {
    Intent::ALL
        .into_iter()
        .filter(|i| hits.of(i.list()) > 0 && (greetings || *i != Intent::Greeting))
        .max_by_key(|i| {
            let tier = tiers.get(i.list()).copied().unwrap_or(0);
            (tier, hits.of(i.list()), i.priority())
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keywords::{LISTS, Matcher};
    use crate::text;

    const TIERS: IntentTiers = [1, 1, 2, 2, 3];

    fn defaults() -> Matcher {
        let mut m = Matcher::default();
        for i in Intent::ALL {
            for k in i.default_keywords() {
                m.add(i.list(), k).unwrap();
            }
        }
        m
    }

    fn intent_of(text_: &str) -> Option<Intent> {
        pick(&defaults().scan(&text::fold(text_)), &TIERS, true)
    }

    #[test]
    fn each_intent_in_english() {
        assert_eq!(intent_of("Hello there!"), Some(Intent::Greeting));
        assert_eq!(intent_of("What are your opening hours?"), Some(Intent::Faq));
        assert_eq!(intent_of("I want a refund"), Some(Intent::Support));
        assert_eq!(
            intent_of("Can I upgrade to the pro plan?"),
            Some(Intent::Sales)
        );
        assert_eq!(intent_of("The API returns a 500"), Some(Intent::Technical));
    }

    #[test]
    fn each_intent_in_portuguese() {
        assert_eq!(intent_of("Olá, bom dia"), Some(Intent::Greeting));
        assert_eq!(intent_of("Quanto custa o frete?"), Some(Intent::Faq));
        assert_eq!(intent_of("O produto não funciona"), Some(Intent::Support));
        assert_eq!(intent_of("Quero um orçamento"), Some(Intent::Sales));
        assert_eq!(intent_of("Deu erro na integração"), Some(Intent::Technical));
    }

    #[test]
    fn portuguese_without_accents_or_in_capitals() {
        assert_eq!(intent_of("NAO FUNCIONA"), Some(Intent::Support));
        assert_eq!(intent_of("integracao quebrada"), Some(Intent::Technical));
        assert_eq!(intent_of("OLÁ"), Some(Intent::Greeting));
    }

    #[test]
    fn nothing_matched_is_none() {
        assert_eq!(intent_of("The weather is nice"), None);
        assert_eq!(intent_of(""), None);
        // Whole words only: "history" holds "hi", "apis" is not "api".
        assert_eq!(intent_of("history of apis"), None);
    }

    #[test]
    fn highest_tier_wins_over_a_greeting() {
        assert_eq!(
            intent_of("Hi, my API integration returns an error"),
            Some(Intent::Technical)
        );
        assert_eq!(intent_of("Oi, quero comprar"), Some(Intent::Sales));
    }

    #[test]
    fn equal_tiers_go_to_more_hits_then_priority() {
        // support (refund) vs sales (plan, upgrade): both tier 2, sales has 2 hits.
        assert_eq!(intent_of("refund or upgrade my plan"), Some(Intent::Sales));
        // One hit each: support outranks sales.
        assert_eq!(intent_of("refund my plan"), Some(Intent::Support));
        // faq vs greeting, one hit each, both tier 1: faq.
        assert_eq!(intent_of("hello, how much?"), Some(Intent::Faq));
    }

    #[test]
    fn configured_tiers_change_the_winner() {
        let hits = defaults().scan(&text::fold("hi, what is the price"));
        assert_eq!(pick(&hits, &[3, 1, 2, 2, 3], true), Some(Intent::Greeting));
    }

    #[test]
    fn greetings_can_be_ignored() {
        let mut h = [0u32; LISTS];
        h[Intent::Greeting.list()] = 2;
        assert_eq!(pick(&Hits(h), &TIERS, false), None);
        assert_eq!(pick(&Hits(h), &TIERS, true), Some(Intent::Greeting));
    }

    #[test]
    fn default_keywords_all_fold_to_words() {
        for i in Intent::ALL {
            for k in i.default_keywords() {
                assert!(!text::fold(k).is_empty(), "{k}");
            }
        }
    }
}
