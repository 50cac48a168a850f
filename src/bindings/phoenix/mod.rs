//! `loadgen.phoenix`: our own asynchronous client of the Phoenix Query Server (Apache Calcite
//! Avatica over HTTP, protobuf or JSON). Metrics `phoenix.execute`, `phoenix.query` (units `rows`),
//! `phoenix.connect`, `phoenix.prepare`, `phoenix.commit`, `phoenix.rollback`.

pub mod client;
pub mod lua;
mod params;
pub mod wire;
