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
    /// Made at the first second sealed; `None` before, and for good once making or writing it failed.
    file: Option<Arc<File>>,
    failed: bool,
    /// Where the next second's bytes go in the file.
    end: u64,
    index: BTreeMap<i64, Place>,
}

/// A sealed entry: everything of an [`Entry`] the series keeps (a sealed second has no tags and no
/// service-time histogram), its latency or values histogram as HdrHistogram V2 deflate text.
#[derive(Serialize, Deserialize)]
struct Sealed {
    name: String,
    kind: MetricKind,
    count: u64,
    errors: BTreeMap<String, u64>,
    units: BTreeMap<String, u64>,
    sum: f64,
    passes: u64,
    gauge: Option<Gauge>,
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
    pub fn put(&mut self, t: i64, metrics: &BTreeMap<String, Entry>) {
        let bytes = encode(metrics);
        let place = match self.file() {
            Some(f) => match f.write_all_at(&bytes, self.end) {
                Ok(()) => {
                    let at = self.end;
                    self.end += bytes.len() as u64;
                    Place::File {
                        at,
                        len: bytes.len() as u32,
                    }
                }
                Err(_) => {
                    // A full disk: the seconds from here on stay in memory.
                    self.file = None;
                    self.failed = true;
                    Place::Memory(bytes)
                }
            },
            None => Place::Memory(bytes),
        };
        self.index.insert(t, place);
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

    /// The temporary file, made at first use and unlinked at once (it goes with the process, however
    /// the process ends).
    fn file(&mut self) -> Option<Arc<File>> {
        if self.file.is_none() && !self.failed {
            let path = std::env::temp_dir().join(format!(
                ".loadgen-series-{}-{}",
                std::process::id(),
                crate::util::epoch_micros()
            ));
            match File::options()
                .read(true)
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(f) => {
                    let _ = std::fs::remove_file(&path);
                    self.file = Some(Arc::new(f));
                }
                Err(_) => self.failed = true,
            }
        }
        self.file.clone()
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
            sum: e.sum,
            passes: e.passes,
            gauge: e.gauge,
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
        e.sum = s.sum;
        e.passes = s.passes;
        e.gauge = s.gauge;
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
