//! The part of ZooKeeper's client protocol that HiveServer2 service discovery needs: open a session,
//! list a znode's children, close the session. Written from ZooKeeper's protocol definition
//! (`zookeeper.jute`): every message is a 4-byte big-endian length and a jute record (integers big
//! endian, strings and buffers as a 4-byte length and bytes, vectors as a 4-byte count and elements).
//!
//! HiveServer2 instances with `hive.server2.support.dynamic.service.discovery` register an ephemeral
//! znode under `/<namespace>` named `serverUri=host:port;version=...;sequence=...`, so the children's
//! names alone give the instances.

use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const OP_GET_CHILDREN: i32 = 8;
const OP_CLOSE_SESSION: i32 = -11;
/// ZooKeeper's "no node" error.
const NO_NODE: i32 = -101;
/// The largest answer accepted (a namespace with thousands of instances is far below it).
const MAX_FRAME: usize = 16 << 20;

fn put_str(b: &mut Vec<u8>, s: &str) {
    b.extend_from_slice(&(s.len() as i32).to_be_bytes());
    b.extend_from_slice(s.as_bytes());
}

fn frame(body: &[u8]) -> Vec<u8> {
    let mut f = (body.len() as i32).to_be_bytes().to_vec();
    f.extend_from_slice(body);
    f
}

/// A jute record being read.
struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        let end = self.at.checked_add(n).filter(|e| *e <= self.b.len());
        let end = end.ok_or_else(|| format!("zookeeper: answer cut short at byte {}", self.at))?;
        let s = &self.b[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn i32(&mut self) -> Result<i32, String> {
        Ok(i32::from_be_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    fn i64(&mut self) -> Result<i64, String> {
        Ok(i64::from_be_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }
    fn string(&mut self) -> Result<String, String> {
        let n = self.i32()?;
        if n < 0 {
            return Ok(String::new());
        }
        let b = self.take(n as usize)?;
        String::from_utf8(b.to_vec()).map_err(|_| "zookeeper: a name is not UTF-8".to_string())
    }
}

async fn read_frame(s: &mut TcpStream) -> Result<Vec<u8>, String> {
    let n = s
        .read_i32()
        .await
        .map_err(|e| format!("zookeeper: reading an answer: {e}"))?;
    if n < 0 || n as usize > MAX_FRAME {
        return Err(format!("zookeeper: an answer of {n} bytes"));
    }
    let mut b = vec![0; n as usize];
    s.read_exact(&mut b)
        .await
        .map_err(|e| format!("zookeeper: reading an answer: {e}"))?;
    Ok(b)
}

/// The connect request: protocol version 0, no last zxid, the session timeout, a new session (id 0,
/// a 16-byte zero password), not read-only.
fn connect_request(session_timeout: Duration) -> Vec<u8> {
    let mut b = Vec::with_capacity(45);
    b.extend_from_slice(&0i32.to_be_bytes());
    b.extend_from_slice(&0i64.to_be_bytes());
    b.extend_from_slice(&(session_timeout.as_millis().min(i32::MAX as u128) as i32).to_be_bytes());
    b.extend_from_slice(&0i64.to_be_bytes());
    b.extend_from_slice(&16i32.to_be_bytes());
    b.extend_from_slice(&[0u8; 16]);
    b.push(0);
    frame(&b)
}

fn get_children_request(xid: i32, path: &str) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&xid.to_be_bytes());
    b.extend_from_slice(&OP_GET_CHILDREN.to_be_bytes());
    put_str(&mut b, path);
    b.push(0); // no watch
    frame(&b)
}

/// Parses a getChildren answer for request `xid`: the children, or None when the znode does not exist.
fn children_answer(b: &[u8], xid: i32) -> Result<Option<Vec<String>>, String> {
    let mut r = Reader { b, at: 0 };
    let got = r.i32()?;
    let _zxid = r.i64()?;
    let err = r.i32()?;
    if got != xid {
        return Err(format!("zookeeper: an answer to request {got}, not {xid}"));
    }
    if err == NO_NODE {
        return Ok(None);
    }
    if err != 0 {
        return Err(format!("zookeeper: getChildren failed with error {err}"));
    }
    let n = r.i32()?;
    if n < 0 || n as usize > b.len() / 4 {
        return Err(format!("zookeeper: {n} children"));
    }
    (0..n)
        .map(|_| r.string())
        .collect::<Result<_, _>>()
        .map(Some)
}

/// The children of `path` on the first server of `quorum` (`host:port,...`) that answers; None when
/// the znode does not exist. Bounded by `timeout` per server.
pub async fn children(
    quorum: &str,
    path: &str,
    timeout: Duration,
) -> Result<Option<Vec<String>>, String> {
    let mut last = format!("zookeeper: no server in '{quorum}'");
    for addr in quorum.split(',').map(str::trim).filter(|a| !a.is_empty()) {
        match tokio::time::timeout(timeout, children_at(addr, path, timeout)).await {
            Ok(Ok(c)) => return Ok(c),
            Ok(Err(e)) => last = format!("{e} (at {addr})"),
            Err(_) => last = format!("zookeeper: no answer from {addr} within {timeout:?}"),
        }
    }
    Err(last)
}

async fn children_at(
    addr: &str,
    path: &str,
    timeout: Duration,
) -> Result<Option<Vec<String>>, String> {
    let mut s = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("zookeeper: cannot connect: {e}"))?;
    let w = |e: std::io::Error| format!("zookeeper: sending: {e}");
    s.write_all(&connect_request(timeout.max(Duration::from_secs(4))))
        .await
        .map_err(w)?;
    let hello = read_frame(&mut s).await?;
    let mut r = Reader { b: &hello, at: 0 };
    let _version = r.i32()?;
    let granted = r.i32()?;
    if granted <= 0 {
        return Err("zookeeper: the server refused the session (expired)".into());
    }
    s.write_all(&get_children_request(1, path))
        .await
        .map_err(w)?;
    let answer = read_frame(&mut s).await?;
    let out = children_answer(&answer, 1);
    // Close the session rather than leave it to expire (best effort).
    let mut close = 2i32.to_be_bytes().to_vec();
    close.extend_from_slice(&OP_CLOSE_SESSION.to_be_bytes());
    let _ = s.write_all(&frame(&close)).await;
    let _ = tokio::time::timeout(Duration::from_millis(200), read_frame(&mut s)).await;
    out
}

/// The `host:port` of each HiveServer2 registered under a namespace, from its znode name
/// (`serverUri=host:port;version=...;sequence=...`), in sequence order.
pub fn hiveserver2_instances(children: &[String]) -> Vec<String> {
    let mut named: Vec<(&str, String)> = children
        .iter()
        .filter_map(|c| {
            let field = |k: &str| {
                c.split(';')
                    .find_map(|p| p.strip_prefix(k).and_then(|v| v.strip_prefix('=')))
            };
            Some((
                field("sequence").unwrap_or(""),
                field("serverUri")?.to_string(),
            ))
        })
        .collect();
    named.sort();
    named.into_iter().map(|(_, uri)| uri).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connect_request_asks_for_a_new_session() {
        let f = connect_request(Duration::from_secs(10));
        assert_eq!(&f[..4], &45i32.to_be_bytes());
        assert_eq!(&f[16..20], &10_000i32.to_be_bytes());
        assert_eq!(&f[28..32], &16i32.to_be_bytes());
        assert_eq!(f.len(), 49);
    }

    #[test]
    fn a_children_answer_decodes_and_checks_its_request() {
        let mut b = Vec::new();
        b.extend_from_slice(&1i32.to_be_bytes());
        b.extend_from_slice(&77i64.to_be_bytes());
        b.extend_from_slice(&0i32.to_be_bytes());
        b.extend_from_slice(&2i32.to_be_bytes());
        put_str(&mut b, "a");
        put_str(&mut b, "serverUri=h:1;sequence=2");
        assert_eq!(
            children_answer(&b, 1).unwrap(),
            Some(vec![
                "a".to_string(),
                "serverUri=h:1;sequence=2".to_string()
            ])
        );
        assert!(children_answer(&b, 2).is_err());
        assert!(children_answer(&b[..b.len() - 3], 1).is_err());
        let mut none = 1i32.to_be_bytes().to_vec();
        none.extend_from_slice(&0i64.to_be_bytes());
        none.extend_from_slice(&NO_NODE.to_be_bytes());
        assert_eq!(children_answer(&none, 1).unwrap(), None);
    }

    #[test]
    fn hiveserver2_znodes_give_their_addresses_in_sequence_order() {
        let c = [
            "serverUri=127.0.0.1:10002;version=4.0.1;sequence=0000000003".to_string(),
            "serverUri=127.0.0.1:10000;version=4.0.1;sequence=0000000001".to_string(),
            "something-else".to_string(),
        ];
        assert_eq!(
            hiveserver2_instances(&c),
            ["127.0.0.1:10000", "127.0.0.1:10002"]
        );
    }
}
