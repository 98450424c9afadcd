//! Tests against a scripted HTTP/1.1 server on 127.0.0.1 that records every request.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;

const KEY: &str = "sk-test-SECRET-0123456789";

#[derive(Debug, Clone)]
struct Seen {
    head: String,
    body: Vec<u8>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }

    fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// (status, extra headers, body) for the n-th request (0-based).
type Script = dyn Fn(usize) -> (u16, Vec<(&'static str, String)>, String) + Send + Sync;

/// Serve `script` until the test ends; returns the base URL and the recorded requests.
async fn server(script: Arc<Script>) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let seen = seen2.clone();
            let script = script.clone();
            tokio::spawn(async move {
                let Some(req) = read_request(&mut sock).await else {
                    return;
                };
                let n = {
                    let mut s = seen.lock().unwrap();
                    s.push(req);
                    s.len() - 1
                };
                let (status, headers, body) = script(n);
                let mut resp = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n",
                    body.len()
                );
                for (k, v) in headers {
                    resp.push_str(&format!("{k}: {v}\r\n"));
                }
                resp.push_str("\r\n");
                resp.push_str(&body);
                let _ = sock.write_all(resp.as_bytes()).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    (format!("http://{addr}"), seen)
}

async fn read_request(sock: &mut tokio::net::TcpStream) -> Option<Seen> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut seen = Seen {
        head,
        body: Vec::new(),
    };
    let mut rest = buf[head_end..].to_vec();
    if let Some(len) = seen.header("content-length") {
        let len: usize = len.parse().ok()?;
        while rest.len() < len {
            let n = sock.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            rest.extend_from_slice(&chunk[..n]);
        }
        seen.body = rest[..len].to_vec();
    } else {
        // Chunked: read to the terminating zero-length chunk, then de-chunk.
        while !rest.ends_with(b"0\r\n\r\n") {
            let n = sock.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            rest.extend_from_slice(&chunk[..n]);
        }
        let mut body = Vec::new();
        let mut i = 0;
        loop {
            let line_end = i + rest[i..].windows(2).position(|w| w == b"\r\n")?;
            let size =
                usize::from_str_radix(std::str::from_utf8(&rest[i..line_end]).ok()?.trim(), 16)
                    .ok()?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&rest[line_end + 2..line_end + 2 + size]);
            i = line_end + 2 + size + 2;
        }
        seen.body = body;
    }
    Some(seen)
}

fn tiny_retry() -> RetryPolicy {
    RetryPolicy {
        retries: 4,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(20),
    }
}

fn fake_wav() -> Vec<u8> {
    let mut v = super::super::wav::header(16_000, 1, 1600).to_vec();
    v.extend(std::iter::repeat_n(0u8, 3200));
    v
}

fn ok_verbose(_: usize) -> (u16, Vec<(&'static str, String)>, String) {
    (
        200,
        vec![("content-type", "application/json".into())],
        r#"{"task":"transcribe","language":"english","duration":1.0,"text":" hello world ",
            "segments":[{"id":0,"start":0.0,"end":1.0,"text":"hello world","avg_logprob":-0.1}]}"#
            .into(),
    )
}

#[tokio::test]
async fn sends_multipart_and_parses_verbose_json() {
    let (url, seen) = server(Arc::new(ok_verbose)).await;
    let backend =
        TranscriptionBackend::new(&format!("{url}/v1/"), Some(KEY.into()), "whisper-test");
    let t = backend.transcribe(fake_wav(), "chunk-3.wav").await.unwrap();
    assert_eq!(t.text, "hello world");
    let c = t.confidence.unwrap();
    assert!((c - (-0.1f64).exp()).abs() < 1e-9, "{c}");

    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    let req = &seen[0];
    assert!(
        req.head
            .starts_with("POST /v1/audio/transcriptions HTTP/1.1"),
        "{}",
        req.head
    );
    assert_eq!(
        req.header("authorization").as_deref(),
        Some(format!("Bearer {KEY}").as_str())
    );
    let ct = req.header("content-type").unwrap();
    assert!(ct.starts_with("multipart/form-data; boundary="), "{ct}");
    let body = req.body_text();
    assert!(
        body.contains(r#"Content-Disposition: form-data; name="file"; filename="chunk-3.wav""#),
        "{body}"
    );
    assert!(
        body.contains("Content-Type: audio/wav\r\n\r\nRIFF"),
        "file part carries the WAV bytes"
    );
    assert!(body.contains("name=\"model\"\r\n\r\nwhisper-test\r\n"));
    assert!(body.contains("name=\"response_format\"\r\n\r\nverbose_json\r\n"));
    let wav = fake_wav();
    assert!(
        req.body.windows(wav.len()).any(|w| w == wav.as_slice()),
        "WAV bytes intact"
    );
}

#[tokio::test]
async fn plain_json_and_no_key() {
    let (url, seen) = server(Arc::new(|_| {
        (200, vec![], r#"{"text":"just text"}"#.into())
    }))
    .await;
    let backend = TranscriptionBackend::new(&url, None, "m");
    let t = backend.transcribe(fake_wav(), "chunk-0.wav").await.unwrap();
    assert_eq!(
        t,
        Transcript {
            text: "just text".into(),
            confidence: None
        }
    );
    assert!(seen.lock().unwrap()[0].header("authorization").is_none());
}

#[tokio::test]
async fn falls_back_when_verbose_json_is_refused() {
    let (url, seen) = server(Arc::new(|n| {
        if n == 0 {
            (400, vec![], r#"{"error":{"message":"response_format 'verbose_json' is not compatible with this model","type":"invalid_request_error"}}"#.into())
        } else {
            (200, vec![], r#"{"text":"fallback"}"#.into())
        }
    }))
    .await;
    let backend =
        TranscriptionBackend::new(&url, None, "gpt-4o-transcribe").with_retry(tiny_retry());
    assert_eq!(
        backend
            .transcribe(fake_wav(), "chunk-0.wav")
            .await
            .unwrap()
            .text,
        "fallback"
    );
    assert_eq!(
        backend
            .transcribe(fake_wav(), "chunk-1.wav")
            .await
            .unwrap()
            .text,
        "fallback"
    );
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 3, "one refused probe, then json only");
    assert!(
        seen[1]
            .body_text()
            .contains("name=\"response_format\"\r\n\r\njson\r\n")
    );
    assert!(
        seen[2]
            .body_text()
            .contains("name=\"response_format\"\r\n\r\njson\r\n")
    );
}

#[tokio::test]
async fn retries_429_honouring_retry_after() {
    let (url, seen) = server(Arc::new(|n| {
        if n < 2 {
            (
                429,
                vec![("retry-after", "0".into())],
                r#"{"error":{"message":"slow down"}}"#.into(),
            )
        } else {
            ok_verbose(n)
        }
    }))
    .await;
    // A long base delay proves Retry-After: 0 is what set the wait.
    let retry = RetryPolicy {
        retries: 4,
        base_delay: Duration::from_secs(20),
        max_delay: Duration::from_secs(30),
    };
    let backend = TranscriptionBackend::new(&url, Some(KEY.into()), "m").with_retry(retry);
    let started = std::time::Instant::now();
    let t = backend.transcribe(fake_wav(), "chunk-0.wav").await.unwrap();
    assert_eq!(t.text, "hello world");
    assert_eq!(seen.lock().unwrap().len(), 3);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn server_error_forever_gives_up() {
    let (url, seen) = server(Arc::new(|_| {
        (500, vec![], format!("internal failure near {KEY}"))
    }))
    .await;
    let backend = TranscriptionBackend::new(&url, Some(KEY.into()), "m").with_retry(tiny_retry());
    let err = backend
        .transcribe(fake_wav(), "chunk-0.wav")
        .await
        .unwrap_err();
    assert_eq!(seen.lock().unwrap().len(), 5, "first attempt + 4 retries");
    assert!(err.is_retryable());
    assert!(
        matches!(
            err,
            TranscribeError::Transient {
                attempts: 5,
                status: Some(500),
                ..
            }
        ),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains("500"), "{msg}");
    assert!(
        !msg.contains(KEY) && !format!("{err:?}").contains(KEY),
        "{msg}"
    );
}

#[tokio::test]
async fn bad_request_is_rejected_without_retry() {
    let (url, seen) = server(Arc::new(|_| {
        (400, vec![], r#"{"error":{"message":"Invalid file format. Supported formats: ['wav']","type":"invalid_request_error"}}"#.into())
    }))
    .await;
    let backend = TranscriptionBackend::new(&url, Some(KEY.into()), "m").with_retry(tiny_retry());
    let err = backend
        .transcribe(fake_wav(), "chunk-0.wav")
        .await
        .unwrap_err();
    assert_eq!(seen.lock().unwrap().len(), 1);
    match &err {
        TranscribeError::Rejected { status, message } => {
            assert_eq!(*status, 400);
            assert_eq!(message, "Invalid file format. Supported formats: ['wav']");
        }
        other => panic!("{other:?}"),
    }
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn key_echoed_by_server_is_scrubbed() {
    let (url, _) = server(Arc::new(|_| {
        (
            401,
            vec![],
            format!(r#"{{"error":{{"message":"Incorrect API key provided: {KEY}"}}}}"#),
        )
    }))
    .await;
    let backend = TranscriptionBackend::new(&url, Some(KEY.into()), "m").with_retry(tiny_retry());
    let err = backend
        .transcribe(fake_wav(), "chunk-0.wav")
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("Incorrect API key provided: [redacted]"),
        "{msg}"
    );
    assert!(!msg.contains(KEY));
}

#[tokio::test]
async fn connection_refused_is_transient() {
    // Bind then drop, so the port is (almost certainly) closed.
    let addr = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let retry = RetryPolicy {
        retries: 1,
        ..tiny_retry()
    };
    let backend = TranscriptionBackend::new(&format!("http://{addr}"), Some(KEY.into()), "m")
        .with_retry(retry);
    let err = backend
        .transcribe(fake_wav(), "chunk-0.wav")
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            TranscribeError::Transient {
                attempts: 2,
                status: None,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!err.to_string().contains(KEY));
}

#[test]
fn debug_redacts_key() {
    let backend = TranscriptionBackend::new("http://localhost:8000", Some(KEY.into()), "m");
    let dbg = format!("{backend:?}");
    assert!(!dbg.contains(KEY) && dbg.contains("[redacted]"), "{dbg}");
    assert!(
        dbg.contains("http://localhost:8000/v1/audio/transcriptions"),
        "{dbg}"
    );
}

#[test]
fn config_from_environment() {
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    };
    assert!(TranscriptionBackend::from_vars(env(&[])).is_none());
    assert!(TranscriptionBackend::from_vars(env(&[("P8_TRANSCRIPTION_URL", " ")])).is_none());

    let b = TranscriptionBackend::from_vars(env(&[("OPENAI_API_KEY", "k1")])).unwrap();
    assert_eq!(b.endpoint, "https://api.openai.com/v1/audio/transcriptions");
    assert_eq!(b.api_key.as_deref(), Some("k1"));
    assert_eq!(b.model, "whisper-1");

    let b = TranscriptionBackend::from_vars(env(&[
        ("P8_TRANSCRIPTION_URL", "http://localhost:8000/v1"),
        ("P8_TRANSCRIPTION_API_KEY", "k2"),
        ("OPENAI_API_KEY", "k1"),
        ("P8_TRANSCRIPTION_MODEL", "Systran/faster-whisper-small"),
    ]))
    .unwrap();
    assert_eq!(b.endpoint, "http://localhost:8000/v1/audio/transcriptions");
    assert_eq!(b.api_key.as_deref(), Some("k2"));
    assert_eq!(b.model, "Systran/faster-whisper-small");

    let b =
        TranscriptionBackend::from_vars(env(&[("P8_TRANSCRIPTION_URL", "http://whisper:9000")]))
            .unwrap();
    assert_eq!(b.endpoint, "http://whisper:9000/v1/audio/transcriptions");
    assert!(b.api_key.is_none());
}

#[test]
fn backoff_is_bounded() {
    let b = TranscriptionBackend::new("http://x", None, "m");
    for attempt in 1..40 {
        let d = b.delay(attempt, None);
        assert!(d <= Duration::from_secs(30));
        assert!(d >= Duration::from_millis(250).min(Duration::from_secs(15)));
    }
    assert_eq!(
        b.delay(1, Some(Duration::from_secs(3))),
        Duration::from_secs(3)
    );
    assert_eq!(
        b.delay(1, Some(Duration::from_secs(3600))),
        Duration::from_secs(30)
    );
}

#[test]
fn confidence_is_weighted() {
    let segs = vec![
        ResponseSegment {
            start: Some(0.0),
            end: Some(3.0),
            avg_logprob: Some(0.0),
        },
        ResponseSegment {
            start: Some(3.0),
            end: Some(4.0),
            avg_logprob: Some(-f64::INFINITY),
        },
        ResponseSegment {
            start: Some(4.0),
            end: Some(5.0),
            avg_logprob: Some((0.5f64).ln()),
        },
    ];
    let c = confidence(&segs).unwrap();
    assert!((c - (3.0 + 0.5) / 4.0).abs() < 1e-9, "{c}");
    assert_eq!(confidence(&[]), None);
}

#[test]
fn error_bodies() {
    let s = StatusCode::BAD_GATEWAY;
    assert_eq!(error_message(br#"{"error":{"message":"m1"}}"#, s), "m1");
    assert_eq!(error_message(br#"{"error":"m2"}"#, s), "m2");
    assert_eq!(error_message(br#"{"detail":"m3"}"#, s), "m3");
    assert_eq!(error_message(b"<html>oops</html>", s), "<html>oops</html>");
    assert_eq!(error_message(b"", s), "Bad Gateway");
    assert!(error_message(&[b'x'; 5000], s).chars().count() <= MAX_MESSAGE_CHARS + 1);
}
