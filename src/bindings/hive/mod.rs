//! `loadgen.hive`: our own asynchronous HiveServer2 client (TCLIService over the Thrift binary
//! protocol: on HiveServer2's binary port with SASL PLAIN or no SASL, or over HTTP).
//!
//! ```lua
//! local hive = require("loadgen.hive")
//! local h = hive.connect{ host = "127.0.0.1", port = 10000, database = "default" }
//! local r = h:execute("CREATE TABLE t (id BIGINT, name STRING)", { name = "ddl" })  -- { ok, modified_rows }
//! local q = h:query("SELECT id, name FROM t", { name = "scan" })  -- { columns, types, rows, row_count }
//! if q.err then print(q.err, q.error, q.sql_state, q.code) end
//! h:close()
//! ```
//!
//! `hive.connect{...}` options: `host` (127.0.0.1), `port` (10000; 10001 over http), `user`/`password`
//! (`anonymous`), `database` (the server's default), `transport` (`binary` or `http`: each call a
//! POST to `http_path`, default `cliservice`, with HTTP Basic credentials),
//! `auth` (`none`: SASL PLAIN with any user, HiveServer2's NONE; `plain`: SASL PLAIN, user and
//! password required; `nosasl`), `timeout` (60s: connecting and every round trip),
//! `query_timeout` (none: a statement running longer is cancelled, `err = "timeout"`),
//! `poll_interval` (50ms: at most one status poll per interval; HiveServer2 holds each poll until
//! the statement ends or its long-polling timeout, 500 ms in Hive 4, passes, and a held poll is
//! followed at once), `fetch_size` (10000 rows
//! per fetch), `session_conf` (settings applied when the session opens, as `SET k=v`),
//! `healthcheck` (true: a session is opened and closed before the run; exit 4 if it fails),
//! `zookeeper` (`host:port,...`: find the HiveServer2 instances registered under `/namespace`,
//! default `hiveserver2`, instead of `host` and `port`; each new session takes the next instance, and
//! one that does not accept the connection is skipped). `h:server()` names the instance in use.
//! Unknown keys are errors that list the valid ones.
//!
//! A handle is one session on one connection, opened on its first statement and timed as
//! `hive.connect`; init code runs per VU, so each VU has its own. After a connection failure the
//! next statement opens a new session. `h:close()` closes it; when a VU ends the session is
//! closed too (a CloseSession is sent, and HiveServer2 closes a session with its connection).
//!
//! `h:execute(sql, opts)` and `h:query(sql, opts)` (opts: `name` (tag), `tags`, `conf`:
//! settings for this statement only, and for `query` `named = true` for rows keyed by column
//! name) run the statement asynchronously on the server, poll it, fetch the rows (`query`), and
//! always close the operation. Each records `hive.query` with the unit `rows` (rows fetched; for
//! `execute`, rows the server says it modified). A failed call returns `err` (`connect`,
//! `timeout`, `server`: Hive's own error, `client`: login refused, `protocol`: not a HiveServer2
//! answer), `error` (with Hive's message) and, from Hive, `sql_state` and `code`; it never raises.
//!
//! Values in `rows` (positional, `nil` for NULL, so count columns with `#r.columns`):
//! BOOLEAN as booleans; TINYINT, SMALLINT, INT, BIGINT as Lua integers (exact over 2^53); FLOAT
//! and DOUBLE as numbers (a FLOAT as the shortest decimal that reads back as the same float:
//! 1.1, not 1.100000023841858); DECIMAL as exact text; STRING, VARCHAR, CHAR (blank-padded) as
//! strings; DATE, TIMESTAMP and intervals as Hive's text (`2024-02-29 12:34:56.789`); BINARY as
//! a byte string; ARRAY, MAP, STRUCT as Hive's JSON text. `columns` are Hive's names (for
//! `SELECT *`: `table.column`), `types` the Hive type names.
//!
//! Layers, bottom up: `thrift` (the binary protocol), `tcli` (TCLIService messages), `rowset`
//! (column-based result sets), `transport` (TCP, SASL, frames), `client` (sessions and
//! statements, no Lua), `lua` (the Lua face, no wire).

pub mod client;
pub mod error;
pub mod lua;
#[cfg(test)]
mod props;
pub mod rowset;
pub mod tcli;
pub mod thrift;
pub mod transport;
pub mod zookeeper;
