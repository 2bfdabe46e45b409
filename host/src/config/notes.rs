//! What loading learns about a file besides its values: the warnings to
//! show, the keys it moved to where they belong (so errors and warnings
//! name the key where the user wrote it), and which values came from the
//! environment.

use std::collections::{BTreeMap, BTreeSet};

use super::error::KeyPath;

#[derive(Debug, Default)]
pub struct Notes {
    pub warnings: Vec<String>,
    /// Where a key was moved -> where it was written.
    moved: BTreeMap<KeyPath, KeyPath>,
    /// Values that were, or held, an environment reference (as written).
    from_env: BTreeSet<KeyPath>,
}

impl Notes {
    pub fn warn(&mut self, warning: String) {
        self.warnings.push(warning);
    }

    /// Records that the key written at `from` is read at `to`.
    pub fn moved(&mut self, from: KeyPath, to: KeyPath) {
        self.moved.insert(to, from);
    }

    pub fn env_value(&mut self, written: KeyPath) {
        self.from_env.insert(written);
    }

    /// Whether the value at `path` came from the environment, where every
    /// value is a string: turning it into a number is expected, not a quirk.
    pub fn is_from_env(&self, path: &KeyPath) -> bool {
        self.from_env.contains(&self.written(path))
    }

    /// `path` as the file wrote it, before a misplaced key was moved.
    pub fn written(&self, path: &KeyPath) -> KeyPath {
        path.prefixes()
            .find_map(|to| {
                let from = self.moved.get(&to)?;
                path.replace_prefix(&to, from)
            })
            .unwrap_or_else(|| path.clone())
    }

    /// `e`, naming its key where the file wrote it (a check made after a
    /// key was moved would otherwise name where it was moved to).
    pub fn restate(&self, e: super::error::ConfigError) -> super::error::ConfigError {
        use super::error::ConfigError;
        match e {
            ConfigError::Invalid { path, message } => ConfigError::Invalid {
                path: self.written(&path),
                message,
            },
            ConfigError::UnsetVariable {
                path,
                name,
                written,
            } => ConfigError::UnsetVariable {
                path: self.written(&path),
                name,
                written,
            },
            other => other,
        }
    }
}
