//! `loadgen run --remote-write` against a real Prometheus (Debian's `prometheus` package, 2.42),
//! started by each test on 127.0.0.1 with its remote-write receiver and a temporary folder, and
//! stopped by its PID. The load goes to the tests' own loopback HTTP server (tests/common).
//!
//! What PromQL returns after the run is compared with the result file: the operation count
//! exactly; p99 within the histogram's precision. That bound: loadgen puts each HdrHistogram
//! bucket, at its upper edge (the value the result file reports for a percentile), into the
//! exponential bucket that holds it, and `histogram_quantile` interpolates inside the bucket that
//! holds the same rank, so the two differ by less than one bucket's width: a factor
//! 2^(2^-8) (0.27 %) for native histograms (schema 8), 2^(1/4) (19 %) for classic buckets.

mod common;

use common::{code, stderr, Case};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PROMETHEUS: &str = "/usr/bin/prometheus";

/// Our own Prometheus; killed by its PID when dropped.
struct Prometheus {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    fn start(port: u16, native: bool) -> Prometheus {
        assert!(
            Path::new(PROMETHEUS).exists(),
            "{PROMETHEUS} is missing: install Debian's 'prometheus' package (scripts/setup does)"
        );
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("prometheus.yml");
        std::fs::write(&config, "global: {}\n").unwrap();
        let mut cmd = Command::new(PROMETHEUS);
        cmd.arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--web.enable-remote-write-receiver")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("log")).unwrap());
        if native {
            cmd.arg("--enable-feature=native-histograms");
        }
        let child = cmd.spawn().expect("prometheus starts");
        let p = Prometheus {
            child,
            port,
            _dir: dir,
        };
        let t0 = Instant::now();
        while get(port, "/-/ready").map(|(s, _)| s) != Some(200) {
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "prometheus on 127.0.0.1:{port} not ready in 30 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        p
    }

    fn write_url(&self) -> String {
        format!("http://127.0.0.1:{}/api/v1/write", self.port)
    }

    /// An instant query (at `time`, unix seconds, or now): the result vector.
    fn query(&self, q: &str, time: Option<f64>) -> Vec<Value> {
        let mut path = format!("/api/v1/query?query={}", encode(q));
        if let Some(t) = time {
            path.push_str(&format!("&time={t}"));
        }
        let (status, body) = get(self.port, &path).expect("prometheus answers");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(status, 200, "{q}: {body}");
        v["data"]["result"].as_array().unwrap().clone()
    }

    /// The single value of a query, as a number.
    fn value(&self, q: &str, time: Option<f64>) -> Option<f64> {
        let r = self.query(q, time);
        assert!(r.len() <= 1, "{q}: one series expected: {r:?}");
        r.first()
            .map(|s| s["value"][1].as_str().unwrap().parse().unwrap())
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A plain HTTP/1.0 GET on loopback: (status, body), None when nothing answers.
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let status = text.split(' ').nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string())?;
    Some((status, body))
}

fn encode(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A port nothing listens on now (the kernel's pick, released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

const SCRIPT: &str = r#"
local lg = require("loadgen")
local http = require("loadgen.http")
local target = lg.env("TARGET")
options = {
  scenarios = {
    default = { executor = "constant-arrival-rate", rate = 200, duration = lg.env("DURATION"),
                pre_allocated_vus = 20, max_vus = 40 },
  },
}
function default()
  -- a spread of latencies: 0 to 4 ms of server time
  http.get(target .. "/slow?ms=" .. math.random(0, 4), { tags = { name = "slow" } })
end
"#;

fn run(case: &Case, url: &str, duration: &str, extra: &[&str]) -> Value {
    let server = common::server();
    let target = format!("TARGET={}", server.url(""));
    let dur = format!("DURATION={duration}");
    let mut args = vec![
        "-e",
        &target,
        "-e",
        &dur,
        "--tag",
        "team=platform",
        "--remote-write",
        url,
        "--remote-write-interval",
        "1s",
    ];
    args.extend_from_slice(extra);
    let out = case.run(&args);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let result = case.result();
    common::assert_valid(&result);
    result
}

fn rw(result: &Value) -> &Value {
    &result["generator"]["remote_write"]
}

/// The count is exact, p99 within a native bucket (0.27 %), the labels carry the run; and pushes
/// arrived during the run, not only at its end.
#[test]
fn counts_and_p99_reach_prometheus_with_native_histograms() {
    let prom = Prometheus::start(free_port(), true);
    let case = Case::new(SCRIPT);
    let result = run(&case, &prom.write_url(), "5s", &[]);
    // The load's start, from the file (the process's own start and setup come before it).
    let t0 = humantime::parse_rfc3339(result["start"].as_str().unwrap())
        .unwrap()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let id = result["run_id"].as_str().unwrap();
    let r = rw(&result);
    assert_eq!(r["histograms"], "native", "{r}");
    assert_eq!(
        (r["pushes_failed"].as_u64(), r["final_push_ok"].as_bool()),
        (Some(0), Some(true)),
        "{r}"
    );
    assert!(
        r["pushes_sent"].as_u64().unwrap() >= 3,
        "pushes every second and a final one: {r}"
    );

    let count = result["metrics"]["http.request"]["count"].as_f64().unwrap();
    let sel = format!("{{run_id=\"{id}\"}}");
    let got = prom.value(
        &format!("sum(loadgen_http_request_operations_total{sel})"),
        None,
    );
    assert_eq!(got, Some(count));

    let p99_file = result["metrics"]["http.request"]["latency"]["p99"]
        .as_f64()
        .unwrap()
        / 1000.0;
    let q = format!("histogram_quantile(0.99, sum(loadgen_http_request_latency_seconds{sel}))");
    let p99 = prom.value(&q, None).unwrap();
    let width = 2f64.powf(1.0 / 256.0) - 1.0;
    eprintln!("native p99: prometheus {p99} s, result file {p99_file} s; {r}");
    assert!(
        (p99 - p99_file).abs() <= p99_file * width,
        "p99: prometheus {p99} s, result file {p99_file} s (bound {width})"
    );

    let series = prom.query(&format!("loadgen_http_request_operations_total{sel}"), None);
    assert_eq!(series.len(), 1, "{series:?}");
    let labels = &series[0]["metric"];
    assert_eq!(labels["run_id"], id);
    assert_eq!(labels["team"], "platform");
    assert_eq!(labels["scenario"], "default");
    assert_eq!(labels["name"], "slow");

    // Mid-run, Prometheus already had some of the requests.
    let mid = prom.value(
        &format!("sum(loadgen_http_request_operations_total{sel})"),
        Some(t0 + 4.5),
    );
    assert!(
        matches!(mid, Some(n) if n > 0.0 && n < count),
        "at t0+4.5 s: {mid:?} of {count}"
    );
    for m in [
        "loadgen_vus_busy",
        "loadgen_generator_cpu_seconds_total",
        "loadgen_iterations_total",
    ] {
        assert!(prom.value(&format!("sum({m}{sel})"), None).is_some(), "{m}");
    }
}

/// A receiver without native histograms refuses them; auto mode goes on with classic buckets,
/// whose p99 is within one classic bucket (19 %).
#[test]
fn classic_buckets_when_the_receiver_refuses_native_histograms() {
    let prom = Prometheus::start(free_port(), false);
    let case = Case::new(SCRIPT);
    let result = run(&case, &prom.write_url(), "3s", &[]);
    let id = result["run_id"].as_str().unwrap();
    let r = rw(&result);
    assert_eq!(r["histograms"], "classic", "{r}");
    assert_eq!(r["final_push_ok"], true, "{r}");
    let warnings = result["warnings"].to_string();
    assert!(warnings.contains("native histograms refused"), "{warnings}");
    let sel = format!("{{run_id=\"{id}\"}}");
    let count = result["metrics"]["http.request"]["count"].as_f64().unwrap();
    let got = prom.value(
        &format!("sum(loadgen_http_request_latency_seconds_count{sel})"),
        None,
    );
    assert!(
        got.unwrap() >= count,
        "histogram count {got:?} (censored included) vs {count}"
    );
    let p99_file = result["metrics"]["http.request"]["latency"]["p99"]
        .as_f64()
        .unwrap()
        / 1000.0;
    let q = format!(
        "histogram_quantile(0.99, sum by (le) (loadgen_http_request_latency_seconds_bucket{sel}))"
    );
    let p99 = prom.value(&q, None).unwrap();
    let width = 2f64.powf(0.25) - 1.0;
    assert!(
        (p99 - p99_file).abs() <= p99_file * width,
        "p99: prometheus {p99} s, result file {p99_file} s (bound {width})"
    );
}

/// Nothing listens at the start; Prometheus comes up 5.5 s into a 9 s run (pushes begin about
/// 3 s in, when the first complete seconds are published). The pushes before are
/// counted as failed (or dropped), the run is not slowed, and the final values are right.
#[test]
fn a_receiver_down_for_part_of_the_run_costs_pushes_not_the_result() {
    let port = free_port();
    let case = Case::new(SCRIPT);
    let url = format!("http://127.0.0.1:{port}/api/v1/write");
    let starter = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(5500));
        Prometheus::start(port, true)
    });
    let result = run(&case, &url, "9s", &[]);
    let prom = starter.join().unwrap();
    let r = rw(&result);
    eprintln!("remote write with the receiver down for a while: {r}");
    let lost = r["pushes_failed"].as_u64().unwrap() + r["pushes_dropped"].as_u64().unwrap();
    assert!(lost >= 1, "pushes lost while the receiver was down: {r}");
    assert_eq!(r["final_push_ok"], true, "{r}");
    let warnings = result["warnings"].to_string();
    assert!(
        warnings.contains("did not answer at the start"),
        "{warnings}"
    );
    assert!(
        warnings.contains(&format!("{} failed", r["pushes_failed"])),
        "{warnings}"
    );
    let id = result["run_id"].as_str().unwrap();
    let count = result["metrics"]["http.request"]["count"].as_f64().unwrap();
    let got = prom.value(
        &format!("sum(loadgen_http_request_operations_total{{run_id=\"{id}\"}})"),
        None,
    );
    assert_eq!(got, Some(count));
    // The load ran at its rate all along: every iteration due was started.
    let iterations = result["metrics"]["iterations"]["sum"].as_f64().unwrap();
    assert!(iterations >= 9.0 * 200.0 * 0.95, "{iterations} iterations");
}

/// A receiver that never answers leaves the final totals unsent: said in the result, exit 0.
#[test]
fn a_receiver_that_never_comes_says_so_in_the_result() {
    let case = Case::new(SCRIPT);
    let url = format!("http://127.0.0.1:{}/api/v1/write", free_port());
    let result = run(&case, &url, "2s", &[]);
    let r = rw(&result);
    assert_eq!(r["final_push_ok"], false, "{r}");
    assert_eq!(r["pushes_sent"], 0, "{r}");
    let warnings = result["warnings"].to_string();
    assert!(warnings.contains("the final push failed"), "{warnings}");
}

#[test]
fn a_bad_url_is_a_usage_error_naming_the_flag() {
    let case = Case::new(SCRIPT);
    for (url, says) in [
        ("ftp://127.0.0.1/x", "scheme must be http or https"),
        ("not a url", "not a URL"),
    ] {
        let out = case.run(&[
            "-e",
            "TARGET=http://127.0.0.1:9",
            "-e",
            "DURATION=1s",
            "--remote-write",
            url,
        ]);
        let err = stderr(&out);
        assert_eq!(code(&out), 2, "{url}: {err}");
        assert!(
            err.contains("--remote-write") && err.contains(says),
            "{url}: {err}"
        );
    }
}
