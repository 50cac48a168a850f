//! Reading the script's `options` (as JSON) field by field: typed getters that name the path of a
//! bad value, and a finish that refuses the keys nobody asked for, listing the valid ones.

use crate::util::parse_duration;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// Reads the fields of one JSON object, remembering which keys were asked for, so that leftovers are
/// reported with the list of valid keys.
pub struct Fields<'a> {
    pub path: String,
    pub map: &'a Map<String, Value>,
    pub known: Vec<&'static str>,
}

pub type R<T> = Result<T, String>;

impl<'a> Fields<'a> {
    pub fn new(path: impl Into<String>, value: &'a Value) -> R<Self> {
        let path = path.into();
        match value {
            Value::Object(map) => Ok(Fields {
                path,
                map,
                known: Vec::new(),
            }),
            other => Err(format!("{path}: expected a table, got {}", kind(other))),
        }
    }

    pub fn at(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    pub fn get(&mut self, key: &'static str) -> Option<&'a Value> {
        self.known.push(key);
        self.map.get(key).filter(|v| !v.is_null())
    }

    pub fn has(&self, key: &str) -> bool {
        self.map.get(key).is_some_and(|v| !v.is_null())
    }

    pub fn u64(&mut self, key: &'static str) -> R<Option<u64>> {
        let at = self.at(key);
        self.get(key)
            .map(|v| match v {
                Value::Number(n) => n
                    .as_u64()
                    .or_else(|| {
                        n.as_f64()
                            .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                            .map(|f| f as u64)
                    })
                    .ok_or_else(|| format!("{at}: expected a whole number >= 0, got {n}")),
                other => Err(format!(
                    "{at}: expected a whole number, got {}",
                    kind(other)
                )),
            })
            .transpose()
    }

    pub fn f64(&mut self, key: &'static str) -> R<Option<f64>> {
        let at = self.at(key);
        self.get(key)
            .map(|v| match v {
                Value::Number(n) => n
                    .as_f64()
                    .filter(|f| f.is_finite() && *f >= 0.0)
                    .ok_or_else(|| format!("{at}: expected a number >= 0, got {n}")),
                other => Err(format!("{at}: expected a number, got {}", kind(other))),
            })
            .transpose()
    }

    pub fn bool(&mut self, key: &'static str) -> R<Option<bool>> {
        let at = self.at(key);
        self.get(key)
            .map(|v| {
                v.as_bool()
                    .ok_or_else(|| format!("{at}: expected true or false, got {}", kind(v)))
            })
            .transpose()
    }

    pub fn string(&mut self, key: &'static str) -> R<Option<String>> {
        let at = self.at(key);
        self.get(key)
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("{at}: expected a string, got {}", kind(v)))
            })
            .transpose()
    }

    pub fn duration(&mut self, key: &'static str) -> R<Option<Duration>> {
        let at = self.at(key);
        self.get(key)
            .map(|v| match v {
                Value::String(s) => parse_duration(s).map_err(|e| format!("{at}: {e}")),
                Value::Number(n) => n
                    .as_f64()
                    .and_then(|f| Duration::try_from_secs_f64(f).ok())
                    .ok_or_else(|| format!("{at}: bad duration {n}")),
                other => Err(format!(
                    "{at}: expected a duration such as \"30s\", got {}",
                    kind(other)
                )),
            })
            .transpose()
    }

    pub fn string_map(&mut self, key: &'static str) -> R<BTreeMap<String, String>> {
        let at = self.at(key);
        let Some(v) = self.get(key) else {
            return Ok(BTreeMap::new());
        };
        let Value::Object(map) = v else {
            return Err(format!(
                "{at}: expected a table of strings, got {}",
                kind(v)
            ));
        };
        map.iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                Value::Number(n) => Ok((k.clone(), n.to_string())),
                Value::Bool(b) => Ok((k.clone(), b.to_string())),
                other => Err(format!("{at}.{k}: expected a string, got {}", kind(other))),
            })
            .collect()
    }

    pub fn required<T>(&self, key: &'static str, value: Option<T>, what: &str) -> R<T> {
        value.ok_or_else(|| format!("{}: required ({what})", self.at(key)))
    }

    /// Errors on any key nobody asked for, listing the valid ones.
    pub fn finish(self) -> R<()> {
        let mut unknown: Vec<&String> = self
            .map
            .keys()
            .filter(|k| !self.known.contains(&k.as_str()))
            .collect();
        unknown.sort();
        if let Some(key) = unknown.first() {
            let mut valid = self.known.clone();
            valid.sort();
            valid.dedup();
            return Err(format!(
                "{}: unknown option; valid options here: {}",
                self.at(key),
                valid.join(", ")
            ));
        }
        Ok(())
    }
}

pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "nil",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a table",
    }
}
