//! The files `plugin new` writes, compiled in from the repository: the
//! Python and JavaScript templates of `sdk/`, the Rust router template of
//! `sdk/rust/template` (SDK 0.3), the contract of `wit/`, and the other Rust
//! kinds beside this file.

use super::{Kind, Lang};

/// One file of a template.
pub struct File {
    /// Relative to the new plugin's folder.
    pub path: &'static str,
    pub text: &'static str,
    pub executable: bool,
}

/// Template names replaced by the plugin's name.
pub const NAME_PLACEHOLDERS: [&str; 3] = ["my-router", "my-sanitizer", "my-plugin"];
/// Replaced by the plugin's name with `_` for `-` (the Rust crate's name).
pub const CRATE_PLACEHOLDER: &str = "my_plugin";
/// Replaced by the absolute path of the Rust SDK.
pub const SDK_PLACEHOLDER: &str = "@SWITCHYARD_SDK@";

const fn file(path: &'static str, text: &'static str) -> File {
    File {
        path,
        text,
        executable: false,
    }
}

const fn script(path: &'static str, text: &'static str) -> File {
    File {
        path,
        text,
        executable: true,
    }
}

macro_rules! repo {
    ($path:literal) => {
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../", $path))
    };
}

/// The contract, so the folder builds on its own against the version this
/// gateway speaks. A test checks the list against `wit/`.
pub const WIT: [File; 7] = [
    file("wit/cost.wit", repo!("wit/cost.wit")),
    file("wit/log.wit", repo!("wit/log.wit")),
    file("wit/provider.wit", repo!("wit/provider.wit")),
    file("wit/router.wit", repo!("wit/router.wit")),
    file("wit/sanitizer.wit", repo!("wit/sanitizer.wit")),
    file("wit/types.wit", repo!("wit/types.wit")),
    file("wit/worlds.wit", repo!("wit/worlds.wit")),
];

const JS_COMMON: [File; 4] = [
    file("package.json", repo!("sdk/js/template/package.json")),
    file("switchyard.js", repo!("sdk/js/template/switchyard.js")),
    script("build.sh", repo!("sdk/js/template/build.sh")),
    file(".gitignore", repo!("sdk/js/template/.gitignore")),
];

const PY_COMMON: [File; 3] = [
    file(
        "switchyard_log.py",
        repo!("sdk/python/template/switchyard_log.py"),
    ),
    script("build.sh", repo!("sdk/python/template/build.sh")),
    file(".gitignore", repo!("sdk/python/template/.gitignore")),
];

const RUST_COMMON: [File; 2] = [
    file("Cargo.toml", include_str!("rust/Cargo.toml.tmpl")),
    file(".gitignore", repo!("sdk/rust/template/.gitignore")),
];

/// The kinds a language has templates for, for the error that names them.
pub fn kinds_of(lang: Lang) -> &'static str {
    match lang {
        Lang::Rust => "router, sanitizer, provider, cost",
        Lang::Python | Lang::Js => "router, sanitizer",
    }
}

/// Every file of the template for `lang` and `kind`, or `None` when there
/// is none.
pub fn files(lang: Lang, kind: Kind) -> Option<Vec<File>> {
    let specific: Vec<File> = match (lang, kind) {
        (Lang::Js, Kind::Router) => vec![
            file("app.js", repo!("sdk/js/template/app.js")),
            file("cases.yaml", repo!("sdk/js/template/cases.yaml")),
        ],
        (Lang::Js, Kind::Sanitizer) => vec![
            file("app.js", repo!("sdk/js/sanitizer/app.js")),
            file("cases.yaml", repo!("sdk/js/sanitizer/cases.yaml")),
        ],
        (Lang::Python, Kind::Router) => vec![
            file("app.py", repo!("sdk/python/router/app.py")),
            file("cases.yaml", repo!("sdk/python/router/cases.yaml")),
        ],
        (Lang::Python, Kind::Sanitizer) => vec![
            file("app.py", repo!("sdk/python/template/app.py")),
            file("cases.yaml", repo!("sdk/python/template/cases.yaml")),
        ],
        (Lang::Rust, Kind::Router) => vec![
            file("src/lib.rs", repo!("sdk/rust/template/src/lib.rs")),
            file("cases.yaml", repo!("sdk/rust/template/cases.yaml")),
        ],
        (Lang::Rust, Kind::Sanitizer) => vec![
            file("src/lib.rs", include_str!("rust/sanitizer.rs.tmpl")),
            file("cases.yaml", include_str!("rust/sanitizer.cases.yaml")),
        ],
        (Lang::Rust, Kind::Provider) => vec![
            file("src/lib.rs", include_str!("rust/provider.rs.tmpl")),
            file("cases.yaml", include_str!("rust/provider.cases.yaml")),
        ],
        (Lang::Rust, Kind::Cost) => vec![
            file("src/lib.rs", include_str!("rust/cost.rs.tmpl")),
            file("cases.yaml", include_str!("rust/cost.cases.yaml")),
        ],
        (Lang::Python | Lang::Js, Kind::Provider | Kind::Cost) => return None,
    };
    let common: &[File] = match lang {
        Lang::Js => &JS_COMMON,
        Lang::Python => &PY_COMMON,
        Lang::Rust => &RUST_COMMON,
    };
    let mut all: Vec<File> = common
        .iter()
        .map(|f| File {
            path: f.path,
            text: f.text,
            executable: f.executable,
        })
        .collect();
    all.extend(specific);
    // Rust builds against the SDK's own copy of the contract.
    if lang != Lang::Rust {
        all.extend(WIT.iter().map(|f| File {
            path: f.path,
            text: f.text,
            executable: false,
        }));
    }
    Some(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `.wit` file added to `wit/` must be added to [`WIT`] too, or new
    /// plugins would not build.
    #[test]
    fn wit_list_matches_the_contract_folder() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| {
                let name = e.unwrap().file_name().into_string().unwrap();
                name.ends_with(".wit").then(|| format!("wit/{name}"))
            })
            .collect();
        on_disk.sort();
        let listed: Vec<&str> = WIT.iter().map(|f| f.path).collect();
        assert_eq!(on_disk, listed);
    }

    /// Every Rust kind's Cargo.toml is the SDK template's (past its header
    /// comment, which names the router).
    #[test]
    fn rust_manifest_is_the_sdk_templates() {
        assert!(
            repo!("sdk/rust/template/Cargo.toml").ends_with(include_str!("rust/Cargo.toml.tmpl"))
        );
    }

    /// The example JS router vendors the template's helpers unchanged.
    #[test]
    fn js_helpers_are_one_file() {
        assert_eq!(
            repo!("plugins/js-tier-router/switchyard.js"),
            repo!("sdk/js/template/switchyard.js")
        );
    }
}
