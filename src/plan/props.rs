//! Hostile input for the options parser (`options::build`): arbitrary JSON built from the keys it
//! knows, and mutations of a valid options text, give a plan or an error message, never a panic;
//! a plan's durations and VU counts can be asked for without a panic too.

use super::options::{build, Overrides};
use crate::util::fuzz;
use proptest::prelude::*;
use serde_json::{json, Value};

const KEYS: [&str; 31] = [
    "vus",
    "duration",
    "iterations",
    "rate",
    "stages",
    "scenarios",
    "thresholds",
    "tags",
    "setup_timeout",
    "teardown_timeout",
    "seed",
    "init_timeout",
    "lua_memory_mib",
    "executor",
    "exec",
    "env",
    "start_time",
    "graceful_stop",
    "max_duration",
    "target",
    "time_unit",
    "start_rate",
    "start_vus",
    "pre_allocated_vus",
    "max_vus",
    "drop_late",
    "wake_quantum",
    "threshold",
    "abort_on_fail",
    "delay_abort_eval",
    "gracefulRampDown",
];

const EXECUTORS: [&str; 7] = [
    "shared-iterations",
    "per-vu-iterations",
    "constant-vus",
    "ramping-vus",
    "constant-arrival-rate",
    "ramping-arrival-rate",
    "externally-controlled",
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        prop_oneof![
            Just(1e300),
            Just(1e20),
            Just(-1.0),
            Just(0.5),
            Just(f64::MAX),
            Just(1e-300),
            any::<f64>()
        ]
        .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        proptest::sample::select(vec![
            "10s",
            "1h30m",
            "0s",
            "-1s",
            "1e300s",
            "99999999999999999h",
            "1.5",
            "ms",
            "",
            "p(95)<200",
            "p(99) < 1e308ms",
            "rate>0.9",
            "avg<=NaN",
            "http{name:x}",
        ])
        .prop_map(Value::from),
        proptest::sample::select(EXECUTORS.to_vec()).prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
    ]
}

/// JSON values whose object keys are mostly the keys the parser asks for.
fn options() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            proptest::collection::vec(
                (
                    prop_oneof![
                        4 => proptest::sample::select(KEYS.to_vec()).prop_map(String::from),
                        1 => ".{0,8}",
                    ],
                    inner
                ),
                0..6
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// An options table: the known keys (and a few others) holding any of the above.
fn table() -> impl Strategy<Value = Value> {
    proptest::collection::vec(
        (
            prop_oneof![
                6 => proptest::sample::select(KEYS.to_vec()).prop_map(String::from),
                1 => ".{0,8}",
            ],
            options(),
        ),
        0..8,
    )
    .prop_map(|kv| Value::Object(kv.into_iter().collect()))
}

fn check(v: &Value, o: &Overrides) {
    if let Ok(p) = build(v, o) {
        let _ = (p.scheduled_duration(), p.max_duration());
        for s in &p.scenarios {
            let _ = (s.grace(), s.executor.max_duration(), s.executor.max_vus());
            let _ = (s.executor.initial_vus(), s.executor.name());
        }
    }
}

fn sample() -> Value {
    json!({
        "scenarios": {
            "ramp": {"executor": "ramping-vus", "start_vus": 0,
                     "stages": [{"duration": "10s", "target": 5}, {"duration": "5s", "target": 0}]},
            "rate": {"executor": "ramping-arrival-rate", "start_rate": 1, "time_unit": "1s",
                     "pre_allocated_vus": 2, "max_vus": 4, "start_time": "2s",
                     "stages": [{"duration": "3s", "target": 10}]},
            "fixed": {"executor": "constant-arrival-rate", "rate": 5, "duration": "5s",
                      "pre_allocated_vus": 1},
        },
        "thresholds": {"http.request{name:get}": ["p(95) < 200ms", {"threshold": "error_rate < 0.01", "abort_on_fail": true, "delay_abort_eval": "5s"}]},
        "tags": {"env": "ci"},
        "setup_timeout": "30s",
        "seed": 7,
    })
}

#[test]
fn the_sample_builds() {
    build(&sample(), &Overrides::default()).unwrap();
}

/// Regression: a numeric duration beyond what a Duration holds (1e20 seconds) panicked in
/// `Duration::from_secs_f64`; it is an error now.
#[test]
fn a_numeric_duration_out_of_range_is_an_error() {
    for d in [1e20, 1e300, f64::MAX] {
        let e = build(&json!({"duration": d, "vus": 1}), &Overrides::default()).unwrap_err();
        assert!(e.contains("duration"), "{e}");
    }
    build(&json!({"duration": 1.5, "vus": 1}), &Overrides::default()).unwrap();
}

proptest! {
    #![proptest_config(fuzz::config())]

    #[test]
    fn options_arbitrary_json(v in prop_oneof![1 => options(), 4 => table()], vus in proptest::option::of(any::<u64>()),
                              rate in proptest::option::of(prop_oneof![Just(1e300), any::<f64>()])) {
        check(&v, &Overrides::default());
        check(&v, &Overrides { vus, rate, ..Default::default() });
    }

    #[test]
    fn options_mutated_text(m in fuzz::mutations()) {
        let text = fuzz::apply(sample().to_string().as_bytes(), &m);
        if let Ok(v) = serde_json::from_slice::<Value>(&text) {
            check(&v, &Overrides::default());
        }
    }
}
