//! Measured speed, scale and fault tolerance of the `apipod` SDK and `apipod-mock`.
//!
//! The `apipod-bench` binary runs the benchmarks (see `docs/performance.md`); this library
//! holds the parts worth testing on their own:
//!
//! * [`sim`]: polling policies on a virtual clock (requests per task, detection delay);
//! * the learning poll policy itself lives in the SDK ([`apipod::AdaptivePollPolicy`]);
//! * [`sys`]: RSS, peak RSS and CPU time from `/proc`;
//! * [`servers`]: the mock (or a minimal server) in a child process;
//! * [`pin`]: the client and the servers on different cores;
//! * [`stats`] and [`report`]: percentiles, the results table and the JSON report.

#![warn(missing_docs)]

pub mod pin;
pub mod report;
pub mod servers;
pub mod sim;
pub mod stats;
pub mod sys;
