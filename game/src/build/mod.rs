//! Building: the structures people make in a space, within the rules its space file sets.
//!
//! The network keeps each space's document of signed records (see
//! [`sanctuary_net::build`]); this feature shows it and edits it.
//!
//! - [`scene`]: the pieces as entities, sharing meshes and materials, with one collider per
//!   chunk of space.
//! - [`edit`]: [`BuildAction`]s (from any device) made into edits, with undo and redo.
//! - [`mode`]: build mode on the desktop (B): palette, ghost preview, snapping, selection,
//!   copy and paste.
//! - [`sign`]: the text of signs, painted on their boards.
//! - [`plugin`]: [`BuildPlugin`], which keeps the scene in step with the document.

pub mod edit;
pub mod mode;
mod plugin;
pub mod scene;
pub mod sign;

pub use edit::{BuildAction, BuildLink, BuildStatus, EditHistory, PiecesChanged};
pub use mode::{BuildMode, BuildModePlugin, BuildingHand, Held, pick_next_piece};
pub use plugin::{BuildPlugin, BuildSystems};
pub use scene::{BuiltPiece, BuiltScene};
