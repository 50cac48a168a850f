//! The dashboard's HTTP/1.1 server: the page, the event stream, and the result once the run ended.

use super::history::History;
use crate::results::schema::ResultFile;
use http_body_util::{combinators::UnsyncBoxBody, BodyExt, Full};
use hyper::body::{Body, Bytes, Frame, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use std::convert::Infallible;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::sync::{broadcast, mpsc};

/// The page: HTML, CSS and script in one answer, nothing fetched from elsewhere (it must work on a
/// machine without internet).
const PAGE: &str = concat!(
    include_str!("page.html"),
    "<script>\n",
    include_str!("page.js"),
    "</script>\n</body></html>\n"
);

/// What the server thread and the feed share.
pub struct Shared {
    pub state: Mutex<State>,
    /// Event streams not yet finished (their answer not fully handed to the connection).
    pub open_streams: AtomicUsize,
}

pub struct State {
    pub history: History,
    /// Frames after the history, to every connected browser; sent under the lock that guards
    /// `history`, so that a browser subscribing under it misses nothing and gets nothing twice.
    pub live: broadcast::Sender<Arc<str>>,
    /// The result as written and where, once the run ended.
    pub result: Option<(Arc<ResultFile>, Option<PathBuf>)>,
}

impl Shared {
    pub fn new(history: History) -> Arc<Shared> {
        Arc::new(Shared {
            state: Mutex::new(State {
                history,
                // A browser further behind than this is cut off; it reconnects and is sent the
                // whole run again.
                live: broadcast::channel(64).0,
                result: None,
            }),
            open_streams: AtomicUsize::new(0),
        })
    }

    pub fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves the history as it was; serving it is still right.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

type Answer = Response<UnsyncBoxBody<Bytes, Infallible>>;

fn answer(status: StatusCode, kind: &str, body: impl Into<Bytes>) -> Answer {
    Response::builder()
        .status(status)
        .header("content-type", kind)
        .header("cache-control", "no-store")
        .body(Full::new(body.into()).boxed_unsync())
        .expect("static headers are valid")
}

/// Whether a request's `Host` may be served by a dashboard listening on loopback: an IP address
/// or `localhost`. A page of another site whose name the attacker pointed at 127.0.0.1 (DNS
/// rebinding) sends its own name, and is refused. No `Host` at all (HTTP/1.0 clients) is served.
pub fn host_allowed(host: Option<&str>) -> bool {
    let Some(host) = host else { return true };
    let name = if let Some(rest) = host.strip_prefix('[') {
        // [v6]:port
        return rest
            .split_once(']')
            .is_some_and(|(ip, _)| ip.parse::<std::net::Ipv6Addr>().is_ok());
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
            _ => host,
        }
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name.parse::<std::net::Ipv4Addr>().is_ok()
        || name == "localhost"
        || name.ends_with(".localhost")
}

pub async fn handle(
    req: Request<Incoming>,
    shared: Arc<Shared>,
    loopback: bool,
) -> Result<Answer, Infallible> {
    if loopback {
        let host = req.headers().get(hyper::header::HOST).map(|h| h.to_str());
        let allowed = match host {
            None => true,
            Some(Ok(h)) => host_allowed(Some(h)),
            Some(Err(_)) => false,
        };
        if !allowed {
            return Ok(answer(
                StatusCode::FORBIDDEN,
                "text/plain",
                "refused: the dashboard on a loopback address answers only requests to an IP \
                 address or localhost (the Host header names another site)\n",
            ));
        }
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return Ok(answer(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "only GET\n",
        ));
    }
    let not_yet = || {
        answer(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "the run has not ended yet: the result file is offered when it has\n",
        )
    };
    Ok(match req.uri().path() {
        "/" | "/index.html" => answer(StatusCode::OK, "text/html; charset=utf-8", PAGE),
        "/events" => events(shared),
        "/result.json" => match shared.lock().result.clone() {
            Some((r, _)) => match serde_json::to_vec_pretty(&*r) {
                Ok(text) => answer(StatusCode::OK, "application/json", text),
                Err(e) => answer(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "text/plain",
                    format!("cannot encode the result: {e}\n"),
                ),
            },
            None => not_yet(),
        },
        "/report.html" => match shared.lock().result.clone() {
            Some((r, path)) => {
                let label = path
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| r.run_id.clone());
                let html = crate::results::report::render(&[(label, (*r).clone())]);
                answer(StatusCode::OK, "text/html; charset=utf-8", html)
            }
            None => not_yet(),
        },
        _ => answer(
            StatusCode::NOT_FOUND,
            "text/plain",
            "not found: the dashboard serves /, /events, /result.json and /report.html\n",
        ),
    })
}

/// `GET /events`: the run so far, then live frames until the end event, then the stream ends
/// (the page closes its EventSource on the end event, so it does not reconnect).
fn events(shared: Arc<Shared>) -> Answer {
    let (replay, mut live, ended) = {
        let st = shared.lock();
        (st.history.replay(), st.live.subscribe(), st.history.ended())
    };
    let (tx, rx) = mpsc::channel::<Bytes>(16);
    shared.open_streams.fetch_add(1, Ordering::SeqCst);
    tokio::spawn(async move {
        // Reconnect after 1 s (instead of the browser's default 3 s) when the connection drops.
        if tx
            .send(Bytes::from_static(b"retry: 1000\n\n"))
            .await
            .is_err()
        {
            return;
        }
        for f in replay {
            if tx.send(Bytes::from(f.to_string())).await.is_err() {
                return;
            }
        }
        if ended {
            return;
        }
        loop {
            match live.recv().await {
                Ok(f) => {
                    let last = f.starts_with("event: end\n");
                    if tx.send(Bytes::from(f.to_string())).await.is_err() || last {
                        return;
                    }
                }
                // Too far behind (a stalled browser): end the stream; it reconnects and is sent
                // the whole run again rather than a run with a hole in it.
                Err(broadcast::error::RecvError::Lagged(_)) => return,
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    });
    Response::builder()
        .header("content-type", "text/event-stream")
        .header("cache-control", "no-cache")
        .body(
            SseBody {
                rx,
                shared: shared.clone(),
            }
            .boxed_unsync(),
        )
        .expect("static headers are valid")
}

/// The event stream's body: frames as the task above hands them over.
struct SseBody {
    rx: mpsc::Receiver<Bytes>,
    shared: Arc<Shared>,
}

impl Body for SseBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.rx.poll_recv(cx).map(|b| b.map(|b| Ok(Frame::data(b))))
    }
}

impl Drop for SseBody {
    fn drop(&mut self) {
        self.shared.open_streams.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Accepts connections until `stop` is notified.
pub async fn serve(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    stop: Arc<tokio::sync::Notify>,
) {
    // Bound to loopback, only requests naming an IP address or localhost are served (a user who
    // binds another address has chosen who may reach it).
    let loopback = listener
        .local_addr()
        .map(|a| a.ip().is_loopback())
        .unwrap_or(true);
    loop {
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                // Out of file descriptors, say: wait a little rather than spin.
                Err(_) => {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.notified() => return,
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let io = hyper_util::rt::TokioIo::new(stream);
            let svc = hyper::service::service_fn(move |req| handle(req, shared.clone(), loopback));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, svc)
                .await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::host_allowed;

    #[test]
    fn only_ip_addresses_and_localhost_pass_the_host_check() {
        for ok in [
            "127.0.0.1:8080",
            "127.0.0.1",
            "[::1]:8080",
            "[::1]",
            "localhost:1",
            "LocalHost",
            "app.localhost:9",
            "localhost.:80",
            "10.1.2.3:80",
        ] {
            assert!(host_allowed(Some(ok)), "{ok}");
        }
        for refused in [
            "rebind.example:8080",
            "rebind.example",
            "127.0.0.1.rebind.example:80",
            "localhost.rebind.example",
            "[::1",
            "[not-an-ip]:80",
            "",
        ] {
            assert!(!host_allowed(Some(refused)), "{refused}");
        }
        assert!(host_allowed(None));
    }
}
