//! The `apipod` binary against hostile servers: small axum servers on 127.0.0.1 that answer
//! with whatever a malicious or broken APIPod (or download host) could send, and hostile
//! batch files. Every case must end with the documented exit code and a clear message,
//! within a bounded time, without writing outside `--out`, without sending the API key to
//! anyone but the API host, and without printing terminal escape sequences.
//!
//! Each test names what it proves; the README's Reliability table lists them (R8 H1-H9).
//! `support` holds the servers and the assertions every case shares; the cases are grouped
//! by what the server attacks: `paths` (file names), `redirects` (the key), `bodies`
//! (endless, huge and dripping answers), `answers` (text and task ids), `batch` (the jobs
//! file).

#[path = "hostile/answers.rs"]
mod answers;
#[path = "hostile/batch.rs"]
mod batch;
#[path = "hostile/bodies.rs"]
mod bodies;
#[path = "hostile/paths.rs"]
mod paths;
#[path = "hostile/redirects.rs"]
mod redirects;
#[path = "hostile/support.rs"]
mod support;
