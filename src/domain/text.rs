//! Validated text values and the folding used to match names.
//!
//! Names, objectives, references and reasons are free text, but never empty,
//! never longer than a fixed bound, and never carrying control characters:
//! each kind of text is a newtype that can only be built through that check.
//! Text given as input (`new`) is also refused when it holds an invisible
//! or direction-changing character ([`is_hidden`]: Unicode format
//! characters such as U+202E or U+200D, line and paragraph separators,
//! private-use and unassigned code points), which would let a table show
//! something other than what is stored; and a partner's name or short name
//! must keep a letter or digit once folded, or it could never be named.
//! Text read back from the store (`stored`) is held to the rule it was
//! written under (no control character), so that a registry written before
//! the stricter rule still opens; [`escape_for_terminal`] makes any such
//! text safe to show.
//! [`fold_key`] is the comparison key that makes "Fès-Boulemane" and
//! "fes boulemane" the same name.

use std::fmt;

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Why a text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// Empty, or only white space.
    #[error("{field} is empty")]
    Empty {
        /// which field
        field: &'static str,
    },
    /// Longer than the field allows.
    #[error("{field} is too long: {len} characters, at most {max}")]
    TooLong {
        /// which field
        field: &'static str,
        /// characters given
        len: usize,
        /// characters allowed
        max: usize,
    },
    /// Contains a control character (a tab, a newline, an escape …).
    #[error("{field} contains a control character (U+{code:04X}) at character {at}")]
    Control {
        /// which field
        field: &'static str,
        /// the offending code point
        code: u32,
        /// its position, from 1
        at: usize,
    },
    /// White space at either end.
    #[error("{field} starts or ends with white space")]
    Padded {
        /// which field
        field: &'static str,
    },
    /// Contains an invisible or direction-changing character.
    #[error(
        "{field} contains an invisible or direction-changing character (U+{code:04X}) at character {at}"
    )]
    Hidden {
        /// which field
        field: &'static str,
        /// the offending code point
        code: u32,
        /// its position, from 1
        at: usize,
    },
    /// Folds to nothing: no letter or digit, so it could never be named.
    #[error("{field} has no letter or digit, so it could never be referred to")]
    NoLetter {
        /// which field
        field: &'static str,
    },
    /// Not a known ISO 3166-1 alpha-2 code.
    #[error("'{0}' is not an ISO 3166-1 alpha-2 country code (for example FR, MG, ES)")]
    Country(String),
}

/// True for a character that shows nothing, or changes how the text around
/// it is shown, and so may not be stored from input: Unicode format
/// characters (Cf: bidirectional controls, zero-width joiners and spaces,
/// the byte-order mark, soft hyphen, tags), line and paragraph separators
/// (Zl, Zp), private-use and unassigned code points (Co, Cn), and the few
/// letters that render as blank (Hangul fillers, the combining grapheme
/// joiner, Khmer inherent vowels).
pub fn is_hidden(c: char) -> bool {
    use unicode_properties::{GeneralCategory as G, UnicodeGeneralCategory};
    if c.is_ascii() {
        return false;
    }
    matches!(
        c.general_category(),
        G::Format
            | G::LineSeparator
            | G::ParagraphSeparator
            | G::PrivateUse
            | G::Unassigned
            | G::Surrogate
    ) || matches!(
        c,
        '\u{34F}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}' | '\u{3164}' | '\u{FFA0}'
    )
}

/// A text made safe to show on a terminal or in a table: every control
/// character (escape sequences included) and every [`is_hidden`]
/// character is written as `\u{XXXX}`; everything else is kept.
/// `keep_newlines` keeps line feeds (a multi-line message).
pub fn escape_for_display(text: &str, keep_newlines: bool) -> std::borrow::Cow<'_, str> {
    escape_keeping(text, |c| keep_newlines && c == '\n')
}

/// [`escape_for_display`] for a page of text: line feeds and tabs kept.
pub fn escape_for_page(text: &str) -> std::borrow::Cow<'_, str> {
    escape_keeping(text, |c| c == '\n' || c == '\t')
}

/// Escapes every control and [`is_hidden`] character but those `keep`
/// accepts.
fn escape_keeping(text: &str, keep: impl Fn(char) -> bool) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| (c.is_control() && !keep(c)) || is_hidden(c);
    if !text.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c) {
            out.push_str(&format!("\\u{{{:04X}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// [`escape_for_display`] for one line: newlines are escaped too.
pub fn escape_for_terminal(text: &str) -> std::borrow::Cow<'_, str> {
    escape_for_display(text, false)
}

/// Checks a one-line value given as input that is not stored as an event
/// field (a signing key's name, a checkpoint's origin) by the rules of every
/// input text: non-empty, no surrounding white space, no control and no
/// [`is_hidden`] character (bidirectional controls included), at most
/// `max` characters.
pub fn check_plain_input(field: &'static str, value: &str, max: usize) -> Result<(), TextError> {
    check(field, value, max)?;
    check_input(field, value, false)
}

/// The longest piece of a read file that a message shows.
pub const SHOWN_CHARS: usize = 80;

/// A piece of a file as a message shows it: at most [`SHOWN_CHARS`]
/// characters (then `…`), control and hidden characters escaped.
pub fn shown(text: &str) -> String {
    let mut out: String = text.chars().take(SHOWN_CHARS).collect();
    if text.chars().nth(SHOWN_CHARS).is_some() {
        out.push('…');
    }
    escape_for_terminal(&out).into_owned()
}

/// The stricter checks of input text (see the module comment).
fn check_input(field: &'static str, value: &str, names: bool) -> Result<(), TextError> {
    if !value.is_ascii()
        && let Some((i, c)) = value.chars().enumerate().find(|(_, c)| is_hidden(*c))
    {
        return Err(TextError::Hidden {
            field,
            code: u32::from(c),
            at: i + 1,
        });
    }
    if names && fold_key(value).is_empty() {
        return Err(TextError::NoLetter { field });
    }
    Ok(())
}

fn check(field: &'static str, value: &str, max: usize) -> Result<(), TextError> {
    // Control characters are C0 and DEL (single bytes) and C1 (0xC2
    // followed by 0x80..=0x9F). The common case, none, is settled in
    // passes the compiler vectorises; the position is looked for only
    // when there is one.
    let bytes = value.as_bytes();
    let c0 = bytes
        .iter()
        .fold(false, |found, &b| found | (b < 0x20) | (b == 0x7f));
    let c1 = || {
        bytes.contains(&0xc2)
            && bytes
                .windows(2)
                .any(|w| w[0] == 0xc2 && (0x80..=0x9f).contains(&w[1]))
    };
    if (c0 || c1())
        && let Some((i, c)) = value.chars().enumerate().find(|(_, c)| c.is_control())
    {
        return Err(TextError::Control {
            field,
            code: u32::from(c),
            at: i + 1,
        });
    }
    let first = value.chars().next();
    let last = value.chars().next_back();
    match (first, last) {
        (None, _) | (_, None) => return Err(TextError::Empty { field }),
        (Some(f), Some(l)) if f.is_whitespace() || l.is_whitespace() => {
            return Err(if value.trim().is_empty() {
                TextError::Empty { field }
            } else {
                TextError::Padded { field }
            });
        }
        _ => {}
    }
    // a string of at most `max` bytes has at most `max` characters
    if bytes.len() > max {
        let chars = value.chars().count();
        if chars > max {
            return Err(TextError::TooLong {
                field,
                len: chars,
                max,
            });
        }
    }
    Ok(())
}

macro_rules! text_type {
    ($(#[$doc:meta])* $name:ident, $field:literal, $max:expr) => {
        text_type!($(#[$doc])* $name, $field, $max, false);
    };
    ($(#[$doc:meta])* $name:ident, $field:literal, $max:expr, $names:expr) => {
        $(#[$doc])*
        ///
        /// **Invariant:** non-empty, no surrounding white space, no control
        /// character, at most
        #[doc = concat!(stringify!($max), " characters.")]
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// The longest accepted value, in characters.
            pub const MAX_CHARS: usize = $max;
            /// The field's name in messages.
            pub const FIELD: &'static str = $field;

            /// Checks and wraps a value given as input (the strict rule).
            pub fn new(value: impl Into<String>) -> Result<Self, TextError> {
                let value = value.into();
                check($field, &value, $max)?;
                check_input($field, &value, $names)?;
                Ok(Self(value))
            }

            /// Checks and wraps a value read back from the store: the rule
            /// it was written under (no control character), not the
            /// stricter rule of new input.
            pub fn stored(value: impl Into<String>) -> Result<Self, TextError> {
                let value = value.into();
                check($field, &value, $max)?;
                Ok(Self(value))
            }

            /// The text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

text_type!(
    /// A partner's name, as published.
    PartnerName, "name", 300, true
);
text_type!(
    /// A partner's short name or acronym ("HCP", "UNFPA").
    ShortName, "short name", 60, true
);
text_type!(
    /// What a convention is for (free text, usually French).
    Objectives, "objectives", 4000
);
text_type!(
    /// An official reference number of a convention.
    OfficialRef, "official reference", 120
);
text_type!(
    /// The reference of an amendment (avenant).
    AmendmentRef, "amendment reference", 120
);
text_type!(
    /// Who recorded an event.
    Actor, "actor", 120
);
text_type!(
    /// Why an event was recorded.
    Reason, "reason", 1000
);
text_type!(
    /// The document or publication a fact comes from.
    Source, "source", 1000
);

/// An ISO 3166-1 alpha-2 country code, upper case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CountryCode([u8; 2]);

impl CountryCode {
    /// Checks a code against the ISO 3166-1 list (case-insensitive).
    pub fn new(code: &str) -> Result<Self, TextError> {
        let known = isocountry::CountryCode::for_alpha2_caseless(code)
            .map_err(|_| TextError::Country(code.to_owned()))?;
        let bytes = known.alpha2().as_bytes();
        match bytes {
            [a, b] => Ok(Self([*a, *b])),
            _ => Err(TextError::Country(code.to_owned())),
        }
    }

    /// The two upper-case letters.
    pub fn as_str(&self) -> &str {
        // Invariant: built only from the two ASCII letters of a known code.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }

    /// The country's English name.
    pub fn country_name(&self) -> &'static str {
        isocountry::CountryCode::for_alpha2(self.as_str())
            .map(|c| c.name())
            .unwrap_or("")
    }
}

impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The key names are compared by: accents removed, lower case, and only
/// letters and digits kept. "Fès-Boulemane", "FES BOULEMANE" and
/// "fes boulemane" all fold to `fesboulemane`.
pub fn fold_key(text: &str) -> String {
    text.nfkd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .filter(|c| c.is_alphanumeric())
        .collect()
}

/// Splits a text into folded words (for accent- and case-insensitive search).
pub fn fold_words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .map(fold_key)
        .filter(|w| !w.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_ignores_case_accents_spaces_and_punctuation() {
        assert_eq!(fold_key("Fès-Boulemane"), "fesboulemane");
        assert_eq!(fold_key("fes boulemane"), "fesboulemane");
        assert_eq!(fold_key("Fés- Boulemane"), "fesboulemane");
        assert_eq!(fold_key("Meknès –Tafilalet."), fold_key("Meknès-Tafilalet"));
        assert_eq!(fold_key("Laâyoune"), "laayoune");
        assert_ne!(fold_key("Figuiç"), fold_key("Figuig"));
    }

    #[test]
    fn text_is_checked() {
        assert!(PartnerName::new("Agadir").is_ok());
        assert_eq!(
            PartnerName::new("  ").unwrap_err(),
            TextError::Empty { field: "name" }
        );
        assert!(matches!(
            PartnerName::new(" Agadir"),
            Err(TextError::Padded { .. })
        ));
        assert!(matches!(
            Objectives::new("a\u{1b}b"),
            Err(TextError::Control { at: 2, .. })
        ));
        assert!(matches!(
            ShortName::new("x".repeat(61)),
            Err(TextError::TooLong { len: 61, .. })
        ));
        assert!(ShortName::new("é".repeat(60)).is_ok());
        assert!(matches!(
            ShortName::new("é".repeat(61)),
            Err(TextError::TooLong { len: 61, .. })
        ));
        // 0xC2 opens C1 controls but also the no-break space (C2 A0)
        assert!(Objectives::new("coût: 100\u{a0}dirhams\u{a0}").is_err());
        assert!(Objectives::new("coût: 100\u{a0}dirhams").is_ok());
        assert!(matches!(
            Objectives::new("a\u{85}b"),
            Err(TextError::Control {
                code: 0x85,
                at: 2,
                ..
            })
        ));
        assert!(matches!(
            Objectives::new("ab\u{7f}"),
            Err(TextError::Control {
                code: 0x7f,
                at: 3,
                ..
            })
        ));
        assert_eq!(
            PartnerName::new("\u{a0}").unwrap_err(),
            TextError::Empty { field: "name" }
        );
        assert!(PartnerName::new("Œuvre — « Agenda 21 » 🌍").is_ok());
    }

    #[test]
    fn hidden_characters_are_refused_on_input_and_kept_when_stored() {
        for c in [
            '\u{202E}',
            '\u{200D}',
            '\u{FEFF}',
            '\u{2028}',
            '\u{2029}',
            '\u{E0041}',
        ] {
            let text = format!("a{c}b");
            assert!(
                matches!(
                    Objectives::new(text.as_str()),
                    Err(TextError::Hidden { at: 2, .. })
                ),
                "{c:?}"
            );
            assert!(Objectives::stored(text.as_str()).is_ok(), "{c:?}");
            assert_eq!(
                escape_for_terminal(&text),
                format!("a\\u{{{:04X}}}b", u32::from(c))
            );
        }
        // French typography keeps its spaces
        assert!(Objectives::new("« Agenda 21 »\u{202F}: oui").is_ok());
        assert_eq!(escape_for_terminal("\u{1b}[2J"), "\\u{001B}[2J");
        assert_eq!(escape_for_display("a\nb", true), "a\nb");
        assert_eq!(
            PartnerName::new("...").unwrap_err(),
            TextError::NoLetter { field: "name" }
        );
        assert!(PartnerName::stored("...").is_ok());
    }

    #[test]
    fn country_codes_are_iso_3166() {
        assert_eq!(CountryCode::new("fr").unwrap().as_str(), "FR");
        assert_eq!(CountryCode::new("MG").unwrap().as_str(), "MG");
        for bad in ["XX", "FRA", "", "F", "ÉÉ"] {
            assert!(CountryCode::new(bad).is_err(), "{bad}");
        }
    }
}
