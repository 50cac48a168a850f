//! Protocol buffer messages, field numbers as documented in Avatica's protobuf reference. Enum
//! fields are plain `int32` here (the same varint on the wire).

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
