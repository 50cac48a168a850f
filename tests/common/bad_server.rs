//! Servers that misbehave, for tests of loadgen's own behaviour against them: a TCP listener on
//! 127.0.0.1:0 that accepts every connection and then either never answers ([`BadServer::silent`]),
//! answers every read with bytes that are not the protocol the client speaks
//! ([`BadServer::garbage`]), or dies under the first request, closing the connection
//! ([`BadServer::closing`]) or resetting it ([`BadServer::resetting`]). Each connection has a
//! thread of its own; the server lives until the test process ends.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// What the server does with a connection once it accepted it.
#[derive(Clone)]
enum Behaviour {
    /// Reads and discards whatever comes, writes nothing, keeps the connection open until the
    /// client closes it.
    Silent,
    /// Answers every read (of at least one byte) with these bytes, and keeps the connection open.
    Answer(Arc<[u8]>),
    /// Reads what the client sends first, then closes the connection (FIN) without a byte.
    Close,
    /// Reads one byte of what the client sends first, then closes the connection with the rest
    /// unread, which resets it (RST).
    Reset,
}

pub struct BadServer {
    pub addr: SocketAddr,
    accepted: Arc<AtomicU64>,
}

impl BadServer {
    pub fn silent() -> BadServer {
        start(Behaviour::Silent)
    }

    pub fn garbage(answer: &[u8]) -> BadServer {
        start(Behaviour::Answer(answer.into()))
    }

    pub fn closing() -> BadServer {
        start(Behaviour::Close)
    }

    pub fn resetting() -> BadServer {
        start(Behaviour::Reset)
    }

    /// `127.0.0.1:port`.
    pub fn host_port(&self) -> String {
        self.addr.to_string()
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:port`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Connections accepted so far: a fault test checks that the client reached the server.
    pub fn connections(&self) -> u64 {
        self.accepted.load(Ordering::SeqCst)
    }
}

fn start(behaviour: Behaviour) -> BadServer {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicU64::new(0));
    let count = accepted.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            count.fetch_add(1, Ordering::SeqCst);
            let b = behaviour.clone();
            std::thread::spawn(move || serve(stream, b));
        }
    });
    BadServer { addr, accepted }
}

fn serve(mut s: TcpStream, behaviour: Behaviour) {
    let mut buf = vec![0u8; 64 * 1024];
    match behaviour {
        Behaviour::Close => {
            // the request whole, however many segments it came in: a close with bytes unread
            // would be a reset
            if matches!(s.read(&mut buf), Ok(n) if n > 0) {
                let _ = s.set_read_timeout(Some(std::time::Duration::from_millis(100)));
                while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
            }
            return;
        }
        Behaviour::Reset => {
            let _ = s.read(&mut buf[..1]);
            return;
        }
        Behaviour::Silent | Behaviour::Answer(_) => {}
    }
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                if let Behaviour::Answer(a) = &behaviour {
                    if s.write_all(a).is_err() {
                        return;
                    }
                }
            }
        }
    }
}

/// 1 KiB of pseudo-random bytes from a fixed seed (xorshift64): the same garbage in every run.
pub fn blob() -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..1024)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// A well-formed HTTP answer whose body is not what any store speaks: for clients over HTTP, an
/// answer that parses as HTTP and then fails as the protocol inside; for clients of a binary
/// protocol, bytes whose first four read as a length of 1,213,486,160 (`HTTP`).
pub fn http_ok_garbage_body() -> Vec<u8> {
    let body = blob();
    let mut a = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    a.extend_from_slice(&body);
    a
}

/// A length prefix just under 64 MiB and nothing after it: a framed client that believes it waits
/// for the rest (and must neither allocate it all up front nor wait past its timeout).
pub fn huge_length_prefix() -> Vec<u8> {
    (64u32 * 1024 * 1024 - 16).to_be_bytes().to_vec()
}

/// A frame of 16 bytes (a 4-byte big-endian length, then the bytes) that decode as nothing: for
/// framed protocols, garbage the client reads whole before it can find it wrong.
pub fn small_bad_frame() -> Vec<u8> {
    let mut f = 16u32.to_be_bytes().to_vec();
    f.extend_from_slice(&[0xff; 16]);
    f
}
