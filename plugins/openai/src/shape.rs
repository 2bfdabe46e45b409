//! Checks of a JSON value's shape that keep nothing: a string, or an array
//! whose items each have some shape. With them an answer's shape is checked
//! in the same pass that reads its usage, with nothing allocated for it.

use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};

/// A JSON string.
#[derive(Default)]
pub struct Text;

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(StrVisitor(|_: &str| Text))
    }
}

/// Visits a JSON string (or key), which the function turns into a value.
pub struct StrVisitor<F>(pub F);

impl<T, F: FnOnce(&str) -> T> Visitor<'_> for StrVisitor<F> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<T, E> {
        Ok((self.0)(s))
    }
}

/// A JSON array whose every item is a `T`.
pub struct Each<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Each<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_seq(EachVisitor(PhantomData))
    }
}

struct EachVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for EachVisitor<T> {
    type Value = Each<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Each<T>, A::Error> {
        while seq.next_element::<T>()?.is_some() {}
        Ok(Each(PhantomData))
    }
}

/// Whether `text` can only be a JSON object (it starts with `{`): a derived
/// `Deserialize` would also take an array of the fields in order, which no
/// answer or chunk is.
pub fn is_object(text: &str) -> bool {
    text.trim_start().starts_with('{')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_each() {
        assert!(serde_json::from_str::<Text>(r#""a\"b""#).is_ok());
        assert!(serde_json::from_str::<Text>("1").is_err());
        assert!(serde_json::from_str::<Text>("null").is_err());
        assert!(serde_json::from_str::<Each<Text>>(r#"["a", "b"]"#).is_ok());
        assert!(serde_json::from_str::<Each<Text>>("[]").is_ok());
        assert!(serde_json::from_str::<Each<Text>>(r#"["a", 1]"#).is_err());
        assert!(serde_json::from_str::<Each<Text>>(r#"{"a": "b"}"#).is_err());
        assert!(is_object(" \n{}") && !is_object("[]"));
    }
}
