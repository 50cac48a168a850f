//! Hostile text for the threshold parsers: `Expression::parse` and `parse_metric_selector` take
//! arbitrary strings and mutations of valid ones, and answer a value or an error message, never a
//! panic; a parsed expression is evaluated against an empty and a filled metric without one.

use super::entry::Entry;
use super::thresholds::{parse_metric_selector, Expression};
use super::MetricKind;
use crate::util::fuzz;
use proptest::prelude::*;
use std::collections::BTreeMap;

const EXPRESSIONS: [&str; 8] = [
    "p(99.9) < 1.5s",
    "avg<=200ms",
    "error_rate < 0.01",
    "count >= 100",
    "rate > 0.95",
    "max != 1h2m3s4ms5us",
    "throughput == 1e3",
    "med > 250",
];

const SELECTORS: [&str; 4] = [
    "http.request{name:get,phase:load}",
    "iterations",
    "hive.query{ name : scan }",
    "es.bulk{}",
];

fn check_expression(text: &str) {
    if let Ok(e) = Expression::parse(text) {
        for kind in [MetricKind::Operation, MetricKind::Counter, MetricKind::Rate] {
            let mut entry = Entry::new("m", BTreeMap::new(), kind);
            let _ = e.holds(Some(&entry), 0.0);
            entry.count = 3;
            entry.sum = 1e300;
            let _ = e.holds(Some(&entry), 1.0);
        }
        let _ = e.holds(None, 1.0);
    }
}

fn check_selector(text: &str) {
    if let Ok((name, tags)) = parse_metric_selector(text) {
        assert!(!name.is_empty());
        assert!(tags.keys().all(|k| !k.contains(',')));
    }
}

fn mutated(sample: &str, m: &[fuzz::Mutation]) -> String {
    String::from_utf8_lossy(&fuzz::apply(sample.as_bytes(), m)).into_owned()
}

proptest! {
    #![proptest_config(fuzz::config())]

    #[test]
    fn thresholds_arbitrary_text(s in "\\PC{0,48}", t in "[pavgminedcoutrhlsx(){}:,. <>=!0-9eE+\\-µ]{0,32}") {
        check_expression(&s);
        check_expression(&t);
        check_selector(&s);
        check_selector(&t);
    }

    #[test]
    fn thresholds_mutated_text(i in 0..8usize, j in 0..4usize, m in fuzz::mutations()) {
        check_expression(&mutated(EXPRESSIONS[i], &m));
        check_selector(&mutated(SELECTORS[j], &m));
    }
}

#[test]
fn the_samples_parse() {
    for e in EXPRESSIONS {
        Expression::parse(e).unwrap();
    }
    for s in SELECTORS {
        parse_metric_selector(s).unwrap();
    }
}
