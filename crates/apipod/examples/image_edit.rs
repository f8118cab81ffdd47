//! Image editing: an edit model needs at least one input image; leaving it out is an error
//! before anything is sent.
//!
//! ```sh
//! APIPOD_API_KEY=... cargo run -p apipod --example image_edit -- https://example.com/photo.jpg
//! ```

use apipod::models::{Wan27ImageEdit, wan27_image_edit};

#[tokio::main]
async fn main() -> apipod::Result<()> {
    let image = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "https://cdn.example.com/reference-1.jpg".into());
    let client = apipod::Client::from_env()?;
    let request = Wan27ImageEdit::new("replace the sky with a starry night")
        .image_urls([image])
        .size(wan27_image_edit::Size::Res2K)
        .n(wan27_image_edit::N::N2);
    let done = client.generate(request).await?;
    for output in done.outputs() {
        println!("{}", output.url);
    }
    Ok(())
}
