//! The spill file: spend records the database could not take while the
//! in-memory queue was full, one JSON object a line, replayed in order once
//! the database is back. Only the writer's task touches it.

use std::io::SeekFrom;
use std::path::PathBuf;

use tokio::fs::{self, OpenOptions};
use tokio::io::{AsyncBufReadExt, AsyncSeekExt, AsyncWriteExt, BufReader};

use crate::spend::SpendRecord;

#[derive(Debug)]
pub(crate) struct Spill {
    path: PathBuf,
    max_bytes: u64,
    /// Bytes in the file.
    size: u64,
    /// Where the next replay reads; lines before it are in the database.
    offset: u64,
    /// Records after `offset`.
    pub(crate) records: u64,
}

/// What one replay step read.
pub(crate) struct Batch {
    pub(crate) records: Vec<SpendRecord>,
    /// The offset after the last line read.
    pub(crate) end: u64,
    /// Lines that were not a record (a crash mid-write), skipped.
    pub(crate) bad: u64,
}

impl Spill {
    /// A spill file taken as empty.
    pub(crate) fn empty(path: PathBuf, max_bytes: u64) -> Spill {
        Spill {
            path,
            max_bytes,
            size: 0,
            offset: 0,
            records: 0,
        }
    }

    /// Opens an existing spill file (counting its records) or notes that there is none.
    pub(crate) async fn open(path: PathBuf, max_bytes: u64) -> std::io::Result<Spill> {
        let mut spill = Spill::empty(path, max_bytes);
        let file = match fs::File::open(&spill.path).await {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(spill),
            Err(e) => return Err(e),
        };
        spill.size = file.metadata().await?.len();
        let mut lines = BufReader::new(file).lines();
        while let Some(line) = lines.next_line().await? {
            if !line.trim().is_empty() {
                spill.records += 1;
            }
        }
        Ok(spill)
    }

    pub(crate) fn path(&self) -> &std::path::Path {
        &self.path
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.offset >= self.size
    }

    /// Gives up on replaying the file in this run (it cannot be read): it
    /// counts as full, so nothing more is appended to it.
    pub(crate) fn abandon(&mut self) {
        self.offset = self.size;
        self.max_bytes = 0;
    }

    /// Room left under the cap, in bytes.
    pub(crate) fn room(&self) -> u64 {
        self.max_bytes.saturating_sub(self.size)
    }

    /// Appends records already serialized as lines (`count` of them).
    pub(crate) async fn append(&mut self, lines: &[u8], count: u64) -> std::io::Result<()> {
        if lines.is_empty() {
            return Ok(());
        }
        if let Some(dir) = self.path.parent()
            && !dir.as_os_str().is_empty()
        {
            fs::create_dir_all(dir).await?;
        }
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .await?;
        file.write_all(lines).await?;
        file.flush().await?;
        self.size += lines.len() as u64;
        self.records += count;
        Ok(())
    }

    /// Reads up to `max` records from the replay offset, without moving it.
    pub(crate) async fn read(&self, max: usize) -> std::io::Result<Batch> {
        let mut batch = Batch {
            records: Vec::new(),
            end: self.offset,
            bad: 0,
        };
        if self.is_empty() {
            return Ok(batch);
        }
        let mut file = fs::File::open(&self.path).await?;
        file.seek(SeekFrom::Start(self.offset)).await?;
        let mut reader = BufReader::new(file);
        let mut line = String::new();
        while batch.records.len() < max {
            line.clear();
            let n = reader.read_line(&mut line).await?;
            if n == 0 {
                break;
            }
            batch.end += n as u64;
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str(&line) {
                Ok(record) => batch.records.push(record),
                Err(_) => batch.bad += 1,
            }
        }
        Ok(batch)
    }

    /// Marks the `lines` up to `end` (from [`Spill::read`]) as stored; empties the file once
    /// everything is.
    pub(crate) async fn consumed(&mut self, end: u64, lines: u64) -> std::io::Result<()> {
        self.offset = end;
        self.records = self.records.saturating_sub(lines);
        if self.is_empty() {
            let file = OpenOptions::new().write(true).open(&self.path).await?;
            file.set_len(0).await?;
            self.size = 0;
            self.offset = 0;
            self.records = 0;
        }
        Ok(())
    }
}

/// A record as one spill line.
pub(crate) fn line(record: &SpendRecord) -> Vec<u8> {
    let mut out = serde_json::to_vec(record).unwrap_or_default();
    out.push(b'\n');
    out
}
