//! The remote write 1.0 wire format, written by hand from the protocol's specification: a
//! protobuf `WriteRequest` (only the fields we send), compressed with snappy's *block* format (not
//! the framed one), POSTed with three fixed headers. Field numbers are the protocol's and must not
//! change.

/// `prometheus.WriteRequest`; field 3 (metadata) is not sent.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WriteRequest {
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
}

/// One series: its labels (sorted by name, `__name__` among them) and its points.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeSeries {
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
    #[prost(message, repeated, tag = "4")]
    pub histograms: Vec<Histogram>,
}

#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, prost::Message)]
pub struct Label {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Sample {
    #[prost(double, tag = "1")]
    pub value: f64,
    /// Unix time, milliseconds.
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// A native histogram with integer counts (the `count_int` / `zero_count_int` arms of the
/// protocol's oneofs: a proto3 oneof arm is written even when zero, which `optional` gives).
/// Buckets are sparse: `positive_spans` say which bucket indexes are present, `positive_deltas`
/// hold each present bucket's count as the difference from the previous one.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Histogram {
    #[prost(uint64, optional, tag = "1")]
    pub count_int: Option<u64>,
    #[prost(double, tag = "3")]
    pub sum: f64,
    /// Bucket boundaries are powers of 2^(2^-schema); -4..=8 is what receivers accept.
    #[prost(sint32, tag = "4")]
    pub schema: i32,
    #[prost(double, tag = "5")]
    pub zero_threshold: f64,
    #[prost(uint64, optional, tag = "6")]
    pub zero_count_int: Option<u64>,
    #[prost(message, repeated, tag = "11")]
    pub positive_spans: Vec<BucketSpan>,
    #[prost(sint64, repeated, tag = "12")]
    pub positive_deltas: Vec<i64>,
    /// 0 = unknown: the receiver detects counter resets itself (we never reset within a run).
    #[prost(int32, tag = "14")]
    pub reset_hint: i32,
    /// Unix time, milliseconds.
    #[prost(int64, tag = "15")]
    pub timestamp: i64,
}

/// `length` consecutive buckets starting `offset` indexes after the end of the previous span
/// (the first span's offset is its first index).
#[derive(Clone, PartialEq, prost::Message)]
pub struct BucketSpan {
    #[prost(sint32, tag = "1")]
    pub offset: i32,
    #[prost(uint32, tag = "2")]
    pub length: u32,
}

/// The headers the protocol requires beside the body.
pub const HEADERS: [(&str, &str); 3] = [
    ("Content-Encoding", "snappy"),
    ("Content-Type", "application/x-protobuf"),
    ("X-Prometheus-Remote-Write-Version", "0.1.0"),
];

/// The request body: the protobuf, snappy-compressed (block format).
pub fn body(request: &WriteRequest) -> Vec<u8> {
    let raw = prost::Message::encode_to_vec(request);
    snap::raw::Encoder::new()
        .compress_vec(&raw)
        // Fails only for inputs over ~4 GiB; a push of the run's totals is far below.
        .expect("a remote-write request compresses")
}

/// A metric name as Prometheus allows it (`[a-zA-Z_:][a-zA-Z0-9_:]*`): every other character
/// (`.` in `kafka.produce`, `-`) becomes `_`, and a leading digit gets a `_` before it.
pub fn metric_name(name: &str) -> String {
    sanitize(name, true)
}

/// A label name as Prometheus allows it (`[a-zA-Z_][a-zA-Z0-9_]*`), as [`metric_name`] without `:`.
pub fn label_name(name: &str) -> String {
    sanitize(name, false)
}

fn sanitize(name: &str, colon: bool) -> String {
    let mut out = String::with_capacity(name.len() + 1);
    if name.starts_with(|c: char| c.is_ascii_digit()) || name.is_empty() {
        out.push('_');
    }
    out.extend(name.chars().map(|c| {
        if c.is_ascii_alphanumeric() || c == '_' || (colon && c == ':') {
            c
        } else {
            '_'
        }
    }));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(name: &str, value: &str) -> Label {
        Label {
            name: name.into(),
            value: value.into(),
        }
    }

    /// The bytes worked out by hand from the protobuf encoding rules (tag = field << 3 | wire type;
    /// 2 = length-delimited, 1 = 64-bit, 0 = varint; sint = zigzag).
    #[test]
    fn a_write_request_encodes_to_the_protocols_bytes() {
        let req = WriteRequest {
            timeseries: vec![TimeSeries {
                labels: vec![label("__name__", "up")],
                samples: vec![Sample {
                    value: 1.0,
                    timestamp: 1000,
                }],
                histograms: vec![],
            }],
        };
        #[rustfmt::skip]
        let want: Vec<u8> = vec![
            0x0a, 30, // timeseries (1, len) 30 bytes
              0x0a, 14, // labels (1, len) 14 bytes
                0x0a, 8, b'_', b'_', b'n', b'a', b'm', b'e', b'_', b'_', // name (1, len)
                0x12, 2, b'u', b'p', // value (2, len)
              0x12, 12, // samples (2, len) 12 bytes
                0x09, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, // value (1, fixed64) 1.0
                0x10, 0xe8, 0x07, // timestamp (2, varint) 1000
        ];
        assert_eq!(prost::Message::encode_to_vec(&req), want);
    }

    #[test]
    fn a_histogram_encodes_zero_counts_spans_and_zigzag_deltas() {
        let h = Histogram {
            count_int: Some(3),
            sum: 0.0,
            schema: -1,
            zero_threshold: 0.0,
            zero_count_int: Some(0),
            positive_spans: vec![BucketSpan {
                offset: -2,
                length: 2,
            }],
            positive_deltas: vec![2, -1],
            reset_hint: 0,
            timestamp: 5,
        };
        #[rustfmt::skip]
        let want: Vec<u8> = vec![
            0x08, 3, // count_int (1, varint)
            0x20, 1, // schema (4, sint32) -1 -> 1
            0x30, 0, // zero_count_int (6): an oneof arm is written even when 0
            0x5a, 4, 0x08, 3, 0x10, 2, // positive_spans (11): offset -2 -> 3, length 2
            0x62, 2, 4, 1, // positive_deltas (12, packed sint64): 2 -> 4, -1 -> 1
            0x78, 5, // timestamp (15, varint)
        ];
        assert_eq!(prost::Message::encode_to_vec(&h), want);
    }

    #[test]
    fn the_body_is_a_snappy_block_that_decodes_to_the_protobuf() {
        let req = WriteRequest {
            timeseries: vec![TimeSeries {
                labels: vec![label("__name__", "a"); 50],
                samples: vec![],
                histograms: vec![],
            }],
        };
        let body = body(&req);
        let raw = prost::Message::encode_to_vec(&req);
        assert!(body.len() < raw.len(), "repetitive input compresses");
        assert_eq!(
            snap::raw::Decoder::new().decompress_vec(&body).unwrap(),
            raw
        );
    }

    #[test]
    fn names_are_sanitised() {
        assert_eq!(metric_name("kafka.produce"), "kafka_produce");
        assert_eq!(metric_name("a:b-c d"), "a:b_c_d");
        assert_eq!(metric_name("9lives"), "_9lives");
        assert_eq!(label_name("a:b.c"), "a_b_c");
        assert_eq!(label_name(""), "_");
        assert_eq!(label_name("größe"), "gr__e");
    }
}
