//! The person's home node from the client: this device talks to the node it paired with
//! on a thread of its own, and apps reach it only through the plugin API's home
//! capability ([`sanctuary_plugin_api::HomeNode`]). What the node said last, and changes
//! made while it does not answer, are kept on the device ([`offline`]).

mod offline;
mod plugin;
mod worker;

pub use plugin::HomeHostPlugin;
