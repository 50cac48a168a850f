//! `loadgen.elasticsearch`: index, bulk, search, count, get and index administration.
//! Metrics `es.index`, `es.bulk`, `es.search`, `es.count`, `es.get`, `es.admin`; units `docs`,
//! `failed_docs` (bulk items the server refused) and `bytes` (request bodies).

pub mod client;
mod config;
pub mod lua;
#[cfg(test)]
mod props;
