//! Video: submit a Seedance task and follow its progress as a stream of updates.
//!
//! ```sh
//! APIPOD_API_KEY=... cargo run -p apipod --example video
//! ```

use apipod::WaitOptions;
use apipod::models::{Seedance20T2v, seedance20_t2v};
use futures::StreamExt;

#[tokio::main]
async fn main() -> apipod::Result<()> {
    let client = apipod::Client::from_env()?;
    let request = Seedance20T2v::new("slow dolly shot across a night market")
        .duration(seedance20_t2v::Duration::Seconds5)
        .resolution(seedance20_t2v::Resolution::Res720p)
        .generate_audio(true);
    let submitted = client.submit(request).await?;
    let task = client.task(submitted.handle);
    let mut updates = Box::pin(task.updates(WaitOptions::default()));
    while let Some(update) = updates.next().await {
        let snapshot = update?;
        eprintln!("{} {:?}%", snapshot.status(), snapshot.progress());
        for output in snapshot.outputs() {
            println!("{}", output.url);
        }
    }
    Ok(())
}
