//! The producer: its settings, sending a record and waiting for its delivery report, flushing.

use super::op_error;
use crate::metrics::recorder::Units;
use crate::metrics::{ErrorKind, OpError};
use rdkafka::client::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What librdkafka told us about the brokers: a record that times out while every broker is down
/// failed to connect, not to be answered in time; and if the brokers' connections last went down
/// because what they answered was not Kafka's protocol, it is a protocol error.
#[derive(Debug, Default)]
pub struct Health {
    all_down: AtomicBool,
    garbled: AtomicBool,
}

/// Our librdkafka context: quiet logging, and broker health for error classification.
pub struct Context(Arc<Health>);

impl ClientContext for Context {
    fn error(&self, error: KafkaError, _reason: &str) {
        match error.rdkafka_error_code() {
            Some(RDKafkaErrorCode::AllBrokersDown) => {
                self.0.all_down.store(true, Ordering::Relaxed)
            }
            Some(RDKafkaErrorCode::BrokerTransportFailure) => {
                self.0.all_down.store(true, Ordering::Relaxed);
                self.0.garbled.store(false, Ordering::Relaxed);
            }
            // librdkafka's "Receive failed: Invalid response size ..." and parse failures: the
            // connection is dropped (AllBrokersDown follows) and tried again.
            Some(RDKafkaErrorCode::BadMessage) => self.0.garbled.store(true, Ordering::Relaxed),
            _ => {}
        }
    }
}

/// A producer and what is known of its brokers' health.
pub struct KafkaProducer {
    pub inner: FutureProducer<Context>,
    pub health: Arc<Health>,
    /// Whether each record carries [`SENT_HEADER`].
    pub sent_header: bool,
    /// `message.timeout.ms`: no send waits longer for its delivery report. librdkafka looks for
    /// timed-out records once a second, so its own report comes up to a second after it.
    pub timeout: Option<Duration>,
}

/// Header the producer writes: the send time in epoch microseconds, read back for `kafka.e2e`.
pub const SENT_HEADER: &str = "loadgen-sent-us";

#[derive(Debug, Clone, Default)]
pub struct ProducerConfig {
    pub brokers: String,
    pub acks: Option<String>,
    pub compression: Option<String>,
    pub linger_ms: Option<u64>,
    pub batch_size: Option<u64>,
    pub idempotence: Option<bool>,
    /// How long a record may wait for delivery (message.timeout.ms).
    pub timeout: Option<Duration>,
    /// Leave out the [`SENT_HEADER`] header (on by default; without it `kafka.e2e` falls back to
    /// the record timestamp).
    pub no_sent_header: bool,
    /// Any other librdkafka setting.
    pub extra: BTreeMap<String, String>,
}

impl ProducerConfig {
    pub fn client_config(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.brokers);
        if let Some(v) = &self.acks {
            c.set("acks", v);
        }
        if let Some(v) = &self.compression {
            c.set("compression.type", v);
        }
        if let Some(v) = self.linger_ms {
            c.set("linger.ms", v.to_string());
        }
        if let Some(v) = self.batch_size {
            c.set("batch.size", v.to_string());
        }
        if let Some(v) = self.idempotence {
            c.set("enable.idempotence", v.to_string());
        }
        if let Some(t) = self.timeout {
            c.set("message.timeout.ms", t.as_millis().to_string());
        }
        for (k, v) in &self.extra {
            c.set(k, v);
        }
        c
    }

    pub fn create(&self) -> Result<KafkaProducer, String> {
        let health = Arc::new(Health::default());
        let inner = self
            .client_config()
            .create_with_context(Context(health.clone()))
            .map_err(|e| format!("kafka producer ({}): {}", self.brokers, super::shown(&e)))?;
        let timeout = match self.extra.get("message.timeout.ms") {
            Some(ms) => ms.trim().parse().ok().map(Duration::from_millis),
            None => self.timeout,
        };
        Ok(KafkaProducer {
            inner,
            health,
            sent_header: !self.no_sent_header,
            // 0 is librdkafka's "no limit"
            timeout: timeout.filter(|t| !t.is_zero()),
        })
    }
}

/// One record to produce.
#[derive(Debug, Clone, Default)]
pub struct Record {
    pub topic: String,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Vec<u8>)>,
    pub partition: Option<i32>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Delivery {
    pub partition: i32,
    pub offset: i64,
}

/// Sends a record and waits for its delivery report. The send time goes into a header (unless the
/// producer was made without it); a record with no header at all is sent without a header block.
pub async fn send(producer: &KafkaProducer, rec: Record) -> (Result<Delivery, OpError>, Units) {
    let bytes = rec.key.as_ref().map_or(0, Vec::len) + rec.value.as_ref().map_or(0, Vec::len);
    let units = Units::none().with("records", 1).with("bytes", bytes as u64);
    let sent = producer
        .sent_header
        .then(|| crate::util::epoch_micros().to_string());
    let mut fr: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(&rec.topic);
    if producer.sent_header || !rec.headers.is_empty() {
        let mut headers =
            OwnedHeaders::new_with_capacity(rec.headers.len() + usize::from(producer.sent_header));
        if let Some(sent) = &sent {
            headers = headers.insert(Header {
                key: SENT_HEADER,
                value: Some(sent.as_bytes()),
            });
        }
        for (k, v) in &rec.headers {
            headers = headers.insert(Header {
                key: k.as_str(),
                value: Some(v.as_slice()),
            });
        }
        fr = fr.headers(headers);
    }
    if let Some(k) = &rec.key {
        fr = fr.key(k.as_slice());
    }
    if let Some(v) = &rec.value {
        fr = fr.payload(v.as_slice());
    }
    if let Some(p) = rec.partition {
        fr = fr.partition(p);
    }
    // Enqueue without waiting on a full queue: a full queue is the generator outrunning the
    // client, reported as a client error rather than hidden in the latency.
    let delivery = producer.inner.send(fr, Duration::ZERO);
    let delivered = match producer.timeout {
        // Past the timeout librdkafka fails the record at its next look, within a second: the
        // send fails now, as it would then.
        Some(t) => tokio::time::timeout(t, delivery)
            .await
            .map_err(|_| KafkaError::MessageProduction(RDKafkaErrorCode::MessageTimedOut)),
        None => Ok(delivery.await),
    };
    match delivered {
        Ok(Ok(d)) => {
            producer.health.all_down.store(false, Ordering::Relaxed);
            producer.health.garbled.store(false, Ordering::Relaxed);
            (
                Ok(Delivery {
                    partition: d.partition,
                    offset: d.offset,
                }),
                units,
            )
        }
        Ok(Err((e, _))) | Err(e) => (Err(delivery_error(producer, &e, &rec.topic)), Units::none()),
    }
}

/// A failed delivery's error: a record that timed out while every broker was down failed to
/// connect, or, when the brokers answered garbage, failed on the protocol.
fn delivery_error(producer: &KafkaProducer, e: &KafkaError, topic: &str) -> OpError {
    let mut err = op_error(e, &format!("produce to {topic}"));
    let h = &producer.health;
    if err.kind == ErrorKind::Timeout && h.all_down.load(Ordering::Relaxed) {
        if h.garbled.load(Ordering::Relaxed) {
            err.kind = ErrorKind::Protocol;
            err.message
                .push_str(" (the brokers answered with bytes that are not Kafka's protocol)");
        } else {
            err.kind = ErrorKind::Connect;
            err.message.push_str(" (no broker reachable)");
        }
    }
    err
}

/// Waits until queued records are delivered.
pub fn flush(producer: &KafkaProducer, timeout: Duration) -> Result<(), OpError> {
    producer
        .inner
        .flush(timeout)
        .map_err(|e| op_error(&e, "flush"))
}
