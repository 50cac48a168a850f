//! Data files (CSV, JSON Lines) loaded once per process and shared read-only by every VU.

use super::{json, lua_error, state};
use mlua::{Lua, MetaMethod, UserData, UserDataMethods, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug)]
pub enum Rows {
    /// CSV rows; with a header, rows come to Lua as tables keyed by column name.
    Csv {
        header: Option<Vec<String>>,
        rows: Vec<Vec<String>>,
    },
    Json(Vec<serde_json::Value>),
}

#[derive(Debug)]
pub struct DataSet {
    pub path: PathBuf,
    pub rows: Rows,
}

impl DataSet {
    pub fn len(&self) -> usize {
        match &self.rows {
            Rows::Csv { rows, .. } => rows.len(),
            Rows::Json(rows) => rows.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn row(&self, lua: &Lua, i: usize) -> mlua::Result<Value> {
        match &self.rows {
            Rows::Csv { header, rows } => {
                let row = &rows[i];
                let t = lua.create_table()?;
                match header {
                    Some(h) => {
                        for (k, v) in h.iter().zip(row) {
                            t.raw_set(k.as_str(), v.as_str())?;
                        }
                    }
                    None => {
                        for (j, v) in row.iter().enumerate() {
                            t.raw_set(j + 1, v.as_str())?;
                        }
                    }
                }
                Ok(Value::Table(t))
            }
            Rows::Json(rows) => json::to_lua(lua, &rows[i]),
        }
    }
}

/// Splits one CSV line (RFC 4180 quoting, no embedded newlines).
pub fn split_csv(line: &str, sep: char) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    field.push('"');
                    chars.next();
                } else {
                    quoted = false;
                }
            } else {
                field.push(c);
            }
        } else if c == '"' && at_start {
            quoted = true;
            at_start = false;
        } else if c == sep {
            out.push(std::mem::take(&mut field));
            at_start = true;
        } else {
            field.push(c);
            at_start = false;
        }
    }
    if quoted {
        return Err("unterminated quote".into());
    }
    out.push(field);
    Ok(out)
}

fn load(path: &Path, format: &str, header: bool, sep: char) -> Result<DataSet, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read data file {}: {e}", path.display()))?;
    let lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let rows = match format {
        "csv" => {
            let mut head = None;
            let mut rows = Vec::new();
            for (n, line) in lines {
                let fields = split_csv(line.trim_end_matches('\r'), sep)
                    .map_err(|e| format!("{}:{}: {e}", path.display(), n + 1))?;
                if header && head.is_none() {
                    head = Some(fields);
                } else {
                    rows.push(fields);
                }
            }
            Rows::Csv { header: head, rows }
        }
        _ => Rows::Json(
            lines
                .map(|(n, line)| {
                    serde_json::from_str(line)
                        .map_err(|e| format!("{}:{}: {e}", path.display(), n + 1))
                })
                .collect::<Result<_, _>>()?,
        ),
    };
    Ok(DataSet {
        path: path.to_path_buf(),
        rows,
    })
}

/// Opens (or reuses) a data file. Relative paths resolve from the script's folder.
pub fn open(
    lua: &Lua,
    path: &str,
    format: &'static str,
    header: bool,
    sep: char,
) -> mlua::Result<Handle> {
    let shared = state(lua).shared.clone();
    let p = Path::new(path);
    let full = if p.is_absolute() {
        p.to_path_buf()
    } else {
        shared.script_dir().join(p)
    };
    let mut cache = shared.data.lock().expect("data lock");
    if let Some(ds) = cache.get(&full) {
        return Ok(Handle(ds.clone()));
    }
    let ds = Arc::new(load(&full, format, header, sep).map_err(|e| lua_error(lua, e))?);
    cache.insert(full, ds.clone());
    Ok(Handle(ds))
}

/// The Lua face of a data set: `#d`, `d[i]`, `d:get(i)`, `d:len()`, `d:random()`.
pub struct Handle(pub Arc<DataSet>);

impl UserData for Handle {
    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        fn get(lua: &Lua, this: &Handle, i: i64) -> mlua::Result<Value> {
            if i < 1 || i as usize > this.0.len() {
                return Ok(Value::Nil);
            }
            this.0.row(lua, i as usize - 1)
        }
        m.add_method("len", |_, this, ()| Ok(this.0.len()));
        m.add_meta_method(MetaMethod::Len, |_, this, ()| Ok(this.0.len()));
        m.add_method("get", |lua, this, i: i64| get(lua, this, i));
        m.add_meta_method(MetaMethod::Index, |lua, this, i: i64| get(lua, this, i));
        m.add_method("random", |lua, this, ()| {
            if this.0.is_empty() {
                return Ok(Value::Nil);
            }
            let i = super::state_mut(lua).rng.below(this.0.len() as u64) as usize;
            this.0.row(lua, i)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quoting() {
        assert_eq!(
            split_csv("a,\"b,c\",\"d\"\"e\"", ',').unwrap(),
            ["a", "b,c", "d\"e"]
        );
        assert_eq!(split_csv("", ',').unwrap(), [""]);
        assert!(split_csv("\"open", ',').is_err());
    }
}
