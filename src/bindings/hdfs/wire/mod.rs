//! loadgen's own HDFS write path: ClientProtocol over Hadoop RPC to the NameNode (create, addBlock,
//! complete) and DataTransferProtocol to the DataNodes. It exists for one reason: closing a file.
//! Right after the last packet is acknowledged, the NameNode often has not yet heard from the
//! DataNode that the block is finalized and answers `complete` with "not yet"; hdfs-native 0.14
//! then sleeps 500 ms (doubling) before asking again, Hadoop's Java client 400 ms. Here the first
//! wait is 2 ms, doubling up to 400 ms, so a write costs what the servers impose, not a client's
//! sleep (docs/benchmarks.md, the HDFS write section). hdfs-native still does everything else
//! (reads, listings, appends, writes through an HA nameservice).

pub mod packet;
pub mod pipeline;
pub mod proto;
pub mod rpc;

use pipeline::{PipelineError, PipelineOptions};

/// How many times a block is asked for again without a DataNode that failed its pipeline's setup
/// (Hadoop's `dfs.client.block.write.retries`).
const BLOCK_WRITE_RETRIES: usize = 3;
use proto::*;
use rpc::{RpcConnection, RpcError};
use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Duration;

/// The first wait after a "not yet" from `complete`; it doubles up to [`COMPLETE_MAX_WAIT`].
pub const COMPLETE_FIRST_WAIT: Duration = Duration::from_millis(2);
pub const COMPLETE_MAX_WAIT: Duration = Duration::from_millis(400);
/// How many "not yet" answers before giving up (2 ms doubling to 400 ms, then 400 ms: about 30 s).
const COMPLETE_TRIES: u32 = 80;

/// Where a write failed, for the error kind: reaching a server, a server's refusal, or bad bytes.
#[derive(Debug)]
pub enum WriteError {
    Rpc(String, RpcError),
    Pipeline(String, PipelineError),
    /// The NameNode kept answering "not yet" to `complete`.
    NotComplete(String),
}

impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WriteError::Rpc(what, e) => write!(f, "{what}: {e}"),
            WriteError::Pipeline(what, e) => write!(f, "{what}: {e}"),
            WriteError::NotComplete(m) => f.write_str(m),
        }
    }
}

/// What one write cost beyond its bytes: how many times the NameNode answered `complete` with
/// "not yet", and how long the client waited because of it.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct WriteStats {
    pub complete_waits: u32,
    pub complete_wait: Duration,
}

#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    pub overwrite: bool,
    /// Replicas per block; the NameNode's default when `None`.
    pub replication: Option<u32>,
    /// Bytes per block; the NameNode's default when `None`.
    pub block_size: Option<u64>,
}

/// A NameNode connection with what this client learned on it.
struct Session {
    rpc: RpcConnection,
    defaults: FsServerDefaults,
    client_name: String,
}

/// Where files are written and as whom: the NameNodes' `host:port` (one, or a nameservice's in its
/// order) and the user, resolved once when the client is made.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub addrs: Vec<String>,
    pub user: String,
    /// The session pool's key.
    key: String,
}

impl Target {
    pub fn new(addrs: Vec<String>, user: String) -> Target {
        let key = format!("{}|{user}", addrs.join(","));
        Target { addrs, user, key }
    }
}

thread_local! {
    /// Idle sessions per target, on this worker thread's runtime.
    static POOL: RefCell<HashMap<String, Vec<Session>>> = RefCell::new(HashMap::new());
    /// Per target, the NameNode that last answered as the active one (tried first).
    static ACTIVE: RefCell<HashMap<String, usize>> = RefCell::new(HashMap::new());
}

/// A session with the active NameNode: a pooled one, else a new connection to each NameNode in turn,
/// starting with the one that answered last, until one answers (a standby refuses with
/// StandbyException, a dead one does not connect). A session whose NameNode turned standby fails its
/// write and is not pooled again, so the next write looks for the active one.
async fn session(t: &Target) -> Result<Session, WriteError> {
    while let Some(s) = POOL.with(|p| p.borrow_mut().get_mut(&t.key).and_then(Vec::pop)) {
        if s.rpc.is_open() {
            return Ok(s);
        }
    }
    let first = ACTIVE
        .with(|a| a.borrow().get(&t.key).copied())
        .unwrap_or(0);
    let mut last = None;
    for k in 0..t.addrs.len() {
        let i = (first + k) % t.addrs.len();
        match open(&t.addrs[i], &t.user).await {
            Ok(s) => {
                ACTIVE.with(|a| a.borrow_mut().insert(t.key.clone(), i));
                return Ok(s);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        WriteError::Rpc(
            "no NameNode".into(),
            RpcError::Protocol("the client names no NameNode".into()),
        )
    }))
}

async fn open(addr: &str, user: &str) -> Result<Session, WriteError> {
    let connect = |e| WriteError::Rpc(format!("connect to the NameNode at {addr}"), e);
    let mut rpc = RpcConnection::connect(addr, user).await.map_err(connect)?;
    let d: GetServerDefaultsResponse = rpc
        .call("getServerDefaults", &GetServerDefaultsRequest {})
        .await
        .map_err(|e| WriteError::Rpc(format!("getServerDefaults at {addr}"), e))?;
    let r = rpc::random_bytes();
    Ok(Session {
        rpc,
        defaults: d.server_defaults,
        client_name: format!(
            "loadgen_{}_{:016x}",
            std::process::id(),
            u64::from_le_bytes(r[..8].try_into().expect("8 bytes"))
        ),
    })
}

fn give_back(t: &Target, s: Session) {
    POOL.with(|p| {
        let mut p = p.borrow_mut();
        match p.get_mut(&t.key) {
            Some(idle) => idle.push(s),
            None => {
                p.insert(t.key.clone(), vec![s]);
            }
        }
    });
}

/// Resolves a path the way Hadoop's clients do: relative paths are under the user's home.
pub fn absolute(path: &str, user: &str) -> String {
    if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/user/{user}/{path}")
    }
}

/// Writes `data` as the file `path` (created, or replaced when `overwrite`), one block at a time,
/// and completes it. The session goes back to the pool only after a clean write.
pub async fn write_file(
    t: &Target,
    path: &str,
    data: &[u8],
    o: &WriteOptions,
) -> Result<WriteStats, WriteError> {
    let src = absolute(path, &t.user);
    let mut s = session(t).await?;
    let stats = write_with(&mut s, &src, data, o).await?;
    give_back(t, s);
    Ok(stats)
}

async fn write_with(
    s: &mut Session,
    src: &str,
    data: &[u8],
    o: &WriteOptions,
) -> Result<WriteStats, WriteError> {
    let rpc_err = |what: &str| {
        let what = format!("{what} {src}");
        move |e| WriteError::Rpc(what, e)
    };
    let block_size = o.block_size.unwrap_or(s.defaults.block_size).max(1);
    let mut flag = CREATE_FLAG_CREATE;
    if o.overwrite {
        flag |= CREATE_FLAG_OVERWRITE;
    }
    let created: CreateResponse = s
        .rpc
        .call(
            "create",
            &CreateRequest {
                src: src.to_string(),
                masked: FsPermission { perm: 0o644 },
                client_name: s.client_name.clone(),
                create_flag: flag,
                create_parent: true,
                replication: o.replication.unwrap_or(s.defaults.replication),
                block_size,
                crypto_protocol_version: vec![CRYPTO_ENCRYPTION_ZONES],
            },
        )
        .await
        .map_err(rpc_err("create"))?;
    let file_id = created.fs.and_then(|f| f.file_id);

    let popts = PipelineOptions {
        bytes_per_checksum: (s.defaults.bytes_per_checksum as usize).max(1),
        ..PipelineOptions::default()
    };
    let mut last: Option<ExtendedBlock> = None;
    for chunk in data.chunks(block_size as usize) {
        // A DataNode that fails the pipeline's setup is left out of the next request for the block
        // (Hadoop's client: abandonBlock, then addBlock with excludeNodes, dfs.client.block.write.retries
        // times). The NameNode notices a dead DataNode only after minutes, and until then it keeps
        // naming it.
        let mut exclude: Vec<DatanodeInfo> = Vec::new();
        let mut tries = 0;
        let lb = loop {
            let added: AddBlockResponse = s
                .rpc
                .call(
                    "addBlock",
                    &AddBlockRequest {
                        src: src.to_string(),
                        client_name: s.client_name.clone(),
                        previous: last.clone(),
                        exclude_nodes: exclude.clone(),
                        file_id,
                    },
                )
                .await
                .map_err(rpc_err("addBlock"))?;
            let lb = added.block;
            match pipeline::write_block(&lb, &s.client_name, chunk, &popts).await {
                Ok(()) => break lb,
                Err(e) => {
                    // Give the block back so the file does not keep a half-written one.
                    let _ = s
                        .rpc
                        .call::<_, Empty>(
                            "abandonBlock",
                            &AbandonBlockRequest {
                                b: lb.b.clone(),
                                src: src.to_string(),
                                holder: s.client_name.clone(),
                                file_id,
                            },
                        )
                        .await;
                    match e {
                        PipelineError::BadNode { node, .. }
                            if tries < BLOCK_WRITE_RETRIES && node < lb.locs.len() =>
                        {
                            tries += 1;
                            exclude.push(lb.locs[node].clone());
                        }
                        e => return Err(WriteError::Pipeline(format!("write block of {src}"), e)),
                    }
                }
            }
        };
        let mut b = lb.b;
        b.num_bytes = Some(chunk.len() as u64);
        last = Some(b);
    }

    let mut stats = WriteStats::default();
    let mut wait = COMPLETE_FIRST_WAIT;
    for _ in 0..COMPLETE_TRIES {
        let done: CompleteResponse = s
            .rpc
            .call(
                "complete",
                &CompleteRequest {
                    src: src.to_string(),
                    client_name: s.client_name.clone(),
                    last: last.clone(),
                    file_id,
                },
            )
            .await
            .map_err(rpc_err("complete"))?;
        if done.result {
            return Ok(stats);
        }
        tokio::time::sleep(wait).await;
        stats.complete_waits += 1;
        stats.complete_wait += wait;
        wait = (wait * 2).min(COMPLETE_MAX_WAIT);
    }
    Err(WriteError::NotComplete(format!(
        "complete {src}: the NameNode still had not seen the last block after {} tries ({:?} of waiting)",
        stats.complete_waits, stats.complete_wait
    )))
}
