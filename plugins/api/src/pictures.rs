//! Pictures from the person's files: what the client can show on a surface in the world.

use bevy::asset::RenderAssetUsages;
use bevy::image::{CompressedImageFormats, ImageSampler, ImageType};
use bevy::prelude::Image;

/// Whether a file name looks like a picture the client can show (PNG or JPEG).
pub fn is_picture(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    [".png", ".jpg", ".jpeg"].iter().any(|ext| lower.ends_with(ext))
}

/// Decodes a PNG or JPEG picture (known by its first bytes, whatever its name says) into
/// an image for a material; anything else is refused with a reason for the person.
pub fn decode_picture(bytes: &[u8]) -> Result<Image, String> {
    let kind = match bytes {
        [0x89, b'P', b'N', b'G', ..] => "png",
        [0xFF, 0xD8, 0xFF, ..] => "jpeg",
        _ => return Err("it is not a PNG or JPEG picture".into()),
    };
    Image::from_buffer(
        bytes,
        ImageType::Extension(kind),
        CompressedImageFormats::NONE,
        true,
        ImageSampler::Default,
        RenderAssetUsages::RENDER_WORLD,
    )
    .map_err(|error| error.to_string())
}
