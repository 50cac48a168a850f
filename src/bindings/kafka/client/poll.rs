//! Reading a group consumer's records: one `poll` takes a batch of them.

use super::consumer::GroupConsumer;
use super::op_error;
use super::producer::SENT_HEADER;
use crate::bindings::kafka::batch;
use crate::metrics::OpError;
use futures_util::FutureExt;
use rdkafka::consumer::Consumer;
use rdkafka::error::KafkaError;
use std::sync::Arc;
use std::time::Duration;

/// A consumed record.
#[derive(Debug, Clone)]
pub struct Consumed {
    /// Shared by the records of a poll that come from the same topic.
    pub topic: Arc<str>,
    pub partition: i32,
    pub offset: i64,
    /// Key and value, copied only when the records go to the script (`poll_batch`'s `copy`).
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Vec<u8>)>,
    /// Bytes of its key and value (what `bytes` counts when consuming), copied or not.
    pub bytes: usize,
    /// Record timestamp, epoch ms.
    pub timestamp_ms: Option<i64>,
    /// When the producer sent it (our header), epoch µs.
    pub sent_us: Option<i64>,
}

impl Consumed {
    /// Bytes of its key and value.
    pub fn size(&self) -> usize {
        self.bytes
    }
}

/// What one `poll` read: up to `max` records, and the error that ended it early.
#[derive(Debug, Default)]
pub struct Batch {
    pub records: Vec<Consumed>,
    pub error: Option<OpError>,
}

/// Turns librdkafka's records into `Consumed`, sharing a topic's name between its records.
struct Reader {
    copy: bool,
    topic: Option<(*const std::ffi::c_void, Arc<str>)>,
}

impl Reader {
    /// Adds the record `m` to `out`, or returns its error.
    ///
    /// # Safety
    /// `m` is a live record.
    unsafe fn take(
        &mut self,
        m: *const rdkafka::bindings::rd_kafka_message_t,
        out: &mut Vec<Consumed>,
    ) -> Result<(), OpError> {
        let r = unsafe { batch::read(m) };
        if r.err != rdkafka::bindings::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
            let e = KafkaError::MessageConsumption(r.err.into());
            return Err(op_error(&e, "consume"));
        }
        let mut headers = Vec::new();
        let mut sent_us = None;
        let copy = self.copy;
        unsafe {
            batch::each_header(r.headers, |name, value| {
                if name == SENT_HEADER {
                    sent_us = value
                        .and_then(|v| std::str::from_utf8(v).ok())
                        .and_then(|s| s.parse().ok());
                } else if copy {
                    headers.push((
                        name.to_string(),
                        value.map(<[u8]>::to_vec).unwrap_or_default(),
                    ));
                }
            })
        };
        let topic = match &self.topic {
            Some((h, t)) if *h == r.topic_handle => t.clone(),
            _ => {
                let t: Arc<str> = Arc::from(r.topic);
                self.topic = Some((r.topic_handle, t.clone()));
                t
            }
        };
        out.push(Consumed {
            topic,
            partition: r.partition,
            offset: r.offset,
            key: if copy {
                r.key.map(<[u8]>::to_vec)
            } else {
                None
            },
            value: if copy {
                r.value.map(<[u8]>::to_vec)
            } else {
                None
            },
            headers,
            bytes: r.key.map_or(0, <[u8]>::len) + r.value.map_or(0, <[u8]>::len),
            timestamp_ms: r.timestamp_ms,
            sent_us,
        });
        Ok(())
    }
}

/// Waits up to `timeout` for a first record, then takes whatever else is already queued, up to
/// `max` records. With `copy` false a record's key, value and other headers are not copied out of
/// librdkafka's buffer (a consumer that only counts records and bytes, as Kafka's
/// ConsumerPerformance does); the sent-time header and the timestamp are read either way.
///
/// The consumer's own queue is served first (rebalances, errors, and records fetched before their
/// partition was forwarded), then the batch queue (batch.rs); while both are empty, it waits for
/// either until the timeout.
pub async fn poll_batch(
    consumer: &GroupConsumer,
    timeout: Duration,
    max: usize,
    copy: bool,
) -> Batch {
    use futures_util::StreamExt;
    let mut out = Batch {
        records: Vec::with_capacity(max.min(1024)),
        error: None,
    };
    let queue = consumer.context().0.batch_queue();
    let mut reader = Reader { copy, topic: None };
    let mut stream = consumer.stream();
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        while out.records.len() < max && out.error.is_none() {
            match stream.next().now_or_never() {
                // SAFETY: m is alive for the call.
                Some(Some(Ok(m))) => {
                    if let Err(e) = unsafe { reader.take(m.ptr(), &mut out.records) } {
                        out.error = Some(e);
                    }
                }
                Some(Some(Err(e))) => out.error = Some(op_error(&e, "consume")),
                _ => break,
            }
        }
        if let Some(q) = &queue {
            let room = max - out.records.len();
            if out.error.is_none() && room > 0 {
                let mut first_error = None;
                q.drain(room, |m| {
                    // SAFETY: m is alive until drain's callback returns.
                    if let Err(e) = unsafe { reader.take(m, &mut out.records) } {
                        first_error.get_or_insert(e);
                    }
                });
                out.error = first_error;
            }
        }
        if !out.records.is_empty() || out.error.is_some() || timeout.is_zero() {
            return out;
        }
        let not_empty = async {
            match &queue {
                Some(q) => q.notify.notified().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            m = stream.next() => match m {
                // SAFETY: m is alive for the call.
                Some(Ok(m)) => {
                    if let Err(e) = unsafe { reader.take(m.ptr(), &mut out.records) } {
                        out.error = Some(e);
                    }
                }
                Some(Err(e)) => out.error = Some(op_error(&e, "consume")),
                None => return out,
            },
            _ = not_empty => {}
            _ = tokio::time::sleep_until(deadline) => return out,
        }
    }
}
