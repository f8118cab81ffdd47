//! Every operation's method and path template, generated from `openapi/apipod.yaml`, and
//! the URLs built from them.
//!
//! The `apipod` SDK sends its creates and status reads straight through `reqwest` with
//! URLs built here, once per client, instead of through the generated methods, which format
//! a string per call that reqwest must then parse again. A route's URL is exactly the one the
//! generated method requests: the base URL's path, the template's segments, and each path
//! parameter percent-encoded as one segment with the same character set.
//!
//! ```
//! use apipod_raw::routes;
//!
//! let base = reqwest::Url::parse("https://api.apipod.ai").unwrap();
//! let url = routes::GET_IMAGE_TASK.url(&base, &["task 1"]).unwrap();
//! assert_eq!(url.as_str(), "https://api.apipod.ai/v1/images/status/task%201");
//! assert_eq!(routes::GET_IMAGE_TASK.method, "GET");
//! ```

use std::fmt;

use reqwest::Url;

/// One operation of the spec: its id, HTTP method and path template (`{name}` marks a
/// parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// The spec's `operationId` (also the generated method's name).
    pub operation_id: &'static str,
    /// The HTTP method, upper case.
    pub method: &'static str,
    /// The path template, e.g. `/v1/images/status/{task_id}`.
    pub path: &'static str,
}

/// A route's URL could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RouteError {
    /// The base URL cannot have a path (e.g. `mailto:`); APIPod's bases are `http(s)`.
    BaseCannotHavePath,
    /// The number of parameters given differs from the template's.
    Parameters {
        /// The template's parameter count.
        expected: usize,
        /// The count given.
        given: usize,
    },
}

impl fmt::Display for RouteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RouteError::BaseCannotHavePath => f.write_str("the base URL cannot have a path"),
            RouteError::Parameters { expected, given } => {
                write!(
                    f,
                    "the route takes {expected} path parameter(s), {given} given"
                )
            }
        }
    }
}

impl std::error::Error for RouteError {}

impl Route {
    /// The template's segments: `Ok(text)` for a fixed one, `Err(name)` for a parameter.
    fn segments(&self) -> impl Iterator<Item = Result<&'static str, &'static str>> {
        self.path.split('/').filter(|s| !s.is_empty()).map(|s| {
            match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => Err(name),
                None => Ok(s),
            }
        })
    }

    /// How many path parameters the template has.
    pub fn parameter_count(&self) -> usize {
        self.segments().filter(Result::is_err).count()
    }

    /// The URL of this route under `base`, with `params` filled in template order, each
    /// percent-encoded as a single segment.
    pub fn url(&self, base: &Url, params: &[&str]) -> Result<Url, RouteError> {
        let expected = self.parameter_count();
        if params.len() != expected {
            return Err(RouteError::Parameters {
                expected,
                given: params.len(),
            });
        }
        let mut url = base.clone();
        {
            let mut path = url
                .path_segments_mut()
                .map_err(|()| RouteError::BaseCannotHavePath)?;
            path.pop_if_empty();
            let mut params = params.iter();
            for segment in self.segments() {
                match segment {
                    Ok(fixed) => path.push(fixed),
                    // The count was checked above.
                    Err(_) => path.push(params.next().copied().unwrap_or_default()),
                };
            }
        }
        Ok(url)
    }

    /// For a template whose only parameter is its last segment (`/v1/images/status/{task_id}`),
    /// the URL of everything before it. Append the parameter with
    /// [`Route::with_last_segment`]; a client builds the prefix once and pays only for the
    /// append per call.
    pub fn prefix_url(&self, base: &Url) -> Option<Url> {
        let (head, last) = self.path.rsplit_once('/')?;
        let last_is_param = last.starts_with('{') && last.ends_with('}');
        let head_route = Route {
            path: head,
            ..*self
        };
        (last_is_param && head_route.parameter_count() == 0)
            .then(|| head_route.url(base, &[]).ok())
            .flatten()
    }

    /// `prefix` (from [`Route::prefix_url`]) with `value` appended as one percent-encoded
    /// segment.
    pub fn with_last_segment(prefix: &Url, value: &str) -> Result<Url, RouteError> {
        let mut url = prefix.clone();
        url.path_segments_mut()
            .map_err(|()| RouteError::BaseCannotHavePath)?
            .push(value);
        Ok(url)
    }
}

include!(concat!(env!("OUT_DIR"), "/routes.rs"));

#[cfg(test)]
mod tests {
    use super::*;

    fn base(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn urls_match_the_generated_clients_format() {
        // The generated methods format `{baseurl}{path}` with `encode_path` on each
        // parameter; the URL reqwest parses from that string must be the one built here.
        for b in ["http://127.0.0.1:8080", "https://x.example/apipod"] {
            for id in [
                "task_1",
                "a b",
                "x?y#z",
                "100%",
                "任务-7",
                "a\"<>`{}|^[]",
                "é",
            ] {
                let formatted = format!(
                    "{b}/v1/images/status/{}",
                    progenitor_client::encode_path(id)
                );
                let expected = Url::parse(&formatted).unwrap();
                let built = GET_IMAGE_TASK.url(&base(b), &[id]).unwrap();
                assert_eq!(built, expected, "{id:?}");
                let prefix = GET_IMAGE_TASK.prefix_url(&base(b)).unwrap();
                assert_eq!(Route::with_last_segment(&prefix, id).unwrap(), expected);
            }
            let create = CREATE_VIDEO_GENERATION.url(&base(b), &[]).unwrap();
            assert_eq!(
                create,
                Url::parse(&format!("{b}/v1/videos/generations")).unwrap()
            );
        }
    }

    #[test]
    fn wrong_parameters_and_odd_bases_are_errors() {
        let b = base("https://api.apipod.ai");
        assert_eq!(
            GET_VIDEO_TASK.url(&b, &[]),
            Err(RouteError::Parameters {
                expected: 1,
                given: 0
            })
        );
        assert!(CREATE_IMAGE_GENERATION.url(&b, &["x"]).is_err());
        assert_eq!(CREATE_IMAGE_GENERATION.prefix_url(&b), None);
        let mail = base("mailto:a@b.c");
        assert_eq!(
            CREATE_ASSET.url(&mail, &[]),
            Err(RouteError::BaseCannotHavePath)
        );
    }

    #[test]
    fn every_operation_has_a_route() {
        assert!(ALL.iter().any(|r| r.operation_id == "get_asset"));
        assert_eq!(GET_ASSET.parameter_count(), 1);
        for r in ALL {
            assert!(r.path.starts_with('/'), "{r:?}");
            assert!(["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&r.method));
        }
    }
}
