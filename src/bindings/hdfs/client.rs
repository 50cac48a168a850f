//! HDFS through hdfs-native (the NameNode and DataNode protocols, no JVM). Plain Rust, no Lua.
//! One client per worker thread and URL: its connections live on that thread's runtime. Every call is
//! bounded by the client's timeout, and NameNode retries are capped, so a dead NameNode is an error
//! within the timeout, never a hang.

use crate::metrics::recorder::Units;
use crate::metrics::{ErrorKind, OpError};
use bytes::Bytes;
use hdfs_native::{Client, ClientBuilder, HdfsError, WriteOptions};
use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub url: String,
    pub timeout: Duration,
    pub user: Option<String>,
}

thread_local! {
    static CLIENTS: RefCell<HashMap<String, Client>> = RefCell::new(HashMap::new());
}

fn build(s: &Settings) -> Result<Client, OpError> {
    let mut config = HashMap::new();
    // Fail over and retry a few times, not for minutes.
    config.insert(
        "dfs.client.failover.max.attempts".to_string(),
        "1".to_string(),
    );
    config.insert(
        "dfs.client.failover.sleep.base.millis".to_string(),
        "100".to_string(),
    );
    config.insert(
        "dfs.client.failover.sleep.max.millis".to_string(),
        "500".to_string(),
    );
    let mut b = ClientBuilder::new().with_url(&s.url).with_config(config);
    if let Some(u) = &s.user {
        b = b.with_user(u);
    }
    b.build()
        .map_err(|e| OpError::new(ErrorKind::Client, format!("hdfs client for {}: {e}", s.url)))
}

pub fn client(s: &Settings) -> Result<Client, OpError> {
    CLIENTS.with(|c| {
        let key = format!("{}|{:?}", s.url, s.user);
        if let Some(cl) = c.borrow().get(&key) {
            return Ok(cl.clone());
        }
        let cl = build(s)?;
        c.borrow_mut().insert(key, cl.clone());
        Ok(cl)
    })
}

/// NameNode exceptions that mean the request was wrong, not the server.
const CLIENT_EXCEPTIONS: &[&str] = &[
    "FileNotFoundException",
    "FileAlreadyExistsException",
    "AccessControlException",
    "ParentNotDirectoryException",
    "PathIsNotEmptyDirectoryException",
    "InvalidPathException",
    "AlreadyBeingCreatedException",
];

pub fn classify(e: &HdfsError) -> ErrorKind {
    match e {
        HdfsError::IOError(io) => match io.kind() {
            std::io::ErrorKind::TimedOut => ErrorKind::Timeout,
            std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::NotConnected
            | std::io::ErrorKind::AddrNotAvailable
            | std::io::ErrorKind::BrokenPipe => ErrorKind::Connect,
            _ => ErrorKind::Protocol,
        },
        HdfsError::InvalidPath(_)
        | HdfsError::InvalidArgument(_)
        | HdfsError::AlreadyExists(_)
        | HdfsError::FileNotFound(_)
        | HdfsError::IsADirectoryError(_)
        | HdfsError::UrlParseError(_)
        | HdfsError::TrashNotEnabled => ErrorKind::Client,
        // The NameNode names the Java exception: the caller's mistakes are client errors.
        HdfsError::RPCError(class, _) | HdfsError::FatalRPCError(class, _)
            if CLIENT_EXCEPTIONS.iter().any(|c| class.ends_with(c)) =>
        {
            ErrorKind::Client
        }
        HdfsError::RPCError(..) | HdfsError::FatalRPCError(..) | HdfsError::OperationFailed(_) => {
            ErrorKind::Server
        }
        _ => ErrorKind::Protocol,
    }
}

/// Runs `f` within the timeout, mapping errors to kinds.
async fn bounded<T>(
    s: &Settings,
    what: String,
    f: impl Future<Output = Result<T, HdfsError>>,
) -> Result<T, OpError> {
    match tokio::time::timeout(s.timeout, f).await {
        Err(_) => Err(OpError::new(
            ErrorKind::Timeout,
            format!("{what}: no answer from {} within {:?}", s.url, s.timeout),
        )),
        Ok(Err(e)) => Err(OpError::new(classify(&e), format!("{what}: {e}"))),
        Ok(Ok(v)) => Ok(v),
    }
}

pub async fn write(
    s: &Settings,
    path: &str,
    data: Vec<u8>,
    overwrite: bool,
) -> (Result<(), OpError>, Units) {
    let n = data.len() as u64;
    let r = async {
        let c = client(s)?;
        let opts = WriteOptions {
            overwrite,
            ..Default::default()
        };
        let mut w = bounded(s, format!("create {path}"), c.create(path, opts)).await?;
        bounded(s, format!("write {path}"), w.write_bytes(Bytes::from(data))).await?;
        bounded(s, format!("close {path}"), w.close()).await
    }
    .await;
    let units = if r.is_ok() {
        Units::none().with("bytes", n)
    } else {
        Units::none()
    };
    (r, units)
}

pub async fn append(s: &Settings, path: &str, data: Vec<u8>) -> (Result<(), OpError>, Units) {
    let n = data.len() as u64;
    let r = async {
        let c = client(s)?;
        let mut w = bounded(s, format!("append {path}"), c.append(path)).await?;
        bounded(s, format!("write {path}"), w.write_bytes(Bytes::from(data))).await?;
        bounded(s, format!("close {path}"), w.close()).await
    }
    .await;
    let units = if r.is_ok() {
        Units::none().with("bytes", n)
    } else {
        Units::none()
    };
    (r, units)
}

pub async fn read(s: &Settings, path: &str) -> (Result<Vec<u8>, OpError>, Units) {
    let r = async {
        let c = client(s)?;
        let mut rd = bounded(s, format!("open {path}"), c.read(path)).await?;
        let len = rd.file_length();
        let b = bounded(s, format!("read {path}"), rd.read_bytes(len)).await?;
        Ok(b.to_vec())
    }
    .await;
    let units = match &r {
        Ok(b) => Units::none().with("bytes", b.len() as u64),
        Err(_) => Units::none(),
    };
    (r, units)
}

/// `(path, length, is_dir)` of each entry.
pub async fn list(
    s: &Settings,
    path: &str,
    recursive: bool,
) -> (Result<Vec<(String, u64, bool)>, OpError>, Units) {
    let r = async {
        let c = client(s)?;
        let st = bounded(s, format!("list {path}"), c.list_status(path, recursive)).await?;
        Ok(st
            .into_iter()
            .map(|f| (f.path, f.length as u64, f.isdir))
            .collect())
    }
    .await;
    (r, Units::none())
}

pub async fn mkdirs(s: &Settings, path: &str) -> (Result<(), OpError>, Units) {
    let r = async {
        let c = client(s)?;
        bounded(s, format!("mkdirs {path}"), c.mkdirs(path, 0o755, true)).await
    }
    .await;
    (r, Units::none())
}

pub async fn delete(s: &Settings, path: &str, recursive: bool) -> (Result<bool, OpError>, Units) {
    let r = async {
        let c = client(s)?;
        bounded(s, format!("delete {path}"), c.delete(path, recursive)).await
    }
    .await;
    (r, Units::none())
}

/// `(bytes, files, directories)` under a path.
pub async fn du(s: &Settings, path: &str) -> (Result<(u64, u64, u64), OpError>, Units) {
    let r = async {
        let c = client(s)?;
        let cs = bounded(s, format!("du {path}"), c.get_content_summary(path)).await?;
        Ok((cs.length, cs.file_count, cs.directory_count))
    }
    .await;
    (r, Units::none())
}

/// Reaches the NameNode before the run (on a runtime of its own, with a client that is not kept).
pub fn healthcheck(s: &Settings) -> Result<(), String> {
    let fail = |m: String| format!("hdfs: cannot reach the NameNode at {}: {m}", s.url);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| fail(e.to_string()))?;
    rt.block_on(async {
        let c = build(s).map_err(|e| fail(e.message))?;
        bounded(s, "get_file_info /".into(), c.get_file_info("/"))
            .await
            .map(|_| ())
            .map_err(|e| fail(e.message))
    })
}
