//! Topic administration (create, delete, describe) and the brokers' health check.

use super::op_error;
use crate::metrics::{ErrorKind, OpError};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::KafkaError;
use std::collections::BTreeMap;
use std::time::Duration;

pub fn admin(brokers: &str) -> Result<AdminClient<DefaultClientContext>, String> {
    ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .map_err(|e| format!("kafka admin ({brokers}): {e}"))
}

pub async fn create_topic(
    admin: &AdminClient<DefaultClientContext>,
    name: &str,
    partitions: i32,
    replication: i32,
    config: &BTreeMap<String, String>,
    timeout: Duration,
) -> Result<(), OpError> {
    let mut t = NewTopic::new(name, partitions, TopicReplication::Fixed(replication));
    for (k, v) in config {
        t = t.set(k, v);
    }
    let opts = AdminOptions::new().operation_timeout(Some(timeout));
    let results = tokio::time::timeout(
        timeout + Duration::from_secs(1),
        admin.create_topics([&t], &opts),
    )
    .await
    .map_err(|_| {
        OpError::new(
            ErrorKind::Timeout,
            format!("create topic {name}: no answer"),
        )
    })?
    .map_err(|e| op_error(&e, &format!("create topic {name}")))?;
    for r in results {
        if let Err((topic, code)) = r {
            let e = KafkaError::AdminOp(code);
            return Err(op_error(&e, &format!("create topic {topic}")));
        }
    }
    Ok(())
}

pub async fn delete_topic(
    admin: &AdminClient<DefaultClientContext>,
    name: &str,
    timeout: Duration,
) -> Result<(), OpError> {
    let opts = AdminOptions::new().operation_timeout(Some(timeout));
    let results = tokio::time::timeout(
        timeout + Duration::from_secs(1),
        admin.delete_topics(&[name], &opts),
    )
    .await
    .map_err(|_| {
        OpError::new(
            ErrorKind::Timeout,
            format!("delete topic {name}: no answer"),
        )
    })?
    .map_err(|e| op_error(&e, &format!("delete topic {name}")))?;
    for r in results {
        if let Err((topic, code)) = r {
            return Err(op_error(
                &KafkaError::AdminOp(code),
                &format!("delete topic {topic}"),
            ));
        }
    }
    Ok(())
}

/// A partition of a topic as the metadata describes it.
#[derive(Debug, Clone)]
pub struct PartitionInfo {
    pub id: i32,
    pub leader: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
    /// The log's first offset and its high watermark (the offset after the last committed record);
    /// `None` when the partition's leader could not say (no leader: a broker down, a new topic).
    pub low: Option<i64>,
    pub high: Option<i64>,
}

/// Topic metadata (partitions, leaders, replicas); `None` for topic lists every broker.
pub async fn describe(
    brokers: String,
    topic: String,
    timeout: Duration,
) -> Result<(Vec<i32>, Vec<PartitionInfo>), OpError> {
    // fetch_metadata blocks: run it off the worker thread.
    tokio::task::spawn_blocking(move || {
        let admin = admin(&brokers).map_err(|e| OpError::new(ErrorKind::Client, e))?;
        let md = admin
            .inner()
            .fetch_metadata(Some(&topic), timeout)
            .map_err(|e| op_error(&e, &format!("describe {topic} on {brokers}")))?;
        let brokers: Vec<i32> = md.brokers().iter().map(|b| b.id()).collect();
        let mut parts = Vec::new();
        for t in md.topics() {
            if let Some(code) = t.error() {
                let e = KafkaError::MetadataFetch(code.into());
                return Err(op_error(&e, &format!("describe {topic}")));
            }
            for p in t.partitions() {
                let (low, high) = match admin.inner().fetch_watermarks(&topic, p.id(), timeout) {
                    Ok((l, h)) => (Some(l), Some(h)),
                    Err(_) => (None, None),
                };
                parts.push(PartitionInfo {
                    id: p.id(),
                    leader: p.leader(),
                    replicas: p.replicas().to_vec(),
                    isr: p.isr().to_vec(),
                    low,
                    high,
                });
            }
        }
        Ok((brokers, parts))
    })
    .await
    .map_err(|e| OpError::new(ErrorKind::Protocol, format!("describe: {e}")))?
}

/// Reaches the brokers within `timeout`, or says which could not be reached.
pub fn healthcheck(brokers: &str, timeout: Duration) -> Result<usize, String> {
    let admin = admin(brokers)?;
    let md = admin
        .inner()
        .fetch_metadata(None, timeout)
        .map_err(|e| format!("kafka: cannot reach brokers {brokers} within {timeout:?}: {e}"))?;
    Ok(md.brokers().len())
}
