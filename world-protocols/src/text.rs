//! Validated strings: display names, chat text and space names.
//!
//! Each type checks its rules when it is made, both by [`new`](DisplayName::new) on the
//! sending side and while decoding on the receiving side, so a value of one of these
//! types is always valid. Serde gives valid UTF-8; the length limits, in bytes, come from
//! [`limits`](crate::limits).
//!
//! Names and chat text are shown to other people, so they must look like what they are.
//! Both:
//!
//! - are in Unicode normal form C (NFC), so text that looks the same is the same bytes
//!   (`é` is one character, never `e` followed by a combining accent);
//! - hold no control character (no line break, tab or escape) and no line or paragraph
//!   separator (U+2028, U+2029), so one chat message is always one line;
//! - hold no character that draws nothing or changes the direction of the text around
//!   it ([`is_invisible_or_directional`]), so text cannot hide words, reorder itself or
//!   pass for another name; the one exception is emoji glue (a zero-width joiner between
//!   two pictographs, an emoji presentation selector after one);
//! - are not blank: something other than spaces.
//!
//! A [`DisplayName`] also uses only the plain space U+0020 as a space (no other
//! whitespace, no braille blank U+2800), never at the start or end and never two in a
//! row.
//!
//! `new` refuses text that breaks a rule. What a person typed goes through `clean`
//! instead ([`DisplayName::clean`], [`ChatText::clean`]): it normalises, turns line
//! breaks and tabs into spaces, drops invisible and direction-changing characters and
//! other controls, trims, collapses runs of spaces in names, and cuts the text to the
//! byte limit at a character boundary, so its result always fits.

use std::fmt;

use serde::{Deserialize, Serialize};
use unicode_normalization::{UnicodeNormalization, is_nfc};

use crate::limits::{CHAT_MAX, NAME_MAX, SPACE_NAME_MAX};

/// Why a string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// The string is empty.
    #[error("must not be empty")]
    Empty,
    /// The string is longer than allowed.
    #[error("{len} bytes is longer than the limit of {max} bytes")]
    TooLong {
        /// Length of the string in bytes.
        len: usize,
        /// The limit in bytes.
        max: usize,
    },
    /// The string contains a character that is not allowed here.
    #[error("character {0:?} is not allowed here")]
    NotAllowed(char),
    /// The string holds nothing but spaces.
    #[error("must hold something other than spaces")]
    Blank,
    /// A name starts or ends with a space, or holds two spaces in a row.
    #[error("must not start or end with a space or hold two spaces in a row")]
    Spacing,
    /// The string is not in Unicode normal form C.
    #[error("must be in Unicode normal form C (NFC)")]
    NotNormalized,
}

/// A person's display name: 1 to [`NAME_MAX`] bytes of UTF-8 following the rules in the
/// [module documentation](self): NFC, nothing invisible or direction-changing, no
/// control characters, single plain spaces between words only.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DisplayName(String);

impl DisplayName {
    /// Checks `name` and wraps it.
    pub fn new(name: impl Into<String>) -> Result<Self, TextError> {
        let name = name.into();
        check_length(&name, NAME_MAX)?;
        check_visible(&name, Kind::Name)?;
        if name.chars().all(is_blank) {
            return Err(TextError::Blank);
        }
        if name.starts_with(' ') || name.ends_with(' ') || name.contains("  ") {
            return Err(TextError::Spacing);
        }
        check_normalized(&name)?;
        Ok(Self(name))
    }

    /// Makes a name from what a person typed: normalised, with line breaks, tabs and
    /// other spaces turned into single plain spaces, invisible and direction-changing
    /// characters dropped, trimmed and cut to [`NAME_MAX`] bytes. Fails only when
    /// nothing is left ([`TextError::Empty`]).
    pub fn clean(input: &str) -> Result<Self, TextError> {
        Self::new(clean_text(input, NAME_MAX, Kind::Name))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The text of a chat message: 1 to [`CHAT_MAX`] bytes of UTF-8 on one line, following
/// the rules in the [module documentation](self): NFC, nothing invisible or
/// direction-changing, no control characters (so no line breaks or tabs), not blank.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ChatText(String);

impl ChatText {
    /// Checks `text` and wraps it.
    pub fn new(text: impl Into<String>) -> Result<Self, TextError> {
        let text = text.into();
        check_length(&text, CHAT_MAX)?;
        check_visible(&text, Kind::Chat)?;
        if text.chars().all(is_blank) {
            return Err(TextError::Blank);
        }
        check_normalized(&text)?;
        Ok(Self(text))
    }

    /// Makes a message from what a person typed: normalised, with line breaks and tabs
    /// turned into spaces, invisible and direction-changing characters dropped, trimmed
    /// and cut to [`CHAT_MAX`] bytes. Fails only when nothing is left
    /// ([`TextError::Empty`]).
    pub fn clean(input: &str) -> Result<Self, TextError> {
        Self::new(clean_text(input, CHAT_MAX, Kind::Chat))
    }

    /// The message as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The name of a space (`lobby`, `market`, `lecture-hall-2`): 1 to [`SPACE_NAME_MAX`]
/// bytes, each a lowercase ASCII letter, a digit or `-`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SpaceName(String);

impl SpaceName {
    /// Checks `name` and wraps it.
    pub fn new(name: impl Into<String>) -> Result<Self, TextError> {
        let name = name.into();
        check_length(&name, SPACE_NAME_MAX)?;
        check_chars(&name, |c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'
        })?;
        Ok(Self(name))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// True for a character that draws nothing, or that changes the direction of the text
/// around it without drawing itself. Names and chat text refuse these:
///
/// - the bidirectional controls: the marks U+200E, U+200F and U+061C, the embeddings
///   and overrides U+202A to U+202E, and the isolates U+2066 to U+2069;
/// - the zero-width characters: U+200B to U+200D, the word joiner and invisible
///   operators U+2060 to U+2064, U+FEFF, and the Mongolian vowel separator U+180E;
/// - every other format character (general category Cf): the soft hyphen U+00AD, the
///   deprecated U+206A to U+206F, the annotation marks U+FFF9 to U+FFFB, the Arabic,
///   Syriac and Kaithi number signs (which draw, but are rare and extend over the digits
///   after them), the Egyptian hieroglyph, shorthand and musical format controls, and
///   the tag characters U+E0000 to U+E007F (they can carry hidden ASCII, so the flags of
///   England, Scotland and Wales show as a plain black flag);
/// - the other default-ignorable characters, which draw nothing: the combining grapheme
///   joiner U+034F, the Hangul fillers U+115F, U+1160, U+3164 and U+FFA0, the Khmer
///   inherent vowels U+17B4 and U+17B5, the variation selectors U+180B to U+180D,
///   U+180F, U+FE00 to U+FE0F and U+E0100 to U+E01EF (a run of them can carry hidden
///   bytes), and the unassigned default-ignorable U+2065, U+FFF0 to U+FFF8 and U+E0080
///   to U+E0FFF.
///
/// Names and chat text allow two of these where they can only change how emoji look:
/// the zero-width joiner U+200D directly between two pictographs (👩‍🚀, 🏳️‍🌈), and one
/// emoji or text presentation selector U+FE0F or U+FE0E directly after a pictograph
/// (❤️) or between a keycap's digit, `#` or `*` and U+20E3 (1️⃣). Anywhere else, inside a
/// word say, they would let "A\u{200D}da" pass for "Ada", so they are refused there.
/// Scripts that use joiners between letters (the ZWNJ of Persian, the ZWJ of some Indic
/// conjuncts) lose them: [`ChatText::clean`] drops them and the letters show in their
/// default joined form.
pub fn is_invisible_or_directional(c: char) -> bool {
    matches!(
        c,
        // Format characters (Cf), bidirectional controls included.
        '\u{00AD}'
            | '\u{0600}'..='\u{0605}'
            | '\u{061C}'
            | '\u{06DD}'
            | '\u{070F}'
            | '\u{0890}'..='\u{0891}'
            | '\u{08E2}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{110BD}'
            | '\u{110CD}'
            | '\u{13430}'..='\u{1343F}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E0FFF}'
            // Other default-ignorable characters.
            | '\u{034F}'
            | '\u{115F}'..='\u{1160}'
            | '\u{17B4}'..='\u{17B5}'
            | '\u{180B}'..='\u{180D}'
            | '\u{180F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FFA0}'
            | '\u{FFF0}'..='\u{FFF8}'
    )
}

/// Cuts `text` to at most `max` bytes, at the end of a character.
pub fn truncate_at_char_boundary(text: &mut String, max: usize) {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
}

const ZERO_WIDTH_JOINER: char = '\u{200D}';
const EMOJI_PRESENTATION: char = '\u{FE0F}';
const TEXT_PRESENTATION: char = '\u{FE0E}';
const KEYCAP: char = '\u{20E3}';

/// Which rules apply.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Name,
    Chat,
}

/// Whether `c`, between `prev` and `next`, is one of the two pieces of emoji glue
/// [`is_invisible_or_directional`] describes, where it is allowed.
fn is_emoji_glue(prev: Option<char>, c: char, next: Option<char>) -> bool {
    match c {
        ZERO_WIDTH_JOINER => {
            prev.is_some_and(|p| is_pictograph(p) || p == EMOJI_PRESENTATION)
                && next.is_some_and(is_pictograph)
        }
        EMOJI_PRESENTATION | TEXT_PRESENTATION => {
            prev.is_some_and(is_pictograph)
                || (prev.is_some_and(|p| matches!(p, '0'..='9' | '#' | '*')) && next == Some(KEYCAP))
        }
        _ => false,
    }
}

/// The symbol and emoji blocks (arrows to dingbats, supplemental arrows to
/// miscellaneous symbols and arrows, and U+1F000 to U+1FAFF), plus the few emoji
/// outside them. No letter and no blank (the braille block is left out) is among them.
fn is_pictograph(c: char) -> bool {
    matches!(
        c,
        '\u{2190}'..='\u{27FF}'
            | '\u{2900}'..='\u{2BFF}'
            | '\u{1F000}'..='\u{1FAFF}'
            | '\u{00A9}'
            | '\u{00AE}'
            | '\u{203C}'
            | '\u{2049}'
            | '\u{2122}'
            | '\u{2139}'
            | '\u{3030}'
            | '\u{303D}'
            | '\u{3297}'
            | '\u{3299}'
    )
}

/// Line breaks: the control ones (LF, CR, VT, FF, NEL) and the line and paragraph
/// separators U+2028 and U+2029, which are not controls.
fn is_line_break(c: char) -> bool {
    matches!(
        c,
        '\n' | '\r' | '\u{0B}' | '\u{0C}' | '\u{85}' | '\u{2028}' | '\u{2029}'
    )
}

/// Characters that show as empty space: whitespace and the braille blank U+2800.
fn is_blank(c: char) -> bool {
    c.is_whitespace() || c == '\u{2800}'
}

fn check_length(text: &str, max: usize) -> Result<(), TextError> {
    if text.is_empty() {
        Err(TextError::Empty)
    } else if text.len() > max {
        Err(TextError::TooLong { len: text.len(), max })
    } else {
        Ok(())
    }
}

fn check_chars(text: &str, allowed: impl Fn(char) -> bool) -> Result<(), TextError> {
    match text.chars().find(|&c| !allowed(c)) {
        Some(c) => Err(TextError::NotAllowed(c)),
        None => Ok(()),
    }
}

/// Refuses controls, line breaks, invisible and direction-changing characters other
/// than emoji glue and, in names, every space but U+0020.
fn check_visible(text: &str, kind: Kind) -> Result<(), TextError> {
    let mut prev = None;
    let mut rest = text.chars().peekable();
    while let Some(c) = rest.next() {
        let next = rest.peek().copied();
        let refused = c.is_control()
            || is_line_break(c)
            || (kind == Kind::Name && is_blank(c) && c != ' ')
            || (is_invisible_or_directional(c) && !is_emoji_glue(prev, c, next));
        if refused {
            return Err(TextError::NotAllowed(c));
        }
        prev = Some(c);
    }
    Ok(())
}

fn check_normalized(text: &str) -> Result<(), TextError> {
    if is_nfc(text) {
        Ok(())
    } else {
        Err(TextError::NotNormalized)
    }
}

/// The lenient path behind `clean`: what it returns passes `new` unless it is empty.
fn clean_text(input: &str, max: usize, kind: Kind) -> String {
    let normal: String = input.nfc().collect();
    // Dropping a character can bring a combining mark next to its base: normalise again.
    let normal: String = strip(&normal, kind).nfc().collect();
    let mut text = match kind {
        Kind::Name => normal
            .split(' ')
            .filter(|word| !word.is_empty())
            .collect::<Vec<_>>()
            .join(" "),
        Kind::Chat => normal.trim_matches(is_blank).to_owned(),
    };
    truncate_at_char_boundary(&mut text, max);
    // The cut can strand emoji glue at the end, or leave a space there.
    strip(&text, kind).trim_matches(is_blank).to_owned()
}

/// Turns line breaks and tabs (and, in names, every blank) into plain spaces and drops
/// other controls and invisible or direction-changing characters that are not emoji
/// glue.
fn strip(text: &str, kind: Kind) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text.chars().peekable();
    while let Some(c) = rest.next() {
        let next = rest.peek().copied();
        let kept = if c == '\t' || is_line_break(c) || (kind == Kind::Name && is_blank(c)) {
            Some(' ')
        } else if c.is_control()
            || (is_invisible_or_directional(c) && !is_emoji_glue(out.chars().next_back(), c, next))
        {
            None
        } else {
            Some(c)
        };
        out.extend(kept);
    }
    out
}

// The conversions serde uses (`try_from`/`into` above), and `Display`.

impl TryFrom<String> for DisplayName {
    type Error = TextError;
    fn try_from(name: String) -> Result<Self, TextError> {
        Self::new(name)
    }
}

impl From<DisplayName> for String {
    fn from(name: DisplayName) -> String {
        name.0
    }
}

impl fmt::Display for DisplayName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for ChatText {
    type Error = TextError;
    fn try_from(text: String) -> Result<Self, TextError> {
        Self::new(text)
    }
}

impl From<ChatText> for String {
    fn from(text: ChatText) -> String {
        text.0
    }
}

impl fmt::Display for ChatText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for SpaceName {
    type Error = TextError;
    fn try_from(name: String) -> Result<Self, TextError> {
        Self::new(name)
    }
}

impl From<SpaceName> for String {
    fn from(name: SpaceName) -> String {
        name.0
    }
}

impl fmt::Display for SpaceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The bidirectional controls: marks, embeddings and overrides, isolates.
    const BIDI: [char; 12] = [
        '\u{200E}', '\u{200F}', '\u{061C}', '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}',
        '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}',
    ];

    /// A sample of characters that draw nothing.
    const INVISIBLE: [char; 17] = [
        '\u{200B}',
        '\u{200C}',
        '\u{200D}',
        '\u{2060}',
        '\u{2064}',
        '\u{FEFF}',
        '\u{180E}',
        '\u{00AD}',
        '\u{034F}',
        '\u{115F}',
        '\u{3164}',
        '\u{FFA0}',
        '\u{FE0F}',
        '\u{FE00}',
        '\u{E0041}',
        '\u{E0100}',
        '\u{FFF9}',
    ];

    /// Line breaks and tabs.
    const BREAKS: [char; 8] = [
        '\n', '\r', '\t', '\u{0B}', '\u{0C}', '\u{85}', '\u{2028}', '\u{2029}',
    ];

    #[test]
    fn display_names() {
        assert!(DisplayName::new("Ada Lovelace").is_ok());
        assert!(DisplayName::new("名前").is_ok());
        assert!(DisplayName::new("x".repeat(NAME_MAX)).is_ok());
        assert_eq!(DisplayName::new(""), Err(TextError::Empty));
        assert_eq!(
            DisplayName::new("x".repeat(NAME_MAX + 1)),
            Err(TextError::TooLong {
                len: NAME_MAX + 1,
                max: NAME_MAX
            })
        );
        // The limit is in bytes, not characters: 11 three-byte characters are 33 bytes.
        assert!(matches!(
            DisplayName::new("名".repeat(11)),
            Err(TextError::TooLong { len: 33, .. })
        ));
        assert_eq!(DisplayName::new("a\nb"), Err(TextError::NotAllowed('\n')));
        assert_eq!(DisplayName::new("a\u{7}"), Err(TextError::NotAllowed('\u{7}')));
    }

    #[test]
    fn chat_text() {
        assert!(ChatText::new("hello world, and all").is_ok());
        assert!(ChatText::new("x".repeat(CHAT_MAX)).is_ok());
        assert_eq!(ChatText::new(""), Err(TextError::Empty));
        assert!(matches!(
            ChatText::new("x".repeat(CHAT_MAX + 1)),
            Err(TextError::TooLong { .. })
        ));
        assert_eq!(ChatText::new("bell\u{7}"), Err(TextError::NotAllowed('\u{7}')));
        assert_eq!(
            ChatText::new("esc\u{1b}[2J"),
            Err(TextError::NotAllowed('\u{1b}'))
        );
        // One message is one line: no line breaks or tabs.
        assert_eq!(ChatText::new("hello\nworld"), Err(TextError::NotAllowed('\n')));
        assert_eq!(ChatText::new("hello\tworld"), Err(TextError::NotAllowed('\t')));
    }

    /// `text`, holding `c`, is refused as a name and as chat, and cleans to `cleaned`.
    fn refused_then_cleaned(c: char, text: &str, cleaned: &str) {
        assert_eq!(DisplayName::new(text), Err(TextError::NotAllowed(c)), "{c:?}");
        assert_eq!(ChatText::new(text), Err(TextError::NotAllowed(c)), "{c:?}");
        assert_eq!(DisplayName::clean(text).unwrap().as_str(), cleaned, "{c:?}");
        assert_eq!(ChatText::clean(text).unwrap().as_str(), cleaned, "{c:?}");
        assert!(is_invisible_or_directional(c), "{c:?}");
    }

    #[test]
    fn bidi_controls_are_refused_and_cleaned_away() {
        for c in BIDI {
            refused_then_cleaned(c, &format!("Ada{c}Bo"), "AdaBo");
        }
        // The classic: an override that shows "txt.exe" as "exe.txt".
        assert_eq!(
            ChatText::clean("see \u{202E}txt.exe").unwrap().as_str(),
            "see txt.exe"
        );
    }

    #[test]
    fn invisible_characters_are_refused_and_cleaned_away() {
        for c in INVISIBLE {
            refused_then_cleaned(c, &format!("A{c}da"), "Ada");
        }
        assert_eq!(
            DisplayName::new("A\u{200B}da"),
            Err(TextError::NotAllowed('\u{200B}'))
        );
        assert_eq!(DisplayName::clean("A\u{200B}da").unwrap().as_str(), "Ada");
        // Nothing but invisible characters is nothing.
        assert_eq!(
            DisplayName::clean("\u{200B}\u{3164}\u{FEFF}"),
            Err(TextError::Empty)
        );
        for c in ['a', ' ', 'é', '名', '❤', '🚀', '\u{301}', '\u{20E3}'] {
            assert!(!is_invisible_or_directional(c), "{c:?}");
        }
    }

    #[test]
    fn emoji_sequences_keep_their_glue() {
        for emoji in [
            "👩\u{200D}🚀",
            "🏳\u{FE0F}\u{200D}🌈",
            "👨\u{200D}👩\u{200D}👧",
            "🧑🏽\u{200D}💻",
            "❤\u{FE0F}",
            "☺\u{FE0E}",
            "1\u{FE0F}\u{20E3}",
            "#\u{FE0F}\u{20E3}",
            "👍🏽",
        ] {
            assert!(ChatText::new(format!("nice {emoji}!")).is_ok(), "{emoji:?}");
            assert!(DisplayName::new(format!("Ada {emoji}")).is_ok(), "{emoji:?}");
            assert_eq!(ChatText::clean(emoji).unwrap().as_str(), emoji);
            assert_eq!(DisplayName::clean(emoji).unwrap().as_str(), emoji);
        }
        // Glue that is not between emoji is refused, and cleaned away.
        for (text, glue, cleaned) in [
            ("A\u{200D}da", '\u{200D}', "Ada"),
            ("Ada\u{FE0F}", '\u{FE0F}', "Ada"),
            ("❤\u{FE0F}\u{FE0F}", '\u{FE0F}', "❤\u{FE0F}"),
            ("1\u{FE0F}", '\u{FE0F}', "1"),
            ("\u{200D}🚀", '\u{200D}', "🚀"),
            ("🚀\u{200D}", '\u{200D}', "🚀"),
            ("🚀\u{200D}a", '\u{200D}', "🚀a"),
        ] {
            assert_eq!(ChatText::new(text), Err(TextError::NotAllowed(glue)), "{text:?}");
            assert_eq!(ChatText::clean(text).unwrap().as_str(), cleaned, "{text:?}");
            assert_eq!(DisplayName::clean(text).unwrap().as_str(), cleaned, "{text:?}");
        }
        // Tag characters can spell hidden text: the subdivision flags lose them.
        let scotland = "🏴\u{E0067}\u{E0062}\u{E0073}\u{E0063}\u{E0074}\u{E007F}";
        assert_eq!(ChatText::new(scotland), Err(TextError::NotAllowed('\u{E0067}')));
        assert_eq!(ChatText::clean(scotland).unwrap().as_str(), "🏴");
    }

    #[test]
    fn line_breaks_are_refused_and_cleaned_to_spaces() {
        for c in BREAKS {
            let text = format!("hi{c}there");
            assert_eq!(
                ChatText::new(text.as_str()),
                Err(TextError::NotAllowed(c)),
                "{c:?}"
            );
            assert_eq!(
                DisplayName::new(text.as_str()),
                Err(TextError::NotAllowed(c)),
                "{c:?}"
            );
            assert_eq!(ChatText::clean(&text).unwrap().as_str(), "hi there", "{c:?}");
            assert_eq!(DisplayName::clean(&text).unwrap().as_str(), "hi there", "{c:?}");
        }
        // A line break cannot forge a second line said by someone else.
        assert_eq!(ChatText::new("hi\nAda: forged"), Err(TextError::NotAllowed('\n')));
        assert_eq!(
            ChatText::clean("hi\nAda: forged").unwrap().as_str(),
            "hi Ada: forged"
        );
        // Other controls are dropped; the ends are trimmed.
        assert_eq!(
            ChatText::clean("\n  bell\u{7}\u{1b}  \r\n").unwrap().as_str(),
            "bell"
        );
        assert_eq!(ChatText::clean("a\r\nb").unwrap().as_str(), "a  b");
    }

    #[test]
    fn names_have_single_spaces_between_words() {
        assert_eq!(DisplayName::new("  "), Err(TextError::Blank));
        assert_eq!(DisplayName::new(" "), Err(TextError::Blank));
        assert_eq!(DisplayName::new(" Ada"), Err(TextError::Spacing));
        assert_eq!(DisplayName::new("Ada "), Err(TextError::Spacing));
        assert_eq!(DisplayName::new("Ada  Lovelace"), Err(TextError::Spacing));
        for space in ['\u{A0}', '\u{2003}', '\u{3000}', '\u{2800}', '\u{1680}'] {
            assert_eq!(
                DisplayName::new(format!("Ada{space}Lovelace")),
                Err(TextError::NotAllowed(space)),
                "{space:?}"
            );
            assert_eq!(
                DisplayName::clean(&format!("Ada{space}Lovelace"))
                    .unwrap()
                    .as_str(),
                "Ada Lovelace",
                "{space:?}"
            );
        }
        assert_eq!(
            DisplayName::clean("  Ada \t\u{3000} Lovelace\n")
                .unwrap()
                .as_str(),
            "Ada Lovelace"
        );
        assert_eq!(DisplayName::clean("  "), Err(TextError::Empty));
        assert_eq!(DisplayName::clean("\u{2800}\u{3000}\n"), Err(TextError::Empty));
        // A name can say anything visible; the chat panel marks private lines itself.
        assert!(DisplayName::new("Ada (private)").is_ok());
    }

    #[test]
    fn blank_chat_is_refused() {
        assert_eq!(ChatText::new("   "), Err(TextError::Blank));
        assert_eq!(ChatText::new("\u{2800}\u{3000}"), Err(TextError::Blank));
        assert_eq!(ChatText::clean(" \n\t "), Err(TextError::Empty));
        // Trimming a blank can strand a presentation selector, which goes too.
        assert_eq!(
            ChatText::clean("\u{2800}\u{FE0F} \u{A1}").unwrap().as_str(),
            "\u{A1}"
        );
        // Spaces inside a message stay as they were.
        assert!(ChatText::new("a  b\u{A0}c").is_ok());
        assert!(ChatText::new("⠿⠀⠿").is_ok());
    }

    #[test]
    fn text_must_be_normalized() {
        assert_eq!(DisplayName::new("e\u{301}"), Err(TextError::NotNormalized));
        assert_eq!(ChatText::new("caf\u{65}\u{301}"), Err(TextError::NotNormalized));
        assert_eq!(DisplayName::clean("e\u{301}").unwrap().as_str(), "\u{e9}");
        assert_eq!(ChatText::clean("caf\u{65}\u{301}").unwrap().as_str(), "caf\u{e9}");
        assert!(DisplayName::new("\u{e9}").is_ok());
        // Hangul jamo compose into one syllable.
        assert_eq!(ChatText::new("\u{1100}\u{1161}"), Err(TextError::NotNormalized));
        assert_eq!(ChatText::clean("\u{1100}\u{1161}").unwrap().as_str(), "\u{AC00}");
        // Dropping an invisible character between a letter and its accent composes them.
        assert_eq!(DisplayName::clean("e\u{200B}\u{301}").unwrap().as_str(), "\u{e9}");
    }

    #[test]
    fn cleaning_cuts_to_the_limit_at_a_character_boundary() {
        let cjk = "漢".repeat(400);
        let text = ChatText::clean(&cjk).unwrap();
        assert!(text.as_str().len() <= CHAT_MAX);
        assert_eq!(text.as_str().len(), CHAT_MAX / 3 * 3);
        assert!(text.as_str().chars().all(|c| c == '漢'));
        let shifted = ChatText::clean(&format!("a{cjk}")).unwrap();
        assert_eq!(shifted.as_str().len(), CHAT_MAX);

        let name = DisplayName::clean(&"名".repeat(20)).unwrap();
        assert_eq!(name.as_str(), "名".repeat(NAME_MAX / 3));
        // A cut that leaves a space at the end, or a joiner with nothing after it.
        let spaced = format!("{} tail", "x".repeat(NAME_MAX - 1));
        assert_eq!(
            DisplayName::clean(&spaced).unwrap().as_str(),
            "x".repeat(NAME_MAX - 1)
        );
        let joined = format!("{}👩\u{200D}🚀", "x".repeat(NAME_MAX - 7));
        assert_eq!(
            DisplayName::clean(&joined).unwrap().as_str(),
            format!("{}👩", "x".repeat(NAME_MAX - 7))
        );
        let keycap = format!("{}1\u{FE0F}\u{20E3}", "x".repeat(NAME_MAX - 4));
        assert_eq!(
            DisplayName::clean(&keycap).unwrap().as_str(),
            format!("{}1", "x".repeat(NAME_MAX - 4))
        );

        let mut text = "aé漢🚀".to_owned();
        truncate_at_char_boundary(&mut text, 5);
        assert_eq!(text, "aé");
        truncate_at_char_boundary(&mut text, 100);
        assert_eq!(text, "aé");
    }

    #[test]
    fn space_names() {
        assert!(SpaceName::new("lobby").is_ok());
        assert!(SpaceName::new("lecture-hall-2").is_ok());
        assert!(SpaceName::new("x".repeat(SPACE_NAME_MAX)).is_ok());
        assert_eq!(SpaceName::new(""), Err(TextError::Empty));
        assert!(matches!(
            SpaceName::new("x".repeat(SPACE_NAME_MAX + 1)),
            Err(TextError::TooLong { .. })
        ));
        assert_eq!(SpaceName::new("Lobby"), Err(TextError::NotAllowed('L')));
        assert_eq!(SpaceName::new("my space"), Err(TextError::NotAllowed(' ')));
        assert_eq!(SpaceName::new("caf\u{e9}"), Err(TextError::NotAllowed('\u{e9}')));
        assert_eq!(SpaceName::new("a_b"), Err(TextError::NotAllowed('_')));
    }

    #[test]
    fn decoding_applies_the_same_rules() {
        let good = postcard::to_allocvec("lobby").unwrap();
        assert_eq!(
            postcard::from_bytes::<SpaceName>(&good).unwrap().as_str(),
            "lobby"
        );
        let bad = postcard::to_allocvec("Lobby").unwrap();
        assert!(postcard::from_bytes::<SpaceName>(&bad).is_err());
        let long = postcard::to_allocvec(&"x".repeat(NAME_MAX + 1)).unwrap();
        assert!(postcard::from_bytes::<DisplayName>(&long).is_err());
        let longest = postcard::to_allocvec(&"x".repeat(NAME_MAX)).unwrap();
        assert!(postcard::from_bytes::<DisplayName>(&longest).is_ok());
        let not_utf8 = [2, 0xc3, 0x28];
        assert!(postcard::from_bytes::<DisplayName>(&not_utf8).is_err());
        for refused in [
            "Ada\u{202E}oB",
            "A\u{200B}da",
            "e\u{301}",
            "hi\nAda: forged",
            "hi\u{2028}there",
            "  ",
        ] {
            let bytes = postcard::to_allocvec(refused).unwrap();
            assert!(
                postcard::from_bytes::<DisplayName>(&bytes).is_err(),
                "{refused:?}"
            );
            assert!(postcard::from_bytes::<ChatText>(&bytes).is_err(), "{refused:?}");
        }
        let spaced = postcard::to_allocvec(" Ada").unwrap();
        assert!(postcard::from_bytes::<DisplayName>(&spaced).is_err());
        let emoji = postcard::to_allocvec("👩\u{200D}🚀").unwrap();
        assert!(postcard::from_bytes::<ChatText>(&emoji).is_ok());
    }

    /// Text made of the characters the rules are about, mixed with ordinary ones.
    fn tricky_text() -> impl Strategy<Value = String> {
        let pieces = prop_oneof![
            any::<char>().prop_map(String::from),
            prop::sample::select(vec![
                "a",
                "é",
                "e\u{301}",
                "名",
                " ",
                "  ",
                "\n",
                "\t",
                "\u{2028}",
                "\u{85}",
                "\u{A0}",
                "\u{3000}",
                "\u{2800}",
                "\u{200B}",
                "\u{200D}",
                "\u{202E}",
                "\u{2066}",
                "\u{FEFF}",
                "\u{FE0F}",
                "\u{20E3}",
                "1",
                "👩",
                "🚀",
                "❤",
                "\u{E0067}",
                "\u{1100}",
                "\u{1161}",
                "\u{338}",
                "=",
                "←",
                "\u{3164}",
            ])
            .prop_map(str::to_owned),
        ];
        prop::collection::vec(pieces, 0..400).prop_map(|pieces| pieces.concat())
    }

    proptest! {
        #[test]
        fn cleaning_always_gives_valid_text_or_nothing(input in tricky_text()) {
            match DisplayName::clean(&input) {
                Ok(name) => {
                    prop_assert!(DisplayName::new(name.as_str()).is_ok());
                    prop_assert_eq!(DisplayName::clean(name.as_str()), Ok(name.clone()));
                }
                Err(error) => prop_assert_eq!(error, TextError::Empty),
            }
            match ChatText::clean(&input) {
                Ok(text) => {
                    prop_assert!(ChatText::new(text.as_str()).is_ok());
                    prop_assert_eq!(ChatText::clean(text.as_str()), Ok(text.clone()));
                }
                Err(error) => prop_assert_eq!(error, TextError::Empty),
            }
        }

        #[test]
        fn valid_text_is_its_own_cleaning(input in tricky_text()) {
            if let Ok(name) = DisplayName::new(input.as_str()) {
                prop_assert_eq!(DisplayName::clean(&input), Ok(name));
            }
            if let Ok(text) = ChatText::new(input.as_str()) {
                let trimmed = input.trim_matches(is_blank) == input;
                if trimmed {
                    prop_assert_eq!(ChatText::clean(&input), Ok(text));
                }
            }
        }
    }
}
