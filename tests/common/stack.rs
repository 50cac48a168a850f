//! The platform stack for integration tests: the servers `scripts/stack up` starts. A test whose
//! server is not listening fails and names the server and its address; it never skips.

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

pub const KAFKA: &str = "127.0.0.1:9092,127.0.0.1:9094,127.0.0.1:9096";
pub const ELASTICSEARCH: &str = "http://127.0.0.1:9200";
pub const HDFS: &str = "hdfs://127.0.0.1:8020";
/// The Query Server's protobuf listener, on the released server's port.
pub const PHOENIX: &str = "http://127.0.0.1:8765";
/// The same Query Server's JSON listener.
pub const PHOENIX_JSON: &str = "http://127.0.0.1:8766";

/// Panics unless `addr` accepts TCP connections.
pub fn require(server: &str, addr: &str) {
    let sa: SocketAddr = addr.parse().unwrap();
    if TcpStream::connect_timeout(&sa, Duration::from_secs(3)).is_err() {
        panic!("{server} is not reachable at {addr}: start the stack with `scripts/stack up` (CI does this in .ci/run)");
    }
}

pub fn require_kafka() {
    for a in KAFKA.split(',') {
        require("Kafka", a);
    }
}

pub fn require_elasticsearch() {
    require("Elasticsearch", "127.0.0.1:9200");
}

pub fn require_hdfs() {
    require("HDFS NameNode", "127.0.0.1:8020");
    require("HDFS DataNode", "127.0.0.1:9866");
}

/// The Query Server listener of a serialization ("json" or "protobuf").
pub fn require_phoenix(ser: &str) {
    match ser {
        "json" => require("Phoenix Query Server (JSON)", "127.0.0.1:8766"),
        _ => require("Phoenix Query Server (protobuf)", "127.0.0.1:8765"),
    }
}

/// A name no earlier run used.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        loadgen::epoch_micros()
    )
}

pub const HIVE: &str = "127.0.0.1:10000";
/// The same HiveServer2's HTTP transport (path /cliservice).
pub const HIVE_HTTP: &str = "127.0.0.1:10001";

/// HiveServer2 (binary Thrift) and the HDFS it keeps its warehouse on.
pub fn require_hive() {
    require("HiveServer2", HIVE);
    require_hdfs();
}

/// HiveServer2's HTTP transport, and its HDFS.
pub fn require_hive_http() {
    require("HiveServer2 (HTTP transport)", HIVE_HTTP);
    require_hdfs();
}

/// The stack's state folder (PID files, logs), as scripts/stack chooses it.
pub fn stack_state() -> std::path::PathBuf {
    let base = std::env::var("LOADGEN_STATE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| {
            std::path::PathBuf::from(std::env::var("HOME").unwrap()).join(".local/state/loadgen")
        });
    base.join("stack")
}
