//! H8: hostile batch files.

use std::path::Path;
use std::time::Duration;

use axum::Router;
use serde_json::json;

use crate::support::*;

/// H8: hostile batch files (a line over 1 MiB, invalid UTF-8, thousands of duplicate ids,
/// thousands of lines with one bad one at the end, JSON nested 100,000 deep, a 900 KB
/// array or prompt, control characters in an id, a file over 64 MiB, a directory, an
/// empty file) exit 2 quickly with a bounded message naming the lines, send no request
/// and create nothing in `--out`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_batch_files_exit_2_and_submit_nothing() {
    let server = start(|_| Router::new()).await;
    let tmp = tempfile::tempdir().unwrap();
    let valid = |i: usize| {
        json!({"id": format!("job-{i}"), "model": "seedream-v4.5", "prompt": format!("p {i}")})
            .to_string()
    };
    let mut cases: Vec<(&str, Vec<u8>, &str)> = Vec::new();
    let mut huge_line = valid(0).into_bytes();
    huge_line.extend(std::iter::repeat_n(b' ', 2 * 1024 * 1024));
    cases.push(("huge line", huge_line, "line 1: 2097"));
    cases.push((
        "invalid utf-8",
        b"{\"model\": \"seedream-v4.5\", \"prompt\": \"\xc3\x28\"}\n".to_vec(),
        "line 1: not UTF-8",
    ));
    let duplicates: String = (0..3000).map(|_| format!("{}\n", valid(7))).collect();
    cases.push(("duplicate ids", duplicates.into_bytes(), "and 2979 more"));
    let mut many: String = (0..5000).map(|i| format!("{}\n", valid(i))).collect();
    many.push_str("{\"model\": \"seedream-v4.5\"}\n");
    cases.push(("thousands of lines", many.into_bytes(), "line 5001:"));
    cases.push((
        "deep nesting",
        format!("{}\n", "[".repeat(100_000)).into_bytes(),
        "recursion limit",
    ));
    let wide = format!(
        "{{\"model\": \"seedream-v4.5\", \"prompt\": \"p\", \"x\": [{}0]}}\n",
        "0,".repeat(450_000)
    );
    cases.push(("wide array", wide.into_bytes(), "line 1:"));
    let long_prompt = format!(
        "{{\"model\": \"seedream-v4.5\", \"prompt\": \"{}\"}}\n",
        "p".repeat(900_000)
    );
    cases.push(("long prompt", long_prompt.into_bytes(), "line 1:"));
    cases.push((
        "escape in id",
        b"{\"id\": \"a\\u001b[2J\", \"model\": \"seedream-v4.5\", \"prompt\": \"p\"}\n".to_vec(),
        "control characters",
    ));
    cases.push(("empty", Vec::new(), "has no jobs"));
    for (label, bytes, expect) in cases {
        let file = tmp
            .path()
            .join(format!("{}.jsonl", label.replace(' ', "-")));
        std::fs::write(&file, bytes).unwrap();
        check_batch(&server, &file, tmp.path(), label, expect).await;
    }
    let big = tmp.path().join("big.jsonl");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(65 * 1024 * 1024)
        .unwrap();
    check_batch(
        &server,
        &big,
        tmp.path(),
        "over 64 MiB",
        "larger than 64 MiB",
    )
    .await;
    let dir = tmp.path().join("a-directory.jsonl");
    std::fs::create_dir(&dir).unwrap();
    check_batch(&server, &dir, tmp.path(), "directory", "cannot read").await;
    assert!(server.seen.hits().is_empty(), "{:?}", server.seen.hits());
}

async fn check_batch(server: &Server, file: &Path, tmp: &Path, label: &str, expect: &str) {
    let out_dir = tmp.join(format!("out-{}", label.replace(' ', "-")));
    let mut cmd = apipod(&server.base);
    cmd.arg("batch").arg(file).arg("--out").arg(&out_dir);
    let (out, took) = run(cmd).await;
    assert_exit(&out, 2);
    let stderr = text(&out.stderr);
    assert!(stderr.contains(expect), "{label}: {stderr}");
    assert!(
        stderr.len() < 64 * 1024,
        "{label}: {} bytes of stderr",
        stderr.len()
    );
    assert!(took < Duration::from_secs(30), "{label}: took {took:?}");
    assert!(!out_dir.exists(), "{label}: created {}", out_dir.display());
}
