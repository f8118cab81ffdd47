//! Text to image: submit, wait, print the result URLs.
//!
//! ```sh
//! # against the local fake server:
//! cargo run -p apipod-cli -- mock --addr 127.0.0.1:8787 &
//! APIPOD_API_KEY=any APIPOD_BASE_URL=http://127.0.0.1:8787 cargo run -p apipod --example text_to_image
//! ```

use apipod::models::{SeedreamV45, seedream_v45};

#[tokio::main]
async fn main() -> apipod::Result<()> {
    let client = apipod::Client::from_env()?;
    let request = SeedreamV45::new("a lighthouse at dawn, volumetric light")
        .aspect_ratio(seedream_v45::AspectRatio::Ratio16x9)
        .quality(seedream_v45::Quality::Res2K);
    let submitted = client.submit(request).await?;
    eprintln!(
        "submitted {} (request {:?}, cost {:?})",
        submitted.handle.task_id, submitted.request_id, submitted.cost
    );
    let done = client.task(submitted.handle).wait().await?;
    for output in done.outputs() {
        println!("{} (expires in {:?})", output.url, output.expires_in());
    }
    Ok(())
}
