//! The Avatica wire protocol as the Phoenix Query Server speaks it over HTTP: every call is one POST
//! whose body is a request and whose answer is a response, in JSON or in protocol buffers.
//!
//! Written from Avatica's public JSON and protobuf references: the protobuf messages below are our
//! own prost definitions of the documented field names and numbers (only the fields we use; prost
//! skips the others when decoding). Plain Rust: no Lua, no HTTP.

use base64::Engine as _;
use prost::Message as _;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// How requests and responses are serialized. The released Query Server defaults to protobuf.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Serialization {
    Json,
    Protobuf,
}

impl Serialization {
    pub fn name(self) -> &'static str {
        match self {
            Serialization::Json => "json",
            Serialization::Protobuf => "protobuf",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Serialization::Json => "application/json",
            Serialization::Protobuf => "application/octet-stream",
        }
    }
}

/// Avatica's `Rep`: the Java representation of a value (numbers as in the protobuf reference).
pub mod rep {
    pub const PRIMITIVE_BOOLEAN: i32 = 0;
    pub const PRIMITIVE_BYTE: i32 = 1;
    pub const PRIMITIVE_CHAR: i32 = 2;
    pub const PRIMITIVE_SHORT: i32 = 3;
    pub const PRIMITIVE_INT: i32 = 4;
    pub const PRIMITIVE_LONG: i32 = 5;
    pub const PRIMITIVE_FLOAT: i32 = 6;
    pub const PRIMITIVE_DOUBLE: i32 = 7;
    pub const BOOLEAN: i32 = 8;
    pub const BYTE: i32 = 9;
    pub const CHARACTER: i32 = 10;
    pub const SHORT: i32 = 11;
    pub const INTEGER: i32 = 12;
    pub const LONG: i32 = 13;
    pub const FLOAT: i32 = 14;
    pub const DOUBLE: i32 = 15;
    pub const JAVA_SQL_TIME: i32 = 16;
    pub const JAVA_SQL_TIMESTAMP: i32 = 17;
    pub const JAVA_SQL_DATE: i32 = 18;
    pub const JAVA_UTIL_DATE: i32 = 19;
    pub const BYTE_STRING: i32 = 20;
    pub const STRING: i32 = 21;
    pub const NUMBER: i32 = 22;
    pub const OBJECT: i32 = 23;
    pub const NULL: i32 = 24;
    pub const BIG_INTEGER: i32 = 25;
    pub const BIG_DECIMAL: i32 = 26;
    pub const ARRAY: i32 = 27;
}

/// JDBC type codes (`java.sql.Types`) that decide how a column's values reach the script.
pub mod jdbc {
    pub const BIT: i32 = -7;
    pub const TINYINT: i32 = -6;
    pub const SMALLINT: i32 = 5;
    pub const INTEGER: i32 = 4;
    pub const BIGINT: i32 = -5;
    pub const FLOAT: i32 = 6;
    pub const REAL: i32 = 7;
    pub const DOUBLE: i32 = 8;
    pub const NUMERIC: i32 = 2;
    pub const DECIMAL: i32 = 3;
    pub const CHAR: i32 = 1;
    pub const VARCHAR: i32 = 12;
    pub const LONGVARCHAR: i32 = -1;
    pub const DATE: i32 = 91;
    pub const TIME: i32 = 92;
    pub const TIMESTAMP: i32 = 93;
    pub const BINARY: i32 = -2;
    pub const VARBINARY: i32 = -3;
    pub const LONGVARBINARY: i32 = -4;
    pub const BOOLEAN: i32 = 16;
    pub const ARRAY: i32 = 2003;
}

/// Protocol buffer messages, field numbers as documented in Avatica's protobuf reference. Enum
/// fields are plain `int32` here (the same varint on the wire).
pub mod pb {
    use std::collections::BTreeMap;

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct WireMessage {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(bytes = "vec", tag = "2")]
        pub wrapped_message: Vec<u8>,
    }

    // ---- requests

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct OpenConnectionRequest {
        #[prost(string, tag = "1")]
        pub connection_id: String,
        #[prost(btree_map = "string, string", tag = "2")]
        pub info: BTreeMap<String, String>,
    }

    /// Also the shape of CloseConnectionRequest, CreateStatementRequest, CommitRequest and
    /// RollbackRequest: one `connection_id = 1`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ConnectionOnly {
        #[prost(string, tag = "1")]
        pub connection_id: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ConnectionProperties {
        #[prost(bool, tag = "1")]
        pub is_dirty: bool,
        #[prost(bool, tag = "2")]
        pub auto_commit: bool,
        #[prost(bool, tag = "7")]
        pub has_auto_commit: bool,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ConnectionSyncRequest {
        #[prost(string, tag = "1")]
        pub connection_id: String,
        #[prost(message, optional, tag = "2")]
        pub conn_props: Option<ConnectionProperties>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct CloseStatementRequest {
        #[prost(string, tag = "1")]
        pub connection_id: String,
        #[prost(uint32, tag = "2")]
        pub statement_id: u32,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct PrepareAndExecuteRequest {
        #[prost(string, tag = "1")]
        pub connection_id: String,
        #[prost(string, tag = "2")]
        pub sql: String,
        #[prost(uint32, tag = "4")]
        pub statement_id: u32,
        #[prost(int64, tag = "5")]
        pub max_rows_total: i64,
        #[prost(int32, tag = "6")]
        pub first_frame_max_size: i32,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct PrepareRequest {
        #[prost(string, tag = "1")]
        pub connection_id: String,
        #[prost(string, tag = "2")]
        pub sql: String,
        #[prost(int64, tag = "4")]
        pub max_rows_total: i64,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct StatementHandle {
        #[prost(string, tag = "1")]
        pub connection_id: String,
        #[prost(uint32, tag = "2")]
        pub id: u32,
        #[prost(message, optional, tag = "3")]
        pub signature: Option<Signature>,
    }

    /// A StatementHandle whose signature stays as the server's bytes: an execute request sends it
    /// back unchanged (the server needs it for queries; re-encoding would drop the fields this
    /// module does not define).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct StatementHandleRaw {
        #[prost(string, tag = "1")]
        pub connection_id: String,
        #[prost(uint32, tag = "2")]
        pub id: u32,
        #[prost(bytes = "vec", optional, tag = "3")]
        pub signature: Option<Vec<u8>>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TypedValue {
        #[prost(int32, tag = "1")]
        pub r#type: i32,
        #[prost(bool, tag = "2")]
        pub bool_value: bool,
        #[prost(string, tag = "3")]
        pub string_value: String,
        #[prost(sint64, tag = "4")]
        pub number_value: i64,
        #[prost(bytes = "vec", tag = "5")]
        pub bytes_value: Vec<u8>,
        #[prost(double, tag = "6")]
        pub double_value: f64,
        #[prost(bool, tag = "7")]
        pub null: bool,
        #[prost(message, repeated, tag = "8")]
        pub array_value: Vec<TypedValue>,
        #[prost(int32, tag = "9")]
        pub component_type: i32,
        #[prost(bool, tag = "10")]
        pub implicitly_null: bool,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ExecuteRequest {
        #[prost(message, optional, tag = "1")]
        pub statement_handle: Option<StatementHandleRaw>,
        #[prost(message, repeated, tag = "2")]
        pub parameter_values: Vec<TypedValue>,
        #[prost(bool, tag = "4")]
        pub has_parameter_values: bool,
        #[prost(int32, tag = "5")]
        pub first_frame_max_size: i32,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct FetchRequest {
        #[prost(string, tag = "1")]
        pub connection_id: String,
        #[prost(uint32, tag = "2")]
        pub statement_id: u32,
        #[prost(uint64, tag = "3")]
        pub offset: u64,
        #[prost(int32, tag = "5")]
        pub frame_max_size: i32,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct UpdateBatch {
        #[prost(message, repeated, tag = "1")]
        pub parameter_values: Vec<TypedValue>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ExecuteBatchRequest {
        #[prost(string, tag = "1")]
        pub connection_id: String,
        #[prost(uint32, tag = "2")]
        pub statement_id: u32,
        #[prost(message, repeated, tag = "3")]
        pub updates: Vec<UpdateBatch>,
    }

    // ---- responses and what they hold

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct AvaticaType {
        #[prost(uint32, tag = "1")]
        pub id: u32,
        #[prost(string, tag = "2")]
        pub name: String,
        #[prost(int32, tag = "3")]
        pub rep: i32,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ColumnMetaData {
        #[prost(uint32, tag = "1")]
        pub ordinal: u32,
        #[prost(string, tag = "9")]
        pub label: String,
        #[prost(string, tag = "10")]
        pub column_name: String,
        #[prost(uint32, tag = "12")]
        pub precision: u32,
        #[prost(uint32, tag = "13")]
        pub scale: u32,
        #[prost(string, tag = "19")]
        pub column_class_name: String,
        #[prost(message, optional, tag = "20")]
        pub r#type: Option<AvaticaType>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct AvaticaParameter {
        #[prost(uint32, tag = "4")]
        pub parameter_type: u32,
        #[prost(string, tag = "5")]
        pub type_name: String,
        #[prost(string, tag = "6")]
        pub class_name: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Signature {
        #[prost(message, repeated, tag = "1")]
        pub columns: Vec<ColumnMetaData>,
        #[prost(string, tag = "2")]
        pub sql: String,
        #[prost(message, repeated, tag = "3")]
        pub parameters: Vec<AvaticaParameter>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ColumnValue {
        #[prost(message, repeated, tag = "1")]
        pub value: Vec<TypedValue>,
        #[prost(message, repeated, tag = "2")]
        pub array_value: Vec<TypedValue>,
        #[prost(bool, tag = "3")]
        pub has_array_value: bool,
        #[prost(message, optional, tag = "4")]
        pub scalar_value: Option<TypedValue>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Row {
        #[prost(message, repeated, tag = "1")]
        pub value: Vec<ColumnValue>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Frame {
        #[prost(uint64, tag = "1")]
        pub offset: u64,
        #[prost(bool, tag = "2")]
        pub done: bool,
        #[prost(message, repeated, tag = "3")]
        pub rows: Vec<Row>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ResultSetResponse {
        #[prost(string, tag = "1")]
        pub connection_id: String,
        #[prost(uint32, tag = "2")]
        pub statement_id: u32,
        #[prost(bool, tag = "3")]
        pub own_statement: bool,
        #[prost(message, optional, tag = "4")]
        pub signature: Option<Signature>,
        #[prost(message, optional, tag = "5")]
        pub first_frame: Option<Frame>,
        #[prost(uint64, tag = "6")]
        pub update_count: u64,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ExecuteResponse {
        #[prost(message, repeated, tag = "1")]
        pub results: Vec<ResultSetResponse>,
        #[prost(bool, tag = "2")]
        pub missing_statement: bool,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct PrepareResponse {
        #[prost(message, optional, tag = "1")]
        pub statement: Option<StatementHandleRaw>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct FetchResponse {
        #[prost(message, optional, tag = "1")]
        pub frame: Option<Frame>,
        #[prost(bool, tag = "2")]
        pub missing_statement: bool,
        #[prost(bool, tag = "3")]
        pub missing_results: bool,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct CreateStatementResponse {
        #[prost(string, tag = "1")]
        pub connection_id: String,
        #[prost(uint32, tag = "2")]
        pub statement_id: u32,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ExecuteBatchResponse {
        #[prost(string, tag = "1")]
        pub connection_id: String,
        #[prost(uint32, tag = "2")]
        pub statement_id: u32,
        #[prost(uint64, repeated, tag = "3")]
        pub update_counts: Vec<u64>,
        #[prost(bool, tag = "4")]
        pub missing_statement: bool,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ErrorResponse {
        #[prost(string, repeated, tag = "1")]
        pub exceptions: Vec<String>,
        #[prost(string, tag = "2")]
        pub error_message: String,
        #[prost(int32, tag = "3")]
        pub severity: i32,
        #[prost(uint32, tag = "4")]
        pub error_code: u32,
        #[prost(string, tag = "5")]
        pub sql_state: String,
    }
}

/// The Java class names a protobuf `WireMessage` carries.
const REQUESTS: &str = "org.apache.calcite.avatica.proto.Requests$";
const RESPONSES: &str = "org.apache.calcite.avatica.proto.Responses$";

// ------------------------------------------------------------------------------------------ values

/// A value as the script sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    /// DECIMAL/NUMERIC as exact decimal text.
    Decimal(String),
}

/// A cell as it came off the wire, before its column's type gives it a meaning.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// A JSON number that is not an i64: its exact text.
    Number(String),
    Str(String),
    Bytes(Vec<u8>),
    Array(Vec<Cell>),
}

/// A parameter value, typed for the wire.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Null,
    Bool(bool),
    /// An integer with its rep (`LONG`, `INTEGER`, `SHORT`, `BYTE`).
    Int(i32, i64),
    Double(f64),
    /// Exact decimal text.
    Decimal(String),
    Str(String),
    Bytes(Vec<u8>),
    /// Days since 1970-01-01.
    Date(i64),
    /// Milliseconds since midnight.
    Time(i64),
    /// Milliseconds since the epoch.
    Timestamp(i64),
}

/// A result column.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: String,
    /// JDBC type code.
    pub type_id: i32,
    pub type_name: String,
}

/// A statement parameter as the server describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamType {
    /// JDBC type code.
    pub type_id: i32,
    pub type_name: String,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Frame {
    pub offset: u64,
    pub done: bool,
    pub rows: Vec<Vec<Cell>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ResultSet {
    pub statement_id: u32,
    /// Present for statements that return rows.
    pub columns: Option<Vec<Column>>,
    pub first_frame: Option<Frame>,
    /// -1 for a result set with rows; otherwise the update count.
    pub update_count: i64,
}

/// The server's own error.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ServerError {
    pub message: String,
    pub sql_state: String,
    pub code: i64,
}

// ---------------------------------------------------------------------------------------- requests

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
fn params_json(params: &[Param]) -> Result<String, String> {
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

fn json_string(s: &str) -> String {
    serde_json::to_string(s).expect("a string always serializes")
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

// --------------------------------------------------------------------------------------- responses

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
                    message: m.error_message,
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
                message: j
                    .get("errorMessage")
                    .and_then(Json::as_str)
                    .unwrap_or("")
                    .to_string(),
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

// ------------------------------------------------------------------------ cells to script values

/// Gives a cell its meaning from its column's JDBC type: integers stay exact, DECIMAL is exact
/// text, binary data is bytes (base64 in JSON), DATE is days since the epoch, TIME milliseconds
/// since midnight and TIMESTAMP milliseconds since the epoch (as Avatica documents them).
pub fn typed(type_id: i32, cell: Cell) -> Value {
    match (type_id, cell) {
        (_, Cell::Null) => Value::Null,
        (jdbc::DECIMAL | jdbc::NUMERIC, c) => match c {
            Cell::Int(i) => Value::Decimal(i.to_string()),
            Cell::Number(s) | Cell::Str(s) => Value::Decimal(s),
            Cell::Float(f) => Value::Decimal(format!("{f}")),
            other => plain(other),
        },
        (jdbc::FLOAT | jdbc::REAL | jdbc::DOUBLE, c) => match c {
            Cell::Int(i) => Value::Float(i as f64),
            Cell::Number(s) => s.parse().map(Value::Float).unwrap_or(Value::Str(s)),
            other => plain(other),
        },
        (jdbc::BINARY | jdbc::VARBINARY | jdbc::LONGVARBINARY, Cell::Str(s)) => {
            match base64::engine::general_purpose::STANDARD.decode(s.as_bytes()) {
                Ok(b) => Value::Bytes(b),
                Err(_) => Value::Str(s),
            }
        }
        (_, c) => plain(c),
    }
}

fn plain(c: Cell) -> Value {
    match c {
        Cell::Null => Value::Null,
        Cell::Bool(b) => Value::Bool(b),
        Cell::Int(i) => Value::Int(i),
        Cell::Float(f) => Value::Float(f),
        Cell::Number(s) => s.parse().map(Value::Float).unwrap_or(Value::Str(s)),
        Cell::Str(s) => Value::Str(s),
        Cell::Bytes(b) => Value::Bytes(b),
        Cell::Array(_) => Value::Null,
    }
}

// ------------------------------------------------------------------------------ a small JSON reader

/// JSON as the responses carry it. Numbers keep their text, so BIGINT and DECIMAL values stay
/// exact (serde_json would turn large decimals into doubles).
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Num(String),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    pub fn parse(b: &[u8]) -> Result<Json, String> {
        let mut p = Parser { b, i: 0, depth: 0 };
        let v = p.value()?;
        p.ws();
        if p.i != b.len() {
            return Err(format!("trailing bytes at {}", p.i));
        }
        Ok(v)
    }
    pub fn get(&self, k: &str) -> Option<&Json> {
        match self {
            Json::Obj(fields) => fields.iter().find(|(n, _)| n == k).map(|(_, v)| v),
            _ => None,
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Json::Num(s) => s.parse().ok(),
            _ => None,
        }
    }
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Json::Bool(b) => Some(*b),
            _ => None,
        }
    }
    pub fn as_array(&self) -> Option<&[Json]> {
        match self {
            Json::Arr(a) => Some(a),
            _ => None,
        }
    }
    pub fn is_null(&self) -> bool {
        matches!(self, Json::Null)
    }
}

impl std::fmt::Display for Json {
    /// Writes the value back as JSON (numbers with their original text).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Json::Null => f.write_str("null"),
            Json::Bool(b) => write!(f, "{b}"),
            Json::Num(n) => f.write_str(n),
            Json::Str(s) => f.write_str(&json_string(s)),
            Json::Arr(a) => {
                f.write_str("[")?;
                for (i, v) in a.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            Json::Obj(o) => {
                f.write_str("{")?;
                for (i, (k, v)) in o.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{}:{v}", json_string(k))?;
                }
                f.write_str("}")
            }
        }
    }
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
    depth: u32,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.b.len() && matches!(self.b[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }
    fn err<T>(&self, what: &str) -> Result<T, String> {
        Err(format!("{what} at byte {}", self.i))
    }
    fn eat(&mut self, lit: &[u8]) -> bool {
        if self.b[self.i..].starts_with(lit) {
            self.i += lit.len();
            true
        } else {
            false
        }
    }
    fn value(&mut self) -> Result<Json, String> {
        self.ws();
        let Some(&c) = self.b.get(self.i) else {
            return self.err("unexpected end");
        };
        match c {
            b'{' => {
                self.enter()?;
                self.i += 1;
                let mut fields = Vec::new();
                self.ws();
                if self.eat(b"}") {
                    self.depth -= 1;
                    return Ok(Json::Obj(fields));
                }
                loop {
                    self.ws();
                    if self.b.get(self.i) != Some(&b'"') {
                        return self.err("expected a key");
                    }
                    let k = self.string()?;
                    self.ws();
                    if !self.eat(b":") {
                        return self.err("expected ':'");
                    }
                    let v = self.value()?;
                    fields.push((k, v));
                    self.ws();
                    if self.eat(b",") {
                        continue;
                    }
                    if self.eat(b"}") {
                        self.depth -= 1;
                        return Ok(Json::Obj(fields));
                    }
                    return self.err("expected ',' or '}'");
                }
            }
            b'[' => {
                self.enter()?;
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.eat(b"]") {
                    self.depth -= 1;
                    return Ok(Json::Arr(items));
                }
                loop {
                    items.push(self.value()?);
                    self.ws();
                    if self.eat(b",") {
                        continue;
                    }
                    if self.eat(b"]") {
                        self.depth -= 1;
                        return Ok(Json::Arr(items));
                    }
                    return self.err("expected ',' or ']'");
                }
            }
            b'"' => self.string().map(Json::Str),
            b't' if self.eat(b"true") => Ok(Json::Bool(true)),
            b'f' if self.eat(b"false") => Ok(Json::Bool(false)),
            b'n' if self.eat(b"null") => Ok(Json::Null),
            b'-' | b'0'..=b'9' => {
                let start = self.i;
                self.i += 1;
                while self.i < self.b.len()
                    && matches!(
                        self.b[self.i],
                        b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-'
                    )
                {
                    self.i += 1;
                }
                let text = std::str::from_utf8(&self.b[start..self.i]).expect("ASCII");
                if text.parse::<f64>().is_err() {
                    return self.err("bad number");
                }
                Ok(Json::Num(text.to_string()))
            }
            _ => self.err("unexpected character"),
        }
    }
    fn enter(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth > 128 {
            return self.err("nested too deeply");
        }
        Ok(())
    }
    fn hex4(&mut self) -> Result<u32, String> {
        let h = self.b.get(self.i..self.i + 4).ok_or("short \\u escape")?;
        let s = std::str::from_utf8(h).map_err(|_| "bad \\u escape")?;
        let n = u32::from_str_radix(s, 16).map_err(|_| "bad \\u escape")?;
        self.i += 4;
        Ok(n)
    }
    fn string(&mut self) -> Result<String, String> {
        self.i += 1; // the opening quote
        let mut out = Vec::new();
        loop {
            let Some(&c) = self.b.get(self.i) else {
                return self.err("unterminated string");
            };
            self.i += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    let Some(&e) = self.b.get(self.i) else {
                        return self.err("unterminated escape");
                    };
                    self.i += 1;
                    let ch = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hi = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&hi) && self.eat(b"\\u") {
                                let lo = self.hex4()?;
                                0x10000 + ((hi - 0xD800) << 10) + (lo.wrapping_sub(0xDC00) & 0x3FF)
                            } else {
                                hi
                            };
                            char::from_u32(code).unwrap_or('\u{FFFD}')
                        }
                        _ => return self.err("bad escape"),
                    };
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
                _ => out.push(c),
            }
        }
        String::from_utf8(out)
            .map_err(|_| format!("invalid UTF-8 in a string before byte {}", self.i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_keeps_numbers_exact() {
        let j = Json::parse(
            br#"{"a":[9007199254740993,12345678901234.56789,-1e3,"\u00e9\ud83d\ude00"],"b":null}"#,
        )
        .unwrap();
        let a = j.get("a").unwrap().as_array().unwrap();
        assert_eq!(a[0].as_i64(), Some(9007199254740993));
        assert_eq!(a[1], Json::Num("12345678901234.56789".into()));
        assert_eq!(a[2], Json::Num("-1e3".into()));
        assert_eq!(a[3].as_str(), Some("é😀"));
        assert!(j.get("b").unwrap().is_null());
        assert_eq!(
            j.to_string(),
            r#"{"a":[9007199254740993,12345678901234.56789,-1e3,"é😀"],"b":null}"#
        );
        assert!(Json::parse(b"{\"a\":}").is_err());
        assert!(Json::parse(b"<html>").is_err());
    }

    #[test]
    fn params_in_json_keep_decimals_and_bigints_exact() {
        let p = params_json(&[
            Param::Int(rep::LONG, 9007199254740993),
            Param::Decimal("12345678901234.56789".into()),
            Param::Double(0.1),
            Param::Null,
            Param::Bytes(vec![0, 1, 255]),
        ])
        .unwrap();
        assert_eq!(
            p,
            r#"[{"type":"LONG","value":9007199254740993},{"type":"NUMBER","value":12345678901234.56789},{"type":"DOUBLE","value":0.1},{"type":"NULL","value":null},{"type":"BYTE_STRING","value":"AAH/"}]"#
        );
        assert!(params_json(&[Param::Double(f64::NAN)]).is_err());
    }

    #[test]
    fn typed_cells() {
        assert_eq!(
            typed(jdbc::DECIMAL, Cell::Number("1.50".into())),
            Value::Decimal("1.50".into())
        );
        assert_eq!(
            typed(jdbc::VARBINARY, Cell::Str("AAH/".into())),
            Value::Bytes(vec![0, 1, 255])
        );
        assert_eq!(typed(jdbc::DOUBLE, Cell::Int(2)), Value::Float(2.0));
        assert_eq!(typed(jdbc::BIGINT, Cell::Null), Value::Null);
    }
}
