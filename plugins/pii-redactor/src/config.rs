//! The sanitiser's config: which detectors are on, and whether a match is
//! redacted or denies the call.

use serde::Deserialize;
use switchyard_sdk::types::PluginError;

/// What a detector finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
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

    fn name(self) -> &'static str {
        match self {
            Kind::Email => "email",
            Kind::Phone => "phone",
            Kind::Card => "card",
            Kind::Cpf => "cpf",
            Kind::Cnpj => "cnpj",
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Replace what was found with a placeholder.
    #[default]
    Redact,
    /// Refuse the call, naming what kinds were found (never the values).
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    detectors: Option<Vec<Kind>>,
    #[serde(default)]
    mode: Mode,
    #[serde(default)]
    restore: bool,
    #[serde(default = "yes")]
    redact_output: bool,
}

fn yes() -> bool {
    true
}

pub fn parse(config: &str) -> Result<Config, PluginError> {
    let raw: RawConfig = switchyard_sdk::parse_config(config)?;
    let detectors = match raw.detectors {
        None => Kinds::ALL,
        Some(list) => list.into_iter().fold(Kinds::NONE, Kinds::with),
    };
    Ok(Config {
        detectors,
        mode: raw.mode,
        restore: raw.restore,
        redact_output: raw.redact_output,
    })
}

pub fn schema() -> String {
    let names: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
    serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "pii-redactor config",
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "detectors": {
                "description": "Detectors that are on (all when absent): email, phone, card (Luhn-valid), cpf and cnpj (check digits valid).",
                "type": "array",
                "items": {"enum": names},
                "uniqueItems": true,
                "default": names
            },
            "mode": {
                "description": "redact: replace each match with [EMAIL], [PHONE], [CARD], [CPF] or [CNPJ]; deny: refuse the call, naming what was found.",
                "enum": ["redact", "deny"],
                "default": "redact"
            },
            "restore": {
                "description": "Number the placeholders ([EMAIL_1], [CPF_2], ...) and, when the sanitiser watches answers (stages: [request, response]), replace them in the answer with the values the caller sent.",
                "type": "boolean",
                "default": false
            },
            "redact_output": {
                "description": "When the sanitiser watches answers: redact personal data the model writes (values the caller sent are left).",
                "type": "boolean",
                "default": true
            }
        }
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }

    #[test]
    fn bad_config() {
        assert!(
            matches!(parse(r#"{"detectors":["ssn"]}"#), Err(PluginError::InvalidConfig(m)) if m.contains("ssn"))
        );
        assert!(
            matches!(parse(r#"{"mode":"block"}"#), Err(PluginError::InvalidConfig(m)) if m.contains("block"))
        );
        assert!(
            matches!(parse(r#"{"replace":true}"#), Err(PluginError::InvalidConfig(m)) if m.contains("replace"))
        );
    }

    #[test]
    fn schema_is_json() {
        let v: serde_json::Value = serde_json::from_str(&schema()).unwrap();
        assert_eq!(v["properties"]["mode"]["enum"][1], "deny");
    }
}
