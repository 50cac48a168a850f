//! Our Avatica encoder and decoder against exchanges between Avatica's own Java client and the
//! stack's Query Server (tests/fixtures/phoenix, captured by `AvaticaExchange.java`; no server
//! needed). Every answer the Java client got is decoded; every request the Java client sent is
//! re-encoded by us from the same logical request (its connection and statement ids) and compared:
//! protobuf byte for byte, JSON as parsed values (the Java client's field order is its classes'
//! order, ours is ours; see README.md). Where our request differs from the Java client's in a way the
//! server accepts, the difference is spelt out below, as an edit of the Java client's bytes that must
//! apply (it fails if the Java bytes do not have the difference) and must give our bytes exactly.

use base64::Engine;
use loadgen::wire::phoenix::{
    jdbc, rep, typed, Cell, Param, Request, Response, Serialization, Value,
};
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::path::PathBuf;

fn fixture(ser: &str, name: &str) -> Vec<u8> {
    let p: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "tests/fixtures/phoenix",
        ser,
        name,
    ]
    .iter()
    .collect();
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The ids of a captured run: the connection id the Java client chose, the statement ids the server
/// gave (the plain statement, the prepared UPSERT, the prepared SELECT).
struct Capture {
    ser: Serialization,
    dir: &'static str,
    connection: &'static str,
    plain: u32,
    upsert: u32,
    select: u32,
}

const JSON: Capture = Capture {
    ser: Serialization::Json,
    dir: "json",
    connection: "36ce884a-8a79-433a-831e-ef6db91fef42",
    plain: 3,
    upsert: 4,
    select: 5,
};
const PROTOBUF: Capture = Capture {
    ser: Serialization::Protobuf,
    dir: "protobuf",
    connection: "5a6dace2-c078-4658-be6f-997782db2b4b",
    plain: 0,
    upsert: 1,
    select: 2,
};

const CREATE: &str = "CREATE TABLE LG_FIXTURE (K BIGINT NOT NULL PRIMARY KEY, I INTEGER, S SMALLINT, T TINYINT, D DOUBLE, F FLOAT, DEC DECIMAL(20,5), V VARCHAR, C CHAR(5), B BOOLEAN, DT DATE, TM TIME, TS TIMESTAMP, VB VARBINARY)";
const UPSERT: &str = "UPSERT INTO LG_FIXTURE VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
const SELECT: &str = "SELECT * FROM LG_FIXTURE ORDER BY K";

/// The exchanges, in order: file number and what the Java client did.
const EXCHANGES: [&str; 16] = [
    "openConnection",
    "connectionSync",
    "createStatement",
    "prepareAndExecute DROP",
    "prepareAndExecute CREATE",
    "prepare UPSERT",
    "execute UPSERT",
    "executeBatch",
    "prepareAndExecute SELECT",
    "prepare SELECT",
    "execute SELECT",
    "fetch",
    "closeStatement",
    "prepareAndExecute SELECT * FROM NOPE",
    "commit",
    "closeConnection",
];

fn file(n: usize, dir: &str) -> String {
    format!("{n:03}.{dir}")
}

fn decode(c: &Capture, n: usize) -> Response {
    Response::decode(c.ser, &fixture(c.dir, &file(n, "resp")))
        .unwrap_or_else(|e| panic!("{}/{n:03}.resp ({}): {e}", c.dir, EXCHANGES[n - 1]))
}

fn prepared_signature(c: &Capture, n: usize) -> Vec<u8> {
    match decode(c, n) {
        Response::Prepare { signature, .. } => signature,
        r => panic!("{}/{n:03}.resp is not a prepare response: {r:?}", c.dir),
    }
}

/// The UPSERT's values as the Java client set them (AvaticaExchange.java).
fn all_types() -> Vec<Param> {
    vec![
        Param::Int(rep::LONG, 9007199254740993),
        Param::Int(rep::INTEGER, -5),
        Param::Int(rep::SHORT, 300),
        Param::Int(rep::BYTE, -7),
        Param::Double(std::f64::consts::PI),
        Param::Double(0.1),
        Param::Decimal("12345678901234.56789".into()),
        Param::Str("héllo ✓ 日本".into()),
        Param::Str("ab".into()),
        Param::Bool(true),
        Param::Date(19000),
        Param::Time(45296789),
        Param::Timestamp(1700000000123),
        Param::Bytes(vec![0, 1, 2, 255]),
    ]
}

fn batch() -> Vec<Vec<Param>> {
    let mut row2 = vec![Param::Int(rep::LONG, 2)];
    row2.resize(14, Param::Null);
    let mut row3 = vec![
        Param::Int(rep::LONG, 3),
        Param::Int(rep::INTEGER, 1),
        Param::Null,
        Param::Null,
        Param::Double(2.5),
    ];
    row3.resize(14, Param::Null);
    vec![row2, row3]
}

/// Our encoding of request `n`, from the same logical request as the Java client's.
/// `signature`: what our execute requests carry (for 007 and 011).
fn ours(c: &Capture, n: usize, signature: &[u8]) -> Vec<u8> {
    let id = c.connection;
    let info = BTreeMap::new();
    let (params, rows) = (all_types(), batch());
    // The Java client asks for no limit on the first frame of a plain statement (-1).
    let pae = |sql| Request::PrepareAndExecute {
        connection_id: id,
        statement_id: c.plain,
        sql,
        max_rows_total: -1,
        first_frame_max_size: -1,
    };
    let req = match n {
        1 => Request::OpenConnection {
            connection_id: id,
            info: &info,
        },
        2 => Request::ConnectionSync {
            connection_id: id,
            autocommit: true,
        },
        3 => Request::CreateStatement { connection_id: id },
        4 => pae("DROP TABLE IF EXISTS LG_FIXTURE"),
        5 => pae(CREATE),
        6 => Request::Prepare {
            connection_id: id,
            sql: UPSERT,
            max_rows_total: -1,
        },
        // The prepared statements' fetch size, 2, is the first frame's size.
        7 => Request::Execute {
            connection_id: id,
            statement_id: c.upsert,
            signature,
            params: &params,
            first_frame_max_size: 2,
        },
        8 => Request::ExecuteBatch {
            connection_id: id,
            statement_id: c.upsert,
            rows: &rows,
        },
        9 => pae(SELECT),
        10 => Request::Prepare {
            connection_id: id,
            sql: SELECT,
            max_rows_total: -1,
        },
        11 => Request::Execute {
            connection_id: id,
            statement_id: c.select,
            signature,
            params: &[],
            first_frame_max_size: 2,
        },
        12 => Request::Fetch {
            connection_id: id,
            statement_id: c.select,
            offset: 2,
            frame_max_size: 2,
        },
        13 => Request::CloseStatement {
            connection_id: id,
            statement_id: c.select,
        },
        14 => pae("SELECT * FROM NOPE"),
        15 => Request::Commit { connection_id: id },
        16 => Request::CloseConnection { connection_id: id },
        _ => unreachable!(),
    };
    req.encode(c.ser).unwrap()
}

// ------------------------------------------------------------------ protobuf, field by field

/// One field's value on the wire.
#[derive(Debug, Clone, PartialEq)]
enum Pb {
    Varint(u64),
    Fixed64([u8; 8]),
    Fixed32([u8; 4]),
    Bytes(Vec<u8>),
}

type Msg = Vec<(u32, Pb)>;

fn read_varint(b: &[u8], i: &mut usize) -> u64 {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let x = b[*i];
        *i += 1;
        v |= u64::from(x & 0x7f) << shift;
        if x & 0x80 == 0 {
            return v;
        }
    }
    panic!("varint too long")
}

fn write_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn pb_read(b: &[u8]) -> Msg {
    let mut i = 0;
    let mut m = Msg::new();
    while i < b.len() {
        let key = read_varint(b, &mut i);
        let v = match key & 7 {
            0 => Pb::Varint(read_varint(b, &mut i)),
            1 => {
                i += 8;
                Pb::Fixed64(b[i - 8..i].try_into().unwrap())
            }
            5 => {
                i += 4;
                Pb::Fixed32(b[i - 4..i].try_into().unwrap())
            }
            2 => {
                let n = read_varint(b, &mut i) as usize;
                i += n;
                Pb::Bytes(b[i - n..i].to_vec())
            }
            t => panic!("wire type {t}"),
        };
        m.push(((key >> 3) as u32, v));
    }
    m
}

fn pb_write(m: &Msg) -> Vec<u8> {
    let mut out = Vec::new();
    for (n, v) in m {
        let n = u64::from(*n) << 3;
        match v {
            Pb::Varint(x) => {
                write_varint(&mut out, n);
                write_varint(&mut out, *x);
            }
            Pb::Fixed64(x) => {
                write_varint(&mut out, n | 1);
                out.extend_from_slice(x);
            }
            Pb::Fixed32(x) => {
                write_varint(&mut out, n | 5);
                out.extend_from_slice(x);
            }
            Pb::Bytes(x) => {
                write_varint(&mut out, n | 2);
                write_varint(&mut out, x.len() as u64);
                out.extend_from_slice(x);
            }
        }
    }
    out
}

/// Applies `f` to every message at `path` (field numbers from the outer message down; every
/// occurrence of a repeated field) and re-encodes. Returns how many messages `f` saw.
fn pb_edit(b: &[u8], path: &[u32], f: &mut dyn FnMut(&mut Msg)) -> (Vec<u8>, usize) {
    let mut m = pb_read(b);
    let mut seen = 0;
    match path.split_first() {
        None => {
            f(&mut m);
            seen = 1;
        }
        Some((first, rest)) => {
            for (n, v) in m.iter_mut() {
                if n == first {
                    let Pb::Bytes(inner) = v else {
                        panic!("field {n} is not a message")
                    };
                    let (edited, k) = pb_edit(inner, rest, f);
                    *inner = edited;
                    seen += k;
                }
            }
        }
    }
    (pb_write(&m), seen)
}

fn pb_get(m: &Msg, field: u32) -> Option<&Pb> {
    m.iter().find(|(n, _)| *n == field).map(|(_, v)| v)
}

/// The Java client also writes a deprecated field beside the current one, with the same value; we
/// write only the current one. `path` leads to the request inside the WireMessage (field 2).
fn pb_no_deprecated(b: &[u8], path: &[u32], deprecated: u32, current: u32) -> Vec<u8> {
    let (out, seen) = pb_edit(b, path, &mut |m| {
        let old = pb_get(m, deprecated).cloned();
        assert!(
            old.is_some(),
            "the Java request has no deprecated field {deprecated}"
        );
        assert_eq!(
            old.as_ref(),
            pb_get(m, current),
            "deprecated field {deprecated} and field {current} differ"
        );
        m.retain(|(n, _)| *n != deprecated);
    });
    assert_eq!(seen, 1);
    out
}

/// TypedValue (common.proto): 1 type (Rep), 3 string_value, 5 bytes_value, 7 null.
const REP_BYTE_STRING: u64 = 20;
const REP_OBJECT: u64 = 23;
const REP_NULL: u64 = 24;

/// A NULL parameter: the Java client (`setNull`) sends type OBJECT with null = true; we send type
/// NULL with null = true. Returns the edited bytes and how many values changed.
fn pb_null_as_null_rep(b: &[u8], path: &[u32]) -> (Vec<u8>, usize) {
    let mut changed = 0;
    let (out, _) = pb_edit(b, path, &mut |v| {
        if pb_get(v, 7) == Some(&Pb::Varint(1)) {
            assert_eq!(pb_get(v, 1), Some(&Pb::Varint(REP_OBJECT)), "{v:?}");
            v[0].1 = Pb::Varint(REP_NULL);
            changed += 1;
        }
    });
    (out, changed)
}

/// A BYTE_STRING parameter: the Java client sends the bytes twice, as bytes_value and as base64
/// text in string_value; we send bytes_value only.
fn pb_bytes_once(b: &[u8], path: &[u32]) -> Vec<u8> {
    let mut changed = 0;
    let (out, _) = pb_edit(b, path, &mut |v| {
        if pb_get(v, 1) == Some(&Pb::Varint(REP_BYTE_STRING)) {
            let Some(Pb::Bytes(raw)) = pb_get(v, 5).cloned() else {
                panic!("no bytes_value: {v:?}")
            };
            let text = base64::engine::general_purpose::STANDARD.encode(&raw);
            assert_eq!(pb_get(v, 3), Some(&Pb::Bytes(text.into_bytes())), "{v:?}");
            v.retain(|(n, _)| *n != 3);
            changed += 1;
        }
    });
    assert_eq!(changed, 1);
    out
}

/// The signature in an execute request's statement handle (ExecuteRequest 1 → StatementHandle 3).
fn pb_handle_signature(req: &[u8]) -> Option<Vec<u8>> {
    let wrapped = pb_read(req);
    let Some(Pb::Bytes(body)) = pb_get(&wrapped, 2) else {
        panic!("no wrapped message")
    };
    let request = pb_read(body);
    let Some(Pb::Bytes(handle)) = pb_get(&request, 1) else {
        panic!("no statement handle")
    };
    match pb_get(&pb_read(handle), 3) {
        Some(Pb::Bytes(s)) => Some(s.clone()),
        _ => None,
    }
}

/// Sets (or adds, in field order) the handle's signature.
fn pb_with_signature(req: &[u8], signature: &[u8]) -> Vec<u8> {
    let (out, seen) = pb_edit(req, &[2, 1], &mut |h| {
        h.retain(|(n, _)| *n != 3);
        let at = h.iter().position(|(n, _)| *n > 3).unwrap_or(h.len());
        h.insert(at, (3, Pb::Bytes(signature.to_vec())));
    });
    assert_eq!(seen, 1);
    out
}

/// A signature without the reps of its columns' types (Signature 1 → ColumnMetaData 20 →
/// AvaticaType 3).
fn pb_without_reps(signature: &[u8]) -> Vec<u8> {
    pb_edit(signature, &[1, 20], &mut |t| t.retain(|(n, _)| *n != 3)).0
}

fn check_protobuf_requests() {
    let c = &PROTOBUF;
    for n in 1..=EXCHANGES.len() {
        let java = fixture(c.dir, &file(n, "req"));
        let what = EXCHANGES[n - 1];
        // The Java client's request, edited by the differences listed for it, and ours.
        let (expected, mine) = match n {
            // PrepareAndExecuteRequest: 3 max_row_count (deprecated), 5 max_rows_total.
            4 | 5 | 9 | 14 => (pb_no_deprecated(&java, &[2], 3, 5), ours(c, n, &[])),
            // PrepareRequest: 3 max_row_count (deprecated), 4 max_rows_total.
            6 | 10 => (pb_no_deprecated(&java, &[2], 3, 4), ours(c, n, &[])),
            7 => {
                // The Java client sends no signature with this execute; we send the prepare's.
                assert_eq!(pb_handle_signature(&java), None);
                let sig = prepared_signature(c, 6);
                let e = pb_with_signature(&java, &sig);
                // ExecuteRequest: 3 first_frame_max_size (deprecated), 5 first_frame_max_size.
                let e = pb_no_deprecated(&e, &[2], 3, 5);
                let e = pb_bytes_once(&e, &[2, 2]);
                (e, ours(c, n, &sig))
            }
            8 => {
                let (e, nulls) = pb_null_as_null_rep(&java, &[2, 3, 1]);
                assert_eq!(nulls, 13 + 11);
                (e, ours(c, n, &[]))
            }
            11 => {
                // The Java client sends back the prepare's signature with the reps of the column
                // types changed (PRIMITIVE_LONG → NUMBER, BYTE_STRING → STRING, ...): apart from
                // those, it is the prepare's. We send the prepare's unchanged.
                let sig = prepared_signature(c, 10);
                let theirs = pb_handle_signature(&java).expect("a signature");
                assert_ne!(
                    theirs, sig,
                    "the reps no longer differ: drop this difference"
                );
                assert_eq!(pb_without_reps(&theirs), pb_without_reps(&sig));
                let e = pb_with_signature(&java, &sig);
                (pb_no_deprecated(&e, &[2], 3, 5), ours(c, n, &sig))
            }
            // FetchRequest: 4 fetch_max_row_count (deprecated), 5 frame_max_size.
            12 => (pb_no_deprecated(&java, &[2], 4, 5), ours(c, n, &[])),
            // The rest: byte for byte as the Java client's.
            _ => (java.clone(), ours(c, n, &[])),
        };
        assert!(
            mine == expected,
            "protobuf/{n:03}.req ({what}): our bytes differ\nours:     {mine:?}\nexpected: {expected:?}\njava:     {java:?}"
        );
    }
}

// ------------------------------------------------------------------ JSON, as parsed values

fn json(b: &[u8]) -> Json {
    serde_json::from_slice(b).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(b)))
}

/// Removes `key` from `obj`, which must hold it with the value null.
fn drop_null(obj: &mut Json, key: &str) {
    assert_eq!(obj.get(key), Some(&Json::Null), "{key} in {obj:?}");
    obj.as_object_mut().unwrap().shift_remove(key);
}

/// The JSON differences of parameter values: the Java client writes `"componentType": null` in
/// every TypedValue (we leave it out), and `"type": "OBJECT"` for a NULL (we write `"NULL"`).
fn json_params(values: &mut Json) -> usize {
    let mut nulls = 0;
    for v in values.as_array_mut().unwrap() {
        drop_null(v, "componentType");
        if v["value"].is_null() {
            assert_eq!(v["type"], "OBJECT", "{v}");
            v["type"] = "NULL".into();
            nulls += 1;
        }
    }
    nulls
}

/// A JSON signature without its columns' type reps.
fn json_without_reps(sig: &Json) -> Json {
    let mut s = sig.clone();
    for c in s["columns"].as_array_mut().unwrap() {
        c["type"].as_object_mut().unwrap().shift_remove("rep");
    }
    s
}

fn check_json_requests() {
    let c = &JSON;
    let mut byte_equal = Vec::new();
    for n in 1..=EXCHANGES.len() {
        let raw = fixture(c.dir, &file(n, "req"));
        let what = EXCHANGES[n - 1];
        let mut java = json(&raw);
        let mut sig = Vec::new();
        match n {
            2 => {
                // The Java client writes the connection properties it has not set as null.
                for k in ["readOnly", "transactionIsolation", "catalog", "schema"] {
                    drop_null(&mut java["connProps"], k);
                }
            }
            4 | 5 | 9 | 14 => {
                // prepareAndExecute: the Java client names the total limit by its older name,
                // maxRowCount; we use maxRowsTotal (the server reads either).
                let m = java.as_object_mut().unwrap();
                let v = m.shift_remove("maxRowCount").expect("maxRowCount");
                assert!(m.insert("maxRowsTotal".into(), v).is_none());
            }
            7 => {
                // No signature from the Java client (null); we send the prepare's.
                drop_null(&mut java["statementHandle"], "signature");
                sig = prepared_signature(c, 6);
                java["statementHandle"]["signature"] = json(&sig);
                assert_eq!(json_params(&mut java["parameterValues"]), 0);
            }
            8 => {
                let mut nulls = 0;
                for row in java["parameterValues"].as_array_mut().unwrap() {
                    nulls += json_params(row);
                }
                assert_eq!(nulls, 13 + 11);
            }
            11 => {
                // As in protobuf: the prepare's signature with other column type reps.
                sig = prepared_signature(c, 10);
                let prepared = json(&sig);
                let theirs = &java["statementHandle"]["signature"];
                assert_ne!(theirs, &prepared, "the reps no longer differ");
                assert_eq!(json_without_reps(theirs), json_without_reps(&prepared));
                java["statementHandle"]["signature"] = prepared;
                assert_eq!(json_params(&mut java["parameterValues"]), 0);
            }
            _ => {}
        }
        let mine = ours(c, n, &sig);
        assert_eq!(
            json(&mine),
            java,
            "json/{n:03}.req ({what}): ours differs\nours: {}\njava: {}",
            String::from_utf8_lossy(&mine),
            String::from_utf8_lossy(&raw)
        );
        if mine == raw {
            byte_equal.push(n);
        }
    }
    // serde_json reads numbers as f64 or i64: the decimal's exact digits are checked in the text.
    let java = String::from_utf8(fixture(c.dir, "007.req")).unwrap();
    let mine = String::from_utf8(ours(c, 7, &prepared_signature(c, 6))).unwrap();
    for text in [&java, &mine] {
        assert!(
            text.contains(r#"{"type":"NUMBER","value":12345678901234.56789"#),
            "{text}"
        );
        assert!(text.contains(r#""value":9007199254740993"#), "{text}");
    }
    // The requests whose JSON is byte-equal to the Java client's (the others differ as above, or
    // only in field order: README.md).
    assert_eq!(byte_equal, [1, 3, 6, 10, 12, 13, 15, 16]);
}

#[test]
fn fixture_json_requests_match_the_java_client() {
    check_json_requests();
}

#[test]
fn fixture_protobuf_requests_match_the_java_client() {
    check_protobuf_requests();
}

// ------------------------------------------------------------------ responses

fn row(cells: &[Cell], types: &[i32]) -> Vec<Value> {
    cells
        .iter()
        .zip(types)
        .map(|(cell, t)| typed(*t, cell.clone()))
        .collect()
}

fn full_row() -> Vec<Value> {
    vec![
        Value::Int(9007199254740993),
        Value::Int(-5),
        Value::Int(300),
        Value::Int(-7),
        Value::Float(std::f64::consts::PI),
        Value::Float(0.1f32 as f64),
        Value::Decimal("12345678901234.56789".into()),
        Value::Str("héllo ✓ 日本".into()),
        Value::Str("ab".into()),
        Value::Bool(true),
        Value::Int(19000),
        Value::Int(45296789),
        Value::Int(1700000000123),
        Value::Bytes(vec![0, 1, 2, 255]),
    ]
}

fn check_row3(cells: &[Cell], types: &[i32]) {
    let r = row(cells, types);
    assert_eq!(r[0], Value::Int(3));
    assert_eq!(r[1], Value::Int(1));
    assert_eq!(r[2], Value::Null);
    assert_eq!(r[4], Value::Float(2.5));
    assert_eq!(r[13], Value::Null);
}

fn check_responses(c: &Capture) {
    assert_eq!(decode(c, 1), Response::Done("openConnection"));
    assert_eq!(decode(c, 2), Response::Done("connectionSync"));
    assert_eq!(
        decode(c, 3),
        Response::CreateStatement {
            statement_id: c.plain
        }
    );
    for ddl in [4, 5] {
        let Response::Execute { results, .. } = decode(c, ddl) else {
            panic!("{ddl}")
        };
        assert_eq!(results[0].update_count, 0, "{ddl}");
        assert!(results[0].first_frame.is_none(), "{ddl}");
    }
    let Response::Prepare {
        statement_id,
        params,
        signature,
        ..
    } = decode(c, 6)
    else {
        panic!("006")
    };
    assert_eq!(statement_id, c.upsert);
    let names: Vec<&str> = params.iter().map(|p| p.type_name.as_str()).collect();
    assert_eq!(
        names,
        [
            "BIGINT",
            "INTEGER",
            "SMALLINT",
            "TINYINT",
            "DOUBLE",
            "FLOAT",
            "DECIMAL",
            "VARCHAR",
            "CHAR",
            "BOOLEAN",
            "DATE",
            "TIME",
            "TIMESTAMP",
            "VARBINARY"
        ]
    );
    assert_eq!(params[0].type_id, jdbc::BIGINT);
    assert_eq!(params[13].type_id, jdbc::VARBINARY);
    assert!(!signature.is_empty());
    let Response::Execute { results, .. } = decode(c, 7) else {
        panic!("007")
    };
    assert_eq!(results[0].update_count, 1);
    assert_eq!(
        decode(c, 8),
        Response::ExecuteBatch {
            update_counts: vec![1, 1],
            missing_statement: false
        }
    );
    // The plain SELECT: every row in the first frame.
    let Response::Execute { results, .. } = decode(c, 9) else {
        panic!("009")
    };
    let rs = &results[0];
    assert_eq!((rs.statement_id, rs.update_count), (c.plain, -1));
    let cols = rs.columns.as_ref().unwrap();
    assert_eq!(cols.len(), 14);
    assert_eq!(cols[0].name, "K");
    assert_eq!(cols[6].type_name, "DECIMAL");
    let types: Vec<i32> = cols.iter().map(|c| c.type_id).collect();
    let frame = rs.first_frame.clone().unwrap();
    assert!(frame.done);
    assert_eq!(frame.rows.len(), 3);
    check_row3(&frame.rows[1], &types);
    assert_eq!(row(&frame.rows[2], &types), full_row());
    // The prepared SELECT: two rows in the first frame, the third by fetch.
    let Response::Prepare {
        statement_id,
        columns,
        params,
        ..
    } = decode(c, 10)
    else {
        panic!("010")
    };
    assert_eq!(statement_id, c.select);
    assert!(params.is_empty());
    assert_eq!(columns.iter().map(|c| c.type_id).collect::<Vec<_>>(), types);
    let Response::Execute { results, .. } = decode(c, 11) else {
        panic!("011")
    };
    let frame = results[0].first_frame.clone().unwrap();
    assert!(!frame.done);
    assert_eq!(frame.rows.len(), 2);
    check_row3(&frame.rows[1], &types);
    let Response::Fetch { frame, .. } = decode(c, 12) else {
        panic!("012")
    };
    assert!(frame.done);
    assert_eq!(frame.offset, 2);
    assert_eq!(row(&frame.rows[0], &types), full_row());
    assert_eq!(decode(c, 13), Response::Done("closeStatement"));
    let Response::Error(e) = decode(c, 14) else {
        panic!("014")
    };
    assert!(e.message.contains("ERROR 1012 (42M03)"), "{}", e.message);
    assert_eq!(decode(c, 15), Response::Done("commit"));
    assert_eq!(decode(c, 16), Response::Done("closeConnection"));
}

#[test]
fn fixture_json_responses_decode() {
    check_responses(&JSON);
}

#[test]
fn fixture_protobuf_responses_decode() {
    check_responses(&PROTOBUF);
}

#[test]
fn fixture_cells_of_both_serializations_agree() {
    // The same row, once from JSON and once from protobuf, gives the same script values.
    let rows = |c: &Capture| {
        let Response::Fetch { frame, .. } = decode(c, 12) else {
            panic!()
        };
        frame.rows[0].clone()
    };
    let (j, p) = (rows(&JSON), rows(&PROTOBUF));
    assert_eq!(j.len(), p.len());
    // DECIMAL is a JSON number but a protobuf string; both become the same exact text.
    assert_eq!(j[6], Cell::Number("12345678901234.56789".into()));
    assert_eq!(
        typed(jdbc::DECIMAL, j[6].clone()),
        typed(jdbc::DECIMAL, p[6].clone())
    );
    // VARBINARY is base64 text in JSON and bytes in protobuf.
    assert_eq!(
        typed(jdbc::VARBINARY, j[13].clone()),
        typed(jdbc::VARBINARY, p[13].clone())
    );
    // A wrong guess of the serialization says what the server speaks.
    let e = Response::decode(Serialization::Json, &fixture("protobuf", "003.resp")).unwrap_err();
    assert!(e.contains("set serialization = \"protobuf\""), "{e}");
    let e = Response::decode(Serialization::Protobuf, &fixture("json", "003.resp")).unwrap_err();
    assert!(e.contains("set serialization = \"json\""), "{e}");
}

/// The edits above must not make any two different requests equal: an edit that threw away what it
/// should compare would let any encoding through. Each edited Java request differs from our
/// encoding of every other exchange.
#[test]
fn fixture_edits_keep_requests_apart() {
    let c = &PROTOBUF;
    let sig = prepared_signature(c, 6);
    let a = ours(c, 7, &sig);
    let b = ours(c, 11, &prepared_signature(c, 10));
    assert_ne!(a, b);
    // A changed value in our UPSERT is caught by the comparison (the PI parameter, one ulp off).
    let java = fixture(c.dir, "007.req");
    let e = pb_no_deprecated(&pb_with_signature(&java, &sig), &[2], 3, 5);
    let e = pb_bytes_once(&e, &[2, 2]);
    assert_eq!(e, a);
    let (off, _) = pb_edit(&e, &[2, 2], &mut |v| {
        if let Some((_, Pb::Fixed64(d))) = v.iter_mut().find(|(n, _)| *n == 6) {
            if f64::from_le_bytes(*d) == std::f64::consts::PI {
                *d = (f64::from_bits(std::f64::consts::PI.to_bits() + 1)).to_le_bytes();
            }
        }
    });
    assert_ne!(off, a);
}
