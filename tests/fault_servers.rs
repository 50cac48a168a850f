//! Servers that accept a connection and never answer, and servers that answer garbage (issue 16,
//! item 2); servers that die under a request, closing or resetting the connection before a byte of
//! the answer (item 1: a server gone is `connect`, except where a case says why not). For every
//! binding that talks to a server, a short run against each: the run goes on and
//! ends in bounded time, failures are counted by kind in the totals and in the per-second series, no
//! iteration outlasts its call's timeout by much, the result file is valid and nothing panics. With
//! the health check on (the default), the same servers stop the run before the load instead: exit 4,
//! a message naming the server, within the check's timeout, and a result file saying so.
//!
//! These test loadgen, not the stores: the servers are in-process fakes on 127.0.0.1:0
//! (`common::bad_server`), so no stack is needed. A binding's cases run in parallel threads.

mod common;

use common::bad_server::{
    blob, http_ok_garbage_body, huge_length_prefix, small_bad_frame, BadServer,
};
use common::*;
use serde_json::Value;
use std::time::{Duration, Instant};

/// The load of every run: 2 VUs for 3 s, each iteration one call and a 100 ms pause.
const DURATION: Duration = Duration::from_secs(3);
const PAUSE: Duration = Duration::from_millis(100);
/// Short enough for a hang past it to end the run early (an interrupted iteration, a censored
/// sample), long enough that a call's timeout never meets it.
const GRACE: Duration = Duration::from_secs(5);
/// What a run may take beyond its load and one call's timeout: start-up, teardown, the result.
const SLACK: Duration = Duration::from_secs(10);
/// What a run stopped by its health check may take beyond the check's timeout.
const CHECK_SLACK: Duration = Duration::from_secs(5);
/// How far past its call's timeout an iteration (the call and the pause) may end: room for the
/// dozen runs of this file at once on two cores (at most 0.5 s seen; 1.6 s with every test of the
/// file at once, about 40 runs). The median below is the tight bound.
const LATE: Duration = Duration::from_millis(1500);
/// How far past its timeout the median call may end: a call that waits for a later retry or a
/// periodic check (librdkafka's, once a second) ends about a second late, not a few hundred ms.
const MEDIAN_LATE: Duration = Duration::from_millis(400);

/// How a script reaches one binding. `init` makes its client and `call` is what each iteration
/// calls; in both, `$HP` is the server's `127.0.0.1:port`, `$URL` its `http://` URL, `$PORT` its
/// port, `$T` the call's timeout in seconds and `$CHECK` `healthcheck = false, ` (or nothing when
/// the health check runs).
struct Binding {
    name: &'static str,
    init: &'static str,
    call: &'static str,
    /// Where the failed calls are counted.
    metric: &'static str,
    timeout: Duration,
    /// The health check's own timeout, when the client is checked before the run (HTTP makes no
    /// client to check).
    health_check: Option<Duration>,
}

/// A server of a case: silent, answering every read with these bytes, or dying under the first
/// request (closing or resetting the connection).
#[derive(Clone, Copy)]
enum Fake {
    Silent,
    Garbage(fn() -> Vec<u8>),
    Closing,
    Resetting,
}

impl Fake {
    fn start(self) -> BadServer {
        match self {
            Fake::Silent => BadServer::silent(),
            Fake::Garbage(bytes) => BadServer::garbage(&bytes()),
            Fake::Closing => BadServer::closing(),
            Fake::Resetting => BadServer::resetting(),
        }
    }
}

/// One run against one fake: what it is called, the server, and the kind its failures must have
/// (under load; a health check fails the run instead).
struct Fault {
    mode: &'static str,
    fake: Fake,
    kind: &'static str,
}

fn fault(mode: &'static str, fake: Fake, kind: &'static str) -> Fault {
    Fault { mode, fake, kind }
}

fn fill(template: &str, b: &Binding, s: &BadServer, check: bool) -> String {
    template
        .replace("$HP", &s.host_port())
        .replace("$URL", &s.url())
        .replace("$PORT", &s.port().to_string())
        .replace("$T", &b.timeout.as_secs_f64().to_string())
        .replace("$CHECK", if check { "" } else { "healthcheck = false, " })
}

/// The load script: 2 VUs for 3 s; every call must fail with the case's kind (`-e KIND=...`), and a
/// threshold on the binding's metric makes the run exit 99, as a real run against such a server
/// would. Each VU prints its first answer.
fn load_script(b: &Binding, s: &BadServer) -> String {
    format!(
        r#"
local lg = require("loadgen")
{init}
options = {{
  scenarios = {{ faults = {{ executor = "constant-vus", vus = 2, duration = "{duration}s",
                            graceful_stop = "{grace}s" }} }},
  thresholds = {{ ["{metric}"] = {{ "error_rate < 0.01" }} }},
}}
local told = false
function default()
  local r = {call}
  if not told then
    told = true
    io.stdout:write("first answer: err=", tostring(r.err), " error=", tostring(r.error), "\n")
  end
  lg.check(r, {{ ["failed with its kind"] = function(r) return r.err == lg.env("KIND") end }})
  lg.sleep({pause})
end
"#,
        init = fill(b.init, b, s, false),
        call = fill(b.call, b, s, false),
        metric = b.metric,
        duration = DURATION.as_secs(),
        grace = GRACE.as_secs(),
        pause = PAUSE.as_secs_f64(),
    )
}

/// The same client with its health check: the run must stop before `setup()`.
fn init_script(b: &Binding, s: &BadServer) -> String {
    format!(
        r#"
local lg = require("loadgen")
{init}
options = {{ iterations = 1 }}
function setup() io.stdout:write("setup ran\n") end
function default() local r = {call} end
"#,
        init = fill(b.init, b, s, true),
        call = fill(b.call, b, s, true),
    )
}

/// `loadgen run` of the case's script (`--quiet`, its result in the case's folder), started by a
/// shell that forks it: the result's `peak_rss_bytes` (getrusage) is inherited through exec, and a
/// child spawned straight from this test process would report the test process's own peak.
fn run(case: &Case, args: &[&str]) -> std::process::Output {
    std::process::Command::new("sh")
        .args(["-c", "\"$@\"; exit $?", "sh"])
        .arg(bin())
        .arg("run")
        .arg(case.script())
        .arg("--out")
        .arg(case.out())
        .arg("--quiet")
        .args(args)
        .output()
        .unwrap()
}

/// Problems found in one run, all reported at once.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn expect(&mut self, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            self.0.push(what());
        }
    }

    /// The result file against the schema (`assert_valid`, its panic taken as a problem).
    fn valid(&mut self, r: &Value) {
        if let Err(e) = std::panic::catch_unwind(|| assert_valid(r)) {
            let why = e.downcast_ref::<String>().cloned().unwrap_or_default();
            self.0.push(why);
        }
    }
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or(0.0)
}

/// The first line of the run's output that starts with `prefix`.
fn line<'a>(text: &'a str, prefix: &str) -> &'a str {
    text.lines().find(|l| l.starts_with(prefix)).unwrap_or("")
}

/// A run under load against the case's server, with the health check off: the faults are met by
/// the iterations. Returns a one-line account of the run, or what went wrong.
fn load_case(b: &Binding, c: &Fault) -> Result<String, String> {
    let server = c.fake.start();
    let case = Case::new(&load_script(b, &server));
    let started = Instant::now();
    let o = run(&case, &["-e", &format!("KIND={}", c.kind)]);
    let elapsed = started.elapsed();
    let (out, err) = (stdout(&o), stderr(&o));
    let mut p = Problems::default();
    let bound = DURATION + b.timeout + SLACK;
    p.expect(elapsed < bound, || {
        format!("the run took {elapsed:?}, over {bound:?}")
    });
    p.expect(code(&o) == 99, || {
        format!(
            "exit code {} (99 expected: the error-rate threshold crossed)",
            code(&o)
        )
    });
    p.expect(!err.contains("panicked"), || format!("a panic: {err}"));
    p.expect(server.connections() > 0, || {
        "the server saw no connection".into()
    });
    let text = std::fs::read_to_string(case.out()).unwrap_or_default();
    let Ok(r) = serde_json::from_str::<Value>(&text) else {
        p.0.push("no result file".into());
        return Err(p.0.join("\n"));
    };
    p.valid(&r);
    p.expect(r["status"] == "completed", || {
        format!("status {}", r["status"])
    });
    let m = &r["metrics"][b.metric];
    let count = m["count"].as_u64().unwrap_or(0);
    let errors = &m["errors"];
    let of_kind = errors[c.kind].as_u64().unwrap_or(0);
    p.expect(count > 0 && of_kind == count, || {
        format!(
            "{}: count {count}, errors {errors} (every call a {} error expected)",
            b.metric, c.kind
        )
    });
    // The same failures second by second (`error_kinds`), each in the second it happened: all of
    // them, of the kind, over more than one second.
    let per_second = |f: &dyn Fn(&Value) -> u64| -> Vec<u64> {
        r["series"]
            .as_array()
            .map(|s| s.iter().map(|sec| f(&sec["metrics"][b.metric])).collect())
            .unwrap_or_default()
    };
    let seconds = per_second(&|m| m["error_kinds"][c.kind].as_u64().unwrap_or(0));
    let all = per_second(&|m| m["errors"].as_u64().unwrap_or(0));
    let in_series: u64 = seconds.iter().sum();
    let busy = seconds.iter().filter(|n| **n > 0).count();
    p.expect(in_series == of_kind && seconds == all && busy >= 2, || {
        format!(
            "per second, {} errors {seconds:?} of errors {all:?}: {in_series} of {of_kind}, in {busy} seconds",
            c.kind
        )
    });
    let checks = num(&r["metrics"]["checks"]["rate"]);
    p.expect(checks == 1.0, || {
        format!(
            "the script saw another answer than err = {} (checks rate {checks}): {}",
            c.kind,
            line(&out, "first answer")
        )
    });
    let sc = &r["scenarios"][0];
    p.expect(sc["interrupted_iterations"] == 0, || {
        format!(
            "{} iterations cut off at the graceful stop",
            sc["interrupted_iterations"]
        )
    });
    // A failed call is an answer to the script, never a raised error.
    p.expect(sc["failed_iterations"] == 0, || {
        format!(
            "{} iterations failed: {}",
            sc["failed_iterations"], r["script_errors"]
        )
    });
    let p50 = num(&m["service_time"]["p50"]);
    let most = (b.timeout + MEDIAN_LATE).as_secs_f64() * 1000.0;
    p.expect(p50 < most, || {
        format!("half the calls took {p50} ms or more (at most {most} ms)")
    });
    let iter_max = num(&r["metrics"]["iteration_duration"]["values"]["max"]);
    let limit = (b.timeout + PAUSE + LATE).as_secs_f64() * 1000.0;
    p.expect(iter_max > 0.0 && iter_max < limit, || {
        format!("the longest iteration took {iter_max} ms (at most {limit} ms)")
    });
    let rss = r["generator"]["peak_rss_bytes"].as_u64().unwrap_or(0);
    p.expect(rss < 128 << 20, || format!("peak RSS {} MiB", rss >> 20));
    let account = format!(
        "{:<12} {:<22} exit {} in {:>4.1} s; {} x {} ({} s of series); time to fail p50 {:.0} ms, max {:.0} ms; longest iteration {:.0} ms; RSS {} MiB; {}",
        b.name,
        c.mode,
        code(&o),
        elapsed.as_secs_f64(),
        of_kind,
        c.kind,
        busy,
        p50,
        num(&m["service_time"]["max"]),
        iter_max,
        rss >> 20,
        line(&out, "first answer"),
    );
    if p.0.is_empty() {
        Ok(account)
    } else {
        Err(format!(
            "{account}\n  {}\n  stderr: {err}",
            p.0.join("\n  ")
        ))
    }
}

/// The client's health check against the case's server: exit 4 before `setup()`, naming the server,
/// within the check's timeout; the result file says why.
fn init_case(b: &Binding, c: &Fault) -> Result<String, String> {
    let server = c.fake.start();
    let case = Case::new(&init_script(b, &server));
    let started = Instant::now();
    let o = run(&case, &[]);
    let elapsed = started.elapsed();
    let (out, err) = (stdout(&o), stderr(&o));
    let mut p = Problems::default();
    let within = b.health_check.unwrap_or_default() + CHECK_SLACK;
    p.expect(elapsed < within, || {
        format!("the check took {elapsed:?}, over {within:?}")
    });
    p.expect(code(&o) == 4, || {
        format!("exit code {} (4 expected)", code(&o))
    });
    p.expect(!out.contains("setup ran"), || "setup() ran".into());
    p.expect(!err.contains("panicked"), || format!("a panic: {err}"));
    p.expect(err.contains(&server.host_port()), || {
        format!("the message does not name {}", server.host_port())
    });
    let text = std::fs::read_to_string(case.out()).unwrap_or_default();
    let failure = match serde_json::from_str::<Value>(&text) {
        Ok(r) => {
            p.valid(&r);
            p.expect(r["status"] == "failed" && r["exit_code"] == 4, || {
                format!("status {}, exit_code {}", r["status"], r["exit_code"])
            });
            let f = r["failure"].as_str().unwrap_or("").to_string();
            p.expect(f.contains(&server.host_port()), || {
                format!(
                    "the result's failure does not name {}: {f}",
                    server.host_port()
                )
            });
            f
        }
        Err(_) => {
            p.0.push("no result file".into());
            String::new()
        }
    };
    let account = format!(
        "{:<12} {:<22} health check: exit {} in {:>4.1} s: {failure}",
        b.name,
        c.mode,
        code(&o),
        elapsed.as_secs_f64(),
    );
    if p.0.is_empty() {
        Ok(account)
    } else {
        Err(format!(
            "{account}\n  {}\n  stderr: {err}",
            p.0.join("\n  ")
        ))
    }
}

/// Runs every case of a binding in parallel, under load and (for a checked client) at its health
/// check, and fails with every problem of every case.
fn against(b: &Binding, load: &[Fault], init: &[Fault]) {
    let accounts: Vec<Result<String, String>> = std::thread::scope(|s| {
        let mut runs = Vec::new();
        for c in load {
            runs.push(s.spawn(move || load_case(b, c)));
        }
        if b.health_check.is_some() {
            for c in init {
                runs.push(s.spawn(move || init_case(b, c)));
            }
        }
        runs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for a in &accounts {
        match a {
            Ok(line) => println!("{line}"),
            Err(text) => println!("FAILED {text}"),
        }
    }
    let failed: Vec<&String> = accounts.iter().filter_map(|a| a.as_ref().err()).collect();
    assert!(
        failed.is_empty(),
        "{} case(s) failed:\n{}",
        failed.len(),
        failed
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Accepts, reads, never writes.
const SILENT: Fake = Fake::Silent;
/// 1 KiB of pseudo-random bytes for every read.
const BLOB: Fake = Fake::Garbage(blob);
/// A well-formed HTTP answer (200) whose body is the same pseudo-random bytes.
const HTTP_OK: Fake = Fake::Garbage(http_ok_garbage_body);
/// A 4-byte length of almost 64 MiB, and nothing after it.
const HUGE_LENGTH: Fake = Fake::Garbage(huge_length_prefix);
/// A 16-byte frame whose bytes decode as nothing.
const BAD_FRAME: Fake = Fake::Garbage(small_bad_frame);
/// An HTTP answer announcing a body of 1 TiB and sending none of it.
const HUGE_BODY: Fake = Fake::Garbage(huge_content_length);
/// Reads the request, then closes the connection without a byte (FIN): a server that died.
const CLOSES: Fake = Fake::Closing;
/// Reads a byte of the request, then closes with the rest unread (RST).
const RESETS: Fake = Fake::Resetting;

fn huge_content_length() -> Vec<u8> {
    b"HTTP/1.1 200 OK\r\ncontent-length: 1099511627776\r\n\r\n".to_vec()
}

/// The servers each checked client meets at its health check (which stops the run: no kind).
const AT_HEALTH_CHECK: &[Fault] = &[
    Fault {
        mode: "silent",
        fake: SILENT,
        kind: "",
    },
    Fault {
        mode: "garbage",
        fake: BLOB,
        kind: "",
    },
];

#[test]
fn http_against_servers_that_never_answer_or_answer_garbage() {
    let b = Binding {
        name: "http",
        init: r#"local http = require("loadgen.http")"#,
        call: r#"http.get("$URL/x", { timeout = "$Ts" })"#,
        metric: "http.request",
        timeout: Duration::from_secs(1),
        health_check: None,
    };
    against(
        &b,
        &[
            fault("silent", SILENT, "timeout"),
            fault("garbage", BLOB, "protocol"),
            fault("closes", CLOSES, "connect"),
            fault("resets", RESETS, "connect"),
            fault("1 TiB content-length", HUGE_BODY, "timeout"),
        ],
        &[],
    );
}

#[test]
fn elasticsearch_against_servers_that_never_answer_or_answer_garbage() {
    let b = Binding {
        name: "es",
        init: r#"local es = require("loadgen.elasticsearch")
local c = es.client{ $CHECKurl = "$URL", timeout = "$Ts" }"#,
        call: r#"c:count("faults")"#,
        metric: "es.count",
        timeout: Duration::from_secs(1),
        health_check: Some(Duration::from_secs(1)),
    };
    against(
        &b,
        &[
            fault("silent", SILENT, "timeout"),
            fault("garbage", BLOB, "protocol"),
            fault("closes", CLOSES, "connect"),
            fault("resets", RESETS, "connect"),
            fault("200, body not JSON", HTTP_OK, "protocol"),
            fault("1 TiB content-length", HUGE_BODY, "timeout"),
        ],
        AT_HEALTH_CHECK,
    );
}

#[test]
fn hive_against_servers_that_never_answer_or_answer_garbage() {
    let b = Binding {
        name: "hive",
        init: r#"local hive = require("loadgen.hive")
local h = hive.connect{ $CHECKhost = "127.0.0.1", port = $PORT, timeout = "$Ts" }"#,
        call: r#"h:query("SELECT 1")"#,
        metric: "hive.query",
        timeout: Duration::from_secs(1),
        health_check: Some(Duration::from_secs(1)),
    };
    against(
        &b,
        &[
            fault("silent", SILENT, "timeout"),
            fault("garbage", BLOB, "protocol"),
            // An end of stream in the SASL handshake reads as a transport or auth mismatch
            // (hive/transport.rs: "is it a binary port, does it use nosasl?"): protocol, where
            // the other bindings count a server gone before answering as connect.
            fault("closes", CLOSES, "protocol"),
            fault("resets", RESETS, "connect"),
            fault("HTTP answer", HTTP_OK, "protocol"),
            fault("huge length", HUGE_LENGTH, "timeout"),
        ],
        AT_HEALTH_CHECK,
    );
}

#[test]
fn hive_without_sasl_against_servers_that_never_answer_or_answer_garbage() {
    let b = Binding {
        name: "hive nosasl",
        init: r#"local hive = require("loadgen.hive")
local h = hive.connect{ $CHECKhost = "127.0.0.1", port = $PORT, auth = "nosasl", timeout = "$Ts" }"#,
        call: r#"h:query("SELECT 1")"#,
        metric: "hive.query",
        timeout: Duration::from_secs(1),
        health_check: Some(Duration::from_secs(1)),
    };
    against(
        &b,
        &[
            fault("silent", SILENT, "timeout"),
            fault("garbage", BLOB, "protocol"),
            // An end of stream before the first answer reads as a server that wants SASL
            // (hive/transport.rs): protocol, where the other bindings count connect.
            fault("closes", CLOSES, "protocol"),
            fault("resets", RESETS, "connect"),
            fault("HTTP answer", HTTP_OK, "protocol"),
        ],
        &[],
    );
}

#[test]
fn hive_over_http_against_servers_that_never_answer_or_answer_garbage() {
    let b = Binding {
        name: "hive http",
        init: r#"local hive = require("loadgen.hive")
local h = hive.connect{ $CHECKhost = "127.0.0.1", port = $PORT, transport = "http", timeout = "$Ts" }"#,
        call: r#"h:query("SELECT 1")"#,
        metric: "hive.query",
        timeout: Duration::from_secs(1),
        health_check: Some(Duration::from_secs(1)),
    };
    against(
        &b,
        &[
            fault("silent", SILENT, "timeout"),
            fault("garbage", BLOB, "protocol"),
            // hyper's "connection closed before message completed" cannot be told from other
            // protocol errors through reqwest (bindings::reqwest_kind): protocol; a reset is connect.
            fault("closes", CLOSES, "protocol"),
            fault("resets", RESETS, "connect"),
            fault("200, body not Thrift", HTTP_OK, "protocol"),
            fault("1 TiB content-length", HUGE_BODY, "timeout"),
        ],
        AT_HEALTH_CHECK,
    );
}

fn phoenix(serialization: &'static str, name: &'static str) -> Binding {
    Binding {
        name,
        init: if serialization == "json" {
            r#"local phoenix = require("loadgen.phoenix")
local c = phoenix.connect{ $CHECKurl = "$URL", serialization = "json", timeout = "$Ts" }"#
        } else {
            r#"local phoenix = require("loadgen.phoenix")
local c = phoenix.connect{ $CHECKurl = "$URL", serialization = "protobuf", timeout = "$Ts" }"#
        },
        call: r#"c:query("SELECT 1")"#,
        // The connection is opened by the first statement; a failure to open it is counted there.
        metric: "phoenix.connect",
        timeout: Duration::from_secs(1),
        health_check: Some(Duration::from_secs(1)),
    }
}

#[test]
fn phoenix_protobuf_against_servers_that_never_answer_or_answer_garbage() {
    against(
        &phoenix("protobuf", "phoenix pb"),
        &[
            fault("silent", SILENT, "timeout"),
            fault("garbage", BLOB, "protocol"),
            // hyper's "connection closed before message completed" cannot be told from other
            // protocol errors through reqwest (bindings::reqwest_kind): protocol; a reset is connect.
            fault("closes", CLOSES, "protocol"),
            fault("resets", RESETS, "connect"),
            fault("200, body not Avatica", HTTP_OK, "protocol"),
            fault("1 TiB content-length", HUGE_BODY, "timeout"),
        ],
        AT_HEALTH_CHECK,
    );
}

#[test]
fn phoenix_json_against_servers_that_never_answer_or_answer_garbage() {
    against(
        &phoenix("json", "phoenix json"),
        &[
            fault("silent", SILENT, "timeout"),
            fault("garbage", BLOB, "protocol"),
            // hyper's "connection closed before message completed" cannot be told from other
            // protocol errors through reqwest (bindings::reqwest_kind): protocol; a reset is connect.
            fault("closes", CLOSES, "protocol"),
            fault("resets", RESETS, "connect"),
            fault("200, body not Avatica", HTTP_OK, "protocol"),
            fault("1 TiB content-length", HUGE_BODY, "timeout"),
        ],
        AT_HEALTH_CHECK,
    );
}

#[test]
fn hdfs_against_namenodes_that_never_answer_or_answer_garbage() {
    // Writes go through loadgen's own write path (Hadoop RPC to the NameNode); the health check
    // through hdfs-native.
    let b = Binding {
        name: "hdfs",
        init: r#"local hdfs = require("loadgen.hdfs")
local c = hdfs.client{ $CHECKurl = "hdfs://$HP", user = "loadgen", timeout = "$Ts" }"#,
        call: r#"c:write("/faults/f-" .. lg.vu() .. "-" .. lg.iteration(), "some bytes")"#,
        metric: "hdfs.write",
        timeout: Duration::from_secs(1),
        health_check: Some(Duration::from_secs(1)),
    };
    against(
        &b,
        &[
            fault("silent", SILENT, "timeout"),
            fault("garbage", BLOB, "protocol"),
            fault("closes", CLOSES, "connect"),
            fault("resets", RESETS, "connect"),
            fault("HTTP answer", HTTP_OK, "protocol"),
            fault("huge length", HUGE_LENGTH, "timeout"),
            fault("bad 16-byte frame", BAD_FRAME, "protocol"),
        ],
        AT_HEALTH_CHECK,
    );
}

#[test]
fn flink_against_servers_that_never_answer_or_answer_garbage() {
    let b = Binding {
        name: "flink",
        init: r#"local flink = require("loadgen.flink")
local f = flink.cluster{ $CHECKurl = "$URL", timeout = "$Ts" }"#,
        call: r#"f:jobs()"#,
        metric: "flink.job",
        timeout: Duration::from_secs(1),
        health_check: Some(Duration::from_secs(1)),
    };
    against(
        &b,
        &[
            fault("silent", SILENT, "timeout"),
            fault("garbage", BLOB, "protocol"),
            fault("closes", CLOSES, "connect"),
            fault("resets", RESETS, "connect"),
            fault("200, body not JSON", HTTP_OK, "protocol"),
            fault("1 TiB content-length", HUGE_BODY, "timeout"),
        ],
        AT_HEALTH_CHECK,
    );
}

#[test]
fn kafka_against_brokers_that_never_answer_or_answer_garbage() {
    // The producer's `timeout` is librdkafka's message.timeout.ms: a record not delivered by then
    // fails. librdkafka keeps trying the broker meanwhile, and looks for timed-out records once a
    // second; the send still ends at its timeout (loadgen stops waiting then). A broker whose
    // answers librdkafka cannot read ("Invalid response size", a `BadMessage` error) makes it a
    // protocol error, not a connect error.
    let b = Binding {
        name: "kafka",
        init: r#"local kafka = require("loadgen.kafka")
local p = kafka.producer{ $CHECKbrokers = "$HP", timeout = "$Ts" }"#,
        call: r#"p:send{ topic = "faults", value = "v" }"#,
        metric: "kafka.produce",
        timeout: Duration::from_secs(1),
        // (Kafka's health check waits 10 s, whatever the producer's timeout.)
        health_check: Some(Duration::from_secs(10)),
    };
    against(
        &b,
        &[
            fault("silent", SILENT, "timeout"),
            fault("garbage", BLOB, "protocol"),
            fault("closes", CLOSES, "connect"),
            fault("resets", RESETS, "connect"),
            fault("HTTP answer", HTTP_OK, "protocol"),
            // A length under receive.message.max.bytes, and nothing after it: librdkafka waits
            // for the rest, and the record times out.
            fault("huge length", HUGE_LENGTH, "timeout"),
            // Read whole, then dropped as the answer to no request (its correlation id is
            // unknown): the record times out.
            fault("bad 16-byte frame", BAD_FRAME, "timeout"),
        ],
        AT_HEALTH_CHECK,
    );
}

#[test]
fn hdfs_native_calls_against_namenodes_that_never_answer_or_answer_garbage() {
    // Everything but loadgen's own writes goes through hdfs-native: a listing here. hdfs-native
    // 0.14 does not tell garbage from a lost connection, so neither can loadgen: a frame whose
    // length claims more than ever comes is waited for until the call's timeout, and a frame that
    // does not decode ends its connection's listener, which fails the call as a lost connection
    // ("RPC listener disconnected"). Bounded either way; the kinds are hdfs-native's.
    let b = Binding {
        name: "hdfs list",
        init: r#"local hdfs = require("loadgen.hdfs")
local c = hdfs.client{ $CHECKurl = "hdfs://$HP", user = "loadgen", timeout = "$Ts" }"#,
        call: r#"c:list("/")"#,
        metric: "hdfs.list",
        timeout: Duration::from_secs(1),
        health_check: None,
    };
    against(
        &b,
        &[
            fault("silent", SILENT, "timeout"),
            fault("garbage", BLOB, "timeout"),
            fault("closes", CLOSES, "connect"),
            fault("resets", RESETS, "connect"),
            fault("HTTP answer", HTTP_OK, "timeout"),
            fault("bad 16-byte frame", BAD_FRAME, "connect"),
        ],
        &[],
    );
}
