//! Flink's REST API (the JobManager's, port 8081 in the stack): upload a job jar, run it, read a job's
//! state and metrics, cancel it. Plain Rust, no Lua; requests go through the HTTP binding's client.

use crate::bindings::http::client::{send, Request, Response};
use crate::metrics::recorder::Units;
use crate::metrics::{ErrorKind, OpError};
use serde_json::{json, Value};
use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The REST endpoint, e.g. `http://127.0.0.1:8081` (no trailing slash).
    pub url: String,
    pub timeout: Duration,
}

impl Settings {
    pub fn new(url: &str, timeout: Duration) -> Result<Settings, String> {
        let url = url.trim_end_matches('/').to_string();
        reqwest::Url::parse(&url).map_err(|e| format!("flink: bad url '{url}': {e}"))?;
        Ok(Settings { url, timeout })
    }
}

/// What to run: the jar on the submitting machine, its entry class (the jar's manifest when `None`),
/// program arguments and parallelism (the cluster's default when `None`).
#[derive(Debug, Clone, Default)]
pub struct RunSpec {
    pub entry_class: Option<String>,
    pub args: Vec<String>,
    pub parallelism: Option<u32>,
}

/// Flink's error answer is `{"errors": ["...", "<stack trace>"]}`. What a person needs is each error's
/// first line and its deepest cause (the job's own exception, under the REST handler's wrappers).
fn flink_errors(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let Ok(j) = serde_json::from_str::<Value>(&text) else {
        return text.chars().take(300).collect();
    };
    let mut lines: Vec<String> = Vec::new();
    for e in j["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if let Some(first) = e
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with("at "))
        {
            lines.push(first.to_string());
        }
        if let Some(cause) = e
            .lines()
            .map(str::trim)
            .rfind(|l| l.starts_with("Caused by:"))
        {
            lines.push(cause.to_string());
        }
    }
    lines.dedup();
    if lines.is_empty() {
        text.chars().take(300).collect()
    } else {
        lines.join(" | ").chars().take(800).collect()
    }
}

async fn call(
    s: &Settings,
    method: reqwest::Method,
    path: &str,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    what: &str,
) -> (Result<Value, OpError>, Units) {
    let url = format!("{}{path}", s.url);
    let (r, units) = send(Request {
        method: method.clone(),
        url: url.clone(),
        headers,
        body,
        timeout: s.timeout,
    })
    .await;
    let r = r.and_then(|Response { status, body, .. }| {
        if !(200..300).contains(&status) {
            // (a redirect, which Flink's REST API does not send, would count as a protocol error)
            let kind =
                crate::bindings::http::client::status_error(status).unwrap_or(ErrorKind::Protocol);
            return Err(OpError::new(
                kind,
                format!(
                    "flink {what}: {method} {url} answered {status}: {}",
                    flink_errors(&body)
                ),
            ));
        }
        if body.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&body).map_err(|e| {
            OpError::new(
                ErrorKind::Protocol,
                format!("flink {what}: {method} {url}: the answer is not JSON: {e}"),
            )
        })
    });
    let r = r.map_err(|mut e| {
        if !e.message.starts_with("flink") {
            e.message = format!("flink {what} at {}: {}", s.url, e.message);
        }
        e
    });
    (r, units)
}

pub async fn get(s: &Settings, path: &str, what: &str) -> (Result<Value, OpError>, Units) {
    call(s, reqwest::Method::GET, path, vec![], None, what).await
}

/// The cluster answers `/overview` with at least one TaskManager. Runs on a runtime and a client of its
/// own (the worker threads' pooled client must not keep a connection made on this runtime).
pub fn healthcheck(s: &Settings) -> Result<(), String> {
    let fail = |m: String| format!("flink: cannot reach {}: {m}", s.url);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| fail(e.to_string()))?;
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(s.timeout)
        .build()
        .map_err(|e| fail(e.to_string()))?;
    let url = format!("{}/overview", s.url);
    let j: Value = rt.block_on(async {
        let r = client
            .get(&url)
            .send()
            .await
            .map_err(|e| fail(crate::bindings::error_chain(&e)))?;
        let status = r.status().as_u16();
        let body = r
            .bytes()
            .await
            .map_err(|e| fail(crate::bindings::error_chain(&e)))?;
        if status != 200 {
            return Err(fail(format!(
                "GET {url} answered {status}: {}",
                flink_errors(&body)
            )));
        }
        serde_json::from_slice(&body).map_err(|e| fail(format!("GET {url}: not JSON: {e}")))
    })?;
    if j["taskmanagers"].as_u64().unwrap_or(0) == 0 {
        return Err(fail(format!(
            "the cluster has no TaskManager (GET {url}: {j})"
        )));
    }
    Ok(())
}

/// A multipart/form-data body with one file field, `jarfile`, as `/jars/upload` expects.
fn multipart(file_name: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    // Unique enough: a jar that contains this line by chance would only have to contain the time too.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let boundary = format!("loadgen-{nanos:x}-{}", std::process::id());
    let mut body = Vec::with_capacity(bytes.len() + 256);
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"jarfile\"; filename=\"{}\"\r\n\
             Content-Type: application/x-java-archive\r\n\r\n",
            file_name.replace('"', "_")
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Uploads a jar; its id on the cluster (the stored file's name).
pub async fn upload(s: &Settings, jar: &std::path::Path) -> (Result<String, OpError>, Units) {
    let bytes = match std::fs::read(jar) {
        Ok(b) => b,
        Err(e) => {
            return (
                Err(OpError::new(
                    ErrorKind::Client,
                    format!("flink upload: cannot read the jar {}: {e}", jar.display()),
                )),
                Units::none(),
            )
        }
    };
    let name = jar
        .file_name()
        .map_or("job.jar".into(), |n| n.to_string_lossy().into_owned());
    let (ctype, body) = multipart(&name, &bytes);
    let headers = vec![("Content-Type".to_string(), ctype)];
    let (r, units) = call(
        s,
        reqwest::Method::POST,
        "/jars/upload",
        headers,
        Some(body),
        "upload",
    )
    .await;
    let r = r.and_then(|j| {
        j["filename"]
            .as_str()
            .and_then(|f| f.rsplit('/').next())
            .map(str::to_string)
            .ok_or_else(|| {
                OpError::new(
                    ErrorKind::Protocol,
                    format!("flink upload: no filename in {j}"),
                )
            })
    });
    (r, units)
}

/// Runs an uploaded jar; the job's id.
pub async fn run(s: &Settings, jar_id: &str, spec: &RunSpec) -> (Result<String, OpError>, Units) {
    let mut body = json!({ "programArgsList": spec.args });
    if let Some(c) = &spec.entry_class {
        body["entryClass"] = json!(c);
    }
    if let Some(p) = spec.parallelism {
        body["parallelism"] = json!(p);
    }
    let headers = vec![("Content-Type".to_string(), "application/json".to_string())];
    let path = format!("/jars/{jar_id}/run");
    let (r, units) = call(
        s,
        reqwest::Method::POST,
        &path,
        headers,
        Some(body.to_string().into_bytes()),
        "run",
    )
    .await;
    let r = r.and_then(|j| {
        j["jobid"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| OpError::new(ErrorKind::Protocol, format!("flink run: no jobid in {j}")))
    });
    (r, units)
}

pub async fn delete_jar(s: &Settings, jar_id: &str) -> (Result<Value, OpError>, Units) {
    call(
        s,
        reqwest::Method::DELETE,
        &format!("/jars/{jar_id}"),
        vec![],
        None,
        "delete jar",
    )
    .await
}

pub async fn cancel(s: &Settings, job: &str) -> (Result<Value, OpError>, Units) {
    call(
        s,
        reqwest::Method::PATCH,
        &format!("/jobs/{job}?mode=cancel"),
        vec![],
        None,
        "cancel",
    )
    .await
}

/// One operator chain (a job vertex) of a running job.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Vertex {
    pub id: String,
    pub name: String,
    pub status: String,
    pub parallelism: u64,
    pub records_in: u64,
    pub records_out: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Milliseconds per second the busiest subtask was back-pressured / busy (Flink's own task
    /// metrics, 0-1000); `None` when the cluster has no value yet.
    pub backpressured_ms_per_s: Option<f64>,
    pub busy_ms_per_s: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Checkpoints {
    pub completed: u64,
    pub failed: u64,
    pub in_progress: u64,
    /// The latest completed checkpoint's end-to-end duration and size.
    pub last_duration_ms: Option<f64>,
    pub last_size_bytes: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Job {
    pub id: String,
    pub name: String,
    pub state: String,
    pub vertices: Vec<Vertex>,
    pub checkpoints: Option<Checkpoints>,
}

/// `/jobs/:id` read into a [`Job`] (vertices with their record and byte counts).
pub fn parse_job(j: &Value) -> Job {
    let vertices = j["vertices"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|v| Vertex {
                    id: v["id"].as_str().unwrap_or_default().to_string(),
                    name: v["name"].as_str().unwrap_or_default().to_string(),
                    status: v["status"].as_str().unwrap_or_default().to_string(),
                    parallelism: v["parallelism"].as_u64().unwrap_or(0),
                    records_in: v["metrics"]["read-records"].as_u64().unwrap_or(0),
                    records_out: v["metrics"]["write-records"].as_u64().unwrap_or(0),
                    bytes_in: v["metrics"]["read-bytes"].as_u64().unwrap_or(0),
                    bytes_out: v["metrics"]["write-bytes"].as_u64().unwrap_or(0),
                    backpressured_ms_per_s: None,
                    busy_ms_per_s: None,
                })
                .collect()
        })
        .unwrap_or_default();
    Job {
        id: j["jid"].as_str().unwrap_or_default().to_string(),
        name: j["name"].as_str().unwrap_or_default().to_string(),
        state: j["state"].as_str().unwrap_or_default().to_string(),
        vertices,
        checkpoints: None,
    }
}

/// `/jobs/:id/checkpoints` read into [`Checkpoints`].
pub fn parse_checkpoints(j: &Value) -> Checkpoints {
    let last = &j["latest"]["completed"];
    Checkpoints {
        completed: j["counts"]["completed"].as_u64().unwrap_or(0),
        failed: j["counts"]["failed"].as_u64().unwrap_or(0),
        in_progress: j["counts"]["in_progress"].as_u64().unwrap_or(0),
        last_duration_ms: last["end_to_end_duration"].as_f64(),
        last_size_bytes: last["checkpointed_size"]
            .as_u64()
            .or_else(|| last["state_size"].as_u64()),
    }
}

/// `?get=a,b&agg=max` on a vertex's subtasks: `[{"id": "a", "max": 12.0}, ...]`.
fn parse_agg(j: &Value, id: &str) -> Option<f64> {
    j.as_array()?
        .iter()
        .find(|m| m["id"].as_str() == Some(id))
        .and_then(|m| m["max"].as_f64())
}

/// The job, and with `detail` its checkpoints and each vertex's back-pressure and busy time (one
/// more request per vertex).
pub async fn job(s: &Settings, id: &str, detail: bool) -> (Result<Job, OpError>, Units) {
    let (r, mut units) = get(s, &format!("/jobs/{id}"), "job").await;
    let mut job = match r {
        Ok(j) => parse_job(&j),
        Err(e) => return (Err(e), units),
    };
    if !detail {
        return (Ok(job), units);
    }
    let (r, u) = get(s, &format!("/jobs/{id}/checkpoints"), "checkpoints").await;
    units.merge(&u);
    // A job without checkpointing answers with an error here; that is "no checkpoints", not a failure.
    job.checkpoints = r.ok().map(|j| parse_checkpoints(&j));
    for v in &mut job.vertices {
        let path = format!(
            "/jobs/{id}/vertices/{}/subtasks/metrics?get=backPressuredTimeMsPerSecond,busyTimeMsPerSecond&agg=max",
            v.id
        );
        let (r, u) = get(s, &path, "vertex metrics").await;
        units.merge(&u);
        if let Ok(j) = r {
            v.backpressured_ms_per_s = parse_agg(&j, "backPressuredTimeMsPerSecond");
            v.busy_ms_per_s = parse_agg(&j, "busyTimeMsPerSecond");
        }
    }
    (Ok(job), units)
}

/// The cluster's jobs: (id, state).
pub async fn jobs(s: &Settings) -> (Result<Vec<(String, String)>, OpError>, Units) {
    let (r, units) = get(s, "/jobs", "jobs").await;
    let r = r.map(|j| {
        j["jobs"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|x| {
                        (
                            x["id"].as_str().unwrap_or_default().to_string(),
                            x["status"].as_str().unwrap_or_default().to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    });
    (r, units)
}

/// A job state after which the job will not run again.
pub fn is_terminal(state: &str) -> bool {
    matches!(state, "FINISHED" | "FAILED" | "CANCELED" | "SUSPENDED")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_answer_is_read_into_vertices_with_their_counts() {
        let j = json!({"jid": "j1", "name": "p", "state": "RUNNING", "vertices": [
            {"id": "v1", "name": "Source: kafka", "status": "RUNNING", "parallelism": 2,
             "metrics": {"read-records": 0, "write-records": 120, "read-bytes": 0, "write-bytes": 9000}},
            {"id": "v2", "name": "sink", "status": "RUNNING", "parallelism": 1,
             "metrics": {"read-records": 118, "write-records": 0}}]});
        let job = parse_job(&j);
        assert_eq!(job.state, "RUNNING");
        assert_eq!(job.vertices.len(), 2);
        assert_eq!(job.vertices[0].records_out, 120);
        assert_eq!(job.vertices[0].bytes_out, 9000);
        assert_eq!(job.vertices[1].records_in, 118);
        assert_eq!(job.vertices[1].parallelism, 1);
    }

    #[test]
    fn checkpoints_and_subtask_aggregates_are_read() {
        let c = parse_checkpoints(
            &json!({"counts": {"completed": 7, "failed": 1, "in_progress": 0},
            "latest": {"completed": {"end_to_end_duration": 42, "checkpointed_size": 1234}}}),
        );
        assert_eq!(
            (c.completed, c.failed, c.last_duration_ms, c.last_size_bytes),
            (7, 1, Some(42.0), Some(1234))
        );
        let a = json!([{"id": "busyTimeMsPerSecond", "max": 310.0}, {"id": "backPressuredTimeMsPerSecond", "max": 0.0}]);
        assert_eq!(parse_agg(&a, "busyTimeMsPerSecond"), Some(310.0));
        assert_eq!(parse_agg(&a, "idleTimeMsPerSecond"), None);
    }

    #[test]
    fn flink_error_answers_keep_the_first_lines_of_each_error() {
        let body = br#"{"errors":["org.apache.flink.runtime.rest.handler.RestHandlerException: Could not execute application.\n\tat org.apache.x(X.java:1)\nCaused by: a.Wrapper: Could not execute application.\n\tat b(B.java:2)\nCaused by: java.lang.IllegalArgumentException: missing argument sink=...\n\tat Pipeline.need(Pipeline.java:9)"]}"#;
        let m = flink_errors(body);
        assert!(m.contains("Could not execute application"), "{m}");
        assert!(m.contains("missing argument sink="), "{m}");
        assert!(!m.contains("X.java"), "{m}");
        assert_eq!(flink_errors(b"<html>busy</html>"), "<html>busy</html>");
    }

    #[test]
    fn a_jar_goes_in_one_multipart_field_named_jarfile() {
        let (ctype, body) = multipart("job.jar", b"PK\x03\x04");
        let boundary = ctype.split("boundary=").nth(1).unwrap();
        let text = String::from_utf8_lossy(&body);
        assert!(text.starts_with(&format!("--{boundary}\r\n")));
        assert!(text.contains("name=\"jarfile\"; filename=\"job.jar\""));
        assert!(text.ends_with(&format!("\r\n--{boundary}--\r\n")));
    }
}
