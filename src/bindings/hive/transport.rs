//! One connection to HiveServer2 and the calls made over it: its binary port (TCP) or its HTTP port.
//!
//! HTTP (`transport = "http"`): every call is one POST of the Thrift message, unframed, to
//! `http://host:port/<http_path>` with `Content-Type: application/x-thrift` and HTTP Basic
//! credentials (user and password, for every auth but `nosasl`); the answer's body is the reply.
//!
//! With SASL (auth `none` or `plain`) the client opens with two negotiation messages, each a status
//! byte (1 START, 2 OK, 3 BAD, 4 ERROR, 5 COMPLETE), a big-endian i32 length and a payload: START
//! carrying the mechanism name `PLAIN`, then COMPLETE carrying `\0user\0password`; the server
//! answers COMPLETE. After that every Thrift message travels in frames: an i32 length, then the
//! bytes. Without SASL (`nosasl`) Thrift messages go over the socket as they are.

use super::error::HiveError;
use super::thrift::{self, decode_message, ttype, DecodeError, Value, Writer};
use crate::metrics::ErrorKind;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Larger frames are not HiveServer2 talking: refuse them before allocating.
const MAX_FRAME: usize = 1 << 30;

const START: u8 = 1;
const OK: u8 = 2;
const BAD: u8 = 3;
const ERROR: u8 = 4;
const COMPLETE: u8 = 5;

/// Where to connect and how to authenticate.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    pub addr: String,
    pub sasl: Option<(String, String)>,
    pub timeout: Duration,
    /// Some(path): Thrift over HTTP to this path; None: the binary protocol.
    pub http_path: Option<String>,
}

pub struct Transport {
    io: Io,
    seq: i32,
    timeout: Duration,
    addr: String,
}

enum Io {
    Tcp {
        stream: TcpStream,
        framed: bool,
    },
    Http {
        client: reqwest::Client,
        url: String,
        /// The Authorization header's value.
        auth: Option<String>,
    },
}

/// The SASL PLAIN negotiation a client sends: START with the mechanism, then COMPLETE with the
/// initial response (no authorization id).
pub fn sasl_plain_hello(user: &str, password: &str) -> Vec<u8> {
    let mut out = Vec::new();
    out.push(START);
    out.extend_from_slice(&5i32.to_be_bytes());
    out.extend_from_slice(b"PLAIN");
    let resp = [b"\0", user.as_bytes(), b"\0", password.as_bytes()].concat();
    out.push(COMPLETE);
    out.extend_from_slice(&(resp.len() as i32).to_be_bytes());
    out.extend_from_slice(&resp);
    out
}

fn printable(b: &[u8]) -> String {
    b.iter()
        .take(16)
        .map(|&c| {
            if c.is_ascii_graphic() || c == b' ' {
                (c as char).to_string()
            } else {
                format!("\\x{c:02x}")
            }
        })
        .collect()
}

impl Transport {
    /// Connects and, with SASL, authenticates; all within the endpoint's timeout.
    pub async fn connect(ep: &Endpoint) -> Result<Transport, HiveError> {
        let t = ep.timeout;
        if let Some(path) = &ep.http_path {
            let client = reqwest::Client::builder()
                .connect_timeout(t)
                .no_proxy()
                .build()
                .map_err(|e| {
                    HiveError::new(ErrorKind::Client, format!("hive: HTTP client: {e}"))
                })?;
            use base64::Engine as _;
            let auth = ep.sasl.as_ref().map(|(u, p)| {
                let b = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
                format!("Basic {b}")
            });
            return Ok(Transport {
                io: Io::Http {
                    client,
                    url: format!("http://{}/{}", ep.addr, path.trim_start_matches('/')),
                    auth,
                },
                seq: 0,
                timeout: t,
                addr: ep.addr.clone(),
            });
        }
        let stream = match tokio::time::timeout(t, TcpStream::connect(&ep.addr)).await {
            Err(_) => {
                return Err(HiveError::new(
                    ErrorKind::Connect,
                    format!("hive: no connection to {} within {t:?}", ep.addr),
                ))
            }
            Ok(Err(e)) => {
                return Err(HiveError::new(
                    ErrorKind::Connect,
                    format!("hive: cannot connect to {}: {e}", ep.addr),
                ))
            }
            Ok(Ok(s)) => s,
        };
        let _ = stream.set_nodelay(true);
        let mut tr = Transport {
            io: Io::Tcp {
                stream,
                framed: ep.sasl.is_some(),
            },
            seq: 0,
            timeout: t,
            addr: ep.addr.clone(),
        };
        if let Some((user, password)) = &ep.sasl {
            match tokio::time::timeout(t, tr.sasl(user, password)).await {
                Ok(r) => r?,
                Err(_) => {
                    return Err(HiveError::new(
                        ErrorKind::Timeout,
                        format!(
                            "hive: {} did not finish the SASL handshake within {t:?}",
                            ep.addr
                        ),
                    ))
                }
            }
        }
        Ok(tr)
    }

    async fn sasl(&mut self, user: &str, password: &str) -> Result<(), HiveError> {
        let addr = self.addr.clone();
        let Io::Tcp { stream, .. } = &mut self.io else {
            return Ok(());
        };
        let io = |e: std::io::Error| {
            let kind = if e.kind() == std::io::ErrorKind::UnexpectedEof {
                ErrorKind::Protocol
            } else {
                ErrorKind::Connect
            };
            HiveError::new(
                kind,
                format!(
                    "hive: {addr} closed the connection during the SASL handshake ({e}); \
                     is it a HiveServer2 binary port, and does it use auth = \"nosasl\"?"
                ),
            )
        };
        stream
            .write_all(&sasl_plain_hello(user, password))
            .await
            .map_err(io)?;
        let mut head = [0u8; 5];
        stream.read_exact(&mut head).await.map_err(io)?;
        let len = i32::from_be_bytes(head[1..].try_into().expect("4 bytes"));
        let plausible = (0..=64 * 1024).contains(&len);
        if !matches!(head[0], START..=COMPLETE) || !plausible {
            return Err(HiveError::new(
                ErrorKind::Protocol,
                format!(
                    "hive: {addr} does not speak HiveServer2's SASL transport (it answered \"{}\"); \
                     is it the binary Thrift port?",
                    printable(&head)
                ),
            ));
        }
        let mut payload = vec![0u8; len as usize];
        stream.read_exact(&mut payload).await.map_err(io)?;
        let text = String::from_utf8_lossy(&payload);
        match head[0] {
            COMPLETE => Ok(()),
            BAD | ERROR => Err(HiveError::new(
                ErrorKind::Client,
                format!("hive: {addr} refused the SASL PLAIN login of '{user}': {text}"),
            )),
            OK => Err(HiveError::new(
                ErrorKind::Protocol,
                format!("hive: {addr} asked for another SASL step, which PLAIN does not have"),
            )),
            _ => Err(HiveError::new(
                ErrorKind::Protocol,
                format!("hive: {addr} answered the SASL START with START"),
            )),
        }
    }

    /// Calls `method` with the request struct `req` writes; returns the reply's success struct.
    pub async fn call(
        &mut self,
        method: &str,
        req: impl FnOnce(&mut Writer),
    ) -> Result<Value, HiveError> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let out = encode_call(method, seq, self.framed(), req);
        let t = self.timeout;
        let msg = match tokio::time::timeout(t, self.round_trip(out)).await {
            Ok(r) => r?,
            Err(_) => {
                return Err(HiveError::new(
                    ErrorKind::Timeout,
                    format!("hive: {method}: no answer from {} within {t:?}", self.addr),
                ))
            }
        };
        reply(method, seq, msg)
    }

    fn framed(&self) -> bool {
        matches!(self.io, Io::Tcp { framed: true, .. })
    }

    async fn round_trip(&mut self, out: Vec<u8>) -> Result<thrift::Message, HiveError> {
        let addr = self.addr.clone();
        let (stream, framed) = match &mut self.io {
            Io::Http { client, url, auth } => return http_round_trip(client, url, auth, out).await,
            Io::Tcp { stream, framed } => (stream, *framed),
        };
        let io = |e: std::io::Error| {
            HiveError::new(
                ErrorKind::Connect,
                format!("hive: connection to {addr} lost: {e}"),
            )
        };
        stream.write_all(&out).await.map_err(io)?;
        let mut buf = Vec::new();
        loop {
            if framed {
                read_frame(stream, &mut buf, &addr).await?;
            } else {
                // Unframed replies have no length: read what has arrived, then try to decode,
                // so that a large reply is not decoded again for every chunk.
                let mut chunk = vec![0u8; 64 * 1024];
                let n = stream.read(&mut chunk).await.map_err(io)?;
                if n == 0 && buf.is_empty() {
                    return Err(HiveError::new(
                        ErrorKind::Protocol,
                        format!(
                            "hive: {addr} closed the connection without answering; \
                             does it want SASL (auth = \"none\" or \"plain\")?"
                        ),
                    ));
                }
                if n == 0 {
                    return Err(io(std::io::ErrorKind::UnexpectedEof.into()));
                }
                buf.extend_from_slice(&chunk[..n]);
                while let Ok(n @ 1..) = stream.try_read(&mut chunk) {
                    buf.extend_from_slice(&chunk[..n]);
                }
            }
            match decode_message(&buf) {
                Ok((m, _)) => return Ok(m),
                Err(DecodeError::Incomplete) => {}
                Err(DecodeError::Invalid(why)) => {
                    let hint = match buf.first() {
                        Some(&(BAD | ERROR)) if !framed => {
                            " (a SASL error: the server wants auth = \"none\" or \"plain\")"
                        }
                        _ => "",
                    };
                    return Err(HiveError::new(
                        ErrorKind::Protocol,
                        format!(
                            "hive: {addr} sent bytes that are not a Thrift reply ({why}; \"{}\"){hint}",
                            printable(&buf)
                        ),
                    ));
                }
            }
        }
    }

    /// Sends `method` without waiting for the answer or blocking: for closing a session while
    /// the connection is dropped. Returns whether the whole request was written.
    pub fn send_and_forget(&mut self, method: &str, req: impl FnOnce(&mut Writer)) -> bool {
        let out = encode_call(method, self.seq.wrapping_add(1), self.framed(), req);
        match &self.io {
            Io::Tcp { stream, .. } => matches!(stream.try_write(&out), Ok(n) if n == out.len()),
            // Over HTTP a request needs the runtime: sent by a task nobody waits for.
            Io::Http { client, url, auth } => {
                let Ok(rt) = tokio::runtime::Handle::try_current() else {
                    return false;
                };
                let req = http_request(client, url, auth, out);
                rt.spawn(async move {
                    let _ = req.send().await;
                });
                true
            }
        }
    }
}

/// Reads one frame (a big-endian i32 length, then that many bytes) onto the end of `buf`. The
/// bytes are stored as they arrive: a length that no bytes follow reserves nothing (a 1 GiB
/// length once reserved 1 GiB before the first byte of the frame was read).
pub async fn read_frame<S: tokio::io::AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
    addr: &str,
) -> Result<(), HiveError> {
    let io = |e: std::io::Error| {
        HiveError::new(
            ErrorKind::Connect,
            format!("hive: connection to {addr} lost: {e}"),
        )
    };
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).await.map_err(io)?;
    let n = i32::from_be_bytes(len);
    if n < 0 || n as usize > MAX_FRAME {
        return Err(HiveError::new(
            ErrorKind::Protocol,
            format!("hive: {addr} sent a frame of {n} bytes: not a HiveServer2 reply"),
        ));
    }
    let n = n as usize;
    let got = (&mut *stream)
        .take(n as u64)
        .read_to_end(buf)
        .await
        .map_err(io)?;
    if got < n {
        return Err(io(std::io::ErrorKind::UnexpectedEof.into()));
    }
    Ok(())
}

fn http_request(
    client: &reqwest::Client,
    url: &str,
    auth: &Option<String>,
    out: Vec<u8>,
) -> reqwest::RequestBuilder {
    let mut r = client
        .post(url)
        .header("Content-Type", "application/x-thrift")
        .header("Accept", "application/x-thrift")
        .body(out);
    if let Some(a) = auth {
        r = r.header("Authorization", a.as_str());
    }
    r
}

/// One call over HTTP: the POST, then its body as a Thrift reply.
async fn http_round_trip(
    client: &reqwest::Client,
    url: &str,
    auth: &Option<String>,
    out: Vec<u8>,
) -> Result<thrift::Message, HiveError> {
    let resp = http_request(client, url, auth, out)
        .send()
        .await
        .map_err(|e| {
            let kind = crate::bindings::reqwest_kind(&e);
            let m = crate::bindings::error_chain(&e);
            let hint = if kind == ErrorKind::Protocol && m.contains("connection closed") {
                " (not an HTTP server: HiveServer2's binary port wants transport = \"binary\")"
            } else {
                ""
            };
            HiveError::new(kind, format!("hive: POST {url}: {m}{hint}"))
        })?;
    let status = resp.status();
    let body = resp.bytes().await.map_err(|e| {
        HiveError::new(
            ErrorKind::Connect,
            format!("hive: POST {url}: answer cut off: {e}"),
        )
    })?;
    if !status.is_success() {
        let hint = if status.as_u16() == 401 {
            " (the server refused the credentials: check user, password and auth)"
        } else {
            ""
        };
        return Err(HiveError::new(
            ErrorKind::Protocol,
            format!(
                "hive: POST {url}: HTTP {status}{hint}: \"{}\"",
                printable(&body)
            ),
        ));
    }
    match decode_message(&body) {
        Ok((m, _)) => Ok(m),
        Err(DecodeError::Incomplete) => Err(HiveError::new(
            ErrorKind::Protocol,
            format!("hive: POST {url}: the answer ends inside a Thrift message"),
        )),
        Err(DecodeError::Invalid(why)) => Err(HiveError::new(
            ErrorKind::Protocol,
            format!(
                "hive: POST {url}: the answer is not a Thrift reply ({why}; \"{}\")",
                printable(&body)
            ),
        )),
    }
}

/// One call as it goes on the wire: the message (header, arguments struct whose field 1 is the
/// request `req` writes) in a frame when `framed`.
pub fn encode_call(method: &str, seq: i32, framed: bool, req: impl FnOnce(&mut Writer)) -> Vec<u8> {
    let mut w = Writer::new();
    if framed {
        w.buf.extend_from_slice(&[0; 4]);
    }
    w.message_begin(method, thrift::CALL, seq);
    w.field(ttype::STRUCT, 1);
    req(&mut w);
    w.stop();
    if framed {
        let n = (w.buf.len() - 4) as i32;
        w.buf[..4].copy_from_slice(&n.to_be_bytes());
    }
    w.buf
}

/// Checks a reply's header and takes its success struct (field 0).
pub fn reply(method: &str, seq: i32, mut msg: thrift::Message) -> Result<Value, HiveError> {
    if msg.kind == thrift::EXCEPTION {
        let text = msg.body.field(1).and_then(Value::text).unwrap_or_default();
        return Err(HiveError::new(
            ErrorKind::Server,
            format!("hive: {method}: the server raised: {text}"),
        ));
    }
    if msg.kind != thrift::REPLY || msg.name != method || msg.seq != seq {
        return Err(HiveError::new(
            ErrorKind::Protocol,
            format!(
                "hive: expected the reply to {method} #{seq}, got message type {} '{}' #{}",
                msg.kind, msg.name, msg.seq
            ),
        ));
    }
    msg.body.take(0).ok_or_else(|| {
        HiveError::new(
            ErrorKind::Protocol,
            format!("hive: {method}: the reply carries no result"),
        )
    })
}
