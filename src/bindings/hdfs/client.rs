//! HDFS through hdfs-native (the NameNode and DataNode protocols, no JVM), and writes through
//! loadgen's own write path (`super::wire`) unless told otherwise. Plain Rust, no Lua.
//! One client per worker thread and URL: its connections live on that thread's runtime. Every call is
//! bounded by the client's timeout, and NameNode retries are capped, so a dead NameNode is an error
//! within the timeout, never a hang.

use super::wire::{self, pipeline::PipelineError, rpc::RpcError, WriteError};
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
    pub writer: Writer,
    /// A nameservice's NameNodes (`hdfs://ns` with `namenodes = { ... }`), `host:port` each.
    pub namenodes: Vec<String>,
    /// Where loadgen's own writer writes (None: hdfs-native writes).
    direct: Option<wire::Target>,
}

impl Settings {
    /// Resolves the writer's NameNodes and user once, not per write.
    pub fn new(
        url: String,
        timeout: Duration,
        user: Option<String>,
        writer: Writer,
        namenodes: Vec<String>,
    ) -> Settings {
        let mut s = Settings {
            url,
            timeout,
            user,
            writer,
            namenodes,
            direct: None,
        };
        let addrs = match namenode_addr(&s.url) {
            Some(a) => vec![a],
            None => s.namenodes.clone(),
        };
        s.direct = (writer == Writer::Loadgen && !addrs.is_empty())
            .then(|| wire::Target::new(addrs, effective_user(&s)));
        s
    }

    /// The nameservice of an `hdfs://ns` URL that names no port.
    pub fn nameservice(&self) -> Option<&str> {
        let rest = self.url.strip_prefix("hdfs://")?;
        let authority = rest.split('/').next().unwrap_or("");
        (!authority.is_empty() && !authority.contains(':')).then_some(authority)
    }
}

/// Which client writes files (`hdfs.client{ writer = ... }`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Writer {
    /// loadgen's own write path (`super::wire`): short waits when closing a file.
    Loadgen,
    /// hdfs-native's writer (waits 500 ms, doubling, when the NameNode is not ready to close a file).
    HdfsNative,
}

impl Writer {
    pub fn parse(s: &str) -> Option<Writer> {
        match s {
            "loadgen" => Some(Writer::Loadgen),
            "hdfs-native" => Some(Writer::HdfsNative),
            _ => None,
        }
    }
}

/// The NameNode's `host:port` when the URL names one (`hdfs://127.0.0.1:8020/...`); `None` for a
/// nameservice (`hdfs://ns1`), which only hdfs-native resolves.
fn namenode_addr(url: &str) -> Option<String> {
    let rest = url.strip_prefix("hdfs://")?;
    let authority = rest.split('/').next().unwrap_or("");
    let (host, port) = authority.rsplit_once(':')?;
    (!host.is_empty() && port.parse::<u16>().is_ok()).then(|| authority.to_string())
}

/// The user files are written as, as Hadoop's clients choose it with simple authentication: the
/// client's `user`, else `HADOOP_USER_NAME`, else the operating system's user.
fn effective_user(s: &Settings) -> String {
    if let Some(u) = &s.user {
        return u.clone();
    }
    if let Ok(u) = std::env::var("HADOOP_USER_NAME") {
        return u;
    }
    os_user().unwrap_or_else(|| "unknown".to_string())
}

fn os_user() -> Option<String> {
    let mut buf: Vec<libc::c_char> = vec![0; 4096];
    let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
    let mut out: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: getpwuid_r writes into `pw` and `buf`, which outlive the call; `out` is null or `&pw`.
    let rc = unsafe {
        libc::getpwuid_r(
            libc::geteuid(),
            &mut pw,
            buf.as_mut_ptr(),
            buf.len(),
            &mut out,
        )
    };
    if rc != 0 || out.is_null() || pw.pw_name.is_null() {
        return None;
    }
    // SAFETY: pw_name points into `buf`, a NUL-terminated string written by getpwuid_r.
    let name = unsafe { std::ffi::CStr::from_ptr(pw.pw_name) };
    Some(name.to_string_lossy().into_owned())
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
    // A nameservice: its NameNodes nn1, nn2, ... in the given order; hdfs-native fails over between them.
    if let (Some(ns), false) = (s.nameservice(), s.namenodes.is_empty()) {
        let ids: Vec<String> = (1..=s.namenodes.len()).map(|i| format!("nn{i}")).collect();
        config.insert(format!("dfs.ha.namenodes.{ns}"), ids.join(","));
        for (id, addr) in ids.iter().zip(&s.namenodes) {
            config.insert(format!("dfs.namenode.rpc-address.{ns}.{id}"), addr.clone());
        }
    }
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

fn io_kind(e: &std::io::Error) -> ErrorKind {
    match e.kind() {
        std::io::ErrorKind::TimedOut => ErrorKind::Timeout,
        std::io::ErrorKind::ConnectionRefused
        | std::io::ErrorKind::ConnectionReset
        | std::io::ErrorKind::ConnectionAborted
        | std::io::ErrorKind::NotConnected
        | std::io::ErrorKind::AddrNotAvailable
        | std::io::ErrorKind::BrokenPipe
        | std::io::ErrorKind::UnexpectedEof => ErrorKind::Connect,
        _ => ErrorKind::Protocol,
    }
}

/// The kind of a failed write through loadgen's own write path.
pub fn classify_write(e: &WriteError) -> ErrorKind {
    match e {
        WriteError::Rpc(_, RpcError::Io(io)) | WriteError::Pipeline(_, PipelineError::Io(io)) => {
            io_kind(io)
        }
        WriteError::Rpc(_, RpcError::Protocol(_))
        | WriteError::Pipeline(_, PipelineError::Protocol(_)) => ErrorKind::Protocol,
        WriteError::Rpc(_, RpcError::Remote { class, .. })
            if CLIENT_EXCEPTIONS.iter().any(|c| class.ends_with(c)) =>
        {
            ErrorKind::Client
        }
        WriteError::Pipeline(
            _,
            PipelineError::BadNode {
                unreachable: true, ..
            },
        ) => ErrorKind::Connect,
        WriteError::Rpc(_, RpcError::Remote { .. })
        | WriteError::Pipeline(_, PipelineError::Refused(_) | PipelineError::BadNode { .. })
        | WriteError::NotComplete(_) => ErrorKind::Server,
    }
}

pub fn classify(e: &HdfsError) -> ErrorKind {
    match e {
        HdfsError::IOError(io) => io_kind(io),
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

/// Writes a whole file. Units: `bytes`, and with loadgen's writer `complete_waits` (how many times
/// the NameNode answered "not yet" when the file was closed).
pub async fn write(
    s: &Settings,
    path: &str,
    data: Vec<u8>,
    o: wire::WriteOptions,
) -> (Result<(), OpError>, Units) {
    let n = data.len() as u64;
    let r = match &s.direct {
        Some(t) => {
            match tokio::time::timeout(s.timeout, wire::write_file(t, path, &data, &o)).await {
                Err(_) => Err(OpError::new(
                    ErrorKind::Timeout,
                    format!(
                        "write {path}: no answer from {} within {:?}",
                        s.url, s.timeout
                    ),
                )),
                Ok(Err(e)) => Err(OpError::new(classify_write(&e), e.to_string())),
                Ok(Ok(st)) => Ok(Some(st.complete_waits)),
            }
        }
        None => {
            async {
                let c = client(s)?;
                let opts = WriteOptions {
                    overwrite: o.overwrite,
                    replication: o.replication,
                    block_size: o.block_size,
                    ..Default::default()
                };
                let mut w = bounded(s, format!("create {path}"), c.create(path, opts)).await?;
                bounded(s, format!("write {path}"), w.write_bytes(Bytes::from(data))).await?;
                bounded(s, format!("close {path}"), w.close()).await?;
                Ok(None)
            }
            .await
        }
    };
    let units = match r {
        Ok(Some(waits)) => Units::none()
            .with("bytes", n)
            .with("complete_waits", waits.into()),
        Ok(None) => Units::none().with("bytes", n),
        Err(_) => Units::none(),
    };
    (r.map(|_| ()), units)
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
