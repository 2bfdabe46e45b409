//! Keyword lists compiled once at init into one index, so a request's text
//! is walked once, whatever the number of lists and keywords.
//!
//! A keyword is a phrase of one or more folded words ("bom dia", "stack
//! trace"). The index maps each phrase's first word to the phrases that
//! start with it; scanning looks every word of the folded text up once and
//! compares the text that follows only for phrases that start there. Because
//! both sides are folded words, matches fall on word boundaries: `api`
//! matches "API," and "the api" but not "rapid".

use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::BuildHasherDefault;

use crate::text;

/// The lists a keyword can belong to: the five intents, then the technical
/// terms that count towards complexity.
pub const LISTS: usize = 6;

/// The list index of the technical terms.
pub const TERMS: usize = 5;

/// A fixed hasher: deterministic, and it needs no random seed from the
/// host (the keys come from the operator's config, not from callers).
type Fixed = BuildHasherDefault<DefaultHasher>;

#[derive(Debug, Clone)]
struct Phrase {
    /// The folded words, joined by single spaces (as folded text is).
    text: Box<str>,
    /// Bit `i` set: the phrase belongs to list `i`.
    lists: u8,
}

/// The compiled keyword index.
#[derive(Debug, Clone, Default)]
pub struct Matcher {
    by_first_word: HashMap<Box<str>, Vec<u32>, Fixed>,
    phrases: Vec<Phrase>,
}

/// How many distinct keywords of each list a text contains.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Hits(pub [u32; LISTS]);

impl Hits {
    pub fn of(&self, list: usize) -> u32 {
        self.0.get(list).copied().unwrap_or(0)
    }
}

/// A keyword that folds to no words at all (for example "!!!"); it could
/// never match, which is almost certainly a config mistake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmptyKeyword(pub String);

impl Matcher {
    /// Adds `keyword` to `list`. The same phrase in several lists (or
    /// twice in one) is stored once and counts once per list.
    pub fn add(&mut self, list: usize, keyword: &str) -> Result<(), EmptyKeyword> {
        let folded = text::fold(keyword);
        let Some(first) = text::words(&folded).next() else {
            return Err(EmptyKeyword(keyword.to_string()));
        };
        let bit = 1u8 << list;
        let ids = self.by_first_word.entry(Box::from(first)).or_default();
        for &id in ids.iter() {
            if let Some(p) = self.phrases.get_mut(id as usize)
                && *p.text == *folded
            {
                p.lists |= bit;
                return Ok(());
            }
        }
        ids.push(self.phrases.len() as u32);
        self.phrases.push(Phrase {
            text: folded.into_boxed_str(),
            lists: bit,
        });
        Ok(())
    }

    /// Counts the distinct keywords of each list in `folded` (text from
    /// [`text::fold_into`]). Allocates only the few words of the "seen" set.
    pub fn scan(&self, folded: &str) -> Hits {
        let mut hits = Hits::default();
        if self.phrases.is_empty() {
            return hits;
        }
        // One bit per phrase, so a keyword repeated in the text counts once.
        let mut seen = vec![0u64; self.phrases.len().div_ceil(64)];
        let mut start = 0;
        for word in folded.split(' ') {
            let at = start;
            start += word.len() + 1;
            let Some(ids) = self.by_first_word.get(word) else {
                continue;
            };
            let rest = folded.get(at..).unwrap_or("");
            for &id in ids {
                let Some(phrase) = self.phrases.get(id as usize) else {
                    continue;
                };
                let (slot, bit) = ((id / 64) as usize, 1u64 << (id % 64));
                if seen.get(slot).is_some_and(|s| s & bit != 0) {
                    continue;
                }
                // The phrase must follow here and end at a word break.
                let ends_at_break = rest
                    .as_bytes()
                    .get(phrase.text.len())
                    .is_none_or(|b| *b == b' ');
                if rest.starts_with(&*phrase.text) && ends_at_break {
                    if let Some(s) = seen.get_mut(slot) {
                        *s |= bit;
                    }
                    for (list, count) in hits.0.iter_mut().enumerate() {
                        if phrase.lists & (1 << list) != 0 {
                            *count += 1;
                        }
                    }
                }
            }
        }
        hits
    }

    /// The number of distinct phrases (for tests and sizing).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.phrases.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(m: &Matcher, text_: &str) -> Hits {
        m.scan(&text::fold(text_))
    }

    fn matcher(lists: &[(usize, &[&str])]) -> Matcher {
        let mut m = Matcher::default();
        for (list, keywords) in lists {
            for k in *keywords {
                m.add(*list, k).unwrap();
            }
        }
        m
    }

    #[test]
    fn matches_whole_words_only() {
        let m = matcher(&[(0, &["api", "hi"])]);
        assert_eq!(scan(&m, "The API, please").of(0), 1);
        assert_eq!(scan(&m, "rapid this").of(0), 0);
        assert_eq!(scan(&m, "Hi!").of(0), 1);
    }

    #[test]
    fn matches_phrases_across_punctuation_and_case() {
        let m = matcher(&[(1, &["stack trace", "how much"])]);
        assert_eq!(scan(&m, "Here is the Stack-Trace: ...").of(1), 1);
        assert_eq!(scan(&m, "how, much").of(1), 1);
        assert_eq!(scan(&m, "how many").of(1), 0);
        // A phrase cut off by the end of the text does not match.
        assert_eq!(scan(&m, "tell me how").of(1), 0);
    }

    #[test]
    fn matches_accent_insensitively_both_ways() {
        let m = matcher(&[(2, &["não funciona", "orcamento"])]);
        assert_eq!(scan(&m, "O app NAO FUNCIONA").of(2), 1);
        assert_eq!(scan(&m, "Preciso de um orçamento").of(2), 1);
    }

    #[test]
    fn counts_distinct_keywords_once() {
        let m = matcher(&[(TERMS, &["api", "json", "endpoint"])]);
        assert_eq!(scan(&m, "api api api").of(TERMS), 1);
        assert_eq!(scan(&m, "api json, endpoint and API").of(TERMS), 3);
    }

    #[test]
    fn a_phrase_in_two_lists_is_stored_once_and_counts_in_both() {
        let m = matcher(&[(4, &["api", "error"]), (TERMS, &["api", "API"])]);
        assert_eq!(m.len(), 2);
        let h = scan(&m, "api error");
        assert_eq!((h.of(4), h.of(TERMS)), (2, 1));
    }

    #[test]
    fn phrases_sharing_a_first_word_are_all_checked() {
        let m = matcher(&[(0, &["good morning", "good afternoon"]), (1, &["good"])]);
        let h = scan(&m, "good afternoon");
        assert_eq!((h.of(0), h.of(1)), (1, 1));
    }

    #[test]
    fn empty_keyword_is_rejected() {
        let mut m = Matcher::default();
        assert_eq!(m.add(0, " !? "), Err(EmptyKeyword(" !? ".into())));
    }

    #[test]
    fn empty_matcher_and_text_find_nothing() {
        assert_eq!(scan(&Matcher::default(), "anything"), Hits::default());
        let m = matcher(&[(0, &["hi"])]);
        assert_eq!(scan(&m, ""), Hits::default());
    }
}
