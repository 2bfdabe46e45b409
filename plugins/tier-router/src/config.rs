//! The router's config section: parsed, checked and compiled once at init,
//! so the route path only reads it.
//!
//! ```yaml
//! tiers:                       # required: every tier 1-4 -> a model group
//!   "1": support-fast
//!   "2": support-standard
//!   "3": support-advanced
//!   "4": support-premium
//! default_tier: 2              # when no intent matches
//! entry_groups: [support]      # optional: only these groups (and the tier
//!                              # groups) are tiered; absent = every group
//! intents:                     # optional, per intent
//!   greeting: {tier: 1, keywords: [howdy], use_defaults: true}
//!   technical: {tier: 3}
//! complexity:
//!   long_prompt_tokens: 1500   # +1 at or above (0 = off)
//!   very_long_prompt_tokens: 6000  # +2 at or above (0 = off)
//!   technical_terms: [graphql] # added to the built-in terms
//!   use_default_terms: true
//!   technical_terms_min: 4     # distinct terms for +1 (0 = off)
//!   code_blocks: true          # a code block gives +1
//!   multi_part_asks: 3         # questions or numbered steps for +1 (0 = off)
//! customers:                   # by `caller.tier`; absent/unknown = standard
//!   standard: {min_tier: 1, max_tier: 4, bump: 0}
//!   vip: {min_tier: 2, bump: 1}
//!   enterprise: {min_tier: 3}
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;
use switchyard_sdk::prelude::JsonSchema;
use switchyard_sdk::types::PluginError;

use crate::complexity::{self, DEFAULT_TERMS};
use crate::intent::{Intent, IntentTiers};
use crate::keywords::{EmptyKeyword, Matcher, TERMS};

/// Tiers run from 1 (fast, cheap) to 4 (premium).
pub const MIN_TIER: u8 = 1;
pub const MAX_TIER: u8 = 4;

/// The largest customer bump either way; more would make the intent
/// irrelevant, which `min_tier` says more plainly.
const MAX_BUMP: i64 = 3;

/// The customer tier used when the caller has none or an unknown one.
pub const STANDARD: &str = "standard";

/// What a customer tier does to the computed tier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    pub name: String,
    pub min_tier: u8,
    pub max_tier: u8,
    pub bump: i8,
}

/// The compiled config.
#[derive(Debug, Clone)]
pub struct Config {
    /// The model group of tier `i + 1`.
    pub groups: [String; 4],
    pub default_tier: u8,
    pub intent_tiers: IntentTiers,
    pub complexity: complexity::Rules,
    /// The rule for callers with no customer tier or an unknown one.
    pub standard: Customer,
    /// Every other customer tier.
    pub customers: Vec<Customer>,
    pub entry_groups: Option<Vec<String>>,
    /// Every intent's keywords and the technical terms, in one index.
    pub matcher: Matcher,
}

impl Config {
    /// The model group of `tier` (clamped into 1..=4).
    pub fn group(&self, tier: u8) -> &str {
        let i = usize::from(tier.clamp(MIN_TIER, MAX_TIER) - 1);
        self.groups.get(i).map_or("", String::as_str)
    }

    /// The customer rule for a caller's tier: matched case-insensitively,
    /// standard when absent or unknown.
    pub fn customer(&self, tier: Option<&str>) -> &Customer {
        let Some(wanted) = tier.map(str::trim) else {
            return &self.standard;
        };
        self.customers
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(wanted))
            .unwrap_or(&self.standard)
    }

    /// Whether requests for `group` are tiered (see the crate docs).
    pub fn tiers_group(&self, group: &str) -> bool {
        match &self.entry_groups {
            None => true,
            Some(entry) => {
                entry.iter().any(|g| g == group) || self.groups.iter().any(|g| g == group)
            }
        }
    }
}

/// The config section as written: SDK 0.3 parses it and derives the JSON
/// Schema `describe` reports from it, so the gateway refuses what the
/// schema refuses before `init`. [`compile`] checks what the schema cannot
/// say and builds the [`Config`] the route path reads.
///
/// Every field is optional so that an empty section can load the plugin
/// unconfigured (see [`Settings::is_empty`]); the schema still asks any
/// other section for `tiers`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "tier-router config",
    description = "Picks a model tier (1 fast/cheap .. 4 premium) from the request's intent, complexity and the caller's customer tier, and routes to that tier's model group.",
    extend("if" = {"minProperties": 1}, "then" = {"required": ["tiers"]})
)]
pub struct Settings {
    // An optional object states its schema with `with = T`: `Option<T>`
    // alone derives `anyOf: [T, null]`, and an error under an `anyOf` does
    // not say which field is at fault. `serde(default)` keeps it optional.
    /// The model group of every tier, "1" to "4". Tiers may share a group.
    #[serde(default)]
    #[schemars(with = "TierGroups")]
    tiers: Option<TierMap>,
    /// The base tier when no intent matches.
    #[schemars(range(min = 1, max = 4), extend("default" = 2))]
    default_tier: Option<i64>,
    /// The model groups whose requests are tiered (besides the tier
    /// groups). Absent: every request is tiered.
    #[schemars(inner(length(min = 1)), extend("uniqueItems" = true))]
    entry_groups: Option<Vec<String>>,
    /// Per intent: its tier and keywords. Keywords match case- and
    /// accent-insensitively on whole words in the last user message.
    #[serde(default)]
    #[schemars(with = "Intents", extend("default" = {}))]
    intents: Option<Intents>,
    /// Signals that raise the tier: +1 long prompt (+2 very long), +1 code
    /// block or many technical terms, +1 multi-part ask. A threshold of 0
    /// turns its signal off.
    #[serde(default)]
    #[schemars(with = "ComplexitySettings", extend("default" = {}))]
    complexity: Option<ComplexitySettings>,
    /// Per customer tier (the caller's `tier`, case-insensitive; absent or
    /// unknown = standard): a bump, then a floor and a cap. Built in:
    /// standard {min_tier 1}, vip {min_tier 2, bump 1}, enterprise
    /// {min_tier 3}; entries here change those field by field or add tiers.
    #[schemars(extend("propertyNames" = {"pattern": "^[a-z0-9_-]{1,32}$"}, "default" = {}))]
    customers: Option<BTreeMap<String, CustomerSettings>>,
}

impl Settings {
    /// Whether the section sets nothing (the host sends `{}` for a plugin
    /// with no config): the plugin then loads but refuses to route.
    pub fn is_empty(&self) -> bool {
        self.tiers.is_none()
            && self.default_tier.is_none()
            && self.entry_groups.is_none()
            && self.intents.is_none()
            && self.complexity.is_none()
            && self.customers.is_none()
    }
}

/// `tiers` as read: a map, so that an error names the tier at fault.
#[derive(Debug, Deserialize)]
#[serde(transparent)]
struct TierMap(BTreeMap<String, String>);

/// Every tier, "1" to "4", and its model group.
// `tiers` as the schema states it: a closed object of the four.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "tiers")]
#[expect(dead_code, reason = "only its derived schema is used")]
struct TierGroups {
    #[serde(rename = "1")]
    #[schemars(length(min = 1))]
    tier1: String,
    #[serde(rename = "2")]
    #[schemars(length(min = 1))]
    tier2: String,
    #[serde(rename = "3")]
    #[schemars(length(min = 1))]
    tier3: String,
    #[serde(rename = "4")]
    #[schemars(length(min = 1))]
    tier4: String,
}

/// The five intents' settings.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "intents")]
struct Intents {
    /// The greeting intent (default tier 1; built-in keywords such as hi,
    /// hello, good morning, olá, oi, bom dia).
    #[serde(default)]
    #[schemars(with = "IntentSettings", extend("default" = {"tier": 1, "keywords": [], "use_defaults": true}))]
    greeting: Option<IntentSettings>,
    /// The faq intent (default tier 1; built-in keywords such as opening
    /// hours, price, how much, horário, quanto custa).
    #[serde(default)]
    #[schemars(with = "IntentSettings", extend("default" = {"tier": 1, "keywords": [], "use_defaults": true}))]
    faq: Option<IntentSettings>,
    /// The support intent (default tier 2; built-in keywords such as
    /// refund, broken, not working, reembolso, não funciona).
    #[serde(default)]
    #[schemars(with = "IntentSettings", extend("default" = {"tier": 2, "keywords": [], "use_defaults": true}))]
    support: Option<IntentSettings>,
    /// The sales intent (default tier 2; built-in keywords such as buy,
    /// upgrade, plan, quote, comprar, plano, orçamento).
    #[serde(default)]
    #[schemars(with = "IntentSettings", extend("default" = {"tier": 2, "keywords": [], "use_defaults": true}))]
    sales: Option<IntentSettings>,
    /// The technical intent (default tier 3; built-in keywords such as
    /// api, error, stack trace, endpoint, erro, integração).
    #[serde(default)]
    #[schemars(with = "IntentSettings", extend("default" = {"tier": 3, "keywords": [], "use_defaults": true}))]
    technical: Option<IntentSettings>,
}

impl Intents {
    fn get(&self, intent: Intent) -> Option<&IntentSettings> {
        match intent {
            Intent::Greeting => self.greeting.as_ref(),
            Intent::Faq => self.faq.as_ref(),
            Intent::Support => self.support.as_ref(),
            Intent::Sales => self.sales.as_ref(),
            Intent::Technical => self.technical.as_ref(),
        }
    }
}

/// One intent's tier and keywords.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "intent")]
struct IntentSettings {
    /// The intent's base tier.
    #[schemars(range(min = 1, max = 4))]
    tier: Option<i64>,
    /// Keywords added to the built-in ones (or used alone with
    /// use_defaults: false).
    #[serde(default)]
    #[schemars(inner(length(min = 1)))]
    keywords: Vec<String>,
    /// Whether the built-in English and Portuguese keywords are used. false
    /// with no keywords turns the intent off.
    #[serde(default = "yes")]
    use_defaults: bool,
}

/// The complexity signals' thresholds and switches.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "complexity")]
struct ComplexitySettings {
    /// +1 at or above this many estimated input tokens.
    #[schemars(extend("default" = 1500))]
    long_prompt_tokens: Option<u64>,
    /// +2 (instead of +1) at or above this many; must be above
    /// long_prompt_tokens.
    #[schemars(extend("default" = 6000))]
    very_long_prompt_tokens: Option<u64>,
    /// Terms added to the built-in English and Portuguese technical
    /// vocabulary.
    #[serde(default)]
    #[schemars(inner(length(min = 1)))]
    technical_terms: Vec<String>,
    /// Whether the built-in technical terms are used.
    #[serde(default = "yes")]
    use_default_terms: bool,
    /// Distinct technical terms in the last user message for +1.
    #[schemars(extend("default" = 4))]
    technical_terms_min: Option<u32>,
    /// Whether a code block (``` fence or indented code) gives +1.
    #[schemars(extend("default" = true))]
    code_blocks: Option<bool>,
    /// Questions plus numbered steps in the last user message for +1.
    #[schemars(extend("default" = 3))]
    multi_part_asks: Option<u32>,
}

impl Default for ComplexitySettings {
    fn default() -> Self {
        ComplexitySettings {
            long_prompt_tokens: None,
            very_long_prompt_tokens: None,
            technical_terms: Vec::new(),
            use_default_terms: true,
            technical_terms_min: None,
            code_blocks: None,
            multi_part_asks: None,
        }
    }
}

/// One customer tier's changes to the built-in rule (or a new tier's rule).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "customer")]
struct CustomerSettings {
    /// The lowest tier this customer gets.
    #[schemars(range(min = 1, max = 4), extend("default" = 1))]
    min_tier: Option<i64>,
    /// The highest tier this customer gets.
    #[schemars(range(min = 1, max = 4), extend("default" = 4))]
    max_tier: Option<i64>,
    /// Added to the tier before the floor and cap.
    #[schemars(range(min = -3, max = 3), extend("default" = 0))]
    bump: Option<i64>,
}

fn yes() -> bool {
    true
}

fn invalid(message: String) -> PluginError {
    PluginError::InvalidConfig(message)
}

/// A tier number from config, checked.
fn tier(value: i64, at: &str) -> Result<u8, PluginError> {
    match u8::try_from(value) {
        Ok(t) if (MIN_TIER..=MAX_TIER).contains(&t) => Ok(t),
        _ => Err(invalid(format!("{at}: {value} is not a tier (1 to 4)"))),
    }
}

fn valid_customer_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 32
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// Checks the section and compiles it (once per instance, so the route
/// path only reads).
pub fn compile(settings: Settings) -> Result<Config, PluginError> {
    let groups = parse_tiers(settings.tiers.map(|t| t.0))?;
    let default_tier = tier(settings.default_tier.unwrap_or(2), "default_tier")?;

    let intents = settings.intents.unwrap_or_default();
    let mut matcher = Matcher::default();
    let mut intent_tiers: IntentTiers = [0; 5];
    for intent in Intent::ALL {
        let rule = intents.get(intent);
        let at = format!("intents.{}", intent.name());
        let t = match rule.and_then(|r| r.tier) {
            Some(v) => tier(v, &format!("{at}.tier"))?,
            None => intent.default_tier(),
        };
        if let Some(slot) = intent_tiers.get_mut(intent.list()) {
            *slot = t;
        }
        let use_defaults = rule.is_none_or(|r| r.use_defaults);
        let extra = rule.map_or(&[][..], |r| r.keywords.as_slice());
        add_keywords(
            &mut matcher,
            intent.list(),
            use_defaults,
            intent.default_keywords(),
            extra,
        )
        .map_err(|EmptyKeyword(k)| {
            invalid(format!("{at}.keywords: {k:?} has no letters or digits"))
        })?;
    }

    let c = settings.complexity.unwrap_or_default();
    add_keywords(
        &mut matcher,
        TERMS,
        c.use_default_terms,
        DEFAULT_TERMS,
        &c.technical_terms,
    )
    .map_err(|EmptyKeyword(k)| {
        invalid(format!(
            "complexity.technical_terms: {k:?} has no letters or digits"
        ))
    })?;
    let defaults = complexity::Rules::default();
    let rules = complexity::Rules {
        long_prompt_tokens: c.long_prompt_tokens.unwrap_or(defaults.long_prompt_tokens),
        very_long_prompt_tokens: c
            .very_long_prompt_tokens
            .unwrap_or(defaults.very_long_prompt_tokens),
        technical_terms_min: c
            .technical_terms_min
            .unwrap_or(defaults.technical_terms_min),
        code_blocks: c.code_blocks.unwrap_or(defaults.code_blocks),
        multi_part_asks: c.multi_part_asks.unwrap_or(defaults.multi_part_asks),
    };
    if rules.long_prompt_tokens > 0
        && rules.very_long_prompt_tokens > 0
        && rules.very_long_prompt_tokens <= rules.long_prompt_tokens
    {
        return Err(invalid(format!(
            "complexity.very_long_prompt_tokens ({}) must be above long_prompt_tokens ({})",
            rules.very_long_prompt_tokens, rules.long_prompt_tokens
        )));
    }

    let (standard, customers) = parse_customers(settings.customers.unwrap_or_default())?;

    if let Some(entry) = &settings.entry_groups
        && entry.iter().any(|g| g.is_empty())
    {
        return Err(invalid("entry_groups: a model group name is empty".into()));
    }

    Ok(Config {
        groups,
        default_tier,
        intent_tiers,
        complexity: rules,
        standard,
        customers,
        entry_groups: settings.entry_groups,
        matcher,
    })
}

/// Parses and compiles a section as `init` does (for native tests).
#[cfg(test)]
pub fn parse(config: &str) -> Result<Config, PluginError> {
    compile(switchyard_sdk::typed::parse(config)?)
}

fn parse_tiers(tiers: Option<BTreeMap<String, String>>) -> Result<[String; 4], PluginError> {
    let Some(tiers) = tiers else {
        return Err(invalid(
            "tiers is required: map every tier \"1\" to \"4\" to a model group".into(),
        ));
    };
    if let Some(key) = tiers
        .keys()
        .find(|k| !matches!(k.as_str(), "1" | "2" | "3" | "4"))
    {
        return Err(invalid(format!(
            "tiers: {key:?} is not a tier (use \"1\" to \"4\")"
        )));
    }
    let group = |t: u8| -> Result<String, PluginError> {
        match tiers.get(&t.to_string()) {
            None => Err(invalid(format!(
                "tiers: tier {t} is missing; map every tier \"1\" to \"4\" to a model group"
            ))),
            Some(g) if g.is_empty() => {
                Err(invalid(format!("tiers: tier {t} has an empty model group")))
            }
            Some(g) => Ok(g.clone()),
        }
    };
    Ok([group(1)?, group(2)?, group(3)?, group(4)?])
}

fn add_keywords(
    matcher: &mut Matcher,
    list: usize,
    use_defaults: bool,
    defaults: &[&str],
    extra: &[String],
) -> Result<(), EmptyKeyword> {
    if use_defaults {
        for k in defaults {
            matcher.add(list, k)?;
        }
    }
    for k in extra {
        matcher.add(list, k)?;
    }
    Ok(())
}

fn parse_customers(
    raw: BTreeMap<String, CustomerSettings>,
) -> Result<(Customer, Vec<Customer>), PluginError> {
    let customer = |name: &str, min_tier: u8, bump: i8| Customer {
        name: name.to_string(),
        min_tier,
        max_tier: MAX_TIER,
        bump,
    };
    let mut standard = customer(STANDARD, MIN_TIER, 0);
    let mut others = vec![customer("vip", 2, 1), customer("enterprise", 3, 0)];
    for (name, r) in raw {
        if !valid_customer_name(&name) {
            return Err(invalid(format!(
                "customers: {name:?} is not a valid name (lower-case letters, digits, '-' and '_', at most 32)"
            )));
        }
        let at = format!("customers.{name}");
        let c = if name == STANDARD {
            &mut standard
        } else if let Some(i) = others.iter().position(|c| c.name == name) {
            match others.get_mut(i) {
                Some(c) => c,
                None => continue,
            }
        } else {
            others.push(customer(&name, MIN_TIER, 0));
            match others.last_mut() {
                Some(c) => c,
                None => continue,
            }
        };
        if let Some(v) = r.min_tier {
            c.min_tier = tier(v, &format!("{at}.min_tier"))?;
        }
        if let Some(v) = r.max_tier {
            c.max_tier = tier(v, &format!("{at}.max_tier"))?;
        }
        if let Some(v) = r.bump {
            c.bump = match i8::try_from(v) {
                Ok(b) if i64::from(b).abs() <= MAX_BUMP => b,
                _ => return Err(invalid(format!("{at}.bump: {v} is outside -3 to 3"))),
            };
        }
        if c.min_tier > c.max_tier {
            return Err(invalid(format!(
                "{at}: min_tier {} is above max_tier {}",
                c.min_tier, c.max_tier
            )));
        }
    }
    Ok((standard, others))
}

#[cfg(test)]
mod tests {
    use super::*;

    pub const TIERS: &str = r#""tiers":{"1":"t1","2":"t2","3":"t3","4":"t4"}"#;

    fn with(rest: &str) -> Result<Config, PluginError> {
        if rest.is_empty() {
            parse(&format!("{{{TIERS}}}"))
        } else {
            parse(&format!("{{{TIERS},{rest}}}"))
        }
    }

    fn message(r: Result<Config, PluginError>) -> String {
        match r {
            Err(PluginError::InvalidConfig(m)) => m,
            Err(other) => format!("wrong error kind: {other:?}"),
            Ok(_) => "no error".into(),
        }
    }

    #[test]
    fn minimal_config_gets_every_default() {
        let c = with("").unwrap();
        assert_eq!(c.groups, ["t1", "t2", "t3", "t4"]);
        assert_eq!(c.default_tier, 2);
        assert_eq!(c.intent_tiers, [1, 1, 2, 2, 3]);
        assert_eq!(c.complexity, complexity::Rules::default());
        assert_eq!(c.entry_groups, None);
        assert_eq!(c.standard.name, "standard");
        let names: Vec<&str> = c.customers.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["vip", "enterprise"]);
        assert_eq!(c.customer(Some("vip")).bump, 1);
        assert_eq!(c.customer(Some("enterprise")).min_tier, 3);
    }

    #[test]
    fn tiers_are_required_and_complete() {
        assert!(message(parse("{}")).contains("tiers is required"));
        let m = message(parse(r#"{"tiers":{"1":"a","2":"b","4":"d"}}"#));
        assert!(m.contains("tier 3 is missing"), "{m}");
        let m = message(parse(
            r#"{"tiers":{"1":"a","2":"b","3":"c","4":"d","5":"e"}}"#,
        ));
        assert!(m.contains(r#""5" is not a tier"#), "{m}");
        let m = message(parse(r#"{"tiers":{"1":"a","2":"","3":"c","4":"d"}}"#));
        assert!(m.contains("tier 2 has an empty model group"), "{m}");
        // Tiers may share a group.
        let c = parse(r#"{"tiers":{"1":"a","2":"a","3":"b","4":"b"}}"#).unwrap();
        assert_eq!((c.group(2), c.group(3)), ("a", "b"));
    }

    #[test]
    fn group_clamps_the_tier() {
        let c = with("").unwrap();
        assert_eq!(
            (c.group(0), c.group(1), c.group(4), c.group(9)),
            ("t1", "t1", "t4", "t4")
        );
    }

    #[test]
    fn tier_numbers_are_checked_everywhere() {
        assert!(message(with(r#""default_tier":5"#)).contains("default_tier: 5 is not a tier"));
        assert!(message(with(r#""default_tier":-1"#)).contains("default_tier: -1 is not a tier"));
        let m = message(with(r#""intents":{"faq":{"tier":0}}"#));
        assert!(m.contains("intents.faq.tier: 0 is not a tier"), "{m}");
        let m = message(with(r#""customers":{"vip":{"min_tier":9}}"#));
        assert!(m.contains("customers.vip.min_tier: 9"), "{m}");
    }

    #[test]
    fn intents_override_tier_and_extend_or_replace_keywords() {
        let c = with(r#""intents":{"greeting":{"tier":2,"keywords":["howdy"]},"faq":{"use_defaults":false,"keywords":["menu"]}}"#)
            .unwrap();
        assert_eq!(c.intent_tiers[Intent::Greeting.list()], 2);
        let hits = |t: &str| c.matcher.scan(&crate::text::fold(t));
        assert_eq!(hits("howdy").of(Intent::Greeting.list()), 1);
        assert_eq!(hits("hello").of(Intent::Greeting.list()), 1);
        assert_eq!(hits("menu").of(Intent::Faq.list()), 1);
        assert_eq!(hits("how much").of(Intent::Faq.list()), 0);
    }

    #[test]
    fn empty_keywords_and_unknown_intents_are_rejected() {
        let m = message(with(r#""intents":{"sales":{"keywords":["!!"]}}"#));
        assert!(
            m.contains(r#"intents.sales.keywords: "!!" has no letters or digits"#),
            "{m}"
        );
        let m = message(with(r#""complexity":{"technical_terms":["--"]}"#));
        assert!(m.contains("complexity.technical_terms"), "{m}");
        let m = message(with(r#""intents":{"billing":{"tier":2}}"#));
        assert!(m.contains("unknown field `billing`"), "{m}");
    }

    #[test]
    fn complexity_overrides_and_ordering_of_thresholds() {
        let c = with(r#""complexity":{"long_prompt_tokens":100,"very_long_prompt_tokens":0,"code_blocks":false}"#)
            .unwrap();
        assert_eq!(c.complexity.long_prompt_tokens, 100);
        assert_eq!(c.complexity.very_long_prompt_tokens, 0);
        assert!(!c.complexity.code_blocks);
        let m = message(with(
            r#""complexity":{"long_prompt_tokens":2000,"very_long_prompt_tokens":2000}"#,
        ));
        assert!(
            m.contains("very_long_prompt_tokens (2000) must be above long_prompt_tokens (2000)"),
            "{m}"
        );
    }

    #[test]
    fn customers_merge_with_the_defaults_field_by_field() {
        let c = with(r#""customers":{"vip":{"bump":0},"gold":{"min_tier":3,"bump":1},"standard":{"max_tier":3}}"#)
            .unwrap();
        let vip = c.customer(Some("vip"));
        assert_eq!((vip.min_tier, vip.bump), (2, 0));
        let gold = c.customer(Some(" GOLD "));
        assert_eq!(
            (gold.name.as_str(), gold.min_tier, gold.max_tier, gold.bump),
            ("gold", 3, 4, 1)
        );
        assert_eq!(c.customer(None).max_tier, 3);
        assert_eq!(c.customer(Some("platinum")).name, "standard");
    }

    #[test]
    fn customer_errors() {
        let m = message(with(r#""customers":{"vip":{"min_tier":4,"max_tier":3}}"#));
        assert!(
            m.contains("customers.vip: min_tier 4 is above max_tier 3"),
            "{m}"
        );
        let m = message(with(r#""customers":{"vip":{"bump":4}}"#));
        assert!(
            m.contains("customers.vip.bump: 4 is outside -3 to 3"),
            "{m}"
        );
        let m = message(with(r#""customers":{"VIP Gold":{}}"#));
        assert!(m.contains(r#""VIP Gold" is not a valid name"#), "{m}");
        let m = message(with(r#""customers":{"vip":{"floor":2}}"#));
        assert!(m.contains("unknown field `floor`"), "{m}");
    }

    #[test]
    fn entry_groups_scope_tiering() {
        let c = with(r#""entry_groups":["support"]"#).unwrap();
        assert!(c.tiers_group("support"));
        assert!(c.tiers_group("t3"));
        assert!(!c.tiers_group("gpt-4o"));
        assert!(with("").unwrap().tiers_group("anything"));
        assert!(message(with(r#""entry_groups":[""]"#)).contains("entry_groups"));
    }

    #[test]
    fn unknown_fields_and_bad_json_are_rejected() {
        assert!(message(with(r#""default":2"#)).contains("unknown field `default`"));
        assert!(!message(parse("not json")).is_empty());
        assert!(
            message(with(r#""complexity":{"long_prompt_tokens":-5}"#)).contains("invalid value")
        );
    }

    /// The derived schema refuses what the hand-written one refused.
    #[test]
    fn schema_has_the_defaults_bounds_and_closed_objects() {
        let text = switchyard_sdk::typed::schema::<Settings>();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["title"], "tier-router config");
        assert_eq!(v["additionalProperties"], false);
        // Empty loads unconfigured; anything else names the tiers.
        assert_eq!(v["if"]["minProperties"], 1);
        assert_eq!(v["then"]["required"], serde_json::json!(["tiers"]));
        assert!(v.get("required").is_none(), "{v}");
        let tiers = &v["$defs"]["tiers"];
        assert_eq!(tiers["required"], serde_json::json!(["1", "2", "3", "4"]));
        assert_eq!(tiers["additionalProperties"], false);
        assert_eq!(tiers["properties"]["4"]["minLength"], 1);
        let default_tier = &v["properties"]["default_tier"];
        assert_eq!(
            (&default_tier["minimum"], &default_tier["maximum"]),
            (&serde_json::json!(1), &serde_json::json!(4))
        );
        assert_eq!(default_tier["default"], 2);
        assert_eq!(v["properties"]["entry_groups"]["uniqueItems"], true);
        assert_eq!(v["properties"]["entry_groups"]["items"]["minLength"], 1);
        assert_eq!(
            v["properties"]["customers"]["propertyNames"]["pattern"],
            "^[a-z0-9_-]{1,32}$"
        );
        let complexity = &v["$defs"]["complexity"];
        assert_eq!(complexity["additionalProperties"], false);
        assert_eq!(
            complexity["properties"]["long_prompt_tokens"]["default"],
            1500
        );
        assert_eq!(complexity["properties"]["long_prompt_tokens"]["minimum"], 0);
        assert_eq!(v["$defs"]["intents"]["additionalProperties"], false);
        assert_eq!(
            v["$defs"]["intents"]["properties"]["technical"]["default"]["tier"],
            3
        );
        let intent = &v["$defs"]["intent"];
        assert_eq!(intent["additionalProperties"], false);
        assert_eq!(intent["properties"]["tier"]["maximum"], 4);
        assert_eq!(intent["properties"]["keywords"]["items"]["minLength"], 1);
        let customer = &v["$defs"]["customer"];
        assert_eq!(customer["additionalProperties"], false);
        assert_eq!(customer["properties"]["bump"]["minimum"], -3);
        assert_eq!(customer["properties"]["bump"]["maximum"], 3);
    }
}
