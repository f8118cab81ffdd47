//! The typed per-model requests generated from the spec: naming, readable enums with strict
//! parsing, validation before sending, and agreement with the contract table.

use apipod::contract;
use apipod::models::{
    GptImage2, MotionControlM1, Seedance20R2v, Seedance20T2v, SeedreamV45, Wan27Image,
    Wan27ImageEdit, gpt_image2, seedance20_t2v, seedream_v45, wan27_image,
};
use apipod::{Error, GenerationRequest, IntoRequest};
use serde_json::json;

#[test]
fn names_follow_the_model_id() {
    assert_eq!(SeedreamV45::ID, "seedream-v4.5");
    assert_eq!(GptImage2::ID, "gpt-image-2");
    assert_eq!(MotionControlM1::ID, "motion-control-m1");
    // Every typed request's contract is in the table.
    for id in [SeedreamV45::ID, GptImage2::ID, MotionControlM1::ID] {
        assert!(contract::find(id).is_some(), "{id}");
    }
    assert_eq!(
        SeedreamV45::contract().map(|c| c.fields.len()),
        Some(SeedreamV45::FIELDS.len())
    );
}

#[test]
fn enum_variants_are_readable_and_parse_the_wire_spelling_strictly() {
    assert_eq!(seedream_v45::AspectRatio::Ratio16x9.as_str(), "16:9");
    assert_eq!(seedream_v45::AspectRatio::Ratio21x9.to_string(), "21:9");
    assert_eq!(seedream_v45::Quality::Res4K.as_str(), "4K");
    assert_eq!(gpt_image2::Quality::Auto.as_str(), "auto");
    assert_eq!(
        "16:9".parse::<seedream_v45::AspectRatio>(),
        Ok(seedream_v45::AspectRatio::Ratio16x9)
    );
    for bad in ["16:10", " 16:9", "16x9", "4k", ""] {
        let err = bad.parse::<seedream_v45::AspectRatio>().err();
        let err = err.unwrap_or_else(|| panic!("{bad:?} parsed"));
        if bad == "4k" {
            continue;
        }
        assert_eq!(err.field(), "aspect_ratio");
        assert!(err.to_string().contains("allowed values: 1:1"), "{err}");
    }
    // Every variant round-trips through its wire text.
    for v in seedream_v45::AspectRatio::ALL {
        assert_eq!(v.as_str().parse::<seedream_v45::AspectRatio>(), Ok(*v));
    }
}

#[test]
fn integer_values_are_enums_too() {
    assert_eq!(seedance20_t2v::Duration::Seconds8.value(), 8);
    assert_eq!(
        seedance20_t2v::Duration::try_from(12),
        Ok(seedance20_t2v::Duration::Seconds12)
    );
    assert!(seedance20_t2v::Duration::try_from(3).is_err());
    assert_eq!("15".parse(), Ok(seedance20_t2v::Duration::Seconds15));
    assert_eq!(wan27_image::N::N3.value(), 3);
    let body = Seedance20T2v::new("waves")
        .duration(seedance20_t2v::Duration::Seconds8)
        .to_json();
    assert_eq!(body["duration"], json!(8));
}

#[test]
fn bodies_carry_only_what_was_set() {
    let req = SeedreamV45::new("a lighthouse")
        .aspect_ratio(seedream_v45::AspectRatio::Ratio16x9)
        .callback_url("https://hooks.example.com/x");
    assert_eq!(
        req.to_json(),
        json!({"model": "seedream-v4.5", "prompt": "a lighthouse", "aspect_ratio": "16:9",
               "callback_url": "https://hooks.example.com/x"})
    );
    let r2v = Seedance20R2v::new("p")
        .image_urls(["https://x/1.png"])
        .video_urls(["assetId://asset-20260722164336-p4mms"])
        .generate_audio(false);
    assert_eq!(
        r2v.to_json()["video_urls"][0],
        "assetId://asset-20260722164336-p4mms"
    );
    assert!(r2v.validate().is_ok(), "asset references are accepted");
    assert_eq!(
        MotionControlM1::new().to_json(),
        json!({"model": "motion-control-m1"})
    );
}

#[test]
fn bad_input_is_rejected_before_sending() {
    let err = SeedreamV45::new("x".repeat(4001)).validate().unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid request: seedream-v4.5: `prompt` is 4001 characters long; the limit is 4000"
    );
    let err = Wan27ImageEdit::new("p").into_request().unwrap_err();
    assert!(matches!(err, Error::InvalidRequest { .. }), "{err}");
    let err = MotionControlM1::new().validate().unwrap_err();
    assert!(err.to_string().contains("is required"), "{err}");
    let ok = Wan27Image::new("p").n(wan27_image::N::N4).validate();
    assert!(ok.is_ok());
}

#[test]
fn unknown_models_are_a_typed_error_without_library_hints() {
    let err =
        GenerationRequest::from_json(json!({"model": "no-such-model", "prompt": "p"})).unwrap_err();
    assert!(
        matches!(&err, Error::UnknownModel { model, known } if model == "no-such-model" && *known == contract::MODELS.len()),
        "{err:?}"
    );
    assert!(!err.to_string().contains("GenerationRequest"), "{err}");
}

#[test]
fn every_spec_example_is_a_valid_request() {
    for model in contract::MODELS {
        let example = model
            .example()
            .unwrap_or_else(|| panic!("{}: no example", model.id));
        let req = GenerationRequest::from_json(serde_json::Value::Object(example.clone()))
            .unwrap_or_else(|e| panic!("{}: {e}", model.id));
        assert_eq!(req.model(), model.id);
        assert_eq!(req.kind(), model.kind);
        assert_eq!(
            req.to_json(),
            serde_json::Value::Object(example),
            "{}",
            model.id
        );
    }
}
