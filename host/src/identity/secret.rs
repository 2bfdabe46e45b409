//! Virtual keys as secrets: made from the OS's randomness, stored only as
//! a SHA-256 hash, compared in constant time, shown once.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A new key: `sk-` and 32 characters from 24 random bytes (192 bits).
pub fn new_key() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes)?;
    Ok(format!("sk-{}", URL_SAFE_NO_PAD.encode(bytes)))
}

/// Fills `bytes` from the OS's randomness, or, when it has none to give,
/// from `fastrand` (seeded by the clock) with a warning naming `purpose`.
/// For values that must be unpredictable but may degrade rather than fail
/// (a process's hash key, the seed of request ids); keys use [`new_key`],
/// which fails instead.
pub fn fill_random(bytes: &mut [u8], purpose: &str) {
    if let Err(e) = getrandom::fill(bytes) {
        tracing::warn!(error = %e, purpose, "no OS randomness; using a clock-seeded PRNG");
        bytes.iter_mut().for_each(|b| *b = fastrand::u8(..));
    }
}

/// The id a key is stored and looked up by: its SHA-256, in hex.
pub fn hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// How a key is shown after generation: `sk-...wxyz`.
pub fn display_name(key: &str) -> String {
    let tail: String = key
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("sk-...{tail}")
}

/// What stands in for a key in logs, records and messages when it has no
/// alias: the first 8 characters of its hash.
pub fn short(hash: &str) -> &str {
    hash.get(..8).unwrap_or(hash)
}

/// Compares a presented secret with the expected one in constant time.
pub fn same(presented: &str, expected: &str) -> bool {
    presented.as_bytes().ct_eq(expected.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_prefixed_random_and_hash_to_64_hex() {
        let a = new_key().unwrap();
        let b = new_key().unwrap();
        assert!(a.starts_with("sk-"));
        assert_eq!(a.len(), 35);
        assert_ne!(a, b);
        assert_eq!(hash(&a).len(), 64);
        assert_eq!(hash("sk-x"), hash("sk-x"));
        assert_eq!(display_name("sk-abcdefgh"), "sk-...efgh");
        assert_eq!(short(&hash("sk-x")).len(), 8);
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "abcd"));
    }
}
