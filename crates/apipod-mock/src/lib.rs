//! A local fake APIPod server (work in progress).
