//! Data files (CSV, JSON Lines) loaded once per process and shared read-only by every VU.

use super::{json, lua_error, state};
use mlua::{Lua, MetaMethod, UserData, UserDataMethods, Value};
use std::path::Path;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Format {
    Csv { sep: char },
    Json,
}

/// A data file kept as its own text plus where each row starts and ends: about the file's size in
/// memory (a 1.4 GB file of 10 million rows takes ~1.5 GB, where one String per field took ~9 GB).
/// Every row is checked when the file is loaded; a row is split (CSV) or parsed (JSON) again when a
/// script reads it.
#[derive(Debug)]
pub struct DataSet {
    format: Format,
    /// CSV with a header: rows come to Lua as tables keyed by column name.
    header: Option<Vec<String>>,
    text: String,
    /// Each row's byte range in `text`: start and length.
    spans: Vec<(usize, u32)>,
}

impl DataSet {
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn line(&self, i: usize) -> &str {
        let (start, len) = self.spans[i];
        &self.text[start..start + len as usize]
    }

    fn row(&self, lua: &Lua, i: usize) -> mlua::Result<Value> {
        let line = self.line(i);
        match self.format {
            Format::Csv { sep } => {
                // Checked at load: this split cannot fail.
                let row = split_csv(line, sep).map_err(mlua::Error::external)?;
                let t = lua.create_table()?;
                match &self.header {
                    Some(h) => {
                        for (k, v) in h.iter().zip(row) {
                            t.raw_set(k.as_str(), v)?;
                        }
                    }
                    None => {
                        for (j, v) in row.into_iter().enumerate() {
                            t.raw_set(j + 1, v)?;
                        }
                    }
                }
                Ok(Value::Table(t))
            }
            Format::Json => {
                let v: serde_json::Value =
                    serde_json::from_str(line).map_err(mlua::Error::external)?;
                json::to_lua(lua, &v)
            }
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
    let format = match format {
        "csv" => Format::Csv { sep },
        _ => Format::Json,
    };
    let mut head = None;
    let mut spans = Vec::new();
    let base = text.as_ptr() as usize;
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let at = |e: String| format!("{}:{}: {e}", path.display(), n + 1);
        match format {
            Format::Csv { sep } => {
                let fields = split_csv(line, sep).map_err(at)?;
                if header && head.is_none() {
                    head = Some(fields);
                    continue;
                }
            }
            Format::Json => {
                serde_json::from_str::<serde::de::IgnoredAny>(line)
                    .map_err(|e| at(e.to_string()))?;
            }
        }
        let len =
            u32::try_from(line.len()).map_err(|_| at("a row longer than 4 GiB".to_string()))?;
        spans.push((line.as_ptr() as usize - base, len));
    }
    spans.shrink_to_fit();
    Ok(DataSet {
        format,
        header: head,
        text,
        spans,
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

    fn file(name: &str, text: &str) -> std::path::PathBuf {
        let p = std::env::temp_dir().join(format!("loadgen-data-{}-{name}", std::process::id()));
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn rows_are_kept_as_spans_of_the_text() {
        let p = file("h.csv", "a,b\r\n1,\"x,y\"\r\n\n  \n2,z\n");
        let d = load(&p, "csv", true, ',').unwrap();
        assert_eq!(
            d.header.as_deref(),
            Some(&["a".to_string(), "b".to_string()][..])
        );
        assert_eq!(d.len(), 2);
        assert_eq!(d.line(0), "1,\"x,y\"");
        assert_eq!(d.line(1), "2,z");
        let lua = Lua::new();
        let Value::Table(t) = d.row(&lua, 0).unwrap() else {
            panic!()
        };
        assert_eq!(t.get::<String>("b").unwrap(), "x,y");
        let p = file("j.jsonl", "{\"k\": 1}\n\n[2, \"three\"]\n");
        let d = load(&p, "json", false, ',').unwrap();
        assert_eq!(d.len(), 2);
        let Value::Table(t) = d.row(&lua, 1).unwrap() else {
            panic!()
        };
        assert_eq!(t.get::<String>(2).unwrap(), "three");
    }

    #[test]
    fn a_bad_row_names_its_file_and_line() {
        let p = file("bad.csv", "a,b\n1,2\n\"open,3\n");
        let e = load(&p, "csv", true, ',').unwrap_err();
        assert!(e.ends_with("bad.csv:3: unterminated quote"), "{e}");
        let p = file("bad.jsonl", "{}\n{nope\n");
        let e = load(&p, "json", false, ',').unwrap_err();
        assert!(e.contains("bad.jsonl:2: "), "{e}");
    }
}
