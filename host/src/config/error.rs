//! What can go wrong loading a config, and where: every error names the key
//! path it is about (`model_list[0].litellm_params.rpm`), so a user can find
//! the line without reading Switchyard's code.

use std::fmt;
use std::path::PathBuf;

use serde_yaml::{Mapping, Value};

/// A config that cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{}: {source}", file.display())]
    Read {
        file: PathBuf,
        source: std::io::Error,
    },
    /// Any other error, with the file it is in.
    #[error("{}: {source}", file.display())]
    InFile {
        file: PathBuf,
        source: Box<ConfigError>,
    },
    /// Not YAML.
    #[error("{0}")]
    Syntax(#[from] serde_yaml::Error),
    /// The file is YAML but not a mapping of sections.
    #[error("the config must be a mapping of sections")]
    NotSections,
    /// An `os.environ/NAME` or `${NAME}` reference to an unset variable.
    #[error("{path}: environment variable {name} is not set (referenced as {written})")]
    UnsetVariable {
        path: KeyPath,
        name: String,
        written: String,
    },
    /// A value that cannot be given any sensible meaning.
    #[error("{path}: {message}")]
    Invalid { path: KeyPath, message: String },
}

impl ConfigError {
    pub(crate) fn invalid(path: KeyPath, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            path,
            message: message.into(),
        }
    }

    /// The key the error is about, when it is about one.
    pub fn path(&self) -> Option<&KeyPath> {
        match self {
            ConfigError::InFile { source, .. } => source.path(),
            ConfigError::UnsetVariable { path, .. } | ConfigError::Invalid { path, .. } => {
                Some(path)
            }
            _ => None,
        }
    }
}

/// Where a value sits in the file: `router_settings.fallbacks[0].gpt-4o`.
/// Displayed as `serde_path_to_error` displays its paths.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct KeyPath(Vec<Step>);

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    Key(String),
    Index(usize),
}

impl KeyPath {
    /// The file itself.
    pub fn root() -> KeyPath {
        KeyPath::default()
    }

    /// The value under `key` here.
    pub fn key(&self, key: &str) -> KeyPath {
        let mut steps = self.0.clone();
        steps.push(Step::Key(key.to_string()));
        KeyPath(steps)
    }

    /// The item at `index` of the list here.
    pub fn index(&self, index: usize) -> KeyPath {
        let mut steps = self.0.clone();
        steps.push(Step::Index(index));
        KeyPath(steps)
    }

    /// `rest` taken from here.
    pub fn join(&self, rest: &KeyPath) -> KeyPath {
        KeyPath([self.0.as_slice(), rest.0.as_slice()].concat())
    }

    /// The last key, if the path ends in one.
    pub fn last_key(&self) -> Option<&str> {
        match self.0.last() {
            Some(Step::Key(k)) => Some(k),
            _ => None,
        }
    }

    /// This path and each path it is under, longest first.
    pub(crate) fn prefixes(&self) -> impl Iterator<Item = KeyPath> + '_ {
        (0..=self.0.len())
            .rev()
            .map(|n| KeyPath(self.0[..n].to_vec()))
    }

    /// This path with `from` at its start replaced by `to`.
    pub(crate) fn replace_prefix(&self, from: &KeyPath, to: &KeyPath) -> Option<KeyPath> {
        self.0
            .strip_prefix(from.0.as_slice())
            .map(|rest| KeyPath([to.0.as_slice(), rest].concat()))
    }

    /// A path `serde_path_to_error` reports, unless it has a step that
    /// cannot be followed (a key that is not a string).
    pub(crate) fn from_serde(path: &serde_path_to_error::Path) -> Option<KeyPath> {
        use serde_path_to_error::Segment;
        path.iter()
            .map(|segment| match segment {
                Segment::Seq { index } => Some(Step::Index(*index)),
                Segment::Map { key } => Some(Step::Key(key.clone())),
                Segment::Enum { .. } | Segment::Unknown => None,
            })
            .collect::<Option<Vec<Step>>>()
            .map(KeyPath)
    }

    /// The value at this path inside `value`.
    pub(crate) fn get<'a>(&self, value: &'a Value) -> Option<&'a Value> {
        self.0.iter().try_fold(value, |v, step| match step {
            Step::Key(k) => v.as_mapping()?.get(k.as_str()),
            Step::Index(i) => v.as_sequence()?.get(*i),
        })
    }

    /// The value at this path inside `value`, to change it.
    pub(crate) fn get_mut<'a>(&self, value: &'a mut Value) -> Option<&'a mut Value> {
        self.0.iter().try_fold(value, |v, step| match step {
            Step::Key(k) => v.as_mapping_mut()?.get_mut(k.as_str()),
            Step::Index(i) => v.as_sequence_mut()?.get_mut(*i),
        })
    }

    /// The mapping at this path inside `value`, created (empty) when the
    /// last key is missing or null; `None` when something else is there.
    pub(crate) fn mapping_mut<'a>(&self, value: &'a mut Value) -> Option<&'a mut Mapping> {
        let (last, parent) = match self.0.split_last() {
            None => return value.as_mapping_mut(),
            Some((last, parent)) => (last, KeyPath(parent.to_vec())),
        };
        let parent = parent.get_mut(value)?;
        let slot = match last {
            Step::Key(k) => {
                let map = parent.as_mapping_mut()?;
                if map.get(k.as_str()).is_none_or(Value::is_null) {
                    map.insert(Value::String(k.clone()), Value::Mapping(Mapping::new()));
                }
                map.get_mut(k.as_str())?
            }
            Step::Index(i) => parent.as_sequence_mut()?.get_mut(*i)?,
        };
        slot.as_mapping_mut()
    }

    /// Removes the value at this path from its mapping.
    pub(crate) fn remove(&self, value: &mut Value) -> Option<Value> {
        let (Step::Key(k), parent) = self.0.split_last()? else {
            return None;
        };
        KeyPath(parent.to_vec())
            .get_mut(value)?
            .as_mapping_mut()?
            .remove(k.as_str())
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.0.iter().enumerate() {
            match step {
                Step::Index(index) => write!(f, "[{index}]")?,
                Step::Key(key) if i == 0 => f.write_str(key)?,
                Step::Key(key) => write!(f, ".{key}")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_display_as_serde_path_to_error_does() {
        let p = KeyPath::root()
            .key("model_list")
            .index(0)
            .key("litellm_params")
            .key("rpm");
        assert_eq!(p.to_string(), "model_list[0].litellm_params.rpm");
        let v: Value = serde_yaml::from_str("model_list: [{litellm_params: {rpm: x}}]").unwrap();
        let err = serde_path_to_error::deserialize::<
            _,
            std::collections::BTreeMap<
                String,
                Vec<std::collections::BTreeMap<String, std::collections::BTreeMap<String, u64>>>,
            >,
        >(v.clone())
        .unwrap_err();
        assert_eq!(KeyPath::from_serde(err.path()), Some(p.clone()));
        assert_eq!(p.get(&v), Some(&Value::String("x".into())));
    }
}
