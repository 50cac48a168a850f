//! `loadgen.http`: HTTP/1.1 and HTTP/2 for any backend. Metric `http.request`, units `bytes`.

pub mod client;
pub mod h1;
pub mod lua;
