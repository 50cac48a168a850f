//! The run so far, kept on the dashboard's side as ready Server-Sent Events frames, so that a
//! browser that connects late or comes back after a lost connection is sent the whole run (its
//! start, every kept tick, its end) before the live ticks.
//!
//! Memory is bounded: at most [`CAP`] ticks are kept. When a long run passes the cap, every other
//! kept tick is dropped and from then on only every 2nd second is kept (then every 4th, ...): a
//! browser that connects after half an hour sees the first half hour at one point per 2 s. Browsers
//! connected all along received every tick; and at the end every browser's charts are redrawn from
//! the result file's own series (see `json::series`), which loses nothing.

use std::sync::Arc;

/// Ticks kept for replay (half an hour at full resolution; a frame is 1-3 KB per operation).
pub const CAP: usize = 1800;

/// One Server-Sent Events frame: `event: NAME`, the data (one `data:` line per line of it, as the
/// format requires; our JSON has none), and the blank line that ends the event.
pub fn frame(event: &str, data: &str) -> String {
    let mut f = String::with_capacity(data.len() + event.len() + 16);
    f.push_str("event: ");
    f.push_str(event);
    f.push('\n');
    for line in data.split('\n') {
        f.push_str("data: ");
        f.push_str(line.strip_suffix('\r').unwrap_or(line));
        f.push('\n');
    }
    f.push('\n');
    f
}

#[derive(Debug)]
pub struct History {
    cap: usize,
    start: Option<Arc<str>>,
    /// `(second, frame)`, seconds a multiple of `stride` after `t0`.
    ticks: Vec<(i64, Arc<str>)>,
    /// The newest tick, kept even when the stride would drop it (it has the latest totals).
    newest: Option<(i64, Arc<str>)>,
    t0: i64,
    stride: i64,
    end: Option<Arc<str>>,
}

impl History {
    pub fn new(cap: usize) -> History {
        History {
            cap: cap.max(2),
            start: None,
            ticks: Vec::new(),
            newest: None,
            t0: 0,
            stride: 1,
            end: None,
        }
    }

    /// A new run's start: whatever was kept is forgotten.
    pub fn start(&mut self, t0: i64, frame: Arc<str>) {
        *self = History::new(self.cap);
        self.t0 = t0;
        self.start = Some(frame);
    }

    pub fn tick(&mut self, t: i64, frame: Arc<str>) {
        self.newest = Some((t, frame.clone()));
        if (t - self.t0).rem_euclid(self.stride) != 0 {
            return;
        }
        self.ticks.push((t, frame));
        if self.ticks.len() > self.cap {
            self.stride *= 2;
            let (t0, stride) = (self.t0, self.stride);
            self.ticks.retain(|(t, _)| (t - t0).rem_euclid(stride) == 0);
        }
    }

    pub fn end(&mut self, frame: Arc<str>) {
        self.end = Some(frame);
    }

    pub fn started(&self) -> bool {
        self.start.is_some()
    }

    pub fn ended(&self) -> bool {
        self.end.is_some()
    }

    /// Every frame a browser that connects now must be sent, in order.
    pub fn replay(&self) -> Vec<Arc<str>> {
        let mut out: Vec<Arc<str>> = self.start.iter().cloned().collect();
        out.extend(self.ticks.iter().map(|(_, f)| f.clone()));
        if let Some((t, f)) = &self.newest {
            if self.ticks.last().map(|(last, _)| last) != Some(t) {
                out.push(f.clone());
            }
        }
        out.extend(self.end.iter().cloned());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_is_one_event_with_a_data_line_per_line() {
        assert_eq!(
            frame("tick", "{\"a\":1}"),
            "event: tick\ndata: {\"a\":1}\n\n"
        );
        // A line break in the data would end the event early; each line gets its own data field.
        assert_eq!(
            frame("x", "a\nb\r\nc"),
            "event: x\ndata: a\ndata: b\ndata: c\n\n"
        );
        let json = serde_json::to_string(&serde_json::json!({"s": "two\nlines"})).unwrap();
        assert_eq!(frame("x", &json).matches("data: ").count(), 1);
    }

    fn f(s: &str) -> Arc<str> {
        s.into()
    }

    #[test]
    fn a_late_browser_is_sent_the_start_every_tick_and_the_end() {
        let mut h = History::new(100);
        assert!(h.replay().is_empty());
        h.start(1000, f("S"));
        for t in 1000..1005 {
            h.tick(t, f(&t.to_string()));
        }
        let texts = |h: &History| h.replay().iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(texts(&h), ["S", "1000", "1001", "1002", "1003", "1004"]);
        assert!(!h.ended());
        h.end(f("E"));
        assert!(h.ended());
        assert_eq!(texts(&h).last().unwrap(), "E");
        // A new start (the same page serving another run) forgets the old one.
        h.start(2000, f("S2"));
        assert_eq!(texts(&h), ["S2"]);
    }

    #[test]
    fn a_long_run_is_thinned_to_the_cap_and_keeps_its_newest_tick() {
        let mut h = History::new(10);
        h.start(0, f("S"));
        for t in 0..25 {
            h.tick(t, f(&t.to_string()));
        }
        let r: Vec<String> = h.replay().iter().map(|s| s.to_string()).collect();
        // 0..25 at stride 4 (past 10 at stride 1 and 2): 0,4,...,24; then no extra newest.
        assert_eq!(r, ["S", "0", "4", "8", "12", "16", "20", "24"]);
        h.tick(25, f("25"));
        let r: Vec<String> = h.replay().iter().map(|s| s.to_string()).collect();
        assert_eq!(
            r.last().unwrap(),
            "25",
            "the newest tick is always replayed"
        );
        assert!(r.len() <= 10 + 2);
        // Thinning never goes past the cap, however long the run.
        for t in 26..100_000 {
            h.tick(t, f("x"));
        }
        assert!(h.replay().len() <= 10 + 2);
    }
}
