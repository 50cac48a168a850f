//! Hostile bytes for the HiveServer2 decoders: Thrift messages (`thrift`), the TCLIService fields
//! picked from them (`tcli`), row sets (`rowset`), reply checks and frames (`transport`). Arbitrary
//! bytes and mutations of valid replies must give a value or an error, never a panic, and never
//! hold more memory than the input can account for.

use super::thrift::{decode_message, ttype, DecodeError, Writer, REPLY};
use super::{rowset, tcli, transport};
use crate::metrics::ErrorKind;
use crate::util::fuzz::{self, alloc::peak};
use proptest::prelude::*;

/// What decoding `b` may hold at most: the value tree is a few dozen bytes per input byte
/// (decoded, cloned, turned into cells), plus a fixed allowance for reserved room.
fn bound(b: &[u8]) -> usize {
    (2 << 20) + 512 * b.len()
}

/// A FetchResults reply: a status with an exception chain, and a column-based row set (an i64
/// column with a NULL, a string column).
fn fetch_reply() -> Vec<u8> {
    let mut w = Writer::new();
    w.message_begin("FetchResults", REPLY, 3);
    w.field(ttype::STRUCT, 0);
    w.field(ttype::STRUCT, 1);
    w.field(ttype::I32, 1);
    w.i32(tcli::status::SUCCESS_WITH_INFO);
    w.field(ttype::LIST, 2);
    w.buf.push(ttype::STRING);
    w.i32(2);
    w.string("*org.apache.hive.X:boom:1:2");
    w.string("org.apache.hive.Y.run:12");
    w.field(ttype::STRING, 3);
    w.string("42000");
    w.field(ttype::I32, 4);
    w.i32(10001);
    w.field(ttype::STRING, 5);
    w.string("a message");
    w.stop();
    w.field(ttype::BOOL, 2);
    w.bool(true);
    w.field(ttype::STRUCT, 3);
    w.field(ttype::I64, 1);
    w.i64(0);
    w.field(ttype::LIST, 2);
    w.buf.push(ttype::STRUCT);
    w.i32(0);
    w.field(ttype::LIST, 3);
    w.buf.push(ttype::STRUCT);
    w.i32(2);
    // TColumn.i64Val
    w.field(ttype::STRUCT, 4);
    w.field(ttype::LIST, 1);
    w.buf.push(ttype::I64);
    w.i32(3);
    for v in [1, -2, i64::MAX] {
        w.i64(v);
    }
    w.field(ttype::STRING, 2);
    w.binary(&[0b010]);
    w.stop();
    w.stop();
    // TColumn.stringVal
    w.field(ttype::STRUCT, 8);
    w.field(ttype::LIST, 1);
    w.buf.push(ttype::STRING);
    w.i32(3);
    for v in ["a", "", "grüße"] {
        w.string(v);
    }
    w.field(ttype::STRING, 2);
    w.binary(&[]);
    w.stop();
    w.stop();
    w.stop(); // TRowSet
    w.stop(); // TFetchResultsResp
    w.stop(); // the result struct
    w.buf
}

/// A GetResultSetMetadata reply: a BIGINT column and an ARRAY column.
fn metadata_reply() -> Vec<u8> {
    let mut w = Writer::new();
    w.message_begin("GetResultSetMetadata", REPLY, 4);
    w.field(ttype::STRUCT, 0);
    w.field(ttype::STRUCT, 1);
    w.field(ttype::I32, 1);
    w.i32(0);
    w.stop();
    w.field(ttype::STRUCT, 2);
    w.field(ttype::LIST, 1);
    w.buf.push(ttype::STRUCT);
    w.i32(2);
    for (name, entry, type_id) in [("t.id", 1i16, 4), ("t.tags", 2, 10)] {
        w.field(ttype::STRING, 1);
        w.string(name);
        w.field(ttype::STRUCT, 2);
        w.field(ttype::LIST, 1);
        w.buf.push(ttype::STRUCT);
        w.i32(1);
        w.field(ttype::STRUCT, entry);
        w.field(ttype::I32, 1);
        w.i32(type_id);
        w.stop();
        w.stop();
        w.stop();
        w.field(ttype::I32, 3);
        w.i32(1);
        w.stop();
    }
    w.stop();
    w.stop();
    w.stop();
    w.buf
}

/// Decodes `b` and, when it is a message, picks from it everything the client does.
fn decode_and_pick(b: &[u8]) {
    let (msg, used) = match decode_message(b) {
        Ok(m) => m,
        Err(DecodeError::Incomplete | DecodeError::Invalid(_)) => return,
    };
    assert!(used <= b.len());
    // A decoded value writes back to bytes that decode to the same bytes again.
    let mut w = Writer::new();
    w.value(&msg.body);
    let mut again = super::thrift::Reader::new(&w.buf);
    let v = again.value(ttype::STRUCT).expect("re-encoded bytes decode");
    let mut w2 = Writer::new();
    w2.value(&v);
    assert_eq!(w.buf, w2.buf);

    let (name, seq) = (msg.name.clone(), msg.seq);
    match transport::reply(&name, seq, msg) {
        Ok(resp) => {
            let _ = tcli::Status::of(&resp).ok();
            let _ = tcli::OperationStatus::of(&resp);
            let schema = tcli::schema(&resp);
            for c in &schema {
                let _ = c.type_name();
            }
            if let Some(set) = resp.field(3) {
                let _ = rowset::rows(set.clone(), &schema);
            }
        }
        Err(e) => assert!(
            matches!(e.kind, ErrorKind::Protocol | ErrorKind::Server),
            "{e:?}"
        ),
    }
    // A reply to another call is refused as a protocol error.
    if let Ok((m, _)) = decode_message(b) {
        if m.kind == REPLY {
            let e = transport::reply("NotThisCall", m.seq, m).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Protocol);
        }
    }
}

fn checked(b: &[u8]) {
    let ((), held) = peak(|| decode_and_pick(b));
    assert!(
        held <= bound(b),
        "{held} bytes held for {} input bytes",
        b.len()
    );
}

fn read_frame(b: &[u8]) -> (Result<Vec<u8>, ErrorKind>, usize) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    peak(|| {
        rt.block_on(async {
            let mut r = b;
            let mut buf = Vec::new();
            transport::read_frame(&mut r, &mut buf, "test")
                .await
                .map(|()| buf)
                .map_err(|e| e.kind)
        })
    })
}

#[test]
fn the_samples_decode() {
    let (m, used) = decode_message(&fetch_reply()).unwrap();
    assert_eq!(used, fetch_reply().len());
    let resp = transport::reply("FetchResults", 3, m).unwrap();
    let rows = rowset::rows(resp.field(3).unwrap().clone(), &[]).unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[1][0], rowset::Cell::Null);
    let (m, _) = decode_message(&metadata_reply()).unwrap();
    let resp = transport::reply("GetResultSetMetadata", 4, m).unwrap();
    let s = tcli::schema(&resp);
    assert_eq!(
        s.iter().map(|c| c.type_name()).collect::<Vec<_>>(),
        ["BIGINT", "ARRAY"]
    );
}

/// Regression: 60 nested lists, each claiming 65,535 elements, reserved 60 x 65,536 values
/// (120 MiB) for 316 bytes before failing as incomplete.
#[test]
fn nested_size_claims_reserve_little() {
    let mut w = Writer::new();
    w.message_begin("X", REPLY, 1);
    w.field(ttype::LIST, 0);
    for _ in 0..60 {
        w.buf.push(ttype::LIST);
        w.i32(65_535);
    }
    let (r, held) = peak(|| decode_message(&w.buf).map(|_| ()));
    assert_eq!(r.unwrap_err(), DecodeError::Incomplete);
    assert!(
        held < 1 << 20,
        "{held} bytes held for {} bytes",
        w.buf.len()
    );
}

/// Regression: a frame length of 1 GiB - 1 (allowed) with no bytes after it reserved 1 GiB
/// before reading; 4 GB - 1 and 2^31 - 1 are refused as protocol errors.
#[test]
fn a_frame_length_reserves_nothing_before_its_bytes() {
    let mut b = 0x3FFF_FFFFu32.to_be_bytes().to_vec();
    b.extend_from_slice(b"short");
    let (r, held) = read_frame(&b);
    assert_eq!(r.unwrap_err(), ErrorKind::Connect);
    assert!(held < 1 << 20, "{held} bytes held");
    for huge in [0xFFFF_FFFFu32, 0x7FFF_FFFF, 0x8000_0000] {
        let (r, held) = read_frame(&huge.to_be_bytes());
        assert_eq!(r.unwrap_err(), ErrorKind::Protocol);
        assert!(held < 1 << 16);
    }
    let mut b = 3u32.to_be_bytes().to_vec();
    b.extend_from_slice(b"abcdef");
    assert_eq!(read_frame(&b).0.unwrap(), b"abc");
}

proptest! {
    #![proptest_config(fuzz::config())]

    #[test]
    fn hive_thrift_arbitrary_bytes(b in fuzz::bytes(512)) {
        checked(&b);
    }

    #[test]
    fn hive_thrift_mutated_replies(fetch in any::<bool>(), m in fuzz::mutations()) {
        let sample = if fetch { fetch_reply() } else { metadata_reply() };
        checked(&fuzz::apply(&sample, &m));
    }

    #[test]
    fn hive_frames_arbitrary_and_huge_lengths(len in prop_oneof![
        Just(0xFFFF_FFFFu32), Just(0x7FFF_FFFF), Just(0x4000_0000), Just(0x4000_0001), any::<u32>()
    ], rest in fuzz::bytes(64)) {
        let mut b = len.to_be_bytes().to_vec();
        b.extend_from_slice(&rest);
        let (r, held) = read_frame(&b);
        match r {
            Ok(frame) => prop_assert_eq!(frame.len(), len as usize),
            Err(kind) => prop_assert!(matches!(kind, ErrorKind::Protocol | ErrorKind::Connect)),
        }
        prop_assert!(held < 1 << 16, "{} bytes held", held);
    }
}
