//! `loadgen run --dashboard[=ADDR]` and `loadgen report --serve[=ADDR]`: a web page that draws the
//! run as it happens (or a finished result file), served by loadgen itself.
//!
//! The server runs on an OS thread of its own with its own single-threaded tokio runtime, so that
//! serving browsers never takes a worker thread from the load; it reads the feed like any other
//! subscriber (the feed never waits for it). It keeps the run so far ([`history`]) so that a browser
//! that connects late, or reconnects, is sent the whole run.
//!
//! Routes: `GET /` the page (HTML, CSS and script embedded in the binary; no outside asset);
//! `GET /events` Server-Sent Events (`start`, one `tick` a second, `end`; the JSON in [`json`]);
//! `GET /result.json` and `GET /report.html` once the run ended.
//!
//! The address is printed on stderr at the start (`dashboard: http://127.0.0.1:PORT/`), also with
//! `--quiet`: `--quiet` silences the progress, and a dashboard on a port nobody was told is useless.

#[cfg(feature = "dashboard")]
mod history;
#[cfg(feature = "dashboard")]
mod json;
#[cfg(feature = "dashboard")]
mod server;

use super::Feed;
use crate::results::schema::ResultFile;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::time::Duration;

/// The address when none is given: loopback, a free port.
pub const DEFAULT_ADDR: &str = "127.0.0.1:0";

/// A running dashboard; [`Dashboard::finish`] ends it (dropping it ends it at once).
pub struct Dashboard {
    #[cfg(feature = "dashboard")]
    inner: imp::Running,
    quiet: bool,
}

/// `ADDR:PORT`, `ADDR` (a free port), `:PORT` (loopback) or a host name with a port.
pub fn parse_addr(text: &str) -> anyhow::Result<SocketAddr> {
    let s = text.trim();
    if s.is_empty() {
        return Ok(DEFAULT_ADDR.parse().expect("a valid address"));
    }
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    if let Ok(ip) = s.trim_matches(['[', ']']).parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, 0));
    }
    if let Some(port) = s.strip_prefix(':') {
        let port: u16 = port
            .parse()
            .map_err(|_| anyhow::anyhow!("'{port}' is not a port number (0 to 65535)"))?;
        return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port));
    }
    s.to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "'{s}' is not an address: give ADDR:PORT, ADDR or :PORT (127.0.0.1:8080)"
            )
        })
}

/// Binds `addr`, prints the page's address and serves it on a thread of its own, subscribed to
/// `feed` from now on (call it before the run starts, so the plan at t0 is not missed).
pub fn start(addr: &str, feed: &Feed, quiet: bool) -> anyhow::Result<Dashboard> {
    let addr = parse_addr(addr)?;
    #[cfg(feature = "dashboard")]
    {
        let inner = imp::Running::live(addr, feed)?;
        eprintln!("dashboard: {}", inner.url());
        Ok(Dashboard { inner, quiet })
    }
    #[cfg(not(feature = "dashboard"))]
    {
        let _ = (addr, feed, quiet);
        anyhow::bail!("this loadgen was built without the 'dashboard' feature")
    }
}

impl Dashboard {
    /// After the End event was sent: waits until every open page was sent it (at most 2 s), goes
    /// on serving for `linger` (Ctrl-C or SIGTERM ends it early) so that the final page can be
    /// read and the result downloaded, then stops the server and joins its thread (bounded).
    pub fn finish(self, linger: Duration) {
        #[cfg(feature = "dashboard")]
        {
            if !linger.is_zero() && !self.quiet {
                eprintln!(
                    "dashboard: the final page stays at {} for {} (Ctrl-C ends it)",
                    self.inner.url(),
                    humantime::format_duration(linger)
                );
            }
            self.inner.finish(Some(linger));
        }
        #[cfg(not(feature = "dashboard"))]
        let _ = (linger, self.quiet);
    }
}

/// `loadgen report --serve`: serves the page for a finished result file (its seconds replayed as
/// ticks, then its end) until Ctrl-C or SIGTERM.
pub fn serve_result(addr: &str, label: &str, result: ResultFile) -> anyhow::Result<()> {
    let addr = parse_addr(addr)?;
    #[cfg(feature = "dashboard")]
    {
        let running = imp::Running::file(addr, label, result)?;
        eprintln!("dashboard: {} (Ctrl-C to stop)", running.url());
        running.finish(None);
        Ok(())
    }
    #[cfg(not(feature = "dashboard"))]
    {
        let _ = (addr, label, result);
        anyhow::bail!("this loadgen was built without the 'dashboard' feature")
    }
}

#[cfg(feature = "dashboard")]
mod imp {
    use super::history::{frame, History, CAP};
    use super::json;
    use super::server::{serve, Shared};
    use crate::live::{Event, Feed};
    use crate::results::schema::ResultFile;
    use std::net::SocketAddr;
    use std::sync::atomic::Ordering;
    use std::sync::Arc;
    use std::time::{Duration, Instant};
    use tokio::sync::{broadcast, oneshot, Notify};

    /// How long `finish` waits for open pages to be sent the end.
    const DELIVER_END: Duration = Duration::from_secs(2);
    /// How long `finish` waits for the thread after the linger, before leaving it behind.
    const JOIN: Duration = Duration::from_secs(5);

    pub struct Running {
        addr: SocketAddr,
        /// `Some(linger)`: serve that much longer; `None`: until a signal. Dropped: stop now.
        finish: Option<oneshot::Sender<Option<Duration>>>,
        done: std::sync::mpsc::Receiver<()>,
        thread: Option<std::thread::JoinHandle<()>>,
    }

    impl Running {
        pub fn url(&self) -> String {
            format!("http://{}/", self.addr)
        }

        pub fn live(addr: SocketAddr, feed: &Feed) -> anyhow::Result<Running> {
            let rx = feed.subscribe();
            Running::spawn(addr, Shared::new(History::new(CAP)), Some(rx))
        }

        pub fn file(addr: SocketAddr, label: &str, r: ResultFile) -> anyhow::Result<Running> {
            let (start, ticks, end) = json::replay_file(&r, label, CAP);
            let shared = Shared::new(History::new(CAP));
            {
                let mut st = shared.lock();
                st.history.start(
                    start["t0"].as_i64().unwrap_or(0),
                    frame("start", &start.to_string()).into(),
                );
                for t in ticks {
                    let s = t["t"].as_i64().unwrap_or(0);
                    st.history.tick(s, frame("tick", &t.to_string()).into());
                }
                st.history.end(frame("end", &end.to_string()).into());
                st.result = Some((Arc::new(r), Some(label.into())));
            }
            Running::spawn(addr, shared, None)
        }

        fn spawn(
            addr: SocketAddr,
            shared: Arc<Shared>,
            feed: Option<broadcast::Receiver<Event>>,
        ) -> anyhow::Result<Running> {
            let listener = std::net::TcpListener::bind(addr)
                .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
            listener.set_nonblocking(true)?;
            let addr = listener.local_addr()?;
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| anyhow::anyhow!("cannot start the dashboard's runtime: {e}"))?;
            let (finish_tx, finish_rx) = oneshot::channel();
            let (done_tx, done) = std::sync::mpsc::channel();
            let thread = std::thread::Builder::new()
                .name("dashboard".into())
                .spawn(move || {
                    rt.block_on(run(listener, shared, feed, finish_rx));
                    rt.shutdown_timeout(Duration::from_millis(500));
                    let _ = done_tx.send(());
                })
                .map_err(|e| anyhow::anyhow!("cannot start the dashboard's thread: {e}"))?;
            Ok(Running {
                addr,
                finish: Some(finish_tx),
                done,
                thread: Some(thread),
            })
        }

        pub fn finish(mut self, linger: Option<Duration>) {
            if let Some(tx) = self.finish.take() {
                let _ = tx.send(linger);
            }
            let bound = linger.map(|l| l + DELIVER_END + JOIN);
            let ended = match bound {
                Some(b) => self.done.recv_timeout(b).is_ok(),
                None => self.done.recv().is_ok(),
            };
            match (ended, self.thread.take()) {
                (true, Some(t)) => {
                    let _ = t.join();
                }
                // Left behind: the process is about to exit, which ends it.
                _ => eprintln!("warning: the dashboard's server did not stop in time"),
            }
        }
    }

    impl Drop for Running {
        fn drop(&mut self) {
            // Dropped without finish (the run failed to start): the thread stops at once.
            self.finish.take();
        }
    }

    async fn run(
        listener: std::net::TcpListener,
        shared: Arc<Shared>,
        feed: Option<broadcast::Receiver<Event>>,
        finish: oneshot::Receiver<Option<Duration>>,
    ) {
        let listener = match tokio::net::TcpListener::from_std(listener) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("warning: the dashboard cannot serve: {e}");
                return;
            }
        };
        let stop = Arc::new(Notify::new());
        tokio::spawn(serve(listener, shared.clone(), stop.clone()));
        if let Some(rx) = feed {
            tokio::spawn(follow(rx, shared.clone()));
        }
        let Ok(linger) = finish.await else {
            return;
        };
        // The end reaches every open page before the server goes (bounded).
        let t = Instant::now();
        while t.elapsed() < DELIVER_END
            && !(shared.lock().history.ended() && shared.open_streams.load(Ordering::SeqCst) == 0)
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        match linger {
            Some(d) if d.is_zero() => {}
            Some(d) => {
                tokio::select! {
                    _ = tokio::time::sleep(d) => {}
                    _ = signal() => {}
                }
            }
            None => signal().await,
        }
        stop.notify_one();
    }

    /// Ctrl-C or SIGTERM.
    async fn signal() {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }

    /// Turns the feed's events into frames, kept and sent on.
    async fn follow(mut rx: broadcast::Receiver<Event>, shared: Arc<Shared>) {
        // (elapsed_s, cpu_s) of the previous tick: CPU a second is the difference.
        let mut prev = (0.0_f64, 0.0_f64);
        loop {
            let event = match rx.recv().await {
                Ok(e) => e,
                // Ticks lost (this thread starved): the charts have a gap until the end, when
                // they are redrawn from the result file.
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return,
            };
            match event {
                Event::Start(s) => {
                    prev = (0.0, 0.0);
                    let f: Arc<str> = frame("start", &json::start(&s).to_string()).into();
                    let mut st = shared.lock();
                    st.history.start(s.t0_unix_ms.div_euclid(1000), f.clone());
                    let _ = st.live.send(f);
                }
                Event::Tick(t) => {
                    // (not for the first tick: its CPU counts from the run's beginning, setup
                    // and the VUs' init included)
                    let cpu_pct = (prev.0 > 0.0 && t.elapsed_s > prev.0)
                        .then(|| (t.cpu_s - prev.1) / (t.elapsed_s - prev.0) * 100.0);
                    prev = (t.elapsed_s, t.cpu_s);
                    let f: Arc<str> = frame("tick", &json::tick(&t, cpu_pct).to_string()).into();
                    let mut st = shared.lock();
                    st.history.tick(t.t, f.clone());
                    let _ = st.live.send(f);
                }
                Event::End(e) => {
                    let f: Arc<str> = frame("end", &json::end(&e, CAP).to_string()).into();
                    let mut st = shared.lock();
                    if !st.history.started() {
                        // The run ended before its load (a failed health check, setup or init, an
                        // interrupt at the --start-at barrier): no start was sent, and the page
                        // waits for one. The plan as the result file has it stands in.
                        let mut s = json::replay_file(&e.result, "", CAP).0;
                        s["source"] = "live".into();
                        let sf: Arc<str> = frame("start", &s.to_string()).into();
                        st.history.start(0, sf.clone());
                        let _ = st.live.send(sf);
                    }
                    st.history.end(f.clone());
                    st.result = Some((e.result.clone(), e.path.clone()));
                    let _ = st.live.send(f);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_read_as_a_person_writes_them() {
        let a = |s: &str| parse_addr(s).unwrap().to_string();
        assert_eq!(a("127.0.0.1:0"), "127.0.0.1:0");
        assert_eq!(a("127.0.0.1"), "127.0.0.1:0");
        assert_eq!(a(":8080"), "127.0.0.1:8080");
        assert_eq!(a("[::1]:9"), "[::1]:9");
        assert_eq!(a(""), "127.0.0.1:0");
        let e = parse_addr(":http").unwrap_err().to_string();
        assert!(e.contains("'http' is not a port"), "{e}");
        let e = parse_addr("no such host").unwrap_err().to_string();
        assert!(e.contains("is not an address"), "{e}");
    }
}
