//! Tests of the Elasticsearch client: error kinds by stage, URLs shown without credentials.

use super::*;
use std::io::{Read, Write};

/// The kind of a count against a server that takes one connection and does `then` with it.
fn kind_against(then: fn(&mut std::net::TcpStream)) -> (ErrorKind, String) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (mut c, _) = l.accept().unwrap();
        then(&mut c);
    });
    let s = Settings {
        urls: vec![format!("http://{addr}")],
        timeout: Duration::from_secs(5),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let e = rt
        .block_on(request_with(
            &build(&s).unwrap(),
            Method::Get,
            "/i/_count",
            None,
            false,
        ))
        .unwrap_err();
    server.join().unwrap();
    (e.kind, e.message)
}

/// Reads a request's head (a GET has no body).
fn read_head(c: &mut std::net::TcpStream) {
    let (mut req, mut b) = (Vec::new(), [0u8; 1]);
    while !req.ends_with(b"\r\n\r\n") && c.read(&mut b).unwrap_or(0) == 1 {
        req.push(b[0]);
    }
}

#[test]
fn a_server_gone_before_answering_is_connect_and_a_cut_off_answer_protocol() {
    for (how, then, kind) in [
        (
            "closed",
            read_head as fn(&mut std::net::TcpStream),
            ErrorKind::Connect,
        ),
        (
            "reset",
            |c| {
                let _ = c.read(&mut [0u8; 1]);
            },
            ErrorKind::Connect,
        ),
        (
            "a short body",
            |c| {
                read_head(c);
                c.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n{}")
                    .unwrap();
            },
            ErrorKind::Protocol,
        ),
        (
            "not HTTP",
            |c| {
                read_head(c);
                c.write_all(b"SSH-2.0-OpenSSH\r\n\r\n").unwrap();
            },
            ErrorKind::Protocol,
        ),
    ] {
        let (k, message) = kind_against(then);
        assert_eq!(k, kind, "{how}: {message}");
    }
}

#[test]
fn urls_with_credentials_are_shown_without_the_password() {
    let s = Settings {
        urls: vec!["http://user:pw-1@127.0.0.1:1".into()],
        timeout: Duration::from_millis(500),
    };
    let e = healthcheck(&s).unwrap_err();
    assert!(
        e.contains("http://user:<hidden ") && !e.contains("pw-1"),
        "{e}"
    );
    let bad = Settings {
        urls: vec!["http://user:pw-2@127.0.0.1:99999".into()],
        ..s
    };
    let e = bad.validate().unwrap_err();
    assert!(
        e.contains("bad url 'http://user:<hidden ") && !e.contains("pw-2"),
        "{e}"
    );
}

#[test]
fn a_bulk_answer_is_counted_and_only_failures_are_kept() {
    // The shape Elasticsearch 8.19 answers (fields it adds are skipped), with every action kind,
    // a mapping conflict and a reason with escapes.
    let raw = br#"{"errors":true,"took":31,"items":[
      {"index":{"_index":"i","_id":"1","_version":1,"result":"created","_shards":{"total":1,"successful":1,"failed":0},"_seq_no":0,"_primary_term":1,"status":201}},
      {"create":{"_index":"i","_id":"2","status":400,"error":{"type":"document_parsing_exception","reason":"[1:9] failed to parse field [n] of type [long]: \"x\\y\" \u00e9"}}},
      {"update":{"_index":"i","_id":"3","status":200,"result":"noop"}},
      {"delete":{"_index":"i","_id":"4","status":404,"result":"not_found"}},
      {"index":{"_index":"i","_id":"5","status":429,"error":{"type":"es_rejected_execution_exception","reason":"rejected"}}}
    ]}"#;
    let (out, kind) = summarize_bulk(raw).unwrap();
    assert_eq!((out.items, out.failed, out.took_ms), (5, 3, 31));
    assert_eq!(out.failures.len(), 3);
    assert_eq!(out.failures[0].0, 400);
    assert_eq!(
        out.failures[0].1,
        "[1:9] failed to parse field [n] of type [long]: \"x\\y\" é"
    );
    assert_eq!(out.failures[2], (429, "rejected".to_string()));
    assert_eq!(kind, status_kind(400));
}

#[test]
fn a_clean_bulk_answer_has_no_failures_and_bad_answers_are_errors() {
    let (out, kind) =
        summarize_bulk(br#"{"took":2,"errors":false,"items":[{"index":{"status":201}}]}"#).unwrap();
    assert_eq!((out.items, out.failed), (1, 0));
    assert!(kind.is_none());
    assert!(summarize_bulk(b"<html>").is_err());
    assert!(summarize_bulk(br#"{"items":[{"index":{"status":"x"}}]}"#).is_err());
}
