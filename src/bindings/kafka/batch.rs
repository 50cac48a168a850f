//! Reading a consumer's records in batches. rdkafka's consumer hands out one record per call, each
//! through librdkafka's event API (a queue lock, two clock reads and an event per record); that was
//! most of a consumer's CPU (docs/benchmarks.md, Kafka consume). librdkafka's batch read,
//! `rd_kafka_consume_batch_queue`, takes many records per lock, but served on the consumer's own
//! queue it would also serve a rebalance without our context (it answers one with an empty
//! assignment). So the assigned partitions' fetch queues are forwarded to a queue of our own, which
//! carries records only, and read in batches; the consumer's queue still carries rebalances, errors
//! and any record fetched before its partition was forwarded, and is served first (per-partition
//! order holds: a partition's earlier records can only be there).
//!
//! librdkafka keeps an application's forwarding across a revoke but does not restore it when the
//! partition comes back (`RD_KAFKA_Q_F_FWD_APP`), so each assignment forwards its partitions again.

use rdkafka::bindings as rd;
use std::ffi::{c_void, CStr, CString};
use std::sync::Arc;
use tokio::sync::Notify;

/// Our queue, and the wake-up librdkafka gives when it goes from empty to not empty.
pub struct BatchQueue {
    q: *mut rd::rd_kafka_queue_t,
    pub notify: Arc<Notify>,
}

// librdkafka's queues are locked internally; the handle is used from the VU's thread and the
// rebalance callback (also run by the polling thread).
unsafe impl Send for BatchQueue {}
unsafe impl Sync for BatchQueue {}

impl std::fmt::Debug for BatchQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BatchQueue")
    }
}

unsafe extern "C" fn on_not_empty(_rk: *mut rd::rd_kafka_t, opaque: *mut c_void) {
    // Called under the queue's lock, from a librdkafka thread; the Notify outlives the callback
    // (it is switched off in drop before the Arc goes).
    let n = unsafe { &*(opaque as *const Notify) };
    n.notify_one();
}

impl BatchQueue {
    /// A new queue on the consumer `rk`.
    ///
    /// # Safety
    /// `rk` is a live consumer handle that outlives the queue.
    pub unsafe fn new(rk: *mut rd::rd_kafka_t) -> Option<BatchQueue> {
        let q = unsafe { rd::rd_kafka_queue_new(rk) };
        if q.is_null() {
            return None;
        }
        let notify = Arc::new(Notify::new());
        unsafe {
            rd::rd_kafka_queue_cb_event_enable(
                q,
                Some(on_not_empty),
                Arc::as_ptr(&notify) as *mut c_void,
            )
        };
        Some(BatchQueue { q, notify })
    }

    /// Forwards the fetch queues of these partitions of consumer `rk` to this queue.
    ///
    /// # Safety
    /// `rk` is the live consumer the queue was made on.
    pub unsafe fn forward(&self, rk: *mut rd::rd_kafka_t, partitions: &[(String, i32)]) {
        for (topic, partition) in partitions {
            let Ok(t) = CString::new(topic.as_str()) else {
                continue;
            };
            let pq = unsafe { rd::rd_kafka_queue_get_partition(rk, t.as_ptr(), *partition) };
            if !pq.is_null() {
                unsafe {
                    rd::rd_kafka_queue_forward(pq, self.q);
                    rd::rd_kafka_queue_destroy(pq);
                }
            }
        }
    }

    /// Takes up to `max` records already queued (never waits) and hands each to `f`, which must not
    /// keep the pointer: the record is destroyed after `f` returns.
    pub fn drain(&self, max: usize, mut f: impl FnMut(*const rd::rd_kafka_message_t)) -> usize {
        if max == 0 {
            return 0;
        }
        let mut buf: Vec<*mut rd::rd_kafka_message_t> = Vec::with_capacity(max);
        // SAFETY: buf has room for max pointers; librdkafka fills the first n.
        let n = unsafe { rd::rd_kafka_consume_batch_queue(self.q, 0, buf.as_mut_ptr(), max) };
        if n <= 0 {
            return 0;
        }
        unsafe { buf.set_len(n as usize) };
        for m in buf {
            f(m);
            unsafe { rd::rd_kafka_message_destroy(m) };
        }
        n as usize
    }
}

impl Drop for BatchQueue {
    fn drop(&mut self) {
        unsafe {
            rd::rd_kafka_queue_cb_event_enable(self.q, None, std::ptr::null_mut());
            rd::rd_kafka_queue_destroy(self.q);
        }
    }
}

/// A record as librdkafka hands it out, read without copying.
pub struct RawRecord<'a> {
    /// The topic handle (the same pointer for every record of a topic).
    pub topic_handle: *const c_void,
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
    /// librdkafka's error for this "record" (an error event rather than a record), 0 if none.
    pub err: rd::rd_kafka_resp_err_t,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    /// Epoch ms, None when the record has none.
    pub timestamp_ms: Option<i64>,
    pub headers: *mut rd::rd_kafka_headers_t,
}

fn slice<'a>(p: *const c_void, len: usize) -> Option<&'a [u8]> {
    if p.is_null() {
        None
    } else {
        Some(unsafe { std::slice::from_raw_parts(p as *const u8, len) })
    }
}

/// Reads a record's fields.
///
/// # Safety
/// `m` is a live record; the result borrows from it and must not outlive it.
pub unsafe fn read<'a>(m: *const rd::rd_kafka_message_t) -> RawRecord<'a> {
    let r = unsafe { &*m };
    let topic = if r.rkt.is_null() {
        ""
    } else {
        unsafe { CStr::from_ptr(rd::rd_kafka_topic_name(r.rkt)) }
            .to_str()
            .unwrap_or("")
    };
    let mut ts_type = rd::rd_kafka_timestamp_type_t::RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
    let ts = unsafe { rd::rd_kafka_message_timestamp(m, &mut ts_type) };
    let mut headers: *mut rd::rd_kafka_headers_t = std::ptr::null_mut();
    let herr = unsafe { rd::rd_kafka_message_headers(m, &mut headers) };
    if herr != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
        headers = std::ptr::null_mut();
    }
    RawRecord {
        topic_handle: r.rkt as *const c_void,
        topic,
        partition: r.partition,
        offset: r.offset,
        err: r.err,
        key: slice(r.key, r.key_len),
        value: slice(r.payload, r.len),
        timestamp_ms: (ts >= 0).then_some(ts),
        headers,
    }
}

/// Calls `f` with each header's name and value (None: a null value).
///
/// # Safety
/// `h` is null or the headers of a live record.
pub unsafe fn each_header(h: *mut rd::rd_kafka_headers_t, mut f: impl FnMut(&str, Option<&[u8]>)) {
    if h.is_null() {
        return;
    }
    let mut i = 0;
    loop {
        let mut name: *const std::ffi::c_char = std::ptr::null();
        let mut value: *const c_void = std::ptr::null();
        let mut size = 0usize;
        let e = unsafe { rd::rd_kafka_header_get_all(h, i, &mut name, &mut value, &mut size) };
        if e != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR || name.is_null() {
            return;
        }
        if let Ok(n) = unsafe { CStr::from_ptr(name) }.to_str() {
            f(n, slice(value, size));
        }
        i += 1;
    }
}
