//! Avatica responses, decoded from JSON or protobuf.

use super::*;

#[derive(Debug, Clone, PartialEq)]
pub enum Response {
    /// openConnection, closeConnection, connectionSync, closeStatement, commit, rollback.
    Done(&'static str),
    CreateStatement {
        statement_id: u32,
    },
    Execute {
        results: Vec<ResultSet>,
        missing_statement: bool,
    },
    Prepare {
        statement_id: u32,
        params: Vec<ParamType>,
        columns: Vec<Column>,
        /// The statement's signature, opaque: protobuf bytes or JSON text, to send back with
        /// every execute request.
        signature: Vec<u8>,
    },
    Fetch {
        frame: Frame,
        missing_statement: bool,
        missing_results: bool,
    },
    ExecuteBatch {
        update_counts: Vec<i64>,
        missing_statement: bool,
    },
    Error(ServerError),
}

impl Response {
    /// What kind of response this is, for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Response::Done(n) => n,
            Response::CreateStatement { .. } => "createStatement",
            Response::Execute { .. } => "executeResults",
            Response::Prepare { .. } => "prepare",
            Response::Fetch { .. } => "fetch",
            Response::ExecuteBatch { .. } => "executeBatch",
            Response::Error(_) => "error",
        }
    }

    /// Decodes a response body. An error names what was wrong, and guesses when the server
    /// speaks the other serialization or is not an Avatica server at all.
    pub fn decode(ser: Serialization, body: &[u8]) -> Result<Response, String> {
        let r = match ser {
            Serialization::Json => Self::from_json(body),
            Serialization::Protobuf => Self::from_protobuf(body),
        };
        r.map_err(|e| {
            let other = match ser {
                Serialization::Json => Self::from_protobuf(body).is_ok(),
                Serialization::Protobuf => Self::from_json(body).is_ok(),
            };
            if other {
                let (them, us) = match ser {
                    Serialization::Json => ("protobuf", "json"),
                    Serialization::Protobuf => ("json", "protobuf"),
                };
                format!(
                    "the server answered in {them}, not {us}: set serialization = \"{them}\" ({e})"
                )
            } else {
                format!(
                    "not an Avatica {} response: {e}: {}",
                    ser.name(),
                    preview(body)
                )
            }
        })
    }

    fn from_protobuf(body: &[u8]) -> Result<Response, String> {
        let wire = pb::WireMessage::decode(body).map_err(|e| format!("bad WireMessage: {e}"))?;
        let class = wire
            .name
            .strip_prefix(RESPONSES)
            .ok_or_else(|| format!("unknown message '{}'", wire.name))?;
        let b = wire.wrapped_message.as_slice();
        let bad = |e: prost::DecodeError| format!("bad {class}: {e}");
        Ok(match class {
            "OpenConnectionResponse" => Response::Done("openConnection"),
            "CloseConnectionResponse" => Response::Done("closeConnection"),
            "ConnectionSyncResponse" => Response::Done("connectionSync"),
            "CloseStatementResponse" => Response::Done("closeStatement"),
            "CommitResponse" => Response::Done("commit"),
            "RollbackResponse" => Response::Done("rollback"),
            "CreateStatementResponse" => {
                let m = pb::CreateStatementResponse::decode(b).map_err(bad)?;
                Response::CreateStatement {
                    statement_id: m.statement_id,
                }
            }
            "ExecuteResponse" => {
                let m = pb::ExecuteResponse::decode(b).map_err(bad)?;
                Response::Execute {
                    results: m.results.into_iter().map(result_set_pb).collect(),
                    missing_statement: m.missing_statement,
                }
            }
            "PrepareResponse" => {
                let m = pb::PrepareResponse::decode(b).map_err(bad)?;
                let h = m.statement.unwrap_or_default();
                let raw = h.signature.unwrap_or_default();
                let sig = pb::Signature::decode(raw.as_slice()).map_err(bad)?;
                Response::Prepare {
                    statement_id: h.id,
                    signature: raw,
                    params: sig
                        .parameters
                        .iter()
                        .map(|p| ParamType {
                            type_id: p.parameter_type as i32,
                            type_name: p.type_name.clone(),
                        })
                        .collect(),
                    columns: sig.columns.iter().map(column_pb).collect(),
                }
            }
            "FetchResponse" => {
                let m = pb::FetchResponse::decode(b).map_err(bad)?;
                Response::Fetch {
                    frame: m.frame.map(frame_pb).unwrap_or_default(),
                    missing_statement: m.missing_statement,
                    missing_results: m.missing_results,
                }
            }
            "ExecuteBatchResponse" => {
                let m = pb::ExecuteBatchResponse::decode(b).map_err(bad)?;
                Response::ExecuteBatch {
                    update_counts: m.update_counts.iter().map(|&n| n as i64).collect(),
                    missing_statement: m.missing_statement,
                }
            }
            "ErrorResponse" => {
                let m = pb::ErrorResponse::decode(b).map_err(bad)?;
                Response::Error(ServerError {
                    message: error_text(&m.error_message, m.exceptions.first().map(String::as_str)),
                    sql_state: m.sql_state,
                    code: m.error_code as i32 as i64,
                })
            }
            other => return Err(format!("unexpected message '{other}'")),
        })
    }

    fn from_json(body: &[u8]) -> Result<Response, String> {
        let j = Json::parse(body)?;
        let kind = j
            .get("response")
            .and_then(Json::as_str)
            .ok_or("no 'response' attribute")?;
        let missing = |k: &str| j.get(k).and_then(Json::as_bool).unwrap_or(false);
        Ok(match kind {
            "openConnection" => Response::Done("openConnection"),
            "closeConnection" => Response::Done("closeConnection"),
            "connectionSync" => Response::Done("connectionSync"),
            "closeStatement" => Response::Done("closeStatement"),
            "commit" => Response::Done("commit"),
            "rollback" => Response::Done("rollback"),
            "createStatement" => Response::CreateStatement {
                statement_id: j.get("statementId").and_then(Json::as_i64).unwrap_or(0) as u32,
            },
            "executeResults" => Response::Execute {
                results: j
                    .get("results")
                    .and_then(Json::as_array)
                    .unwrap_or(&[])
                    .iter()
                    .map(result_set_json)
                    .collect::<Result<_, _>>()?,
                missing_statement: missing("missingStatement"),
            },
            "prepare" => {
                let h = j.get("statement").ok_or("prepare without 'statement'")?;
                let sig = h.get("signature");
                Response::Prepare {
                    statement_id: h.get("id").and_then(Json::as_i64).unwrap_or(0) as u32,
                    signature: sig.map(|s| s.to_string().into_bytes()).unwrap_or_default(),
                    params: sig
                        .and_then(|s| s.get("parameters"))
                        .and_then(Json::as_array)
                        .unwrap_or(&[])
                        .iter()
                        .map(|p| ParamType {
                            type_id: p.get("parameterType").and_then(Json::as_i64).unwrap_or(0)
                                as i32,
                            type_name: p
                                .get("typeName")
                                .and_then(Json::as_str)
                                .unwrap_or("")
                                .to_string(),
                        })
                        .collect(),
                    columns: sig
                        .and_then(|s| s.get("columns"))
                        .and_then(Json::as_array)
                        .unwrap_or(&[])
                        .iter()
                        .map(column_json)
                        .collect(),
                }
            }
            "fetch" => Response::Fetch {
                frame: match j.get("frame") {
                    Some(f) if !f.is_null() => frame_json(f)?,
                    _ => Frame::default(),
                },
                missing_statement: missing("missingStatement"),
                missing_results: missing("missingResults"),
            },
            "executeBatch" => Response::ExecuteBatch {
                update_counts: j
                    .get("updateCounts")
                    .and_then(Json::as_array)
                    .unwrap_or(&[])
                    .iter()
                    .map(|n| n.as_i64().unwrap_or(0))
                    .collect(),
                missing_statement: missing("missingStatement"),
            },
            "error" => Response::Error(ServerError {
                message: error_text(
                    j.get("errorMessage").and_then(Json::as_str).unwrap_or(""),
                    j.get("exceptions")
                        .and_then(Json::as_array)
                        .and_then(|e| e.first())
                        .and_then(Json::as_str),
                ),
                sql_state: j
                    .get("sqlState")
                    .and_then(Json::as_str)
                    .unwrap_or("")
                    .to_string(),
                code: j.get("errorCode").and_then(Json::as_i64).unwrap_or(0),
            }),
            other => return Err(format!("unexpected response '{other}'")),
        })
    }
}

/// An error's text: the server's message, or when it has none (Avatica sends none for a
/// `NoSuchConnectionException`, an expired or unknown connection) the first line of its first
/// exception, which names the exception's class.
fn error_text(message: &str, first_exception: Option<&str>) -> String {
    if !message.trim().is_empty() {
        return message.to_string();
    }
    first_exception
        .and_then(|e| e.lines().next())
        .unwrap_or("")
        .trim()
        .to_string()
}

/// The start of a body, printable, for messages.
pub fn preview(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(120)]);
    let mut s: String = text
        .chars()
        .map(|c| if c.is_control() { '.' } else { c })
        .collect();
    if body.len() > 120 {
        s.push_str("...");
    }
    format!("{} bytes: '{s}'", body.len())
}

fn column_pb(c: &pb::ColumnMetaData) -> Column {
    let t = c.r#type.clone().unwrap_or_default();
    Column {
        name: if c.label.is_empty() {
            c.column_name.clone()
        } else {
            c.label.clone()
        },
        type_id: t.id as i32,
        type_name: t.name,
    }
}

fn result_set_pb(r: pb::ResultSetResponse) -> ResultSet {
    ResultSet {
        statement_id: r.statement_id,
        columns: r
            .signature
            .as_ref()
            .map(|s| s.columns.iter().map(column_pb).collect()),
        first_frame: r.first_frame.map(frame_pb),
        update_count: r.update_count as i64,
    }
}

fn frame_pb(f: pb::Frame) -> Frame {
    Frame {
        offset: f.offset,
        done: f.done,
        rows: f
            .rows
            .into_iter()
            .map(|r| r.value.into_iter().map(column_value_pb).collect())
            .collect(),
    }
}

fn column_value_pb(v: pb::ColumnValue) -> Cell {
    if v.has_array_value {
        return Cell::Array(v.array_value.into_iter().map(typed_pb).collect());
    }
    match v.scalar_value {
        Some(t) => typed_pb(t),
        // Before Avatica 1.6 a scalar came as the one element of `value`.
        None => v
            .value
            .into_iter()
            .next()
            .map(typed_pb)
            .unwrap_or(Cell::Null),
    }
}

fn typed_pb(t: pb::TypedValue) -> Cell {
    if t.null || t.implicitly_null {
        return Cell::Null;
    }
    match t.r#type {
        rep::NULL | rep::OBJECT => Cell::Null,
        rep::PRIMITIVE_BOOLEAN | rep::BOOLEAN => Cell::Bool(t.bool_value),
        rep::PRIMITIVE_CHAR | rep::CHARACTER | rep::STRING | rep::BIG_DECIMAL => {
            Cell::Str(t.string_value)
        }
        rep::PRIMITIVE_FLOAT | rep::PRIMITIVE_DOUBLE | rep::FLOAT | rep::DOUBLE => {
            Cell::Float(t.double_value)
        }
        rep::BYTE_STRING | rep::BIG_INTEGER => Cell::Bytes(t.bytes_value),
        rep::ARRAY => Cell::Array(t.array_value.into_iter().map(typed_pb).collect()),
        rep::NUMBER => {
            // A general number: the server fills whichever field fits the Java value.
            if !t.string_value.is_empty() {
                Cell::Number(t.string_value)
            } else if t.double_value != 0.0 {
                Cell::Float(t.double_value)
            } else {
                Cell::Int(t.number_value)
            }
        }
        _ => Cell::Int(t.number_value),
    }
}

fn column_json(c: &Json) -> Column {
    let s = |k: &str| c.get(k).and_then(Json::as_str).unwrap_or("").to_string();
    let t = c.get("type");
    let label = s("label");
    Column {
        name: if label.is_empty() {
            s("columnName")
        } else {
            label
        },
        type_id: t
            .and_then(|t| t.get("id"))
            .and_then(Json::as_i64)
            .unwrap_or(0) as i32,
        type_name: t
            .and_then(|t| t.get("name"))
            .and_then(Json::as_str)
            .unwrap_or("")
            .to_string(),
    }
}

fn result_set_json(r: &Json) -> Result<ResultSet, String> {
    let sig = r.get("signature").filter(|s| !s.is_null());
    Ok(ResultSet {
        statement_id: r.get("statementId").and_then(Json::as_i64).unwrap_or(0) as u32,
        columns: sig.map(|s| {
            s.get("columns")
                .and_then(Json::as_array)
                .unwrap_or(&[])
                .iter()
                .map(column_json)
                .collect()
        }),
        first_frame: match r.get("firstFrame") {
            Some(f) if !f.is_null() => Some(frame_json(f)?),
            _ => None,
        },
        update_count: r.get("updateCount").and_then(Json::as_i64).unwrap_or(-1),
    })
}

fn frame_json(f: &Json) -> Result<Frame, String> {
    let rows = f
        .get("rows")
        .and_then(Json::as_array)
        .unwrap_or(&[])
        .iter()
        .map(|r| {
            r.as_array()
                .map(|cells| cells.iter().map(cell_json).collect())
                .ok_or_else(|| "a row is not an array".to_string())
        })
        .collect::<Result<_, _>>()?;
    Ok(Frame {
        offset: f.get("offset").and_then(Json::as_i64).unwrap_or(0) as u64,
        done: f.get("done").and_then(Json::as_bool).unwrap_or(true),
        rows,
    })
}

fn cell_json(j: &Json) -> Cell {
    match j {
        Json::Null => Cell::Null,
        Json::Bool(b) => Cell::Bool(*b),
        Json::Num(text) => match text.parse::<i64>() {
            Ok(i) => Cell::Int(i),
            Err(_) => Cell::Number(text.clone()),
        },
        Json::Str(s) => Cell::Str(s.clone()),
        Json::Arr(a) => Cell::Array(a.iter().map(cell_json).collect()),
        Json::Obj(_) => Cell::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRACE: &str = "org.apache.calcite.avatica.NoSuchConnectionException\n\tat org.apache.calcite.avatica.jdbc.JdbcMeta.getConnection(JdbcMeta.java:571)";

    fn message(r: Response) -> String {
        match r {
            Response::Error(e) => e.message,
            other => panic!("not an error: {}", other.name()),
        }
    }

    /// An expired or unknown connection (as the Query Server answers a call on a connection its cache
    /// dropped after 10 idle minutes): no errorMessage, the exception's class only in its trace. The
    /// reply must still name it, so that the connection is opened again.
    #[test]
    fn an_error_without_a_message_is_named_by_its_exception() {
        let json = serde_json::json!({"response": "error", "exceptions": [TRACE], "errorMessage": null,
            "errorCode": 1, "sqlState": "00000", "severity": "ERROR"});
        let got =
            message(Response::decode(Serialization::Json, json.to_string().as_bytes()).unwrap());
        assert_eq!(got, "org.apache.calcite.avatica.NoSuchConnectionException");

        let e = pb::ErrorResponse {
            exceptions: vec![TRACE.to_string()],
            error_message: String::new(),
            severity: 2,
            error_code: 1,
            sql_state: "00000".into(),
        };
        let wire = pb::WireMessage {
            name: format!("{RESPONSES}ErrorResponse"),
            wrapped_message: e.encode_to_vec(),
        };
        let got =
            message(Response::decode(Serialization::Protobuf, &wire.encode_to_vec()).unwrap());
        assert_eq!(got, "org.apache.calcite.avatica.NoSuchConnectionException");
    }

    #[test]
    fn an_error_message_wins_over_the_trace() {
        assert_eq!(
            error_text("ERROR 1012 (42M03): Table undefined.", Some(TRACE)),
            "ERROR 1012 (42M03): Table undefined."
        );
        assert_eq!(error_text("", None), "");
    }
}
