//! Hostile bytes for the Elasticsearch answer decoders: the bulk answer (`client::bulk_answer`),
//! and the JSON answers of search and count as read (`client::parse`) and shaped for the script
//! (`lua::search_shape`, `lua::count_shape`). Arbitrary bytes and mutations of valid answers give
//! a result or a `protocol` error, never a panic, and never hold more memory than the input
//! accounts for.

use super::client::{bulk_answer, parse};
use super::lua::{count_shape, search_shape};
use crate::metrics::ErrorKind;
use crate::util::fuzz::{self, alloc::peak};
use mlua::Lua;
use proptest::prelude::*;

const BULK: &str = r#"{"errors":true,"took":31,"items":[{"index":{"_index":"i","_id":"1","_version":1,"result":"created","status":201}},{"create":{"_index":"i","_id":"2","status":400,"error":{"type":"document_parsing_exception","reason":"failed to parse \"x\\y\" \u00e9"}}},{"update":{"_id":"3","status":200}},{"delete":{"_id":"4","status":404}},{"index":{"_id":"5","status":503,"error":{"reason":"unavailable"}}}]}"#;

const SEARCH: &str = r#"{"took":5,"timed_out":false,"_shards":{"total":1,"successful":1,"skipped":0,"failed":0},"hits":{"total":{"value":2,"relation":"eq"},"max_score":1.3,"hits":[{"_index":"i","_id":"1","_score":1.3,"_source":{"n":1,"s":"a","nested":{"list":[1,2.5,null,true]}}},{"_index":"i","_id":"2","_score":null,"_source":[1,2]}]},"aggregations":{"by_n":{"buckets":[{"key":1,"doc_count":1}]}}}"#;

const COUNT: &str = r#"{"count":42,"_shards":{"total":1,"successful":1,"skipped":0,"failed":0}}"#;

fn bound(b: &[u8]) -> usize {
    (1 << 20) + 256 * b.len()
}

fn check_bulk(b: &[u8]) {
    let (r, held) = peak(|| bulk_answer(b, "POST /i/_bulk"));
    match r {
        Ok((out, kind)) => {
            assert!(out.failed <= out.items);
            assert!(out.failures.len() <= 10);
            assert_eq!(kind.is_some(), out.failed > 0);
        }
        Err(e) => assert_eq!(e.kind, ErrorKind::Protocol),
    }
    assert!(held <= bound(b), "{held} bytes held for {}", b.len());
}

/// Reads `b` as a search and as a count answer and shapes both for the script.
fn check_answer(lua: &Lua, b: &[u8]) {
    let (r, held) = peak(|| parse(b, "POST /i/_search"));
    assert!(held <= bound(b), "{held} bytes held for {}", b.len());
    match r {
        Ok(j) => {
            let out = lua.create_table().unwrap();
            search_shape(lua, &j, &out).unwrap();
            let out = lua.create_table().unwrap();
            count_shape(lua, &j, &out).unwrap();
        }
        Err(e) => assert_eq!(e.kind, ErrorKind::Protocol),
    }
}

#[test]
fn the_samples_decode() {
    let (out, kind) = bulk_answer(BULK.as_bytes(), "bulk").unwrap();
    assert_eq!((out.items, out.failed), (5, 3));
    assert_eq!(kind, Some(ErrorKind::Client));
    let lua = Lua::new();
    let j = parse(SEARCH.as_bytes(), "search").unwrap();
    let out = lua.create_table().unwrap();
    search_shape(&lua, &j, &out).unwrap();
    assert_eq!(out.get::<i64>("total").unwrap(), 2);
    assert_eq!(out.get::<mlua::Table>("hits").unwrap().raw_len(), 2);
    let j = parse(COUNT.as_bytes(), "count").unwrap();
    let out = lua.create_table().unwrap();
    count_shape(&lua, &j, &out).unwrap();
    assert_eq!(out.get::<i64>("count").unwrap(), 42);
}

proptest! {
    #![proptest_config(fuzz::config())]

    #[test]
    fn es_bulk_arbitrary_bytes(b in fuzz::bytes(512)) {
        check_bulk(&b);
    }

    #[test]
    fn es_bulk_mutated_answers(m in fuzz::mutations()) {
        check_bulk(&fuzz::apply(BULK.as_bytes(), &m));
    }
}

/// One Lua state for all cases (a state per case would cost more than the decoding).
#[test]
fn es_search_and_count_answers() {
    let lua = Lua::new();
    let mut runner = proptest::test_runner::TestRunner::new(fuzz::config());
    runner
        .run(&fuzz::bytes(512), |b| {
            check_answer(&lua, &b);
            Ok(())
        })
        .unwrap();
    let samples = [SEARCH, COUNT];
    runner
        .run(&(0..2usize, fuzz::mutations()), |(i, m)| {
            check_answer(&lua, &fuzz::apply(samples[i].as_bytes(), &m));
            Ok(())
        })
        .unwrap();
}
