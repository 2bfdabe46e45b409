//! Database URLs: which backend, what to tell sqlx, how to name the
//! database in logs, and which strings are secret.

use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;

use crate::error::{Secrets, StoreError};

/// Which database a [`crate::Store`] talks to; SQL differs in a few places.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// A SQLite file (or memory, for tests).
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// A parsed database URL.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) backend: Backend,
    /// The URL handed to sqlx's `Any` driver.
    pub(crate) url: String,
    /// "sqlite /path/file.db" or "postgresql host:port/db".
    pub(crate) description: String,
    /// `sqlite::memory:`: one connection holds the whole database.
    pub(crate) memory: bool,
    pub(crate) secrets: Secrets,
}

impl Target {
    pub(crate) fn parse(url: &str) -> Result<Target, StoreError> {
        let url = url.trim();
        if url.starts_with("sqlite:") {
            sqlite(url)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            postgres(url)
        } else {
            Err(StoreError::Url(format!(
                "{}: expected sqlite:///path/file.db, sqlite::memory: or postgres://…",
                redact(url)
            )))
        }
    }
}

fn sqlite(url: &str) -> Result<Target, StoreError> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or_default();
    let (path, params) = rest.split_once('?').unwrap_or((rest, ""));
    if path.is_empty() {
        return Err(StoreError::Url(format!("{url}: no file named")));
    }
    let memory = path == ":memory:" || params.split('&').any(|p| p == "mode=memory");
    // Create the file if missing, unless the URL chose a mode itself.
    let url = if params.split('&').any(|p| p.starts_with("mode=")) {
        url.to_owned()
    } else if params.is_empty() {
        format!("{url}?mode=rwc")
    } else {
        format!("{url}&mode=rwc")
    };
    let options = SqliteConnectOptions::from_str(&url)
        .map_err(|e| StoreError::Url(format!("{}: {e}", redact(&url))))?;
    let description = if path == ":memory:" {
        "sqlite :memory:".to_owned()
    } else {
        format!("sqlite {}", options.get_filename().display())
    };
    Ok(Target {
        backend: Backend::Sqlite,
        url,
        description,
        memory,
        secrets: Secrets::default(),
    })
}

fn postgres(url: &str) -> Result<Target, StoreError> {
    let secrets = Secrets::new(password(url).into_iter().collect());
    let options = PgConnectOptions::from_str(url).map_err(|e| {
        StoreError::Url(format!(
            "{}: {}",
            redact(url),
            secrets.scrub(&e.to_string())
        ))
    })?;
    let database = options
        .get_database()
        .unwrap_or(options.get_username())
        .to_owned();
    let description = match options.get_socket() {
        Some(socket) => format!("postgresql {}/{database}", socket.display()),
        None => format!(
            "postgresql {}:{}/{database}",
            options.get_host(),
            options.get_port()
        ),
    };
    Ok(Target {
        backend: Backend::Postgres,
        url: url.to_owned(),
        description,
        memory: false,
        secrets,
    })
}

/// The authority part of a URL (`user:pass@host:port`) and where it starts.
fn authority(url: &str) -> Option<(usize, &str)> {
    let start = url.find("://")? + 3;
    let rest = &url[start..];
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Some((start, &rest[..end]))
}

/// The password in `user:pass@host` or `?password=`, raw and percent-decoded.
fn password(url: &str) -> Vec<String> {
    let mut found = Vec::new();
    if let Some((_, auth)) = authority(url)
        && let Some(at) = auth.rfind('@')
        && let Some((_, pass)) = auth[..at].split_once(':')
    {
        found.push(pass.to_owned());
    }
    if let Some((_, query)) = url.split_once('?') {
        for pair in query.split('&') {
            if let Some(pass) = pair.strip_prefix("password=") {
                found.push(pass.to_owned());
            }
        }
    }
    let decoded: Vec<String> = found.iter().map(|p| percent_decode(p)).collect();
    found.extend(decoded);
    found.retain(|p| !p.is_empty());
    found
}

/// `url` with its password replaced by `***`.
pub(crate) fn redact(url: &str) -> String {
    let mut out = url.to_owned();
    if let Some((start, auth)) = authority(url)
        && let Some(at) = auth.rfind('@')
        && let Some(colon) = auth[..at].find(':')
    {
        out.replace_range(start + colon + 1..start + at, "***");
    }
    if let Some(q) = out.find('?') {
        let query: Vec<String> = out[q + 1..]
            .split('&')
            .map(|pair| match pair.strip_prefix("password=") {
                Some(_) => "password=***".to_owned(),
                None => pair.to_owned(),
            })
            .collect();
        out = format!("{}?{}", &out[..q], query.join("&"));
    }
    out
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_name_the_file_and_create_it() {
        let t = Target::parse("sqlite:///tmp/x/file.db").unwrap();
        assert_eq!(t.backend, Backend::Sqlite);
        assert_eq!(t.url, "sqlite:///tmp/x/file.db?mode=rwc");
        assert_eq!(t.description, "sqlite /tmp/x/file.db");
        assert!(!t.memory);
        let t = Target::parse("sqlite://relative.db").unwrap();
        assert_eq!(t.description, "sqlite relative.db");
        let t = Target::parse("sqlite://relative.db?mode=ro").unwrap();
        assert_eq!(t.url, "sqlite://relative.db?mode=ro");
        let t = Target::parse("sqlite::memory:").unwrap();
        assert_eq!(t.description, "sqlite :memory:");
        assert!(t.memory);
    }

    #[test]
    fn postgres_urls_are_described_without_the_password() {
        for scheme in ["postgres", "postgresql"] {
            let t = Target::parse(&format!("{scheme}://bob:s3cr%21t@db.internal:6543/gw")).unwrap();
            assert_eq!(t.backend, Backend::Postgres);
            assert_eq!(t.description, "postgresql db.internal:6543/gw");
            assert_eq!(
                t.secrets.scrub("auth failed: s3cr!t and s3cr%21t"),
                "auth failed: *** and ***"
            );
        }
    }

    #[test]
    fn redact_hides_passwords_in_userinfo_and_query() {
        assert_eq!(
            redact("postgres://bob:hunter2@h:5432/db?sslmode=require&password=x1"),
            "postgres://bob:***@h:5432/db?sslmode=require&password=***"
        );
        assert_eq!(redact("postgres://bob@h/db"), "postgres://bob@h/db");
    }

    #[test]
    fn unknown_schemes_are_refused_without_the_password() {
        let e = Target::parse("mysql://root:topsecret@h/db").unwrap_err();
        assert_eq!(
            e.to_string(),
            "database URL: mysql://root:***@h/db: expected sqlite:///path/file.db, sqlite::memory: or postgres://…"
        );
    }
}
