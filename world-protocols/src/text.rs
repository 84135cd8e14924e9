//! Validated strings: display names, chat text and space names.
//!
//! Each type checks its rules when it is made, both by [`new`](DisplayName::new) on the
//! sending side and while decoding on the receiving side, so a value of one of these
//! types is always valid. Serde gives valid UTF-8; the length limits come from
//! [`limits`](crate::limits).

use std::fmt;

use serde::{Deserialize, Serialize};

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
}

/// A person's display name: 1 to [`NAME_MAX`] bytes of UTF-8, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DisplayName(String);

impl DisplayName {
    /// Checks `name` and wraps it.
    pub fn new(name: impl Into<String>) -> Result<Self, TextError> {
        let name = name.into();
        check_length(&name, NAME_MAX)?;
        check_chars(&name, |c| !c.is_control())?;
        Ok(Self(name))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The text of a chat message: 1 to [`CHAT_MAX`] bytes of UTF-8. Line breaks and tabs
/// are allowed, other control characters are not.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ChatText(String);

impl ChatText {
    /// Checks `text` and wraps it.
    pub fn new(text: impl Into<String>) -> Result<Self, TextError> {
        let text = text.into();
        check_length(&text, CHAT_MAX)?;
        check_chars(&text, |c| !c.is_control() || c == '\n' || c == '\t')?;
        Ok(Self(text))
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
        assert!(ChatText::new("hello\nworld\tand all").is_ok());
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
    }
}
