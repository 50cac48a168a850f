//! A Hadoop RPC connection to a NameNode (ClientProtocol over protobuf, RPC version 9, simple
//! authentication: no SASL), written from Hadoop's RPC documentation (RpcHeader.proto,
//! ProtobufRpcEngine.proto). One call at a time per connection: the write path calls in sequence.
//!
//! Connection preamble: `hrpc`, version 9, service class 0, auth protocol 0 (none); then the
//! connection context as a call with id -3. A call: a 4-byte big-endian length, then three
//! varint-delimited messages (RpcRequestHeader, RequestHeader, the request). An answer: a 4-byte length,
//! the delimited RpcResponseHeader and, on success, the delimited response.

use super::proto::{
    IpcConnectionContext, RequestHeader, RpcRequestHeader, RpcResponseHeader, UserInformation,
    RPC_FINAL_PACKET, RPC_PROTOCOL_BUFFER, RPC_SUCCESS,
};
use prost::Message;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub const CLIENT_PROTOCOL: &str = "org.apache.hadoop.hdfs.protocol.ClientProtocol";
/// The connection context's call id.
const CONTEXT_CALL_ID: i32 = -3;
/// Largest answer accepted: a NameNode answer to these calls is a few kilobytes.
const MAX_RESPONSE: usize = 64 << 20;

/// What went wrong on a call: the connection (I/O, framing) or the NameNode's answer.
#[derive(Debug)]
pub enum RpcError {
    Io(std::io::Error),
    /// The answer could not be decoded.
    Protocol(String),
    /// The NameNode answered with an exception: its Java class and message.
    Remote {
        class: String,
        message: String,
    },
}

impl std::fmt::Display for RpcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RpcError::Io(e) => write!(f, "{e}"),
            RpcError::Protocol(m) => write!(f, "bad answer: {m}"),
            RpcError::Remote { class, message } => {
                // The message often carries a Java stack trace; its first line says what happened.
                let first = message.lines().next().unwrap_or("");
                write!(f, "{class}: {first}")
            }
        }
    }
}

impl From<std::io::Error> for RpcError {
    fn from(e: std::io::Error) -> Self {
        RpcError::Io(e)
    }
}

/// 16 random bytes: the RPC client id (the NameNode's retry cache keys on it) and client names.
pub fn random_bytes() -> [u8; 16] {
    let mut out = [0u8; 16];
    for (i, chunk) in out.chunks_mut(8).enumerate() {
        let mut h = RandomState::new().build_hasher();
        h.write_usize(i);
        h.write_u128(std::time::UNIX_EPOCH.elapsed().map_or(0, |d| d.as_nanos()));
        chunk.copy_from_slice(&h.finish().to_le_bytes());
    }
    out
}

pub struct RpcConnection {
    stream: TcpStream,
    client_id: [u8; 16],
    next_call: i32,
}

impl RpcConnection {
    pub async fn connect(addr: &str, user: &str) -> Result<RpcConnection, RpcError> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let mut c = RpcConnection {
            stream,
            client_id: random_bytes(),
            next_call: 0,
        };
        let mut pre = Vec::with_capacity(64);
        pre.extend_from_slice(b"hrpc");
        pre.extend_from_slice(&[9, 0, 0]);
        let context = IpcConnectionContext {
            user_info: Some(UserInformation {
                effective_user: Some(user.to_string()),
                real_user: None,
            }),
            protocol: Some(CLIENT_PROTOCOL.to_string()),
        };
        let header = c.header(CONTEXT_CALL_ID);
        frame(
            &mut pre,
            &[
                &header.encode_length_delimited_to_vec(),
                &context.encode_length_delimited_to_vec(),
            ],
        );
        c.stream.write_all(&pre).await?;
        Ok(c)
    }

    /// Whether the NameNode still holds this connection open: an idle connection has nothing to
    /// read, so a read that would block means open; end of stream (a restarted NameNode), an error or
    /// stray bytes mean it cannot be used.
    pub fn is_open(&self) -> bool {
        let mut b = [0u8; 1];
        matches!(self.stream.try_read(&mut b), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
    }

    fn header(&self, call_id: i32) -> RpcRequestHeader {
        RpcRequestHeader {
            rpc_kind: Some(RPC_PROTOCOL_BUFFER),
            rpc_op: Some(RPC_FINAL_PACKET),
            call_id,
            client_id: self.client_id.to_vec(),
            retry_count: Some(if call_id < 0 { -1 } else { 0 }),
        }
    }

    /// Calls `method` of ClientProtocol and decodes its answer.
    pub async fn call<Req: Message, Resp: Message + Default>(
        &mut self,
        method: &str,
        req: &Req,
    ) -> Result<Resp, RpcError> {
        let id = self.next_call;
        self.next_call = self.next_call.wrapping_add(1) & i32::MAX;
        let rh = RequestHeader {
            method_name: method.to_string(),
            declaring_class_protocol_name: CLIENT_PROTOCOL.to_string(),
            client_protocol_version: 1,
        };
        let mut buf = Vec::with_capacity(256);
        frame(
            &mut buf,
            &[
                &self.header(id).encode_length_delimited_to_vec(),
                &rh.encode_length_delimited_to_vec(),
                &req.encode_length_delimited_to_vec(),
            ],
        );
        self.stream.write_all(&buf).await?;
        let len = self.stream.read_u32().await? as usize;
        if len > MAX_RESPONSE {
            return Err(RpcError::Protocol(format!(
                "an answer of {len} bytes (at most {MAX_RESPONSE} expected)"
            )));
        }
        // The length is a claim: the body grows as its bytes arrive (a server that answered a
        // length of 64 MiB and nothing else once cost 64 MiB per call until the timeout).
        let mut body = Vec::with_capacity(len.min(64 << 10));
        let got = (&mut self.stream)
            .take(len as u64)
            .read_to_end(&mut body)
            .await?;
        if got < len {
            return Err(RpcError::Io(std::io::ErrorKind::UnexpectedEof.into()));
        }
        decode_answer(id, &body)
    }
}

/// Appends one RPC frame: the 4-byte length of the parts, then the parts.
fn frame(out: &mut Vec<u8>, parts: &[&[u8]]) {
    let n: usize = parts.iter().map(|p| p.len()).sum();
    out.extend_from_slice(&(n as u32).to_be_bytes());
    for p in parts {
        out.extend_from_slice(p);
    }
}

/// Decodes one answer body (after its length): the response header, then the response on success.
pub fn decode_answer<Resp: Message + Default>(call_id: i32, body: &[u8]) -> Result<Resp, RpcError> {
    let mut rest = body;
    let h = RpcResponseHeader::decode_length_delimited(&mut rest)
        .map_err(|e| RpcError::Protocol(format!("response header: {e}")))?;
    if h.call_id != call_id as u32 {
        return Err(RpcError::Protocol(format!(
            "an answer to call {} where call {call_id} was waiting",
            h.call_id
        )));
    }
    if h.status != RPC_SUCCESS {
        return Err(RpcError::Remote {
            class: h.exception_class_name.unwrap_or_else(|| "unknown".into()),
            message: h.error_msg.unwrap_or_default(),
        });
    }
    Resp::decode_length_delimited(&mut rest)
        .map_err(|e| RpcError::Protocol(format!("response: {e}")))
}

#[cfg(test)]
mod tests {
    use super::super::proto::CompleteResponse;
    use super::*;

    fn answer(call_id: u32, status: i32, class: Option<&str>, resp: Option<&[u8]>) -> Vec<u8> {
        let h = RpcResponseHeader {
            call_id,
            status,
            server_ipc_version_num: Some(9),
            exception_class_name: class.map(str::to_string),
            error_msg: class.map(|_| "first line\n\tat Frame".to_string()),
            error_detail: None,
        };
        let mut b = h.encode_length_delimited_to_vec();
        if let Some(r) = resp {
            b.extend_from_slice(r);
        }
        b
    }

    #[test]
    fn a_successful_answer_decodes_its_response() {
        let r = CompleteResponse { result: true }.encode_length_delimited_to_vec();
        let got: CompleteResponse = decode_answer(7, &answer(7, 0, None, Some(&r))).unwrap();
        assert!(got.result);
    }

    #[test]
    fn a_remote_exception_names_its_class_and_first_line() {
        let b = answer(
            3,
            1,
            Some("org.apache.hadoop.fs.FileAlreadyExistsException"),
            None,
        );
        let e = decode_answer::<CompleteResponse>(3, &b).unwrap_err();
        assert_eq!(
            e.to_string(),
            "org.apache.hadoop.fs.FileAlreadyExistsException: first line"
        );
    }

    #[test]
    fn an_answer_to_another_call_or_cut_short_is_a_protocol_error() {
        let r = CompleteResponse { result: true }.encode_length_delimited_to_vec();
        let b = answer(8, 0, None, Some(&r));
        assert!(matches!(
            decode_answer::<CompleteResponse>(7, &b),
            Err(RpcError::Protocol(_))
        ));
        assert!(matches!(
            decode_answer::<CompleteResponse>(8, &b[..b.len() - 1]),
            Err(RpcError::Protocol(_))
        ));
    }

    #[test]
    fn a_required_false_is_still_on_the_wire() {
        // Java's parser rejects a message without its required fields, even when they hold defaults.
        let b = CompleteResponse { result: false }.encode_to_vec();
        assert_eq!(b, vec![0x08, 0x00]);
    }
}
