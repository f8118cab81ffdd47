//! The contract check against the generated table: every model's example, the limits and
//! the messages.

use super::*;
use serde_json::json;

fn check(body: Value) -> Vec<String> {
    let id = body["model"].as_str().unwrap();
    find(id)
        .unwrap()
        .validate(body.as_object().unwrap())
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn every_model_is_of_one_kind_and_its_example_passes() {
    assert_eq!(
        of_kind(TaskKind::Image).count() + of_kind(TaskKind::Video).count(),
        MODELS.len()
    );
    for m in MODELS {
        let example = m
            .example()
            .unwrap_or_else(|| panic!("{}: no example", m.id));
        let problems = m.validate(&example);
        assert!(problems.is_empty(), "{}: {problems:?}", m.id);
    }
}

#[test]
fn find_returns_each_models_own_entry_and_nothing_else() {
    for m in MODELS {
        assert!(std::ptr::eq(find(m.id).unwrap(), m), "{}", m.id);
    }
    for unknown in ["", "seedream", "seedream-v4.5 ", "SEEDREAM-V4.5", "x"] {
        assert!(find(unknown).is_none(), "{unknown:?}");
    }
}

#[test]
fn lengths_are_counted_in_characters_at_every_boundary() {
    // wan2.7-image-edit's prompt takes 1 to 5,000 characters.
    let prompt_problems = |prompt: String| -> Vec<Problem> {
        let body = json!({"model": "wan2.7-image-edit", "prompt": prompt, "image_urls": ["u"]});
        find("wan2.7-image-edit")
            .unwrap()
            .validate(body.as_object().unwrap())
            .into_iter()
            .filter(|v| v.field == "prompt")
            .map(|v| v.problem)
            .collect()
    };
    // 5,000 two-byte characters are 10,000 bytes and still within the limit.
    assert!(prompt_problems("é".repeat(5000)).is_empty());
    assert!(prompt_problems("a".repeat(5000)).is_empty());
    assert!(prompt_problems("é".to_string()).is_empty());
    assert_eq!(
        prompt_problems("é".repeat(5001)),
        [Problem::TooLong {
            len: 5001,
            max: 5000
        }]
    );
    assert_eq!(
        prompt_problems("a".repeat(5001)),
        [Problem::TooLong {
            len: 5001,
            max: 5000
        }]
    );
    assert_eq!(
        prompt_problems(String::new()),
        [Problem::TooShort { len: 0, min: 1 }]
    );
}

#[test]
fn accepts_a_valid_body() {
    assert!(
        check(json!({"model": "wan2.7-image", "prompt": "p", "n": 2, "size": "2K"})).is_empty()
    );
}

#[test]
fn names_field_and_limit() {
    assert_eq!(
        check(json!({"model": "wan2.7-image-edit", "prompt": "p"})),
        ["wan2.7-image-edit: `image_urls` is required"]
    );
    assert_eq!(
        check(json!({"model": "seedance-2.0-i2v", "prompt": "p", "image_urls": ["a", "b", "c"]})),
        ["seedance-2.0-i2v: `image_urls` has 3 items; at most 2 allowed"]
    );
    assert_eq!(
        check(json!({"model": "seedream-v4.5", "prompt": "p", "quality": "8K"})),
        ["seedream-v4.5: `quality` is \"8K\"; allowed values: 2K, 4K"]
    );
    assert_eq!(
        check(json!({"model": "seedance-2.0-t2v", "prompt": "p", "duration": 20})),
        [
            "seedance-2.0-t2v: `duration` is 20; allowed values: 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15",
            "seedance-2.0-t2v: `duration` is 20; the maximum is 15"
        ]
    );
    assert!(
        check(json!({"model": "wan2.7-image", "prompt": "p", "callback_url": "https://x"}))[0]
            .starts_with("wan2.7-image: `callback_url` is not a field of this model")
    );
    assert_eq!(
        check(json!({"model": "seedance-2.0-r2v", "prompt": "p", "audio_urls": ["a"]})),
        ["seedance-2.0-r2v: at least one of `image_urls` or `video_urls` must have an item"]
    );
}

#[test]
fn parse_text_by_type() {
    let m = find("seedance-2.0-t2v").unwrap();
    assert_eq!(
        m.field("duration").unwrap().parse_text("8").unwrap(),
        json!(8)
    );
    assert_eq!(
        m.field("watermark").unwrap().parse_text("true").unwrap(),
        json!(true)
    );
    assert!(m.field("duration").unwrap().parse_text("eight").is_err());
    assert_eq!(
        m.field("aspect_ratio").unwrap().default_value(),
        Some(json!("adaptive"))
    );
}
