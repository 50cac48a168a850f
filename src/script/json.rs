//! Lua <-> JSON conversion that keeps 64-bit integers exact (Lua 5.4 integers map to JSON integers).

use mlua::{Lua, Table, Value};
use serde_json::{Map, Number, Value as Json};

const MAX_DEPTH: usize = 64;

/// Converts a Lua value to JSON. Tables with keys 1..n are lists; other tables are objects; an
/// empty table is an empty object. Functions, threads and userdata are errors naming the path.
pub fn to_json(value: &Value) -> Result<Json, String> {
    convert(value, "value", 0)
}

fn convert(value: &Value, path: &str, depth: usize) -> Result<Json, String> {
    if depth > MAX_DEPTH {
        return Err(format!(
            "{path}: nested deeper than {MAX_DEPTH} levels (a cycle?)"
        ));
    }
    Ok(match value {
        Value::Nil => Json::Null,
        Value::Boolean(b) => Json::Bool(*b),
        Value::Integer(i) => Json::Number((*i).into()),
        Value::Number(n) => Number::from_f64(*n)
            .map(Json::Number)
            .ok_or_else(|| format!("{path}: {n} cannot be written as JSON"))?,
        Value::String(s) => Json::String(s.to_string_lossy()),
        Value::Table(t) => table(t, path, depth)?,
        other => {
            return Err(format!(
                "{path}: a {} cannot be converted to JSON",
                other.type_name()
            ))
        }
    })
}

fn table(t: &Table, path: &str, depth: usize) -> Result<Json, String> {
    let len = t.raw_len();
    let mut pairs = 0usize;
    let mut all_seq = true;
    for pair in t.clone().pairs::<Value, Value>() {
        let (k, _) = pair.map_err(|e| format!("{path}: {e}"))?;
        pairs += 1;
        match k {
            Value::Integer(i) if i >= 1 && (i as usize) <= len => {}
            _ => all_seq = false,
        }
    }
    if len > 0 && all_seq && pairs == len {
        let mut items = Vec::with_capacity(len);
        for i in 1..=len {
            let v: Value = t.raw_get(i).map_err(|e| format!("{path}: {e}"))?;
            items.push(convert(&v, &format!("{path}[{i}]"), depth + 1)?);
        }
        return Ok(Json::Array(items));
    }
    let mut map = Map::new();
    for pair in t.clone().pairs::<Value, Value>() {
        let (k, v) = pair.map_err(|e| format!("{path}: {e}"))?;
        let key = match &k {
            Value::String(s) => s.to_string_lossy(),
            Value::Integer(i) => i.to_string(),
            Value::Number(n) => n.to_string(),
            Value::Boolean(b) => b.to_string(),
            other => {
                return Err(format!(
                    "{path}: a {} cannot be a JSON key",
                    other.type_name()
                ))
            }
        };
        let child = format!("{path}.{key}");
        map.insert(key, convert(&v, &child, depth + 1)?);
    }
    Ok(Json::Object(map))
}

/// Converts JSON to a Lua value: integers that fit i64 become Lua integers, others floats;
/// `null` becomes nil.
pub fn to_lua(lua: &Lua, value: &Json) -> mlua::Result<Value> {
    Ok(match value {
        Json::Null => Value::Nil,
        Json::Bool(b) => Value::Boolean(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::Integer(i),
            None => Value::Number(n.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(s) => Value::String(lua.create_string(s)?),
        Json::Array(items) => {
            let t = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, item) in items.iter().enumerate() {
                t.raw_set(i + 1, to_lua(lua, item)?)?;
            }
            Value::Table(t)
        }
        Json::Object(map) => {
            let t = lua.create_table_with_capacity(0, map.len())?;
            for (k, v) in map {
                t.raw_set(k.as_str(), to_lua(lua, v)?)?;
            }
            Value::Table(t)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_above_2_pow_53_survive_a_round_trip() {
        let lua = Lua::new();
        let big: i64 = (1i64 << 53) + 1;
        let v: Value = lua
            .load(format!("return {{ id = {big}, xs = {{1, 2.5, 'a'}} }}"))
            .eval()
            .unwrap();
        let json = to_json(&v).unwrap();
        assert_eq!(json["id"].as_i64(), Some(big));
        let text = serde_json::to_string(&json).unwrap();
        let back: Json = serde_json::from_str(&text).unwrap();
        let lv = to_lua(&lua, &back).unwrap();
        let t = lv.as_table().unwrap();
        assert_eq!(t.get::<i64>("id").unwrap(), big);
        assert_eq!(to_json(&lv).unwrap(), json);
    }

    #[test]
    fn functions_are_named_errors() {
        let lua = Lua::new();
        let v: Value = lua.load("return { a = { f = print } }").eval().unwrap();
        assert_eq!(
            to_json(&v).unwrap_err(),
            "value.a.f: a function cannot be converted to JSON"
        );
    }
}
