//! `loadgen.kafka`: produce (`kafka.produce`, units records and bytes), consume (`kafka.consume`),
//! end-to-end time from producer to consumer (`kafka.e2e`), and topic administration (`kafka.admin`).

pub mod batch;
pub mod client;
pub mod lua;
