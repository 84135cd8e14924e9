//! What a person says on their home node: [`Item`]s (a post, a comment on a post, a like,
//! or the deletion of one of their own items), each signed by its author's home key.
//!
//! An item names itself: its [`ItemId`] is its author and a number the author never uses
//! twice. The signature covers a domain tag and the whole item, so an item cannot be
//! replayed as anything else, and any node can check it without asking its author.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::blob::BlobHash;
use crate::identity::{Keypair, PeerId, Signature};
use crate::text::is_invisible_or_directional;

/// Longest text of a post or a comment, in bytes.
pub const ITEM_TEXT_MAX: usize = 4000;
/// Most pictures on one post.
pub const PICTURES_MAX: usize = 4;
/// Longest name of a picture, in bytes.
pub const PICTURE_NAME_MAX: usize = 120;
/// Longest name of a group, in bytes.
pub const GROUP_MAX: usize = 40;

/// What every signature over an item starts with.
const ITEM_DOMAIN: &[u8] = b"sanctuary/home/item/0";

/// One item: its author and a number the author never uses twice (the author's node
/// counts up from the time in milliseconds).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ItemId {
    /// Whose item it is.
    pub author: PeerId,
    /// The author's number for it.
    pub seq: u64,
}

impl fmt::Display for ItemId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.author, self.seq)
    }
}

impl fmt::Debug for ItemId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ItemId({self})")
    }
}

/// Why text is not an item id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an item id is the author's 64 hex digits, a dot and a number")]
pub struct ParseItemIdError;

impl FromStr for ItemId {
    type Err = ParseItemIdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (author, seq) = text.trim().split_once('.').ok_or(ParseItemIdError)?;
        Ok(Self {
            author: author.parse().map_err(|_| ParseItemIdError)?,
            seq: seq.parse().map_err(|_| ParseItemIdError)?,
        })
    }
}

/// Who a post is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Audience {
    /// Every friend.
    Friends,
    /// The friends in one of the author's groups.
    Group(String),
}

/// A picture on a post: a blob held by the author's node, fetched by the readers' nodes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Picture {
    /// Its bytes' hash.
    pub hash: BlobHash,
    /// Its file name.
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
}

/// What an item says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ItemBody {
    /// A post on the author's wall.
    Post {
        /// Its text (line breaks allowed).
        text: String,
        /// Its pictures.
        pictures: Vec<Picture>,
        /// Who it is for.
        audience: Audience,
    },
    /// A comment on a post (anyone's).
    Comment {
        /// The post.
        post: ItemId,
        /// What it says.
        text: String,
    },
    /// A like of a post.
    Like {
        /// The post.
        post: ItemId,
    },
    /// The author takes back one of their own items, everywhere it went.
    Delete {
        /// The item.
        item: ItemId,
    },
}

/// One thing a person said, before it is signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    /// Its id (its author is the signer).
    pub id: ItemId,
    /// When it was written, in Unix milliseconds (the author's clock).
    pub created_ms: u64,
    /// What it says.
    pub body: ItemBody,
}

impl Item {
    /// The post this item is about: itself for a post, the commented or liked post
    /// otherwise, and the deleted item for a deletion.
    pub fn post(&self) -> ItemId {
        match &self.body {
            ItemBody::Post { .. } => self.id,
            ItemBody::Comment { post, .. } | ItemBody::Like { post } => *post,
            ItemBody::Delete { item } => *item,
        }
    }

    /// Checks sizes and text: every limit above, text with no control characters but line
    /// breaks (in posts and comments) and no invisible or direction-changing characters,
    /// and a deletion only of the author's own items.
    pub fn validate(&self) -> Result<(), ItemError> {
        match &self.body {
            ItemBody::Post {
                text,
                pictures,
                audience,
            } => {
                check_text(text, ITEM_TEXT_MAX, true)?;
                if text.trim().is_empty() && pictures.is_empty() {
                    return Err(ItemError::Empty);
                }
                if pictures.len() > PICTURES_MAX {
                    return Err(ItemError::TooManyPictures(pictures.len()));
                }
                for picture in pictures {
                    check_text(&picture.name, PICTURE_NAME_MAX, false)?;
                    if picture.size > super::request::UPLOAD_MAX as u64 {
                        return Err(ItemError::TooLong {
                            len: picture.size as usize,
                            max: super::request::UPLOAD_MAX,
                        });
                    }
                }
                if let Audience::Group(group) = audience {
                    check_text(group, GROUP_MAX, false)?;
                }
            }
            ItemBody::Comment { text, .. } => {
                check_text(text, ITEM_TEXT_MAX, true)?;
                if text.trim().is_empty() {
                    return Err(ItemError::Empty);
                }
            }
            ItemBody::Like { .. } => {}
            ItemBody::Delete { item } => {
                if item.author != self.id.author {
                    return Err(ItemError::NotTheirs);
                }
            }
        }
        Ok(())
    }
}

/// Checks one text field: at most `max` bytes, no control characters (line breaks only
/// where `lines`), no invisible or direction-changing characters.
pub fn check_text(text: &str, max: usize, lines: bool) -> Result<(), ItemError> {
    if text.len() > max {
        return Err(ItemError::TooLong { len: text.len(), max });
    }
    let bad = |c: char| (c.is_control() && !(lines && c == '\n')) || is_invisible_or_directional(c);
    if text.chars().any(bad) {
        return Err(ItemError::BadCharacters);
    }
    Ok(())
}

/// Why an item is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ItemError {
    /// Text over its limit.
    #[error("text of {len} bytes, over the limit of {max}")]
    TooLong {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Control, invisible or direction-changing characters.
    #[error("text with control, invisible or direction-changing characters")]
    BadCharacters,
    /// Nothing to show.
    #[error("nothing to say: no text and no picture")]
    Empty,
    /// Over [`PICTURES_MAX`].
    #[error("{0} pictures, over the limit of {PICTURES_MAX}")]
    TooManyPictures(usize),
    /// A deletion of someone else's item.
    #[error("an author may only delete their own items")]
    NotTheirs,
    /// The signature is not its author's.
    #[error("the signature is not its author's")]
    Forged,
}

/// An item and its author's signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedItem {
    /// The item.
    pub item: Item,
    /// Its author's signature over [`ITEM_DOMAIN`] and the item.
    pub signature: Signature,
}

impl SignedItem {
    /// Signs `body` as item `seq` of `keypair`'s owner, written at `created_ms`, once it
    /// passes [`Item::validate`].
    pub fn sign(keypair: &Keypair, seq: u64, created_ms: u64, body: ItemBody) -> Result<Self, ItemError> {
        let item = Item {
            id: ItemId {
                author: keypair.peer_id(),
                seq,
            },
            created_ms,
            body,
        };
        item.validate()?;
        let signature = keypair.sign(&signed_bytes(&item));
        Ok(Self { item, signature })
    }

    /// Checks the item ([`Item::validate`]) and that its author signed it.
    pub fn verify(&self) -> Result<(), ItemError> {
        self.item.validate()?;
        self.item
            .id
            .author
            .verify(&signed_bytes(&self.item), &self.signature)
            .map_err(|_| ItemError::Forged)
    }

    /// The item's id.
    pub fn id(&self) -> ItemId {
        self.item.id
    }
}

fn signed_bytes(item: &Item) -> Vec<u8> {
    // Serializing plain data into a Vec cannot fail.
    postcard::to_extend(item, ITEM_DOMAIN.to_vec()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(text: &str) -> ItemBody {
        ItemBody::Post {
            text: text.into(),
            pictures: Vec::new(),
            audience: Audience::Friends,
        }
    }

    #[test]
    fn a_signed_item_verifies_and_any_change_breaks_it() {
        let ada = Keypair::from_bytes(&[1; 32]);
        let item = SignedItem::sign(&ada, 7, 1_000, post("hello\nworld")).unwrap();
        assert_eq!(item.verify(), Ok(()));
        let mut changed = item.clone();
        changed.item.created_ms += 1;
        assert_eq!(changed.verify(), Err(ItemError::Forged));
        let mut stolen = item.clone();
        stolen.item.id.author = Keypair::from_bytes(&[2; 32]).peer_id();
        assert_eq!(stolen.verify(), Err(ItemError::Forged));
    }

    #[test]
    fn bad_items_are_refused_before_signing() {
        let ada = Keypair::from_bytes(&[1; 32]);
        let long = "x".repeat(ITEM_TEXT_MAX + 1);
        assert!(matches!(
            SignedItem::sign(&ada, 1, 1, post(&long)),
            Err(ItemError::TooLong { .. })
        ));
        assert_eq!(
            SignedItem::sign(&ada, 1, 1, post("a\u{202E}b")),
            Err(ItemError::BadCharacters)
        );
        assert_eq!(SignedItem::sign(&ada, 1, 1, post(" ")), Err(ItemError::Empty));
        let bob = Keypair::from_bytes(&[2; 32]).peer_id();
        let theirs = ItemBody::Delete {
            item: ItemId { author: bob, seq: 1 },
        };
        assert_eq!(SignedItem::sign(&ada, 1, 1, theirs), Err(ItemError::NotTheirs));
    }

    #[test]
    fn an_item_id_prints_and_parses_back() {
        let id = ItemId {
            author: Keypair::from_bytes(&[3; 32]).peer_id(),
            seq: 1_700_000_000_123,
        };
        assert_eq!(id.to_string().parse::<ItemId>(), Ok(id));
        assert_eq!("nope".parse::<ItemId>(), Err(ParseItemIdError));
    }
}
