//! Sealed seconds of the per-second series, out of memory: each second's entries compressed and
//! appended to an unlinked temporary file, with one index entry a second kept in memory, so that a
//! run's memory does not grow with its length (a one-hour soak kept about 3,600 seconds of
//! histograms before). Where no temporary file can be made or written, the compressed bytes stay in
//! memory instead: the result is the same, only the memory grows.

use super::entry::{Entry, Gauge, MetricKind};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::sync::Arc;

/// Where a sealed second's bytes are.
#[derive(Debug, Clone)]
enum Place {
    File { at: u64, len: u32 },
    Memory(Vec<u8>),
}

#[derive(Debug, Default)]
pub struct Spill {
    /// Made at the first second sealed; `None` before, and when it could not be made.
    file: Option<Arc<File>>,
    /// No more writes to the file (it could not be made, or a write failed): later seconds stay in
    /// memory. What the file already holds is still read from it.
    failed: bool,
    /// Where the next second's bytes go in the file.
    end: u64,
    index: BTreeMap<i64, Place>,
}

/// A sealed entry: everything of an [`Entry`] the series keeps (a sealed second has no tags and no
/// service-time histogram), its latency or values histogram as HdrHistogram V2 deflate text.
/// Numbers are kept as their bits: JSON has no NaN or infinity, and a script can make either (a
/// trend of `x / 0`), which would lose the whole second.
#[derive(Serialize, Deserialize)]
struct Sealed {
    name: String,
    kind: MetricKind,
    count: u64,
    errors: BTreeMap<String, u64>,
    units: BTreeMap<String, u64>,
    sum: u64,
    passes: u64,
    /// value, min, max (bits), at_us
    gauge: Option<(u64, u64, u64, i64)>,
    censored: u64,
    hist: Option<String>,
}

impl Clone for Spill {
    /// A copy reads what the file holds into memory: two stores appending to one file would
    /// overwrite each other's seconds.
    fn clone(&self) -> Spill {
        let index = self
            .index
            .iter()
            .filter_map(|(t, p)| self.bytes(p).map(|b| (*t, Place::Memory(b))))
            .collect();
        Spill {
            file: None,
            failed: true,
            end: 0,
            index,
        }
    }
}

impl Spill {
    /// The sealed seconds, in order.
    pub fn seconds(&self) -> impl Iterator<Item = i64> + '_ {
        self.index.keys().copied()
    }

    /// Seals second `t`: its entries leave memory. Histograms are compressed; service times dropped.
    /// Returns why, the first time the seconds stay in memory instead of the file (for the run's
    /// warnings).
    pub fn put(&mut self, t: i64, metrics: &BTreeMap<String, Entry>) -> Option<String> {
        let bytes = encode(metrics);
        let mut why = None;
        let place = match self.writable() {
            Ok(f) => match f.write_all_at(&bytes, self.end) {
                Ok(()) => {
                    let at = self.end;
                    self.end += bytes.len() as u64;
                    Place::File {
                        at,
                        len: bytes.len() as u32,
                    }
                }
                Err(e) => {
                    // A full disk: what the file holds stays readable; later seconds stay in memory.
                    self.failed = true;
                    why = Some(format!("writing the per-second series to a temporary file failed ({e}): the seconds from here on are kept in memory, which grows with the run"));
                    Place::Memory(bytes)
                }
            },
            Err(Some(e)) => {
                why = Some(format!("no temporary file for the per-second series in {} ({e}): every second is kept in memory, which grows with the run", std::env::temp_dir().display()));
                Place::Memory(bytes)
            }
            Err(None) => Place::Memory(bytes),
        };
        self.index.insert(t, place);
        why
    }

    /// Second `t`'s entries (empty if it is not sealed here, or could not be read back).
    pub fn get(&self, t: i64) -> BTreeMap<String, Entry> {
        self.index
            .get(&t)
            .and_then(|p| self.bytes(p))
            .and_then(|b| decode(&b))
            .unwrap_or_default()
    }

    /// Second `t`'s entries, unsealed (a late snapshot is merged into it).
    pub fn take(&mut self, t: i64) -> Option<BTreeMap<String, Entry>> {
        let metrics = self.index.contains_key(&t).then(|| self.get(t));
        self.index.remove(&t);
        metrics
    }

    fn bytes(&self, p: &Place) -> Option<Vec<u8>> {
        match p {
            Place::Memory(b) => Some(b.clone()),
            Place::File { at, len } => {
                let mut b = vec![0u8; *len as usize];
                self.file.as_ref()?.read_exact_at(&mut b, *at).ok()?;
                Some(b)
            }
        }
    }

    /// The temporary file to write to: made at first use (readable by its owner only) and unlinked
    /// at once, so it goes with the process however the process ends. `Err(Some(why))` when it could
    /// not be made (once), `Err(None)` when writes stopped earlier.
    fn writable(&mut self) -> Result<Arc<File>, Option<std::io::Error>> {
        if self.failed {
            return Err(None);
        }
        if let Some(f) = &self.file {
            return Ok(f.clone());
        }
        use std::os::unix::fs::OpenOptionsExt;
        let mut last = None;
        for attempt in 0..3u32 {
            let path = std::env::temp_dir().join(format!(
                ".loadgen-series-{}-{}-{attempt}",
                std::process::id(),
                crate::util::epoch_micros()
            ));
            match File::options()
                .read(true)
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
            {
                Ok(f) => {
                    let _ = std::fs::remove_file(&path);
                    let f = Arc::new(f);
                    self.file = Some(f.clone());
                    return Ok(f);
                }
                Err(e) => last = Some(e),
            }
        }
        self.failed = true;
        Err(last)
    }
}

fn encode(metrics: &BTreeMap<String, Entry>) -> Vec<u8> {
    let sealed: Vec<Sealed> = metrics
        .values()
        .map(|e| Sealed {
            name: e.name.clone(),
            kind: e.kind,
            count: e.count,
            errors: e.errors.clone(),
            units: e.units.clone(),
            sum: e.sum.to_bits(),
            passes: e.passes,
            gauge: e
                .gauge
                .map(|g| (g.value.to_bits(), g.min.to_bits(), g.max.to_bits(), g.at_us)),
            censored: e.censored,
            hist: e.hist.as_ref().map(super::hist::encode),
        })
        .collect();
    let json = serde_json::to_vec(&sealed).expect("sealed entries serialize");
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    z.write_all(&json).expect("writing to memory");
    z.finish().expect("writing to memory")
}

fn decode(bytes: &[u8]) -> Option<BTreeMap<String, Entry>> {
    let mut json = Vec::new();
    flate2::read::ZlibDecoder::new(bytes)
        .read_to_end(&mut json)
        .ok()?;
    let sealed: Vec<Sealed> = serde_json::from_slice(&json).ok()?;
    let mut out = BTreeMap::new();
    for s in sealed {
        let mut e = Entry::new(&s.name, BTreeMap::new(), s.kind);
        e.count = s.count;
        e.errors = s.errors;
        e.units = s.units;
        e.sum = f64::from_bits(s.sum);
        e.passes = s.passes;
        e.gauge = s.gauge.map(|(value, min, max, at_us)| Gauge {
            value: f64::from_bits(value),
            min: f64::from_bits(min),
            max: f64::from_bits(max),
            at_us,
        });
        e.censored = s.censored;
        e.service = None;
        e.hist = match s.hist {
            Some(text) => Some(super::hist::decode(&text).ok()?),
            None => None,
        };
        out.insert(s.name, e);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    fn second(count: u64) -> BTreeMap<String, Entry> {
        let mut e = Entry::new("x", BTreeMap::new(), MetricKind::Counter);
        e.count = count;
        [("x".to_string(), e)].into_iter().collect()
    }

    /// A write that fails (a full disk) keeps later seconds in memory, says so once, and every second
    /// the file already holds still reads back.
    #[test]
    fn a_failed_write_keeps_what_the_file_holds() {
        let mut spill = Spill::default();
        assert_eq!(spill.put(1, &second(1)), None);
        assert!(
            matches!(spill.index[&1], Place::File { .. }),
            "written to the file"
        );
        // The same (unlinked) file, opened again read-only: the next write fails.
        let fd = spill.file.as_ref().unwrap().as_raw_fd();
        let read_only = File::open(format!("/proc/self/fd/{fd}")).unwrap();
        spill.file = Some(Arc::new(read_only));
        let why = spill.put(2, &second(2)).expect("the fall-back is reported");
        assert!(why.contains("kept in memory"), "{why}");
        assert_eq!(spill.put(3, &second(3)), None, "reported once");
        assert!(matches!(spill.index[&3], Place::Memory(_)));
        for t in 1..=3 {
            assert_eq!(spill.get(t)["x"].count, t as u64, "second {t}");
        }
        // A copy holds everything in memory.
        let copy = spill.clone();
        assert_eq!(copy.get(1)["x"].count, 1);
    }
}
