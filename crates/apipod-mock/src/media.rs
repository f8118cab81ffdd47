//! Result files: deterministic PNG images, YUV4MPEG2 video clips and filler bytes.
//!
//! Nothing is stored: a file is described by a few numbers when its task is created and
//! rendered when it is downloaded, so 10,000 tasks cost no media memory.

use std::io;
use std::sync::OnceLock;

use apipod_raw::contract::{ModelContract, TaskKind};
use axum::body::Bytes;
use futures::Stream;
use serde_json::{Map, Value};

use crate::faults::mix;

/// Content type of the generated video files: uncompressed YUV4MPEG2 (`.y4m`), 4:2:0
/// chroma, 2 frames per second, as many seconds as the task asked for.
pub const VIDEO_CONTENT_TYPE: &str = "video/x-yuv4mpeg2";

/// Frames per second of generated video clips.
pub(crate) const VIDEO_FPS: u32 = 2;

/// One result file of a task, described by what is needed to render it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MediaFile {
    /// A still image.
    Image { width: u32, height: u32, seed: u64 },
    /// The last frame of the task's video as a PNG (Seedance `return_last_frame`).
    LastFrame {
        width: u32,
        height: u32,
        seed: u64,
        frames: u32,
    },
    /// A video clip.
    Video {
        width: u32,
        height: u32,
        seed: u64,
        frames: u32,
    },
}

impl MediaFile {
    /// File extension used in the URL.
    pub fn ext(&self) -> &'static str {
        match self {
            MediaFile::Image { .. } | MediaFile::LastFrame { .. } => "png",
            MediaFile::Video { .. } => "y4m",
        }
    }

    /// `Content-Type` of the rendered file.
    pub fn content_type(&self) -> &'static str {
        match self {
            MediaFile::Image { .. } | MediaFile::LastFrame { .. } => "image/png",
            MediaFile::Video { .. } => VIDEO_CONTENT_TYPE,
        }
    }

    /// Width and height in pixels.
    pub fn dimensions(&self) -> (u32, u32) {
        match *self {
            MediaFile::Image { width, height, .. }
            | MediaFile::LastFrame { width, height, .. }
            | MediaFile::Video { width, height, .. } => (width, height),
        }
    }

    /// Clip length in seconds (videos only).
    pub fn duration_secs(&self) -> Option<f64> {
        match *self {
            MediaFile::Video { frames, .. } => Some(f64::from(frames) / f64::from(VIDEO_FPS)),
            _ => None,
        }
    }

    /// The file's bytes.
    pub fn render(&self) -> Vec<u8> {
        match *self {
            MediaFile::Image {
                width,
                height,
                seed,
            } => encode_png(width, height, &rgb_frame(width, height, seed, 0, 1)),
            MediaFile::LastFrame {
                width,
                height,
                seed,
                frames,
            } => encode_png(
                width,
                height,
                &rgb_frame(width, height, seed, frames.saturating_sub(1), frames),
            ),
            MediaFile::Video {
                width,
                height,
                seed,
                frames,
            } => y4m(width, height, seed, frames),
        }
    }
}

/// Describes the result files of a validated request.
pub(crate) fn plan(
    contract: &ModelContract,
    body: &Map<String, Value>,
    seed: u64,
) -> Vec<MediaFile> {
    let text = |name: &str| -> Option<String> {
        body.get(name)
            .cloned()
            .or_else(|| contract.field(name).and_then(|f| f.default_value()))
            .and_then(|v| v.as_str().map(str::to_string))
    };
    let number = |name: &str| -> Option<i64> {
        body.get(name)
            .cloned()
            .or_else(|| contract.field(name).and_then(|f| f.default_value()))
            .and_then(|v| v.as_i64())
    };
    let ratio = parse_ratio(text("aspect_ratio").as_deref().unwrap_or("1:1"));
    match contract.kind {
        TaskKind::Image => {
            // The first of the fields a model uses for its output size that names one
            // (`quality: auto` does not; `resolution: 2K` does).
            let class = ["quality", "size", "resolution"]
                .into_iter()
                .filter_map(text)
                .find(|t| real_long_side(t).is_some());
            let long = image_long_side(class.as_deref().unwrap_or("1K"));
            let (width, height) = fit(long, ratio, false);
            let n = number("n").unwrap_or(1).clamp(1, 16) as u64;
            (0..n)
                .map(|i| MediaFile::Image {
                    width,
                    height,
                    seed: mix(seed, i),
                })
                .collect()
        }
        TaskKind::Video => {
            let long = video_long_side(text("resolution").as_deref().unwrap_or("720p"));
            let (width, height) = fit(long, ratio, true);
            // Veo 3.1 clips have a fixed length of 8 s; Seedance takes `duration`.
            let seconds = number("duration").unwrap_or(8).clamp(1, 60) as u32;
            let frames = seconds * VIDEO_FPS;
            let mut files = Vec::with_capacity(2);
            if body.get("return_last_frame") == Some(&Value::Bool(true)) {
                files.push(MediaFile::LastFrame {
                    width,
                    height,
                    seed,
                    frames,
                });
            }
            files.push(MediaFile::Video {
                width,
                height,
                seed,
                frames,
            });
            files
        }
    }
}

/// `"16:9"` to (16, 9); `adaptive` and anything unreadable to (16, 9).
fn parse_ratio(text: &str) -> (u32, u32) {
    text.split_once(':')
        .and_then(|(w, h)| Some((w.trim().parse().ok()?, h.trim().parse().ok()?)))
        .filter(|&(w, h): &(u32, u32)| w > 0 && h > 0)
        .unwrap_or((16, 9))
}

/// The real long side, in pixels, a resolution class names: `1K`/`4k` (thousands),
/// `720p`/`768P` (lines, at 16:9), `512px`. `None` for anything else (`auto`, `high`).
fn real_long_side(class: &str) -> Option<u32> {
    let digits_end = class.find(|c: char| !c.is_ascii_digit())?;
    let n: u32 = class[..digits_end].parse().ok()?;
    match &class[digits_end..] {
        "K" | "k" => n.checked_mul(1024),
        "p" | "P" => n.checked_mul(16).map(|x| x / 9),
        "px" => Some(n),
        _ => None,
    }
}

/// Long side of a generated image: the requested class scaled down so files stay small.
fn image_long_side(class: &str) -> u32 {
    match class {
        "512px" => 256,
        "1K" => 320,
        "2K" => 384,
        "3K" => 448,
        "4K" => 512,
        other => real_long_side(other).map_or(320, |px| (px / 8).clamp(192, 512)),
    }
}

/// Long side of a generated video frame for a resolution.
fn video_long_side(resolution: &str) -> u32 {
    match resolution {
        "480p" => 96,
        "720p" => 128,
        "1080p" => 160,
        "4k" | "4K" => 192,
        other => real_long_side(other).map_or(128, |px| (px / 10).clamp(96, 192) / 2 * 2),
    }
}

/// Dimensions with the given long side and ratio (even numbers for 4:2:0 video).
fn fit(long: u32, (rw, rh): (u32, u32), even: bool) -> (u32, u32) {
    let short = |a: u32, b: u32| {
        let s = ((u64::from(long) * u64::from(b) + u64::from(a) / 2) / u64::from(a)) as u32;
        if even { (s / 2 * 2).max(2) } else { s.max(1) }
    };
    if rw >= rh {
        (long, short(rw, rh))
    } else {
        (short(rh, rw), long)
    }
}

/// The RGB pixels of frame `frame` of `frames`: a diagonal gradient between two colours
/// picked by `seed`, soft diagonal stripes, and (in videos) a bright bar moving across.
fn rgb_frame(width: u32, height: u32, seed: u64, frame: u32, frames: u32) -> Vec<u8> {
    let h = mix(seed, 0xC0103);
    let c0 = [(h >> 8) as u8, (h >> 16) as u8, (h >> 24) as u8];
    let c1 = [(h >> 32) as u8, (h >> 40) as u8, (h >> 48) as u8];
    let band = 4 + (h >> 56) as u32 % 12;
    let shift = frame * 3;
    let bar = if frames > 1 {
        Some((frame * width / frames, (width / 10).max(1)))
    } else {
        None
    };
    let span = (width + height).saturating_sub(2).max(1);
    let mut out = Vec::with_capacity(width as usize * height as usize * 3);
    for y in 0..height {
        for x in 0..width {
            let t = (x + y) * 255 / span;
            let stripe = ((x + y + shift) / band).is_multiple_of(2);
            let in_bar = bar.is_some_and(|(start, w)| x >= start && x < start + w);
            for c in 0..3 {
                let base = (u32::from(c0[c]) * (255 - t) + u32::from(c1[c]) * t) / 255;
                let v = if in_bar {
                    (base + 255) / 2
                } else if stripe {
                    base * 7 / 8
                } else {
                    base
                };
                out.push(v as u8);
            }
        }
    }
    out
}

fn encode_png(width: u32, height: u32, rgb: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    // Writing into a Vec cannot fail and the buffer has exactly width*height*3 bytes.
    let mut writer = encoder.write_header().expect("PNG header into memory");
    writer.write_image_data(rgb).expect("PNG data into memory");
    writer.finish().expect("PNG end into memory");
    out
}

/// An uncompressed YUV4MPEG2 clip (4:2:0, full-range BT.601 as `C420jpeg` implies).
fn y4m(width: u32, height: u32, seed: u64, frames: u32) -> Vec<u8> {
    let header =
        format!("YUV4MPEG2 W{width} H{height} F{VIDEO_FPS}:1 Ip A1:1 C420jpeg XAPIPOD=mock\n");
    let (w, h) = (width as usize, height as usize);
    let frame_len = w * h * 3 / 2;
    let mut out = Vec::with_capacity(header.len() + frames as usize * (6 + frame_len));
    out.extend_from_slice(header.as_bytes());
    for f in 0..frames {
        let rgb = rgb_frame(width, height, seed, f, frames);
        out.extend_from_slice(b"FRAME\n");
        let px = |x: usize, y: usize| {
            let i = (y * w + x) * 3;
            (
                f32::from(rgb[i]),
                f32::from(rgb[i + 1]),
                f32::from(rgb[i + 2]),
            )
        };
        for y in 0..h {
            for x in 0..w {
                let (r, g, b) = px(x, y);
                out.push((0.299 * r + 0.587 * g + 0.114 * b).round() as u8);
            }
        }
        let mut u_plane = Vec::with_capacity(w * h / 4);
        let mut v_plane = Vec::with_capacity(w * h / 4);
        for y in (0..h).step_by(2) {
            for x in (0..w).step_by(2) {
                let (mut r, mut g, mut b) = (0.0, 0.0, 0.0);
                for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                    let p = px(x + dx, y + dy);
                    r += p.0 / 4.0;
                    g += p.1 / 4.0;
                    b += p.2 / 4.0;
                }
                u_plane.push((128.0 - 0.168_736 * r - 0.331_264 * g + 0.5 * b).round() as u8);
                v_plane.push((128.0 + 0.5 * r - 0.418_688 * g - 0.081_312 * b).round() as u8);
            }
        }
        out.extend_from_slice(&u_plane);
        out.extend_from_slice(&v_plane);
    }
    out
}

const FILLER_PERIOD: usize = 64 * 1024;

fn filler_pattern() -> &'static Bytes {
    static PATTERN: OnceLock<Bytes> = OnceLock::new();
    PATTERN.get_or_init(|| {
        let bytes: Vec<u8> = (0..FILLER_PERIOD / 8)
            .flat_map(|i| mix(0xB10B, i as u64).to_le_bytes())
            .collect();
        Bytes::from(bytes)
    })
}

/// The deterministic filler bytes served by `/blob/{bytes}` and by result files under
/// [`MockConfig::result_size_override`](crate::MockConfig::result_size_override): `len`
/// bytes starting at `offset`. The content repeats every 64 KiB.
///
/// ```
/// let start = apipod_mock::filler_bytes(0, 100);
/// assert_eq!(&apipod_mock::filler_bytes(10, 5)[..], &start[10..15]);
/// assert_eq!(apipod_mock::filler_bytes(65_536, 100), start);
/// ```
pub fn filler_bytes(offset: u64, len: usize) -> Vec<u8> {
    let pattern = filler_pattern();
    (0..len)
        .map(|i| pattern[((offset + i as u64) % FILLER_PERIOD as u64) as usize])
        .collect()
}

/// Streams `len` filler bytes from `offset` in chunks of at most 64 KiB without copying:
/// every chunk is a slice of the one shared pattern.
pub(crate) fn filler_stream(
    offset: u64,
    len: u64,
) -> impl Stream<Item = Result<Bytes, io::Error>> + Send + 'static {
    let pattern = filler_pattern().clone();
    futures::stream::unfold((offset, len), move |(pos, remaining)| {
        let pattern = pattern.clone();
        async move {
            if remaining == 0 {
                return None;
            }
            let start = (pos % FILLER_PERIOD as u64) as usize;
            let n = ((FILLER_PERIOD - start) as u64).min(remaining) as usize;
            let chunk = pattern.slice(start..start + n);
            Some((Ok(chunk), (pos + n as u64, remaining - n as u64)))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use apipod_raw::contract::find;
    use futures::StreamExt;
    use serde_json::json;

    fn plan_of(body: Value) -> Vec<MediaFile> {
        let model = find(body["model"].as_str().unwrap()).unwrap();
        plan(model, body.as_object().unwrap(), 1)
    }

    #[test]
    fn image_dimensions_follow_ratio_and_quality() {
        assert_eq!(fit(320, (16, 9), false), (320, 180));
        assert_eq!(fit(512, (9, 16), false), (288, 512));
        assert_eq!(fit(320, (1, 8), false), (40, 320));
        assert_eq!(fit(128, (21, 9), true), (128, 54));
        let files = plan_of(
            json!({"model": "nano-banana-2", "prompt": "p", "aspect_ratio": "4:3", "quality": "4K"}),
        );
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].dimensions(), (512, 384));
        // WAN: default 16:9, `size` instead of quality, `n` images.
        let files = plan_of(json!({"model": "wan2.7-image", "prompt": "p", "n": 3, "size": "2K"}));
        assert_eq!(files.len(), 3);
        assert_eq!(files[0].dimensions(), (384, 216));
        assert_ne!(files[0], files[1]);
    }

    #[test]
    fn video_plan_has_last_frame_first() {
        let files = plan_of(
            json!({"model": "seedance-2.0-t2v", "prompt": "p", "duration": 6,
            "resolution": "480p", "aspect_ratio": "9:16", "return_last_frame": true}),
        );
        assert_eq!(files.len(), 2);
        assert_eq!(files[0].ext(), "png");
        assert_eq!(files[1].ext(), "y4m");
        assert_eq!(files[1].dimensions(), (54, 96));
        assert_eq!(files[1].duration_secs(), Some(6.0));
        let veo = plan_of(json!({"model": "veo3-1-fast", "prompt": "p"}));
        assert_eq!(veo.len(), 1);
        assert_eq!(veo[0].duration_secs(), Some(8.0));
        assert_eq!(veo[0].dimensions(), (128, 72));
    }

    #[test]
    fn y4m_size_matches_header() {
        let bytes = MediaFile::Video {
            width: 16,
            height: 8,
            seed: 9,
            frames: 3,
        }
        .render();
        let header_end = bytes.iter().position(|b| *b == b'\n').unwrap() + 1;
        assert!(bytes.starts_with(b"YUV4MPEG2 W16 H8 F2:1 "));
        assert_eq!(bytes.len(), header_end + 3 * (6 + 16 * 8 * 3 / 2));
        assert_eq!(&bytes[header_end..header_end + 6], b"FRAME\n");
    }

    #[test]
    fn rendering_is_deterministic_and_seed_dependent() {
        let a = MediaFile::Image {
            width: 20,
            height: 10,
            seed: 1,
        };
        let b = MediaFile::Image {
            width: 20,
            height: 10,
            seed: 2,
        };
        assert_eq!(a.render(), a.render());
        assert_ne!(a.render(), b.render());
    }

    #[tokio::test]
    async fn filler_stream_matches_filler_bytes() {
        let offset = 65_000;
        let len = 140_000u64;
        let chunks: Vec<Bytes> = filler_stream(offset, len)
            .map(|c| c.unwrap())
            .collect()
            .await;
        assert!(chunks.iter().all(|c| c.len() <= FILLER_PERIOD));
        let joined: Vec<u8> = chunks.concat();
        assert_eq!(joined, filler_bytes(offset, len as usize));
    }
}
