//! `loadgen.hdfs`: write, append, read, list, mkdirs, delete, du. Metrics `hdfs.write`,
//! `hdfs.append`, `hdfs.read`, `hdfs.list`, `hdfs.mkdirs`, `hdfs.delete`, `hdfs.du`; units `bytes`.

pub mod client;
pub mod lua;
