//! Unguessable callback routes: per-submission HMAC tokens in the callback URL's path.

use std::fmt;

use apipod_raw::contract::TaskKind;
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::{Error, Result};
use crate::hex::{decode_hex, to_hex};

/// Shortest secret [`CallbackTokens::new`] accepts, in bytes (256 bits).
pub const MIN_CALLBACK_SECRET_LEN: usize = 32;

const TOKEN_DOMAIN: &[u8] = b"apipod-rs callback route token v1\0";
const TOKEN_BYTES: usize = 32;

/// Mints and checks the unguessable tokens that authenticate callback routes.
///
/// APIPod does not sign callbacks, so the callback URL itself is the secret: each submission
/// gets the route `{base}/{kind}/{submission_key}/{token}`, where the token is an
/// HMAC-SHA256 of the kind and the submission key under your secret (256 bits, hex). Only
/// someone who knows the secret, or was given the URL, can produce a route that verifies.
///
/// The task id is not known before the submit, so routes are keyed by *submission*: use the
/// submit's idempotency key (which you choose, and which you store with the task handle) as
/// the submission key. A route speaks only for the task its submission created (see
/// [`SubmissionBindings`](crate::SubmissionBindings)).
///
/// ```
/// use apipod::{CallbackTokens, SubmitOptions, TaskKind};
///
/// # fn secret_store() -> Vec<u8> { vec![7; 32] }
/// # fn run() -> apipod::Result<()> {
/// // At least 32 random bytes from your secret store; a short secret is an error.
/// let tokens = CallbackTokens::new(secret_store())?;
/// let key = CallbackTokens::submission_key();
/// let url = tokens.callback_url_for("https://example.com/apipod", TaskKind::Image, &key);
/// // Put `url` in the request's `callback_url`, and submit with the same key:
/// let options = SubmitOptions::idempotency_key(key.clone());
/// # let _ = options;
/// let token = &url[url.len() - 64..];
/// assert!(tokens.verify_route(TaskKind::Image, &key, token));
/// assert!(!tokens.verify_route(TaskKind::Video, &key, token));
///
/// assert!(CallbackTokens::new("too short").is_err());
/// # Ok(()) }
/// # run().unwrap();
/// ```
///
/// Use a stable secret of at least [`MIN_CALLBACK_SECRET_LEN`] random bytes, kept out of
/// source code; a shorter one is refused with [`Error::Config`]. Tokens minted with one
/// secret verify only under the same secret, so a process that restarts with a new secret
/// rejects callbacks for tasks submitted before. `Debug` never shows the secret.
#[derive(Clone)]
pub struct CallbackTokens {
    mac: Hmac<Sha256>,
}

impl fmt::Debug for CallbackTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallbackTokens")
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl CallbackTokens {
    /// Tokens under this secret.
    ///
    /// Fails with [`Error::Config`] (setting `callback_secret`) when the secret is shorter
    /// than [`MIN_CALLBACK_SECRET_LEN`] bytes: an empty or short secret would make every
    /// route guessable, so it is never silently accepted.
    pub fn new(secret: impl AsRef<[u8]>) -> Result<Self> {
        let secret = secret.as_ref();
        if secret.len() < MIN_CALLBACK_SECRET_LEN {
            return Err(Error::Config {
                setting: "callback_secret",
                message: format!(
                    "a callback secret must have at least {MIN_CALLBACK_SECRET_LEN} bytes, this one has {}; use {MIN_CALLBACK_SECRET_LEN} random bytes from your secret store (or CallbackTokens::random() for one process)",
                    secret.len()
                ),
            });
        }
        let mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret).map_err(|_| Error::Config {
            setting: "callback_secret",
            message: "the secret cannot key HMAC-SHA256".into(),
        })?;
        Ok(Self { mac })
    }

    /// Tokens under a fresh 512-bit secret from the operating system's random source.
    /// They verify only in this process: use [`new`](Self::new) with a stored secret when
    /// callbacks must survive a restart.
    ///
    /// Fails (with [`Error::Config`]) only when the operating system cannot provide random
    /// bytes; it never panics.
    pub fn random() -> Result<Self> {
        let mut secret = [0u8; 64];
        getrandom::fill(&mut secret).map_err(|e| Error::Config {
            setting: "callback_secret",
            message: format!("the operating system's random source failed: {e}"),
        })?;
        // 64 bytes are one SHA-256 block: HMAC's own key size, so no hashing or padding.
        Ok(Self {
            mac: <Hmac<Sha256> as KeyInit>::new(&secret.into()),
        })
    }

    /// A fresh submission key (`apipod-rs-<UUIDv7>`): URL-safe and usable as the submit's
    /// `Idempotency-Key`.
    pub fn submission_key() -> String {
        crate::key::new_key()
    }

    /// The token for `key`: HMAC-SHA256 under the secret, 64 lowercase hex characters.
    pub fn mint(&self, key: &str) -> String {
        let mut mac = self.mac.clone();
        mac.update(TOKEN_DOMAIN);
        mac.update(key.as_bytes());
        to_hex(&mac.finalize().into_bytes())
    }

    /// True when `token` is the token for `key`. The comparison takes the same time
    /// wherever the first difference is.
    pub fn verify(&self, key: &str, token: &str) -> bool {
        let Some(bytes) = decode_hex::<TOKEN_BYTES>(token) else {
            return false;
        };
        let mut mac = self.mac.clone();
        mac.update(TOKEN_DOMAIN);
        mac.update(key.as_bytes());
        mac.verify_slice(&bytes).is_ok()
    }

    /// The callback URL for one submission: `{base}/{kind}/{submission_key}/{token}`, the
    /// key percent-encoded where needed. `base` is where your receiver is reachable (use
    /// HTTPS in production).
    pub fn callback_url_for(&self, base: &str, kind: TaskKind, submission_key: &str) -> String {
        format!(
            "{}/{}/{}/{}",
            base.trim_end_matches('/'),
            kind.as_str(),
            percent_encode(submission_key),
            self.mint(&route_key(kind, submission_key)),
        )
    }

    /// True when `token` belongs to the route of `kind` and `submission_key` (the
    /// receiver's check of a path made by [`callback_url_for`](Self::callback_url_for)).
    pub fn verify_route(&self, kind: TaskKind, submission_key: &str, token: &str) -> bool {
        self.verify(&route_key(kind, submission_key), token)
    }
}

fn route_key(kind: TaskKind, submission_key: &str) -> String {
    format!("{}/{}", kind.as_str(), submission_key)
}

/// The `(kind, submission key)` of a URL in [`CallbackTokens::callback_url_for`]'s form
/// (its path ends in `/{kind}/{key}/{64 hex digits}`), without checking the token (that
/// needs the secret). `None` for any other URL.
pub(crate) fn route_of_url(url: &str) -> Option<(TaskKind, String)> {
    let url = reqwest::Url::parse(url).ok()?;
    let mut segments = url.path_segments()?.rev();
    let token = segments.next()?;
    let key = percent_decode(segments.next()?)?;
    let kind: TaskKind = segments.next()?.parse().ok()?;
    (decode_hex::<TOKEN_BYTES>(token).is_some() && !key.is_empty()).then_some((kind, key))
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes `%XX` escapes (as the receiver's router does); `None` when the result is not
/// UTF-8 or an escape is broken.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let [b] = decode_hex::<1>(s.get(i + 1..i + 3)?)?;
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "secret-a: 32 bytes or more of randomness";
    const B: &str = "secret-b: 32 bytes or more of randomness";

    #[test]
    fn tokens_are_bound_to_secret_kind_and_key() {
        let a = CallbackTokens::new(A).unwrap();
        let b = CallbackTokens::new(B).unwrap();
        let token = a.mint("image/k1");
        assert_eq!(token.len(), 64);
        assert!(a.verify("image/k1", &token));
        assert!(!b.verify("image/k1", &token));
        assert!(!a.verify("image/k2", &token));
        assert!(!a.verify("image/k1", &token[..63]));
        assert!(!a.verify("image/k1", &format!("g{}", &token[1..])));
        // Upper-case hex is the same token.
        assert!(a.verify("image/k1", &token.to_uppercase()));
        assert_ne!(
            CallbackTokens::random().unwrap().mint("x"),
            CallbackTokens::random().unwrap().mint("x")
        );
        assert!(!format!("{a:?}").contains("secret-a"));
    }

    #[test]
    fn urls_encode_the_key_and_can_be_read_back() {
        let t = CallbackTokens::new(A).unwrap();
        let url = t.callback_url_for("https://h.example/cb/", TaskKind::Video, "a b/c");
        let rest = url
            .strip_prefix("https://h.example/cb/video/a%20b%2Fc/")
            .unwrap();
        assert!(t.verify_route(TaskKind::Video, "a b/c", rest));
        assert_eq!(route_of_url(&url), Some((TaskKind::Video, "a b/c".into())));
        assert_eq!(
            route_of_url("https://h.example/cb/video/k/not-a-token"),
            None
        );
        assert_eq!(route_of_url(&url.replace("/video/", "/audio/")), None);
        assert_eq!(route_of_url("not a url"), None);
    }
}
