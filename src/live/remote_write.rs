//! `loadgen run --remote-write URL`: the run's metrics into Prometheus while it runs
//! (docs/prometheus.md).
//!
//! A thread of its own, with its own runtime, so that a slow receiver costs the load nothing:
//! - the *collector* keeps the newest [`Tick`] of the feed and every interval queues a snapshot of
//!   its totals (cumulative, so a later push supersedes an earlier one); the queue holds
//!   [`QUEUE`] snapshots, and when it is full the oldest is dropped and counted. A collector that
//!   falls behind the feed counts the ticks it missed (`Lagged`) and goes on.
//! - the *sender* encodes and POSTs one snapshot at a time, in order (the receiver refuses a sample
//!   older than one it has), retrying a connection failure, a 5xx or a 429 up to [`ATTEMPTS`]
//!   times unless a newer snapshot is already waiting.
//!
//! [`RemoteWrite::finish`] sends the totals of the result file (exact), waits up to
//! [`FINISH_WITHIN`] for them, and writes what was sent, failed and dropped into the result.

mod histogram;
mod proto;
mod series;

pub use super::remote_write_options::{Histograms, Options};
use super::{Event, Feed, Tick};
use crate::metrics::entry::SeriesKey;
use crate::results::outcome::RemoteWriteReport;
use crate::results::schema::ResultFile;
use crate::util::error_chain;
use series::{Mode, Snapshot, Totals};
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, oneshot, Notify};

/// Snapshots waiting to be sent at most (a slow receiver loses the oldest).
const QUEUE: usize = 4;
/// Tries of one push (the first and two retries).
const ATTEMPTS: u32 = 3;
/// How long the end of the run waits for the final push.
const FINISH_WITHIN: Duration = Duration::from_secs(10);
/// The longest one push may take (the interval, within 2 s and this).
const REQUEST_TIMEOUT_MAX: Duration = Duration::from_secs(4);

/// What the sender has done, shared with the collector and read at the end.
#[derive(Default)]
struct State {
    queue: VecDeque<Snapshot>,
    /// The final push, once `finish` asked for it.
    closing: Option<Snapshot>,
    sent: u64,
    failed: u64,
    dropped: u64,
    missed_ticks: u64,
    final_ok: bool,
    last_error: Option<String>,
    /// Why the receiver did not answer the empty request sent at the start.
    probe_error: Option<String>,
    /// The receiver refused native histograms (auto mode went on with classic buckets).
    fell_back: Option<String>,
}

struct Shared {
    state: Mutex<State>,
    wake: Notify,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves counters that are still worth reporting.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

pub struct RemoteWrite {
    url_shown: String,
    options: Options,
    shared: Arc<Shared>,
    fin: Option<oneshot::Sender<Snapshot>>,
    done: std::sync::mpsc::Receiver<()>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Checks the URL and starts sending on a thread of its own. An unparseable URL or another
/// scheme than http(s) is an error (a usage error for `loadgen run`); a receiver that does not
/// answer is not: it is reported on stderr and in the result, and the pushes are tried anyway.
pub fn start(
    url: &str,
    options: Options,
    feed: &Feed,
    tags: &BTreeMap<String, String>,
) -> anyhow::Result<RemoteWrite> {
    let parsed = reqwest::Url::parse(url).map_err(|e| anyhow::anyhow!("not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        anyhow::bail!(
            "the scheme must be http or https, not '{}'",
            parsed.scheme()
        );
    }
    if options.interval < Duration::from_secs(1) {
        anyhow::bail!(
            "--remote-write-interval must be at least 1s, not {:?}",
            options.interval
        );
    }
    let client = reqwest::Client::builder()
        // The remote-write 1.0 specification asks every sender for one.
        .user_agent(concat!("loadgen/", env!("CARGO_PKG_VERSION")))
        // Well under FINISH_WITHIN, so that a receiver that hangs on the push in flight at the
        // end still leaves time for the final push to be tried.
        .timeout(
            options
                .interval
                .clamp(Duration::from_secs(2), REQUEST_TIMEOUT_MAX),
        )
        .build()
        .map_err(|e| anyhow::anyhow!("cannot make an HTTP client: {e}"))?;
    let url_shown = crate::util::shown_url(url).into_owned();
    let run = series::run_labels(&feed.run_id, tags);
    let shared = Arc::new(Shared {
        state: Mutex::new(State::default()),
        wake: Notify::new(),
    });
    // Subscribed here, before the run's first event.
    let rx = feed.subscribe();
    let (fin_tx, fin_rx) = oneshot::channel();
    let (done_tx, done) = std::sync::mpsc::channel();
    let sender = Sender {
        client,
        url: parsed,
        url_shown: url_shown.clone(),
        run,
        mode: match options.histograms {
            Histograms::Classic => Mode::Classic,
            _ => Mode::Native,
        },
        fall_back: options.histograms == Histograms::Auto,
        shared: shared.clone(),
    };
    let collector_shared = shared.clone();
    let thread = std::thread::Builder::new()
        .name("remote-write".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("warning: --remote-write: no runtime, nothing is sent: {e}");
                    return;
                }
            };
            rt.block_on(async move {
                let sending = tokio::spawn(sender.run());
                let interval = options.interval;
                let Some(last) = collect(rx, &collector_shared, interval, fin_rx).await else {
                    return; // the run ended without finish (an error before the load)
                };
                let deadline = tokio::time::Instant::now() + FINISH_WITHIN;
                {
                    let mut s = collector_shared.lock();
                    // Superseded by the exact totals, and no time to send them first.
                    s.dropped += s.queue.len() as u64;
                    s.queue.clear();
                    s.closing = Some(last);
                }
                collector_shared.wake.notify_one();
                if tokio::time::timeout_at(deadline, sending).await.is_err() {
                    let mut s = collector_shared.lock();
                    s.final_ok = false;
                    s.failed += 1;
                    s.last_error = Some(format!(
                        "the final push had no answer within {}s{}",
                        FINISH_WITHIN.as_secs(),
                        s.last_error
                            .as_ref()
                            .map(|e| format!(" (last error: {e})"))
                            .unwrap_or_default()
                    ));
                }
                let _ = done_tx.send(());
            });
        })
        .map_err(|e| anyhow::anyhow!("cannot start its thread: {e}"))?;
    Ok(RemoteWrite {
        url_shown,
        options,
        shared,
        fin: Some(fin_tx),
        done,
        thread: Some(thread),
    })
}

fn now_ms() -> i64 {
    crate::util::epoch_micros() / 1000
}

/// Queues a snapshot of the newest tick every `interval` until `finish` sends the final one,
/// which it returns (None when the handle was dropped without `finish`).
async fn collect(
    mut rx: broadcast::Receiver<Event>,
    shared: &Shared,
    interval: Duration,
    mut fin: oneshot::Receiver<Snapshot>,
) -> Option<Snapshot> {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await; // the first tick is immediate: nothing to send yet
    let (mut newest, mut late): (Option<Arc<Tick>>, Option<f64>) = (None, None);
    let (mut last_at, mut last_cpu, mut open) = (0i64, 0f64, true);
    loop {
        tokio::select! {
            last = &mut fin => {
                let mut last = last.ok()?;
                // Samples of one series must go forward in time, and the CPU counter up.
                last.at_ms = last.at_ms.max(last_at + 1);
                last.cpu_s = last.cpu_s.max(last_cpu);
                return Some(last);
            }
            ev = rx.recv(), if open => match ev {
                Ok(Event::Tick(t)) => {
                    late = match (late, t.lateness_max_ms) {
                        (Some(a), Some(b)) => Some(a.max(b)),
                        (a, b) => a.or(b),
                    };
                    last_cpu = t.cpu_s;
                    newest = Some(t);
                }
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(n)) => shared.lock().missed_ticks += n,
                Err(broadcast::error::RecvError::Closed) => open = false,
            },
            _ = ticker.tick() => {
                let Some(t) = newest.take() else { continue };
                last_at = now_ms().max(last_at + 1);
                let snap = Snapshot {
                    at_ms: last_at,
                    busy_vus: t.busy_vus,
                    cpu_s: t.cpu_s,
                    lateness_max_ms: late.take(),
                    totals: Totals::Tick(t),
                };
                {
                    let mut s = shared.lock();
                    if s.queue.len() >= QUEUE {
                        s.queue.pop_front();
                        s.dropped += 1;
                    }
                    s.queue.push_back(snap);
                }
                shared.wake.notify_one();
            }
        }
    }
}

/// Why a push failed.
struct PushError {
    text: String,
    /// Worth trying again: no answer, a 5xx or a 429.
    retry: bool,
}

struct Sender {
    client: reqwest::Client,
    url: reqwest::Url,
    url_shown: String,
    run: BTreeMap<String, String>,
    mode: Mode,
    fall_back: bool,
    shared: Arc<Shared>,
}

impl Sender {
    async fn run(mut self) {
        let empty = proto::body(&proto::WriteRequest::default());
        if let Err(e) = self.post(empty).await {
            eprintln!(
                "warning: --remote-write {}: the receiver does not answer ({}); the run goes on \
                 and every push is tried",
                self.url_shown, e.text
            );
            self.shared.lock().probe_error = Some(e.text);
        }
        loop {
            let next = {
                let mut s = self.shared.lock();
                match s.queue.pop_front() {
                    Some(snap) => Some((snap, false)),
                    None => s.closing.take().map(|snap| (snap, true)),
                }
            };
            let Some((snap, last)) = next else {
                // notify_one keeps a permit when nobody waits, so a wake-up is never lost here.
                self.shared.wake.notified().await;
                continue;
            };
            let ok = self.push(&snap, last).await;
            if last {
                self.shared.lock().final_ok = ok;
                return;
            }
        }
    }

    /// Sends one snapshot, retrying as the module says (the final one until the deadline that
    /// the caller holds).
    async fn push(&mut self, snap: &Snapshot, last: bool) -> bool {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let body = proto::body(&series::build(snap, &self.run, self.mode));
            let e = match self.post(body).await {
                Ok(()) => {
                    self.shared.lock().sent += 1;
                    return true;
                }
                Err(e) => e,
            };
            if self.mode == Mode::Native
                && self.fall_back
                && e.text.to_lowercase().contains("histogram")
            {
                eprintln!(
                    "warning: --remote-write {}: native histograms refused ({}); sending classic \
                     buckets from now on",
                    self.url_shown, e.text
                );
                self.mode = Mode::Classic;
                self.shared.lock().fell_back = Some(e.text);
                attempt -= 1;
                continue;
            }
            let give_up = {
                let mut s = self.shared.lock();
                s.last_error = Some(e.text);
                let newer = !s.queue.is_empty() || s.closing.is_some();
                let give_up = !e.retry || (!last && (attempt >= ATTEMPTS || newer));
                if give_up {
                    s.failed += 1;
                }
                give_up
            };
            if give_up {
                return false;
            }
            let backoff = Duration::from_millis(250 << attempt.min(3));
            tokio::time::sleep(backoff).await;
        }
    }

    async fn post(&self, body: Vec<u8>) -> Result<(), PushError> {
        let mut req = self.client.post(self.url.clone());
        for (k, v) in proto::HEADERS {
            req = req.header(k, v);
        }
        let answer = req.body(body).send().await.map_err(|e| PushError {
            text: error_chain(&e.without_url()),
            retry: true,
        })?;
        let status = answer.status();
        if status.is_success() {
            return Ok(());
        }
        let text = answer.text().await.unwrap_or_default();
        let text: String = text.trim().chars().take(300).collect();
        Err(PushError {
            text: format!("HTTP {}: {text}", status.as_u16()),
            retry: status.is_server_error() || status.as_u16() == 429,
        })
    }
}

impl RemoteWrite {
    /// Sends the final totals (from the result, exact), waits for them (at most
    /// [`FINISH_WITHIN`]), and records what was sent, failed and dropped in the result's
    /// generator section and its warnings.
    pub fn finish(mut self, result: &mut ResultFile) {
        let entries: Vec<_> = result
            .series_totals
            .iter()
            .filter_map(|(key, m)| m.to_entry(&SeriesKey::parse(key).ok()?.name).ok())
            .collect();
        let last = Snapshot {
            at_ms: now_ms(),
            totals: Totals::Final(Arc::new(entries)),
            busy_vus: 0,
            cpu_s: result.generator.cpu_seconds,
            lateness_max_ms: None,
        };
        if let Some(fin) = self.fin.take() {
            let _ = fin.send(last);
        }
        let finished = self
            .done
            .recv_timeout(FINISH_WITHIN + Duration::from_secs(2))
            .is_ok();
        if finished {
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        }
        let s = self.shared.lock();
        let report = RemoteWriteReport {
            url: self.url_shown.clone(),
            interval_s: self.options.interval.as_secs_f64(),
            histograms: match (self.options.histograms, &s.fell_back) {
                (Histograms::Classic, _) | (Histograms::Auto, Some(_)) => "classic",
                _ => "native",
            }
            .to_string(),
            pushes_sent: s.sent,
            pushes_failed: s.failed,
            pushes_dropped: s.dropped,
            ticks_missed: s.missed_ticks,
            final_push_ok: finished && s.final_ok,
            last_error: s.last_error.clone(),
        };
        result.warnings.extend(warnings(&report, &s));
        result.generator.remote_write = Some(report);
    }
}

/// The result's lines about the remote write when something went wrong (the counts are in
/// `generator.remote_write` either way): a summary, and each thing that went wrong.
fn warnings(r: &RemoteWriteReport, s: &State) -> Vec<String> {
    let mut out = Vec::new();
    if r.pushes_failed + r.pushes_dropped + r.ticks_missed > 0 || !r.final_push_ok {
        out.push(format!(
            "remote write to {}: {} pushes sent, {} failed, {} dropped (queue full or superseded \
             at the end), {} ticks missed; histograms {}",
            r.url, r.pushes_sent, r.pushes_failed, r.pushes_dropped, r.ticks_missed, r.histograms
        ));
    }
    if let Some(e) = &s.probe_error {
        out.push(format!(
            "remote write: the receiver did not answer at the start: {e}"
        ));
    }
    if let Some(e) = &s.fell_back {
        out.push(format!(
            "remote write: native histograms refused ({e}); classic buckets sent instead"
        ));
    }
    if !r.final_push_ok {
        out.push(format!(
            "remote write: the final push failed, so the receiver does not hold the run's final \
             totals: {}",
            r.last_error.as_deref().unwrap_or("no answer")
        ));
    }
    out
}
