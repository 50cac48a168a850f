//! `loadgen.flink`: jobs on a Flink session cluster through its REST API.

pub mod client;
mod config;
pub mod lua;
