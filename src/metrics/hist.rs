//! Histograms in the result file: HdrHistogram V2 compressed encoding, base64.

use base64::Engine;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;

pub fn encode(h: &Histogram<u64>) -> String {
    let mut buf = Vec::new();
    V2DeflateSerializer::new()
        .serialize(h, &mut buf)
        .expect("serialising into memory does not fail");
    base64::engine::general_purpose::STANDARD.encode(buf)
}

pub fn decode(text: &str) -> Result<Histogram<u64>, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| format!("histogram is not base64: {e}"))?;
    let raw = v2_bytes(&bytes)?;
    let mut h: Histogram<u64> = Deserializer::new()
        .deserialize(&mut std::io::Cursor::new(&raw[..]))
        .map_err(|e| format!("histogram cannot be decoded: {e:?}"))?;
    h.auto(true);
    Ok(h)
}

/// HdrHistogram V2 cookies (8-byte counts): uncompressed, and deflate-compressed.
const V2: u32 = 0x1c84_9303 | 0x10;
const V2_DEFLATE: u32 = 0x1c84_9304 | 0x10;
/// An uncompressed V2 header: cookie, payload length, normalizing offset, significant digits,
/// lowest, highest, integer-to-double ratio.
const HEADER: usize = 40;
/// The significant digits loadgen writes (`metrics::new_histogram`). More let a header of a few
/// bytes claim a counts array of 50 MB (5 digits up to u64::MAX); 3 digits up to u64::MAX stay
/// under 1 MB (`header_claims_are_checked_before_allocating` measures both).
const MAX_DIGITS: u32 = 3;
/// zlib inflates one byte into at most about 1032: more is not a histogram loadgen wrote.
const MAX_INFLATE: usize = 1032;

fn be32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4)
        .map(|s| u32::from_be_bytes(s.try_into().expect("4 bytes")))
}

/// The uncompressed V2 form of `b`, its header's claims checked against the bytes there are
/// before the decoder allocates for them: it reserves a payload buffer of the length the header
/// states (up to 4 GB) and a counts array for the range and digits it states.
fn v2_bytes(b: &[u8]) -> Result<std::borrow::Cow<'_, [u8]>, String> {
    use std::io::Read as _;
    let short = || "histogram cannot be decoded: its header is cut short".to_string();
    let raw = match be32(b, 0).ok_or_else(short)? {
        V2 => std::borrow::Cow::Borrowed(b),
        V2_DEFLATE => {
            let n = be32(b, 4).ok_or_else(short)? as usize;
            let z = &b[8..];
            if n > z.len() {
                return Err(format!(
                    "histogram cannot be decoded: it claims {n} compressed bytes and has {}",
                    z.len()
                ));
            }
            let mut out = Vec::new();
            flate2::read::ZlibDecoder::new(&z[..n])
                .take((n * MAX_INFLATE + 64) as u64)
                .read_to_end(&mut out)
                .map_err(|e| format!("histogram cannot be inflated: {e}"))?;
            std::borrow::Cow::Owned(out)
        }
        other => return Err(format!("histogram cannot be decoded: cookie {other:#x}")),
    };
    if be32(&raw, 0) != Some(V2) || raw.len() < HEADER {
        return Err("histogram cannot be decoded: not a V2 histogram".into());
    }
    let payload = be32(&raw, 4).ok_or_else(short)? as usize;
    if payload > raw.len() - HEADER {
        return Err(format!(
            "histogram cannot be decoded: it claims {payload} bytes of counts and has {}",
            raw.len() - HEADER
        ));
    }
    let digits = be32(&raw, 12).ok_or_else(short)?;
    if digits > MAX_DIGITS {
        return Err(format!(
            "histogram cannot be decoded: {digits} significant digits (loadgen writes {MAX_DIGITS})"
        ));
    }
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_is_exact() {
        let mut h = crate::metrics::new_histogram();
        for v in [1u64, 10, 100, 1000, 123_456, 3_000_000] {
            h.record(v).unwrap();
        }
        let back = decode(&encode(&h)).unwrap();
        assert_eq!(back, h);
    }

    /// An uncompressed V2 histogram: `payload` claimed, `digits`, a range up to `highest`, and
    /// one count byte.
    fn raw(payload: u32, digits: u32, highest: u64) -> String {
        let mut b = Vec::new();
        for w in [V2, payload, 0, digits] {
            b.extend_from_slice(&w.to_be_bytes());
        }
        for w in [1u64, highest, 1f64.to_bits()] {
            b.extend_from_slice(&w.to_be_bytes());
        }
        b.push(2);
        base64::engine::general_purpose::STANDARD.encode(b)
    }

    /// Regressions: a header claiming 4 GB - 1 bytes of counts made the decoder reserve them, one
    /// claiming 5 digits up to u64::MAX a 50 MB counts array, for 41 bytes.
    #[test]
    fn header_claims_are_checked_before_allocating() {
        use crate::util::fuzz::alloc::peak;
        for (payload, digits, highest) in [(u32::MAX, 3, 1 << 20), (1, 5, u64::MAX)] {
            let text = raw(payload, digits, highest);
            let (r, held) = peak(|| decode(&text));
            assert!(r.is_err());
            assert!(held < 1 << 16, "{held} bytes held");
        }
        // What loadgen writes decodes, uncompressed too; 3 digits up to u64::MAX stay under 1 MB.
        let (r, held) = peak(|| decode(&raw(1, 3, u64::MAX)));
        assert_eq!(r.unwrap().len(), 1);
        assert!(held < 1 << 20, "{held} bytes held");
    }
}
