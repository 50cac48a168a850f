//! The Avatica wire protocol as the Phoenix Query Server speaks it over HTTP: every call is one POST
//! whose body is a request and whose answer is a response, in JSON or in protocol buffers.
//!
//! Written from Avatica's public JSON and protobuf references: the protobuf messages (`pb`) are our
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

mod json;
pub mod pb;
#[cfg(test)]
mod props;
mod request;
mod response;

pub use json::Json;
pub use request::Request;
pub use response::{preview, Response};

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

#[cfg(test)]
mod tests {
    use super::request::params_json;
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
