//! HDFS in the stack's HA mode (`scripts/stack up --ha hdfs`): two NameNodes behind the nameservice
//! hdfs://loadgen, one active, and the active one killed under a write load. They are `#[ignore]`d in
//! the default mode's test run; scripts/test switches the stack to HA mode, runs them with
//! `--ignored`, and switches back.

mod common;

use common::fault::{finish, kill_stack_process, spawn_run, RestartOnDrop};
use common::stack::{require, unique};
use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

const NAMENODES: [(&str, &str, &str); 2] = [
    ("nn1", "127.0.0.1:8020", "127.0.0.1:9870"),
    ("nn2", "127.0.0.1:8021", "127.0.0.1:9880"),
];

fn require_ha() {
    for (id, rpc, _) in NAMENODES {
        require(
            &format!("HDFS NameNode {id} (HA mode: scripts/stack up --ha hdfs)"),
            rpc,
        );
    }
    require("ZooKeeper of the HA mode", "127.0.0.1:2182");
    for dn in ["127.0.0.1:9866", "127.0.0.1:19866", "127.0.0.1:29866"] {
        require("HDFS DataNode (HA mode)", dn);
    }
}

/// A NameNode's HA state from its JMX servlet: "active", "standby", or None when it does not answer.
fn state(http: &str) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&http.parse().unwrap(), Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET /jmx?qry=Hadoop:service=NameNode,name=NameNodeStatus HTTP/1.0\r\nHost: {http}\r\n\r\n"
    )
    .ok()?;
    let mut body = String::new();
    s.read_to_string(&mut body).ok()?;
    let at = body.find("\"State\" : \"")? + "\"State\" : \"".len();
    Some(body[at..at + body[at..].find('"')?].to_string())
}

fn states() -> Vec<Option<String>> {
    NAMENODES.iter().map(|(_, _, http)| state(http)).collect()
}

#[test]
#[ignore = "HA mode only: scripts/test runs it with --ignored after `scripts/stack up --ha hdfs`"]
fn the_nameservice_has_one_active_and_one_standby_namenode() {
    require_ha();
    let _one = one_at_a_time();
    let mut s: Vec<String> = states()
        .into_iter()
        .map(|s| s.unwrap_or_default())
        .collect();
    s.sort();
    assert_eq!(s, ["active", "standby"], "nn1, nn2 states");
}

/// One kill test at a time (the tests of a file run in parallel), for the whole test.
fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static ONE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    ONE.lock().unwrap_or_else(|p| p.into_inner())
}

/// What a run of scripts/ha/hdfs_failover.lua saw while the stack's `process` was killed 8 s in.
struct Killed {
    result: serde_json::Value,
    /// Epoch ms of each acknowledged write.
    acked: Vec<i64>,
    killed_at: i64,
    out: String,
    status: Option<i32>,
}

/// Writes of 100 KiB go through the nameservice at 10 files a second for 40 s
/// (scripts/ha/hdfs_failover.lua, which reads every acknowledged write back in teardown); 8 s in, the
/// stack's `process` gets SIGKILL, checked dead.
fn kill_under_writes(process: &str) -> Killed {
    let dir = format!("/loadgen-test/{}", unique("ha"));
    let root = env!("CARGO_MANIFEST_DIR");
    let case = Case::new(
        &std::fs::read_to_string(format!("{root}/scripts/ha/hdfs_failover.lua")).unwrap(),
    );
    let acks = case.dir.path().join("acks.tsv");
    std::fs::write(&acks, "").unwrap();
    let child = spawn_run(
        &case,
        &[
            format!("DIR={dir}"),
            "RATE=10".into(),
            "SIZE=102400".into(),
            "SECONDS=40".into(),
            format!("ACKS={}", acks.display()),
        ],
    );
    std::thread::sleep(Duration::from_secs(8));
    let killed_at = kill_stack_process(process, libc::SIGKILL, Duration::from_secs(10));
    let (status, out) = finish(child);
    let acked = std::fs::read_to_string(&acks)
        .unwrap()
        .lines()
        .filter_map(|l| l.split('\t').nth(1)?.parse().ok())
        .collect();
    Killed {
        result: case.result(),
        acked,
        killed_at,
        out,
        status,
    }
}

/// The active NameNode is killed: the standby must become active, writes must be acknowledged again
/// after it did, and every acknowledged write, before or after, reads back byte for byte.
#[test]
#[ignore = "HA mode only: scripts/test runs it with --ignored after `scripts/stack up --ha hdfs`"]
fn writes_fail_over_when_the_active_namenode_is_killed_and_nothing_acknowledged_is_lost() {
    require_ha();
    // Dropped in reverse: the killed daemon is started again before the next test may kill.
    let _one = one_at_a_time();
    let _restart = RestartOnDrop("hdfs");
    let before = states();
    let active = before
        .iter()
        .position(|s| s.as_deref() == Some("active"))
        .unwrap_or_else(|| panic!("no active NameNode before the test: {before:?}"));
    let k = kill_under_writes(if active == 0 {
        "hdfs-namenode"
    } else {
        "hdfs-namenode-2"
    });
    let after = states();
    assert_eq!(
        after[active], None,
        "the killed NameNode answers: {after:?}"
    );
    assert_eq!(
        after[1 - active].as_deref(),
        Some("active"),
        "the standby took over: {after:?}"
    );
    check_run(&k);
}

/// One of the three DataNodes is killed: writes go on (the writer leaves the dead DataNode out of the
/// next request for the block, while the NameNode still names it), and every acknowledged write reads
/// back byte for byte.
#[test]
#[ignore = "HA mode only: scripts/test runs it with --ignored after `scripts/stack up --ha hdfs`"]
fn writes_go_on_when_a_datanode_is_killed_and_nothing_acknowledged_is_lost() {
    require_ha();
    // Dropped in reverse: the killed daemon is started again before the next test may kill.
    let _one = one_at_a_time();
    let _restart = RestartOnDrop("hdfs");
    let k = kill_under_writes("hdfs-datanode-3");
    check_run(&k);
    let writes = &k.result["metrics"]["hdfs.write"];
    let failed = writes["error_count"].as_u64().unwrap();
    // A write streaming through the DataNode when it died may fail; the ones after it must not.
    assert!(failed <= 5, "{failed} writes failed: {}", writes["errors"]);
}

/// Exit 0, every acknowledged write read back identical (the script's check), and writes acknowledged
/// from 20 s after the kill on.
fn check_run(k: &Killed) {
    assert_eq!(k.status, Some(0), "{}", k.out);
    assert_valid(&k.result);
    assert_eq!(k.result["metrics"]["checks"]["rate"], 1.0, "{}", k.out);
    let late = k
        .acked
        .iter()
        .filter(|&&ms| ms > k.killed_at + 20_000)
        .count();
    assert!(
        late >= 20,
        "{late} writes acknowledged from 20 s after the kill on (of {}): {}",
        k.acked.len(),
        k.out
    );
    let writes = &k.result["metrics"]["hdfs.write"];
    println!(
        "writes {} failed {} by kind {}",
        writes["count"], writes["error_count"], writes["errors"]
    );
}
