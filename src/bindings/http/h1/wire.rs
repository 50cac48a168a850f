//! The wire side of our HTTP/1.1 client: one request written, its answer read and framed (RFC 9112
//! 6.3), and the head's fields for `r.headers`.

use super::{Conn, Failure, MAX_HEAD, MAX_HEADERS, READ_CHUNK};
use crate::bindings::http::client::{Headers, Response};
use crate::metrics::ErrorKind;
use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

enum Framing {
    None,
    Length(usize),
    Chunked,
    UntilClose,
}

/// Sends `wire` and reads the answer. `Ok` holds the answer and whether the connection may be
/// used again; `Err` the failure and whether the request was written.
///
/// The connection failing before any byte of the answer arrived (a failed write, a reset, an end
/// of stream) is the server gone: `connect`. Once bytes arrived, an answer that is not HTTP or is
/// cut off is `protocol`. (`stale`, whether the request may be sent again on a new connection, is
/// judged apart from the kind.)
pub(super) async fn round_trip(
    conn: &mut Conn,
    wire: &[u8],
    head_only: bool,
) -> Result<(Response, bool), (Failure, bool)> {
    let lost = |what: &str, e: std::io::Error, heard: bool, stale: bool| Failure {
        kind: if !heard && crate::bindings::connection_lost(&e) {
            ErrorKind::Connect
        } else {
            ErrorKind::Protocol
        },
        what: format!("{what}: {e}"),
        stale,
    };
    // Anything left from before is not part of this answer: the connection is out of step.
    if !conn.buf.is_empty() {
        return Err((
            Failure {
                kind: ErrorKind::Protocol,
                what: "the server sent bytes nobody asked for".into(),
                stale: true,
            },
            false,
        ));
    }
    if let Err(e) = conn.stream.write_all(wire).await {
        return Err((lost("sending the request", e, false, true), false));
    }
    // Whether any byte of the answer (an interim 1xx answer included) arrived.
    let mut heard = false;
    // The head, skipping any 1xx interim answer.
    let (status, head, framing, keep) = loop {
        let parsed = {
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut r = httparse::Response::new(&mut headers);
            match r.parse(&conn.buf) {
                Ok(httparse::Status::Complete(n)) => {
                    let status = r.code.unwrap_or(0);
                    Some((n, status, framing_of(&r, head_only).map_err(|f| (f, true))?))
                }
                Ok(httparse::Status::Partial) => None,
                Err(e) => {
                    return Err((
                        Failure::new(ErrorKind::Protocol, format!("a malformed answer head: {e}")),
                        true,
                    ))
                }
            }
        };
        match parsed {
            Some((n, status, _)) if (100..200).contains(&status) && status != 101 => {
                let _ = conn.buf.split_to(n);
            }
            Some((n, status, (framing, keep))) => {
                let head = conn.buf.split_to(n).to_vec();
                break (status, head, framing, keep);
            }
            None => {
                if conn.buf.len() > MAX_HEAD {
                    return Err((
                        Failure::new(
                            ErrorKind::Protocol,
                            format!("the answer's head is over {MAX_HEAD} bytes"),
                        ),
                        true,
                    ));
                }
                // Nothing of any answer yet: after a 1xx answer the buffer is empty again, but the
                // server has started on the request, which must not be sent again.
                let nothing_yet = conn.buf.is_empty() && !heard;
                match read_more(conn).await {
                    Ok(0) => {
                        let (kind, what) = if heard {
                            (ErrorKind::Protocol, "in the middle of the answer's head")
                        } else {
                            (ErrorKind::Connect, "before answering")
                        };
                        return Err((
                            Failure {
                                kind,
                                what: format!("the server closed the connection {what}"),
                                stale: nothing_yet,
                            },
                            true,
                        ));
                    }
                    Ok(_) => heard = true,
                    Err(e) => {
                        return Err((lost("reading the answer", e, heard, nothing_yet), true))
                    }
                }
            }
        }
    };
    let keep = keep && !matches!(framing, Framing::UntilClose);
    let body = read_body(conn, framing).await.map_err(|f| (f, true))?;
    Ok((
        Response {
            status,
            headers: Headers::Head(head),
            body,
        },
        keep,
    ))
}

/// Framing and persistence from a parsed head (RFC 9112 6.3 and 9.3).
fn framing_of(r: &httparse::Response, head_only: bool) -> Result<(Framing, bool), Failure> {
    let status = r.code.unwrap_or(0);
    let http11 = r.version == Some(1);
    let (mut close, mut keep_alive) = (false, false);
    // Some(whether chunked is the last coding) when the answer has a transfer-encoding
    let mut coding: Option<bool> = None;
    let mut length: Option<usize> = None;
    let bad_length = |v: &[u8]| {
        Failure::new(
            ErrorKind::Protocol,
            format!("a bad content-length: {:?}", String::from_utf8_lossy(v)),
        )
    };
    for h in r.headers.iter() {
        if h.name.eq_ignore_ascii_case("connection") {
            for token in h.value.split(|b| *b == b',') {
                let token = token.trim_ascii();
                close |= token.eq_ignore_ascii_case(b"close");
                keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
            }
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            // chunked must be the last coding (RFC 9112 6.3, 4.)
            let last = h.value.rsplit(|b| *b == b',').next().unwrap_or_default();
            coding = Some(last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if h.name.eq_ignore_ascii_case("content-length") {
            // digits only; a list of one value repeated is that value (RFC 9110 8.6)
            for v in h.value.split(|b| *b == b',') {
                let v = v.trim_ascii();
                if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
                    return Err(bad_length(h.value));
                }
                let n = std::str::from_utf8(v)
                    .ok()
                    .and_then(|s| s.parse::<usize>().ok())
                    .ok_or_else(|| bad_length(h.value))?;
                if length.is_some_and(|l| l != n) {
                    return Err(Failure::new(
                        ErrorKind::Protocol,
                        "two different content-length values",
                    ));
                }
                length = Some(n);
            }
        }
    }
    // HTTP/1.1 persists unless told to close; HTTP/1.0 only when asked to keep alive.
    let mut keep = !close && (http11 || keep_alive);
    let framing = if head_only || status == 204 || status == 304 || (100..200).contains(&status) {
        Framing::None
    } else if let Some(chunked) = coding {
        // with a transfer-encoding the length is ignored; both at once may be an attack on the
        // framing, so the connection is not used again (RFC 9112 6.1)
        if length.is_some() {
            keep = false;
        }
        if chunked {
            Framing::Chunked
        } else {
            Framing::UntilClose
        }
    } else if let Some(n) = length {
        Framing::Length(n)
    } else {
        Framing::UntilClose
    };
    // after 101 the connection speaks another protocol
    if status == 101 {
        keep = false;
    }
    Ok((framing, keep))
}

async fn read_more(conn: &mut Conn) -> std::io::Result<usize> {
    if conn.buf.capacity() - conn.buf.len() < READ_CHUNK / 2 {
        conn.buf.reserve(READ_CHUNK);
    }
    conn.stream.read_buf(&mut conn.buf).await
}

fn cut_short(what: &str) -> Failure {
    Failure::new(
        ErrorKind::Protocol,
        format!("the server closed the connection in the middle of the {what}"),
    )
}

async fn read_body(conn: &mut Conn, framing: Framing) -> Result<Bytes, Failure> {
    let io =
        |e: std::io::Error| Failure::new(ErrorKind::Protocol, format!("reading the body: {e}"));
    match framing {
        Framing::None => Ok(Bytes::new()),
        Framing::Length(n) => {
            if conn.buf.len() < n {
                // a length is a claim: room for at most 4 MiB before the bytes arrive
                conn.buf.reserve((n - conn.buf.len()).min(4 << 20));
            }
            while conn.buf.len() < n {
                if read_more(conn).await.map_err(io)? == 0 {
                    return Err(cut_short("body"));
                }
            }
            Ok(conn.buf.split_to(n).freeze())
        }
        Framing::UntilClose => {
            while read_more(conn).await.map_err(io)? > 0 {}
            Ok(conn.buf.split().freeze())
        }
        Framing::Chunked => {
            let mut body = BytesMut::new();
            loop {
                let (used, size) = loop {
                    match httparse::parse_chunk_size(&conn.buf) {
                        Ok(httparse::Status::Complete(c)) => break c,
                        Ok(httparse::Status::Partial) => {
                            if conn.buf.len() > MAX_HEAD {
                                return Err(Failure::new(
                                    ErrorKind::Protocol,
                                    "a chunk size line is too long",
                                ));
                            }
                            if read_more(conn).await.map_err(io)? == 0 {
                                return Err(cut_short("chunked body"));
                            }
                        }
                        Err(_) => {
                            return Err(Failure::new(ErrorKind::Protocol, "a malformed chunk size"))
                        }
                    }
                };
                let _ = conn.buf.split_to(used);
                if size == 0 {
                    break;
                }
                let size = usize::try_from(size)
                    .ok()
                    .filter(|s| *s <= 1 << 30)
                    .ok_or_else(|| Failure::new(ErrorKind::Protocol, "a chunk too large"))?;
                // the chunk, then its CRLF
                while conn.buf.len() < size + 2 {
                    if read_more(conn).await.map_err(io)? == 0 {
                        return Err(cut_short("chunked body"));
                    }
                }
                body.extend_from_slice(&conn.buf[..size]);
                if &conn.buf[size..size + 2] != b"\r\n" {
                    return Err(Failure::new(
                        ErrorKind::Protocol,
                        "a chunk not ended by CRLF",
                    ));
                }
                let _ = conn.buf.split_to(size + 2);
            }
            // Trailer fields, up to an empty line.
            loop {
                match conn.buf.windows(2).position(|w| w == b"\r\n") {
                    Some(0) => {
                        let _ = conn.buf.split_to(2);
                        break;
                    }
                    Some(p) => {
                        let _ = conn.buf.split_to(p + 2);
                    }
                    None => {
                        if conn.buf.len() > MAX_HEAD {
                            return Err(Failure::new(ErrorKind::Protocol, "trailers too long"));
                        }
                        if read_more(conn).await.map_err(io)? == 0 {
                            return Err(cut_short("trailers"));
                        }
                    }
                }
            }
            Ok(body.freeze())
        }
    }
}

/// The header fields of a head received by this client: `(name in lower case, value)`, in order.
pub fn head_fields(head: &[u8]) -> Vec<(String, String)> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut r = httparse::Response::new(&mut headers);
    if r.parse(head).is_err() {
        return Vec::new();
    }
    r.headers
        .iter()
        .map(|h| {
            (
                h.name.to_ascii_lowercase(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect()
}
