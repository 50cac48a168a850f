//! The Lua face of `loadgen.elasticsearch`. Every call returns a table; a failed one has `err` and
//! `error` set and never raises.

use super::client::{self, segment, Settings};
use super::config::ClientConfig;
use crate::bindings::config::parse;
use crate::bindings::op::reply;
use crate::bindings::{check_keys, healthcheck_if};
use crate::metrics::recorder::Units;
use crate::script::core::{make_limiter, tags_arg};
use crate::script::{json, lua_error};
use elasticsearch::http::Method;
use mlua::{Lua, Table, UserData, UserDataMethods, Value};
use serde_json::Value as Json;
use std::sync::Arc;

#[derive(Clone)]
struct Client {
    settings: Settings,
    /// Documents per second, shared by every VU.
    limiter: Option<Arc<governor::DefaultDirectRateLimiter>>,
}

fn opt_table(lua: &Lua, o: Option<Table>) -> mlua::Result<Table> {
    match o {
        Some(t) => Ok(t),
        None => lua.create_table(),
    }
}

/// A call's options table (none: empty), refusing keys not in `valid`.
fn call_opts(lua: &Lua, what: &str, o: Option<Table>, valid: &[&str]) -> mlua::Result<Table> {
    let t = opt_table(lua, o)?;
    check_keys(lua, what, &t, valid)?;
    Ok(t)
}

fn to_json(lua: &Lua, v: &Value, what: &str) -> mlua::Result<Json> {
    json::to_json(v).map_err(|e| lua_error(lua, format!("{what}: {e}")))
}

/// One request: the metric it counts in and what it sends.
struct Req {
    metric: &'static str,
    tags: Option<Table>,
    units: Units,
    method: Method,
    path: String,
    body: Option<Vec<u8>>,
}

impl Req {
    /// An index administration request (`es.admin`, no units, no tags).
    fn admin(method: Method, path: String, body: Option<Vec<u8>>) -> Req {
        Req {
            metric: "es.admin",
            tags: None,
            units: Units::none(),
            method,
            path,
            body,
        }
    }
}

/// Runs one request through [`reply`] and turns the answer into a Lua table with `shape`; `docs`
/// documents wait for the client's rate limit first (0: the request is not limited).
async fn call(
    lua: &Lua,
    c: &Client,
    docs: u32,
    req: Req,
    shape: impl FnOnce(&Lua, &Json, &Table) -> mlua::Result<()>,
) -> mlua::Result<Table> {
    let Req {
        metric,
        tags,
        units,
        method,
        path,
        body,
    } = req;
    let s = c.settings.clone();
    let request = async move { (client::request(&s, method, &path, body, false).await, units) };
    let tags = tags_arg(lua, tags)?;
    reply(lua, metric, tags, limit(c, docs), request, |lua, j, out| {
        shape(lua, &j, out)
    })
    .await
}

/// The client's rate limit for `docs` documents, if it has one and they are limited.
fn limit(c: &Client, docs: u32) -> Option<(&governor::DefaultDirectRateLimiter, u32)> {
    c.limiter.as_deref().filter(|_| docs > 0).map(|l| (l, docs))
}

/// NDJSON for a bulk request from a list of documents (`_id` in a document becomes its id) or from
/// NDJSON text as given.
fn bulk_body(lua: &Lua, docs: &Value) -> mlua::Result<(Vec<u8>, u32)> {
    match docs {
        Value::String(s) => {
            let b = s.as_bytes().to_vec();
            // Lines, for the rate limiter's document count (two a document): newlines, plus an
            // unterminated last line. (A plain count the compiler vectorizes; a split into lines was
            // a tenth of loadgen's CPU in a bulk load.)
            let lines = b.iter().filter(|&&c| c == b'\n').count()
                + usize::from(b.last().is_some_and(|&c| c != b'\n'));
            Ok((b, (lines / 2) as u32))
        }
        Value::Table(t) => {
            let mut out = Vec::with_capacity(t.raw_len() * 256);
            let mut n = 0;
            for doc in t.clone().sequence_values::<Value>() {
                let mut j = to_json(lua, &doc?, "bulk document")?;
                let id = j.as_object_mut().and_then(|o| o.remove("_id"));
                let action = match id {
                    Some(id) => serde_json::json!({ "index": { "_id": id } }),
                    None => serde_json::json!({ "index": {} }),
                };
                serde_json::to_writer(&mut out, &action).expect("writing JSON to memory");
                out.push(b'\n');
                serde_json::to_writer(&mut out, &j).expect("writing JSON to memory");
                out.push(b'\n');
                n += 1;
            }
            Ok((out, n))
        }
        other => Err(lua_error(
            lua,
            format!(
                "bulk: expected a list of documents or NDJSON text, got {}",
                other.type_name()
            ),
        )),
    }
}

impl UserData for Client {
    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        // index(index, doc, { id, refresh, tags })
        m.add_async_method(
            "index",
            |lua, this, (index, doc, o): (String, Value, Option<Table>)| {
                let c = this.clone();
                async move {
                    let o = call_opts(&lua, "elasticsearch index", o, &["id", "refresh", "tags"])?;
                    let body = to_json(&lua, &doc, "index document")?
                        .to_string()
                        .into_bytes();
                    let id: Option<String> = o.get("id")?;
                    let refresh = o.get::<Option<bool>>("refresh")?.unwrap_or(false);
                    let (method, mut path) = match id {
                        Some(id) => (
                            Method::Put,
                            format!("/{}/_doc/{}", segment(&index), segment(&id)),
                        ),
                        None => (Method::Post, format!("/{}/_doc", segment(&index))),
                    };
                    if refresh {
                        path.push_str("?refresh=true");
                    }
                    let units = Units::none()
                        .with("docs", 1)
                        .with("bytes", body.len() as u64);
                    let req = Req {
                        metric: "es.index",
                        tags: o.get("tags")?,
                        units,
                        method,
                        path,
                        body: Some(body),
                    };
                    call(&lua, &c, 1, req, |_, j, out| {
                        out.set("id", j.get("_id").and_then(Json::as_str))?;
                        out.set("result", j.get("result").and_then(Json::as_str))?;
                        out.set("version", j.get("_version").and_then(Json::as_i64))?;
                        Ok(())
                    })
                    .await
                }
            },
        );
        // bulk(index, docs | ndjson, { refresh, tags }) -> { items, failed, took, failures }
        m.add_async_method(
            "bulk",
            |lua, this, (index, docs, o): (String, Value, Option<Table>)| {
                let c = this.clone();
                async move {
                    let o = call_opts(&lua, "elasticsearch bulk", o, &["refresh", "tags"])?;
                    let (body, n) = bulk_body(&lua, &docs)?;
                    let refresh = o.get::<Option<bool>>("refresh")?.unwrap_or(false);
                    let s = c.settings.clone();
                    let request = client::bulk(&s, &index, body, refresh);
                    let tags = tags_arg(&lua, o.get("tags")?)?;
                    let out = reply(&lua, "es.bulk", tags, limit(&c, n), request, |_, b, out| {
                        out.set("items", b.items)?;
                        out.set("failed", b.failed)?;
                        out.set("took", b.took_ms)
                    })
                    .await?;
                    // A request that failed as a whole counted no items.
                    for key in ["items", "failed"] {
                        if out.get::<Option<u64>>(key)?.is_none() {
                            out.set(key, 0)?;
                        }
                    }
                    Ok(out)
                }
            },
        );
        // search(index, body, { tags }) -> { total, hits = { {_id, _score, ...source} }, aggregations, took }
        m.add_async_method(
            "search",
            |lua, this, (index, body, o): (String, Value, Option<Table>)| {
                let c = this.clone();
                async move {
                    let o = call_opts(&lua, "elasticsearch search", o, &["tags"])?;
                    let body = match body {
                        Value::Nil => serde_json::json!({}),
                        v => to_json(&lua, &v, "search body")?,
                    };
                    let path = format!("/{}/_search", segment(&index));
                    call(
                        &lua,
                        &c,
                        0,
                        Req {
                            metric: "es.search",
                            tags: o.get("tags")?,
                            units: Units::none(),
                            method: Method::Post,
                            path,
                            body: Some(body.to_string().into_bytes()),
                        },
                        search_shape,
                    )
                    .await
                }
            },
        );
        m.add_async_method(
            "count",
            |lua, this, (index, query, o): (String, Value, Option<Table>)| {
                let c = this.clone();
                async move {
                    let o = call_opts(&lua, "elasticsearch count", o, &["tags"])?;
                    let body = match query {
                        Value::Nil => None,
                        v => Some(to_json(&lua, &v, "count body")?.to_string().into_bytes()),
                    };
                    let path = format!("/{}/_count", segment(&index));
                    call(
                        &lua,
                        &c,
                        0,
                        Req {
                            metric: "es.count",
                            tags: o.get("tags")?,
                            units: Units::none(),
                            method: Method::Post,
                            path,
                            body,
                        },
                        count_shape,
                    )
                    .await
                }
            },
        );
        m.add_async_method(
            "get",
            |lua, this, (index, id, o): (String, String, Option<Table>)| {
                let c = this.clone();
                async move {
                    let o = call_opts(&lua, "elasticsearch get", o, &["tags"])?;
                    let path = format!("/{}/_doc/{}", segment(&index), segment(&id));
                    let out = call(
                        &lua,
                        &c,
                        0,
                        Req {
                            metric: "es.get",
                            tags: o.get("tags")?,
                            units: Units::none(),
                            method: Method::Get,
                            path,
                            body: None,
                        },
                        |lua, j, out| {
                            out.set(
                                "found",
                                j.get("found").and_then(Json::as_bool).unwrap_or(false),
                            )?;
                            if let Some(src) = j.get("_source") {
                                out.set("source", json::to_lua(lua, src)?)?;
                            }
                            Ok(())
                        },
                    )
                    .await?;
                    // A missing document is an answer, not a failure of the call.
                    if out.get::<Option<i64>>("status")? == Some(404) {
                        out.set("status", Value::Nil)?;
                        out.set("err", Value::Nil)?;
                        out.set("error", Value::Nil)?;
                        out.set("found", false)?;
                    }
                    Ok(out)
                }
            },
        );
        m.add_async_method(
            "create_index",
            |lua, this, (index, body): (String, Option<Table>)| {
                let c = this.clone();
                async move {
                    let body = match body {
                        Some(t) => Some(
                            to_json(&lua, &Value::Table(t), "create_index")?
                                .to_string()
                                .into_bytes(),
                        ),
                        None => None,
                    };
                    call(
                        &lua,
                        &c,
                        0,
                        Req::admin(Method::Put, format!("/{}", segment(&index)), body),
                        |_, _, out| out.set("ok", true),
                    )
                    .await
                }
            },
        );
        m.add_async_method("delete_index", |lua, this, index: String| {
            let c = this.clone();
            async move {
                call(
                    &lua,
                    &c,
                    0,
                    Req::admin(Method::Delete, format!("/{}", segment(&index)), None),
                    |_, _, out| out.set("ok", true),
                )
                .await
            }
        });
        m.add_async_method("refresh", |lua, this, index: String| {
            let c = this.clone();
            async move {
                call(
                    &lua,
                    &c,
                    0,
                    Req::admin(Method::Post, format!("/{}/_refresh", segment(&index)), None),
                    |_, _, out| out.set("ok", true),
                )
                .await
            }
        });
        // stats(index) -> { docs, store_bytes }
        m.add_async_method("stats", |lua, this, index: String| {
            let c = this.clone();
            async move {
                let path = format!("/{}/_stats/docs,store", segment(&index));
                call(
                    &lua,
                    &c,
                    0,
                    Req {
                        metric: "es.admin",
                        tags: None,
                        units: Units::none(),
                        method: Method::Get,
                        path,
                        body: None,
                    },
                    |_, j, out| {
                        out.set(
                            "docs",
                            j.pointer("/_all/primaries/docs/count")
                                .and_then(Json::as_i64),
                        )?;
                        out.set(
                            "store_bytes",
                            j.pointer("/_all/primaries/store/size_in_bytes")
                                .and_then(Json::as_i64),
                        )?;
                        Ok(())
                    },
                )
                .await
            }
        });
    }
}

/// A search answer as the script gets it: `took`, `total`, `hits` (each hit's `_source` with its
/// `_id` and `_score`) and `aggregations`. Fields that are missing or of another type are left out.
pub(super) fn search_shape(lua: &Lua, j: &Json, out: &Table) -> mlua::Result<()> {
    out.set("took", j.get("took").and_then(Json::as_i64))?;
    out.set(
        "total",
        j.pointer("/hits/total/value").and_then(Json::as_i64),
    )?;
    let hits = lua.create_table()?;
    if let Some(arr) = j.pointer("/hits/hits").and_then(Json::as_array) {
        for (i, h) in arr.iter().enumerate() {
            let mut src = h.get("_source").cloned().unwrap_or(serde_json::json!({}));
            if let Some(o) = src.as_object_mut() {
                if let Some(id) = h.get("_id") {
                    o.insert("_id".into(), id.clone());
                }
                if let Some(score) = h.get("_score") {
                    o.insert("_score".into(), score.clone());
                }
            }
            hits.raw_set(i + 1, json::to_lua(lua, &src)?)?;
        }
    }
    out.set("hits", hits)?;
    if let Some(aggs) = j.get("aggregations") {
        out.set("aggregations", json::to_lua(lua, aggs)?)?;
    }
    Ok(())
}

/// A count answer: `count`, or nothing when the answer has none.
pub(super) fn count_shape(_: &Lua, j: &Json, out: &Table) -> mlua::Result<()> {
    out.set("count", j.get("count").and_then(Json::as_i64))
}

fn client_ctor(lua: &Lua, o: Option<Table>) -> mlua::Result<Client> {
    let c: ClientConfig = parse(lua, "elasticsearch.client", o.as_ref())?;
    let settings = c.settings().map_err(|e| lua_error(lua, e))?;
    let check = settings.clone();
    healthcheck_if(
        lua,
        c.healthcheck != Some(false),
        &format!("elasticsearch {}", settings.shown_urls()),
        move || client::healthcheck(&check),
    );
    let limiter = match c.rate_limit {
        Some(r) => Some(make_limiter(
            lua,
            "elasticsearch.client rate_limit",
            c.name.as_deref(),
            &settings.shown_urls(),
            r,
            c.burst,
        )?),
        None => None,
    };
    Ok(Client { settings, limiter })
}

pub fn module(lua: &Lua) -> mlua::Result<Table> {
    let m = lua.create_table()?;
    m.set(
        "client",
        lua.create_function(|lua, o: Option<Table>| client_ctor(lua, o))?,
    )?;
    Ok(m)
}
