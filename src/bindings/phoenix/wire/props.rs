//! Hostile bytes for the Avatica response decoders (protobuf and JSON) and the small JSON reader:
//! arbitrary bytes and mutations of valid responses give a response or an error text (which the
//! connection turns into a `protocol` error), never a panic, and never hold more memory than the
//! input accounts for. Cells of decoded frames are also given their column types.

use super::*;
use crate::util::fuzz::{self, alloc::peak};
use proptest::prelude::*;

fn wire(class: &str, m: impl prost::Message) -> Vec<u8> {
    pb::WireMessage {
        name: format!("{RESPONSES}{class}"),
        wrapped_message: m.encode_to_vec(),
    }
    .encode_to_vec()
}

fn tv(r#type: i32) -> pb::TypedValue {
    pb::TypedValue {
        r#type,
        ..Default::default()
    }
}

fn pb_samples() -> Vec<Vec<u8>> {
    let col = |name: &str, id: u32| pb::ColumnMetaData {
        label: name.into(),
        r#type: Some(pb::AvaticaType {
            id,
            name: "T".into(),
            rep: 0,
        }),
        ..Default::default()
    };
    let cells = vec![
        pb::ColumnValue {
            scalar_value: Some(pb::TypedValue {
                number_value: -7,
                ..tv(rep::LONG)
            }),
            ..Default::default()
        },
        pb::ColumnValue {
            scalar_value: Some(pb::TypedValue {
                string_value: "12.50".into(),
                ..tv(rep::BIG_DECIMAL)
            }),
            ..Default::default()
        },
        pb::ColumnValue {
            has_array_value: true,
            array_value: vec![
                pb::TypedValue {
                    double_value: 1.5,
                    ..tv(rep::DOUBLE)
                },
                pb::TypedValue {
                    null: true,
                    ..tv(rep::NULL)
                },
            ],
            ..Default::default()
        },
    ];
    let frame = pb::Frame {
        offset: 0,
        done: true,
        rows: vec![pb::Row { value: cells }],
    };
    let sig = pb::Signature {
        columns: vec![col("ID", 4), col("PRICE", 3), col("TAGS", 2003)],
        sql: "SELECT * FROM T WHERE ID = ?".into(),
        parameters: vec![pb::AvaticaParameter {
            parameter_type: 4,
            type_name: "INTEGER".into(),
            class_name: "java.lang.Integer".into(),
        }],
    };
    vec![
        wire(
            "ExecuteResponse",
            pb::ExecuteResponse {
                results: vec![pb::ResultSetResponse {
                    connection_id: "c".into(),
                    statement_id: 3,
                    own_statement: true,
                    signature: Some(sig.clone()),
                    first_frame: Some(frame.clone()),
                    update_count: u64::MAX,
                }],
                missing_statement: false,
            },
        ),
        wire(
            "PrepareResponse",
            pb::PrepareResponse {
                statement: Some(pb::StatementHandleRaw {
                    connection_id: "c".into(),
                    id: 9,
                    signature: Some(sig.encode_to_vec()),
                }),
            },
        ),
        wire(
            "FetchResponse",
            pb::FetchResponse {
                frame: Some(frame),
                missing_statement: false,
                missing_results: false,
            },
        ),
        wire(
            "ExecuteBatchResponse",
            pb::ExecuteBatchResponse {
                connection_id: "c".into(),
                statement_id: 1,
                update_counts: vec![1, 0, u64::MAX],
                missing_statement: false,
            },
        ),
        wire(
            "ErrorResponse",
            pb::ErrorResponse {
                exceptions: vec!["java.sql.SQLException: x\n\tat y".into()],
                error_message: String::new(),
                severity: 2,
                error_code: 1012,
                sql_state: "42M03".into(),
            },
        ),
    ]
}

const JSON_SAMPLES: [&str; 5] = [
    r#"{"response":"executeResults","missingStatement":false,"results":[{"response":"resultSet","connectionId":"c","statementId":3,"ownStatement":true,"signature":{"columns":[{"ordinal":0,"label":"ID","columnName":"ID","type":{"type":"scalar","id":-5,"name":"BIGINT","rep":"PRIMITIVE_LONG"}},{"label":"PRICE","type":{"id":3,"name":"DECIMAL"}}],"sql":null,"parameters":[]},"firstFrame":{"offset":0,"done":true,"rows":[[9223372036854775807,"12.50"],[null,1.5e300],[-1,"\u00e9\ud83d\ude00"]]},"updateCount":-1}]}"#,
    r#"{"response":"prepare","statement":{"connectionId":"c","id":9,"signature":{"columns":[{"label":"B","type":{"id":-3,"name":"VARBINARY"}}],"parameters":[{"parameterType":4,"typeName":"INTEGER"}]}}}"#,
    r#"{"response":"fetch","missingStatement":false,"missingResults":false,"frame":{"offset":100,"done":false,"rows":[["AAEC",true,[1,2,[3]]],[{},false,"x"]]}}"#,
    r#"{"response":"executeBatch","updateCounts":[1,0,-3],"missingStatement":false}"#,
    r#"{"response":"error","exceptions":["org.apache.calcite.avatica.NoSuchConnectionException\n\tat x"],"errorMessage":null,"errorCode":1,"sqlState":"00000","severity":"ERROR"}"#,
];

/// What decoding may hold: a couple of hundred bytes per input byte (the tree, the cells, an
/// error message quoting the start of the body), plus a fixed allowance.
fn bound(b: &[u8]) -> usize {
    (1 << 20) + 256 * b.len()
}

fn use_frame(columns: &[Column], f: Frame) {
    for row in f.rows {
        for (i, cell) in row.into_iter().enumerate() {
            let _ = typed(columns.get(i).map_or(12, |c| c.type_id), cell);
        }
    }
}

/// Decodes `b` as `ser`, then uses every part of the response as the client does.
fn decode_and_use(ser: Serialization, b: &[u8]) {
    let ((), held) = peak(|| match Response::decode(ser, b) {
        Ok(Response::Execute { results, .. }) => {
            for r in results {
                let cols = r.columns.unwrap_or_default();
                if let Some(f) = r.first_frame {
                    use_frame(&cols, f);
                }
            }
        }
        Ok(Response::Fetch { frame, .. }) => use_frame(&[], frame),
        Ok(r) => {
            let _ = r.name();
        }
        Err(e) => assert!(!e.is_empty()),
    });
    assert!(
        held <= bound(b),
        "{held} bytes held for {} input bytes",
        b.len()
    );
}

#[test]
fn the_samples_decode() {
    for s in pb_samples() {
        let r = Response::decode(Serialization::Protobuf, &s).unwrap();
        assert_ne!(r.name(), "done");
    }
    for s in JSON_SAMPLES {
        Response::decode(Serialization::Json, s.as_bytes()).unwrap();
    }
}

/// A JSON nesting deeper than the reader allows is an error, not a stack overflow.
#[test]
fn deep_json_is_refused() {
    let deep = "[".repeat(100_000);
    assert!(Json::parse(deep.as_bytes()).is_err());
    let deep = format!("{}{}", "{\"a\":".repeat(10_000), "1");
    assert!(Json::parse(deep.as_bytes()).is_err());
}

/// A length-delimited field claiming 4 GB is refused without allocating it.
#[test]
fn a_huge_protobuf_length_is_refused() {
    let mut b = vec![0x0a]; // WireMessage.name, length-delimited
    b.extend_from_slice(&[0xFF, 0xFF, 0xFF, 0xFF, 0x0F]);
    b.extend_from_slice(b"abc");
    let (r, held) = peak(|| Response::decode(Serialization::Protobuf, &b));
    assert!(r.is_err());
    assert!(held < 1 << 16, "{held}");
}

proptest! {
    #![proptest_config(fuzz::config())]

    #[test]
    fn phoenix_protobuf_arbitrary_bytes(b in fuzz::bytes(512)) {
        decode_and_use(Serialization::Protobuf, &b);
    }

    #[test]
    fn phoenix_protobuf_mutated_responses(i in 0..5usize, m in fuzz::mutations()) {
        decode_and_use(Serialization::Protobuf, &fuzz::apply(&pb_samples()[i], &m));
    }

    #[test]
    fn phoenix_json_arbitrary_bytes(b in fuzz::bytes(512)) {
        decode_and_use(Serialization::Json, &b);
    }

    #[test]
    fn phoenix_json_mutated_responses(i in 0..5usize, m in fuzz::mutations()) {
        decode_and_use(Serialization::Json, &fuzz::apply(JSON_SAMPLES[i].as_bytes(), &m));
    }

    /// Whatever serde_json reads, the JSON reader reads too; what it reads, it writes back as
    /// text that it reads as the same value. (It is laxer than JSON about numbers: "0." and "01"
    /// pass, as Rust's float parser takes them.)
    #[test]
    fn phoenix_json_reader_text(s in "[\\[\\]{}\",:0-9eE+\\-. a-z\\\\u]{0,64}") {
        let ours = Json::parse(s.as_bytes());
        if serde_json::from_str::<serde_json::Value>(&s).is_ok() {
            prop_assert!(ours.is_ok(), "{:?}", ours);
        }
        if let Ok(j) = ours {
            let text = j.to_string();
            prop_assert_eq!(Json::parse(text.as_bytes()), Ok(j), "{}", text);
        }
    }
}
