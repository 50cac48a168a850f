//! `loadgen.flink`: jobs on a Flink session cluster through its REST API.

pub mod client;
pub mod lua;
