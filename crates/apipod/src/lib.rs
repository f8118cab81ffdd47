//! The ergonomic APIPod SDK (work in progress).
