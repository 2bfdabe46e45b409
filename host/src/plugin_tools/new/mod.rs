//! `switchyard plugin new <kind> <name> [--lang rust|python|js] [--dir D]`:
//! writes a plugin folder that builds, passes its `cases.yaml`, and loads
//! into a gateway, from templates compiled into the binary (the same files
//! as `sdk/python/template`, `sdk/js/template` and so on, so the folder
//! matches the docs), and says how to build, test and run it.

mod templates;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use templates::File;

/// The languages a plugin can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Rust,
    Python,
    Js,
}

impl Lang {
    pub const ALL: [Lang; 3] = [Lang::Rust, Lang::Python, Lang::Js];

    pub fn as_str(self) -> &'static str {
        match self {
            Lang::Rust => "rust",
            Lang::Python => "python",
            Lang::Js => "js",
        }
    }

    /// `rust`, `python` (or `py`), `js` (or `javascript`).
    pub fn parse(s: &str) -> Result<Lang, NewError> {
        match s.to_ascii_lowercase().as_str() {
            "rust" | "rs" => Ok(Lang::Rust),
            "python" | "py" => Ok(Lang::Python),
            "js" | "javascript" => Ok(Lang::Js),
            _ => Err(NewError::UnknownLang(s.to_string())),
        }
    }
}

/// The plugin kinds, as the contract names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Router,
    Sanitizer,
    Provider,
    Cost,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::Router, Kind::Sanitizer, Kind::Provider, Kind::Cost];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Router => "router",
            Kind::Sanitizer => "sanitizer",
            Kind::Provider => "provider",
            Kind::Cost => "cost",
        }
    }

    /// `router`, `sanitizer` (or `sanitiser`), `provider`, `cost`.
    pub fn parse(s: &str) -> Result<Kind, NewError> {
        match s.to_ascii_lowercase().as_str() {
            "router" => Ok(Kind::Router),
            "sanitizer" | "sanitiser" => Ok(Kind::Sanitizer),
            "provider" | "adapter" => Ok(Kind::Provider),
            "cost" => Ok(Kind::Cost),
            _ => Err(NewError::UnknownKind(s.to_string())),
        }
    }
}

/// Why no folder was written.
#[derive(Debug, thiserror::Error)]
pub enum NewError {
    #[error("unknown plugin kind {0:?}: use router, sanitizer, provider or cost")]
    UnknownKind(String),
    #[error("unknown language {0:?}: use rust, python or js")]
    UnknownLang(String),
    #[error(
        "plugin name {0:?} is invalid: use lower-case letters, digits and '-', starting with a letter (at most 64 characters), for example my-router"
    )]
    BadName(String),
    #[error(
        "there is no {lang} template for a {kind} plugin yet: {lang} has {has}; rust has all four kinds"
    )]
    Unsupported {
        lang: &'static str,
        kind: &'static str,
        has: &'static str,
    },
    #[error("{0} exists and is not empty: choose another --dir or name, or empty it")]
    NotEmpty(PathBuf),
    #[error(
        "a Rust plugin needs the Switchyard SDK (sdk/rust of a Switchyard checkout) and none was found: pass --sdk <checkout>/sdk/rust or set SWITCHYARD_SDK"
    )]
    NoSdk,
    #[error("--sdk {0}: not the Switchyard SDK (no Cargo.toml naming switchyard-sdk there)")]
    BadSdk(PathBuf),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What to create.
#[derive(Debug, Clone)]
pub struct Request {
    pub kind: Kind,
    pub name: String,
    pub lang: Lang,
    /// The folder to create; `./<name>` when `None`.
    pub dir: Option<PathBuf>,
    /// For Rust: the SDK's folder (`sdk/rust`); found from
    /// `SWITCHYARD_SDK`, then the binary's and the working directory's
    /// ancestors when `None`.
    pub sdk: Option<PathBuf>,
}

/// What was created.
#[derive(Debug)]
pub struct Created {
    pub dir: PathBuf,
    pub files: Vec<PathBuf>,
    /// Where the build puts the component, relative to `dir`.
    pub wasm: PathBuf,
    /// The build, test and run commands, ready to print.
    pub next_steps: String,
}

/// Writes the plugin folder.
pub fn create(req: &Request) -> Result<Created, NewError> {
    check_name(&req.name)?;
    let files = templates::files(req.lang, req.kind).ok_or_else(|| NewError::Unsupported {
        lang: req.lang.as_str(),
        kind: req.kind.as_str(),
        has: templates::kinds_of(req.lang),
    })?;
    let sdk = match req.lang {
        Lang::Rust => Some(find_sdk(req.sdk.as_deref())?),
        _ => None,
    };
    let dir = req.dir.clone().unwrap_or_else(|| PathBuf::from(&req.name));
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| NewError::Io { path, source }
    };
    if dir.exists() {
        let mut entries = std::fs::read_dir(&dir).map_err(io(&dir))?;
        if entries.next().is_some() {
            return Err(NewError::NotEmpty(dir));
        }
    }
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    let dir = std::fs::canonicalize(&dir).map_err(io(&dir))?;
    let vars = Vars {
        name: &req.name,
        sdk: sdk.as_deref(),
    };
    let mut written = Vec::new();
    for file in files {
        let path = dir.join(file.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        std::fs::write(&path, vars.fill(&file)).map_err(io(&path))?;
        if file.executable {
            set_executable(&path).map_err(io(&path))?;
        }
        written.push(path);
    }
    let wasm = wasm_path(req.lang, &req.name);
    let next_steps = next_steps(req, &dir, &wasm);
    Ok(Created {
        dir,
        files: written,
        wasm,
        next_steps,
    })
}

/// Lower-case letters, digits and `-`, starting with a letter and not
/// ending with `-`: a plugin name the gateway accepts that is also a Rust
/// crate name and an npm package name.
pub fn check_name(name: &str) -> Result<(), NewError> {
    let ok = (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(NewError::BadName(name.to_string()))
    }
}

/// Where the build leaves the component, relative to the plugin's folder.
fn wasm_path(lang: Lang, name: &str) -> PathBuf {
    match lang {
        Lang::Rust => PathBuf::from(format!(
            "target/wasm32-wasip2/release/{}.wasm",
            name.replace('-', "_")
        )),
        Lang::Python | Lang::Js => PathBuf::from(format!("target/{name}.wasm")),
    }
}

/// The SDK folder: `--sdk`, `SWITCHYARD_SDK`, or `sdk/rust` in an ancestor
/// of the running binary or of the working directory (a checkout's
/// `target/release/switchyard` finds its own SDK).
fn find_sdk(given: Option<&Path>) -> Result<PathBuf, NewError> {
    let is_sdk = |p: &Path| {
        std::fs::read_to_string(p.join("Cargo.toml"))
            .is_ok_and(|t| t.contains("name = \"switchyard-sdk\""))
    };
    let given = given
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("SWITCHYARD_SDK").map(PathBuf::from));
    if let Some(p) = given {
        return if is_sdk(&p) {
            std::fs::canonicalize(&p).map_err(|source| NewError::Io { path: p, source })
        } else {
            Err(NewError::BadSdk(p))
        };
    }
    let starts = [std::env::current_exe().ok(), std::env::current_dir().ok()];
    for start in starts.into_iter().flatten() {
        for dir in start.ancestors() {
            let candidate = dir.join("sdk/rust");
            if is_sdk(&candidate) {
                return std::fs::canonicalize(&candidate).map_err(|source| NewError::Io {
                    path: candidate,
                    source,
                });
            }
        }
    }
    Err(NewError::NoSdk)
}

#[cfg(unix)]
fn set_executable(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let mut perms = std::fs::metadata(path)?.permissions();
    perms.set_mode(perms.mode() | 0o111);
    std::fs::set_permissions(path, perms)
}

#[cfg(not(unix))]
fn set_executable(_path: &Path) -> std::io::Result<()> {
    Ok(())
}

/// The placeholders a template holds.
struct Vars<'a> {
    name: &'a str,
    sdk: Option<&'a Path>,
}

impl Vars<'_> {
    fn fill(&self, file: &File) -> String {
        let mut text = file.text.to_string();
        for placeholder in templates::NAME_PLACEHOLDERS {
            text = text.replace(placeholder, self.name);
        }
        text = text.replace(templates::CRATE_PLACEHOLDER, &self.name.replace('-', "_"));
        if let Some(sdk) = self.sdk {
            // TOML basic string: escape what would end it.
            let sdk = sdk
                .display()
                .to_string()
                .replace('\\', "\\\\")
                .replace('"', "\\\"");
            text = text.replace(templates::SDK_PLACEHOLDER, &sdk);
        }
        text
    }
}

/// The commands that build, test and run the new plugin, in that order.
fn next_steps(req: &Request, dir: &Path, wasm: &Path) -> String {
    let d = shell_quote(&dir.display().to_string());
    let wasm_abs = shell_quote(&dir.join(wasm).display().to_string());
    let mut out = String::new();
    let _ = writeln!(
        out,
        "created a {} {} plugin, {}, in {}",
        req.lang.as_str(),
        req.kind.as_str(),
        req.name,
        dir.display()
    );
    let _ = writeln!(out, "\nbuild:");
    match req.lang {
        Lang::Rust => {
            let _ = writeln!(out, "  rustup target add wasm32-wasip2   # once");
            let _ = writeln!(
                out,
                "  cd {d} && cargo build --release --target wasm32-wasip2"
            );
            let _ = writeln!(
                out,
                "  # Cargo.toml's crate-type = [\"cdylib\"] is what makes a .wasm: without it cargo builds an rlib and no component, silently."
            );
        }
        Lang::Python => {
            let _ = writeln!(out, "  pip install componentize-py==0.25.1   # once");
            let _ = writeln!(out, "  cd {d} && ./build.sh {}", wasm.display());
        }
        Lang::Js => {
            let _ = writeln!(
                out,
                "  cd {d} && npm install --no-audit --no-fund && ./build.sh {}",
                wasm.display()
            );
        }
    }
    let _ = writeln!(
        out,
        "\ntest (every case in cases.yaml, through the gateway's runtime):"
    );
    let _ = writeln!(
        out,
        "  switchyard plugin test {wasm_abs} {}",
        shell_quote(&dir.join("cases.yaml").display().to_string())
    );
    let _ = writeln!(out, "\nrun (a gateway with the plugin loaded):");
    let _ = writeln!(out, "  mkdir -p plugins && cp {wasm_abs} plugins/");
    let role = match req.kind {
        Kind::Router => format!("router: {}", req.name),
        Kind::Sanitizer => format!("sanitizers: [{}]", req.name),
        Kind::Cost => format!("cost_rules: [{}]", req.name),
        Kind::Provider => String::new(),
    };
    let _ = writeln!(
        out,
        "  # in config.yaml (a plugin no role names loads but serves nothing):"
    );
    let _ = writeln!(out, "  #   plugins:");
    let _ = writeln!(out, "  #     dir: $PWD/plugins");
    if role.is_empty() {
        let _ = writeln!(
            out,
            "  #   and a deployment whose model starts with its prefix: model: {}/some-model",
            req.name
        );
    } else {
        let _ = writeln!(out, "  #     {role}");
    }
    let _ = writeln!(out, "  switchyard serve --config config.yaml");
    out
}

/// Quotes a path for a POSIX shell when it needs it.
fn shell_quote(s: &str) -> String {
    if s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/._-+=:@%".contains(&b))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(kind: Kind, lang: Lang, dir: &Path) -> Request {
        Request {
            kind,
            name: "acme-guard".into(),
            lang,
            dir: Some(dir.to_path_buf()),
            sdk: Some(sdk_dir()),
        }
    }

    fn sdk_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk/rust")
    }

    #[test]
    fn names() {
        for good in ["a", "my-router", "r2d2", "x-1-y"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "My-Router",
            "my_router",
            "1router",
            "-r",
            "r-",
            "my router",
            "ré",
            &"a".repeat(65),
        ] {
            let e = check_name(bad).unwrap_err().to_string();
            assert!(
                e.contains("lower-case letters, digits and '-'"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn kinds_and_langs_parse_and_refuse() {
        assert_eq!(Kind::parse("Sanitiser").unwrap(), Kind::Sanitizer);
        assert_eq!(Lang::parse("py").unwrap(), Lang::Python);
        assert_eq!(Lang::parse("javascript").unwrap(), Lang::Js);
        let e = Kind::parse("guard").unwrap_err().to_string();
        assert_eq!(
            e,
            "unknown plugin kind \"guard\": use router, sanitizer, provider or cost"
        );
        let e = Lang::parse("go").unwrap_err().to_string();
        assert_eq!(e, "unknown language \"go\": use rust, python or js");
    }

    #[test]
    fn every_supported_pair_writes_its_files_with_the_name() {
        for lang in Lang::ALL {
            for kind in Kind::ALL {
                let tmp = tempfile::tempdir().unwrap();
                let dir = tmp.path().join("p");
                match create(&request(kind, lang, &dir)) {
                    Ok(created) => {
                        assert!(created.files.iter().any(|f| f.ends_with("cases.yaml")));
                        let cases = std::fs::read_to_string(dir.join("cases.yaml")).unwrap();
                        assert!(
                            cases.contains("plugin: acme-guard"),
                            "{lang:?} {kind:?}: {cases}"
                        );
                        for f in &created.files {
                            let text = std::fs::read_to_string(f).unwrap();
                            for p in templates::NAME_PLACEHOLDERS
                                .iter()
                                .chain(&[templates::CRATE_PLACEHOLDER, templates::SDK_PLACEHOLDER])
                            {
                                assert!(!text.contains(p), "{}: {p} left", f.display());
                            }
                        }
                        assert!(created.next_steps.contains("switchyard plugin test"));
                        assert!(created.next_steps.contains("switchyard serve"));
                    }
                    Err(NewError::Unsupported { .. }) => {
                        assert_ne!(lang, Lang::Rust, "rust has every kind");
                        assert!(
                            !matches!(kind, Kind::Router | Kind::Sanitizer),
                            "{lang:?} must have {kind:?}"
                        );
                    }
                    Err(e) => panic!("{lang:?} {kind:?}: {e}"),
                }
            }
        }
    }

    #[test]
    fn rust_template_is_a_cdylib_on_the_given_sdk() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("r");
        let created = create(&request(Kind::Router, Lang::Rust, &dir)).unwrap();
        let toml = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        assert!(
            toml.contains("crate-type = [\"cdylib\", \"rlib\"]"),
            "{toml}"
        );
        let sdk = std::fs::canonicalize(sdk_dir()).unwrap();
        assert!(
            toml.contains(&format!("path = \"{}\"", sdk.display())),
            "{toml}"
        );
        assert!(toml.contains("name = \"acme-guard\""));
        assert_eq!(
            created.wasm,
            Path::new("target/wasm32-wasip2/release/acme_guard.wasm")
        );
        assert!(created.next_steps.contains("cdylib"));
    }

    #[test]
    fn refuses_a_non_empty_dir_and_writes_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("keep.txt"), "mine").unwrap();
        let e = create(&request(Kind::Router, Lang::Js, tmp.path())).unwrap_err();
        assert!(matches!(e, NewError::NotEmpty(_)), "{e}");
        assert!(e.to_string().contains("is not empty"));
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);
    }

    #[test]
    fn an_empty_dir_is_used() {
        let tmp = tempfile::tempdir().unwrap();
        create(&request(Kind::Sanitizer, Lang::Python, tmp.path())).unwrap();
        assert!(tmp.path().join("app.py").exists());
        assert!(tmp.path().join("switchyard_log.py").exists());
        assert!(tmp.path().join("wit/worlds.wit").exists());
    }

    #[test]
    fn unsupported_pair_says_what_exists() {
        let tmp = tempfile::tempdir().unwrap();
        let e = create(&request(Kind::Cost, Lang::Js, &tmp.path().join("c")))
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "there is no js template for a cost plugin yet: js has router, sanitizer; rust has all four kinds"
        );
        assert!(!tmp.path().join("c").exists());
    }

    #[test]
    fn a_bad_sdk_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let mut req = request(Kind::Router, Lang::Rust, &tmp.path().join("r"));
        req.sdk = Some(tmp.path().to_path_buf());
        let e = create(&req).unwrap_err().to_string();
        assert!(e.contains("not the Switchyard SDK"), "{e}");
    }

    #[test]
    fn scripts_are_executable() {
        use std::os::unix::fs::PermissionsExt as _;
        let tmp = tempfile::tempdir().unwrap();
        create(&request(Kind::Router, Lang::Js, tmp.path())).unwrap();
        let mode = std::fs::metadata(tmp.path().join("build.sh"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o111, 0o111);
    }
}
