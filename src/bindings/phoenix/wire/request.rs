//! Avatica requests, encoded in JSON or protobuf.

use super::json::json_string;
use super::*;

#[derive(Debug, Clone, PartialEq)]
pub enum Request<'a> {
    OpenConnection {
        connection_id: &'a str,
        info: &'a BTreeMap<String, String>,
    },
    CloseConnection {
        connection_id: &'a str,
    },
    ConnectionSync {
        connection_id: &'a str,
        autocommit: bool,
    },
    CreateStatement {
        connection_id: &'a str,
    },
    CloseStatement {
        connection_id: &'a str,
        statement_id: u32,
    },
    PrepareAndExecute {
        connection_id: &'a str,
        statement_id: u32,
        sql: &'a str,
        max_rows_total: i64,
        first_frame_max_size: i32,
    },
    Prepare {
        connection_id: &'a str,
        sql: &'a str,
        max_rows_total: i64,
    },
    Execute {
        connection_id: &'a str,
        statement_id: u32,
        /// The signature as the prepare response carried it (see [`Response::Prepare`]).
        signature: &'a [u8],
        params: &'a [Param],
        first_frame_max_size: i32,
    },
    Fetch {
        connection_id: &'a str,
        statement_id: u32,
        offset: u64,
        frame_max_size: i32,
    },
    ExecuteBatch {
        connection_id: &'a str,
        statement_id: u32,
        rows: &'a [Vec<Param>],
    },
    Commit {
        connection_id: &'a str,
    },
    Rollback {
        connection_id: &'a str,
    },
}

impl Request<'_> {
    /// The JSON `request` name.
    pub fn name(&self) -> &'static str {
        match self {
            Request::OpenConnection { .. } => "openConnection",
            Request::CloseConnection { .. } => "closeConnection",
            Request::ConnectionSync { .. } => "connectionSync",
            Request::CreateStatement { .. } => "createStatement",
            Request::CloseStatement { .. } => "closeStatement",
            Request::PrepareAndExecute { .. } => "prepareAndExecute",
            Request::Prepare { .. } => "prepare",
            Request::Execute { .. } => "execute",
            Request::Fetch { .. } => "fetch",
            Request::ExecuteBatch { .. } => "executeBatch",
            Request::Commit { .. } => "commit",
            Request::Rollback { .. } => "rollback",
        }
    }

    /// The request's body. Fails only for values JSON cannot carry (NaN, infinities).
    pub fn encode(&self, ser: Serialization) -> Result<Vec<u8>, String> {
        match ser {
            Serialization::Json => self.to_json().map(String::into_bytes),
            Serialization::Protobuf => Ok(self.to_protobuf()),
        }
    }

    fn to_protobuf(&self) -> Vec<u8> {
        let conn = |c: &str| pb::ConnectionOnly {
            connection_id: c.to_string(),
        };
        let (class, body) = match *self {
            Request::OpenConnection {
                connection_id,
                info,
            } => (
                "OpenConnectionRequest",
                pb::OpenConnectionRequest {
                    connection_id: connection_id.into(),
                    info: info.clone(),
                }
                .encode_to_vec(),
            ),
            Request::CloseConnection { connection_id } => (
                "CloseConnectionRequest",
                conn(connection_id).encode_to_vec(),
            ),
            Request::ConnectionSync {
                connection_id,
                autocommit,
            } => (
                "ConnectionSyncRequest",
                pb::ConnectionSyncRequest {
                    connection_id: connection_id.into(),
                    conn_props: Some(pb::ConnectionProperties {
                        is_dirty: true,
                        auto_commit: autocommit,
                        has_auto_commit: true,
                    }),
                }
                .encode_to_vec(),
            ),
            Request::CreateStatement { connection_id } => (
                "CreateStatementRequest",
                conn(connection_id).encode_to_vec(),
            ),
            Request::CloseStatement {
                connection_id,
                statement_id,
            } => (
                "CloseStatementRequest",
                pb::CloseStatementRequest {
                    connection_id: connection_id.into(),
                    statement_id,
                }
                .encode_to_vec(),
            ),
            Request::PrepareAndExecute {
                connection_id,
                statement_id,
                sql,
                max_rows_total,
                first_frame_max_size,
            } => (
                "PrepareAndExecuteRequest",
                pb::PrepareAndExecuteRequest {
                    connection_id: connection_id.into(),
                    sql: sql.into(),
                    statement_id,
                    max_rows_total,
                    first_frame_max_size,
                }
                .encode_to_vec(),
            ),
            Request::Prepare {
                connection_id,
                sql,
                max_rows_total,
            } => (
                "PrepareRequest",
                pb::PrepareRequest {
                    connection_id: connection_id.into(),
                    sql: sql.into(),
                    max_rows_total,
                }
                .encode_to_vec(),
            ),
            Request::Execute {
                connection_id,
                statement_id,
                signature,
                params,
                first_frame_max_size,
            } => (
                "ExecuteRequest",
                pb::ExecuteRequest {
                    statement_handle: Some(pb::StatementHandleRaw {
                        connection_id: connection_id.into(),
                        id: statement_id,
                        signature: (!signature.is_empty()).then(|| signature.to_vec()),
                    }),
                    parameter_values: params.iter().map(param_pb).collect(),
                    has_parameter_values: true,
                    first_frame_max_size,
                }
                .encode_to_vec(),
            ),
            Request::Fetch {
                connection_id,
                statement_id,
                offset,
                frame_max_size,
            } => (
                "FetchRequest",
                pb::FetchRequest {
                    connection_id: connection_id.into(),
                    statement_id,
                    offset,
                    frame_max_size,
                }
                .encode_to_vec(),
            ),
            Request::ExecuteBatch {
                connection_id,
                statement_id,
                rows,
            } => (
                "ExecuteBatchRequest",
                pb::ExecuteBatchRequest {
                    connection_id: connection_id.into(),
                    statement_id,
                    updates: rows
                        .iter()
                        .map(|r| pb::UpdateBatch {
                            parameter_values: r.iter().map(param_pb).collect(),
                        })
                        .collect(),
                }
                .encode_to_vec(),
            ),
            Request::Commit { connection_id } => {
                ("CommitRequest", conn(connection_id).encode_to_vec())
            }
            Request::Rollback { connection_id } => {
                ("RollbackRequest", conn(connection_id).encode_to_vec())
            }
        };
        pb::WireMessage {
            name: format!("{REQUESTS}{class}"),
            wrapped_message: body,
        }
        .encode_to_vec()
    }

    fn to_json(&self) -> Result<String, String> {
        let mut w = JsonObj::new();
        w.str("request", self.name());
        match *self {
            Request::OpenConnection {
                connection_id,
                info,
            } => {
                w.str("connectionId", connection_id);
                let mut i = JsonObj::new();
                for (k, v) in info {
                    i.str(k, v);
                }
                w.raw("info", &i.finish());
            }
            Request::CloseConnection { connection_id }
            | Request::CreateStatement { connection_id }
            | Request::Commit { connection_id }
            | Request::Rollback { connection_id } => w.str("connectionId", connection_id),
            Request::ConnectionSync {
                connection_id,
                autocommit,
            } => {
                w.str("connectionId", connection_id);
                let mut p = JsonObj::new();
                p.str("connProps", "connPropsImpl");
                p.raw("autoCommit", if autocommit { "true" } else { "false" });
                p.raw("dirty", "true");
                w.raw("connProps", &p.finish());
            }
            Request::CloseStatement {
                connection_id,
                statement_id,
            } => {
                w.str("connectionId", connection_id);
                w.raw("statementId", &statement_id.to_string());
            }
            Request::PrepareAndExecute {
                connection_id,
                statement_id,
                sql,
                max_rows_total,
                first_frame_max_size,
            } => {
                w.str("connectionId", connection_id);
                w.raw("statementId", &statement_id.to_string());
                w.str("sql", sql);
                w.raw("maxRowsTotal", &max_rows_total.to_string());
                w.raw("maxRowsInFirstFrame", &first_frame_max_size.to_string());
            }
            Request::Prepare {
                connection_id,
                sql,
                max_rows_total,
            } => {
                w.str("connectionId", connection_id);
                w.str("sql", sql);
                // The JSON prepare request knows only the older name.
                w.raw("maxRowCount", &max_rows_total.to_string());
            }
            Request::Execute {
                connection_id,
                statement_id,
                signature,
                params,
                first_frame_max_size,
            } => {
                let mut h = JsonObj::new();
                h.str("connectionId", connection_id);
                h.raw("id", &statement_id.to_string());
                if !signature.is_empty() {
                    h.raw("signature", &String::from_utf8_lossy(signature));
                }
                w.raw("statementHandle", &h.finish());
                w.raw("parameterValues", &params_json(params)?);
                // In JSON the execute request's `maxRowCount` is the first frame's size.
                w.raw("maxRowCount", &first_frame_max_size.to_string());
            }
            Request::Fetch {
                connection_id,
                statement_id,
                offset,
                frame_max_size,
            } => {
                w.str("connectionId", connection_id);
                w.raw("statementId", &statement_id.to_string());
                w.raw("offset", &offset.to_string());
                w.raw("fetchMaxRowCount", &frame_max_size.to_string());
            }
            Request::ExecuteBatch {
                connection_id,
                statement_id,
                rows,
            } => {
                w.str("connectionId", connection_id);
                w.raw("statementId", &statement_id.to_string());
                let mut out = String::from("[");
                for (i, r) in rows.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&params_json(r)?);
                }
                out.push(']');
                w.raw("parameterValues", &out);
            }
        }
        Ok(w.finish())
    }
}

fn param_pb(p: &Param) -> pb::TypedValue {
    let mut t = pb::TypedValue::default();
    match p {
        Param::Null => {
            t.r#type = rep::NULL;
            t.null = true;
        }
        Param::Bool(b) => {
            t.r#type = rep::BOOLEAN;
            t.bool_value = *b;
        }
        Param::Int(r, n) => {
            t.r#type = *r;
            t.number_value = *n;
        }
        Param::Double(d) => {
            t.r#type = rep::DOUBLE;
            t.double_value = *d;
        }
        Param::Decimal(s) => {
            t.r#type = rep::BIG_DECIMAL;
            t.string_value = s.clone();
        }
        Param::Str(s) => {
            t.r#type = rep::STRING;
            t.string_value = s.clone();
        }
        Param::Bytes(b) => {
            t.r#type = rep::BYTE_STRING;
            t.bytes_value = b.clone();
        }
        Param::Date(d) => {
            t.r#type = rep::JAVA_SQL_DATE;
            t.number_value = *d;
        }
        Param::Time(ms) => {
            t.r#type = rep::JAVA_SQL_TIME;
            t.number_value = *ms;
        }
        Param::Timestamp(ms) => {
            t.r#type = rep::JAVA_SQL_TIMESTAMP;
            t.number_value = *ms;
        }
    }
    t
}

fn rep_name(r: i32) -> &'static str {
    match r {
        rep::BYTE => "BYTE",
        rep::SHORT => "SHORT",
        rep::INTEGER => "INTEGER",
        _ => "LONG",
    }
}

/// `[TypedValue, ...]` in JSON. Decimals go out as bare JSON numbers with their exact digits
/// (the server reads them as `BigDecimal`).
pub(super) fn params_json(params: &[Param]) -> Result<String, String> {
    let mut out = String::from("[");
    for (i, p) in params.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let (ty, value) = match p {
            Param::Null => ("NULL", "null".to_string()),
            Param::Bool(b) => ("BOOLEAN", b.to_string()),
            Param::Int(r, n) => (rep_name(*r), n.to_string()),
            Param::Double(d) => {
                if !d.is_finite() {
                    return Err(format!("{d} cannot be sent in JSON"));
                }
                ("DOUBLE", json_f64(*d))
            }
            Param::Decimal(s) => ("NUMBER", s.clone()),
            Param::Str(s) => ("STRING", json_string(s)),
            Param::Bytes(b) => (
                "BYTE_STRING",
                json_string(&base64::engine::general_purpose::STANDARD.encode(b)),
            ),
            Param::Date(d) => ("JAVA_SQL_DATE", d.to_string()),
            Param::Time(ms) => ("JAVA_SQL_TIME", ms.to_string()),
            Param::Timestamp(ms) => ("JAVA_SQL_TIMESTAMP", ms.to_string()),
        };
        let _ = write!(out, "{{\"type\":\"{ty}\",\"value\":{value}}}");
    }
    out.push(']');
    Ok(out)
}

/// A finite double as a JSON number that reads back as the same double.
fn json_f64(d: f64) -> String {
    // Debug writes the shortest text that reads back as the same double ("0.1", "1e20"): valid JSON.
    format!("{d:?}")
}

/// A JSON object written field by field, in order.
struct JsonObj(String);

impl JsonObj {
    fn new() -> JsonObj {
        JsonObj(String::from("{"))
    }
    fn key(&mut self, k: &str) {
        if self.0.len() > 1 {
            self.0.push(',');
        }
        self.0.push_str(&json_string(k));
        self.0.push(':');
    }
    fn str(&mut self, k: &str, v: &str) {
        self.key(k);
        self.0.push_str(&json_string(v));
    }
    fn raw(&mut self, k: &str, v: &str) {
        self.key(k);
        self.0.push_str(v);
    }
    fn finish(mut self) -> String {
        self.0.push('}');
        self.0
    }
}
