//! Per-client state handed to the generated client: the API key and the user agent.

use std::fmt;
use std::sync::Arc;

use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue, USER_AGENT};

/// progenitor's `api-version` header, which APIPod does not define (a name constant, so
/// removing it parses nothing).
static API_VERSION: HeaderName = HeaderName::from_static("api-version");

/// An APIPod API key.
///
/// It has no `Display`, and its `Debug` prints `ApiKey(<redacted>)`, so it cannot leak
/// through logs, panics or error messages by accident. Cloning shares one allocation.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(Arc<str>);

impl ApiKey {
    /// Wraps a key. Surrounding whitespace (a trailing newline from a file) is removed.
    pub fn new(key: impl AsRef<str>) -> Self {
        Self(Arc::from(key.as_ref().trim()))
    }

    /// The key itself. Only call this to put it on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True when the key is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The `Authorization` header value, marked sensitive so that HTTP-level logging
    /// (hyper, reqwest, tracing layers) redacts it. `None` when the key holds bytes that
    /// cannot appear in a header.
    pub fn bearer_header(&self) -> Option<HeaderValue> {
        let mut value = HeaderValue::from_str(&format!("Bearer {}", self.expose())).ok()?;
        value.set_sensitive(true);
        Some(value)
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// The generated client's inner state (progenitor `inner_type`).
#[derive(Clone, Debug)]
pub struct ClientState {
    authorization: Option<HeaderValue>,
    user_agent: HeaderValue,
}

impl ClientState {
    /// State that authenticates every request with `key`.
    pub fn new(key: ApiKey) -> Self {
        Self {
            authorization: key.bearer_header(),
            user_agent: HeaderValue::from_static(concat!("apipod-rs/", env!("CARGO_PKG_VERSION"))),
        }
    }

    /// State that sends no `Authorization` header (for servers that need none).
    pub fn anonymous() -> Self {
        Self {
            authorization: None,
            user_agent: HeaderValue::from_static(concat!("apipod-rs/", env!("CARGO_PKG_VERSION"))),
        }
    }

    /// Replaces the `User-Agent` sent with every request. Invalid header text is ignored.
    pub fn with_user_agent(mut self, user_agent: &str) -> Self {
        if let Ok(value) = HeaderValue::from_str(user_agent) {
            self.user_agent = value;
        }
        self
    }

    /// True when requests carry an `Authorization` header.
    pub fn is_authenticated(&self) -> bool {
        self.authorization.is_some()
    }

    /// Adds the auth and user-agent headers, and removes progenitor's `api-version` header,
    /// which APIPod does not define.
    pub fn apply(&self, headers: &mut HeaderMap) {
        headers.remove(&API_VERSION);
        if let Some(auth) = &self.authorization {
            headers.insert(AUTHORIZATION, auth.clone());
        }
        if !headers.contains_key(USER_AGENT) {
            headers.insert(USER_AGENT, self.user_agent.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_key() {
        let key = ApiKey::new("sk-very-secret\n");
        assert_eq!(key.expose(), "sk-very-secret");
        assert_eq!(format!("{key:?}"), "ApiKey(<redacted>)");
        let state = ClientState::new(key);
        let shown = format!("{state:?}");
        assert!(!shown.contains("sk-very-secret"), "{shown}");
        assert!(state.is_authenticated());
    }

    #[test]
    fn apply_sets_auth_and_drops_api_version() {
        let state = ClientState::new(ApiKey::new("k1")).with_user_agent("svc/1");
        let mut headers = HeaderMap::new();
        headers.insert("api-version", HeaderValue::from_static("1.0.0"));
        state.apply(&mut headers);
        assert_eq!(headers[AUTHORIZATION], "Bearer k1");
        assert!(headers[AUTHORIZATION].is_sensitive());
        assert_eq!(headers[USER_AGENT], "svc/1");
        assert!(!headers.contains_key("api-version"));
        let mut anon = HeaderMap::new();
        ClientState::anonymous().apply(&mut anon);
        assert!(!anon.contains_key(AUTHORIZATION));
    }
}
