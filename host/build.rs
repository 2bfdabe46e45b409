//! Embeds the first-party plugins in the binary, so a LiteLLM config with
//! no `plugins:` section serves every prefix Switchyard knows.
//!
//! `SWITCHYARD_BUILTIN_PLUGINS` names a folder of built `*.wasm` files
//! (`make build` sets it to `target/builtin-plugins`); each is embedded
//! under its file name. Without it nothing is embedded, and the binary
//! looks for a `builtin-plugins` folder beside itself at run time.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

const ENV: &str = "SWITCHYARD_BUILTIN_PLUGINS";

fn main() {
    println!("cargo:rerun-if-env-changed={ENV}");
    let mut files: Vec<PathBuf> = Vec::new();
    if let Some(dir) = std::env::var_os(ENV).filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        println!("cargo:rerun-if-changed={}", dir.display());
        match std::fs::read_dir(&dir) {
            Ok(entries) => files.extend(
                entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|e| e == "wasm")),
            ),
            Err(e) => println!(
                "cargo:warning={ENV}={}: {e}; no plugins embedded",
                dir.display()
            ),
        }
    }
    files.sort();
    let mut code =
        String::from("/// Built-in plugins: (file stem, SHA-256 in hex, component bytes).\n");
    code.push_str("pub static EMBEDDED: &[(&str, &str, &[u8])] = &[\n");
    for f in &files {
        let Some(stem) = f.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        // Hashed here, so the gateway need not read a plugin's bytes (and
        // keep them resident) when its compile cache already holds it.
        let sha256 = match std::fs::read(f) {
            Ok(bytes) => hex::encode(Sha256::digest(&bytes)),
            Err(e) => {
                println!("cargo:warning={}: {e}; not embedded", f.display());
                continue;
            }
        };
        let _ = writeln!(
            code,
            "    ({stem:?}, {sha256:?}, include_bytes!({:?})),",
            absolute(f).display().to_string()
        );
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default()).join("builtin.rs");
    if let Err(e) = std::fs::write(&out, code) {
        println!("cargo:warning=writing {}: {e}", out.display());
    }
}

fn absolute(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}
