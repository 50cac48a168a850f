//! The TCLIService messages loadgen uses, by their IDL field ids: requests are encoded the way
//! Hive's own JDBC driver lays them out (tests compare with its captured bytes); replies are
//! picked from the decoded value tree. Handles are kept as received and echoed unchanged.

use super::thrift::{ttype, Value, Writer};
use std::collections::BTreeMap;

/// HIVE_CLI_SERVICE_PROTOCOL_V10: column-based result sets (V6+) with every type Hive 4 sends.
pub const PROTOCOL_V10: i32 = 9;

/// TStatusCode.
pub mod status {
    pub const SUCCESS: i32 = 0;
    pub const SUCCESS_WITH_INFO: i32 = 1;
    pub const STILL_EXECUTING: i32 = 2;
}

/// TOperationState.
pub mod state {
    pub const INITIALIZED: i32 = 0;
    pub const RUNNING: i32 = 1;
    pub const FINISHED: i32 = 2;
    pub const PENDING: i32 = 7;

    pub fn name(s: i32) -> &'static str {
        match s {
            0 => "INITIALIZED",
            1 => "RUNNING",
            2 => "FINISHED",
            3 => "CANCELED",
            4 => "CLOSED",
            5 => "ERROR",
            6 => "UNKNOWN",
            7 => "PENDING",
            8 => "TIMEDOUT",
            _ => "?",
        }
    }
}

/// Writes field `id` holding a handle struct received earlier.
fn handle(w: &mut Writer, id: i16, h: &Value) {
    w.field(ttype::STRUCT, id);
    w.value(h);
}

/// TOpenSessionReq. `credentials` go in the request only without SASL (the SASL layer carries
/// them otherwise).
pub fn open_session(
    w: &mut Writer,
    credentials: Option<(&str, &str)>,
    config: &BTreeMap<String, String>,
) {
    w.field(ttype::I32, 1);
    w.i32(PROTOCOL_V10);
    if let Some((user, password)) = credentials {
        w.field(ttype::STRING, 2);
        w.string(user);
        w.field(ttype::STRING, 3);
        w.string(password);
    }
    w.field(ttype::MAP, 4);
    w.string_map(config.iter());
    w.stop();
}

/// TExecuteStatementReq, always asynchronous: the statement is then polled.
pub fn execute_statement(
    w: &mut Writer,
    session: &Value,
    sql: &str,
    overlay: &BTreeMap<String, String>,
    query_timeout_s: i64,
) {
    handle(w, 1, session);
    w.field(ttype::STRING, 2);
    w.string(sql);
    w.field(ttype::MAP, 3);
    w.string_map(overlay.iter());
    w.field(ttype::BOOL, 4);
    w.bool(true);
    w.field(ttype::I64, 5);
    w.i64(query_timeout_s);
    w.stop();
}

/// TGetOperationStatusReq (no progress updates).
pub fn get_operation_status(w: &mut Writer, op: &Value) {
    handle(w, 1, op);
    w.field(ttype::BOOL, 2);
    w.bool(false);
    w.stop();
}

/// TFetchResultsReq: the next `max_rows` rows (FETCH_NEXT, query output).
pub fn fetch_results(w: &mut Writer, op: &Value, max_rows: i64) {
    handle(w, 1, op);
    w.field(ttype::I32, 2);
    w.i32(0);
    w.field(ttype::I64, 3);
    w.i64(max_rows);
    w.stop();
}

/// TGetResultSetMetadataReq, TCloseOperationReq, TCancelOperationReq and TCloseSessionReq: a
/// handle and nothing else.
pub fn only_handle(w: &mut Writer, h: &Value) {
    handle(w, 1, h);
    w.stop();
}

/// TStatus, present in every reply.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Status {
    pub code: i32,
    pub sql_state: Option<String>,
    pub error_code: Option<i32>,
    pub message: Option<String>,
    /// The innermost exception of the server-side error ("class:message"), when it differs
    /// from `message`.
    pub cause: Option<String>,
}

/// HiveServer2 lists a failure's exception chain in infoMessages: `*class:message:depth:frames`
/// for each exception, then its stack frames; the last `*` line is the root cause. Hive 4 sends
/// a hint instead ("Server-side error; please check HS2 logs."), kept as it is.
fn root_cause(info: Option<&Value>) -> Option<String> {
    let lines: Vec<String> = info?.list()?.iter().filter_map(Value::text).collect();
    match lines.iter().rfind(|l| l.starts_with('*')) {
        // Drop the leading '*' and the two trailing numbers.
        Some(l) => l[1..].rsplitn(3, ':').nth(2).map(str::to_string),
        None => lines.first().cloned(),
    }
}

impl Status {
    pub fn of(resp: &Value) -> Status {
        let Some(s) = resp.field(1) else {
            return Status {
                code: -1,
                message: Some("reply without a status".into()),
                ..Default::default()
            };
        };
        Status {
            code: s.field(1).and_then(Value::i32).unwrap_or(-1),
            sql_state: s.field(3).and_then(Value::text),
            // 0 is "no code".
            error_code: s.field(4).and_then(Value::i32).filter(|c| *c != 0),
            message: s.field(5).and_then(Value::text),
            cause: root_cause(s.field(2)),
        }
    }

    pub fn ok(&self) -> bool {
        matches!(
            self.code,
            status::SUCCESS | status::SUCCESS_WITH_INFO | status::STILL_EXECUTING
        )
    }
}

/// TGetOperationStatusResp.
#[derive(Debug, Clone, PartialEq)]
pub struct OperationStatus {
    pub state: i32,
    pub sql_state: Option<String>,
    pub error_code: Option<i32>,
    pub message: Option<String>,
    pub modified_rows: Option<i64>,
}

impl OperationStatus {
    pub fn of(resp: &Value) -> OperationStatus {
        OperationStatus {
            state: resp.field(2).and_then(Value::i32).unwrap_or(6),
            sql_state: resp.field(3).and_then(Value::text),
            error_code: resp.field(4).and_then(Value::i32).filter(|c| *c != 0),
            message: resp.field(5).and_then(Value::text),
            modified_rows: resp.field(11).and_then(Value::i64),
        }
    }
}

/// A result column: its name and its Hive type (`INT`, `DECIMAL`, `ARRAY`, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnMeta {
    pub name: String,
    pub type_id: i32,
}

impl ColumnMeta {
    pub fn type_name(&self) -> &'static str {
        type_name(self.type_id)
    }
}

/// TTypeId names.
pub fn type_name(id: i32) -> &'static str {
    const NAMES: [&str; 23] = [
        "BOOLEAN",
        "TINYINT",
        "SMALLINT",
        "INT",
        "BIGINT",
        "FLOAT",
        "DOUBLE",
        "STRING",
        "TIMESTAMP",
        "BINARY",
        "ARRAY",
        "MAP",
        "STRUCT",
        "UNIONTYPE",
        "USER_DEFINED",
        "DECIMAL",
        "NULL",
        "DATE",
        "VARCHAR",
        "CHAR",
        "INTERVAL_YEAR_MONTH",
        "INTERVAL_DAY_TIME",
        "TIMESTAMP WITH LOCAL TIME ZONE",
    ];
    usize::try_from(id)
        .ok()
        .and_then(|i| NAMES.get(i))
        .copied()
        .unwrap_or("UNKNOWN")
}

/// TGetResultSetMetadataResp: the columns of a result set.
pub fn schema(resp: &Value) -> Vec<ColumnMeta> {
    let cols = resp
        .field(2)
        .and_then(|s| s.field(1))
        .and_then(Value::list)
        .unwrap_or(&[]);
    cols.iter()
        .map(|c| {
            // The first type entry is the column's own type: a primitive entry names it; the
            // complex entries (array, map, struct, union, user-defined) are fields 2..=6.
            let entry = c
                .field(2)
                .and_then(|d| d.field(1))
                .and_then(Value::list)
                .and_then(|l| l.first());
            let type_id = match entry {
                Some(Value::Struct(f)) => match f.first() {
                    Some((1, p)) => p.field(1).and_then(Value::i32).unwrap_or(7),
                    Some((k @ 2..=6, _)) => 8 + *k as i32,
                    _ => 7,
                },
                _ => 7,
            };
            ColumnMeta {
                name: c.field(1).and_then(Value::text).unwrap_or_default(),
                type_id,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_follow_the_idl_order() {
        assert_eq!(type_name(4), "BIGINT");
        assert_eq!(type_name(15), "DECIMAL");
        assert_eq!(type_name(19), "CHAR");
        assert_eq!(type_name(99), "UNKNOWN");
    }
}
