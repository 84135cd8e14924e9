//! The person's blob store in the client: opened from the data folder at start, worked
//! on a thread of its own, and reached by apps only through the plugin API's blobs
//! capability ([`sanctuary_plugin_api::Blobs`]). The network session serves and fetches
//! through the same store while online.

mod plugin;
mod worker;

pub use plugin::{StorageHandle, StorageHostPlugin};
