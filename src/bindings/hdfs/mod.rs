//! `loadgen.hdfs`: write, append, read, list, mkdirs, delete, du. Metrics `hdfs.write`,
//! `hdfs.append`, `hdfs.read`, `hdfs.list`, `hdfs.mkdirs`, `hdfs.delete`, `hdfs.du`; units `bytes`
//! (and `complete_waits` on `hdfs.write` through loadgen's own write path, `wire`).

pub mod client;
pub mod lua;
pub mod wire;
