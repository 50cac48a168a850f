//! Live progress on stderr: a rewritten line on a terminal, a plain line every 5 s otherwise.

use crate::metrics::{MetricKind, MetricStore};
use std::io::{IsTerminal, Write};
use std::time::Duration;

pub struct Progress {
    quiet: bool,
    tty: bool,
    total: Duration,
    last_plain: Duration,
    drawn: bool,
}

impl Progress {
    pub fn new(quiet: bool, total: Duration) -> Progress {
        Progress {
            quiet,
            tty: std::io::stderr().is_terminal(),
            total,
            last_plain: Duration::ZERO,
            drawn: false,
        }
    }

    pub fn tick(&mut self, elapsed: Duration, store: &MetricStore, stop_level: u8) {
        if self.quiet {
            return;
        }
        if !self.tty && elapsed.saturating_sub(self.last_plain) < Duration::from_secs(5) {
            return;
        }
        self.last_plain = elapsed;
        let line = self.line(elapsed, store, stop_level);
        let mut err = std::io::stderr().lock();
        if self.tty {
            let _ = write!(err, "\r\x1b[2K{line}");
            self.drawn = true;
        } else {
            let _ = writeln!(err, "{line}");
        }
        let _ = err.flush();
    }

    fn line(&self, elapsed: Duration, store: &MetricStore, stop_level: u8) -> String {
        let secs = elapsed.as_secs();
        let total = self.total.as_secs();
        let width = 20usize;
        let filled = if total > 0 {
            ((secs.min(total) as f64 / total as f64) * width as f64) as usize
        } else {
            width
        };
        let bar = format!("{}{}", "=".repeat(filled), " ".repeat(width - filled));
        // The last complete second gives the current rates.
        let last = store.series.iter().next_back().map(|(_, m)| m);
        let mut parts = vec![format!("[{bar}] {secs:>4}s/{total}s")];
        if let Some(it) = store.select("iterations", &Default::default()) {
            let rate = last
                .and_then(|m| m.get("iterations"))
                .map(|e| e.sum)
                .unwrap_or(0.0);
            parts.push(format!("iterations {} ({rate:.0}/s)", it.sum as u64));
        }
        if let Some(m) = last {
            for e in m
                .values()
                .filter(|e| e.kind == MetricKind::Operation)
                .take(3)
            {
                let p95 = e.latency().map(|s| s.p95).unwrap_or(0.0);
                parts.push(format!(
                    "{} {}/s p95 {p95:.2}ms err {}",
                    e.name,
                    e.count,
                    e.error_count()
                ));
            }
        }
        if stop_level > 0 {
            parts.push("stopping".into());
        }
        parts.join(" | ")
    }

    pub fn note(&mut self, msg: &str) {
        if self.quiet {
            return;
        }
        let mut err = std::io::stderr().lock();
        if self.drawn {
            let _ = writeln!(err);
            self.drawn = false;
        }
        let _ = writeln!(err, "{msg}");
    }

    pub fn finish(&mut self) {
        if self.drawn {
            let _ = writeln!(std::io::stderr());
            self.drawn = false;
        }
    }
}
