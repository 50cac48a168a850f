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
    /// `message.timeout.ms` as librdkafka has it ([`ProducerConfig::message_timeout_ms`]): no send
    /// waits longer for its delivery report. librdkafka looks for timed-out records once a second,
    /// so its own report comes up to a second after it. None: no limit.
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

/// librdkafka's names for a record's delivery timeout: `delivery.timeout.ms` is an alias of
/// `message.timeout.ms` (one setting).
const DELIVERY_TIMEOUT: [&str; 2] = ["message.timeout.ms", "delivery.timeout.ms"];

/// The largest `message.timeout.ms` librdkafka takes (its range is 0..=2147483647; 0 is no limit).
const DELIVERY_TIMEOUT_MAX: u64 = i32::MAX as u64;

impl ProducerConfig {
    /// `message.timeout.ms`, in milliseconds, as librdkafka is handed it: from `extra` under
    /// either of its names, else from `timeout`; None when neither is set (librdkafka's default,
    /// 300000, applies, with no bound of ours). `extra` wins over `timeout`, as it always did.
    ///
    /// With both names in `extra`, which one librdkafka keeps would be the last it is handed, and
    /// rdkafka hands settings over in a hash map's order, which differs between runs: two different
    /// values are refused, and [`Self::client_config`] hands over one name only. A value that is
    /// not a whole number of milliseconds in librdkafka's range is refused too (librdkafka itself
    /// would read "10s" as 10 and "0x10" as 16). A `timeout` under a millisecond is 1 ms, not the
    /// 0 it would truncate to, which librdkafka reads as no limit.
    pub fn message_timeout_ms(&self) -> Result<Option<u64>, String> {
        let mut from_extra: Option<(&str, u64)> = None;
        for key in DELIVERY_TIMEOUT {
            let Some(v) = self.extra.get(key) else {
                continue;
            };
            // A whole number; a Lua number reaches `config` as text like "5000.0".
            let text = v.trim();
            let whole = text.strip_suffix(".0").unwrap_or(text);
            let ms = whole
                .parse::<u64>()
                .ok()
                .filter(|ms| *ms <= DELIVERY_TIMEOUT_MAX)
                .ok_or_else(|| {
                    format!(
                        "config.{key}: expected a whole number of milliseconds from 0 (no limit) \
                         to {DELIVERY_TIMEOUT_MAX}, got {v:?}"
                    )
                })?;
            match from_extra {
                Some((first, other)) if other != ms => {
                    return Err(format!(
                        "config.{first} ({other}) and config.{key} ({ms}) are one setting \
                         (librdkafka's alias) with two values: set one"
                    ))
                }
                _ => from_extra = Some((key, ms)),
            }
        }
        Ok(match from_extra {
            Some((_, ms)) => Some(ms),
            None => self.timeout.map(|t| match t.as_millis() {
                0 if !t.is_zero() => 1,
                ms => u64::try_from(ms).unwrap_or(u64::MAX),
            }),
        })
    }

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
        for (k, v) in &self.extra {
            if !DELIVERY_TIMEOUT.contains(&k.as_str()) {
                c.set(k, v);
            }
        }
        match self.message_timeout_ms() {
            Ok(Some(ms)) => {
                c.set(DELIVERY_TIMEOUT[0], ms.to_string());
            }
            Ok(None) => {}
            // refused by `create`; otherwise (the producer's identity, `loadgen check`) handed
            // over as written, for librdkafka to judge
            Err(_) => {
                for key in DELIVERY_TIMEOUT {
                    if let Some(v) = self.extra.get(key) {
                        c.set(key, v);
                    }
                }
            }
        }
        c
    }

    pub fn create(&self) -> Result<KafkaProducer, String> {
        let fail = |e: String| format!("kafka producer ({}): {e}", self.brokers);
        let timeout_ms = self.message_timeout_ms().map_err(fail)?;
        let health = Arc::new(Health::default());
        let inner = self
            .client_config()
            .create_with_context(Context(health.clone()))
            .map_err(|e| fail(super::shown(&e)))?;
        Ok(KafkaProducer {
            inner,
            health,
            sent_header: !self.no_sent_header,
            timeout: send_bound(timeout_ms),
        })
    }
}

/// How long a send waits for its delivery report, from the `message.timeout.ms` librdkafka has:
/// that long, or without a bound for 0 (librdkafka's "no limit") or no setting.
fn send_bound(message_timeout_ms: Option<u64>) -> Option<Duration> {
    message_timeout_ms
        .filter(|ms| *ms > 0)
        .map(Duration::from_millis)
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
            // (loads first: a store on every delivery would bounce the line between threads)
            for flag in [&producer.health.all_down, &producer.health.garbled] {
                if flag.load(Ordering::Relaxed) {
                    flag.store(false, Ordering::Relaxed);
                }
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn config(timeout: Option<Duration>, extra: &[(&str, &str)]) -> ProducerConfig {
        ProducerConfig {
            brokers: "127.0.0.1:1".into(),
            timeout,
            extra: extra
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn the_send_bound_is_the_message_timeout_librdkafka_is_handed() {
        let (s, ms) = (Duration::from_secs, Duration::from_millis);
        for (timeout, extra, handed, bound) in [
            (None, &[][..], None, None),
            (Some(s(20)), &[], Some(20_000), Some(s(20))),
            // under a millisecond: 1 ms, not 0 (librdkafka's "no limit")
            (Some(Duration::from_micros(500)), &[], Some(1), Some(ms(1))),
            (Some(Duration::from_micros(1500)), &[], Some(1), Some(ms(1))),
            (Some(Duration::ZERO), &[], Some(0), None),
            // `config` wins over `timeout`, under either name
            (
                Some(s(20)),
                &[("delivery.timeout.ms", "3000")],
                Some(3000),
                Some(s(3)),
            ),
            (
                Some(s(20)),
                &[("message.timeout.ms", " 2500 ")],
                Some(2500),
                Some(ms(2500)),
            ),
            (None, &[("message.timeout.ms", "0")], Some(0), None),
            (
                None,
                &[
                    ("message.timeout.ms", "4000"),
                    ("delivery.timeout.ms", "04000"),
                ],
                Some(4000),
                Some(s(4)),
            ),
        ] {
            let c = config(timeout, extra);
            let case = format!("{timeout:?} {extra:?}");
            assert_eq!(c.message_timeout_ms(), Ok(handed), "{case}");
            let cc = c.client_config();
            let handed_text = handed.map(|ms| ms.to_string());
            assert_eq!(
                cc.get("message.timeout.ms"),
                handed_text.as_deref(),
                "{case}"
            );
            assert_eq!(cc.get("delivery.timeout.ms"), None, "{case}");
            assert_eq!(send_bound(handed), bound, "{case}");
        }
    }

    #[test]
    fn a_delivery_timeout_not_in_milliseconds_or_set_twice_is_refused() {
        for (extra, says) in [
            (&[("message.timeout.ms", "10s")][..], "config.message.timeout.ms: expected"),
            (&[("delivery.timeout.ms", "abc")], "config.delivery.timeout.ms: expected"),
            (&[("message.timeout.ms", "0x10")], "got \"0x10\""),
            (&[("message.timeout.ms", "-1")], "got \"-1\""),
            (&[("message.timeout.ms", "")], "got \"\""),
            (&[("message.timeout.ms", "2147483648")], "to 2147483647"),
            (
                &[("message.timeout.ms", "1000"), ("delivery.timeout.ms", "2000")],
                "config.message.timeout.ms (1000) and config.delivery.timeout.ms (2000) are one setting",
            ),
        ] {
            let c = config(Some(Duration::from_secs(1)), extra);
            let e = c.message_timeout_ms().unwrap_err();
            assert!(e.contains(says), "{extra:?}: {e}");
            // refused before librdkafka is asked
            let e = c.create().err().expect("refused");
            assert!(
                e.starts_with("kafka producer (127.0.0.1:1): ") && e.contains(says),
                "{extra:?}: {e}"
            );
        }
    }

    /// A Lua number in `config` arrives as text like "5000.0": a whole number, taken.
    #[test]
    fn a_whole_number_written_as_a_float_is_taken() {
        let c = config(None, &[("message.timeout.ms", "5000.0")]);
        assert_eq!(c.message_timeout_ms(), Ok(Some(5000)));
        let c = config(None, &[("message.timeout.ms", "5000.5")]);
        assert!(c.message_timeout_ms().is_err());
    }
}
