//! Running SQL on a connection: without parameters through one reusable server statement, with
//! parameters through statements prepared once per SQL text; commit and rollback.

use super::connection::Connection;
use super::error::{protocol, server_error};
use super::results::Outcome;
use crate::bindings::phoenix::params::bind;
use crate::bindings::phoenix::wire::{Column, ParamType, Request, Response, Value};
use crate::metrics::{ErrorKind, OpError};

/// Prepared statements kept per connection; the oldest is closed beyond this.
const MAX_PREPARED: usize = 256;

#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    pub id: u32,
    pub params: Vec<ParamType>,
    pub columns: Vec<Column>,
    /// Sent back with every execute (opaque).
    pub signature: Vec<u8>,
}

impl Connection {
    /// Prepares `sql` on this connection (once; later calls reuse it), opening the connection
    /// again once when the server no longer knows it.
    pub async fn prepare(&self, sql: &str) -> Result<Prepared, OpError> {
        self.lost.set(false);
        match self.prepare_once(sql).await {
            Err(_) if self.lost.get() => self.prepare_once(sql).await,
            r => r,
        }
    }

    async fn prepare_once(&self, sql: &str) -> Result<Prepared, OpError> {
        if let Some(p) = self.prepared.borrow().get(sql) {
            return Ok(p.clone());
        }
        self.open().await?;
        let req = Request::Prepare {
            connection_id: &self.id,
            sql,
            max_rows_total: self.settings.max_rows,
        };
        let p = match self.call(&req).await? {
            Response::Prepare {
                statement_id,
                params,
                columns,
                signature,
            } => Prepared {
                id: statement_id,
                params,
                columns,
                signature,
            },
            r => return Err(Self::unexpected(&req, &r)),
        };
        let evict = {
            let mut order = self.order.borrow_mut();
            order.push(sql.to_string());
            if order.len() > MAX_PREPARED {
                Some(order.remove(0))
            } else {
                None
            }
        };
        self.prepared
            .borrow_mut()
            .insert(sql.to_string(), p.clone());
        if let Some(old) = evict {
            self.close_statement(&old).await;
        }
        Ok(p)
    }

    /// Closes a prepared statement (errors are ignored: the statement is gone either way).
    pub async fn close_statement(&self, sql: &str) {
        let Some(p) = self.prepared.borrow_mut().remove(sql) else {
            return;
        };
        self.order.borrow_mut().retain(|s| s != sql);
        let req = Request::CloseStatement {
            connection_id: &self.id,
            statement_id: p.id,
        };
        let _ = self.call(&req).await;
    }

    async fn plain_statement(&self) -> Result<u32, OpError> {
        if let Some(id) = self.plain.get() {
            return Ok(id);
        }
        let req = Request::CreateStatement {
            connection_id: &self.id,
        };
        match self.call(&req).await? {
            Response::CreateStatement { statement_id } => {
                self.plain.set(Some(statement_id));
                Ok(statement_id)
            }
            r => Err(Self::unexpected(&req, &r)),
        }
    }

    /// Runs SQL without parameters and fetches all its rows. After a Query Server restart the first
    /// answer may say the statement is missing and the next that the connection is: each is
    /// recovered from once (a new statement, a new connection), and the SQL run again.
    pub async fn execute(&self, sql: &str) -> Result<Outcome, OpError> {
        let mut retry = Retry::default();
        loop {
            self.lost.set(false);
            let stmt = match async {
                self.open().await?;
                self.plain_statement().await
            }
            .await
            {
                Ok(s) => s,
                Err(_) if self.lost.get() && retry.connection() => continue,
                Err(e) => return Err(e),
            };
            let req = Request::PrepareAndExecute {
                connection_id: &self.id,
                statement_id: stmt,
                sql,
                max_rows_total: self.settings.max_rows,
                first_frame_max_size: self.settings.fetch_size,
            };
            match self.send(&req).await? {
                Response::Execute {
                    missing_statement: true,
                    ..
                } => {
                    retry.statement("prepareAndExecute")?;
                    self.plain.set(None);
                }
                Response::Execute { results, .. } => {
                    self.ran();
                    return self.collect(results, None).await;
                }
                Response::Error(e) if self.gone(&e) && retry.can_reconnect() => retry.reconnected(),
                Response::Error(e) => return Err(server_error(req.name(), &e)),
                r => return Err(Self::unexpected(&req, &r)),
            }
        }
    }

    /// Runs a prepared statement with parameters and fetches all its rows.
    pub async fn execute_prepared(&self, sql: &str, params: &[Value]) -> Result<Outcome, OpError> {
        let mut retry = Retry::default();
        loop {
            let p = self.prepare(sql).await?;
            let values = bind(&p.params, params)?;
            let req = Request::Execute {
                connection_id: &self.id,
                statement_id: p.id,
                signature: &p.signature,
                params: &values,
                first_frame_max_size: self.settings.fetch_size,
            };
            match self.send(&req).await? {
                Response::Execute {
                    missing_statement: true,
                    ..
                } => {
                    retry.statement("execute")?;
                    self.prepared.borrow_mut().remove(sql);
                }
                Response::Execute { results, .. } => {
                    self.ran();
                    return self.collect(results, Some(&p.columns)).await;
                }
                Response::Error(e) if self.gone(&e) && retry.can_reconnect() => retry.reconnected(),
                Response::Error(e) => return Err(server_error(req.name(), &e)),
                r => return Err(Self::unexpected(&req, &r)),
            }
        }
    }

    /// Runs a prepared statement once per row of parameters, in one request. Returns the update
    /// count of each row.
    pub async fn execute_batch(&self, sql: &str, rows: &[Vec<Value>]) -> Result<Vec<i64>, OpError> {
        let mut retry = Retry::default();
        loop {
            let p = self.prepare(sql).await?;
            let values = rows
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    bind(&p.params, r).map_err(|mut e| {
                        e.message = format!("batch row {}: {}", i + 1, e.message);
                        e
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let req = Request::ExecuteBatch {
                connection_id: &self.id,
                statement_id: p.id,
                rows: &values,
            };
            match self.send(&req).await? {
                Response::ExecuteBatch {
                    missing_statement: true,
                    ..
                } => {
                    retry.statement("executeBatch")?;
                    self.prepared.borrow_mut().remove(sql);
                }
                Response::ExecuteBatch { update_counts, .. } => {
                    self.ran();
                    return Ok(update_counts);
                }
                Response::Error(e) if self.gone(&e) && retry.can_reconnect() => retry.reconnected(),
                Response::Error(e) => return Err(server_error(req.name(), &e)),
                r => return Err(Self::unexpected(&req, &r)),
            }
        }
    }

    /// A statement succeeded: with autocommit off, it is part of an open transaction.
    fn ran(&self) {
        if !self.settings.autocommit {
            self.uncommitted.set(true);
        }
    }

    pub async fn commit(&self) -> Result<(), OpError> {
        let lost = || {
            OpError::new(
                ErrorKind::Server,
                "phoenix commit: the server lost this connection (expired or restarted) while it \
                 held uncommitted changes; they are gone, nothing was committed",
            )
        };
        if self.lost_work.replace(false) {
            return Err(lost());
        }
        self.open().await?;
        let req = Request::Commit {
            connection_id: &self.id,
        };
        match self.call(&req).await {
            Ok(Response::Done(_)) => {
                self.uncommitted.set(false);
                Ok(())
            }
            Ok(r) => Err(Self::unexpected(&req, &r)),
            Err(_) if self.lost_work.replace(false) => Err(lost()),
            Err(e) => Err(e),
        }
    }

    pub async fn rollback(&self) -> Result<(), OpError> {
        self.lost_work.set(false);
        self.uncommitted.set(false);
        self.open().await?;
        let req = Request::Rollback {
            connection_id: &self.id,
        };
        match self.call(&req).await? {
            Response::Done(_) => Ok(()),
            r => Err(Self::unexpected(&req, &r)),
        }
    }
}

/// What a statement may recover from once each: a statement the server no longer has (made or
/// prepared again) and a connection it no longer knows (opened again). A Query Server restart can
/// show as both, one after the other.
#[derive(Default)]
struct Retry {
    statement_used: bool,
    connection_used: bool,
}

impl Retry {
    /// A missing statement: Ok the first time, an error the second.
    fn statement(&mut self, what: &str) -> Result<(), OpError> {
        if std::mem::replace(&mut self.statement_used, true) {
            return Err(protocol(format!(
                "phoenix {what}: the statement went missing twice"
            )));
        }
        Ok(())
    }

    /// Whether a lost connection may still be opened again.
    fn can_reconnect(&self) -> bool {
        !self.connection_used
    }

    fn reconnected(&mut self) {
        self.connection_used = true;
    }

    /// A lost connection found before the statement ran: true (go again) the first time.
    fn connection(&mut self) -> bool {
        !std::mem::replace(&mut self.connection_used, true)
    }
}
