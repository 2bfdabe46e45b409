//! `plugins.shadow` and `plugins.shadow_sample`, read leniently: a bad
//! entry is a warning and is left out, never a gateway that will not start.
//!
//! ```yaml
//! plugins:
//!   dir: ./plugins
//!   shadow_dir: ./plugins-shadow   # default: `plugins-shadow` beside `dir`
//!   shadow_sample: 0.25            # default 1.0 (every call)
//!   shadow:
//!     tier-router: tier-router-v2.wasm          # a file in the shadow folder
//!     pii-redactor:                             # or a mapping
//!       file: /opt/candidates/pii-redactor.wasm # absolute paths are kept
//!       config: {mode: redact}                  # the candidate's own config
//!       sample: 0.5                             # its own share
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// One candidate, as the config names it, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct CandidateSpec {
    /// The candidate's file (shadow folder joined to a relative name).
    pub file: PathBuf,
    /// Its own config section; `None` means the live plugin's settings.
    pub config: Option<Value>,
    /// The share of the live plugin's calls it sees, 0 to 1.
    pub sample: f64,
}

/// The shadow entries of a config, with what was wrong with the rest.
#[derive(Debug, Default)]
pub struct Specs {
    /// By live plugin name.
    pub entries: BTreeMap<String, CandidateSpec>,
    pub warnings: Vec<String>,
}

/// Where candidate files named without a folder live: `shadow_dir`, else
/// `plugins-shadow` beside the plugins directory (outside it, so the
/// plugins directory's watcher never loads a candidate as live).
pub fn shadow_dir(plugins_dir: Option<&Path>, shadow_dir: Option<&Value>) -> PathBuf {
    if let Some(Value::String(s)) = shadow_dir
        && !s.is_empty()
    {
        return PathBuf::from(s);
    }
    let parent = plugins_dir
        .and_then(Path::parent)
        .unwrap_or_else(|| Path::new(""));
    parent.join("plugins-shadow")
}

/// Reads `shadow` (a mapping of live plugin name to candidate) and
/// `shadow_sample` (the default share). `plugins_dir` is where live files
/// are: a candidate there would also load as live, so it is refused.
pub fn parse(
    shadow: Option<&Value>,
    sample: Option<&Value>,
    dir: &Path,
    plugins_dir: Option<&Path>,
) -> Specs {
    let mut out = Specs::default();
    let default_sample = match sample {
        None | Some(Value::Null) => 1.0,
        Some(v) => match share(v) {
            Some(s) => s,
            None => {
                out.warnings.push(format!(
                    "plugins.shadow_sample: expected a number from 0 to 1, got {v}; using 1.0"
                ));
                1.0
            }
        },
    };
    let map = match shadow {
        None | Some(Value::Null) => return out,
        Some(Value::Object(m)) => m,
        Some(other) => {
            out.warnings.push(format!(
                "plugins.shadow: expected a mapping of live plugin name to candidate, got {}; ignored",
                type_name(other)
            ));
            return out;
        }
    };
    for (live, value) in map {
        let at = format!("plugins.shadow.{live}");
        match entry(value, default_sample, dir) {
            Ok(spec) => {
                if let Some(pd) = plugins_dir
                    && spec.file.parent().is_some_and(|p| same_dir(p, pd))
                {
                    out.warnings.push(format!(
                        "{at}: {} is in the plugins directory, where it would also load as a live plugin; put candidates in the shadow folder ({}); ignored",
                        spec.file.display(),
                        dir.display()
                    ));
                    continue;
                }
                out.entries.insert(live.clone(), spec);
            }
            Err(e) => out.warnings.push(format!("{at}: {e}; ignored")),
        }
    }
    out
}

fn entry(value: &Value, default_sample: f64, dir: &Path) -> Result<CandidateSpec, String> {
    match value {
        Value::String(name) => Ok(CandidateSpec {
            file: resolve(name, dir)?,
            config: None,
            sample: default_sample,
        }),
        Value::Object(m) => {
            if let Some(k) = m
                .keys()
                .find(|k| !matches!(k.as_str(), "file" | "config" | "sample"))
            {
                return Err(format!(
                    "unknown key {k:?} (a candidate has file, config and sample)"
                ));
            }
            let file = match m.get("file") {
                Some(Value::String(f)) => resolve(f, dir)?,
                Some(other) => {
                    return Err(format!(
                        "file: expected a file name, got {}",
                        type_name(other)
                    ));
                }
                None => return Err("a candidate mapping needs `file`".into()),
            };
            let config = match m.get("config") {
                None | Some(Value::Null) => None,
                Some(c @ Value::Object(_)) => Some(c.clone()),
                Some(other) => {
                    return Err(format!(
                        "config: expected a mapping, got {}",
                        type_name(other)
                    ));
                }
            };
            let sample = match m.get("sample") {
                None | Some(Value::Null) => default_sample,
                Some(v) => share(v)
                    .ok_or_else(|| format!("sample: expected a number from 0 to 1, got {v}"))?,
            };
            Ok(CandidateSpec {
                file,
                config,
                sample,
            })
        }
        other => Err(format!(
            "expected a file name or a mapping with file, config and sample, got {}",
            type_name(other)
        )),
    }
}

/// A candidate file: an absolute path as is, anything else in `dir`.
fn resolve(name: &str, dir: &Path) -> Result<PathBuf, String> {
    if name.trim().is_empty() {
        return Err("the candidate's file name is empty".into());
    }
    let p = Path::new(name);
    Ok(if p.is_absolute() {
        p.to_path_buf()
    } else {
        dir.join(p)
    })
}

fn share(v: &Value) -> Option<f64> {
    v.as_f64().filter(|s| (0.0..=1.0).contains(s))
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn yaml(s: &str) -> Value {
        serde_yaml::from_str(s).unwrap()
    }

    #[test]
    fn a_file_name_is_found_in_the_shadow_folder_and_samples_by_default() {
        let s = parse(
            Some(&json!({"r": "r-v2.wasm"})),
            None,
            Path::new("/srv/plugins-shadow"),
            Some(Path::new("/srv/plugins")),
        );
        assert!(s.warnings.is_empty(), "{:?}", s.warnings);
        let r = &s.entries["r"];
        assert_eq!(r.file, PathBuf::from("/srv/plugins-shadow/r-v2.wasm"));
        assert_eq!((r.sample, r.config.clone()), (1.0, None));
    }

    #[test]
    fn a_mapping_carries_its_config_and_share_over_the_default() {
        let s = parse(
            Some(&yaml(
                "a: {file: /abs/a.wasm, config: {x: 1}, sample: 0.5}\nb: b.wasm\n",
            )),
            Some(&json!(0.25)),
            Path::new("shadow"),
            None,
        );
        assert!(s.warnings.is_empty(), "{:?}", s.warnings);
        assert_eq!(s.entries["a"].file, PathBuf::from("/abs/a.wasm"));
        assert_eq!(s.entries["a"].config, Some(json!({"x": 1})));
        assert_eq!(s.entries["a"].sample, 0.5);
        assert_eq!(s.entries["b"].sample, 0.25);
    }

    #[test]
    fn bad_shapes_warn_and_are_left_out() {
        let s = parse(
            Some(&yaml(
                "a: 3\nb: {config: {}}\nc: {file: c.wasm, sample: 2}\nd: {file: d.wasm, colour: red}\ne: {file: e.wasm, config: [1]}\nok: ok.wasm\n",
            )),
            Some(&json!("lots")),
            Path::new("shadow"),
            None,
        );
        assert_eq!(s.entries.keys().collect::<Vec<_>>(), vec!["ok"]);
        assert_eq!(s.entries["ok"].sample, 1.0);
        assert_eq!(s.warnings.len(), 6, "{:?}", s.warnings);
        for (w, what) in s.warnings.iter().zip([
            "shadow_sample",
            "shadow.a",
            "shadow.b",
            "shadow.c",
            "shadow.d",
            "shadow.e",
        ]) {
            assert!(w.contains(what), "{w} should name {what}");
        }
        let s = parse(Some(&json!(["x"])), None, Path::new("s"), None);
        assert!(s.entries.is_empty());
        assert!(s.warnings[0].contains("a list"), "{:?}", s.warnings);
    }

    #[test]
    fn a_candidate_in_the_plugins_directory_is_refused() {
        let s = parse(
            Some(&json!({"r": "/srv/plugins/r.wasm"})),
            None,
            Path::new("/srv/plugins-shadow"),
            Some(Path::new("/srv/plugins")),
        );
        assert!(s.entries.is_empty());
        assert!(
            s.warnings[0].contains("plugins directory"),
            "{:?}",
            s.warnings
        );
    }

    #[test]
    fn the_shadow_folder_sits_beside_the_plugins_directory() {
        assert_eq!(
            shadow_dir(Some(Path::new("/srv/plugins")), None),
            PathBuf::from("/srv/plugins-shadow")
        );
        assert_eq!(
            shadow_dir(Some(Path::new("plugins")), None),
            PathBuf::from("plugins-shadow")
        );
        assert_eq!(
            shadow_dir(None, Some(&json!("/x/cands"))),
            PathBuf::from("/x/cands")
        );
    }
}
