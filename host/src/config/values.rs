//! Value types the config reads, each checking its own range so that a bad
//! value fails where it is written (the reader adds the path).
//!
//! They take the value as YAML spells it and nothing looser: a string where
//! a number belongs is mended, with a warning, by [`super::mend`], which
//! knows the path; a value no reading can save is an error here.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_yaml::Value;

use super::error::KeyPath;

/// A whole number >= 0 (`3`, or `3.0`), as a `u64` or a narrower type.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Count<T = u64>(pub T);

impl<'de, T: TryFrom<u64>> Deserialize<'de> for Count<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        checked(d, "a whole number", |v| {
            let n = v.as_u64().or_else(|| {
                v.as_f64()
                    .filter(|f| *f >= 0.0 && f.fract() == 0.0 && *f <= u64::MAX as f64)
                    .map(|f| f as u64)
            })?;
            T::try_from(n).ok().map(Count)
        })
    }
}

/// A positive number of seconds (`30`, `0.5`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Seconds(pub Duration);

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        checked(d, "seconds (a positive number)", |v| {
            duration(v.as_f64().filter(|s| *s > 0.0)?).map(Seconds)
        })
    }
}

/// A number of seconds that may be 0 (a wait that can be skipped).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SecondsOrZero(pub Duration);

impl<'de> Deserialize<'de> for SecondsOrZero {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        checked(d, "seconds (a number >= 0)", |v| {
            duration(v.as_f64().filter(|s| *s >= 0.0)?).map(SecondsOrZero)
        })
    }
}

/// A finite number >= 0 (a price, a weight, a latency buffer).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(transparent)]
pub struct NonNegative(pub f64);

impl<'de> Deserialize<'de> for NonNegative {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        checked(d, "a non-negative number", |v| {
            v.as_f64()
                .filter(|x| x.is_finite() && *x >= 0.0)
                .map(NonNegative)
        })
    }
}

/// A finite number > 0 (a size).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Positive(pub f64);

impl<'de> Deserialize<'de> for Positive {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        checked(d, "a positive number", |v| {
            v.as_f64()
                .filter(|x| x.is_finite() && *x > 0.0)
                .map(Positive)
        })
    }
}

/// A TCP port. LiteLLM documents `redis_port` as a string, so a string of
/// digits is the expected spelling here, not a quirk.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Port(pub u16);

impl<'de> Deserialize<'de> for Port {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        checked(d, "a port number", |v| {
            let n = v
                .as_u64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))?;
            u16::try_from(n).ok().map(Port)
        })
    }
}

/// LiteLLM's fallback lists: `[{group: [fallback, ...]}, ...]`, or one
/// plain mapping. Each rule keeps where it was written, for errors.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fallbacks(pub Vec<FallbackRule>);

/// One `group: [fallback, ...]` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct FallbackRule {
    /// Where it was written, from the fallbacks key (`[0].gpt-4o`).
    pub at: KeyPath,
    pub group: String,
    pub to: Vec<String>,
}

impl Fallbacks {
    /// Group -> fallbacks; a group named twice keeps its last list.
    pub fn to_map(&self) -> BTreeMap<String, Vec<String>> {
        self.0
            .iter()
            .map(|r| (r.group.clone(), r.to.clone()))
            .collect()
    }
}

impl<'de> Deserialize<'de> for Fallbacks {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Rules;
        impl<'de> Visitor<'de> for Rules {
            type Value = Fallbacks;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of {model group: [fallback groups]}")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Fallbacks, A::Error> {
                let mut rules = Vec::new();
                let mut i = 0;
                while let Some(RuleMap(map)) = seq.next_element()? {
                    let at = KeyPath::root().index(i);
                    rules.extend(map.into_iter().map(|(group, to)| FallbackRule {
                        at: at.key(&group),
                        group,
                        to,
                    }));
                    i += 1;
                }
                Ok(Fallbacks(rules))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Fallbacks, A::Error> {
                let RuleMap(map) =
                    RuleMap::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(Fallbacks(
                    map.into_iter()
                        .map(|(group, to)| FallbackRule {
                            at: KeyPath::root().key(&group),
                            group,
                            to,
                        })
                        .collect(),
                ))
            }
        }
        d.deserialize_any(Rules)
    }
}

/// `{group: [fallback, ...]}`, in file order.
struct RuleMap(Vec<(String, Vec<String>)>);

impl<'de> Deserialize<'de> for RuleMap {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Entries;
        impl<'de> Visitor<'de> for Entries {
            type Value = RuleMap;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("{model group: [fallback groups]}")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RuleMap, A::Error> {
                let mut out = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    out.push(entry);
                }
                Ok(RuleMap(out))
            }
        }
        d.deserialize_map(Entries)
    }
}

/// What a `model_group_alias` entry names: a group, as a string or as
/// LiteLLM's `{model: group, hidden: true}`.
#[derive(Debug, Clone, PartialEq)]
pub struct AliasTarget {
    pub group: String,
    /// Whether LiteLLM would leave the alias out of `/v1/models`.
    pub hidden: bool,
}

impl<'de> Deserialize<'de> for AliasTarget {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Item {
            model: String,
            #[serde(default)]
            hidden: bool,
        }
        struct Target;
        impl<'de> Visitor<'de> for Target {
            type Value = AliasTarget;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a model group name, or {model: group, hidden: true}")
            }
            fn visit_str<E: de::Error>(self, group: &str) -> Result<AliasTarget, E> {
                Ok(AliasTarget {
                    group: group.to_string(),
                    hidden: false,
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<AliasTarget, A::Error> {
                let item = Item::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(AliasTarget {
                    group: item.model,
                    hidden: item.hidden,
                })
            }
        }
        d.deserialize_any(Target)
    }
}

/// Reads a YAML value and converts it, or fails with
/// "expected {what}, got {value}".
fn checked<'de, D: Deserializer<'de>, T>(
    d: D,
    what: &str,
    convert: impl FnOnce(&Value) -> Option<T>,
) -> Result<T, D::Error> {
    let v = Value::deserialize(d)?;
    convert(&v).ok_or_else(|| de::Error::custom(format!("expected {what}, got {}", show(&v))))
}

fn duration(secs: f64) -> Option<Duration> {
    Duration::try_from_secs_f64(secs).ok()
}

/// A value as one line (JSON spelling, so strings are quoted).
pub(crate) fn show(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| format!("{v:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read<T: for<'de> Deserialize<'de>>(yaml: &str) -> Result<T, String> {
        serde_yaml::from_str(yaml).map_err(|e| e.to_string())
    }

    #[test]
    fn each_type_takes_its_range_and_names_what_it_expected() {
        assert_eq!(read::<Count>("3").unwrap(), Count(3));
        assert_eq!(read::<Count>("3.0").unwrap(), Count(3));
        assert_eq!(read::<Count<u32>>("7").unwrap(), Count(7u32));
        let e = read::<Count<u32>>("5000000000").unwrap_err();
        assert!(e.contains("expected a whole number, got 5000000000"), "{e}");
        let e = read::<Count>("\"100\"").unwrap_err();
        assert!(e.contains("expected a whole number, got \"100\""), "{e}");
        assert!(read::<Count>("-1").is_err());
        assert_eq!(
            read::<Seconds>("0.5").unwrap(),
            Seconds(Duration::from_millis(500))
        );
        assert!(read::<Seconds>("0").unwrap_err().contains("positive"));
        assert_eq!(
            read::<SecondsOrZero>("0").unwrap(),
            SecondsOrZero(Duration::ZERO)
        );
        assert!(read::<SecondsOrZero>("-1").unwrap_err().contains(">= 0"));
        assert!(read::<Seconds>("1e300").is_err());
        assert_eq!(read::<NonNegative>("0").unwrap(), NonNegative(0.0));
        assert!(read::<NonNegative>("-0.1").is_err());
        assert!(read::<Positive>("0").is_err());
        assert_eq!(read::<Port>("\"6380\"").unwrap(), Port(6380));
        assert_eq!(read::<Port>("6380").unwrap(), Port(6380));
        assert!(read::<Port>("70000").is_err());
    }

    #[test]
    fn an_alias_names_its_group_as_a_string_or_as_litellm_s_item() {
        let a = read::<AliasTarget>("gpt-4o").unwrap();
        assert_eq!((a.group.as_str(), a.hidden), ("gpt-4o", false));
        let a = read::<AliasTarget>("{model: gpt-4o, hidden: true}").unwrap();
        assert_eq!((a.group.as_str(), a.hidden), ("gpt-4o", true));
        assert!(read::<AliasTarget>("{hidden: true}").is_err());
        assert!(read::<AliasTarget>("[gpt-4o, x]").is_err());
    }

    #[test]
    fn fallbacks_read_as_a_list_or_a_mapping_and_keep_where_each_rule_is() {
        let list = read::<Fallbacks>("[{a: [b, c]}, {d: [e]}]").unwrap();
        assert_eq!(
            list.0[1],
            FallbackRule {
                at: KeyPath::root().index(1).key("d"),
                group: "d".into(),
                to: vec!["e".into()],
            }
        );
        let map = read::<Fallbacks>("{a: [b]}").unwrap();
        assert_eq!(map.0[0].at.to_string(), "a");
        assert_eq!(map.to_map()["a"], ["b"]);
        let e = read::<Fallbacks>("[gpt-4o]").unwrap_err();
        assert!(e.contains("{model group: [fallback groups]}"), "{e}");
    }
}
