//! B4: downloads. A task on the mock (in a child process) whose result file is
//! `--download-mib` MiB of filler bytes, fetched by `Client::download` (streamed to disk,
//! SHA-256 computed on the way, renamed into place), by a plain reqwest stream written to
//! a file (no hash: isolates the SDK's extra work), and by curl, in alternating rounds; the
//! same bytes are also written alone from memory, which with SHA-256 alone bounds any client.
//! Peak memory is the kernel's `VmHWM` during the SDK download minus the RSS before it.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, ensure};
use apipod::models::SeedreamV45;
use apipod::{Client, DownloadOptions, Output};
use apipod_bench::report::{BenchResult, Figure, Goal, Unit};
use apipod_bench::servers::{ServeArgs, ServerProc};
use apipod_bench::stats::median;
use apipod_bench::sys;
use futures::StreamExt;
use serde_json::json;
use tokio::io::AsyncWriteExt;

use super::{Opts, runtime, sdk};

fn curl_available() -> bool {
    Command::new("curl")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// curl's own measure of its speed (bytes/s), and our wall-clock one.
fn curl(url: &str, out: &Path) -> anyhow::Result<(f64, f64)> {
    let start = Instant::now();
    let output = apipod_bench::pin::command("curl", apipod_bench::pin::Role::Client)
        .args(["-s", "--noproxy", "*", "-o"])
        .arg(out)
        .args(["-w", "%{speed_download} %{size_download}", url])
        .output()
        .context("running curl")?;
    let wall = start.elapsed().as_secs_f64();
    ensure!(output.status.success(), "curl failed: {:?}", output.status);
    let text = String::from_utf8_lossy(&output.stdout);
    let mut parts = text.split_whitespace();
    let speed: f64 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .context("curl speed")?;
    let size: f64 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .context("curl size")?;
    Ok((speed, size / wall))
}

/// Streams `url` into `path` with plain reqwest (no hash); then fsyncs the file. Returns
/// the bytes, the seconds until the last byte was written, and the seconds the fsync took.
async fn plain_stream(client: &Client, url: &str, path: &Path) -> anyhow::Result<(u64, f64, f64)> {
    let start = Instant::now();
    let resp = client.http().get(url).send().await?.error_for_status()?;
    let mut file = tokio::fs::File::create(path).await?;
    let mut body = resp.bytes_stream();
    let mut total = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = chunk?;
        total += chunk.len() as u64;
        file.write_all(&chunk).await?;
    }
    file.flush().await?;
    let written = start.elapsed().as_secs_f64();
    let sync = Instant::now();
    file.sync_all().await?;
    Ok((total, written, sync.elapsed().as_secs_f64()))
}

/// Writes `size` bytes to a new file at `path` in 1 MiB `write`s from memory, on this
/// thread: the cheapest way any client can put a file of that size there. Returns bytes/s.
fn write_alone(path: &Path, size: u64) -> anyhow::Result<f64> {
    use std::io::Write as _;
    let block = vec![0x5au8; 1 << 20];
    let start = Instant::now();
    let mut file = std::fs::File::create(path)?;
    let mut left = size;
    while left > 0 {
        let n = left.min(block.len() as u64) as usize;
        file.write_all(&block[..n])?;
        left -= n as u64;
    }
    drop(file);
    let rate = size as f64 / start.elapsed().as_secs_f64();
    std::fs::remove_file(path)?;
    Ok(rate)
}

/// SHA-256 throughput of this machine, bytes/s (what `Client::download` hashes with).
fn sha256_rate() -> f64 {
    use sha2::{Digest, Sha256};
    let block = vec![0x5au8; 64 << 20];
    let start = Instant::now();
    for _ in 0..4 {
        std::hint::black_box(Sha256::digest(&block));
    }
    (4 * block.len()) as f64 / start.elapsed().as_secs_f64()
}

fn mib_s(bytes_per_second: f64) -> String {
    format!("{:.0} MiB/s", bytes_per_second / (1024.0 * 1024.0))
}

pub fn run(opts: &Opts) -> anyhow::Result<BenchResult> {
    let mib = if opts.quick {
        opts.download_mib.min(64)
    } else {
        opts.download_mib
    };
    let size = mib << 20;
    let rounds = if opts.quick { 2 } else { 3 };
    let server = ServerProc::spawn(&ServeArgs {
        result_size: Some(size),
        pending_ms: 10,
        processing_ms: 10,
        ..ServeArgs::mock()
    })?;
    // Every side writes into the same directory: tmpfs when the machine has one, so the
    // figures measure the clients and not the disk's write-back (which made the spread of
    // disk-backed runs larger than the differences measured).
    let shm = Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        tempfile::tempdir_in(shm)
    } else {
        tempfile::tempdir()
    }
    .context("temporary directory")?;
    let on_tmpfs = dir.path().starts_with(shm);
    let rt = runtime(2)?;
    let (client, output): (Client, Output) = rt.block_on(async {
        let client = sdk(server.url())?;
        let done = client.generate(SeedreamV45::new("a big file")).await?;
        let output = done.outputs().into_iter().next().context("no output")?;
        anyhow::Ok((client, output))
    })?;
    let has_curl = curl_available();
    let mut result = BenchResult {
        bench: "B4".into(),
        ..BenchResult::default()
    };
    if !has_curl {
        result
            .notes
            .push("curl is not installed: the comparison with curl was skipped".into());
    }
    let (mut sdk_rates, mut plain_rates, mut curl_file, mut curl_null, mut curl_self) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut write_rates = Vec::new();
    let mut peak_deltas = Vec::new();
    let mut fsync_secs = Vec::new();
    let options = DownloadOptions::default().with_overwrite(true);
    for round in 0..rounds {
        eprintln!("B4: round {} of {rounds} ({mib} MiB each)", round + 1);
        let curl_path = dir.path().join("curl.bin");
        let mut steps: Vec<&str> = vec!["sdk", "plain", "write-alone"];
        if has_curl {
            steps.extend(["curl-file", "curl-null"]);
        }
        if round % 2 == 1 {
            steps.reverse();
        }
        for step in steps {
            match step {
                "sdk" => {
                    let reset = sys::reset_peak_rss();
                    let sampler = (!reset)
                        .then(|| sys::RssSampler::start(std::time::Duration::from_millis(5)));
                    let before = sys::rss_kib();
                    let start = Instant::now();
                    let file = rt.block_on(client.download(&output, dir.path(), &options))?;
                    let secs = start.elapsed().as_secs_f64();
                    let peak = match sampler {
                        Some(s) => s.stop(),
                        None => sys::peak_rss_kib(),
                    };
                    ensure!(
                        file.bytes == size,
                        "downloaded {} of {size} bytes",
                        file.bytes
                    );
                    std::fs::remove_file(&file.path)?;
                    sdk_rates.push(size as f64 / secs);
                    peak_deltas.push(peak.saturating_sub(before) as f64);
                }
                "plain" => {
                    let path = dir.path().join("plain.bin");
                    let (got, secs, fsync) =
                        rt.block_on(plain_stream(&client, &output.url, &path))?;
                    ensure!(got == size);
                    std::fs::remove_file(&path)?;
                    plain_rates.push(size as f64 / secs);
                    fsync_secs.push(fsync);
                }
                "write-alone" => {
                    write_rates.push(write_alone(&dir.path().join("write.bin"), size)?);
                }
                "curl-file" => {
                    let (speed, wall) = curl(&output.url, &curl_path)?;
                    std::fs::remove_file(&curl_path)?;
                    curl_file.push(wall);
                    curl_self.push(speed);
                }
                _ => {
                    let (speed, wall) = curl(&output.url, Path::new("/dev/null"))?;
                    curl_null.push(wall);
                    curl_self.push(speed);
                }
            }
        }
    }
    let sdk_rate = median(&sdk_rates);
    let peak_kib = peak_deltas.iter().copied().fold(0.0, f64::max);
    result.figures.push(Figure::judged(
        "B4",
        format!("peak memory of a {mib} MiB download (RSS delta)"),
        format!("{:.1} MiB", peak_kib / 1024.0),
        "< 32 MiB",
        (peak_kib * 1024.0, Unit::Bytes),
        Goal::AtMost(32.0 * 1024.0 * 1024.0),
    ));
    result.figures.push(
        Figure::info(
            "B4",
            "Client::download throughput (to a file, SHA-256 on the way)",
            mib_s(sdk_rate),
        )
        .with_value(sdk_rate, Unit::MibPerSecond),
    );
    result.figures.push(
        Figure::info(
            "B4",
            "plain reqwest stream to a file (no hash)",
            mib_s(median(&plain_rates)),
        )
        .with_value(median(&plain_rates), Unit::MibPerSecond),
    );
    let sha = sha256_rate();
    result.figures.push(Figure::info(
        "B4",
        "SHA-256 alone on this machine / fsync of the finished file",
        format!("{} / {:.2} s", mib_s(sha), median(&fsync_secs)),
    ));
    // With the client on one core, reading + writing (the plain stream) and hashing take
    // turns on it: this is the fastest any client can download and hash there.
    let plain = median(&plain_rates);
    let bound = 1.0 / (1.0 / plain + 1.0 / sha);
    result.figures.push(
        Figure::info(
            "B4",
            "one core's bound for stream + SHA-256 (1 / (1/plain + 1/SHA-256)); SDK's share",
            format!(
                "{} ({:.0}% reached)",
                mib_s(bound),
                100.0 * sdk_rate / bound
            ),
        )
        .with_value(sdk_rate / bound, Unit::Factor),
    );
    if has_curl {
        let curl_rate = median(&curl_file);
        let ratio = sdk_rate / curl_rate;
        result.figures.push(Figure::judged(
            "B4",
            "Client::download with SHA-256 vs curl, both writing the file",
            format!("{} vs {} (x{ratio:.3})", mib_s(sdk_rate), mib_s(curl_rate)),
            ">= x0.95",
            (ratio, Unit::Factor),
            Goal::AtLeast(0.95),
        ));
        result.figures.push(Figure::info(
            "B4",
            "curl -o /dev/null (upper bound: no disk writes)",
            mib_s(median(&curl_null)),
        ));
        // Whatever else a client does, on one core it must at least hash every byte and
        // write every byte to the file: the two alone cap its speed, network reads free.
        let write = median(&write_rates);
        let ceiling = 1.0 / (1.0 / write + 1.0 / sha);
        result.figures.push(
            Figure::info(
                "B4",
                "ceiling vs curl for any one-core client that hashes and writes the file \
                 (1 / (1/write alone + 1/SHA-256), reading the network for free)",
                format!(
                    "{} (x{:.3} of curl; 1 MiB writes alone: {})",
                    mib_s(ceiling),
                    ceiling / curl_rate,
                    mib_s(write)
                ),
            )
            .with_value(ceiling / curl_rate, Unit::Factor),
        );
        // The same with reading counted, at the rate curl itself reads into /dev/null: a
        // client that hashes does all three on its one core, curl the first two.
        let read = median(&curl_null);
        let with_reads = 1.0 / (1.0 / read + 1.0 / write + 1.0 / sha);
        result.figures.push(
            Figure::info(
                "B4",
                "ceiling vs curl for any one-core client that reads, writes and hashes \
                 (1 / (1/curl to /dev/null + 1/write alone + 1/SHA-256))",
                format!(
                    "{} (x{:.3} of curl)",
                    mib_s(with_reads),
                    with_reads / curl_rate
                ),
            )
            .with_value(with_reads / curl_rate, Unit::Factor),
        );
    }
    result.details = json!({
        "bytes": size,
        "rounds": rounds,
        "sdk_bytes_per_second": sdk_rates,
        "plain_stream_bytes_per_second": plain_rates,
        "curl_file_bytes_per_second": curl_file,
        "directory": if on_tmpfs { "tmpfs (/dev/shm)" } else { "the system temporary directory" },
        "curl_devnull_bytes_per_second": curl_null,
        "curl_reported_speed_download": curl_self,
        "sdk_peak_rss_delta_kib": peak_deltas,
        "plain_stream_fsync_seconds": fsync_secs,
        "write_alone_bytes_per_second": write_rates,
        "sha256_bytes_per_second": sha,
        "peak_measured_with": if sys::reset_peak_rss() { "VmHWM reset through /proc/self/clear_refs" } else { "RSS sampled every 5 ms" },
    });
    result.notes.push(format!(
        "throughput is bytes / wall time of the whole call; Client::download also computes \
             SHA-256 and renames the file into place, which curl and the plain stream do not \
             (fsync is opt-in and off here); curl's wall time includes its process start; \
             files are written to {}",
        if on_tmpfs {
            "tmpfs (/dev/shm)"
        } else {
            "the system temporary directory"
        }
    ));
    Ok(result)
}
