//! Tests of the result file's structure (beside schema.rs, which stays short).

use super::*;

fn gauge(name: &str, partition: &str, value: f64, at_us: i64) -> Entry {
    let mut tags = BTreeMap::new();
    tags.insert("partition".to_string(), partition.to_string());
    let mut e = Entry::new(name, tags, MetricKind::Gauge);
    e.count = 1;
    e.gauge = Some(Gauge {
        value,
        min: value,
        max: value,
        at_us,
    });
    e
}

/// A gauge's second says the highest value any of its series was set to (the partition furthest
/// behind), and reads back as a gauge of that value.
#[test]
fn a_gauge_second_keeps_its_highest_value() {
    let mut second = Entry::new("lag", BTreeMap::new(), MetricKind::Gauge);
    second.merge(&gauge("lag", "0", 900.0, 1));
    second.merge(&gauge("lag", "1", 40.0, 2));
    let mut store = MetricStore::default();
    store
        .series
        .insert(100, [("lag".to_string(), second)].into_iter().collect());
    let (_, _, series) = ResultFile::from_store(&store, 1.0);
    let m = &series[0].metrics["lag"];
    assert_eq!(m.max, Some(900.0));
    assert_eq!(m.p99, None);
    let back = m.to_entry("lag").unwrap();
    assert_eq!(back.gauge.map(|g| g.max), Some(900.0));
}

/// Issue 16: a server killed mid-run shows in the seconds it was down as failures of a kind;
/// the kinds survive the file (merge and compare read seconds back as entries).
#[test]
fn a_second_keeps_its_failures_by_kind() {
    let mut second = Entry::new("es.bulk", BTreeMap::new(), MetricKind::Operation);
    second.count = 10;
    second.errors.insert("connect".into(), 3);
    second.errors.insert("timeout".into(), 1);
    let mut store = MetricStore::default();
    store
        .series
        .insert(100, [("es.bulk".to_string(), second)].into_iter().collect());
    let (_, _, series) = ResultFile::from_store(&store, 1.0);
    let m = &series[0].metrics["es.bulk"];
    assert_eq!(m.errors, 4);
    let kinds: Vec<(&str, u64)> = m
        .error_kinds
        .iter()
        .map(|(k, n)| (k.as_str(), *n))
        .collect();
    assert_eq!(kinds, [("connect", 3), ("timeout", 1)]);
    let back = m.to_entry("es.bulk").unwrap();
    assert_eq!(back.errors, m.error_kinds);
    // A second without failures leaves the field out; an older file's count reads as `any`.
    let text = serde_json::to_string(m).unwrap();
    assert!(text.contains("\"error_kinds\""), "{text}");
    let mut old = m.clone();
    old.error_kinds.clear();
    assert!(!serde_json::to_string(&old).unwrap().contains("error_kinds"));
    assert_eq!(old.to_entry("es.bulk").unwrap().errors["any"], 4);
    // Written again (a merge), such a second keeps its count and names no kind: `any` is not
    // one the schema allows.
    let again = SecondMetric::from_entry(&old.to_entry("es.bulk").unwrap());
    assert_eq!((again.errors, again.error_kinds.len()), (4, 0));
}
