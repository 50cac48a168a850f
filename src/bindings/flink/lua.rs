//! The Lua face of `loadgen.flink`: deploy a job jar on a Flink session cluster, read its state and
//! metrics (into the result as gauges), cancel it. Every call returns a table; a failed one has `err`
//! and `error` set. The exception: a submission that fails in `setup()` stops the run before the load,
//! with exit code 4 and the cluster's answer, as an unreachable server does.

use super::client::{self, is_terminal, Job, RunSpec, Settings};
use super::config::ClusterConfig;
use crate::bindings::config::parse;
use crate::bindings::{check_keys, healthcheck_if, result_error};
use crate::metrics::recorder::{Tags, Units};
use crate::metrics::{ErrorKind, OpError};
use crate::script::core::{duration_arg, tags_arg};
use crate::script::{lua_error, state, unreachable_error, OpScope, Phase};
use mlua::{Lua, Table, UserData, UserDataMethods, Value};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Per (job, vertex): when it was sampled, its records in and out then.
type LastSamples = HashMap<(String, String), (Instant, u64, u64)>;

#[derive(Clone)]
struct Cluster {
    settings: Settings,
    /// The previous sample of each (job, vertex): when, and its records in and out (for the rates).
    last: Rc<RefCell<LastSamples>>,
}

const POLL: Duration = Duration::from_millis(200);

/// Runs one timed operation under `metric`, with the VU's tags and the call's.
async fn op<T>(
    lua: &Lua,
    metric: &str,
    tags: Option<Tags>,
    f: impl std::future::Future<Output = (Result<T, OpError>, Units)>,
) -> Result<T, OpError> {
    OpScope::of(lua).with_tags(tags).time(metric, f).await
}

/// In setup, a failed deployment is a server the run needs that is not there: exit 4.
fn fail_before_load(lua: &Lua, out: &Table, e: &OpError) -> mlua::Result<()> {
    if state(lua).phase == Phase::Setup {
        return Err(unreachable_error(lua, &e.message));
    }
    result_error(out, e)
}

/// The first lines of the job's root exception (why it failed), or "".
async fn root_cause(s: &Settings, job: &str) -> String {
    let (r, _) = client::get(s, &format!("/jobs/{job}/exceptions"), "exceptions").await;
    r.ok()
        .and_then(|j| j["root-exception"].as_str().map(str::to_string))
        .map(|t| {
            t.lines()
                .filter(|l| !l.starts_with('\t'))
                .take(4)
                .collect::<Vec<_>>()
                .join(" | ")
        })
        .unwrap_or_default()
}

/// Polls the job until every vertex runs (`running`) or, without `running`, until it has stopped. A job
/// that stops while it should be starting is an error with its root exception.
async fn wait_for(
    s: &Settings,
    job: &str,
    running: bool,
    wait: Duration,
) -> (Result<Job, OpError>, Units) {
    let deadline = Instant::now() + wait;
    let mut units = Units::none();
    loop {
        let (r, u) = client::job(s, job, false).await;
        units.merge(&u);
        let j = match r {
            Ok(j) => j,
            Err(e) => return (Err(e), units),
        };
        if running && is_terminal(&j.state) {
            let why = root_cause(s, job).await;
            let msg = format!(
                "flink job {job} at {} ended {} before running: {why}",
                s.url, j.state
            );
            return (Err(OpError::new(ErrorKind::Server, msg)), units);
        }
        let done = if running {
            j.state == "RUNNING"
                && !j.vertices.is_empty()
                && j.vertices.iter().all(|v| v.status == "RUNNING")
        } else {
            is_terminal(&j.state)
        };
        if done {
            return (Ok(j), units);
        }
        if Instant::now() >= deadline {
            let what = if running { "running" } else { "a final state" };
            // A job that keeps failing and restarting never gets to FAILED within the wait: its last
            // exception says why.
            let why = root_cause(s, job).await;
            return (
                Err(OpError::new(
                    ErrorKind::Timeout,
                    format!(
                        "flink job {job} at {}: not {what} after {wait:?} (state {}, vertices {}){}{why}",
                        s.url,
                        j.state,
                        j.vertices
                            .iter()
                            .map(|v| v.status.as_str())
                            .collect::<Vec<_>>()
                            .join(","),
                        if why.is_empty() { "" } else { "; last exception: " }
                    ),
                )),
                units,
            );
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Upload, run, remove the uploaded jar, wait until every vertex runs. A job that does not get there is
/// cancelled, so that nothing is left running on the cluster.
async fn submit(
    s: &Settings,
    jar: &std::path::Path,
    spec: &RunSpec,
    wait: Duration,
) -> (Result<Job, OpError>, Units) {
    let (r, mut units) = client::upload(s, jar).await;
    let id = match r {
        Ok(id) => id,
        Err(e) => return (Err(e), units),
    };
    let (r, u) = client::run(s, &id, spec).await;
    units.merge(&u);
    let (_, u) = client::delete_jar(s, &id).await;
    units.merge(&u);
    let job = match r {
        Ok(j) => j,
        Err(e) => return (Err(e), units),
    };
    let (r, u) = wait_for(s, &job, true, wait).await;
    units.merge(&u);
    match r {
        Ok(j) => (Ok(j), units),
        Err(mut e) => {
            // Nothing left running: the job is cancelled and waited for; if that fails too, the message
            // says so, with the job's id.
            let (c, u) = client::cancel(s, &job).await;
            units.merge(&u);
            let stopped = match c {
                Ok(_) => wait_for(s, &job, false, Duration::from_secs(30))
                    .await
                    .0
                    .map(|_| ()),
                Err(e) => Err(e),
            };
            if let Err(c) = stopped {
                e.message = format!(
                    "{}; and cancelling job {job} failed: {}",
                    e.message, c.message
                );
            }
            (Err(e), units)
        }
    }
}

fn job_table(lua: &Lua, j: &Job) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set("job", j.id.as_str())?;
    t.set("name", j.name.as_str())?;
    t.set("state", j.state.as_str())?;
    let vs = lua.create_table()?;
    for v in &j.vertices {
        let x = lua.create_table()?;
        x.set("id", v.id.as_str())?;
        x.set("name", v.name.as_str())?;
        x.set("status", v.status.as_str())?;
        x.set("parallelism", v.parallelism)?;
        x.set("records_in", v.records_in)?;
        x.set("records_out", v.records_out)?;
        x.set("bytes_in", v.bytes_in)?;
        x.set("bytes_out", v.bytes_out)?;
        x.set("backpressured_ms_per_s", v.backpressured_ms_per_s)?;
        x.set("busy_ms_per_s", v.busy_ms_per_s)?;
        vs.push(x)?;
    }
    t.set("vertices", vs)?;
    if let Some(c) = &j.checkpoints {
        let x = lua.create_table()?;
        x.set("completed", c.completed)?;
        x.set("failed", c.failed)?;
        x.set("in_progress", c.in_progress)?;
        x.set("last_duration_ms", c.last_duration_ms)?;
        x.set("last_size_bytes", c.last_size_bytes)?;
        t.set("checkpoints", x)?;
    }
    Ok(t)
}

/// The job's numbers as gauges of this second: per vertex (tag `vertex`, the operator chain's name,
/// and `job`, the job's name) records in and out (totals) and per second since the previous sample,
/// back-pressured and busy ms per second; per job the checkpoint counts and the latest one's duration.
fn record_gauges(lua: &Lua, c: &Cluster, j: &Job, extra: Option<Tags>) {
    let scope = OpScope::of(lua).with_tags(extra);
    let mut rec = scope.recorder.borrow_mut();
    let now = Instant::now();
    let mut last = c.last.borrow_mut();
    for v in &j.vertices {
        let mut tags = (*scope.tags).clone();
        tags.insert("job".into(), j.name.clone());
        tags.insert("vertex".into(), v.name.clone());
        rec.set_gauge("flink.records_in", &tags, v.records_in as f64);
        rec.set_gauge("flink.records_out", &tags, v.records_out as f64);
        if let Some((t, i, o)) = last.insert(
            (j.id.clone(), v.id.clone()),
            (now, v.records_in, v.records_out),
        ) {
            let dt = now.duration_since(t).as_secs_f64();
            if dt > 0.0 {
                rec.set_gauge(
                    "flink.records_in_per_s",
                    &tags,
                    v.records_in.saturating_sub(i) as f64 / dt,
                );
                rec.set_gauge(
                    "flink.records_out_per_s",
                    &tags,
                    v.records_out.saturating_sub(o) as f64 / dt,
                );
            }
        }
        if let Some(b) = v.backpressured_ms_per_s {
            rec.set_gauge("flink.backpressured_ms_per_s", &tags, b);
        }
        if let Some(b) = v.busy_ms_per_s {
            rec.set_gauge("flink.busy_ms_per_s", &tags, b);
        }
    }
    if let Some(cp) = &j.checkpoints {
        let mut tags = (*scope.tags).clone();
        tags.insert("job".into(), j.name.clone());
        rec.set_gauge("flink.checkpoints_completed", &tags, cp.completed as f64);
        rec.set_gauge("flink.checkpoints_failed", &tags, cp.failed as f64);
        if let Some(d) = cp.last_duration_ms {
            rec.set_gauge("flink.checkpoint_ms", &tags, d);
        }
    }
}

/// `job` and `sample`: the job's table, or `err`/`error`; with `gauges`, its numbers recorded too.
async fn read_job(
    lua: &Lua,
    c: &Cluster,
    id: String,
    tags: Option<Tags>,
    gauges: bool,
) -> mlua::Result<Table> {
    let s = c.settings.clone();
    let r = op(lua, "flink.job", tags.clone(), async move {
        client::job(&s, &id, true).await
    })
    .await;
    match r {
        Ok(j) => {
            if gauges {
                record_gauges(lua, c, &j, tags);
            }
            job_table(lua, &j)
        }
        Err(e) => {
            let out = lua.create_table()?;
            result_error(&out, &e)?;
            Ok(out)
        }
    }
}

fn wait_opt(lua: &Lua, o: &Table, default: Duration) -> mlua::Result<Duration> {
    match o.get::<Option<Value>>("wait")? {
        Some(v) => duration_arg(lua, &v, "flink wait"),
        None => Ok(default),
    }
}

impl UserData for Cluster {
    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        // submit{ jar = path, entry_class = "..", args = {..}, parallelism = n, wait = "60s", tags = {..} }
        m.add_async_method("submit", |lua, this, o: Table| async move {
            check_keys(
                &lua,
                "flink submit",
                &o,
                &["jar", "entry_class", "args", "parallelism", "wait", "tags"],
            )?;
            if state(&lua).phase == Phase::Init {
                return Err(lua_error(
                    &lua,
                    "flink submit: call it in setup() (it runs once), not in init code (which runs in every VU)",
                ));
            }
            let jar: String = o.get::<Option<String>>("jar")?.ok_or_else(|| {
                lua_error(&lua, "flink submit: 'jar' (the job jar's path) is required")
            })?;
            let jar = crate::script::state(&lua).shared.script_dir().join(jar);
            let args = match o.get::<Option<Table>>("args")? {
                Some(t) => t
                    .sequence_values::<String>()
                    .collect::<mlua::Result<Vec<_>>>()?,
                None => vec![],
            };
            let spec = RunSpec {
                entry_class: o.get("entry_class")?,
                args,
                parallelism: o.get("parallelism")?,
            };
            let wait = wait_opt(&lua, &o, Duration::from_secs(60))?;
            let tags = tags_arg(&lua, o.get("tags")?)?;
            let s = this.settings.clone();
            let r = op(&lua, "flink.submit", tags, async move {
                submit(&s, &jar, &spec, wait).await
            })
            .await;
            let out = lua.create_table()?;
            match r {
                Ok(j) => {
                    out.set("job", j.id.as_str())?;
                    out.set("state", j.state.as_str())?;
                }
                Err(e) => fail_before_load(&lua, &out, &e)?,
            }
            Ok(out)
        });
        // job(id): state, vertices with records/bytes in and out, back-pressure, checkpoints.
        m.add_async_method("job", |lua, this, id: String| async move {
            read_job(&lua, &this, id, None, false).await
        });
        // sample(id, tags): job(id), and its numbers recorded as gauges of this second.
        m.add_async_method(
            "sample",
            |lua, this, (id, tags): (String, Option<Table>)| async move {
                let tags = tags_arg(&lua, tags)?;
                read_job(&lua, &this, id, tags, true).await
            },
        );
        // cancel(id, { wait = "60s" }): cancels and waits until the job has stopped.
        m.add_async_method(
            "cancel",
            |lua, this, (id, o): (String, Option<Table>)| async move {
                let wait = match &o {
                    Some(o) => {
                        check_keys(&lua, "flink cancel", o, &["wait"])?;
                        wait_opt(&lua, o, Duration::from_secs(60))?
                    }
                    None => Duration::from_secs(60),
                };
                let s = this.settings.clone();
                let r = op(&lua, "flink.cancel", None, async move {
                    let (r, mut units) = client::job(&s, &id, false).await;
                    match r {
                        Ok(j) if is_terminal(&j.state) => return (Ok(j), units),
                        Ok(_) => {}
                        Err(e) => return (Err(e), units),
                    }
                    let (r, u) = client::cancel(&s, &id).await;
                    units.merge(&u);
                    if let Err(e) = r {
                        return (Err(e), units);
                    }
                    let (r, u) = wait_for(&s, &id, false, wait).await;
                    units.merge(&u);
                    (r, units)
                })
                .await;
                let out = lua.create_table()?;
                match r {
                    Ok(j) => out.set("state", j.state.as_str())?,
                    Err(e) => result_error(&out, &e)?,
                }
                Ok(out)
            },
        );
        // jobs(): every job the cluster knows, { {job = id, state = ..}, .. }.
        m.add_async_method("jobs", |lua, this, ()| async move {
            let s = this.settings.clone();
            let r = op(
                &lua,
                "flink.job",
                None,
                async move { client::jobs(&s).await },
            )
            .await;
            let out = lua.create_table()?;
            match r {
                Ok(list) => {
                    for (id, st) in list {
                        let x = lua.create_table()?;
                        x.set("job", id)?;
                        x.set("state", st)?;
                        out.push(x)?;
                    }
                }
                Err(e) => result_error(&out, &e)?,
            }
            Ok(out)
        });
    }
}

fn cluster_ctor(lua: &Lua, o: Option<Table>) -> mlua::Result<Cluster> {
    let c: ClusterConfig = parse(lua, "flink.cluster", o.as_ref())?;
    let settings = c.settings().map_err(|e| lua_error(lua, e))?;
    let check = settings.clone();
    healthcheck_if(
        lua,
        c.healthcheck != Some(false),
        &format!("flink {}", settings.url),
        move || client::healthcheck(&check),
    );
    Ok(Cluster {
        settings,
        last: Rc::new(RefCell::new(HashMap::new())),
    })
}

pub fn module(lua: &Lua) -> mlua::Result<Table> {
    let m = lua.create_table()?;
    m.set(
        "cluster",
        lua.create_function(|lua, o: Option<Table>| cluster_ctor(lua, o))?,
    )?;
    Ok(m)
}
