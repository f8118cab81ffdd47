//! Why a callback delivery was refused, and the HTTP answer that says so.

use crate::error::{Error, excerpt};

/// Why a callback delivery was refused.
///
/// This is a receiver-side error: [`CallbackError::http_status`] gives the answer to send
/// back to APIPod. It converts into [`Error`] where it meets client code.
///
/// ```
/// use apipod::{CallbackError, CallbackEvent};
///
/// let err = CallbackEvent::parse(b"<html>502</html>").unwrap_err();
/// assert!(matches!(err, CallbackError::Malformed { .. }));
/// assert_eq!(err.http_status(), 400);
/// assert_eq!(CallbackError::WrongTask.http_status(), 403);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallbackError {
    /// The body is larger than the limit.
    #[error("callback body is larger than {limit} bytes")]
    TooLarge {
        /// The limit that was exceeded, in bytes.
        limit: usize,
    },

    /// The body is not a callback event.
    #[error("malformed callback: {reason}; body starts: {excerpt:?}")]
    Malformed {
        /// What is wrong.
        reason: String,
        /// The first characters of the body.
        excerpt: String,
    },

    /// The route's token does not match its submission key (or the route is unknown).
    #[error("callback route token does not verify")]
    BadToken,

    /// The route's submission key is bound to another task: one callback URL speaks only
    /// for the task its submission created (see
    /// [`SubmissionBindings`](crate::SubmissionBindings)).
    #[error("callback route belongs to another task")]
    WrongTask,

    /// Re-reading the task did not confirm the delivery: the task's status differs from
    /// the event's (an early or forged delivery, or a status the endpoint has not caught up
    /// with), or the task could not be read. The delivery counts as not delivered: it is
    /// neither published nor remembered, and the answer asks APIPod to deliver it again.
    #[error("callback not confirmed: {reason}")]
    Unconfirmed {
        /// Why (for logs; the HTTP answer does not include it).
        reason: String,
    },
}

impl CallbackError {
    /// The HTTP status a receiver should answer with: 413, 400, 404 (a bad token gets the
    /// same answer as a route that does not exist, so probing reveals nothing), 403 for a
    /// route bound to another task, and 503 for an unconfirmed delivery (APIPod redelivers
    /// on any non-2xx answer).
    pub fn http_status(&self) -> u16 {
        match self {
            CallbackError::TooLarge { .. } => 413,
            CallbackError::Malformed { .. } => 400,
            CallbackError::BadToken => 404,
            CallbackError::WrongTask => 403,
            CallbackError::Unconfirmed { .. } => 503,
        }
    }

    pub(crate) fn malformed(reason: impl Into<String>, body: &[u8]) -> Self {
        CallbackError::Malformed {
            reason: reason.into(),
            excerpt: excerpt(body),
        }
    }
}

impl From<CallbackError> for Error {
    fn from(err: CallbackError) -> Self {
        match err {
            CallbackError::Malformed { reason, excerpt } => Error::Decode {
                status: None,
                reason: format!("malformed callback: {reason}"),
                excerpt,
            },
            other => Error::Decode {
                status: None,
                reason: other.to_string(),
                excerpt: String::new(),
            },
        }
    }
}
