//! The live dashboard as a person sees it: a real headless Chromium (Debian's `chromium`) loads the
//! page of a real `loadgen run --dashboard` against a loopback HTTP server started here, and reads
//! what is on screen: charts that gain points, the numbers at the end equal to the result file's,
//! two pages at once, a page closed and a new one that is sent the whole run, the end arriving
//! while a page is open (also with no linger, loadgen exiting at once), and `report --serve`.
//! Screenshots go to target/test-artifacts/.

#[path = "common/cdp.rs"]
mod cdp;
mod common;

use cdp::{Browser, Page};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn artifacts() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts")
}

/// A script at `rate` requests a second for `secs`, one in ten to a path that answers 404
/// (failures of kind `client`), with a threshold to show.
fn script(url: &str, rate: u32, secs: u32) -> String {
    format!(
        r#"
local http = require("loadgen.http")
options = {{
  scenarios = {{ steady = {{ executor = "constant-arrival-rate", rate = {rate}, duration = "{secs}s",
                             pre_allocated_vus = 4, max_vus = 20 }} }},
  thresholds = {{ ["http.request"] = {{ "p(99) < 60000ms" }} }},
}}
local n = 0
function default()
  n = n + 1
  if n % 10 == 0 then http.get("{url}/status/404") else http.get("{url}/slow?ms=2") end
end
"#
    )
}

/// A `loadgen` child whose stderr is drained on a thread; its dashboard's address is read there.
struct Run {
    child: Child,
    url: String,
}

impl Run {
    fn start(mut cmd: Command) -> Run {
        let mut child = cmd.stderr(Stdio::piped()).spawn().expect("loadgen starts");
        let err = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if let Some(u) = line.strip_prefix("dashboard: http://") {
                    let u = u.split_whitespace().next().unwrap_or("").to_string();
                    let _ = tx.send(format!("http://{u}"));
                }
                eprintln!("loadgen: {line}");
            }
        });
        let url = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("loadgen prints the dashboard's address on stderr");
        Run { child, url }
    }

    /// Waits for the exit (at most `limit`), returning the exit code.
    fn wait(&mut self, limit: Duration) -> i32 {
        let t = Instant::now();
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s.code().unwrap_or(-1);
            }
            assert!(t.elapsed() < limit, "loadgen did not exit within {limit:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn interrupt(&self) {
        // SAFETY: a signal to the child we started, by its id.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The status line of `GET /` sent to the dashboard at `url` with `Host: host:PORT`.
fn status_line(url: &str, host: &str) -> String {
    use std::io::{Read, Write};
    let addr = url.trim_start_matches("http://").trim_end_matches('/');
    let port = addr.rsplit_once(':').unwrap().1;
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        c,
        "GET / HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    c.read_to_string(&mut answer).unwrap();
    answer.lines().next().unwrap_or_default().to_string()
}

fn points(b: &mut Browser, p: &Page, chart: &str, series: &str) -> Vec<(f64, f64)> {
    let v = b.eval(
        p,
        &format!(
            r#"(() => {{ const l = document.querySelector('svg[data-chart="{chart}"] polyline[data-series="{series}"]');
                 return l ? l.getAttribute("points") : ""; }})()"#
        ),
    );
    v.as_str()
        .unwrap_or("")
        .split_whitespace()
        .map(|xy| {
            let (x, y) = xy.split_once(',').unwrap();
            (x.parse().unwrap(), y.parse().unwrap())
        })
        .collect()
}

fn text(b: &mut Browser, p: &Page, selector: &str) -> String {
    let v = b.eval(
        p,
        &format!(
            r#"(() => {{ const e = document.querySelector('{selector}'); return e ? e.textContent : null; }})()"#
        ),
    );
    v.as_str().unwrap_or_default().to_string()
}

fn attr(b: &mut Browser, p: &Page, selector: &str, name: &str) -> String {
    let v = b.eval(
        p,
        &format!(
            r#"(() => {{ const e = document.querySelector('{selector}'); return e ? e.getAttribute("{name}") : null; }})()"#
        ),
    );
    v.as_str().unwrap_or_default().to_string()
}

const OPS: &str = "http.request/ops";
const FINAL: &str = "!document.getElementById('final').hidden";

/// The final summary on the page says what the result file says, to the digit: the count, and the
/// p99 (the cell's exact value, and its text rounded to 2 decimals as shown).
fn assert_final_matches(b: &mut Browser, p: &Page, result: &Value) {
    let m = &result["metrics"]["http.request"];
    let row = r#"#summary tr[data-metric="http.request"]"#;
    let count = text(b, p, &format!(r#"{row} td[data-field="count"]"#));
    assert_eq!(count, m["count"].to_string(), "the count on the page");
    let p99 = m["latency"]["p99"].as_f64().unwrap();
    let cell = format!(r#"{row} td[data-field="p99"]"#);
    assert_eq!(attr(b, p, &cell, "data-value").parse::<f64>().unwrap(), p99);
    let shown: f64 = text(b, p, &cell).parse().unwrap();
    assert!(
        (shown - p99).abs() <= 0.005 + 1e-9,
        "p99 shown {shown}, file {p99}"
    );
    assert_eq!(
        text(b, p, "#final-status"),
        result["status"].as_str().unwrap()
    );
}

#[test]
fn a_person_watching_a_run_sees_it_live_and_its_exact_end() {
    let server = common::server();
    let case = common::Case::new(&script(&server.url(""), 100, 14));
    let mut cmd = Command::new(common::bin());
    cmd.arg("run")
        .arg(case.script())
        .arg("--out")
        .arg(case.out())
        .args(["--quiet", "--dashboard", "--dashboard-linger", "60s"])
        .stdout(Stdio::null());
    let mut run = Run::start(cmd);
    let mut b = Browser::launch();
    let a = b.open(&run.url);
    let second = b.open(&run.url);
    let live = Duration::from_secs(15);
    b.wait_for(
        &a,
        &format!("!!document.querySelector('svg[data-chart=\"{OPS}\"] polyline')"),
        live,
        "page A draws the ops chart",
    );
    assert_eq!(text(&mut b, &a, "#status"), "live");
    // The charts gain points between two looks, on both pages at once.
    let a1 = points(&mut b, &a, OPS, "ops/s").len();
    // (ticks come once a second, but bunch up on a busy machine: wait for two, within 10 s)
    let (looked, mut a2) = (Instant::now(), a1);
    while a2 < a1 + 2 && looked.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(250));
        a2 = points(&mut b, &a, OPS, "ops/s").len();
    }
    assert!(a2 >= a1 + 2, "page A's ops/s gained points: {a1} -> {a2}");
    let s2 = points(&mut b, &second, OPS, "ops/s");
    assert!(
        s2.len() + 1 >= a2,
        "page B sees the same run: {} vs {a2}",
        s2.len()
    );
    let lat = points(&mut b, &a, "http.request/latency", "p99").len();
    assert!(lat >= a1, "p99 is drawn: {lat} points");
    assert!(
        !points(&mut b, &a, "http.request/errors", "client").is_empty(),
        "failures by kind"
    );
    assert!(
        !points(&mut b, &a, "cpu", "").is_empty(),
        "the generator's CPU is drawn"
    );
    assert_eq!(
        text(&mut b, &a, r#"tr[data-threshold="0"] td:nth-child(3)"#),
        "ok",
        "the threshold's state is shown"
    );
    b.screenshot(&a, &artifacts().join("dashboard-live.png"));
    // Page A goes away; a page opened later is sent the whole run so far.
    b.close(a);
    std::thread::sleep(Duration::from_millis(1500));
    let c = b.open(&run.url);
    b.wait_for(
        &c,
        &format!("!!document.querySelector('svg[data-chart=\"{OPS}\"] polyline')"),
        live,
        "page C draws",
    );
    let (bp, cp) = (
        points(&mut b, &second, OPS, "ops/s"),
        points(&mut b, &c, OPS, "ops/s"),
    );
    // (the x of the first point is its second of the run; its y follows the chart's scale, which a
    // new highest ops/s between the two looks would change)
    assert_eq!(
        cp.first().map(|p| p.0),
        bp.first().map(|p| p.0),
        "page C starts where the run started"
    );
    assert!(
        cp.len() + 1 >= bp.len(),
        "page C has the whole history: {} vs {}",
        cp.len(),
        bp.len()
    );
    // The run ends with both pages open: the final summary appears, equal to the result file.
    b.wait_for(
        &second,
        FINAL,
        Duration::from_secs(40),
        "page B shows the final summary",
    );
    b.wait_for(
        &c,
        FINAL,
        Duration::from_secs(5),
        "page C shows the final summary",
    );
    let result = case.result();
    for p in [&second, &c] {
        assert_final_matches(&mut b, p, &result);
        assert_eq!(text(&mut b, p, "#status"), "ended");
        // The charts are now the result's series: one point per second of the file.
        let seconds = result["series"].as_array().unwrap().len();
        assert_eq!(points(&mut b, p, OPS, "ops/s").len(), seconds);
    }
    // The files are offered while loadgen lingers.
    let id = b.eval(
        &second,
        "fetch('/result.json').then(r => r.json()).then(j => j.run_id)",
    );
    assert_eq!(id, result["run_id"]);
    let report = b.eval(
        &second,
        "fetch('/report.html').then(r => r.text()).then(t => t.includes('loadgen report'))",
    );
    assert_eq!(report, Value::Bool(true));
    b.screenshot(&second, &artifacts().join("dashboard-end.png"));
    // Ctrl-C ends the linger at once.
    let t = Instant::now();
    run.interrupt();
    run.wait(Duration::from_secs(10));
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "Ctrl-C ended the linger"
    );
}

/// Without --dashboard-linger loadgen exits when the run ends, as without a dashboard; an open
/// page is still sent the end first, and shows the final summary, not a lost connection.
#[test]
fn a_run_that_ends_with_the_page_open_leaves_its_summary_on_it() {
    let server = common::server();
    let case = common::Case::new(&script(&server.url(""), 50, 8));
    let mut cmd = Command::new(common::bin());
    cmd.arg("run")
        .arg(case.script())
        .arg("--out")
        .arg(case.out())
        .args(["--quiet", "--dashboard"])
        .stdout(Stdio::null());
    let mut run = Run::start(cmd);
    let mut b = Browser::launch();
    let p = b.open(&run.url);
    // The page is connected and drawing before the run ends (a busy machine starts Chromium slowly).
    b.wait_for(
        &p,
        &format!("!!document.querySelector('svg[data-chart=\"{OPS}\"] polyline')"),
        Duration::from_secs(8),
        "the page draws while the run goes on",
    );
    assert_eq!(run.wait(Duration::from_secs(30)), 0);
    b.wait_for(
        &p,
        FINAL,
        Duration::from_secs(5),
        "the final summary after loadgen exited",
    );
    assert_final_matches(&mut b, &p, &case.result());
    assert_eq!(text(&mut b, &p, "#status"), "ended");
}

/// A run that fails before its load (here in `setup()`) never sends the plan at t0: the page still
/// shows how it ended instead of waiting for a start.
#[test]
fn a_run_that_fails_before_its_load_shows_its_failure() {
    let case = common::Case::new(
        r#"
options = { scenarios = { s = { executor = "constant-vus", vus = 1, duration = "5s" } } }
function setup() error("the topic is missing") end
function default() end
"#,
    );
    let mut cmd = Command::new(common::bin());
    cmd.arg("run")
        .arg(case.script())
        .arg("--out")
        .arg(case.out())
        .args(["--quiet", "--dashboard", "--dashboard-linger", "60s"])
        .stdout(Stdio::null());
    let mut run = Run::start(cmd);
    let mut b = Browser::launch();
    let p = b.open(&run.url);
    b.wait_for(
        &p,
        FINAL,
        Duration::from_secs(15),
        "the final summary of a failed run",
    );
    assert_eq!(text(&mut b, &p, "#final-status"), "failed");
    assert!(
        text(&mut b, &p, "#final").contains("the topic is missing"),
        "the page names the failure"
    );
    run.interrupt();
    assert_eq!(
        run.wait(Duration::from_secs(10)),
        3,
        "setup's failure exits 3 (script)"
    );
}

/// `loadgen report --serve` draws a finished result file with the same page.
#[test]
fn report_serve_shows_a_result_file_as_the_live_page_did() {
    let server = common::server();
    let case = common::Case::new(&script(&server.url(""), 50, 3));
    let o = case.run(&[]);
    assert_eq!(common::code(&o), 0, "{}", common::stderr(&o));
    let mut cmd = Command::new(common::bin());
    cmd.args(["report", "--serve"])
        .arg(case.out())
        .stdout(Stdio::null());
    let mut run = Run::start(cmd);
    let mut b = Browser::launch();
    let p = b.open(&run.url);
    b.wait_for(&p, FINAL, Duration::from_secs(10), "the file's summary");
    let result = case.result();
    assert_final_matches(&mut b, &p, &result);
    let seconds = result["series"].as_array().unwrap().len();
    assert_eq!(points(&mut b, &p, OPS, "ops/s").len(), seconds);
    b.screenshot(&p, &artifacts().join("dashboard-report-serve.png"));
    // A page of another site pointed at 127.0.0.1 (DNS rebinding) names itself in Host: refused.
    assert_eq!(
        status_line(&run.url, "rebind.example"),
        "HTTP/1.1 403 Forbidden"
    );
    assert_eq!(status_line(&run.url, "localhost"), "HTTP/1.1 200 OK");
    run.interrupt();
    assert_eq!(run.wait(Duration::from_secs(10)), 0);
}
