//! End-to-end: the real binary runs real scripts against a real HTTP server on 127.0.0.1.

mod common;

use common::*;
use std::process::Command;
use std::time::{Duration, Instant};

fn metric<'a>(r: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    &r["metrics"][name]
}

#[test]
fn constant_vus_run_counts_every_request_and_writes_a_valid_result() {
    let srv = server();
    let case = Case::new(&format!(
        r#"
local lg = require("loadgen")
local http = require("loadgen.http")
options = {{ vus = 4, duration = "1s", thresholds = {{ ["http.request"] = {{ "p(95) < 2s", "error_rate == 0" }} }} }}
function default()
  local r = http.get("{}")
  lg.check(r, {{ ["is 200"] = function(r) return r.status == 200 end }})
end
"#,
        srv.url("/")
    ));
    let o = case.run(&[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let r = case.result();
    assert_valid(&r);
    assert_eq!(r["status"], "completed");
    let count = metric(&r, "http.request")["count"].as_u64().unwrap();
    assert!(count > 0);
    assert_eq!(
        count,
        srv.hits(),
        "every request the server saw is counted, no more"
    );
    assert_eq!(
        metric(&r, "iterations")["sum"].as_f64().unwrap() as u64,
        count
    );
    assert_eq!(metric(&r, "checks")["rate"].as_f64().unwrap(), 1.0);
    assert_eq!(
        metric(&r, "http.request")["units"]["bytes"]
            .as_u64()
            .unwrap(),
        5 * count
    );
    assert!(r["thresholds"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["ok"] == true));
    // The per-second series adds up to the total.
    let series_sum: u64 = r["series"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["metrics"]["http.request"]["count"].as_u64())
        .sum();
    assert_eq!(series_sum, count);
    assert!(stdout(&o).contains("http.request"));
}

#[test]
fn crossed_threshold_exits_99_and_says_which() {
    let srv = server();
    let case = Case::new(&format!(
        r#"
local http = require("loadgen.http")
options = {{ iterations = 5, thresholds = {{ ["http.request{{name:slow}}"] = {{ "p(50) < 1ms" }} }} }}
function default() http.get("{}", {{ name = "slow" }}) end
"#,
        srv.url("/slow?ms=20")
    ));
    let o = case.run(&[]);
    assert_eq!(code(&o), 99, "{}", stderr(&o));
    let r = case.result();
    assert_valid(&r);
    assert_eq!(r["exit_code"], 99);
    let t = &r["thresholds"][0];
    assert_eq!(t["metric"], "http.request{name:slow}");
    assert_eq!(t["ok"], false);
    assert!(t["observed"].as_f64().unwrap() >= 20.0);
    assert!(stdout(&o).contains("FAIL http.request{name:slow} p(50) < 1ms"));
}

#[test]
fn syntax_error_names_file_line_and_phase_and_sends_nothing() {
    let srv = server();
    let case = Case::new(&format!(
        "local http = require('loadgen.http')\nhttp.get('{}')\nfunction default(\n",
        srv.url("/")
    ));
    let o = case.run(&[]);
    assert_eq!(code(&o), 3);
    let e = stderr(&o);
    assert!(e.contains("script error in init"), "{e}");
    assert!(e.contains("script.lua:"), "{e}");
    assert_eq!(srv.hits(), 0);
}

#[test]
fn runtime_error_in_init_names_the_line() {
    let case = Case::new("local x = nil\nlocal y = x.field\nfunction default() end\n");
    let o = case.run(&[]);
    assert_eq!(code(&o), 3);
    let e = stderr(&o);
    assert!(e.contains("script.lua:2:"), "{e}");
    assert!(e.contains("init"), "{e}");
}

#[test]
fn setup_error_fails_before_load_and_still_writes_the_result() {
    let srv = server();
    let case = Case::new(&format!(
        r#"
local lg = require("loadgen")
local http = require("loadgen.http")
options = {{ vus = 2, duration = "1s" }}
function setup()
  lg.check(1, {{ ["setup ran"] = function() return true end }})
  error("no fixtures")
end
function default() http.get("{}") end
"#,
        srv.url("/")
    ));
    let o = case.run(&[]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    // No load ran: nothing is reported per second over the near-zero load time (it printed
    // millions a second, and the generator's CPU as a million per cent of the machine).
    let r = case.result();
    assert_eq!(metric(&r, "checks")["count"], 1);
    assert_eq!(metric(&r, "checks")["throughput"], 0.0, "{}", stdout(&o));
    assert!(
        r["generator"]["cpu_share"].as_f64().unwrap() <= 1.0,
        "{}",
        r["generator"]
    );
    assert!(
        stderr(&o).contains("script error in setup"),
        "{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("script.lua:7: no fixtures"),
        "{}",
        stderr(&o)
    );
    assert!(!stderr(&o).contains("stack traceback"), "{}", stderr(&o));
    assert_eq!(srv.hits(), 0);
    let r = case.result();
    assert_valid(&r);
    assert_eq!(r["status"], "failed");
    assert_eq!(r["exit_code"], 3);
}

#[test]
fn iteration_errors_are_counted_and_the_run_goes_on() {
    let case = Case::new(
        r#"
local lg = require("loadgen")
options = { iterations = 10 }
function default()
  if lg.iteration() % 2 == 0 then error("even iteration") end
end
"#,
    );
    let o = case.run(&[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let r = case.result();
    assert_valid(&r);
    assert_eq!(r["scenarios"][0]["iterations"], 10);
    assert_eq!(r["scenarios"][0]["failed_iterations"], 5);
    assert_eq!(metric(&r, "iterations")["errors"]["script"], 5);
    let errors = r["script_errors"].as_object().unwrap();
    let (msg, n) = errors.iter().next().unwrap();
    assert!(msg.contains("script.lua:5: even iteration"), "{msg}");
    assert_eq!(n, 5);
}

#[test]
fn unknown_option_is_a_usage_error_naming_the_key() {
    let srv = server();
    let case = Case::new(&format!(
        r#"
local http = require("loadgen.http")
options = {{ scenarios = {{ s = {{ executor = "constant-vus", vus = 1, duraton = "1s" }} }} }}
function default() http.get("{}") end
"#,
        srv.url("/")
    ));
    let o = case.run(&[]);
    assert_eq!(code(&o), 2);
    let e = stderr(&o);
    assert!(e.contains("scenarios.s.duraton: unknown option"), "{e}");
    assert!(e.contains("duration"), "{e}");
    assert_eq!(srv.hits(), 0);
    assert!(!case.out().exists());
}

#[test]
fn bad_flags_missing_files_and_unwritable_out_fail_before_the_run() {
    let o = Command::new(bin())
        .args(["run", "/nonexistent/x.lua"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("/nonexistent/x.lua: no such file"),
        "{}",
        stderr(&o)
    );

    let case = Case::new("function default() end");
    let o = case.run(&["--duration", "10parsecs"]);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("unknown unit 'parsecs'"),
        "{}",
        stderr(&o)
    );

    let o = Command::new(bin())
        .args([
            "run",
            case.script().to_str().unwrap(),
            "--out",
            "/proc/loadgen/r.json",
        ])
        .output()
        .unwrap();
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("--out"), "{}", stderr(&o));

    let case = Case::new("local gen = require('loadgen.gen')\nlocal d = gen.csv('missing.csv')\nfunction default() end");
    let o = case.run(&[]);
    assert_eq!(code(&o), 3);
    assert!(stderr(&o).contains("missing.csv"), "{}", stderr(&o));
    assert!(stderr(&o).contains("script.lua:2:"), "{}", stderr(&o));
}

#[test]
fn exec_function_must_exist() {
    let case = Case::new(
        r#"options = { scenarios = { a = { executor = "shared-iterations", exec = "nope" } } }
function default() end"#,
    );
    let o = case.run(&[]);
    assert_eq!(code(&o), 3);
    assert!(stderr(&o).contains("function 'nope'"), "{}", stderr(&o));
}

#[test]
fn sigint_stops_gracefully_runs_teardown_and_marks_the_result() {
    let srv = server();
    let case = Case::new(&format!(
        r#"
local http = require("loadgen.http")
options = {{ vus = 2, duration = "30s" }}
function default() http.get("{}") end
function teardown()
  local f = io.open("{}", "w"); f:write("done"); f:close()
end
"#,
        srv.url("/slow?ms=10"),
        case_marker()
    ));
    let _ = std::fs::remove_file(case_marker());
    let (o, stopping) = interrupted_after(&case, Duration::from_millis(1500));
    assert!(stopping < Duration::from_secs(10));
    assert_eq!(code(&o), 98);
    let r = case.result();
    assert_valid(&r);
    assert_eq!(r["status"], "interrupted");
    assert!(metric(&r, "http.request")["count"].as_u64().unwrap() > 10);
    assert_eq!(std::fs::read_to_string(case_marker()).unwrap(), "done");
}

/// Runs the case, sends SIGINT after `after`, and returns its output and how long it took to stop.
fn interrupted_after(case: &Case, after: Duration) -> (std::process::Output, Duration) {
    let child = Command::new(bin())
        .arg("run")
        .arg(case.script())
        .arg("--out")
        .arg(case.out())
        .arg("--quiet")
        .spawn()
        .unwrap();
    std::thread::sleep(after);
    let started = Instant::now();
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let o = child.wait_with_output().unwrap();
    (o, started.elapsed())
}

fn case_marker() -> String {
    format!(
        "{}/loadgen-teardown-marker-{}",
        std::env::temp_dir().display(),
        std::process::id()
    )
}

#[test]
fn second_sigint_exits_at_once_with_a_valid_partial_result() {
    let srv = server();
    let case = Case::new(&format!(
        r#"
local http = require("loadgen.http")
options = {{ vus = 2, duration = "30s" }}
function default() http.get("{}") end
"#,
        srv.url("/slow?ms=20000")
    ));
    let child = Command::new(bin())
        .arg("run")
        .arg(case.script())
        .arg("--out")
        .arg(case.out())
        .arg("--quiet")
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1200));
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let o = child.wait_with_output().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the second Ctrl-C stops at once"
    );
    assert_eq!(code(&o), 98);
    let r = case.result();
    assert_valid(&r);
    assert_eq!(r["status"], "interrupted");
}

#[test]
fn abort_on_fail_threshold_stops_the_run_early() {
    let srv = server();
    let case = Case::new(&format!(
        r#"
local http = require("loadgen.http")
options = {{ vus = 2, duration = "30s",
  thresholds = {{ ["http.request"] = {{ {{ threshold = "error_rate < 0.1", abort_on_fail = true }} }} }} }}
function default() http.get("{}") end
"#,
        srv.url("/status/503")
    ));
    let started = Instant::now();
    let o = case.run(&[]);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(code(&o), 97, "{}", stderr(&o));
    let r = case.result();
    assert_valid(&r);
    assert_eq!(r["status"], "aborted");
    assert_eq!(
        metric(&r, "http.request")["errors"]["server"],
        metric(&r, "http.request")["count"]
    );
}

#[test]
fn lg_abort_stops_the_run() {
    let case = Case::new(
        r#"
local lg = require("loadgen")
options = { vus = 1, duration = "30s" }
function default()
  if lg.iteration() == 3 then lg.abort("enough") end
  lg.sleep("10ms")
end
"#,
    );
    let o = case.run(&[]);
    assert_eq!(code(&o), 97, "{}", stderr(&o));
    let r = case.result();
    assert_eq!(r["status"], "aborted");
    assert!(r["failure"].as_str().unwrap().contains("enough"));
}

#[test]
fn constant_arrival_rate_starts_exactly_the_scheduled_iterations() {
    let srv = server();
    let case = Case::new(&format!(
        r#"
local http = require("loadgen.http")
options = {{ scenarios = {{ open = {{ executor = "constant-arrival-rate", rate = 200, time_unit = "1s",
  duration = "2s", pre_allocated_vus = 5, max_vus = 20 }} }} }}
function default() http.get("{}") end
"#,
        srv.url("/")
    ));
    let o = case.run(&[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let r = case.result();
    assert_valid(&r);
    let s = &r["scenarios"][0];
    assert_eq!(s["iterations"], 400);
    assert_eq!(s["unstarted_iterations"], 0);
    assert_eq!(srv.hits(), 400);
    assert!(r["generator"]["scheduler_lateness"]["p50"]
        .as_f64()
        .is_some());
}

#[test]
fn latency_counts_from_the_schedule_when_the_target_falls_behind() {
    // 1 VU, 50 iterations/s, each request takes 100 ms: the target serves 10/s, so iterations queue
    // and their latency grows with the queue while the service time stays at 100 ms.
    let srv = server();
    let case = Case::new(&format!(
        r#"
local http = require("loadgen.http")
options = {{ scenarios = {{ co = {{ executor = "constant-arrival-rate", rate = 50, duration = "1s",
  pre_allocated_vus = 1, max_vus = 1 }} }} }}
function default() http.get("{}") end
"#,
        srv.url("/slow?ms=100")
    ));
    let o = case.run(&[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let r = case.result();
    let m = metric(&r, "http.request");
    let service_p90 = m["service_time"]["p90"].as_f64().unwrap();
    let latency_p90 = m["latency"]["p90"].as_f64().unwrap();
    // The server sleeps 100 ms; on a busy machine its answer comes later, but never sooner.
    assert!(
        (100.0..400.0).contains(&service_p90),
        "service p90 {service_p90}"
    );
    // 50 due a second, 10 served: each iteration starts 80 ms later against its due time than the
    // one before, so latency is several times the service time.
    assert!(
        latency_p90 > 500.0 && latency_p90 > 3.0 * service_p90,
        "latency p90 {latency_p90} must include the queueing (service p90 {service_p90})"
    );
    let s = &r["scenarios"][0];
    assert!(s["max_backlog"].as_u64().unwrap() > 10, "{s}");
    assert!(s["unstarted_iterations"].as_u64().unwrap() > 0, "{s}");
}

#[test]
fn drop_late_drops_instead_of_queueing() {
    let srv = server();
    let case = Case::new(&format!(
        r#"
local http = require("loadgen.http")
options = {{ scenarios = {{ k6like = {{ executor = "constant-arrival-rate", rate = 50, duration = "1s",
  pre_allocated_vus = 1, max_vus = 1, drop_late = true }} }} }}
function default() http.get("{}") end
"#,
        srv.url("/slow?ms=100")
    ));
    let o = case.run(&[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let r = case.result();
    let s = &r["scenarios"][0];
    let dropped = s["dropped_iterations"].as_u64().unwrap();
    assert!(dropped > 30, "{s}");
    assert_eq!(
        metric(&r, "dropped_iterations")["sum"].as_f64().unwrap() as u64,
        dropped
    );
    assert!(
        metric(&r, "http.request")["latency"]["p99"]
            .as_f64()
            .unwrap()
            < 400.0
    );
}

#[test]
fn iteration_executors_run_exact_counts() {
    let srv = server();
    let case = Case::new(&format!(
        r#"
local http = require("loadgen.http")
options = {{ scenarios = {{
  shared = {{ executor = "shared-iterations", vus = 5, iterations = 53 }},
  each = {{ executor = "per-vu-iterations", vus = 3, iterations = 4, exec = "other", tags = {{ kind = "each" }} }},
}} }}
function default() http.get("{}") end
function other() http.get("{}") end
"#,
        srv.url("/"),
        srv.url("/")
    ));
    let o = case.run(&[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let r = case.result();
    assert_valid(&r);
    let by_name = |n: &str| {
        r["scenarios"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == n)
            .unwrap()
            .clone()
    };
    assert_eq!(by_name("shared")["iterations"], 53);
    assert_eq!(by_name("each")["iterations"], 12);
    assert_eq!(srv.hits(), 65);
    assert_eq!(
        r["series_totals"]["http.request{kind:each,scenario:each}"]["count"],
        12
    );
}

#[test]
fn ramping_vus_follow_the_stages() {
    let case = Case::new(
        r#"
local lg = require("loadgen")
options = { scenarios = { ramp = { executor = "ramping-vus", start_vus = 0,
  stages = { { duration = "1s", target = 4 }, { duration = "1s", target = 0 } } } } }
function default() lg.sleep("50ms") end
"#,
    );
    let o = case.run(&[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let r = case.result();
    let it = r["scenarios"][0]["iterations"].as_u64().unwrap();
    // Area under the target curve: VU j runs while j < floor(target); about 2*(0+1+2+3)/4 = 3 VU-seconds
    // at 20 iterations per VU-second, so about 60 iterations.
    assert!((40..=90).contains(&it), "iterations {it}");
}

#[test]
fn ramping_arrival_rate_integrates_the_rate() {
    let case = Case::new(
        r#"
options = { scenarios = { r = { executor = "ramping-arrival-rate", start_rate = 0, pre_allocated_vus = 4,
  stages = { { duration = "1s", target = 100 }, { duration = "1s", target = 100 } } } } }
function default() end
"#,
    );
    let o = case.run(&[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let r = case.result();
    // 0 -> 100/s over 1 s (50) then 100/s for 1 s (100).
    assert_eq!(r["scenarios"][0]["iterations"], 150);
}

#[test]
fn integers_above_2_pow_53_survive_an_http_round_trip() {
    let srv = server();
    let case = Case::new(&format!(
        r#"
local lg = require("loadgen")
local http = require("loadgen.http")
options = {{ iterations = 1, thresholds = {{ checks = {{ "rate == 1" }} }} }}
local big = 9007199254740993 -- 2^53 + 1
function default()
  local r = http.post("{}", {{ id = big, ts = lg.now_us() }})
  local back = r:json()
  lg.check(back, {{
    ["exact"] = function(b) return b.id == big and math.type(b.id) == "integer" end,
    ["text"] = function() return r.body:find("9007199254740993", 1, true) ~= nil end,
  }})
end
"#,
        srv.url("/echo")
    ));
    let o = case.run(&[]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    let r = case.result();
    assert_eq!(metric(&r, "checks")["count"], 2);
}

#[test]
fn unreachable_server_is_a_connect_error_and_the_run_ends_normally() {
    // A port nobody listens on: bind, read the port, close.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let case = Case::new(&format!(
        r#"
local lg = require("loadgen")
local http = require("loadgen.http")
options = {{ iterations = 3 }}
function default()
  local r = http.get("http://127.0.0.1:{port}/", {{ timeout = "2s" }})
  lg.check(r, {{ ["connect error"] = function(r) return r.err == "connect" and r.status == 0 end }})
end
"#
    ));
    let started = Instant::now();
    let o = case.run(&[]);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let r = case.result();
    assert_valid(&r);
    assert_eq!(metric(&r, "http.request")["errors"]["connect"], 3);
    assert_eq!(metric(&r, "checks")["rate"].as_f64().unwrap(), 1.0);
}

/// Health checks are a stage of their own, after init and before `setup()` (issue 12): the init
/// code after the client is made still runs, `setup()` never does, and the run fails with exit 4
/// naming the server. Before, the check ran inside the client's constructor, so init stopped there.
#[test]
fn health_checks_run_after_init_and_before_setup() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let case = Case::new(&format!(
        r#"
local es = require("loadgen.elasticsearch")
local c = es.client{{ url = "http://127.0.0.1:{port}" }}
io.stdout:write("init went on\n")
options = {{ iterations = 1 }}
function setup() io.stdout:write("setup ran\n") end
function default() c:count("x") end
"#
    ));
    let o = case.run(&[]);
    assert_eq!(code(&o), 4, "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("init went on"), "{}", stdout(&o));
    assert!(!stdout(&o).contains("setup ran"), "{}", stdout(&o));
    let r = case.result();
    assert_valid(&r);
    assert_eq!(r["status"], "failed");
    assert_eq!(r["exit_code"], 4);
    let failure = r["failure"].as_str().unwrap();
    assert!(failure.contains(&format!("127.0.0.1:{port}")), "{failure}");
}

#[test]
fn timeouts_are_their_own_kind() {
    let srv = server();
    let case = Case::new(&format!(
        r#"
local http = require("loadgen.http")
options = {{ iterations = 2 }}
function default() http.get("{}", {{ timeout = "100ms" }}) end
"#,
        srv.url("/slow?ms=2000")
    ));
    let o = case.run(&[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        metric(&case.result(), "http.request")["errors"]["timeout"],
        2
    );
}

#[test]
fn seed_makes_generated_data_repeatable() {
    let script = r#"
local gen = require("loadgen.gen")
local lg = require("loadgen")
options = { iterations = 3 }
local z = gen.zipfian(1000)
function default()
  io.stdout:write(gen.uuid(), " ", z:next(), " ", gen.int(1, 100), " ", gen.word(), "\n")
end
"#;
    let a = Case::new(script);
    let b = Case::new(script);
    let oa = a.run(&["--seed", "42", "--workers", "1"]);
    let ob = b.run(&["--seed", "42", "--workers", "1"]);
    let lines = |o: &std::process::Output| -> Vec<String> {
        stdout(o)
            .lines()
            .filter(|l| l.len() > 36 && l.as_bytes()[8] == b'-')
            .map(String::from)
            .collect()
    };
    assert_eq!(lines(&oa).len(), 3);
    assert_eq!(lines(&oa), lines(&ob));
    let oc = a.run(&["--seed", "43", "--workers", "1"]);
    assert_ne!(lines(&oa), lines(&oc));
    assert_eq!(a.result()["seed"], 43);
}

#[test]
fn data_files_load_once_and_serve_every_vu() {
    let case = Case::new(
        r#"
local lg = require("loadgen")
local gen = require("loadgen.gen")
local users = gen.csv("users.csv")
local events = gen.jsonl("events.jsonl")
options = { vus = 3, iterations = 9, thresholds = { checks = { "rate == 1" } } }
function default()
  lg.check(users, {
    ["rows"] = function(u) return #u == 3 and u:len() == 3 end,
    ["header"] = function(u) return u[2].name == "bob, jr" and u[3].id == "3" end,
    ["random"] = function(u) return u:random().id ~= nil end,
  })
  lg.check(events, { ["jsonl"] = function(e) return e[2].n == 9007199254740993 end })
end
"#,
    );
    std::fs::write(
        case.path("users.csv"),
        "id,name\n1,alice\n2,\"bob, jr\"\n3,carol\n",
    )
    .unwrap();
    std::fs::write(
        case.path("events.jsonl"),
        "{\"n\":1}\n{\"n\":9007199254740993}\n",
    )
    .unwrap();
    let o = case.run(&[]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
}

#[test]
fn custom_metrics_groups_and_tags() {
    let case = Case::new(
        r#"
local lg = require("loadgen")
local c = lg.counter("rows_seen")
local t = lg.trend("batch_ms")
local g = lg.gauge("queue")
local rt = lg.rate("hit")
options = { iterations = 4, thresholds = { rows_seen = { "count == 40" }, ["batch_ms{kind:a}"] = { "max <= 3" } } }
function default()
  lg.group("phase one", function()
    c:add(10)
    t:add(lg.iteration(), { kind = "a" })
  end)
  g:set(lg.iteration())
  rt:add(lg.iteration() > 2)
end
"#,
    );
    let o = case.run(&[]);
    let r = case.result();
    assert_valid(&r);
    assert_eq!(code(&o), 99, "max of batch_ms is 4 > 3: {}", stdout(&o));
    assert_eq!(metric(&r, "rows_seen")["sum"], 40.0);
    assert_eq!(metric(&r, "hit")["rate"], 0.5);
    assert_eq!(metric(&r, "queue")["gauge"]["max"], 4.0);
    assert!(r["series_totals"]
        .as_object()
        .unwrap()
        .keys()
        .any(|k| k.starts_with("group_duration{group:phase one")));
    let rows = r["thresholds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["metric"] == "rows_seen")
        .unwrap();
    assert_eq!(rows["ok"], true);
    let reserved = Case::new("local lg = require('loadgen')\nlocal c = lg.counter('http.request')\nfunction default() end");
    let o = reserved.run(&[]);
    assert_eq!(code(&o), 3);
    assert!(stderr(&o).contains("reserved"), "{}", stderr(&o));
}

#[test]
fn check_prints_the_plan_and_sends_nothing() {
    let srv = server();
    let case = Case::new(&format!(
        r#"
local http = require("loadgen.http")
options = {{ scenarios = {{ ingest = {{ executor = "constant-arrival-rate", rate = 2000, duration = "30s",
  pre_allocated_vus = 20, max_vus = 200 }} }}, thresholds = {{ ["http.request"] = {{ "p(99) < 50ms" }} }} }}
function setup() http.get("{}") end
function default() http.get("{}") end
"#,
        srv.url("/"),
        srv.url("/")
    ));
    let o = Command::new(bin())
        .arg("check")
        .arg(case.script())
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains(
            "scenario ingest: constant-arrival-rate (2000 iterations per 1s for 30s, VUs 20..200)"
        ),
        "{out}"
    );
    assert!(
        out.contains("threshold http.request: p(99) < 50ms"),
        "{out}"
    );
    assert_eq!(srv.hits(), 0);
}

/// `loadgen check` contacts no server even when init code makes clients with health checks (issue 12,
/// bug 2: it ran them, and built a Kafka producer that connected at once). A listener stands in for
/// every server and counts connections: none. Before the fix the health check connected to it and
/// failed (exit 4).
#[test]
fn check_contacts_no_server_of_any_binding() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    std::thread::spawn(move || {
        for c in listener.incoming() {
            counter.fetch_add(1, Ordering::SeqCst);
            drop(c);
        }
    });
    let case = Case::new(&format!(
        r#"
local kafka = require("loadgen.kafka")
local es = require("loadgen.elasticsearch")
local hdfs = require("loadgen.hdfs")
local p = kafka.producer{{ brokers = "127.0.0.1:{port}", linger_ms = 5 }}
local a = kafka.admin{{ brokers = "127.0.0.1:{port}" }}
local e = es.client{{ url = "http://127.0.0.1:{port}" }}
local h = hdfs.client{{ url = "hdfs://127.0.0.1:{port}" }}
options = {{ iterations = 1 }}
function default() p:send{{ topic = "t", value = "v" }} end
"#
    ));
    let o = Command::new(bin())
        .arg("check")
        .arg(case.script())
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}\n{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains(&format!(
            "server checked before a run (not contacted now): kafka 127.0.0.1:{port}"
        )),
        "{out}"
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(accepted.load(Ordering::SeqCst), 0, "{out}");
}

#[test]
fn compare_marks_regressions_and_merge_is_exact() {
    let srv = server();
    let script = |path: &str| {
        format!(
            "local http = require('loadgen.http')\noptions = {{ iterations = 20, thresholds = {{ ['http.request'] = {{ 'p(50) < 1s' }} }} }}\nfunction default() http.get('{}') end\n",
            srv.url(path)
        )
    };
    // Same script text for both, so they can be merged; the target path comes from the env.
    let text = "local lg = require('loadgen')\nlocal http = require('loadgen.http')\noptions = { iterations = 20, thresholds = { ['http.request'] = { 'p(50) < 1s' } } }\nfunction default() http.get(lg.env('URL')) end\n";
    let _ = script;
    let fast = Case::new(text);
    let slow = Case::new(text);
    assert_eq!(
        code(&fast.run(&["-e", &format!("URL={}", srv.url("/"))])),
        0
    );
    assert_eq!(
        code(&slow.run(&["-e", &format!("URL={}", srv.url("/slow?ms=30"))])),
        0
    );

    let o = Command::new(bin())
        .arg("compare")
        .arg(fast.out())
        .arg(slow.out())
        .arg("--fail-on-worse")
        .output()
        .unwrap();
    assert_eq!(code(&o), 99, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("http.request"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.contains("latency p50 ms") && l.ends_with('!')),
        "{out}"
    );
    let o = Command::new(bin())
        .arg("compare")
        .arg(fast.out())
        .arg(fast.out())
        .output()
        .unwrap();
    assert_eq!(code(&o), 0);
    assert!(
        !stdout(&o).lines().any(|l| l.ends_with('!')),
        "{}",
        stdout(&o)
    );

    let merged = fast.path("merged.json");
    let o = Command::new(bin())
        .arg("merge")
        .arg(fast.out())
        .arg(slow.out())
        .arg("-o")
        .arg(&merged)
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&merged).unwrap()).unwrap();
    assert_valid(&m);
    let (a, b) = (fast.result(), slow.result());
    assert_eq!(m["metrics"]["http.request"]["count"], 40);
    let max = |r: &serde_json::Value| {
        r["metrics"]["http.request"]["latency"]["max"]
            .as_f64()
            .unwrap()
    };
    let min = |r: &serde_json::Value| {
        r["metrics"]["http.request"]["latency"]["min"]
            .as_f64()
            .unwrap()
    };
    assert_eq!(max(&m), max(&a).max(max(&b)));
    assert_eq!(min(&m), min(&a).min(min(&b)));
    assert_eq!(m["merged_from"].as_array().unwrap().len(), 2);
    assert_eq!(m["thresholds"][0]["ok"], true);

    // A file from an unknown schema version is refused with a reason.
    let mut future = a.clone();
    future["schema_version"] = 99.into();
    let fpath = fast.path("future.json");
    std::fs::write(&fpath, future.to_string()).unwrap();
    let o = Command::new(bin())
        .arg("compare")
        .arg(fast.out())
        .arg(&fpath)
        .output()
        .unwrap();
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("schema version 99 is not known"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn version_prints() {
    let o = Command::new(bin()).arg("version").output().unwrap();
    assert_eq!(code(&o), 0);
    assert!(stdout(&o).starts_with("loadgen "));
}

#[test]
fn report_writes_one_html_page_with_a_table_and_charts_per_run() {
    let srv = server();
    let case = Case::new(
        "local lg = require('loadgen')\nlocal http = require('loadgen.http')\nlocal t = lg.trend('think <ms>')\nlocal g = lg.gauge('level')\noptions = { vus = 2, duration = '2500ms' }\nfunction default() http.get(lg.env('URL')); t:add(3); g:set(7.25); lg.sleep(0.05) end\n",
    );
    assert_eq!(
        code(&case.run(&["-e", &format!("URL={}", srv.url("/"))])),
        0
    );
    let page = case.path("page.html");
    let o = Command::new(bin())
        .arg("report")
        .arg(case.out())
        .arg(case.out())
        .arg("--out")
        .arg(&page)
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("page.html"), "{}", stdout(&o));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.starts_with("<!doctype html>") && html.trim_end().ends_with("</html>"));
    // Two runs: two sections, each with its table row and the charts of http.request, the trend and
    // the built-in iteration_duration (two charts each), the trend's name escaped.
    assert_eq!(html.matches("<h2>").count(), 2, "{html}");
    assert_eq!(html.matches("<td>http.request</td>").count(), 2, "{html}");
    assert!(html.contains("think &lt;ms&gt;"), "{html}");
    assert!(!html.contains("think <ms>"), "{html}");
    // ... and the gauge's chart (its highest value each second).
    assert_eq!(html.matches("<svg").count(), 14, "{html}");
    assert_eq!(html.matches("<h3>level</h3>").count(), 2, "{html}");
    assert_eq!(
        html.matches("<h3>iteration_duration</h3>").count(),
        2,
        "{html}"
    );
    assert!(html.contains("<polyline"), "{html}");
    // A gauge's value is in the table.
    assert!(
        html.contains("<td>level</td><td>gauge</td>") && html.contains("<td>7.25</td>"),
        "{html}"
    );
    assert!(html.contains("status <b>completed</b>"), "{html}");

    // Without --out, next to the first file; a file that is not a result is named in the error.
    let o = Command::new(bin())
        .arg("report")
        .arg(case.out())
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(case.path("result.html").is_file());
    let o = Command::new(bin())
        .arg("report")
        .arg(case.script())
        .output()
        .unwrap();
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("script.lua"), "{}", stderr(&o));
}

#[test]
fn require_finds_a_module_beside_the_script_from_any_working_directory() {
    let case = Case::new(
        r#"
local helper = require("helper")
options = { iterations = 1, vus = 1 }
function default() assert(helper.answer() == 42, "helper loaded") end
"#,
    );
    std::fs::write(
        case.path("helper.lua"),
        "return { answer = function() return 42 end }\n",
    )
    .unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let o = Command::new(bin())
        .current_dir(elsewhere.path())
        .arg("run")
        .arg(case.script())
        .arg("--out")
        .arg(case.out())
        .arg("--quiet")
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let r = case.result();
    assert_eq!(r["metrics"]["iterations"]["count"].as_u64(), Some(1));
    assert!(
        r["script_errors"].as_array().is_none_or(|e| e.is_empty()),
        "{}",
        r["script_errors"]
    );
}

#[test]
fn lateness_is_visible_to_scripts_in_open_models_only() {
    // One VU, 20 iterations a second, each taking 100 ms: iteration i starts about i * 50 ms late.
    let case = Case::new(
        r#"
local lg = require("loadgen")
local late = lg.trend("late_ms")
options = { scenarios = {
  open = { executor = "constant-arrival-rate", rate = 20, duration = "1s", pre_allocated_vus = 1,
           max_vus = 1, graceful_stop = "10s" },
  closed = { executor = "per-vu-iterations", vus = 1, iterations = 3, start_time = "1s", exec = "closed" },
} }
function default() late:add(lg.lateness_ms(), { m = "open" }); lg.sleep("100ms") end
function closed() late:add(lg.lateness_ms(), { m = "closed" }) end
"#,
    );
    let o = case.run(&[]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    let r = case.result();
    let totals = r["series_totals"].as_object().unwrap();
    let open = totals
        .iter()
        .find(|(k, _)| k.starts_with("late_ms{") && k.contains("m:open"))
        .unwrap()
        .1;
    let closed = totals
        .iter()
        .find(|(k, _)| k.starts_with("late_ms{") && k.contains("m:closed"))
        .unwrap()
        .1;
    assert_eq!(open["count"], 10.0, "{open}");
    let scenarios = r["scenarios"].as_array().unwrap();
    let open_stats = scenarios.iter().find(|s| s["name"] == "open").unwrap();
    assert_eq!(open_stats["unstarted_iterations"], 10, "{open_stats}");
    let max = open["values"]["max"].as_f64().unwrap();
    assert!(
        (400.0..700.0).contains(&max),
        "the 10th iteration starts ~450 ms late: {max}"
    );
    assert_eq!(closed["count"], 3.0);
    // Closed models have no schedule; only the scenario's own start can be (microseconds) late.
    assert!(
        closed["values"]["max"].as_f64().unwrap() < 1.0,
        "closed: {closed}"
    );
}

/// What `setup()` and `teardown()` record counts in the totals but stays out of the per-second series
/// (issue 12, bug 5: they were stamped after the load's last second, so the report's charts showed a
/// burst there that never happened).
#[test]
fn setup_and_teardown_samples_stay_out_of_the_load_series() {
    let case = Case::new(
        r#"
local lg = require("loadgen")
options = { scenarios = { s = { executor = "per-vu-iterations", vus = 1, iterations = 4 } } }
local function checks(n, what)
  for _ = 1, n do lg.check(1, { [what] = function() return true end }) end
end
function setup() checks(5, "setup") end
function default() checks(1, "load"); lg.sleep(0.3) end
function teardown() checks(3, "teardown") end
"#,
    );
    let o = case.run(&[]);
    assert_eq!(code(&o), 0, "{}\n{}", stdout(&o), stderr(&o));
    let r = case.result();
    assert_valid(&r);
    assert_eq!(metric(&r, "checks")["count"], 5 + 4 + 3);
    let in_series: u64 = r["series"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["metrics"]["checks"]["count"].as_u64())
        .sum();
    assert_eq!(in_series, 4, "{}", r["series"]);
}

/// Shared limiters are found by their settings or name, not by the order of the calls (issue 12,
/// bug 3): VU 1 skips the first limiter of the init code, so by position its `slow` was the other
/// VUs' 100,000/s limiter and it ran unlimited. Both VUs now share the 5/s budget.
#[test]
fn shared_limiters_are_matched_by_settings_not_by_call_order() {
    let case = Case::new(
        r#"
local lg = require("loadgen")
options = { vus = 2, duration = "2s" }
local fast
if lg.vu() ~= 1 then fast = lg.limiter{ rate = 100000 } end
local slow = lg.limiter{ rate = 5, burst = 1 }
function default() slow:wait(1) end
"#,
    );
    let o = case.run(&[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let iterations = case.result()["scenarios"][0]["iterations"]
        .as_u64()
        .unwrap();
    // 1 at once, then 5 a second for 2 s (and at most one waiting VU per second edge).
    assert!(
        (8..=14).contains(&iterations),
        "2 s at 5/s shared by both VUs: {iterations} iterations"
    );
}

/// Two limiters with the same settings in one init are two budgets only a name can tell apart; a
/// name reused for other settings by another VU is refused, naming both.
#[test]
fn identical_shared_limiters_need_names_and_names_keep_their_settings() {
    let same = Case::new(
        r#"
local lg = require("loadgen")
local a = lg.limiter{ rate = 10 }
local b = lg.limiter{ rate = 10 }
function default() end
"#,
    );
    let o = same.run(&[]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(
        stderr(&o)
            .contains("lg.limiter: two made with the same settings (rate = 10/s, burst = 10)")
            && stderr(&o).contains("name = \"...\""),
        "{}",
        stderr(&o)
    );

    let named = Case::new(
        r#"
local lg = require("loadgen")
options = { vus = 2, iterations = 2 }
local a = lg.limiter{ rate = 10, name = "a" }
local b = lg.limiter{ rate = 10, name = "b" }
local c = lg.limiter{ rate = lg.vu() == 2 and 20 or 10, name = "c" }
function default() a:wait(1); b:wait(1) end
"#,
    );
    let o = named.run(&[]);
    assert_ne!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stderr(&o).contains(
            "lg.limiter 'c': made with rate = 10/s, burst = 10 by one VU and with rate = 20/s, burst = 20 by another"
        ),
        "{}",
        stderr(&o)
    );
}

/// Lua that never calls into loadgen cannot be cancelled like a future: the VU's instruction hook
/// stops it at the scenario's end plus graceful stop, and the run ends with its result (issue 16:
/// `while true do end` on one VU ran until killed, with no result file).
#[test]
fn an_endless_loop_in_an_iteration_is_stopped_at_the_graceful_stop() {
    let case = Case::new(
        r#"
options = { scenarios = { s = { executor = "constant-vus", vus = 1, duration = "1s", graceful_stop = "1s" } } }
function default() while true do end end
"#,
    );
    let t = Instant::now();
    let o = case.run(&[]);
    assert!(t.elapsed() < Duration::from_secs(20), "{:?}", t.elapsed());
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let r = case.result();
    assert_valid(&r);
    // Where a future would have been cancelled: interrupted, with a warning that says why.
    assert_eq!(
        r["scenarios"][0]["interrupted_iterations"], 1,
        "{}",
        r["scenarios"]
    );
    assert_eq!(
        r["scenarios"][0]["failed_iterations"], 0,
        "{}",
        r["scenarios"]
    );
    let warnings = r["warnings"].to_string();
    assert!(
        warnings.contains("still running past the end of scenario 's' and its graceful stop (1s)"),
        "{warnings}"
    );
}

/// The same in setup() (its setup_timeout) and in a VU's init code (init_timeout): exit 3 with a
/// result file that says which limit stopped it.
#[test]
fn endless_loops_in_setup_and_init_are_stopped_by_their_timeouts() {
    let setup = Case::new(
        r#"
options = { iterations = 1, setup_timeout = "1s" }
function setup() local n = 0; while true do n = n + 1 end end
function default() end
"#,
    );
    let o = setup.run(&[]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    let r = setup.result();
    assert_eq!(r["status"], "failed");
    assert!(
        r["failure"]
            .as_str()
            .unwrap()
            .contains("setup_timeout (1s)"),
        "{}",
        r["failure"]
    );

    // VU 0 reads the options; the loop is in the other VUs' init.
    let init = Case::new(
        r#"
local lg = require("loadgen")
options = { vus = 1, iterations = 1, init_timeout = "1s" }
if lg.vu() > 0 then while true do end end
function default() end
"#,
    );
    let o = init.run(&[]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    let r = init.result();
    assert!(
        r["failure"].as_str().unwrap().contains("init_timeout (1s)"),
        "{}",
        r["failure"]
    );
}

/// A script that allocates without bound gets Lua's memory error at `lua_memory_mib`, counted as a
/// failed iteration, instead of the process dying without a result (issue 16).
#[test]
fn unbounded_allocation_is_a_script_error_at_the_memory_limit() {
    let case = Case::new(
        r#"
options = { iterations = 2, lua_memory_mib = 64 }
function default()
  local t = {}
  while true do t[#t + 1] = string.rep("x", 1000000) .. #t end
end
"#,
    );
    let o = case.run(&[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let r = case.result();
    assert_valid(&r);
    assert_eq!(
        r["scenarios"][0]["failed_iterations"], 2,
        "{}",
        r["scenarios"]
    );
    assert!(
        r["script_errors"].to_string().contains("not enough memory"),
        "{}",
        r["script_errors"]
    );
}

/// lg.abort() stops VUs busy in Lua too, and os.exit is refused (it would lose the result).
#[test]
fn abort_stops_busy_lua_and_os_exit_is_refused() {
    let case = Case::new(
        r#"
local lg = require("loadgen")
options = { scenarios = { s = { executor = "constant-vus", vus = 2, duration = "60s", graceful_stop = "60s" } } }
function default()
  if lg.vu() == 1 then lg.sleep("300ms"); lg.abort("enough") end
  while true do end
end
"#,
    );
    // Two workers, so the VU that aborts is not on the busy VU's thread.
    let t = Instant::now();
    let o = case.run(&["--workers", "2"]);
    assert!(t.elapsed() < Duration::from_secs(20), "{:?}", t.elapsed());
    assert_eq!(code(&o), 97, "{}", stderr(&o));
    assert_eq!(case.result()["status"], "aborted");

    let exit = Case::new("options = { iterations = 1 }\nfunction default() os.exit(0) end\n");
    let o = exit.run(&[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let r = exit.result();
    assert!(
        r["script_errors"]
            .to_string()
            .contains("os.exit is not available"),
        "{}",
        r["script_errors"]
    );
}

/// After a first Ctrl-C, Lua that never yields is stopped once the graceful stop is over (not at the
/// scenario's scheduled end, a minute later), counted as interrupted, and teardown still runs.
#[test]
fn an_endless_loop_ends_at_the_graceful_stop_after_an_interrupt() {
    let case = Case::new(
        r#"
local lg = require("loadgen")
options = { scenarios = { s = { executor = "constant-vus", vus = 1, duration = "60s", graceful_stop = "1s" } } }
function default() while true do end end
function teardown() lg.counter("teardown_ran"):add(1) end
"#,
    );
    let (o, stopping) = interrupted_after(&case, Duration::from_millis(1000));
    assert!(stopping < Duration::from_secs(15), "{stopping:?}");
    assert_eq!(code(&o), 98, "{}", stderr(&o));
    let r = case.result();
    assert_valid(&r);
    assert_eq!(r["status"], "interrupted");
    assert_eq!(metric(&r, "teardown_ran")["sum"], 1.0, "teardown ran");
    assert_eq!(
        r["scenarios"][0]["failed_iterations"], 0,
        "{}",
        r["scenarios"]
    );
    assert_eq!(
        r["scenarios"][0]["interrupted_iterations"], 1,
        "{}",
        r["scenarios"]
    );
    assert!(
        r["warnings"]
            .to_string()
            .contains("past the graceful stop after an interrupt"),
        "{}",
        r["warnings"]
    );
}

/// An open-model run at five times what the target can serve: the iterations due and never started
/// enter `http.request`'s latency as censored samples, counted in the result and on the summary.
#[test]
fn overload_puts_never_started_iterations_into_the_percentiles_as_censored() {
    let srv = server();
    let case = Case::new(&format!(
        r#"
local http = require("loadgen.http")
options = {{ scenarios = {{ open = {{ executor = "constant-arrival-rate", rate = 50, duration = "2s",
                                       pre_allocated_vus = 2, max_vus = 2 }} }} }}
function default() http.get("{}") end
"#,
        srv.url("/slow?ms=200")
    ));
    // Not --quiet: the summary is what a person reads.
    let o = Command::new(bin())
        .arg("run")
        .arg(case.script())
        .arg("--out")
        .arg(case.out())
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let r = case.result();
    assert_valid(&r);
    let sc = &r["scenarios"][0];
    let unstarted = sc["unstarted_iterations"].as_u64().unwrap();
    // 100 due in 2 s; 2 VUs at 200 ms serve about 20.
    assert!(unstarted >= 60, "{sc}");
    let m = metric(&r, "http.request");
    assert_eq!(
        m["count"].as_u64(),
        Some(srv.hits()),
        "count is what completed"
    );
    assert_eq!(m["censored"].as_u64(), Some(unstarted), "{m}");
    // The first never-started iteration was due within the first second and waited to the end.
    let p99 = m["latency"]["p99"].as_f64().unwrap();
    assert!(p99 > 1000.0, "{m}");
    let out = stdout(&o);
    assert!(
        out.contains("censored") && out.contains(&unstarted.to_string()),
        "{out}"
    );
    // The HTML report says it too, beside the count.
    let page = case.path("page.html");
    let o = Command::new(bin())
        .arg("report")
        .arg(case.out())
        .arg("--out")
        .arg(&page)
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        html.contains(&format!("+{unstarted} censored")),
        "the report shows the censored samples"
    );
}

/// The response table through our HTTP/1.1 client: headers (read lazily), a JSON body both ways.
#[test]
fn response_headers_and_json_bodies_reach_the_script() {
    let srv = server();
    let case = Case::new(&format!(
        r#"
local lg = require("loadgen")
local http = require("loadgen.http")
options = {{ iterations = 3 }}
function default()
  local r = http.post("{echo}", {{ a = 1, b = "two" }})
  lg.check(r, {{
    ["echo 200"] = function(r) return r.status == 200 and r.ok end,
    ["json back"] = function(r) local j = r:json(); return j.a == 1 and j.b == "two" end,
    ["length header"] = function(r) return r.headers["content-length"] == tostring(#r.body) end,
  }})
  local n = http.get("{missing}")
  lg.check(n, {{ ["404 is a client error"] = function(n) return n.status == 404 and n.err == "client" and not n.ok end }})
end
"#,
        echo = srv.url("/echo"),
        missing = srv.url("/missing"),
    ));
    let o = case.run(&[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let r = case.result();
    assert_eq!(metric(&r, "checks")["rate"].as_f64().unwrap(), 1.0, "{r}");
    assert_eq!(metric(&r, "checks")["count"].as_u64().unwrap(), 12, "{r}");
    assert_eq!(srv.hits(), 6);
}
