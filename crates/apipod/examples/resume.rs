//! Resume from a stored handle: `submit` stores the handle as JSON and exits; `wait` (possibly
//! in another process, after a crash or a deploy) reads it back and waits. Re-running `submit`
//! with the same idempotency key never creates a second task.
//!
//! ```sh
//! APIPOD_API_KEY=... cargo run -p apipod --example resume -- submit handle.json
//! APIPOD_API_KEY=... cargo run -p apipod --example resume -- wait handle.json
//! ```

use apipod::models::NanoBanana2;
use apipod::{SubmitOptions, TaskHandle};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (mode, path) = (
        args.next().unwrap_or_default(),
        args.next().unwrap_or("handle.json".into()),
    );
    let client = apipod::Client::from_env()?;
    match mode.as_str() {
        "submit" => {
            // A key derived from your own job id makes the submit itself repeatable.
            let options = SubmitOptions::idempotency_key("order-1234-thumbnail");
            let submitted = client
                .submit_with(NanoBanana2::new("a product thumbnail"), options)
                .await?;
            std::fs::write(&path, serde_json::to_vec_pretty(&submitted.handle)?)?;
            println!("stored {} in {path}", submitted.handle.task_id);
        }
        "wait" => {
            let handle: TaskHandle = serde_json::from_slice(&std::fs::read(&path)?)?;
            let done = client.task(handle).wait().await?;
            for output in done.outputs() {
                println!("{}", output.url);
            }
        }
        _ => eprintln!("usage: resume submit|wait FILE"),
    }
    Ok(())
}
