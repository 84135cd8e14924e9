//! Text chat: the log of what was said in this space and privately, and the chat
//! panel to read and write it. The network bridge fills the log and sends what the
//! person writes ([`OutgoingChat`]).

mod plugin;

pub use plugin::{ChatLine, ChatLog, ChatPanelPlugin, ChatPlugin, ChatTarget, OutgoingChat};
