//! Folding and tokenising text so keywords match regardless of case and
//! accents: "Não FUNCIONA!" and "nao funciona" both become `nao funciona`.
//!
//! Folding is done by hand for the Latin letters English, Portuguese,
//! Spanish and French use, rather than with a Unicode normalisation crate:
//! that covers the languages the defaults are written in, keeps the
//! component small, and a table lookup per character is cheap on the route
//! path. Letters outside the table are lower-cased and kept, so words in
//! other scripts still form words (they just never equal a Latin keyword).

/// Folds one character: `Some` with the folded letter or digit, `None` for
/// a word break. Combining accents (U+0300..U+036F, as in decomposed "a" +
/// "~") fold to nothing, which [`fold_into`] handles by skipping them.
fn fold_char(c: char) -> Option<char> {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric().then(|| c.to_ascii_lowercase());
    }
    let folded = match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' => 'a',
        'ç' | 'Ç' => 'c',
        'è' | 'é' | 'ê' | 'ë' | 'È' | 'É' | 'Ê' | 'Ë' => 'e',
        'ì' | 'í' | 'î' | 'ï' | 'Ì' | 'Í' | 'Î' | 'Ï' => 'i',
        'ñ' | 'Ñ' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' | 'Ø' => 'o',
        'ù' | 'ú' | 'û' | 'ü' | 'Ù' | 'Ú' | 'Û' | 'Ü' => 'u',
        'ý' | 'ÿ' | 'Ý' => 'y',
        _ if c.is_alphanumeric() => return Some(c),
        _ => return None,
    };
    Some(folded)
}

fn is_combining_accent(c: char) -> bool {
    ('\u{0300}'..='\u{036F}').contains(&c)
}

/// Appends the folded words of `text` to `out`, separated by single spaces,
/// with no space at either end (when `out` is empty to begin with).
///
/// Anything that is not a letter or digit is a word break, so punctuation
/// never glues to a word ("hello," is `hello`) and a keyword such as
/// `stack-trace` folds to the two words `stack trace`.
pub fn fold_into(text: &str, out: &mut String) {
    let mut in_word = false;
    for c in text.chars() {
        if is_combining_accent(c) {
            continue;
        }
        match fold_char(c) {
            Some(f) => {
                if !in_word && !out.is_empty() {
                    out.push(' ');
                }
                in_word = true;
                if f.is_ascii() || !f.is_uppercase() {
                    out.push(f);
                } else {
                    out.extend(f.to_lowercase());
                }
            }
            None => in_word = false,
        }
    }
}

/// The folded form of `text` as a new string (for config, at init).
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    fold_into(text, &mut out);
    out
}

/// The words of folded text.
pub fn words(folded: &str) -> impl Iterator<Item = &str> {
    folded.split(' ').filter(|w| !w.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_cases_and_breaks_on_punctuation() {
        assert_eq!(fold("Hello, WORLD!  How much?"), "hello world how much");
        assert_eq!(fold("stack-trace"), "stack trace");
        assert_eq!(fold("doesn't work"), "doesn t work");
        assert_eq!(fold("doesn’t work"), "doesn t work");
        assert_eq!(fold("  ...  "), "");
        assert_eq!(fold("api_key=abc123"), "api key abc123");
    }

    #[test]
    fn strips_portuguese_accents() {
        assert_eq!(fold("Olá! Não funciona"), "ola nao funciona");
        assert_eq!(fold("orçamento, INTEGRAÇÃO"), "orcamento integracao");
        assert_eq!(fold("horário é às três"), "horario e as tres");
        assert_eq!(fold("Você pôde"), "voce pode");
    }

    #[test]
    fn strips_decomposed_accents() {
        // "não" written as n, a, combining tilde, o.
        assert_eq!(fold("Na\u{0303}o"), "nao");
    }

    #[test]
    fn keeps_other_scripts_as_words() {
        assert_eq!(fold("Привет мир"), "привет мир");
        assert_eq!(fold("hola señor"), "hola senor");
    }

    #[test]
    fn fold_into_appends_with_a_separator() {
        let mut out = String::from("first");
        fold_into("Second", &mut out);
        assert_eq!(out, "first second");
        let words: Vec<&str> = words(&out).collect();
        assert_eq!(words, ["first", "second"]);
    }
}
