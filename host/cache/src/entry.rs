//! One cached answer, and the bytes it is stored as on disk and in Redis.
//!
//! The format carries the key so that a file or a Redis value can be checked
//! to belong to the key asked for, a version byte so that an entry written
//! by another release is recognised (and skipped) rather than misread, and
//! a SHA-256 over everything so that a torn write or a flipped bit is a miss
//! rather than a wrong answer.
//!
//! Layout (integers little-endian):
//! `magic "SWYC"`, `version u8`, `created_ms u64`, `expires_ms u64` (0: none),
//! `key_len u32`, key, `body_len u64`, body, `sha256` of all that (32 bytes).

use bytes::Bytes;
use sha2::{Digest, Sha256};

/// Marks a Switchyard cache entry.
const MAGIC: &[u8; 4] = b"SWYC";
/// The format written by this build.
pub const FORMAT_VERSION: u8 = 1;
const CHECKSUM_LEN: usize = 32;
/// Magic, version, created, expires, key length.
const HEAD_LEN: usize = 4 + 1 + 8 + 8 + 4;

/// A stored answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// When it was stored (Unix milliseconds).
    pub created_ms: u64,
    /// When it stops being served (Unix milliseconds); `None`: until evicted.
    pub expires_ms: Option<u64>,
    pub body: Bytes,
}

/// Why stored bytes are not an entry for the key asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    #[error("entry truncated")]
    Truncated,
    #[error("entry corrupt (bad magic or checksum)")]
    Corrupt,
    #[error("entry written in format version {0}, this build reads version {FORMAT_VERSION}")]
    OtherVersion(u8),
    #[error("entry holds another key")]
    OtherKey,
}

impl Entry {
    /// The stored form, for a disk file or a Redis value.
    pub fn encode(&self, key: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEAD_LEN + key.len() + 8 + self.body.len() + CHECKSUM_LEN);
        out.extend_from_slice(MAGIC);
        out.push(FORMAT_VERSION);
        out.extend_from_slice(&self.created_ms.to_le_bytes());
        out.extend_from_slice(&self.expires_ms.unwrap_or(0).to_le_bytes());
        // A key longer than 4 GiB cannot be a cache key; saturating keeps
        // the function total, and decode then reports the entry truncated.
        let key_len = u32::try_from(key.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&key_len.to_le_bytes());
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(&(self.body.len() as u64).to_le_bytes());
        out.extend_from_slice(&self.body);
        let checksum = Sha256::digest(&out);
        out.extend_from_slice(&checksum);
        out
    }

    /// The entry in `bytes`, checked whole and checked to be `key`'s.
    pub fn decode(bytes: &[u8], key: &str) -> Result<Entry, EntryError> {
        let head = Head::read(bytes)?;
        let mut reader = Reader {
            bytes,
            at: head.body_at,
        };
        let body_len = usize::try_from(reader.u64()?).map_err(|_| EntryError::Truncated)?;
        let body = reader.take(body_len)?;
        let signed = reader.at;
        let checksum = reader.take(CHECKSUM_LEN)?;
        if reader.at != bytes.len() {
            return Err(EntryError::Corrupt);
        }
        let signed = bytes.get(..signed).ok_or(EntryError::Truncated)?;
        if Sha256::digest(signed).as_slice() != checksum {
            return Err(EntryError::Corrupt);
        }
        if head.key != key.as_bytes() {
            return Err(EntryError::OtherKey);
        }
        Ok(Entry {
            created_ms: head.created_ms,
            expires_ms: head.expires_ms,
            body: Bytes::copy_from_slice(body),
        })
    }

    /// Whether it may still be served at `now_ms`.
    pub fn is_fresh(&self, now_ms: u64) -> bool {
        self.expires_ms.is_none_or(|expires| now_ms < expires)
    }

    /// How long ago it was stored (0 if the clock went back).
    pub fn age_ms(&self, now_ms: u64) -> u64 {
        now_ms.saturating_sub(self.created_ms)
    }
}

/// The key stored in `bytes`, read from the head only (no checksum check):
/// enough for a flush by prefix to pick files without reading bodies.
pub(crate) fn stored_key(bytes: &[u8]) -> Result<&[u8], EntryError> {
    Head::read(bytes).map(|head| head.key)
}

/// Everything before the body length.
struct Head<'a> {
    created_ms: u64,
    expires_ms: Option<u64>,
    key: &'a [u8],
    /// Where the body length starts.
    body_at: usize,
}

impl<'a> Head<'a> {
    fn read(bytes: &'a [u8]) -> Result<Head<'a>, EntryError> {
        let magic_len = bytes.len().min(MAGIC.len());
        if bytes.get(..magic_len) != MAGIC.get(..magic_len) {
            return Err(EntryError::Corrupt);
        }
        let mut reader = Reader { bytes, at: 4 };
        let version = reader.u8()?;
        if version != FORMAT_VERSION {
            return Err(EntryError::OtherVersion(version));
        }
        let created_ms = reader.u64()?;
        let expires_ms = Some(reader.u64()?).filter(|&ms| ms != 0);
        let key_len = usize::try_from(reader.u32()?).map_err(|_| EntryError::Truncated)?;
        let key = reader.take(key_len)?;
        Ok(Head {
            created_ms,
            expires_ms,
            key,
            body_at: reader.at,
        })
    }
}

/// Reads fields in order; running out of bytes is a truncation.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> Result<&'a [u8], EntryError> {
        let end = self.at.checked_add(len).ok_or(EntryError::Truncated)?;
        let slice = self.bytes.get(self.at..end).ok_or(EntryError::Truncated)?;
        self.at = end;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], EntryError> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, EntryError> {
        Ok(self.array::<1>()?[0])
    }

    fn u32(&mut self) -> Result<u32, EntryError> {
        self.array().map(u32::from_le_bytes)
    }

    fn u64(&mut self) -> Result<u64, EntryError> {
        self.array().map(u64::from_le_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Entry {
        Entry {
            created_ms: 1_700_000_000_123,
            expires_ms: Some(1_700_000_060_123),
            body: Bytes::from_static(br#"{"choices":[{"message":{"content":"hi"}}]}"#),
        }
    }

    #[test]
    fn round_trips_with_and_without_expiry() {
        let with = entry();
        assert_eq!(Entry::decode(&with.encode("k1"), "k1"), Ok(with.clone()));
        let without = Entry {
            expires_ms: None,
            body: Bytes::new(),
            ..with
        };
        let bytes = without.encode("");
        assert_eq!(bytes.len(), HEAD_LEN + 8 + CHECKSUM_LEN);
        assert_eq!(Entry::decode(&bytes, ""), Ok(without));
    }

    #[test]
    fn the_layout_is_the_documented_one() {
        let bytes = entry().encode("ab");
        assert_eq!(&bytes[..4], b"SWYC");
        assert_eq!(bytes[4], 1);
        assert_eq!(&bytes[5..13], &1_700_000_000_123u64.to_le_bytes());
        assert_eq!(&bytes[13..21], &1_700_000_060_123u64.to_le_bytes());
        assert_eq!(&bytes[21..25], &2u32.to_le_bytes());
        assert_eq!(&bytes[25..27], b"ab");
        assert_eq!(&bytes[27..35], &(entry().body.len() as u64).to_le_bytes());
        assert_eq!(bytes.len(), 35 + entry().body.len() + 32);
        assert_eq!(stored_key(&bytes), Ok(&b"ab"[..]));
    }

    #[test]
    fn every_cut_is_truncated() {
        let bytes = entry().encode("key");
        for len in 0..bytes.len() {
            assert_eq!(
                Entry::decode(&bytes[..len], "key"),
                Err(EntryError::Truncated),
                "cut at {len}"
            );
        }
    }

    #[test]
    fn a_flipped_byte_or_bad_magic_or_trailing_bytes_is_corrupt() {
        let bytes = entry().encode("key");
        let mut flipped = bytes.clone();
        let last_body_byte = bytes.len() - CHECKSUM_LEN - 1;
        flipped[last_body_byte] ^= 1;
        assert_eq!(Entry::decode(&flipped, "key"), Err(EntryError::Corrupt));
        let mut checksum = bytes.clone();
        checksum[bytes.len() - 1] ^= 0x80;
        assert_eq!(Entry::decode(&checksum, "key"), Err(EntryError::Corrupt));
        let mut magic = bytes.clone();
        magic[0] = b'X';
        assert_eq!(Entry::decode(&magic, "key"), Err(EntryError::Corrupt));
        assert_eq!(
            Entry::decode(b"{\"json\"}", "key"),
            Err(EntryError::Corrupt)
        );
        let mut trailing = bytes;
        trailing.push(0);
        assert_eq!(Entry::decode(&trailing, "key"), Err(EntryError::Corrupt));
    }

    #[test]
    fn another_version_is_named_before_anything_else_is_read() {
        let mut bytes = entry().encode("key");
        bytes[4] = 7;
        assert_eq!(
            Entry::decode(&bytes, "key"),
            Err(EntryError::OtherVersion(7))
        );
        // Another version may lay out the rest differently: only the magic
        // and the version byte are read.
        assert_eq!(
            Entry::decode(b"SWYC\x02", "key"),
            Err(EntryError::OtherVersion(2))
        );
    }

    #[test]
    fn another_key_is_refused() {
        let bytes = entry().encode("key-a");
        assert_eq!(Entry::decode(&bytes, "key-b"), Err(EntryError::OtherKey));
        assert_eq!(Entry::decode(&bytes, "key-"), Err(EntryError::OtherKey));
    }

    #[test]
    fn freshness_and_age() {
        let e = entry();
        assert!(e.is_fresh(1_700_000_060_122));
        assert!(!e.is_fresh(1_700_000_060_123));
        assert_eq!(e.age_ms(1_700_000_000_623), 500);
        assert_eq!(e.age_ms(0), 0);
        let forever = Entry {
            expires_ms: None,
            ..e
        };
        assert!(forever.is_fresh(u64::MAX));
    }
}
