//! The HTTP/1.1 client against scripted servers on 127.0.0.1 (our own logic: framing, pooling,
//! retries, redirects, errors).

use super::super::client::{send, Request};
use crate::metrics::ErrorKind;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A scripted server: for each connection in `conns`, accept it, then for each answer read one
/// request (head and content-length body), keep it, and write the answer; then close it.
fn serve(conns: Vec<Vec<&'static [u8]>>) -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    std::thread::spawn(move || {
        for answers in conns {
            let (mut c, _) = l.accept().unwrap();
            for a in answers {
                let mut req = Vec::new();
                let mut b = [0u8; 1];
                while !req.ends_with(b"\r\n\r\n") {
                    if c.read(&mut b).unwrap_or(0) == 0 {
                        return;
                    }
                    req.push(b[0]);
                }
                let text = String::from_utf8_lossy(&req).into_owned();
                let len = text
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length: "))
                    .map_or(0, |n| n.trim().parse::<usize>().unwrap());
                let mut body = vec![0u8; len];
                c.read_exact(&mut body).unwrap();
                s.lock()
                    .unwrap()
                    .push(text + &String::from_utf8_lossy(&body));
                c.write_all(a).unwrap();
            }
        }
    });
    (addr, seen)
}

fn get(url: String) -> Request {
    Request {
        method: reqwest::Method::GET,
        url,
        headers: Vec::new(),
        body: None,
        timeout: Duration::from_secs(5),
    }
}

async fn ok(req: Request) -> super::Response {
    let (r, _) = send(req).await;
    r.unwrap()
}

#[tokio::test]
async fn keep_alive_requests_share_one_connection_and_send_what_reqwest_sent() {
    const A: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nx-a: 1\r\n\r\nhello";
    // one connection only: a second connect would never be accepted
    let (addr, seen) = serve(vec![vec![A, A, A]]);
    for _ in 0..3 {
        let r = ok(get(format!("http://{addr}/a?x=1"))).await;
        assert_eq!((r.status, &r.body[..]), (200, &b"hello"[..]));
        assert_eq!(r.headers.get("x-a").as_deref(), Some("1"));
    }
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 3);
    assert_eq!(
        seen[0],
        format!("GET /a?x=1 HTTP/1.1\r\naccept: */*\r\nhost: {addr}\r\n\r\n")
    );
}

#[tokio::test]
async fn a_post_sends_its_body_with_its_length_and_the_scripts_headers() {
    const A: &[u8] = b"HTTP/1.1 201 Created\r\ncontent-length: 0\r\n\r\n";
    let (addr, seen) = serve(vec![vec![A]]);
    let mut req = get(format!("http://{addr}/p"));
    req.method = reqwest::Method::POST;
    req.body = Some(b"{\"a\":1}".to_vec());
    req.headers = vec![("content-type".into(), "application/json".into())];
    assert_eq!(ok(req).await.status, 201);
    assert_eq!(
        seen.lock().unwrap()[0],
        format!("POST /p HTTP/1.1\r\naccept: */*\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: 7\r\n\r\n{{\"a\":1}}")
    );
}

#[tokio::test]
async fn chunked_bodies_with_extensions_and_trailers_are_put_together() {
    const A: &[u8] = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n4;ext=1\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nx-trailer: t\r\n\r\n";
    const B: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
    let (addr, _) = serve(vec![vec![A, B]]);
    let r = ok(get(format!("http://{addr}/c"))).await;
    assert_eq!(&r.body[..], b"Wikipedia in\r\n\r\nchunks.");
    // the connection is in step after the trailers: the next answer reads right
    assert_eq!(&ok(get(format!("http://{addr}/c"))).await.body[..], b"ok");
}

#[tokio::test]
async fn a_body_without_length_ends_with_the_connection_which_is_not_reused() {
    const A: &[u8] = b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nuntil the end";
    let (addr, _) = serve(vec![vec![A], vec![A]]);
    for _ in 0..2 {
        assert_eq!(
            &ok(get(format!("http://{addr}/u"))).await.body[..],
            b"until the end"
        );
    }
}

#[tokio::test]
async fn a_keep_alive_connection_the_server_closed_is_retried_once_on_a_new_one() {
    const A: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\n1";
    // the first connection answers once and is closed by the server, without saying so
    let (addr, seen) = serve(vec![vec![A], vec![A]]);
    ok(get(format!("http://{addr}/s"))).await;
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(&ok(get(format!("http://{addr}/s"))).await.body[..], b"1");
    assert_eq!(seen.lock().unwrap().len(), 2);
}

/// A 1xx answer says the server has started on the request: if the connection then closes, the
/// request is not sent again on a new one (it would run twice), even when it is idempotent.
#[tokio::test]
async fn a_request_the_server_answered_with_1xx_is_not_sent_again() {
    const A: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\n1";
    // the first connection answers once, then a 100 and closes; a second would answer 200
    let (addr, seen) = serve(vec![vec![A, b"HTTP/1.1 100 Continue\r\n\r\n"], vec![A]]);
    ok(get(format!("http://{addr}/c"))).await;
    let e = send(get(format!("http://{addr}/c"))).await.0.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Protocol, "{}", e.message);
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(
        seen.lock().unwrap().len(),
        2,
        "sent once on each connection only"
    );
    super::forget_connections();
}

#[tokio::test]
async fn an_idle_connection_the_server_closed_is_not_reused_even_for_a_post() {
    const A: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\n1";
    // the server closes the first connection after one answer, as an idle timeout would
    let (addr, seen) = serve(vec![vec![A], vec![A]]);
    ok(get(format!("http://{addr}/i"))).await;
    // idle past PROBE_AFTER: the probe sees the end of stream; a POST written into the dead
    // connection would not be retried (not idempotent) and would fail
    tokio::time::sleep(super::PROBE_AFTER + Duration::from_millis(200)).await;
    let mut post = get(format!("http://{addr}/i"));
    post.method = reqwest::Method::POST;
    post.body = Some(b"p".to_vec());
    assert_eq!(&ok(post).await.body[..], b"1");
    assert_eq!(seen.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn http_1_0_answers_and_connection_close_requests_are_not_kept() {
    const A: &[u8] = b"HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\nok";
    const B: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
    // three connections: a 1.0 answer closes, so does a request sent with connection: close
    let (addr, seen) = serve(vec![vec![A], vec![B], vec![B]]);
    ok(get(format!("http://{addr}/a"))).await;
    let mut req = get(format!("http://{addr}/b"));
    req.headers = vec![("Connection".into(), "close".into())];
    ok(req).await;
    ok(get(format!("http://{addr}/c"))).await;
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 3);
    assert!(seen[1].contains("\r\nconnection: close\r\n"), "{}", seen[1]);
}

#[tokio::test]
async fn a_scripts_framing_headers_are_refused_and_a_huge_timeout_is_no_limit() {
    const A: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
    let (addr, _) = serve(vec![vec![A]]);
    let mut req = get(format!("http://{addr}/f"));
    req.method = reqwest::Method::POST;
    req.body = Some(b"abc".to_vec());
    req.headers = vec![("content-length".into(), "10".into())];
    let e = send(req.clone()).await.0.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Client, "{}", e.message);
    assert!(
        e.message.contains("not the body's length, 3"),
        "{}",
        e.message
    );
    req.headers = vec![("transfer-encoding".into(), "chunked".into())];
    let e = send(req.clone()).await.0.unwrap_err();
    assert!(e.message.contains("transfer-encoding"), "{}", e.message);
    // the right length is accepted; a timeout of math.maxinteger seconds does not overflow
    req.headers = vec![("content-length".into(), "3".into())];
    req.timeout = Duration::from_secs(i64::MAX as u64);
    assert_eq!(ok(req).await.status, 200);
}

#[tokio::test]
async fn redirects_are_followed_as_reqwest_did() {
    const R302: &[u8] = b"HTTP/1.1 302 Found\r\nlocation: /next\r\ncontent-length: 0\r\n\r\n";
    const R307: &[u8] =
        b"HTTP/1.1 307 Temporary Redirect\r\nlocation: /kept\r\ncontent-length: 0\r\n\r\n";
    const A: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\ndone";
    let (addr, seen) = serve(vec![vec![R302, A, R307, A]]);
    let mut req = get(format!("http://{addr}/first"));
    req.method = reqwest::Method::POST;
    req.body = Some(b"x".to_vec());
    let r = ok(req.clone()).await;
    assert_eq!((r.status, &r.body[..]), (200, &b"done"[..]));
    let r = ok(req).await;
    assert_eq!((r.status, &r.body[..]), (200, &b"done"[..]));
    let seen = seen.lock().unwrap();
    // 302: a POST becomes a GET without body; 307: the POST and its body are kept
    assert!(seen[1].starts_with("GET /next "), "{}", seen[1]);
    assert!(!seen[1].contains("content-length"), "{}", seen[1]);
    assert!(seen[3].starts_with("POST /kept "), "{}", seen[3]);
    assert!(seen[3].ends_with("\r\n\r\nx"), "{}", seen[3]);
}

#[tokio::test]
async fn more_than_ten_redirects_is_a_protocol_error() {
    const R: &[u8] = b"HTTP/1.1 301 Moved\r\nlocation: /again\r\ncontent-length: 0\r\n\r\n";
    let (addr, seen) = serve(vec![vec![R; 11]]);
    let (r, _) = send(get(format!("http://{addr}/loop"))).await;
    let e = r.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Protocol);
    assert!(
        e.message.contains("more than 10 redirects"),
        "{}",
        e.message
    );
    assert_eq!(seen.lock().unwrap().len(), 11);
}

#[tokio::test]
async fn head_answers_have_no_body_and_keep_the_connection() {
    const H: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n";
    const A: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
    let (addr, _) = serve(vec![vec![H, A]]);
    let mut req = get(format!("http://{addr}/h"));
    req.method = reqwest::Method::HEAD;
    assert!(ok(req).await.body.is_empty());
    assert_eq!(&ok(get(format!("http://{addr}/h"))).await.body[..], b"ok");
}

#[tokio::test]
async fn garbage_is_a_protocol_error_and_bad_headers_a_client_error() {
    const G: &[u8] = b"SSH-2.0-OpenSSH\r\n\r\n";
    let (addr, _) = serve(vec![vec![G]]);
    let (r, _) = send(get(format!("http://{addr}/g"))).await;
    let e = r.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Protocol, "{}", e.message);
    assert!(e.message.contains("malformed"), "{}", e.message);
    let mut req = get(format!("http://{addr}/g"));
    req.headers = vec![("x-a".into(), "1\r\nx-injected: 2".into())];
    let e = send(req).await.0.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Client, "{}", e.message);
    assert!(
        e.message.contains("invalid header \"x-a\""),
        "{}",
        e.message
    );
}

#[tokio::test]
async fn a_server_that_never_answers_is_a_timeout() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let mut req = get(format!("http://{addr}/never"));
    req.timeout = Duration::from_millis(200);
    let t = std::time::Instant::now();
    let e = send(req).await.0.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Timeout, "{}", e.message);
    assert!(t.elapsed() < Duration::from_secs(2));
    drop(l);
}

#[tokio::test]
async fn nothing_listening_is_a_connect_error() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let e = send(get(format!("http://127.0.0.1:{port}/")))
        .await
        .0
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Connect, "{}", e.message);
}

/// One answer from a hostile server: `bytes` written whole on a fresh connection after the request's
/// head, then the connection closed. Runs the client on a runtime of this thread.
fn answer_of(bytes: Vec<u8>) -> Result<super::Response, crate::metrics::OpError> {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        if let Ok((mut c, _)) = l.accept() {
            let (mut req, mut b) = (Vec::new(), [0u8; 1]);
            while !req.ends_with(b"\r\n\r\n") {
                if c.read(&mut b).unwrap_or(0) == 0 {
                    return;
                }
                req.push(b[0]);
            }
            let _ = c.write_all(&bytes);
        }
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let r = rt.block_on(send(get(format!("http://{addr}/hostile")))).0;
    server.join().unwrap();
    // a kept connection would hold its port until the thread ends
    super::forget_connections();
    r
}

/// The property-test configuration, with at most 2,000 cases: every case is a TCP connection, and
/// a larger number runs out of the kernel's ephemeral ports (connections wait in TIME_WAIT).
fn net_config() -> proptest::test_runner::Config {
    let mut c = crate::util::fuzz::config();
    c.cases = c.cases.min(2_000);
    c
}

/// Valid answers the mutations start from: a length, chunks with an extension and a trailer, an
/// HTTP/1.0 body that ends with the connection, an interim answer before a 204.
const ANSWERS: [&[u8]; 4] = [
    b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nx-a: 1\r\n\r\nhello",
    b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n4;e=1\r\nWiki\r\n0\r\nt: 1\r\n\r\n",
    b"HTTP/1.0 200 OK\r\n\r\nuntil the end",
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
];

/// An answer, or a protocol error; or, when the server sent nothing at all, a connect error.
fn only_protocol_errors(bytes: Vec<u8>) -> Result<(), String> {
    let silent = bytes.is_empty();
    match answer_of(bytes) {
        Ok(_) => Ok(()),
        Err(e) if e.kind == ErrorKind::Protocol && !silent => Ok(()),
        Err(e) if e.kind == ErrorKind::Connect && silent => Ok(()),
        Err(e) => Err(format!("{:?}: {}", e.kind, e.message)),
    }
}

proptest::proptest! {
    #![proptest_config(net_config())]

    /// Arbitrary bytes as an answer: an answer or a protocol error, no panic, no hang.
    #[test]
    fn h1_arbitrary_answers(bytes in crate::util::fuzz::bytes(600)) {
        only_protocol_errors(bytes).map_err(proptest::test_runner::TestCaseError::fail)?;
    }

    /// Valid answers with bytes flipped, cut, inserted and removed.
    #[test]
    fn h1_mutated_answers(i in 0..ANSWERS.len(), m in crate::util::fuzz::mutations()) {
        let bytes = crate::util::fuzz::apply(ANSWERS[i], &m);
        only_protocol_errors(bytes).map_err(proptest::test_runner::TestCaseError::fail)?;
    }
}

/// A server that dies under one request: it accepts the connection, lets `before_close` read (or
/// not) and write, then closes it. The client's error.
fn dying(before_close: fn(&mut std::net::TcpStream)) -> crate::metrics::OpError {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (mut c, _) = l.accept().unwrap();
        before_close(&mut c);
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let r = rt.block_on(send(get(format!("http://{addr}/dying")))).0;
    server.join().unwrap();
    super::forget_connections();
    r.unwrap_err()
}

/// Reads a request's head.
fn read_head(c: &mut std::net::TcpStream) {
    let (mut req, mut b) = (Vec::new(), [0u8; 1]);
    while !req.ends_with(b"\r\n\r\n") && c.read(&mut b).unwrap_or(0) == 1 {
        req.push(b[0]);
    }
}

#[test]
fn a_server_gone_before_any_byte_of_its_answer_is_a_connect_error() {
    // closed (FIN) after the request was read; closed right on accepting it, before the request
    // came; closed with the request unread, which resets the connection (RST)
    for (how, before_close) in [
        (
            "closed after the request",
            read_head as fn(&mut std::net::TcpStream),
        ),
        ("closed on accepting", |_| {}),
        ("reset", |c| {
            let _ = c.read(&mut [0u8; 1]);
        }),
    ] {
        let e = dying(before_close);
        assert_eq!(e.kind, ErrorKind::Connect, "{how}: {}", e.message);
        assert!(
            e.message.contains("before answering")
                || e.message.contains("reset")
                || e.message.contains("sending the request"),
            "{how}: {}",
            e.message
        );
    }
}

#[test]
fn an_answer_cut_off_after_it_started_is_a_protocol_error() {
    // half a status line; an interim answer and nothing after it; a body shorter than its length
    for (how, before_close) in [
        (
            "half a status line",
            (|c| {
                read_head(c);
                c.write_all(b"HTTP/1.1 20").unwrap();
            }) as fn(&mut std::net::TcpStream),
        ),
        ("only an interim answer", |c| {
            read_head(c);
            c.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").unwrap();
        }),
        ("a short body", |c| {
            read_head(c);
            c.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort")
                .unwrap();
        }),
    ] {
        let e = dying(before_close);
        assert_eq!(e.kind, ErrorKind::Protocol, "{how}: {}", e.message);
        assert!(
            e.message.contains("in the middle of the"),
            "{how}: {}",
            e.message
        );
    }
}

#[test]
fn lengths_and_chunk_sizes_a_server_claims_are_not_allocated() {
    use crate::util::fuzz::alloc::peak;
    for claim in [
        &b"HTTP/1.1 200 OK\r\ncontent-length: 18446744073709551615\r\n\r\nshort"[..],
        b"HTTP/1.1 200 OK\r\ncontent-length: 4294967295\r\n\r\nshort",
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nffffffffffff\r\nshort",
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3fffffff\r\nshort",
    ] {
        let (r, held) = peak(|| answer_of(claim.to_vec()));
        let e = r.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Protocol, "{}", e.message);
        // the client's own buffers (4 MiB reserved at most for a claimed length), the runtime
        assert!(
            held < 16 << 20,
            "{held} bytes held for {:?}",
            String::from_utf8_lossy(claim)
        );
    }
}
