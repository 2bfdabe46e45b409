//! Series found by their label values without a lock or an allocation:
//! the map is read through an `ArcSwap` and looked up by a hash of the
//! borrowed values. Only a label set seen for the first time allocates,
//! under a mutex no request holds otherwise (copy on write: the map is
//! small, bounded by [`Family::new`]'s cap). Past the cap, every new label
//! set is counted under one series whose values are all `other`.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::ops::Deref;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use crossbeam_utils::CachePadded;

/// Label values of a series past the cap.
pub const OVERFLOW: &str = "other";

/// One series: its label values and its cells. The cells are padded onto
/// cache lines apart from the values: both cores write the cells on every
/// request, and a lookup that read values sharing a line with them would
/// wait for that line each time.
pub struct Entry<const N: usize, S> {
    pub values: [Label; N],
    pub series: CachePadded<S>,
}

/// A label value in cache lines of its own. Every request reads the
/// values of the series it counts to; a short string allocated beside
/// memory another core writes (a request's own small allocations, in the
/// same allocator slab) would miss the cache on each of those reads.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
pub struct Label(String);

impl Label {
    fn new(v: &str) -> Label {
        let mut s = String::with_capacity(v.len().max(1).next_multiple_of(64));
        s.push_str(v);
        Label(s)
    }
}

impl Deref for Label {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

type Map<const N: usize, S> = HashMap<u64, Vec<Arc<Entry<N, S>>>>;

/// Every series of one label set shape.
pub struct Family<const N: usize, S> {
    map: ArcSwap<Map<N, S>>,
    hasher: RandomState,
    grow: Mutex<()>,
    make: fn() -> S,
    cap: usize,
}

impl<const N: usize, S> Family<N, S> {
    /// A family of at most `cap` series (plus the overflow one), each
    /// made by `make`.
    pub fn new(make: fn() -> S, cap: usize) -> Family<N, S> {
        Family {
            map: ArcSwap::from_pointee(HashMap::new()),
            hasher: RandomState::new(),
            grow: Mutex::new(()),
            make,
            cap,
        }
    }

    /// Runs `f` on the series of `values`, made on first sight.
    pub fn with<R>(&self, values: [&str; N], f: impl FnOnce(&S) -> R) -> R {
        let hash = self.hasher.hash_one(values);
        {
            let map = self.map.load();
            if let Some(e) = find(&map, hash, &values) {
                return f(&e.series);
            }
        }
        let e = self.insert(hash, values);
        f(&e.series)
    }

    fn insert(&self, hash: u64, values: [&str; N]) -> Arc<Entry<N, S>> {
        let _grow = self.grow.lock().unwrap_or_else(|p| p.into_inner());
        let map = self.map.load_full();
        if let Some(e) = find(&map, hash, &values) {
            return e.clone();
        }
        let count: usize = map.values().map(Vec::len).sum();
        let (hash, values) = if count >= self.cap {
            let other = [OVERFLOW; N];
            let hash = self.hasher.hash_one(other);
            if let Some(e) = find(&map, hash, &other) {
                return e.clone();
            }
            (hash, other)
        } else {
            (hash, values)
        };
        let entry = Arc::new(Entry {
            values: values.map(Label::new),
            series: CachePadded::new((self.make)()),
        });
        let mut next: Map<N, S> = (*map).clone();
        next.entry(hash).or_default().push(entry.clone());
        self.map.store(Arc::new(next));
        entry
    }

    /// Every series, sorted by label values (for a stable scrape).
    pub fn entries(&self) -> Vec<Arc<Entry<N, S>>> {
        let map = self.map.load();
        let mut all: Vec<Arc<Entry<N, S>>> = map.values().flatten().cloned().collect();
        all.sort_by(|a, b| a.values.cmp(&b.values));
        all
    }
}

fn find<'m, const N: usize, S>(
    map: &'m Map<N, S>,
    hash: u64,
    values: &[&str; N],
) -> Option<&'m Arc<Entry<N, S>>> {
    map.get(&hash)?.iter().find(|e| {
        e.values
            .iter()
            .zip(values.iter())
            .all(|(have, want)| &**have == *want)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::metrics::cells::Count;

    #[test]
    fn label_values_and_cells_sit_on_cache_lines_of_their_own() {
        let f: Family<2, Count> = Family::new(Count::default, 4);
        f.with(["gpt-4o", ""], Count::inc);
        let entries = f.entries();
        let e = &entries[0];
        // CachePadded aligns to the target's cache line (128 bytes on
        // x86_64, 32 on arm and mips): whatever it is, the cell starts one.
        let line = std::mem::align_of::<CachePadded<Count>>();
        assert!(line >= 32, "{line}");
        assert_eq!(std::ptr::from_ref(&e.series).addr() % line, 0);
        assert_eq!(std::mem::align_of_val(&e.series), line);
        for v in &e.values {
            assert_eq!(v.0.capacity(), 64);
        }
        assert_eq!((&*e.values[0], &*e.values[1]), ("gpt-4o", ""));
        assert_eq!(e.series.get(), 1);
    }

    #[test]
    fn one_series_per_label_set_and_the_overflow_past_the_cap() {
        let f: Family<2, Count> = Family::new(Count::default, 2);
        f.with(["a", "x"], Count::inc);
        f.with(["a", "x"], Count::inc);
        f.with(["a", "y"], Count::inc);
        f.with(["b", "x"], Count::inc);
        f.with(["c", "x"], Count::inc);
        let entries = f.entries();
        let seen: Vec<(Vec<&str>, u64)> = entries
            .iter()
            .map(|e| (e.values.iter().map(|v| &**v).collect(), e.series.get()))
            .collect();
        assert_eq!(
            seen,
            vec![
                (vec!["a", "x"], 2),
                (vec!["a", "y"], 1),
                (vec!["other", "other"], 2),
            ]
        );
    }
}
