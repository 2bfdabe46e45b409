//! The sanitiser's config: which detectors are on, whether a match is
//! redacted or denies the call, and what happens to answers.
//!
//! [`Settings`] is the section as written (SDK 0.3 parses it and derives
//! the schema `describe` reports from it); [`Config`] is what the sanitiser
//! reads on every call, a few bits.

use serde::Deserialize;
use switchyard_sdk::prelude::JsonSchema;

/// What a detector finds: `email`, `phone`, `card` (Luhn-valid), `cpf` and
/// `cnpj` (check digits valid).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Email,
    Phone,
    Card,
    Cpf,
    Cnpj,
}

impl Kind {
    pub const ALL: [Kind; 5] = [Kind::Email, Kind::Phone, Kind::Card, Kind::Cpf, Kind::Cnpj];

    pub fn bit(self) -> u8 {
        1 << (self as u8)
    }

    /// The text that replaces a match.
    pub fn placeholder(self) -> &'static str {
        match self {
            Kind::Email => "[EMAIL]",
            Kind::Phone => "[PHONE]",
            Kind::Card => "[CARD]",
            Kind::Cpf => "[CPF]",
            Kind::Cnpj => "[CNPJ]",
        }
    }

    /// What a deny reason calls it.
    pub fn description(self) -> &'static str {
        match self {
            Kind::Email => "e-mail address",
            Kind::Phone => "phone number",
            Kind::Card => "payment card number",
            Kind::Cpf => "CPF",
            Kind::Cnpj => "CNPJ",
        }
    }
}

/// A set of kinds, as bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kinds(pub u8);

impl Kinds {
    pub const NONE: Kinds = Kinds(0);
    pub const ALL: Kinds = Kinds(0b1_1111);

    pub fn has(self, k: Kind) -> bool {
        self.0 & k.bit() != 0
    }

    pub fn with(self, k: Kind) -> Kinds {
        Kinds(self.0 | k.bit())
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether any detector that reads digits is on.
    pub fn any_number(self) -> bool {
        self.0 & !Kind::Email.bit() != 0
    }

    pub fn iter(self) -> impl Iterator<Item = Kind> {
        Kind::ALL.into_iter().filter(move |k| self.has(*k))
    }
}

/// What a match does: redact replaces it with [EMAIL], [PHONE], [CARD],
/// [CPF] or [CNPJ]; deny refuses the call, naming what was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    // Plain comments, not docs: documented variants would make the schema
    // a `oneOf`, whose error does not list the choices as an `enum` does.
    // Replace what was found with a placeholder.
    #[default]
    Redact,
    // Refuse the call, naming what kinds were found (never the values).
    Deny,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    pub detectors: Kinds,
    pub mode: Mode,
    /// Number the request's placeholders (`[EMAIL_1]`) and put the values
    /// back in the answer (response stage).
    pub restore: bool,
    /// Redact personal data the model writes (response stage).
    pub redact_output: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            detectors: Kinds::ALL,
            mode: Mode::Redact,
            restore: false,
            redact_output: true,
        }
    }
}

/// Finds e-mail addresses, phone numbers, card numbers and CPF/CNPJ in
/// every text part, and redacts them or denies the call.
// The section as written; `Config` is what a call reads.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "pii-redactor config")]
pub struct Settings {
    /// Detectors that are on (all when absent): email, phone, card
    /// (Luhn-valid), cpf and cnpj (check digits valid).
    #[serde(default)]
    #[schemars(
        with = "Vec<Kind>",
        extend("uniqueItems" = true, "default" = ["email", "phone", "card", "cpf", "cnpj"])
    )]
    detectors: Option<Vec<Kind>>,
    /// redact: replace each match with [EMAIL], [PHONE], [CARD], [CPF] or
    /// [CNPJ]; deny: refuse the call, naming what was found.
    #[serde(default)]
    #[schemars(extend("default" = "redact"))]
    mode: Mode,
    /// Number the placeholders ([EMAIL_1], [CPF_2], ...) and, when the
    /// sanitiser watches answers (stages: [request, response]), replace
    /// them in the answer with the values the caller sent.
    #[serde(default)]
    restore: bool,
    /// When the sanitiser watches answers: redact personal data the model
    /// writes (values the caller sent are left).
    #[serde(default = "yes")]
    redact_output: bool,
}

fn yes() -> bool {
    true
}

impl From<Settings> for Config {
    fn from(s: Settings) -> Config {
        let detectors = match s.detectors {
            None => Kinds::ALL,
            Some(list) => list.into_iter().fold(Kinds::NONE, Kinds::with),
        };
        Config {
            detectors,
            mode: s.mode,
            restore: s.restore,
            redact_output: s.redact_output,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_sdk::types::PluginError;

    fn parse(text: &str) -> Result<Config, PluginError> {
        switchyard_sdk::typed::parse::<Settings>(text).map(Config::from)
    }

    fn message(text: &str) -> String {
        match parse(text) {
            Err(PluginError::InvalidConfig(m)) => m,
            other => format!("not an invalid-config error: {other:?}"),
        }
    }

    #[test]
    fn defaults_are_all_detectors_and_redact() {
        assert_eq!(parse("{}").unwrap(), Config::default());
    }

    #[test]
    fn detectors_and_mode() {
        let c = parse(r#"{"detectors":["email","cpf"],"mode":"deny"}"#).unwrap();
        assert!(c.detectors.has(Kind::Email) && c.detectors.has(Kind::Cpf));
        assert!(
            !c.detectors.has(Kind::Phone)
                && !c.detectors.has(Kind::Card)
                && !c.detectors.has(Kind::Cnpj)
        );
        assert_eq!(c.mode, Mode::Deny);
        assert!(parse(r#"{"detectors":[]}"#).unwrap().detectors.is_empty());
        let c = parse(r#"{"restore":true,"redact_output":false}"#).unwrap();
        assert!(c.restore && !c.redact_output);
    }

    #[test]
    fn bad_config_names_the_field_and_the_value() {
        let m = message(r#"{"detectors":["ssn"]}"#);
        assert!(m.starts_with("detectors[0]: unknown variant `ssn`"), "{m}");
        let m = message(r#"{"mode":"block"}"#);
        assert!(m.starts_with("mode: unknown variant `block`"), "{m}");
        let m = message(r#"{"replace":true}"#);
        assert!(m.contains("unknown field `replace`"), "{m}");
        let m = message(r#"{"restore":"yes"}"#);
        assert!(m.starts_with("restore: invalid type"), "{m}");
    }

    /// The derived schema refuses what the hand-written one refused.
    #[test]
    fn schema_lists_the_detectors_and_modes_and_is_closed() {
        let text = switchyard_sdk::typed::schema::<Settings>();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["title"], "pii-redactor config");
        assert_eq!(v["additionalProperties"], false);
        assert!(v.get("required").is_none(), "{v}");
        let detectors = &v["properties"]["detectors"];
        assert_eq!(detectors["type"], "array");
        assert_eq!(detectors["uniqueItems"], true);
        assert_eq!(detectors["default"].as_array().map(Vec::len), Some(5));
        for k in ["email", "phone", "card", "cpf", "cnpj"] {
            assert!(text.contains(&format!("\"{k}\"")), "{text}");
        }
        assert!(text.contains("\"deny\"") && text.contains("\"redact\""));
        assert_eq!(v["properties"]["redact_output"]["default"], true);
        assert_eq!(v["properties"]["restore"]["default"], false);
    }
}
