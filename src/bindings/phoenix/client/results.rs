//! What a statement gave back: its rows, fetched frame by frame, or its update count.

use super::connection::Connection;
use super::error::protocol;
use crate::bindings::phoenix::wire::{typed, Column, Frame, Request, Response, ResultSet, Value};
use crate::metrics::{ErrorKind, OpError};

/// What a statement gave back.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Outcome {
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Value>>,
    /// For statements that change rows (UPSERT, DELETE, DDL): how many.
    pub update_count: Option<i64>,
    /// Frames the rows came in.
    pub frames: u32,
}

impl Outcome {
    /// The rows the statement moved: returned, or changed.
    pub fn units(&self) -> u64 {
        match self.update_count {
            Some(n) if n > 0 => n as u64,
            Some(_) => 0,
            None => self.rows.len() as u64,
        }
    }
}

impl Connection {
    /// The rows of the first result set, fetching frame after frame until the server says done.
    pub(super) async fn collect(
        &self,
        results: Vec<ResultSet>,
        prepared_columns: Option<&[Column]>,
    ) -> Result<Outcome, OpError> {
        let Some(rs) = results.into_iter().next() else {
            return Ok(Outcome::default());
        };
        let columns = match (&rs.columns, prepared_columns) {
            (Some(c), _) if !c.is_empty() => c.clone(),
            (_, Some(c)) => c.to_vec(),
            _ => Vec::new(),
        };
        if rs.update_count >= 0 && rs.first_frame.is_none() {
            return Ok(Outcome {
                columns,
                rows: Vec::new(),
                update_count: Some(rs.update_count),
                frames: 0,
            });
        }
        let types: Vec<i32> = columns.iter().map(|c| c.type_id).collect();
        let mut out = Outcome {
            columns,
            ..Default::default()
        };
        let mut frame = rs.first_frame.unwrap_or(Frame {
            done: true,
            ..Default::default()
        });
        let mut empty = 0;
        loop {
            out.frames += 1;
            if frame.rows.is_empty() {
                empty += 1;
            } else {
                empty = 0;
            }
            for row in frame.rows {
                if row.len() != types.len() && !types.is_empty() {
                    return Err(protocol(format!(
                        "phoenix: a row has {} values for {} columns",
                        row.len(),
                        types.len()
                    )));
                }
                out.rows.push(
                    row.into_iter()
                        .enumerate()
                        .map(|(i, c)| typed(types.get(i).copied().unwrap_or(0), c))
                        .collect(),
                );
            }
            if frame.done {
                return Ok(out);
            }
            if empty >= 3 {
                return Err(protocol(
                    "phoenix fetch: the server sent empty frames without finishing",
                ));
            }
            let req = Request::Fetch {
                connection_id: &self.id,
                statement_id: rs.statement_id,
                offset: out.rows.len() as u64,
                frame_max_size: self.settings.fetch_size,
            };
            frame = match self.call(&req).await? {
                Response::Fetch {
                    missing_statement: true,
                    ..
                }
                | Response::Fetch {
                    missing_results: true,
                    ..
                } => {
                    return Err(OpError::new(
                        ErrorKind::Server,
                        format!(
                            "phoenix fetch: the server lost the result set after {} rows",
                            out.rows.len()
                        ),
                    ))
                }
                Response::Fetch { frame, .. } => frame,
                r => return Err(Self::unexpected(&req, &r)),
            };
        }
    }
}
