//! A binding's settings as a typed config: a `#[derive(Deserialize)]` struct per constructor, read
//! from the script's options table by [`parse`] (or from JSON by [`from_json`], which is how the
//! configs are unit-tested without Lua). A key the struct does not have is refused, naming the valid
//! ones; a value of the wrong type names its key.

use crate::script::lua_error;
use mlua::{Lua, Table};
use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value as Json};
use std::cell::Cell;
use std::fmt;
use std::time::Duration;

/// Reads the options table `o` (none: every default) as `T`; `what` names the constructor in errors
/// (`hive.connect: unknown option 'prot'; valid: auth, database, ...`).
pub fn parse<T: DeserializeOwned>(lua: &Lua, what: &str, o: Option<&Table>) -> mlua::Result<T> {
    let json = match o {
        Some(t) => crate::script::json::to_json(&mlua::Value::Table(t.clone()))
            .map_err(|e| lua_error(lua, format!("{what}: {e}")))?,
        None => Json::Object(Map::new()),
    };
    from_json(what, json).map_err(|e| lua_error(lua, e))
}

/// [`parse`] from JSON.
pub fn from_json<T: DeserializeOwned>(what: &str, v: Json) -> Result<T, String> {
    let v = match v {
        // (An empty Lua table reads as an empty object; an empty list is taken as one too.)
        Json::Array(a) if a.is_empty() => Json::Object(Map::new()),
        Json::Object(m) => {
            let mut valid = fields_of::<T>().to_vec();
            valid.sort_unstable();
            if let Some(bad) = m.keys().find(|k| !valid.contains(&k.as_str())) {
                return Err(format!(
                    "{what}: unknown option '{bad}'; valid: {}",
                    valid.join(", ")
                ));
            }
            Json::Object(m)
        }
        _ => return Err(format!("{what}: expected a table of options")),
    };
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        format!("{what}: {path}: {}", e.into_inner())
    })
}

/// The field names of a struct that derives `Deserialize` (serde hands them to the deserializer).
pub fn fields_of<T: DeserializeOwned>() -> &'static [&'static str] {
    let fields = Cell::new(&[][..]);
    let _ = T::deserialize(Fields(&fields));
    fields.get()
}

/// A deserializer that only notes the fields a struct asks for.
struct Fields<'a>(&'a Cell<&'static [&'static str]>);

impl<'de> Deserializer<'de> for Fields<'_> {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("not a struct"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.set(fields);
        Err(de::Error::custom("fields noted"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option
        unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
    }
}

/// A duration given as seconds (`2`, `0.25`) or as text (`"250ms"`, `"1m30s"`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Secs(pub Duration);

impl<'de> Deserialize<'de> for Secs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Secs, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Secs;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("seconds or a duration string such as \"250ms\"")
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Secs, E> {
                Ok(Secs(Duration::from_secs(n)))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Secs, E> {
                u64::try_from(n)
                    .map(|n| Secs(Duration::from_secs(n)))
                    .map_err(|_| E::custom(format!("{n} is negative")))
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<Secs, E> {
                Duration::try_from_secs_f64(n)
                    .map(Secs)
                    .map_err(|_| E::custom(format!("{n} is not a duration")))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Secs, E> {
                crate::util::parse_duration(s).map(Secs).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// One string or a list of them (`url = "..."` or `urls = { "...", "..." }`; `{}` is an empty
/// list, since an empty Lua table cannot say whether it is a list or a map).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Strings {
    One(String),
    Many(Vec<String>),
    Empty(EmptyTable),
}

/// An empty Lua table where a list is expected.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmptyTable {}

impl Strings {
    pub fn into_vec(self) -> Vec<String> {
        match self {
            Strings::One(s) => vec![s],
            Strings::Many(v) => v,
            Strings::Empty(_) => Vec::new(),
        }
    }
}

/// A setting written as text whatever Lua gave (`["linger.ms"] = 5` is `"5"`), as servers take
/// their configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Text(pub String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Text, D::Error> {
        match Json::deserialize(d)? {
            Json::String(s) => Ok(Text(s)),
            Json::Number(n) => Ok(Text(n.to_string())),
            Json::Bool(b) => Ok(Text(b.to_string())),
            // Named by its type, never by its value: a setting may be a secret.
            other => Err(de::Error::custom(format!(
                "expected a string, number or boolean, got {}",
                match other {
                    Json::Array(_) => "a list",
                    Json::Object(_) => "a table",
                    _ => "null",
                }
            ))),
        }
    }
}

/// A table of settings as text (`session_conf`, `config`).
pub fn texts(
    m: Option<std::collections::BTreeMap<String, Text>>,
) -> std::collections::BTreeMap<String, String> {
    m.unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.0))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Example {
        url: Option<String>,
        timeout: Option<Secs>,
        urls: Option<Strings>,
    }

    #[test]
    fn unknown_keys_are_refused_naming_the_valid_ones() {
        let e = from_json::<Example>("x.client", json!({ "ulr": "a" })).unwrap_err();
        assert_eq!(
            e,
            "x.client: unknown option 'ulr'; valid: timeout, url, urls"
        );
        assert_eq!(fields_of::<Example>(), ["url", "timeout", "urls"]);
    }

    #[test]
    fn a_value_of_the_wrong_type_names_its_key() {
        let e = from_json::<Example>("x.client", json!({ "timeout": true })).unwrap_err();
        assert!(
            e.starts_with("x.client: timeout: invalid type: boolean"),
            "{e}"
        );
        let e = from_json::<Example>("x.client", json!({ "timeout": "5 parsecs" })).unwrap_err();
        assert!(e.starts_with("x.client: timeout: "), "{e}");
    }

    #[test]
    fn a_setting_of_the_wrong_type_is_named_by_its_type_not_its_value() {
        #[derive(Debug, Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Settings {
            #[allow(dead_code)]
            config: std::collections::BTreeMap<String, Text>,
        }
        let e = from_json::<Settings>("x", json!({ "config": { "sasl.password": ["pw-1"] } }))
            .unwrap_err();
        assert_eq!(
            e,
            "x: config.sasl.password: expected a string, number or boolean, got a list"
        );
    }

    #[test]
    fn durations_and_lists_read_as_lua_gives_them() {
        let c: Example = from_json(
            "x",
            json!({ "timeout": "250ms", "urls": ["a", "b"], "url": "u" }),
        )
        .unwrap();
        assert_eq!(c.timeout, Some(Secs(Duration::from_millis(250))));
        assert_eq!(c.urls.unwrap().into_vec(), ["a", "b"]);
        let c: Example = from_json("x", json!({ "timeout": 2, "urls": "a" })).unwrap();
        assert_eq!(c.timeout, Some(Secs(Duration::from_secs(2))));
        assert_eq!(c.urls.unwrap().into_vec(), ["a"]);
        let c: Example = from_json("x", json!({ "timeout": 0.5 })).unwrap();
        assert_eq!(c.timeout, Some(Secs(Duration::from_millis(500))));
        // An empty Lua table: every default; where a list is expected, an empty list.
        let c: Example = from_json("x", json!([])).unwrap();
        assert_eq!(c.url, None);
        let c: Example = from_json("x", json!({ "urls": {} })).unwrap();
        assert_eq!(c.urls.unwrap().into_vec(), Vec::<String>::new());
        assert!(from_json::<Example>("x", json!({ "urls": { "a": "b" } })).is_err());
        assert!(from_json::<Example>("x", json!(-1)).is_err());
        assert!(from_json::<Example>("x", json!({ "timeout": -1 })).is_err());
    }
}
