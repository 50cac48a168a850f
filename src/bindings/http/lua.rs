//! The Lua face of `loadgen.http`. Knows nothing of the wire.
//!
//! Every call returns a response table `{ status, body, headers, ok, err, error, duration }` with a
//! `:json()` method. A failed request (no answer, or status >= 400) has `err` set to its kind
//! (`connect`, `timeout`, `server`, `client`, `protocol`) and `error` to a message; it never raises.

use super::client::{self, Request, Response, DEFAULT_TIMEOUT};
use crate::bindings::check_keys;
use crate::bindings::config::{parse, texts, Secs, Text};
use crate::bindings::timing::timed_with;
use crate::metrics::OpError;
use crate::script::core::{duration_arg, make_limiter, tags_arg};
use crate::script::{json, lua_error, OpScope};
use mlua::{Lua, LuaString, Table, UserData, UserDataMethods, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

const METRIC: &str = "http.request";
const RESPONSE_MT: &str = "loadgen.http.response";
const RAW_HEADERS: &str = "_headers";

/// Settings of an `http.client{...}`; the module functions use the defaults.
#[derive(Debug, Clone, Default)]
struct Settings {
    base_url: Option<String>,
    headers: Vec<(String, String)>,
    timeout: Option<Duration>,
    limiter: Option<Arc<governor::DefaultDirectRateLimiter>>,
}

fn headers_arg(lua: &Lua, t: Option<Table>) -> mlua::Result<Vec<(String, String)>> {
    crate::script::core::string_pairs(lua, t, "header")
}

/// Builds the request from `(method, url, body, opts)` as the script gave them.
fn build(
    lua: &Lua,
    settings: &Settings,
    method: &str,
    url: String,
    body: Value,
    opts: Option<Table>,
) -> mlua::Result<(Request, Option<crate::metrics::Tags>)> {
    let method = reqwest::Method::from_bytes(method.to_ascii_uppercase().as_bytes())
        .map_err(|_| lua_error(lua, format!("http: '{method}' is not an HTTP method")))?;
    let url = match &settings.base_url {
        Some(base) if !url.contains("://") => format!("{}{}", base.trim_end_matches('/'), url),
        _ => url,
    };
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(lua_error(
            lua,
            format!(
                "http: '{}' is not an http:// or https:// URL",
                client::shown_url(&url)
            ),
        ));
    }
    let mut headers = settings.headers.clone();
    let mut timeout = settings.timeout.unwrap_or(DEFAULT_TIMEOUT);
    let mut tags = None;
    let mut body = match body {
        Value::Nil => None,
        Value::String(s) => Some(s.as_bytes().to_vec()),
        Value::Table(_) => {
            headers.push(("content-type".into(), "application/json".into()));
            let j = json::to_json(&body).map_err(|e| lua_error(lua, format!("http body: {e}")))?;
            Some(j.to_string().into_bytes())
        }
        other => {
            return Err(lua_error(
                lua,
                format!(
                    "http body: expected a string or a table, got {}",
                    other.type_name()
                ),
            ))
        }
    };
    if let Some(o) = opts {
        check_keys(
            lua,
            "http",
            &o,
            &["body", "headers", "json", "name", "tags", "timeout"],
        )?;
        headers.extend(headers_arg(lua, o.get("headers")?)?);
        if let Some(t) = o.get::<Option<Value>>("timeout")? {
            timeout = duration_arg(lua, &t, "http timeout")?;
        }
        tags = tags_arg(lua, o.get("tags")?)?;
        if let Some(name) = o.get::<Option<String>>("name")? {
            tags.get_or_insert_with(Default::default)
                .insert("name".into(), name);
        }
        if let Some(j) = o.get::<Option<Value>>("json")? {
            let j = json::to_json(&j).map_err(|e| lua_error(lua, format!("http json: {e}")))?;
            headers.push(("content-type".into(), "application/json".into()));
            body = Some(j.to_string().into_bytes());
        }
        if let Some(b) = o.get::<Option<LuaString>>("body")? {
            body = Some(b.as_bytes().to_vec());
        }
    }
    Ok((
        Request {
            method,
            url,
            headers,
            body,
            timeout,
        },
        tags,
    ))
}

fn response_table(lua: &Lua, r: Result<Response, OpError>, took: Duration) -> mlua::Result<Table> {
    // Sized for its fields up front: no rehash while they are set.
    let t = lua.create_table_with_capacity(0, 8)?;
    t.set("duration", took.as_secs_f64() * 1000.0)?;
    match r {
        Ok(resp) => {
            t.set("status", resp.status)?;
            t.set("body", lua.create_string(&resp.body)?)?;
            // Most scripts never read the headers: the head is kept as bytes (a Lua string costs
            // less than a userdata) and the table is made on first access.
            t.raw_set(RAW_HEADERS, lua.create_string(resp.headers.head())?)?;
            let kind = client::status_error(resp.status);
            t.set("ok", kind.is_none())?;
            if let Some(kind) = kind {
                t.set("err", kind.as_str())?;
                t.set("error", format!("HTTP {}", resp.status))?;
            }
        }
        Err(e) => {
            t.set("status", 0)?;
            t.set("ok", false)?;
            t.set("err", e.kind.as_str())?;
            t.set("error", e.message)?;
        }
    }
    let mt: Table = lua.named_registry_value(RESPONSE_MT)?;
    t.set_metatable(Some(mt))?;
    Ok(t)
}

async fn request(
    lua: Lua,
    settings: Settings,
    method: String,
    url: String,
    body: Value,
    opts: Option<Table>,
) -> mlua::Result<Table> {
    let (req, tags) = build(&lua, &settings, &method, url, body, opts)?;
    let scope = OpScope::of(&lua).with_tags(tags);
    if let Some(l) = &settings.limiter {
        l.until_ready().await;
    }
    // `duration` is the service time the timing helper recorded.
    let (r, service) = timed_with(scope.meta(METRIC), client::send(req), |resp: &Response| {
        client::status_error(resp.status)
    })
    .await;
    response_table(&lua, r, service)
}

/// `http.client{ base_url, headers, timeout, rate_limit }`: requests with shared settings.
struct Client(Settings);

fn add_request_methods<M: UserDataMethods<Client>>(m: &mut M) {
    m.add_async_method("get", |lua, this, (url, opts): (String, Option<Table>)| {
        let s = this.0.clone();
        async move { request(lua, s, "GET".into(), url, Value::Nil, opts).await }
    });
    m.add_async_method(
        "delete",
        |lua, this, (url, opts): (String, Option<Table>)| {
            let s = this.0.clone();
            async move { request(lua, s, "DELETE".into(), url, Value::Nil, opts).await }
        },
    );
    for method in ["post", "put", "patch"] {
        m.add_async_method(
            method,
            move |lua, this, (url, body, opts): (String, Value, Option<Table>)| {
                let s = this.0.clone();
                async move { request(lua, s, method.to_ascii_uppercase(), url, body, opts).await }
            },
        );
    }
    m.add_async_method(
        "request",
        |lua, this, (method, url, body, opts): (String, String, Value, Option<Table>)| {
            let s = this.0.clone();
            async move { request(lua, s, method, url, body, opts).await }
        },
    );
}

impl UserData for Client {
    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        add_request_methods(m);
    }
}

/// `http.client{...}`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientConfig {
    /// Put before a request's URL that has no scheme.
    base_url: Option<String>,
    /// Sent with every request, before the request's own.
    headers: Option<BTreeMap<String, Text>>,
    timeout: Option<Secs>,
    /// Requests per second, shared by every VU (`name` tells two limiters apart).
    rate_limit: Option<f64>,
    burst: Option<u32>,
    name: Option<String>,
}

impl ClientConfig {
    /// The client's settings but its rate limit, which the constructor makes.
    fn settings(&self) -> Settings {
        Settings {
            base_url: self.base_url.clone(),
            headers: texts(self.headers.clone()).into_iter().collect(),
            timeout: self.timeout.map(|t| t.0),
            limiter: None,
        }
    }
}

fn client_ctor(lua: &Lua, opts: Option<Table>) -> mlua::Result<Client> {
    let c: ClientConfig = parse(lua, "http.client", opts.as_ref())?;
    let mut s = c.settings();
    if let Some(rate) = c.rate_limit {
        // The client's identity: its base URL and headers (secrets as a hash).
        let mut target = s
            .base_url
            .as_deref()
            .map(|u| client::shown_url(u).into_owned())
            .unwrap_or_default();
        for (k, v) in &s.headers {
            target.push_str(&format!(", {k}: {}", crate::util::hide_secret(k, v)));
        }
        s.limiter = Some(make_limiter(
            lua,
            "http.client rate_limit",
            c.name.as_deref(),
            &target,
            rate,
            c.burst,
        )?);
    }
    Ok(Client(s))
}

pub fn module(lua: &Lua) -> mlua::Result<Table> {
    let mt = lua.create_table()?;
    let json_fn = lua.create_function(|lua, this: Table| {
        let body: LuaString = this.get("body")?;
        let j: serde_json::Value = serde_json::from_slice(&body.as_bytes())
            .map_err(|e| lua_error(lua, format!("response:json(): {e}")))?;
        json::to_lua(lua, &j)
    })?;
    mt.set(
        "__index",
        lua.create_function(
            move |lua, (this, key): (Table, LuaString)| match &*key.as_bytes() {
                b"json" => Ok(Value::Function(json_fn.clone())),
                b"headers" => {
                    let h = lua.create_table()?;
                    if let Ok(raw) = this.raw_get::<LuaString>(RAW_HEADERS) {
                        // A name sent twice keeps its last value, as it always did.
                        for (k, v) in super::h1::head_fields(&raw.as_bytes()) {
                            h.raw_set(k, v)?;
                        }
                    }
                    this.raw_set("headers", h.clone())?;
                    Ok(Value::Table(h))
                }
                _ => Ok(Value::Nil),
            },
        )?,
    )?;
    lua.set_named_registry_value(RESPONSE_MT, mt)?;

    let m = lua.create_table()?;
    // Module functions use the default settings: http.get(url, opts) == http.client():get(url, opts).
    m.set(
        "get",
        lua.create_async_function(|lua, (url, opts): (String, Option<Table>)| {
            request(
                lua,
                Settings::default(),
                "GET".into(),
                url,
                Value::Nil,
                opts,
            )
        })?,
    )?;
    m.set(
        "delete",
        lua.create_async_function(|lua, (url, opts): (String, Option<Table>)| {
            request(
                lua,
                Settings::default(),
                "DELETE".into(),
                url,
                Value::Nil,
                opts,
            )
        })?,
    )?;
    for method in ["post", "put", "patch"] {
        m.set(
            method,
            lua.create_async_function(
                move |lua, (url, body, opts): (String, Value, Option<Table>)| {
                    request(
                        lua,
                        Settings::default(),
                        method.to_ascii_uppercase(),
                        url,
                        body,
                        opts,
                    )
                },
            )?,
        )?;
    }
    m.set(
        "request",
        lua.create_async_function(
            |lua, (method, url, body, opts): (String, String, Value, Option<Table>)| {
                request(lua, Settings::default(), method, url, body, opts)
            },
        )?,
    )?;
    m.set(
        "client",
        lua.create_function(|lua, opts: Option<Table>| client_ctor(lua, opts))?,
    )?;
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::config::from_json;
    use serde_json::json;

    fn config(v: serde_json::Value) -> Result<Settings, String> {
        Ok(from_json::<ClientConfig>("http.client", v)?.settings())
    }

    #[test]
    fn client_config_from_literals() {
        let s = config(json!({})).unwrap();
        assert_eq!((s.base_url, s.timeout), (None, None));
        assert!(s.headers.is_empty());
        let s = config(
            json!({ "base_url": "http://127.0.0.1:8080", "timeout": "250ms",
            "headers": { "x-b": 2, "x-a": "one" }, "rate_limit": 100, "burst": 10 }),
        )
        .unwrap();
        assert_eq!(s.base_url.as_deref(), Some("http://127.0.0.1:8080"));
        assert_eq!(s.timeout, Some(Duration::from_millis(250)));
        let h = [("x-a", "one"), ("x-b", "2")].map(|(k, v)| (k.to_string(), v.to_string()));
        assert_eq!(s.headers, h);
        for (bad, says) in [
            (json!({ "timeout": "soon" }), "http.client: timeout: "),
            (
                json!({ "headers": { "x": {} } }),
                "http.client: headers.x: expected a string",
            ),
            (
                json!({ "rate_limit": "fast" }),
                "http.client: rate_limit: invalid type",
            ),
            (
                json!({ "base": "http://x" }),
                "unknown option 'base'; valid: base_url, burst, headers, name, rate_limit, timeout",
            ),
        ] {
            let e = config(bad).unwrap_err();
            assert!(e.contains(says), "{e}");
        }
    }
}
