//! A small HTTP server for the CLI tests, bound to 127.0.0.1:0 on its own thread.
//!
//! Routes: `/` 200 "hello"; `/slow?ms=N` waits N ms; `/echo` returns the request body;
//! `/status/N` answers with status N; `/stall` holds every answer while the server is in a stall
//! window (the first 300 ms of every second since start). Every request is counted.

#![allow(dead_code)]

pub mod bad_server;
pub mod fault;
pub mod stack;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct Server {
    pub addr: SocketAddr,
    pub hits: Arc<AtomicU64>,
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::SeqCst)
    }
}

async fn handle(
    req: Request<Incoming>,
    hits: Arc<AtomicU64>,
    t0: Instant,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    hits.fetch_add(1, Ordering::SeqCst);
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let resp = |status: u16, body: Bytes| {
        Response::builder()
            .status(status)
            .body(Full::new(body))
            .unwrap()
    };
    Ok(match path.as_str() {
        "/" => resp(200, Bytes::from_static(b"hello")),
        "/slow" => {
            let ms: u64 = query
                .strip_prefix("ms=")
                .and_then(|v| v.parse().ok())
                .unwrap_or(100);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            resp(200, Bytes::from_static(b"slow"))
        }
        "/echo" => {
            let body = req.into_body().collect().await?.to_bytes();
            resp(200, body)
        }
        "/stall" => {
            let into = t0.elapsed().as_millis() as u64 % 1000;
            if into < 300 {
                tokio::time::sleep(Duration::from_millis(300 - into)).await;
            }
            resp(200, Bytes::from_static(b"ok"))
        }
        p if p.starts_with("/status/") => {
            let code: u16 = p[8..].parse().unwrap_or(500);
            resp(code, Bytes::from_static(b"status"))
        }
        _ => resp(404, Bytes::from_static(b"not found")),
    })
}

/// Starts the server on its own thread and runtime; it lives until the test process ends.
pub fn server() -> Server {
    let hits = Arc::new(AtomicU64::new(0));
    let h = hits.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            let t0 = Instant::now();
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let hits = h.clone();
                tokio::spawn(async move {
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let svc = hyper::service::service_fn(move |req| handle(req, hits.clone(), t0));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, svc)
                        .await;
                });
            }
        });
    });
    let addr = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    Server { addr, hits }
}

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_loadgen"))
}

/// A temporary folder with the script written into it.
pub struct Case {
    pub dir: tempfile::TempDir,
}

impl Case {
    pub fn new(script: &str) -> Case {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("script.lua"), script).unwrap();
        Case { dir }
    }
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    pub fn script(&self) -> PathBuf {
        self.path("script.lua")
    }
    pub fn out(&self) -> PathBuf {
        self.path("result.json")
    }
    /// `loadgen run script.lua --out result.json --quiet ARGS...`
    pub fn run(&self, args: &[&str]) -> Output {
        let mut c = Command::new(bin());
        c.arg("run")
            .arg(self.script())
            .arg("--out")
            .arg(self.out())
            .arg("--quiet");
        c.args(args);
        c.output().unwrap()
    }
    pub fn result(&self) -> serde_json::Value {
        let text = std::fs::read_to_string(self.out()).expect("a result file");
        serde_json::from_str(&text).unwrap()
    }
}

pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Validates a result against docs/result.schema.json.
pub fn assert_valid(result: &serde_json::Value) {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/docs/result.schema.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(result)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "result does not match the schema:\n{}",
        errors.join("\n")
    );
}
