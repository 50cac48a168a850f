//! Secrets given to bindings never reach an output (issue 16, item 5): Hive's `password`, HTTP
//! `Authorization` headers and credentials in URLs, Kafka's SASL settings in `config`.
//!
//! Each run has a secret of its own, and everything a user could see of it is searched for that
//! secret: what `loadgen run` printed (stdout, and stderr with its progress lines: no run here is
//! `--quiet`), the result file, `loadgen report`'s page, `loadgen compare`'s output, `loadgen
//! merge`'s output and merged file, and `loadgen check`'s output. The runs take the error paths on
//! purpose (refused connections, timeouts, bad SQL, refused logins, bad options), and the scripts
//! raise every error message a binding returned, so those messages reach the result file, the
//! summary and the merged file too. The first test shows the search finds a secret wherever a
//! script puts one. Against the real servers (tests/common/stack.rs): a server missing fails the test,
//! naming it.

mod common;

use base64::Engine;
use common::stack::*;
use common::*;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

/// A secret no output holds by chance: letters, digits and '-' only, so that JSON, HTML and URL
/// encodings leave it as it is.
fn secret() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "s3cr3t-{}-{}-{}",
        std::process::id(),
        loadgen::epoch_micros(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// A secret made of digits only (a password Lua holds as a number).
fn numeric_secret() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst) as i64;
    format!(
        "9{:014}",
        (loadgen::epoch_micros() + n) % 100_000_000_000_000
    )
}

/// What to search for: the secret, and the HTTP Basic credentials the runs could make of it.
fn needles(secret: &str) -> Vec<String> {
    let basic =
        |user: &str| base64::engine::general_purpose::STANDARD.encode(format!("{user}:{secret}"));
    vec![secret.to_string(), basic("loadgen"), basic("user")]
}

/// A TCP port on 127.0.0.1 that nothing listens on (bound, then closed).
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Every output of one run, by name.
#[derive(Default)]
struct Outputs(Vec<(String, String)>);

impl Outputs {
    fn add(&mut self, name: &str, text: String) {
        self.0.push((name.to_string(), text));
    }

    fn command(&mut self, name: &str, o: &Output) {
        self.add(&format!("{name} stdout"), stdout(o));
        self.add(&format!("{name} stderr"), stderr(o));
    }

    fn file(&mut self, name: &str, path: &Path) {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("{name} {}: {e}", path.display()));
        self.add(name, text);
    }

    /// The outputs holding any of `needles`, each with the text around the first it holds.
    fn holding(&self, needles: &[String]) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (name, text) in &self.0 {
            if let Some(at) = needles.iter().find_map(|n| text.find(n.as_str())) {
                let mut from = at.saturating_sub(120);
                while !text.is_char_boundary(from) {
                    from -= 1;
                }
                let mut to = (at + 160).min(text.len());
                while !text.is_char_boundary(to) {
                    to += 1;
                }
                out.push((name.clone(), text[from..to].to_string()));
            }
        }
        out
    }

    fn names(&self) -> Vec<&str> {
        self.0.iter().map(|(n, _)| n.as_str()).collect()
    }
}

/// Why `secrets` are not kept out of `outs`, naming each output that holds one; None if they are.
fn leaks(secrets: &[&str], outs: &Outputs) -> Option<String> {
    let needles: Vec<String> = secrets.iter().flat_map(|s| needles(s)).collect();
    let found = outs.holding(&needles);
    (!found.is_empty()).then(|| {
        let each: Vec<String> = found
            .iter()
            .map(|(name, around)| format!("{name}: ...{around}..."))
            .collect();
        format!(
            "a secret ({}) leaked into {} of the run's outputs:\n{}",
            secrets.join(", "),
            found.len(),
            each.join("\n")
        )
    })
}

fn assert_kept(secrets: &[&str], outs: &Outputs) {
    if let Some(why) = leaks(secrets, outs) {
        panic!("{why}");
    }
}

fn loadgen(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(bin()).args(args).output().unwrap()
}

/// Runs the case (with live progress, not `--quiet`) and everything that reads its result; returns
/// the run's own output and every output.
fn outputs_of(case: &Case, args: &[&str]) -> (Output, Outputs) {
    let mut outs = Outputs::default();
    let run = Command::new(bin())
        .arg("run")
        .arg(case.script())
        .arg("--out")
        .arg(case.out())
        .args(args)
        .output()
        .unwrap();
    outs.command("loadgen run", &run);
    assert!(
        case.out().is_file(),
        "loadgen run wrote no result file: {}",
        stderr(&run)
    );
    outs.file("the result file", &case.out());

    let page = case.path("page.html");
    let o = loadgen(&[
        "report".as_ref(),
        case.out().as_ref(),
        "--out".as_ref(),
        page.as_ref(),
    ]);
    assert_eq!(code(&o), 0, "loadgen report: {}", stderr(&o));
    outs.command("loadgen report", &o);
    outs.file("the report page", &page);

    let o = loadgen(&["compare".as_ref(), case.out().as_ref(), case.out().as_ref()]);
    assert_eq!(code(&o), 0, "loadgen compare: {}", stderr(&o));
    outs.command("loadgen compare", &o);

    let merged = case.path("merged.json");
    let o = loadgen(&[
        "merge".as_ref(),
        case.out().as_ref(),
        "-o".as_ref(),
        merged.as_ref(),
    ]);
    assert_eq!(code(&o), 0, "loadgen merge: {}", stderr(&o));
    outs.command("loadgen merge", &o);
    outs.file("the merged file", &merged);

    // `check` reads the script as `run` does (its exit code follows the script's errors).
    let o = Command::new(bin())
        .arg("check")
        .arg(case.script())
        .args(args)
        .output()
        .unwrap();
    outs.command("loadgen check", &o);
    (run, outs)
}

/// `-e KEY=VALUE` for each pair.
fn env_args(pairs: &[(&str, &str)]) -> Vec<String> {
    pairs
        .iter()
        .flat_map(|(k, v)| ["-e".to_string(), format!("{k}={v}")])
        .collect()
}

fn as_strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// The script errors of a result file, as one text.
fn script_errors(outs: &Outputs) -> String {
    let text = &outs
        .0
        .iter()
        .find(|(n, _)| n == "the result file")
        .unwrap()
        .1;
    let r: serde_json::Value = serde_json::from_str(text).unwrap();
    r["script_errors"].to_string()
}

/// Lua shared by the scripts: `expect(r, name, ok)` notes a call's error, or that it did not end as
/// expected; `raise()` prints the notes and raises them as one script error.
const NOTES: &str = r#"
local notes = {}
local function expect(r, name, ok)
  if ok and r.err then
    table.insert(notes, name .. " failed unexpectedly: " .. tostring(r.error))
  elseif not ok and not r.err then
    table.insert(notes, name .. " succeeded unexpectedly")
  elseif not ok then
    table.insert(notes, name .. ": " .. tostring(r.err) .. ": " .. tostring(r.error))
  end
end
local function raise()
  local text = table.concat(notes, " | ")
  notes = {}
  print(text)
  error(text)
end
"#;

#[test]
fn the_search_finds_a_secret_wherever_a_script_puts_it() {
    let s = secret();
    let case = Case::new(
        r#"
local lg = require("loadgen")
local s = lg.env("SECRET")
print("init " .. s)
local c = lg.counter("marker " .. s)
options = { iterations = 1 }
function default()
  io.stderr:write("stderr " .. s .. "\n")
  c:add(1)
  error("raised " .. s)
end
"#,
    );
    let (_, outs) = outputs_of(&case, &["-e", &format!("SECRET={s}")]);
    let found: Vec<String> = outs
        .holding(&needles(&s))
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    for name in [
        "loadgen run stdout",
        "loadgen run stderr",
        "the result file",
        "the report page",
        "loadgen compare stdout",
        "loadgen merge stdout",
        "the merged file",
        "loadgen check stdout",
    ] {
        assert!(
            found.iter().any(|f| f == name),
            "{name} not found to hold the secret; found: {found:?}; outputs: {:?}",
            outs.names()
        );
    }
    let why = leaks(&[&s], &outs).expect("a leak is reported");
    assert!(
        why.contains("\nthe result file: ...")
            && why.contains("\nloadgen run stderr: ...stderr s3cr3t-"),
        "{why}"
    );
    // The Basic credentials a client would send are found too, inside other text.
    let mut basic = Outputs::default();
    basic.add(
        "a header",
        format!("authorization: Basic {}\r\n", needles(&s)[1]),
    );
    assert!(leaks(&[&s], &basic).is_some_and(|w| w.contains("a header")));
    assert!(leaks(&["s3cr3t-never-used"], &outs).is_none());
}

#[test]
fn http_authorization_headers_and_url_credentials_stay_out_of_every_output() {
    let srv = server();
    let s = secret();
    let dead = format!("127.0.0.1:{}", closed_port());
    let case = Case::new(&format!(
        r#"
local lg = require("loadgen")
local http = require("loadgen.http")
local S, SRV, DEAD = lg.env("SECRET"), lg.env("SRV"), lg.env("DEAD")
local bearer = {{ authorization = "Bearer " .. S, cookie = "sid=" .. S }}
local c = http.client{{ base_url = "http://" .. SRV, headers = bearer, rate_limit = 1000 }}
local creds = http.client{{ base_url = "http://user:" .. S .. "@" .. DEAD, headers = bearer, timeout = "1s" }}
options = {{ vus = 1, duration = "6s" }}
{NOTES}
function default()
  expect(http.get("http://" .. SRV .. "/", {{ headers = bearer }}), "bearer", true)
  expect(c:get("/"), "client bearer", true)
  expect(http.get("http://user:" .. S .. "@" .. SRV .. "/"), "url credentials", true)
  expect(http.get("http://user:" .. S .. "@" .. SRV .. "/status/401"), "url credentials 401", false)
  expect(c:get("/status/403"), "client bearer 403", false)
  expect(http.get("http://" .. DEAD .. "/", {{ headers = bearer, timeout = "1s" }}), "bearer refused", false)
  expect(http.get("http://user:" .. S .. "@" .. DEAD .. "/", {{ timeout = "1s" }}), "url credentials refused", false)
  expect(creds:post("/x", "body"), "client credentials refused", false)
  expect(http.get("http://" .. SRV .. "/slow?ms=3000", {{ headers = bearer, timeout = "100ms" }}), "bearer timeout", false)
  expect(http.get("http://user:" .. S .. "@" .. SRV .. "/slow?ms=3000", {{ timeout = "100ms" }}), "url credentials timeout", false)
  expect(http.get("http://user:" .. S .. "@127.0.0.1:99999/"), "url credentials bad port", false)
  local ok, e = pcall(http.get, "ftp://user:" .. S .. "@" .. SRV .. "/")
  table.insert(notes, "not http: " .. tostring(ok) .. " " .. tostring(e))
  lg.sleep(0.3)
  raise()
end
"#
    ));
    let env = env_args(&[
        ("SECRET", &s),
        ("SRV", &srv.addr.to_string()),
        ("DEAD", &dead),
    ]);
    let (run, outs) = outputs_of(&case, &as_strs(&env));
    assert_eq!(code(&run), 0, "{}", stderr(&run));
    assert_kept(&[&s], &outs);
    // Every path ran, its message reached the result, and the progress line was printed.
    let errors = script_errors(&outs);
    for what in [
        "url credentials 401: client: HTTP 401",
        "client bearer 403: client: HTTP 403",
        "bearer refused: connect: GET http://127.0.0.1:",
        "url credentials refused: connect: GET http://user:<hidden ",
        "client credentials refused: connect: POST http://user:<hidden ",
        "url credentials timeout: timeout: GET http://user:<hidden ",
        "bearer timeout: timeout: ",
        "url credentials bad port: client: bad URL http://user:<hidden ",
        "not http: false ",
    ] {
        assert!(errors.contains(what), "{what} not in {errors}");
    }
    assert!(!errors.contains("unexpectedly"), "{errors}");
    assert!(srv.hits() > 0);
    assert!(
        stderr(&run).contains("s/6s"),
        "no progress: {}",
        stderr(&run)
    );
}

#[test]
fn http_option_errors_hide_the_secrets_they_are_about() {
    let s = secret();
    // The same client name with other secrets in another VU: an error naming both clients.
    let twice = Case::new(
        r#"
local lg = require("loadgen")
local http = require("loadgen.http")
local S = lg.env("SECRET") .. "-" .. lg.vu()
http.client{ name = "api", base_url = "http://user:" .. S .. "@127.0.0.1:1",
             headers = { authorization = "Bearer " .. S }, rate_limit = 10 }
options = { vus = 2, iterations = 2 }
function default() end
"#,
    );
    // A header of the wrong type (a table, not text).
    let typed = Case::new(
        r#"
local lg = require("loadgen")
local http = require("loadgen.http")
http.client{ headers = { authorization = { "Bearer " .. lg.env("SECRET") } } }
function default() end
"#,
    );
    let env = env_args(&[("SECRET", &s)]);
    for (case, says) in [
        (twice, "by one VU and with"),
        (
            typed,
            "headers.authorization: expected a string, number or boolean, got a list",
        ),
    ] {
        let (run, outs) = outputs_of(&case, &as_strs(&env));
        assert_eq!(code(&run), 3, "{}", stderr(&run));
        assert!(stderr(&run).contains(says), "{}", stderr(&run));
        assert_kept(&[&s], &outs);
    }
}

#[test]
fn hive_passwords_stay_out_of_every_output() {
    require_hive();
    require_hive_http();
    let srv = server();
    let (s, n) = (secret(), numeric_secret());
    let dead = closed_port().to_string();
    let case = Case::new(&format!(
        r#"
local lg = require("loadgen")
local hive = require("loadgen.hive")
local S, NUM = lg.env("SECRET"), math.tointeger(tonumber(lg.env("NUM")))
local function conn(o, password)
  o.auth, o.user, o.password = "plain", "loadgen", password or S
  return hive.connect(o)
end
local binary, web = conn{{}}, conn{{ transport = "http" }}
local numeric = conn({{}}, NUM)
local dead = conn{{ port = tonumber(lg.env("DEAD")), healthcheck = false, timeout = "2s" }}
local dead_web = conn{{ transport = "http", port = tonumber(lg.env("DEAD")), healthcheck = false, timeout = "2s" }}
-- The test's HTTP server as a HiveServer2 that refuses the login, and one that fails.
local srv = tonumber(lg.env("SRV_PORT"))
local refused = conn{{ transport = "http", port = srv, http_path = "status/401", healthcheck = false }}
local broken = conn{{ transport = "http", port = srv, http_path = "status/500", healthcheck = false }}
options = {{ iterations = 2 }}
{NOTES}
function default()
  local r = binary:query("SELECT 1")
  expect(r, "binary", true)
  assert(r.rows and r.rows[1][1] == 1, "SELECT 1 over binary")
  expect(web:query("SELECT 1"), "http", true)
  expect(numeric:query("SELECT 1"), "numeric password", true)
  expect(binary:query("SELECT * FROM no_such_table_secrets_test"), "bad sql", false)
  expect(web:execute("CREATE TABLE"), "bad sql over http", false)
  expect(dead:query("SELECT 1"), "binary refused", false)
  expect(dead_web:query("SELECT 1"), "http refused", false)
  expect(refused:query("SELECT 1"), "login refused", false)
  expect(broken:query("SELECT 1"), "server error", false)
  raise()
end
"#
    ));
    let env = env_args(&[
        ("SECRET", &s),
        ("NUM", &n),
        ("DEAD", &dead),
        ("SRV_PORT", &srv.addr.port().to_string()),
    ]);
    let (run, outs) = outputs_of(&case, &as_strs(&env));
    assert_eq!(code(&run), 0, "{}", stderr(&run));
    assert_kept(&[&s, &n], &outs);
    let errors = script_errors(&outs);
    for what in [
        "bad sql: server: hive: ",
        "bad sql over http: server: hive: ",
        "binary refused: connect: hive: cannot connect to 127.0.0.1:",
        "http refused: connect: hive: POST http://127.0.0.1:",
        "login refused: protocol: hive: POST http://127.0.0.1:",
        "(the server refused the credentials: check user, password and auth)",
        "server error: protocol: hive: POST http://127.0.0.1:",
    ] {
        assert!(errors.contains(what), "{what} not in {errors}");
    }
    assert!(!errors.contains("unexpectedly"), "{errors}");
    assert!(srv.hits() >= 2, "the refusing server was asked");
}

#[test]
fn hive_health_check_and_option_errors_hide_the_password() {
    require_hive();
    let s = secret();
    let dead = closed_port().to_string();
    let dead_addr = format!("127.0.0.1:{dead}");
    let script = |connect: &str| {
        Case::new(&format!(
            "local lg = require('loadgen')\nlocal hive = require('loadgen.hive')\nlocal S = lg.env('SECRET')\n{connect}\nfunction default() end\n"
        ))
    };
    let env = env_args(&[("SECRET", &s), ("DEAD", &dead)]);
    for (case, exit, says) in [
        (
            script(
                "hive.connect{ port = tonumber(lg.env('DEAD')), auth = 'plain', user = 'loadgen', password = S }",
            ),
            4,
            dead_addr.as_str(),
        ),
        (
            script(
                "hive.connect{ transport = 'http', port = tonumber(lg.env('DEAD')), auth = 'plain', user = 'loadgen', password = S }",
            ),
            4,
            dead_addr.as_str(),
        ),
        (
            script("hive.connect{ auth = 'plain', user = 'loadgen', password = S, protocol = 'binary' }"),
            3,
            "unknown option 'protocol'",
        ),
        (
            script("hive.connect{ auth = 'plain', user = 'loadgen', password = { S } }"),
            3,
            "password: expected a string, number or boolean, got a list",
        ),
    ] {
        let (run, outs) = outputs_of(&case, &as_strs(&env));
        assert_eq!(code(&run), exit, "{}", stderr(&run));
        assert!(stderr(&run).contains(says), "{says}: {}", stderr(&run));
        assert_kept(&[&s], &outs);
    }
}

#[test]
fn kafka_sasl_settings_stay_out_of_every_output() {
    require_kafka();
    let s = secret();
    let topic = unique("secrets");
    let case = Case::new(&format!(
        r#"
local lg = require("loadgen")
local kafka = require("loadgen.kafka")
local S, BROKERS, TOPIC = lg.env("SECRET"), lg.env("BROKERS"), lg.env("TOPIC")
-- The stack's brokers speak PLAINTEXT: every SASL handshake fails, which is the point.
local sasl = {{ ["security.protocol"] = "SASL_PLAINTEXT", ["sasl.mechanism"] = "PLAIN",
               ["sasl.username"] = "loadgen", ["sasl.password"] = S }}
local p = kafka.producer{{ brokers = BROKERS, timeout = "2s", config = sasl }}
local c = kafka.consumer{{ brokers = BROKERS, group = TOPIC, topics = {{ TOPIC }}, config = sasl,
                          join_timeout = "1s" }}
options = {{ iterations = 1 }}
{NOTES}
function default()
  expect(p:send{{ topic = TOPIC, value = "x" }}, "produce", false)
  for i = 1, 3 do
    local r = c:poll("1s")
    table.insert(notes, "poll " .. i .. ": " .. tostring(r.err) .. ": " .. tostring(r.error)
      .. " (" .. tostring(r.reason) .. ")")
  end
  raise()
end
"#
    ));
    let env = env_args(&[("SECRET", &s), ("BROKERS", KAFKA), ("TOPIC", &topic)]);
    let (run, outs) = outputs_of(&case, &as_strs(&env));
    assert_eq!(code(&run), 0, "{}", stderr(&run));
    assert_kept(&[&s], &outs);
    let errors = script_errors(&outs);
    assert!(errors.contains("produce: "), "{errors}");
    assert!(!errors.contains("unexpectedly"), "{errors}");
    assert!(
        errors.contains("Authentication failure")
            || errors.contains("All broker connections are down"),
        "the SASL handshakes' failure reached the script: {errors}"
    );
}

#[test]
fn kafka_option_errors_hide_sasl_settings() {
    require_kafka();
    let s = secret();
    let script = |body: &str| {
        Case::new(&format!(
            "local lg = require('loadgen')\nlocal kafka = require('loadgen.kafka')\nlocal S = lg.env('SECRET')\n{body}\n"
        ))
    };
    let init = |body: &str| script(&format!("{body}\nfunction default() end"));
    let env = env_args(&[("SECRET", &s), ("BROKERS", KAFKA)]);
    for (case, exit, says) in [
        // The same producer name with another password in another VU: an error naming both.
        (
            init(
                "options = { vus = 2, iterations = 2 }\nkafka.producer{ brokers = lg.env('BROKERS'), name = 'p', config = { ['sasl.password'] = S .. '-' .. lg.vu() } }",
            ),
            3,
            "by one VU and with",
        ),
        (
            init("kafka.producer{ brokers = lg.env('BROKERS'), config = { ['sasl.password'] = { S } } }"),
            3,
            "config.sasl.password: expected a string, number or boolean, got a list",
        ),
        // librdkafka refuses a misspelled setting, and rdkafka's message ends with its value.
        (
            init("kafka.producer{ brokers = lg.env('BROKERS'), config = { ['sasl.pasword'] = S } }"),
            3,
            "No such configuration property: \"sasl.pasword\"",
        ),
        (
            init(
                "kafka.producer{ brokers = lg.env('BROKERS'), config = { ['security.protocol'] = 'SASL_PLAINTEXT', ['sasl.mechanism'] = 'NONE-SUCH', ['sasl.username'] = 'loadgen', ['sasl.password'] = S } }",
            ),
            3,
            "NONE-SUCH",
        ),
        // A consumer is made at its first poll: its error is the poll's, raised by the script.
        (
            script(
                "local c = kafka.consumer{ brokers = lg.env('BROKERS'), group = 'g', topics = { 't' }, config = { ['sasl.pasword'] = S } }\nfunction default() local r = c:poll('1s'); error(tostring(r.err) .. ': ' .. tostring(r.error)) end",
            ),
            0,
            "No such configuration property: \\\"sasl.pasword\\\"",
        ),
    ] {
        let (run, outs) = outputs_of(&case, &as_strs(&env));
        assert_eq!(code(&run), exit, "{says}: {}", stderr(&run));
        let shown = format!("{}{}", stderr(&run), script_errors(&outs));
        assert!(shown.contains(says), "{says}: {shown}");
        assert_kept(&[&s], &outs);
    }
}

#[test]
fn elasticsearch_url_credentials_stay_out_of_every_output() {
    // No server: 127.0.0.1:1 refuses every connection, and 99999 is not a port.
    let s = secret();
    let script = |body: &str| {
        Case::new(&format!(
            "local lg = require('loadgen')\nlocal es = require('loadgen.elasticsearch')\nlocal S = lg.env('SECRET')\n{NOTES}\n{body}\n"
        ))
    };
    let refused = script(
        r#"
local c = es.client{ url = "http://user:" .. S .. "@127.0.0.1:1", healthcheck = false, timeout = "1s" }
options = { iterations = 1 }
function default()
  expect(c:count("i"), "count refused", false)
  expect(c:index("i", { a = 1 }), "index refused", false)
  expect(c:bulk("i", { { a = 1 } }), "bulk refused", false)
  raise()
end
"#,
    );
    let bad = script(
        "es.client{ urls = { 'http://127.0.0.1:1', 'http://user:' .. S .. '@127.0.0.1:99999' } }\nfunction default() end",
    );
    let env = env_args(&[("SECRET", &s)]);
    let (run, outs) = outputs_of(&refused, &as_strs(&env));
    assert_eq!(code(&run), 0, "{}", stderr(&run));
    assert_kept(&[&s], &outs);
    let errors = script_errors(&outs);
    for what in [
        "count refused: connect: ",
        "index refused: connect: ",
        "bulk refused: connect: ",
    ] {
        assert!(errors.contains(what), "{what} not in {errors}");
    }
    let (run, outs) = outputs_of(&bad, &as_strs(&env));
    assert_eq!(code(&run), 3, "{}", stderr(&run));
    let says = "bad url 'http://user:<hidden ";
    assert!(stderr(&run).contains(says), "{says}: {}", stderr(&run));
    assert_kept(&[&s], &outs);
}
