//! What [`ModelContract::validate`](super::ModelContract::validate) reports: one
//! [`Violation`] per problem, each naming the model, the field and what is wrong with it.

use std::fmt;

use super::{FieldType, Limit};

/// What is wrong with one field.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Problem {
    /// `model` is absent or names another model.
    WrongModel {
        /// The value found, as JSON.
        found: Option<String>,
    },
    /// The model does not accept this field.
    UnknownField {
        /// The fields it accepts.
        accepted: Vec<&'static str>,
    },
    /// A required field is absent.
    Missing,
    /// The value has the wrong JSON type.
    WrongType {
        /// Expected type.
        expected: FieldType,
        /// The value found, as JSON.
        found: String,
    },
    /// The value is not one of the allowed values.
    NotAllowed {
        /// The value found, as JSON.
        found: String,
        /// The allowed values.
        allowed: Vec<&'static str>,
    },
    /// The text is longer than allowed.
    TooLong {
        /// Length in characters.
        len: u64,
        /// Limit.
        max: u64,
    },
    /// The text is shorter than allowed.
    TooShort {
        /// Length in characters.
        len: u64,
        /// Minimum.
        min: u64,
    },
    /// The number is too small.
    BelowMinimum {
        /// Value given.
        value: f64,
        /// Minimum.
        min: Limit,
    },
    /// The number is too large.
    AboveMaximum {
        /// Value given.
        value: f64,
        /// Maximum.
        max: Limit,
    },
    /// The list has too few items.
    TooFewItems {
        /// Items given.
        count: u64,
        /// Minimum.
        min: u64,
    },
    /// The list has too many items.
    TooManyItems {
        /// Items given.
        count: u64,
        /// Maximum.
        max: u64,
    },
    /// None of these list fields has an item, and one is needed.
    NeedOneOf {
        /// The fields, any of which would do.
        fields: Vec<&'static str>,
    },
    /// The request cannot be made this way at all (a video model on an image-only route,
    /// an edit with a model that takes no input images, ...).
    NotSupported {
        /// Why, naming what would work instead.
        reason: String,
    },
    /// An uploaded file is larger than allowed.
    FileTooLarge {
        /// Its size in bytes.
        bytes: u64,
        /// The limit in bytes.
        max: u64,
    },
}

/// One problem with a request body, naming the model, the field and the limit.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    /// Model id the body was checked against.
    pub model: String,
    /// Field name (`a|b` for a rule over several fields).
    pub field: String,
    /// What is wrong.
    pub problem: Problem,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (model, field) = (&self.model, &self.field);
        match &self.problem {
            Problem::WrongModel { found: Some(v) } => {
                write!(f, "{model}: `model` is {v}; expected \"{model}\"")
            }
            Problem::WrongModel { found: None } => write!(f, "{model}: `model` is missing"),
            Problem::UnknownField { accepted } => write!(
                f,
                "{model}: `{field}` is not a field of this model (accepted: {})",
                accepted.join(", ")
            ),
            Problem::Missing => write!(f, "{model}: `{field}` is required"),
            Problem::WrongType { expected, found } => write!(
                f,
                "{model}: `{field}` must be a {}, got {found}",
                expected.as_str()
            ),
            Problem::NotAllowed { found, allowed } => write!(
                f,
                "{model}: `{field}` is {found}; allowed values: {}",
                allowed.join(", ")
            ),
            Problem::TooLong { len, max } => write!(
                f,
                "{model}: `{field}` is {len} characters long; the limit is {max}"
            ),
            Problem::TooShort { len, min } => write!(
                f,
                "{model}: `{field}` is {len} characters long; it needs at least {min}"
            ),
            Problem::BelowMinimum { value, min } => {
                write!(f, "{model}: `{field}` is {value}; the minimum is {min}")
            }
            Problem::AboveMaximum { value, max } => {
                write!(f, "{model}: `{field}` is {value}; the maximum is {max}")
            }
            Problem::TooFewItems { count, min } => write!(
                f,
                "{model}: `{field}` has {count} item(s); at least {min} required"
            ),
            Problem::TooManyItems { count, max } => write!(
                f,
                "{model}: `{field}` has {count} items; at most {max} allowed"
            ),
            Problem::NotSupported { reason } => write!(f, "{model}: `{field}`: {reason}"),
            Problem::FileTooLarge { bytes, max } => write!(
                f,
                "{model}: `{field}` is {bytes} bytes; the limit is {max} bytes"
            ),
            Problem::NeedOneOf { fields } => write!(
                f,
                "{model}: at least one of {} must have an item",
                fields
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            ),
        }
    }
}

impl std::error::Error for Violation {}
