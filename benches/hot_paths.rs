//! Engine hot paths: one histogram record, one recorder operation, one Lua -> Rust call (plain and
//! async, as bindings are), and one schedule step. `cargo bench --bench hot_paths`.

use criterion::{criterion_group, criterion_main, Criterion};
use loadgen::bench::{Recorder, Tags, Units};
use std::hint::black_box;
use std::time::Duration;

fn histogram(c: &mut Criterion) {
    let mut h = loadgen::bench::new_histogram();
    let mut v = 1u64;
    c.bench_function("histogram record", |b| {
        b.iter(|| {
            v = (v * 7 + 13) % 1_000_000 + 1;
            h.record(black_box(v)).unwrap();
        })
    });
}

fn recorder(c: &mut Criterion) {
    let mut r = Recorder::new();
    let tags: Tags = [("scenario".to_string(), "default".to_string())].into();
    let units = Units::none().with("bytes", 1024);
    c.bench_function("recorder record_op", |b| {
        b.iter(|| {
            r.record_op(
                black_box("http.request"),
                &tags,
                Duration::from_micros(900),
                Duration::from_micros(800),
                None,
                &units,
            )
        })
    });
}

fn lua_calls(c: &mut Criterion) {
    let lua = mlua::Lua::new();
    let f = lua.create_function(|_, x: i64| Ok(x + 1)).unwrap();
    lua.globals().set("rust_add", f).unwrap();
    let af = lua
        .create_async_function(|_, x: i64| async move { Ok(x + 1) })
        .unwrap();
    lua.globals().set("rust_add_async", af).unwrap();
    let sync_loop: mlua::Function = lua
        .load("return function(n) local s = 0 for i = 1, n do s = rust_add(s) end return s end")
        .eval()
        .unwrap();
    let async_loop: mlua::Function = lua
        .load(
            "return function(n) local s = 0 for i = 1, n do s = rust_add_async(s) end return s end",
        )
        .eval()
        .unwrap();
    let mut g = c.benchmark_group("lua to rust call");
    g.throughput(criterion::Throughput::Elements(1000));
    g.bench_function("sync x1000", |b| {
        b.iter(|| sync_loop.call::<i64>(1000).unwrap())
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    g.bench_function("async x1000", |b| {
        b.iter(|| rt.block_on(async_loop.call_async::<i64>(1000)).unwrap())
    });
    g.finish();
}

fn schedule(c: &mut Criterion) {
    let s = loadgen::bench::Schedule::ramping(
        0.0,
        Duration::from_secs(1),
        &[loadgen::bench::Stage {
            duration: Duration::from_secs(60),
            target: 20_000.0,
        }],
    );
    let mut i = 0u64;
    c.bench_function("schedule time_of (ramp)", |b| {
        b.iter(|| {
            i = (i + 1) % 500_000;
            black_box(s.time_of(i))
        })
    });
}

criterion_group!(benches, histogram, recorder, lua_calls, schedule);
criterion_main!(benches);
