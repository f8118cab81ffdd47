//! Result files: PNG, Y4M, expiry, ranges and large blobs.

use std::time::Duration;

use apipod_mock::{MockConfig, MockServer, filler_bytes};
use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::json;
use tokio::time::advance;

use crate::{Api, parts};

fn png_size(bytes: &[u8]) -> (u32, u32) {
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size()];
    let frame = reader.next_frame(&mut pixels).unwrap();
    (frame.width, frame.height)
}

/// Checks a YUV4MPEG2 file and returns (width, height, frames).
fn y4m_info(bytes: &[u8]) -> (usize, usize, usize) {
    let end = bytes.iter().position(|b| *b == b'\n').unwrap();
    let header = std::str::from_utf8(&bytes[..end]).unwrap();
    let mut tokens = header.split(' ');
    assert_eq!(tokens.next(), Some("YUV4MPEG2"));
    let (mut w, mut h, mut chroma) = (0, 0, "420jpeg");
    for t in tokens {
        match t.split_at(1) {
            ("W", v) => w = v.parse().unwrap(),
            ("H", v) => h = v.parse().unwrap(),
            ("F", v) => assert_eq!(v, "2:1"),
            ("C", v) => chroma = v,
            _ => {}
        }
    }
    assert_eq!(chroma, "420jpeg");
    let frame = 6 + w * h * 3 / 2;
    let body = &bytes[end + 1..];
    assert_eq!(body.len() % frame, 0, "whole frames only");
    for f in body.chunks(frame) {
        assert_eq!(&f[..6], b"FRAME\n");
    }
    (w, h, body.len() / frame)
}

#[tokio::test(start_paused = true)]
async fn images_are_pngs_with_the_requested_shape() {
    let server = MockServer::start().await;
    let api = Api::new(&server);
    for (body, files, size) in [
        (
            json!({"model": "nano-banana-2", "prompt": "wide", "aspect_ratio": "16:9", "quality": "4K"}),
            1,
            (512, 288),
        ),
        (
            json!({"model": "seedream-v4.5", "prompt": "tall", "aspect_ratio": "9:16"}),
            1,
            (216, 384),
        ),
        (
            json!({"model": "wan2.7-image-pro", "prompt": "many", "aspect_ratio": "1:1", "size": "1K", "n": 3}),
            3,
            (320, 320),
        ),
    ] {
        let id = api.create_ok("images", &body).await;
        let data = api.wait("images", &id).await;
        let urls = data["result"].as_array().unwrap();
        assert_eq!(urls.len(), files);
        let mut seen = Vec::new();
        for url in urls {
            let response = api.get(url.as_str().unwrap()).await;
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(response.headers()["content-type"], "image/png");
            let length: usize = response.headers()["content-length"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            let bytes = response.bytes().await.unwrap();
            assert_eq!(bytes.len(), length);
            assert_eq!(png_size(&bytes), size, "{body}");
            seen.push(bytes);
        }
        seen.dedup();
        assert_eq!(seen.len(), files, "the n images differ");
    }
    // Same prompt, same pixels.
    let a = api
        .create_ok(
            "images",
            &json!({"model": "nano-banana-2", "prompt": "same"}),
        )
        .await;
    let b = api
        .create_ok(
            "images",
            &json!({"model": "nano-banana-2", "prompt": "same"}),
        )
        .await;
    let (da, db) = (api.wait("images", &a).await, api.wait("images", &b).await);
    let fa = api
        .get(da["result"][0].as_str().unwrap())
        .await
        .bytes()
        .await
        .unwrap();
    let fb = api
        .get(db["result"][0].as_str().unwrap())
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(fa, fb);
}

#[tokio::test(start_paused = true)]
async fn videos_are_y4m_with_the_last_frame_first() {
    let server = MockServer::start().await;
    let api = Api::new(&server);
    let body = json!({"model": "seedance-2.0-t2v", "prompt": "clip", "duration": 4,
        "resolution": "480p", "aspect_ratio": "16:9", "return_last_frame": true});
    let id = api.create_ok("videos", &body).await;
    let data = api.wait("videos", &id).await;
    let urls = data["result"].as_array().unwrap();
    assert_eq!(urls.len(), 2);
    let last = api.get(urls[0].as_str().unwrap()).await;
    assert_eq!(last.headers()["content-type"], "image/png");
    assert_eq!(png_size(&last.bytes().await.unwrap()), (96, 54));
    let clip = api.get(urls[1].as_str().unwrap()).await;
    assert_eq!(
        clip.headers()["content-type"],
        apipod_mock::VIDEO_CONTENT_TYPE
    );
    let bytes = clip.bytes().await.unwrap();
    assert!(!bytes.is_empty());
    assert_eq!(y4m_info(&bytes), (96, 54, 8));
}

#[tokio::test(start_paused = true)]
async fn files_exist_only_between_completion_and_expiry() {
    let server =
        MockServer::start_with(MockConfig::fast().result_ttl(Duration::from_secs(3600))).await;
    let api = Api::new(&server);
    let id = api
        .create_ok("images", &json!({"model": "nano-banana-2", "prompt": "p"}))
        .await;
    let url = format!("{}/files/{id}/0.png", server.base_url());
    let (status, body) = parts(api.get(&url).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["message"].as_str().unwrap().contains("not completed"));
    assert_eq!(api.wait("images", &id).await["result"][0], url.as_str());
    assert_eq!(api.get(&url).await.status(), StatusCode::OK);
    assert_eq!(
        api.get(&format!("{}/files/{id}/1.png", server.base_url()))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.get(&format!("{}/files/{id}/0.y4m", server.base_url()))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );

    advance(Duration::from_secs(3600)).await;
    let (status, body) = parts(api.get(&url).await).await;
    assert_eq!(status, StatusCode::GONE);
    assert_eq!(body["data"]["error_code"], "result_expired");
    // The task itself is still readable.
    assert_eq!(api.data("images", &id).await["status"], "completed");
}

#[tokio::test(start_paused = true)]
async fn default_expiry_is_a_day() {
    let server = MockServer::start().await;
    let api = Api::new(&server);
    let id = api
        .create_ok("images", &json!({"model": "nano-banana-2", "prompt": "p"}))
        .await;
    let url = api.wait("images", &id).await["result"][0]
        .as_str()
        .unwrap()
        .to_string();
    advance(Duration::from_secs(23 * 3600)).await;
    assert_eq!(api.get(&url).await.status(), StatusCode::OK);
    advance(Duration::from_secs(3600)).await;
    assert_eq!(api.get(&url).await.status(), StatusCode::GONE);
}

#[tokio::test]
async fn blobs_stream_exact_bytes_and_ranges() {
    let server = MockServer::start().await;
    let api = Api::new(&server);
    let total = 1_000_003usize;
    let response = api.get(&server.url(&format!("/blob/{total}"))).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.content_length(), Some(total as u64));
    assert_eq!(response.headers()["accept-ranges"], "bytes");
    let mut stream = response.bytes_stream();
    let mut received = Vec::with_capacity(total);
    while let Some(chunk) = stream.next().await {
        received.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(received, filler_bytes(0, total));

    let part = api
        .http
        .get(server.url("/blob/1000"))
        .header("Range", "bytes=990-")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.headers()["content-range"], "bytes 990-999/1000");
    assert_eq!(part.bytes().await.unwrap(), filler_bytes(990, 10));
    let beyond = api
        .http
        .get(server.url("/blob/1000"))
        .header("Range", "bytes=1000-")
        .send()
        .await
        .unwrap();
    assert_eq!(beyond.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(
        api.get(&server.url("/blob/lots")).await.status(),
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn result_size_override_serves_large_results() {
    let size = 3 * 1024 * 1024 + 5;
    let config = MockConfig::fast()
        .durations(Duration::ZERO, Duration::ZERO)
        .result_size_override(Some(size));
    let server = MockServer::start_with(config).await;
    let api = Api::new(&server);
    let id = api
        .create_ok("videos", &json!({"model": "veo3-1-fast", "prompt": "big"}))
        .await;
    let data = api.wait("videos", &id).await;
    let url = data["result"]["url"].as_str().unwrap();
    let response = api.get(url).await;
    assert_eq!(response.content_length(), Some(size));
    assert_eq!(
        response.headers()["content-type"],
        apipod_mock::VIDEO_CONTENT_TYPE
    );
    let bytes = response.bytes().await.unwrap();
    assert_eq!(bytes.len() as u64, size);
    assert_eq!(
        &bytes[size as usize - 10..],
        &filler_bytes(size - 10, 10)[..]
    );
    let resumed = api
        .http
        .get(url)
        .header("Range", format!("bytes={}-", size - 100))
        .send()
        .await
        .unwrap();
    assert_eq!(resumed.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(resumed.bytes().await.unwrap().len(), 100);
}
