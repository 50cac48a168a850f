//! `loadgen.flink` against the stack's Flink session cluster: the ingest pipeline's job deployed from a
//! script's setup(), carrying records from the stack's Kafka into Elasticsearch, and cancelled in its
//! teardown; a failed submission and an unreachable cluster stop the run before the load (exit 4).
#![cfg(feature = "flink")]

mod common;

use common::stack::{require, require_elasticsearch, require_kafka, unique, ELASTICSEARCH};
use common::*;
use std::process::Command;

const FLINK: &str = "http://127.0.0.1:8081";

fn require_flink() {
    require("Flink (JobManager REST)", "127.0.0.1:8081");
}

/// The pipeline job's jar, built by the stack script from docker/flink/Pipeline.java.
fn pipeline_jar() -> String {
    let root = env!("CARGO_MANIFEST_DIR");
    let o = Command::new(format!("{root}/scripts/stack"))
        .args(["flink-jar", "Pipeline"])
        .output()
        .expect("scripts/stack flink-jar");
    assert!(
        o.status.success(),
        "scripts/stack flink-jar Pipeline: {}",
        stderr(&o)
    );
    stdout(&o).trim().to_string()
}

fn get_json(url: &str) -> serde_json::Value {
    let o = Command::new("curl")
        .args(["-sf", "--max-time", "20", url])
        .output()
        .unwrap();
    assert!(o.status.success(), "GET {url} failed");
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("GET {url}: {e}"))
}

/// (name, state) of every job the cluster knows.
fn jobs() -> Vec<(String, String)> {
    get_json(&format!("{FLINK}/jobs/overview"))["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| {
            (
                j["name"].as_str().unwrap().to_string(),
                j["state"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn the_pipeline_job_is_deployed_in_setup_carries_every_record_to_elasticsearch_and_is_cancelled_in_teardown(
) {
    require_flink();
    require_kafka();
    require_elasticsearch();
    let jar = pipeline_jar();
    let name = unique("lg_flink_test").replace('-', "_");
    let root = env!("CARGO_MANIFEST_DIR");
    let out = tempfile::tempdir().unwrap();
    let result = out.path().join("result.json");
    let o = Command::new(bin())
        .arg("run")
        .arg(format!("{root}/scripts/ingest/pipeline.lua"))
        .args(["--out", result.to_str().unwrap(), "--quiet"])
        .args([
            "-e",
            "STORE=elasticsearch",
            "-e",
            &format!("NAME={name}"),
            "-e",
            &format!("JAR={jar}"),
        ])
        .args([
            "-e",
            "RATE=100",
            "-e",
            "SECONDS=5",
            "-e",
            "DRAIN_S=90",
            "-e",
            "MARKER_TIMEOUT_S=10",
        ])
        .output()
        .unwrap();
    let text = stdout(&o);
    assert_eq!(code(&o), 0, "stdout:\n{text}\nstderr:\n{}", stderr(&o));
    // The job's id, from the script's line, and its state on the cluster afterwards.
    let job = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("pipeline: job ")
                .and_then(|r| r.split(' ').next())
        })
        .unwrap_or_else(|| panic!("no 'pipeline: job' line in:\n{text}"))
        .to_string();
    let state = get_json(&format!("{FLINK}/jobs/{job}"))["state"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(state, "CANCELED", "job {job} after teardown");
    assert!(
        !jobs()
            .iter()
            .any(|(n, s)| n.contains(&name) && s == "RUNNING"),
        "a job of this test still runs: {:?}",
        jobs()
    );
    // Every record the brokers hold is a document Elasticsearch's search path sees.
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&result).unwrap()).unwrap();
    assert_valid(&r);
    let produced = r["metrics"]["pipeline_rows_produced"]["sum"]
        .as_f64()
        .unwrap();
    assert!(produced >= 400.0, "produced {produced} at 100/s for 5 s");
    // Markers: 2 a second for 5 s, each seen by the probe (freshness recorded once per marker).
    let markers = r["metrics"]["pipeline_markers_produced"]["sum"]
        .as_f64()
        .unwrap();
    assert!(markers >= 8.0, "markers {markers}");
    assert_eq!(
        r["metrics"]["pipeline_markers_seen"]["sum"].as_f64(),
        Some(markers),
        "every marker seen"
    );
    let fresh = &r["metrics"]["pipeline_freshness_ms"];
    assert_eq!(fresh["count"].as_f64(), Some(markers), "{fresh}");
    let (min, p50, max) = (
        fresh["values"]["min"].as_f64().unwrap(),
        fresh["values"]["p50"].as_f64().unwrap(),
        fresh["values"]["max"].as_f64().unwrap(),
    );
    // Never below zero (a marker is seen after it was produced), and under the probe's 10 s timeout.
    assert!(
        min > 0.0 && p50 >= min && max < 10_000.0,
        "freshness min {min} p50 {p50} max {max}"
    );
    let produced = produced + markers;
    let count = get_json(&format!("{ELASTICSEARCH}/{name}/_count"))["count"]
        .as_f64()
        .unwrap();
    assert_eq!(count, produced, "documents in {name}");
    assert_eq!(
        r["metrics"]["pipeline_all_rows_visible"]["rate"].as_f64(),
        Some(1.0)
    );
    // The job's own numbers reached the result: the operator chain read every record.
    let read = r["metrics"]["flink.records_in"]["gauge"]["max"]
        .as_f64()
        .unwrap_or(0.0);
    let written = r["metrics"]["flink.records_out"]["gauge"]["max"]
        .as_f64()
        .unwrap_or(0.0);
    assert!(
        read.max(written) >= produced,
        "flink.records_in {read}, records_out {written}, produced {produced}"
    );
    assert!(r["metrics"]["flink.submit"]["count"] == 1);
    let _ = Command::new("curl")
        .args(["-s", "-XDELETE", &format!("{ELASTICSEARCH}/{name}")])
        .output();
}

#[test]
fn a_failed_submission_stops_the_run_before_the_load_with_exit_4_and_the_clusters_answer() {
    require_flink();
    let jar = pipeline_jar();
    let c = Case::new(&format!(
        r#"
local lg = require("loadgen")
local flink = require("loadgen.flink")
local f = flink.cluster{{ url = "{FLINK}" }}
local sent = lg.counter("sent")
options = {{ iterations = 5, vus = 1 }}
function setup()
  f:submit{{ jar = "{jar}", args = {{ "sink=nowhere", "topic=t", "target=x", "name=n" }} }}
end
function default() sent:add(1) end
"#
    ));
    let o = c.run(&[]);
    let err = stderr(&o);
    assert_eq!(code(&o), 4, "stderr: {err}");
    assert!(
        err.contains("sink must be elasticsearch, phoenix or hdfs, not 'nowhere'"),
        "{err}"
    );
    assert!(
        err.contains("/run answered"),
        "the cluster's answer is named: {err}"
    );
    let r = c.result();
    assert_eq!(r["status"], "failed");
    assert!(
        r["metrics"].get("sent").is_none(),
        "no iteration ran: {}",
        r["metrics"]
    );
    assert_eq!(
        r["metrics"]["flink.submit"]["error_count"], 1,
        "{}",
        r["metrics"]
    );
}

#[test]
fn a_submission_in_init_code_is_refused_before_anything_is_deployed() {
    require_flink();
    let c = Case::new(&format!(
        r#"
local flink = require("loadgen.flink")
local f = flink.cluster{{ url = "{FLINK}" }}
f:submit{{ jar = "missing.jar" }}
options = {{ iterations = 1, vus = 1 }}
function default() end
"#
    ));
    let o = c.run(&[]);
    let err = stderr(&o);
    assert_eq!(code(&o), 3, "stderr: {err}");
    assert!(err.contains("call it in setup()"), "{err}");
}

#[test]
fn an_unreachable_cluster_stops_the_run_with_exit_4_naming_flink_and_its_address() {
    let c = Case::new(
        r#"
local flink = require("loadgen.flink")
local f = flink.cluster{ url = "http://127.0.0.1:9", timeout = "2s" }
options = { iterations = 1, vus = 1 }
function default() end
"#,
    );
    let o = c.run(&[]);
    let err = stderr(&o);
    assert_eq!(code(&o), 4, "stderr: {err}");
    assert!(
        err.contains("flink: cannot reach http://127.0.0.1:9"),
        "{err}"
    );
}

/// The freshness probe of scripts/ingest/freshness.lua, on a row written straight to the store (no
/// Kafka, no Flink): nothing is seen before the write, the row is seen after it, once, with a freshness
/// above 0 and under the 10 s the probing may take.
fn probe_sees_a_row_written_straight_to(store: &str, write: &str) {
    let root = env!("CARGO_MANIFEST_DIR");
    let name = unique("lg_fresh").replace('-', "_");
    let c = Case::new(&format!(
        r#"
package.path = "{root}/scripts/ingest/?.lua;" .. package.path
local lg = require("loadgen")
local fr = require("freshness")
local st = fr.store("{store}", "{name}")
local probe = fr.prober(st)
{write}
options = {{ iterations = 1, vus = 1 }}
function setup() st.create() end
function default()
  local since = lg.now()
  local before = probe(since)
  assert(before and #before == 0, "a marker seen before any was written")
  write_marker(lg.now(), "mk-direct-1")
  local found
  for _ = 1, 200 do
    local new = probe(since)
    if new and #new > 0 then found = new[1]; break end
    lg.sleep(0.05)
  end
  assert(found and found.id == "mk-direct-1", "the marker written straight to the store was never seen")
  assert(#probe(since) == 0, "a marker seen twice")
  print("seen after " .. found.ms .. " ms")
end
"#
    ));
    let o = c.run(&[]);
    assert_eq!(
        code(&o),
        0,
        "stdout: {}\nstderr: {}",
        stdout(&o),
        stderr(&o)
    );
    let r = c.result();
    assert_eq!(r["metrics"]["checks"], serde_json::Value::Null);
    assert_eq!(
        r["metrics"]["iterations"]["error_count"],
        0,
        "{}",
        stdout(&o)
    );
    let f = &r["metrics"]["pipeline_freshness_ms"];
    assert_eq!(f["count"], 1, "{f}");
    let ms = f["values"]["max"].as_f64().unwrap();
    assert!(ms > 0.0 && ms < 10_000.0, "freshness {ms} ms");
    assert_eq!(
        r["metrics"]["pipeline_markers_seen"]["sum"].as_f64(),
        Some(1.0)
    );
}

#[test]
fn the_freshness_probe_sees_a_row_written_straight_to_elasticsearch() {
    require_elasticsearch();
    probe_sees_a_row_written_straight_to(
        "elasticsearch",
        r#"
local es = require("loadgen.elasticsearch")
local c = es.client{}
function write_marker(ts, id)
  local r = c:bulk(st.name, { { ts = ts, trace_id = id, host = "h", service = "s", level = "INFO", status = 200,
    latency_ms = 0, bytes = 0, message = "direct" } })
  assert(not r.err and not r.errors, tostring(r.error))
end
function teardown() c:delete_index(st.name) end
"#,
    );
}

#[test]
fn the_freshness_probe_sees_a_row_written_straight_to_phoenix() {
    common::stack::require_phoenix("protobuf");
    probe_sees_a_row_written_straight_to(
        "phoenix",
        r#"
local phoenix = require("loadgen.phoenix")
local c = phoenix.connect{ url = "http://127.0.0.1:8765", serialization = "protobuf" }
function write_marker(ts, id)
  local r = c:execute("UPSERT INTO " .. st.name .. " (TS, TRACE_ID, HOST) VALUES (?, ?, 'h')", { ts, id })
  assert(not r.err, tostring(r.error))
  assert(not c:commit().err)
end
function teardown() c:execute("DROP TABLE IF EXISTS " .. st.name) end
"#,
    );
}

#[test]
fn the_freshness_probe_sees_a_row_written_straight_to_hive_s_newest_partition() {
    common::stack::require_hive();
    common::stack::require_hdfs();
    probe_sees_a_row_written_straight_to(
        "hive",
        r#"
local hdfs = require("loadgen.hdfs")
local fs = hdfs.client{ url = "hdfs://127.0.0.1:8020" }
local hive = require("loadgen.hive")
function write_marker(ts, id)
  -- A finished file in this hour's partition, as the pipeline's file sink leaves one at a checkpoint.
  local line = table.concat({ string.format("%d", ts), "h", "s", "INFO", "200", "0", "0", id, "direct" }, "\t")
  local r = fs:write(st.partition_dir(ts) .. "/part-direct.tsv", line .. "\n")
  assert(not r.err, tostring(r.error))
end
function teardown()
  hive.connect{ host = "127.0.0.1", port = 10000 }:execute("DROP TABLE IF EXISTS " .. st.name)
  fs:delete("/loadgen/pipeline/" .. st.name, { recursive = true })
end
"#,
    );
}
