//! Ingestion end to end: a real folder synced by the `local` provider component, the ingestion
//! worker over both stores (SQLite and real Postgres) and a real object store (an S3 server, or
//! the local object folder), and a fake OpenAI-compatible transcription server that checks each
//! multipart upload it gets. The last tests run the `p8sync` binary as a user does.

use p8sync::blob::local::LocalBlobStore;
use p8sync::blob::s3::S3BlobStore;
use p8sync::blob::{BlobStore, ObjectKey};
use p8sync::extract::Extractors;
use p8sync::ingest::audio::{NO_BACKEND, RetryPolicy, TranscriptionBackend};
use p8sync::ingest::{
    Backoff, DOCUMENT_CATEGORY, DrainReport, IngestOptions, Ingestor, TRANSCRIPT_CATEGORY,
};
use p8sync::runtime::{Registry, Runtime};
use p8sync::store::ids::{ResourceId, UserId};
use p8sync::store::ingest::{
    AudioChunkRecord, AudioStatus, ChunkStatus, IngestStatus, JobStatus, QueueDepth, Resource,
};
use p8sync::store::{FileStatus, Store, SyncConfig, SyncFile};
use p8sync::sync::{SyncEngine, SyncOptions};
use p8sync_e2e::*;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

/// Speech in `voice-memo.wav` (the same as `host/tests/fixtures/audio/spoken.ogg`, see its
/// README), in seconds.
const SPEECH: [(f64, f64); 3] = [(0.5, 2.216), (5.716, 7.972), (11.972, 12.884)];
/// Its length: 107,889 samples at 8 kHz.
const MEMO_SECS: f64 = 13.486;
/// How far a chunk's edge may be from the speech edge it belongs to.
const EDGE_TOLERANCE: f64 = 0.3;

const API_KEY: &str = "sk-test-ingest-0123456789";
const MODEL: &str = "whisper-test";

fn text_fixture(name: &str) -> PathBuf {
    workspace().join("host/tests/fixtures/text").join(name)
}

fn voice_memo() -> PathBuf {
    workspace().join("samples/media/voice-memo.wav")
}

/// Copy `(fixture, name in the folder)` pairs into `root`.
fn copy_in(root: &Path, files: &[(PathBuf, &str)]) {
    for (from, to) in files {
        std::fs::copy(from, root.join(to))
            .unwrap_or_else(|e| panic!("copying {}: {e}", from.display()));
    }
}

struct Fixture {
    store: Arc<dyn Store>,
    blob: Arc<dyn BlobStore>,
    engine: SyncEngine,
    runtime: Runtime,
    scratch: PathBuf,
    _keep: Vec<Box<dyn std::any::Any + Send>>,
}

/// A store (SQLite or a fresh Postgres database), an object store (an S3 server when `s3`,
/// else a local folder) and a sync engine with the `local` provider.
async fn fixture(postgres: bool, s3: bool) -> Fixture {
    let (store, keep): (Arc<dyn Store>, Box<dyn std::any::Any + Send>) = if postgres {
        let (s, name) = postgres_store().await;
        (s, Box::new(name))
    } else {
        let (s, dir) = sqlite_store().await;
        (s, Box::new(dir))
    };
    let rt = Runtime::new(settings()).unwrap();
    let runtime = rt.clone();
    let registry = Registry::from_providers([load_local(&rt).await]);
    let objects = tempfile::tempdir().unwrap();
    let blob: Arc<dyn BlobStore> = if s3 {
        Arc::new(S3BlobStore::new(s3_settings().await).await)
    } else {
        Arc::new(LocalBlobStore::new(objects.path().join("objects")))
    };
    let engine = SyncEngine::new(
        store.clone(),
        blob.clone(),
        Arc::new(registry),
        SyncOptions::default(),
    );
    let scratch = objects.path().join("scratch");
    Fixture {
        store,
        blob,
        engine,
        runtime,
        scratch,
        _keep: vec![keep, Box::new(objects)],
    }
}

impl Fixture {
    /// An ingestor with `backend` (or none), whatever the environment says.
    fn ingestor(&self, backend: Option<TranscriptionBackend>) -> Ingestor {
        self.ingestor_with(backend, IngestOptions::default())
    }

    fn ingestor_with(
        &self,
        backend: Option<TranscriptionBackend>,
        options: IngestOptions,
    ) -> Ingestor {
        let options = IngestOptions {
            scratch_dir: Some(self.scratch.clone()),
            ..options
        };
        let extractors = Extractors::new(
            self.runtime.clone(),
            extractors_dir(),
            options.limits.clone(),
        );
        Ingestor::new(self.store.clone(), self.blob.clone(), options)
            .with_extractors(Arc::new(extractors))
            .with_transcriber(backend)
    }

    /// Sync `config`, checking that nothing failed.
    async fn sync(&self, config: &SyncConfig) {
        let r = self.engine.run(config).await.unwrap();
        assert!(r.success, "{r:?}");
    }

    async fn file(&self, config: &SyncConfig, remote_id: &str) -> SyncFile {
        self.store
            .files(config.id)
            .await
            .unwrap()
            .into_iter()
            .find(|f| f.remote_id == remote_id)
            .unwrap_or_else(|| panic!("no row for {remote_id}"))
    }

    async fn resources(&self, file: &SyncFile) -> Vec<Resource> {
        self.store.resources_for_file(file.id).await.unwrap()
    }

    async fn read(&self, uri: &str) -> Vec<u8> {
        let key = ObjectKey::from_uri(uri).unwrap_or_else(|| panic!("not an object URI: {uri}"));
        read_object(self.blob.as_ref(), &key).await
    }
}

fn user() -> UserId {
    "5c1b2f3e-0000-4000-8000-0000000000bb".parse().unwrap()
}

fn local_config(root: &Path) -> SyncConfig {
    let mut c = SyncConfig::new(user(), "local", "ingest-folder");
    c.provider_config = serde_json::json!({ "root": root.display().to_string() });
    c
}

/// A backend at the fake server that gives up on transient errors quickly.
fn backend(base: &str, retries: u32) -> TranscriptionBackend {
    TranscriptionBackend::new(&format!("{base}/v1"), Some(API_KEY.into()), MODEL).with_retry(
        RetryPolicy {
            retries,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
        },
    )
}

/// Whitespace runs as one space (PDF and DOCX extraction break lines where they like).
fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn depth(queued: i64, running: i64, done: i64, dead: i64) -> QueueDepth {
    QueueDepth {
        queued,
        running,
        done,
        dead,
    }
}

// ---------------------------------------------------------------------------------------------
// WAV bytes
// ---------------------------------------------------------------------------------------------

/// What a canonical PCM WAV header says.
#[derive(Debug, PartialEq)]
struct WavInfo {
    sample_rate: u32,
    channels: u16,
    bits: u16,
    /// Samples (frames) in the data chunk.
    frames: usize,
}

/// Read a WAV's header; `Err` says what is wrong with it.
fn wav_info(bytes: &[u8]) -> Result<WavInfo, String> {
    if bytes.len() < 44 {
        return Err(format!("{} bytes is too short for a WAV", bytes.len()));
    }
    if &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" || &bytes[12..16] != b"fmt " {
        return Err(format!(
            "not a RIFF/WAVE file: starts {:?}",
            String::from_utf8_lossy(&bytes[..16])
        ));
    }
    let u16_at = |at: usize| u16::from_le_bytes([bytes[at], bytes[at + 1]]);
    let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
    if u16_at(20) != 1 {
        return Err(format!("format {} is not PCM", u16_at(20)));
    }
    if &bytes[36..40] != b"data" {
        return Err("no data chunk right after fmt".into());
    }
    let channels = u16_at(22);
    let bits = u16_at(34);
    let data_len = u32_at(40) as usize;
    if data_len != bytes.len() - 44 {
        return Err(format!(
            "the data chunk says {data_len} bytes, the file has {}",
            bytes.len() - 44
        ));
    }
    let frame = usize::from(channels) * usize::from(bits / 8);
    Ok(WavInfo {
        sample_rate: u32_at(24),
        channels,
        bits,
        frames: data_len / frame.max(1),
    })
}

// ---------------------------------------------------------------------------------------------
// A fake OpenAI-compatible transcription server
// ---------------------------------------------------------------------------------------------

/// One request as the fake saw it, the multipart form taken apart.
#[derive(Debug, Clone, Default)]
struct Upload {
    method: String,
    path: String,
    authorization: Option<String>,
    /// The form's fields.
    parts: Vec<Part>,
    /// Why the body could not be read as multipart, if it could not.
    malformed: Option<String>,
}

impl Upload {
    fn part(&self, name: &str) -> Option<&Part> {
        self.parts.iter().find(|p| p.name == name)
    }

    fn text(&self, name: &str) -> Option<String> {
        self.part(name)
            .map(|p| String::from_utf8_lossy(&p.data).into_owned())
    }

    fn wav(&self) -> &[u8] {
        self.part("file").map(|p| p.data.as_slice()).unwrap_or(&[])
    }

    /// Everything an OpenAI-compatible client must send, checked.
    fn check(&self) {
        assert!(self.malformed.is_none(), "{:?}", self.malformed);
        assert_eq!(
            (self.method.as_str(), self.path.as_str()),
            ("POST", "/v1/audio/transcriptions")
        );
        assert_eq!(
            self.authorization.as_deref(),
            Some(format!("Bearer {API_KEY}").as_str())
        );
        let Part {
            file_name,
            content_type,
            data: wav,
            ..
        } = self.part("file").expect("a `file` part");
        let file_name = file_name.as_deref().expect("the file part has a file name");
        assert!(file_name.ends_with(".wav"), "{file_name}");
        assert_eq!(content_type.as_deref(), Some("audio/wav"));
        assert!(wav.starts_with(b"RIFF"), "the file part is not a WAV");
        let info = wav_info(wav).unwrap();
        assert_eq!(
            (info.sample_rate, info.channels, info.bits),
            (16_000, 1, 16),
            "{info:?}"
        );
        assert!(info.frames > 0);
        assert_eq!(self.text("model").as_deref(), Some(MODEL));
        let format = self
            .text("response_format")
            .expect("a response_format part");
        assert!(format == "verbose_json" || format == "json", "{format}");
    }
}

/// What the fake does with a request.
enum Answer {
    /// Reply with this status and JSON body.
    Reply(u16, String),
    /// Never reply (a stuck server).
    Hang,
}

/// The usual answer: which request this is and how many samples it carried, so a chunk's
/// transcription can be traced back to its own audio.
fn heard(n: usize, upload: &Upload) -> Answer {
    let frames = wav_info(upload.wav()).map(|i| i.frames).unwrap_or(0);
    Answer::Reply(200, heard_json(n, frames))
}

fn heard_text(n: usize, frames: usize) -> String {
    format!("chunk {n} heard {frames} samples")
}

fn heard_json(n: usize, frames: usize) -> String {
    serde_json::json!({ "text": format!("  {}\n", heard_text(n, frames)) }).to_string()
}

type Responder = dyn Fn(usize, &Upload) -> Answer + Send + Sync;

struct FakeWhisper {
    base: String,
    uploads: Arc<Mutex<Vec<Upload>>>,
    arrived: Arc<tokio::sync::Notify>,
}

impl FakeWhisper {
    /// Start the fake; `answer` gets the request's number (1 for the first) and the request.
    async fn start(answer: impl Fn(usize, &Upload) -> Answer + Send + Sync + 'static) -> Self {
        use axum::body::Body;
        use axum::extract::{Request, State};
        use axum::response::Response;

        #[derive(Clone)]
        struct Shared {
            uploads: Arc<Mutex<Vec<Upload>>>,
            arrived: Arc<tokio::sync::Notify>,
            count: Arc<AtomicUsize>,
            answer: Arc<Responder>,
        }

        async fn handle(State(s): State<Shared>, request: Request) -> Response {
            let (head, body) = request.into_parts();
            let header = |name: &str| {
                head.headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            };
            let body = axum::body::to_bytes(body, 64 << 20)
                .await
                .unwrap_or_default();
            let mut upload = Upload {
                method: head.method.to_string(),
                path: head.uri.path().to_string(),
                authorization: header("authorization"),
                ..Upload::default()
            };
            match parse_multipart(header("content-type").as_deref(), &body) {
                Ok(parts) => upload.parts = parts,
                Err(e) => upload.malformed = Some(e),
            }
            let n = s.count.fetch_add(1, Ordering::SeqCst) + 1;
            let answer = (s.answer)(n, &upload);
            s.uploads.lock().unwrap().push(upload);
            s.arrived.notify_waiters();
            let (status, body) = match answer {
                Answer::Reply(status, body) => (status, body),
                Answer::Hang => {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    (500, String::new())
                }
            };
            Response::builder()
                .status(status)
                .header("content-type", "application/json")
                .body(Body::from(body))
                .unwrap()
        }

        let shared = Shared {
            uploads: Arc::new(Mutex::new(Vec::new())),
            arrived: Arc::new(tokio::sync::Notify::new()),
            count: Arc::new(AtomicUsize::new(0)),
            answer: Arc::new(answer),
        };
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeWhisper {
            base: format!("http://127.0.0.1:{port}"),
            uploads: shared.uploads,
            arrived: shared.arrived,
        }
    }

    fn uploads(&self) -> Vec<Upload> {
        self.uploads.lock().unwrap().clone()
    }

    /// Wait until `n` requests have arrived.
    async fn wait_for(&self, n: usize, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let notified = self.arrived.notified();
            if self.uploads.lock().unwrap().len() >= n {
                return;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!(
                    "the fake transcription server got {} requests in {within:?}, expected {n}",
                    self.uploads.lock().unwrap().len()
                );
            }
        }
    }
}

/// One field of a multipart form.
#[derive(Debug, Clone)]
struct Part {
    name: String,
    file_name: Option<String>,
    content_type: Option<String>,
    data: Vec<u8>,
}

/// Take a `multipart/form-data` body apart.
fn parse_multipart(content_type: Option<&str>, body: &[u8]) -> Result<Vec<Part>, String> {
    let content_type = content_type.ok_or("no content-type")?;
    if !content_type.starts_with("multipart/form-data") {
        return Err(format!(
            "content-type {content_type} is not multipart/form-data"
        ));
    }
    let boundary = content_type
        .split(';')
        .filter_map(|p| p.trim().strip_prefix("boundary="))
        .next()
        .ok_or("no boundary")?
        .trim_matches('"');
    let delimiter = format!("--{boundary}").into_bytes();
    let find = |hay: &[u8], needle: &[u8], from: usize| {
        hay[from..]
            .windows(needle.len())
            .position(|w| w == needle)
            .map(|p| p + from)
    };
    let mut at = find(body, &delimiter, 0).ok_or("no first boundary")? + delimiter.len();
    let mut parts = Vec::new();
    loop {
        if body[at..].starts_with(b"--") {
            return Ok(parts);
        }
        let start = at + 2; // the CRLF after the boundary
        let header_end = find(body, b"\r\n\r\n", start).ok_or("a part without a blank line")?;
        let headers = String::from_utf8_lossy(&body[start..header_end]).into_owned();
        let next = find(body, &delimiter, header_end).ok_or("a part without an end")?;
        // The part's bytes end with the CRLF before the next boundary.
        let data = body[header_end + 4..next - 2].to_vec();
        let (mut name, mut file_name, mut part_type) = (None, None, None);
        for line in headers.split("\r\n") {
            let (key, value) = line.split_once(':').ok_or("a malformed part header")?;
            if key.eq_ignore_ascii_case("content-disposition") {
                for param in value.split(';').map(str::trim) {
                    if let Some(v) = param.strip_prefix("name=") {
                        name = Some(v.trim_matches('"').to_string());
                    } else if let Some(v) = param.strip_prefix("filename=") {
                        file_name = Some(v.trim_matches('"').to_string());
                    }
                }
            } else if key.eq_ignore_ascii_case("content-type") {
                part_type = Some(value.trim().to_string());
            }
        }
        parts.push(Part {
            name: name.ok_or("a part without a name")?,
            file_name,
            content_type: part_type,
            data,
        });
        at = next + delimiter.len();
    }
}

// ---------------------------------------------------------------------------------------------
// Checks on audio
// ---------------------------------------------------------------------------------------------

/// The memo's chunks: one per speech region, edges within the tolerance of the speech's, each
/// a 16 kHz mono WAV object as long as the chunk says. Returns each chunk's sample count.
async fn check_memo_chunks(f: &Fixture, chunks: &[AudioChunkRecord]) -> Vec<usize> {
    assert_eq!(
        chunks.len(),
        SPEECH.len(),
        "one chunk per phrase: {:?}",
        chunks
            .iter()
            .map(|c| (c.start_time, c.end_time))
            .collect::<Vec<_>>()
    );
    let mut frames = Vec::new();
    for (n, (chunk, &(start, end))) in chunks.iter().zip(&SPEECH).enumerate() {
        assert_eq!(chunk.ordinal, n as i32);
        assert!(
            (chunk.start_time - start).abs() <= EDGE_TOLERANCE
                && (chunk.end_time - end).abs() <= EDGE_TOLERANCE,
            "chunk {n} is {:.3}-{:.3}, its speech {start}-{end}",
            chunk.start_time,
            chunk.end_time
        );
        // Padded, not clipped: the whole phrase is in its chunk.
        assert!(
            chunk.start_time <= start && chunk.end_time >= end,
            "chunk {n} ({:.3}-{:.3}) cuts into its speech {start}-{end}",
            chunk.start_time,
            chunk.end_time
        );
        assert!((chunk.duration - (chunk.end_time - chunk.start_time)).abs() < 1e-6);
        let wav = f.read(&chunk.s3_uri).await;
        let info = wav_info(&wav).unwrap_or_else(|e| panic!("chunk {n}: {e}"));
        assert_eq!(
            (info.sample_rate, info.channels, info.bits),
            (16_000, 1, 16)
        );
        let expected = (chunk.end_time - chunk.start_time) * 16_000.0;
        assert!(
            (info.frames as f64 - expected).abs() <= 1.0,
            "chunk {n}: {} samples for {:.3} s",
            info.frames,
            chunk.end_time - chunk.start_time
        );
        frames.push(info.frames);
    }
    frames
}

// ---------------------------------------------------------------------------------------------
// 1. The main flow
// ---------------------------------------------------------------------------------------------

/// (name in the folder, fixture, format, phrases its resources must contain).
fn text_files() -> Vec<(&'static str, PathBuf, &'static str, Vec<&'static str>)> {
    vec![
        (
            "notes.txt",
            text_fixture("sample.txt"),
            "plain",
            vec![
                "The quick brown fox jumps over the lazy dog.",
                "Second paragraph: naïve café résumé — 東京 🚢.",
            ],
        ),
        (
            "tides.md",
            text_fixture("sample.md"),
            "markdown",
            vec!["Tide Tables", "arrives twice a month."],
        ),
        (
            "ports.csv",
            text_fixture("sample.csv"),
            "csv",
            vec!["\"Antwerp, Port of\",Belgium,99"],
        ),
        (
            "vessel.json",
            text_fixture("sample.json"),
            "json",
            vec!["Northern Star", "Captain Mira", "Refrigerated fruit"],
        ),
        (
            "keeper.html",
            text_fixture("sample.html"),
            "html",
            vec![
                "The keeper lit the lamp at dusk & trimmed the wick.",
                "No fog was reported.",
                "Lens: clean",
            ],
        ),
        (
            "report.pdf",
            text_fixture("sample.pdf"),
            "pdf",
            vec![
                "Quarterly report for the lighthouse keepers.",
                "Page two mentions the foghorn maintenance schedule.",
            ],
        ),
        (
            "manual.docx",
            text_fixture("sample.docx"),
            "docx",
            vec![
                "Harbour Operations Manual",
                "Pilots board at the outer buoy, weather permitting.",
                "Fish & chips are sold at the <east> gate.",
            ],
        ),
    ]
}

async fn main_flow(postgres: bool) {
    let f = fixture(postgres, true).await;
    let fake = FakeWhisper::start(heard).await;
    let folder = tempfile::tempdir().unwrap();
    let root = folder.path();
    let texts = text_files();
    for (name, from, _, _) in &texts {
        copy_in(root, &[(from.clone(), *name)]);
    }
    copy_in(
        root,
        &[
            (text_fixture("encrypted.pdf"), "locked.pdf"),
            (voice_memo(), "memo.wav"),
        ],
    );
    let png: Vec<u8> = (0..2048u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(root.join("photo.png"), &png).unwrap();
    let config = local_config(root);
    f.store.put_config(&config).await.unwrap();
    f.sync(&config).await;
    // Sync queued every file in the same transaction.
    assert_eq!(f.store.queue_depth().await.unwrap(), depth(10, 0, 0, 0));
    for file in f.store.files(config.id).await.unwrap() {
        assert_eq!(
            file.ingest_status,
            Some(IngestStatus::Queued),
            "{}",
            file.remote_id
        );
    }

    let report = f
        .ingestor(Some(backend(&fake.base, 0)))
        .drain()
        .await
        .unwrap();
    assert_eq!(
        report,
        DrainReport {
            ingested: 7,
            transcribed: 1,
            stored: 1,
            not_ingestible: 1,
            ..DrainReport::default()
        }
    );
    assert_eq!(f.store.queue_depth().await.unwrap(), depth(0, 0, 10, 0));
    let jobs = f.store.ingest_jobs(Some(config.id)).await.unwrap();
    assert_eq!(jobs.len(), 10);
    assert!(
        jobs.iter()
            .all(|j| j.status == JobStatus::Done && j.attempts == 1 && j.last_error.is_none()),
        "{jobs:?}"
    );

    // Text: resources with the document's phrases, ids derived as Percolate derives them.
    for (name, _, format, phrases) in &texts {
        let file = f.file(&config, name).await;
        let uri = file.s3_uri.clone().unwrap();
        let resources = f.resources(&file).await;
        assert!(!resources.is_empty(), "{name}: no resources");
        for (n, r) in resources.iter().enumerate() {
            assert_eq!(r.ordinal, n as i32, "{name}");
            assert_eq!(r.id, ResourceId::derive(&uri, n as i32), "{name}");
            assert_eq!(r.category, DOCUMENT_CATEGORY, "{name}");
            assert_eq!(r.uri, uri, "{name}");
            assert_eq!(r.name, *name);
            assert_eq!(r.sync_file_id, file.id);
            assert_eq!(r.userid, user());
            assert_eq!(r.metadata["format"], *format, "{name}");
            assert_eq!(r.metadata["sync_file_id"], file.id.to_string(), "{name}");
        }
        let all = squash(
            &resources
                .iter()
                .map(|r| r.content.as_str())
                .collect::<Vec<_>>()
                .join(" "),
        );
        for phrase in phrases {
            assert!(
                all.contains(&squash(phrase)),
                "{name}: {phrase:?} not in {all:?}"
            );
        }
        assert_eq!(file.ingest_status, Some(IngestStatus::Ingested), "{name}");
        assert!(file.ingested, "{name}");
        assert_eq!(file.resource_id, Some(resources[0].id.0), "{name}");
        let message = file.ingest_message.unwrap_or_default();
        assert!(
            message.contains(&format!("from {format} text")),
            "{name}: {message}"
        );
    }
    // What HTML extraction must leave out.
    let html = f.file(&config, "keeper.html").await;
    let html_text: String = f
        .resources(&html)
        .await
        .iter()
        .map(|r| r.content.clone())
        .collect();
    for hidden in [
        "secretScriptMarker",
        "secondScriptMarker",
        "hidden-style-marker",
    ] {
        assert!(!html_text.contains(hidden), "{hidden} in {html_text:?}");
    }

    // The encrypted PDF: not ingestible, and says why.
    let locked = f.file(&config, "locked.pdf").await;
    assert_eq!(locked.ingest_status, Some(IngestStatus::NotIngestible));
    let why = locked.ingest_message.clone().unwrap_or_default();
    assert!(why.contains("encrypted"), "{why}");
    assert!(!locked.ingested && locked.resource_id.is_none());
    assert!(f.resources(&locked).await.is_empty());

    // The picture: stored only, no error anywhere.
    let photo = f.file(&config, "photo.png").await;
    assert_eq!(photo.ingest_status, Some(IngestStatus::Stored));
    assert_eq!(photo.status, FileStatus::Synced);
    assert!(photo.error_message.is_none());
    assert!(!photo.ingested && photo.resource_id.is_none());
    assert!(f.resources(&photo).await.is_empty());
    assert!(f.store.audio_file_for(photo.id).await.unwrap().is_none());

    // The voice memo: decoded, cut at its pauses, each chunk transcribed.
    let memo = f.file(&config, "memo.wav").await;
    let audio = f
        .store
        .audio_file_for(memo.id)
        .await
        .unwrap()
        .expect("an AudioFile row");
    assert_eq!(audio.status, AudioStatus::Completed);
    assert_eq!(audio.sync_file_id, memo.id);
    assert_eq!(audio.filename, "memo.wav");
    assert_eq!(audio.s3_uri, memo.s3_uri.clone().unwrap());
    let duration = audio.duration.expect("a duration");
    assert!((duration - MEMO_SECS).abs() < 0.05, "{duration}");
    assert_eq!(audio.metadata["source_sample_rate"], 8000);
    assert_eq!(audio.metadata["source_channels"], 1);
    let chunks = f.store.audio_chunks(audio.id).await.unwrap();
    let frames = check_memo_chunks(&f, &chunks).await;
    assert_eq!(
        audio.chunks.as_array().map(Vec::len),
        Some(chunks.len()),
        "{}",
        audio.chunks
    );
    // The chunk objects sit next to the memo's object, in the S3 bucket.
    let memo_key = ObjectKey::from_uri(memo.s3_uri.as_deref().unwrap()).unwrap();
    for c in &chunks {
        assert_eq!(
            ObjectKey::from_uri(&c.s3_uri).unwrap(),
            memo_key.audio_chunk(c.ordinal)
        );
        assert!(c.s3_uri.starts_with("s3://"), "{}", c.s3_uri);
    }

    // Each chunk went to the server once, in order, as a proper OpenAI-style upload.
    let uploads = fake.uploads();
    assert_eq!(uploads.len(), chunks.len());
    for (n, upload) in uploads.iter().enumerate() {
        upload.check();
        assert_eq!(wav_info(upload.wav()).unwrap().frames, frames[n]);
        assert_eq!(upload.wav(), f.read(&chunks[n].s3_uri).await.as_slice());
    }
    for (n, c) in chunks.iter().enumerate() {
        assert_eq!(c.status, ChunkStatus::Transcribed, "chunk {n}");
        assert_eq!(c.error, None);
        assert_eq!(
            c.transcription.as_deref(),
            Some(heard_text(n + 1, frames[n]).as_str())
        );
    }

    // The transcript: `[start-end]: text` lines in time order.
    let transcript = f.resources(&memo).await;
    assert_eq!(transcript.len(), 1, "{transcript:?}");
    let t = &transcript[0];
    assert_eq!(t.category, TRANSCRIPT_CATEGORY);
    assert_eq!(t.id, ResourceId::derive(memo.s3_uri.as_deref().unwrap(), 0));
    let expected: Vec<String> = chunks
        .iter()
        .enumerate()
        .map(|(n, c)| {
            format!(
                "[{:.1}-{:.1}]: {}",
                c.start_time,
                c.end_time,
                heard_text(n + 1, frames[n])
            )
        })
        .collect();
    assert_eq!(t.content, expected.join("\n"));
    assert_eq!(t.metadata["audio_file_id"], audio.id.0.to_string());
    assert_eq!(memo.ingest_status, Some(IngestStatus::Transcribed));
    assert!(memo.ingested);
    assert_eq!(memo.resource_id, Some(t.id.0));
    let message = memo.ingest_message.clone().unwrap_or_default();
    assert!(message.contains("3 of 3 chunks transcribed"), "{message}");

    // A second drain finds nothing to do.
    let again = f
        .ingestor(Some(backend(&fake.base, 0)))
        .drain()
        .await
        .unwrap();
    assert_eq!(again, DrainReport::default());
    assert_eq!(fake.uploads().len(), chunks.len());
}

// ---------------------------------------------------------------------------------------------
// 2. A changed file's resources replace the old ones
// ---------------------------------------------------------------------------------------------

async fn changed_file_replaces(postgres: bool) {
    let f = fixture(postgres, false).await;
    let long: String = (1..=110)
        .map(|i| format!("Sentence number {i} of the long version. "))
        .collect();
    let tree = make_tree(&[("story.txt", long.as_str()), ("other.txt", "Another file.")]);
    let config = local_config(tree.path());
    f.store.put_config(&config).await.unwrap();
    f.sync(&config).await;
    let ingestor = f.ingestor(None);
    assert_eq!(ingestor.drain().await.unwrap().ingested, 2);
    let story = f.file(&config, "story.txt").await;
    let uri = story.s3_uri.clone().unwrap();
    let before = f.resources(&story).await;
    assert_eq!(before.len(), 5, "4,500 characters in chunks of 1,000");
    assert!(
        before[4]
            .content
            .contains("Sentence number 110 of the long version.")
    );

    std::fs::write(
        tree.path().join("story.txt"),
        "Only this short text remains.",
    )
    .unwrap();
    let r = f.engine.run(&config).await.unwrap();
    assert_eq!((r.files_synced, r.files_unchanged), (1, 1), "{r:?}");
    // Only the changed file is queued again; its old resources stay until the new ones land.
    assert_eq!(f.store.queue_depth().await.unwrap(), depth(1, 0, 1, 0));
    let report = ingestor.drain().await.unwrap();
    assert_eq!(
        report,
        DrainReport {
            ingested: 1,
            ..DrainReport::default()
        }
    );

    let story = f.file(&config, "story.txt").await;
    assert_eq!(story.s3_uri.as_deref(), Some(uri.as_str()));
    let after = f.resources(&story).await;
    assert_eq!(after.len(), 1, "{after:?}");
    assert_eq!(after[0].content, "Only this short text remains.");
    assert_eq!(after[0].id, ResourceId::derive(&uri, 0));
    assert_eq!(
        after[0].metadata["checksum"],
        story.local_checksum.clone().unwrap()
    );
    assert_eq!(story.resource_id, Some(after[0].id.0));
    assert!(story.ingested);
    assert_eq!(
        story.ingest_message.as_deref(),
        Some("1 resource from plain text")
    );
    // The other file was left alone.
    let other = f.file(&config, "other.txt").await;
    let other_resources = f.resources(&other).await;
    assert_eq!(other_resources.len(), 1);
    assert_eq!(other_resources[0].content, "Another file.");
}

// ---------------------------------------------------------------------------------------------
// 3. A deleted file's derived data goes with it
// ---------------------------------------------------------------------------------------------

async fn deleted_file_is_removed(postgres: bool) {
    let f = fixture(postgres, false).await;
    let tree = make_tree(&[
        ("keep.txt", "This file stays."),
        ("gone.txt", "This file goes."),
    ]);
    copy_in(tree.path(), &[(voice_memo(), "memo.wav")]);
    let config = local_config(tree.path());
    f.store.put_config(&config).await.unwrap();
    f.sync(&config).await;
    let ingestor = f.ingestor(None);
    let report = ingestor.drain().await.unwrap();
    assert_eq!(
        (report.ingested, report.untranscribed),
        (2, 1),
        "{report:?}"
    );
    let gone = f.file(&config, "gone.txt").await;
    assert_eq!(f.resources(&gone).await.len(), 1);
    let memo = f.file(&config, "memo.wav").await;
    let audio = f.store.audio_file_for(memo.id).await.unwrap().unwrap();
    let chunks = f.store.audio_chunks(audio.id).await.unwrap();
    assert_eq!(chunks.len(), SPEECH.len());
    for c in &chunks {
        assert!(
            f.blob
                .head(&ObjectKey::from_uri(&c.s3_uri).unwrap())
                .await
                .unwrap()
                .is_some()
        );
    }

    std::fs::remove_file(tree.path().join("gone.txt")).unwrap();
    std::fs::remove_file(tree.path().join("memo.wav")).unwrap();
    let r = f.engine.run(&config).await.unwrap();
    assert_eq!(r.files_deleted, 2, "{r:?}");
    let report = ingestor.drain().await.unwrap();
    assert_eq!(
        report,
        DrainReport {
            removed: 2,
            ..DrainReport::default()
        }
    );

    let gone = f.file(&config, "gone.txt").await;
    assert_eq!(gone.status, FileStatus::Deleted);
    assert_eq!(gone.ingest_status, Some(IngestStatus::Removed));
    assert!(!gone.ingested && gone.resource_id.is_none());
    assert!(f.resources(&gone).await.is_empty());
    // The audio rows and the chunk objects went too.
    let memo = f.file(&config, "memo.wav").await;
    assert_eq!(memo.ingest_status, Some(IngestStatus::Removed));
    assert!(f.store.audio_file_for(memo.id).await.unwrap().is_none());
    assert!(f.store.audio_chunks(audio.id).await.unwrap().is_empty());
    for c in &chunks {
        let key = ObjectKey::from_uri(&c.s3_uri).unwrap();
        assert!(
            f.blob.head(&key).await.unwrap().is_none(),
            "{key} is still there"
        );
    }
    // The file that stayed keeps its resources.
    let keep = f.file(&config, "keep.txt").await;
    assert_eq!(keep.ingest_status, Some(IngestStatus::Ingested));
    assert_eq!(f.resources(&keep).await[0].content, "This file stays.");
    assert_eq!(f.store.queue_depth().await.unwrap(), depth(0, 0, 3, 0));
}

// ---------------------------------------------------------------------------------------------
// 4. No transcription backend
// ---------------------------------------------------------------------------------------------

async fn no_backend(postgres: bool) {
    let f = fixture(postgres, false).await;
    let folder = tempfile::tempdir().unwrap();
    copy_in(folder.path(), &[(voice_memo(), "memo.wav")]);
    let config = local_config(folder.path());
    f.store.put_config(&config).await.unwrap();
    f.sync(&config).await;
    let report = f.ingestor(None).drain().await.unwrap();
    assert_eq!(
        report,
        DrainReport {
            untranscribed: 1,
            ..DrainReport::default()
        }
    );
    assert!(NO_BACKEND.contains("P8_TRANSCRIPTION_URL"));

    let memo = f.file(&config, "memo.wav").await;
    assert_eq!(memo.ingest_status, Some(IngestStatus::Untranscribed));
    let message = memo.ingest_message.clone().unwrap_or_default();
    assert!(
        message.contains(NO_BACKEND) && message.contains("3 chunks of 13.5 s"),
        "{message}"
    );
    assert!(!memo.ingested && memo.resource_id.is_none());
    assert!(f.resources(&memo).await.is_empty());

    let audio = f.store.audio_file_for(memo.id).await.unwrap().unwrap();
    assert_eq!(audio.status, AudioStatus::Completed);
    assert_eq!(audio.metadata["transcription"], NO_BACKEND);
    let chunks = f.store.audio_chunks(audio.id).await.unwrap();
    check_memo_chunks(&f, &chunks).await;
    for c in &chunks {
        assert_eq!(c.status, ChunkStatus::NoBackend);
        assert_eq!(c.error.as_deref(), Some(NO_BACKEND));
        assert!(c.transcription.is_none());
    }
    // Nothing failed: the job is done, not waiting for a retry or dead.
    assert_eq!(f.store.queue_depth().await.unwrap(), depth(0, 0, 1, 0));
    let jobs = f.store.ingest_jobs(Some(config.id)).await.unwrap();
    assert_eq!(jobs[0].last_error, None);
}

// ---------------------------------------------------------------------------------------------
// 5. Transcription failures
// ---------------------------------------------------------------------------------------------

const REJECTION: &str = r#"{"error":{"message":"Invalid file format. Supported formats: ['flac', 'mp3', 'wav']","type":"invalid_request_error","param":"file","code":null}}"#;

async fn one_chunk_rejected(postgres: bool) {
    let f = fixture(postgres, false).await;
    let fake = FakeWhisper::start(|n, upload| match n {
        2 => Answer::Reply(400, REJECTION.into()),
        _ => heard(n, upload),
    })
    .await;
    let folder = tempfile::tempdir().unwrap();
    copy_in(folder.path(), &[(voice_memo(), "memo.wav")]);
    let config = local_config(folder.path());
    f.store.put_config(&config).await.unwrap();
    f.sync(&config).await;
    let report = f
        .ingestor(Some(backend(&fake.base, 3)))
        .drain()
        .await
        .unwrap();
    // A 400 is not worth retrying: the file is done, with what could be transcribed.
    assert_eq!(
        report,
        DrainReport {
            transcribed: 1,
            ..DrainReport::default()
        }
    );
    let uploads = fake.uploads();
    assert_eq!(uploads.len(), 3, "the rejected chunk was not sent again");
    uploads.iter().for_each(Upload::check);

    let memo = f.file(&config, "memo.wav").await;
    let audio = f.store.audio_file_for(memo.id).await.unwrap().unwrap();
    let chunks = f.store.audio_chunks(audio.id).await.unwrap();
    let frames = check_memo_chunks(&f, &chunks).await;
    let statuses: Vec<ChunkStatus> = chunks.iter().map(|c| c.status).collect();
    assert_eq!(
        statuses,
        [
            ChunkStatus::Transcribed,
            ChunkStatus::Failed,
            ChunkStatus::Transcribed
        ]
    );
    let error = chunks[1].error.clone().unwrap_or_default();
    assert!(
        error.contains("HTTP 400") && error.contains("Invalid file format."),
        "{error}"
    );
    assert!(!error.contains(API_KEY));
    assert_eq!(chunks[1].transcription, None);
    assert_eq!(audio.status, AudioStatus::Completed);
    assert!(
        audio.metadata["error"]
            .as_str()
            .is_some_and(|e| e.contains("Invalid file format.")),
        "{}",
        audio.metadata
    );

    let transcript = f.resources(&memo).await;
    assert_eq!(transcript.len(), 1);
    let expected = [0, 2]
        .map(|n| {
            let c = &chunks[n];
            format!(
                "[{:.1}-{:.1}]: {}",
                c.start_time,
                c.end_time,
                heard_text(n + 1, frames[n])
            )
        })
        .join("\n");
    assert_eq!(transcript[0].content, expected);
    assert_eq!(transcript[0].category, TRANSCRIPT_CATEGORY);
    assert_eq!(memo.ingest_status, Some(IngestStatus::Transcribed));
    assert!(memo.ingested);
    let message = memo.ingest_message.clone().unwrap_or_default();
    assert!(
        message.contains("2 of 3 chunks transcribed") && message.contains("Invalid file format."),
        "{message}"
    );
    assert_eq!(f.store.queue_depth().await.unwrap(), depth(0, 0, 1, 0));
}

async fn server_errors_retry_then_give_up(postgres: bool) {
    let f = fixture(postgres, false).await;
    let fake = FakeWhisper::start(|_, _| {
        Answer::Reply(
            500,
            r#"{"error":{"message":"The server had an error while processing your request.","type":"server_error"}}"#.into(),
        )
    })
    .await;
    let folder = tempfile::tempdir().unwrap();
    copy_in(folder.path(), &[(voice_memo(), "memo.wav")]);
    let config = local_config(folder.path());
    f.store.put_config(&config).await.unwrap();
    f.sync(&config).await;
    let backoff = Duration::from_millis(1500);
    let ingestor = f.ingestor_with(
        Some(backend(&fake.base, 1)),
        IngestOptions {
            max_attempts: 2,
            backoff: Backoff {
                base: backoff,
                max: backoff,
            },
            ..IngestOptions::default()
        },
    );

    // First attempt: every chunk still failing after the client's own retry; the job waits.
    let first = Instant::now();
    let failed_after = chrono::Utc::now();
    let report = ingestor.drain().await.unwrap();
    assert_eq!(
        report,
        DrainReport {
            retrying: 1,
            ..DrainReport::default()
        }
    );
    assert_eq!(fake.uploads().len(), 3 * 2, "each chunk tried twice");
    let memo = f.file(&config, "memo.wav").await;
    assert_eq!(memo.ingest_status, Some(IngestStatus::Retrying));
    let message = memo.ingest_message.clone().unwrap_or_default();
    assert!(
        message.contains("HTTP 500") && message.contains("The server had an error"),
        "{message}"
    );
    let jobs = f.store.ingest_jobs(Some(config.id)).await.unwrap();
    assert_eq!(
        (jobs[0].status, jobs[0].attempts),
        (JobStatus::Queued, 1),
        "{jobs:?}"
    );
    assert!(
        jobs[0]
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("HTTP 500"))
    );
    assert!(f.resources(&memo).await.is_empty());

    // It waits out the backoff, counted from when the attempt failed.
    let due = jobs[0].run_after;
    assert!(
        due >= failed_after + backoff,
        "due {due}, failed after {failed_after}"
    );
    assert!(due <= chrono::Utc::now() + backoff, "due {due}");

    // Not due yet: a drain now does nothing.
    assert!(
        first.elapsed() < backoff,
        "too slow to check the backoff: {:?}",
        first.elapsed()
    );
    assert_eq!(ingestor.drain().await.unwrap(), DrainReport::default());
    assert_eq!(fake.uploads().len(), 6);

    // After the backoff, the last attempt. Every chunk still fails with a server error and
    // nothing was transcribed, so the job must be set aside as dead with the error kept: then
    // `queue_depth` counts it and `p8sync ingest retry` (which queues dead and retrying jobs
    // again) picks it up once the server is back.
    // Until the job is due (counted from when it failed, which a loaded machine makes later
    // than the start of the drain), and a little more.
    let wait = (due - chrono::Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(wait + Duration::from_millis(200)).await;
    let report = ingestor.drain().await.unwrap();
    assert_eq!(fake.uploads().len(), 3 * 2 * 2);
    let memo = f.file(&config, "memo.wav").await;
    let jobs = f.store.ingest_jobs(Some(config.id)).await.unwrap();
    let audio = f.store.audio_file_for(memo.id).await.unwrap().unwrap();
    let chunks = f.store.audio_chunks(audio.id).await.unwrap();
    for c in &chunks {
        assert_eq!(c.status, ChunkStatus::Failed);
        assert!(
            c.error.as_deref().is_some_and(|e| e.contains("HTTP 500")),
            "{c:?}"
        );
    }
    assert_eq!(audio.status, AudioStatus::Failed);
    assert!(f.resources(&memo).await.is_empty());
    assert_eq!(
        report,
        DrainReport {
            dead: 1,
            ..DrainReport::default()
        }
    );
    assert_eq!(memo.ingest_status, Some(IngestStatus::Dead));
    let message = memo.ingest_message.clone().unwrap_or_default();
    assert!(
        message.contains("HTTP 500") && message.contains("gave up after 2 attempts"),
        "{message}"
    );
    assert_eq!((jobs[0].status, jobs[0].attempts), (JobStatus::Dead, 2));
    assert!(
        jobs[0]
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("HTTP 500"))
    );
    assert_eq!(f.store.queue_depth().await.unwrap(), depth(0, 0, 0, 1));
}

// ---------------------------------------------------------------------------------------------
// 8. Files ingestion only stores are settled by the sync: no job to run
// ---------------------------------------------------------------------------------------------

async fn stored_only_files_need_no_job(postgres: bool) {
    let mut f = fixture(postgres, false).await;
    let ingestor = f.ingestor(None);
    let registry = Registry::from_providers([load_local(&f.runtime).await]);
    f.engine = SyncEngine::new(
        f.store.clone(),
        f.blob.clone(),
        Arc::new(registry),
        SyncOptions::default(),
    )
    .with_triage(Arc::new(ingestor.clone()));
    let tree = make_tree(&[
        ("notes.txt", "Text to ingest."),
        ("photo.png", "not really a picture"),
        ("data.unknownext", "no rule and no extractor for this"),
    ]);
    let config = local_config(tree.path());
    f.store.put_config(&config).await.unwrap();
    f.sync(&config).await;

    for name in ["photo.png", "data.unknownext"] {
        let file = f.file(&config, name).await;
        assert_eq!(file.ingest_status, Some(IngestStatus::Stored), "{name}");
        let why = file.ingest_message.clone().unwrap_or_default();
        assert!(why.starts_with("stored only:"), "{name}: {why}");
        assert!(!file.ingested && file.resource_id.is_none(), "{name}");
    }
    let notes = f.file(&config, "notes.txt").await;
    assert_eq!(notes.ingest_status, Some(IngestStatus::Queued));
    // Only the text file waits for a worker; the others' jobs are done without an attempt.
    assert_eq!(f.store.queue_depth().await.unwrap(), depth(1, 0, 2, 0));
    let jobs = f.store.ingest_jobs(Some(config.id)).await.unwrap();
    assert_eq!(
        jobs.iter()
            .filter(|j| j.status == JobStatus::Done && j.attempts == 0)
            .count(),
        2,
        "{jobs:?}"
    );
    let report = ingestor.drain().await.unwrap();
    assert_eq!((report.ingested, report.stored), (1, 0), "{report:?}");
    assert_eq!(f.resources(&notes).await.len(), 1);

    // A changed picture is settled again; a picture that becomes text is not a thing a path
    // can do, but new text next to it still queues.
    std::fs::write(tree.path().join("photo.png"), "another picture").unwrap();
    std::fs::write(tree.path().join("more.md"), "# More text").unwrap();
    f.sync(&config).await;
    let photo = f.file(&config, "photo.png").await;
    assert_eq!(photo.ingest_status, Some(IngestStatus::Stored));
    assert_eq!(
        f.file(&config, "more.md").await.ingest_status,
        Some(IngestStatus::Queued)
    );
    assert_eq!(f.store.queue_depth().await.unwrap(), depth(1, 0, 3, 0));
}

macro_rules! both {
    ($($name:ident),+) => {
        mod on_sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(false).await })+
        }
        mod on_postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(true).await })+
        }
    };
}

both!(
    main_flow,
    changed_file_replaces,
    deleted_file_is_removed,
    no_backend,
    one_chunk_rejected,
    server_errors_retry_then_give_up,
    killed_worker_job_is_taken_over,
    cli_sync_ingests,
    stored_only_files_need_no_job
);

// ---------------------------------------------------------------------------------------------
// The binary
// ---------------------------------------------------------------------------------------------

/// Where the binary keeps its state: a data dir, and on Postgres a fresh database.
struct Cli {
    data: tempfile::TempDir,
    database_url: Option<String>,
}

impl Cli {
    async fn new(postgres: bool) -> Self {
        let database_url = if postgres {
            Some(postgres_database().await.0)
        } else {
            None
        };
        Cli {
            data: tempfile::tempdir().unwrap(),
            database_url,
        }
    }

    fn command(&self, args: &[&str], env: &[(&str, &str)]) -> tokio::process::Command {
        let mut c = tokio::process::Command::new(p8sync_bin());
        c.args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("P8_DATA_DIR", self.data.path())
            .env("P8_PROVIDERS_DIR", providers_dir())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        if let Some(url) = &self.database_url {
            c.env("DATABASE_URL", url);
        }
        for (k, v) in env {
            c.env(k, v);
        }
        c
    }

    /// Run to the end; stdout, after checking it succeeded.
    async fn run(&self, args: &[&str], env: &[(&str, &str)]) -> String {
        let out = self.command(args, env).output().await.unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            out.status.success(),
            "p8sync {args:?} failed:\n{stdout}\n{stderr}"
        );
        stdout
    }

    async fn json(&self, args: &[&str], env: &[(&str, &str)]) -> serde_json::Value {
        let out = self.run(args, env).await;
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
    }

    /// The id of the one config there is.
    async fn config_id(&self) -> String {
        let out = self.run(&["config", "list", "--json"], &[]).await;
        let ids: Vec<String> = out
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                v["id"].as_str().unwrap().to_string()
            })
            .collect();
        assert_eq!(ids.len(), 1, "{out}");
        ids[0].clone()
    }

    /// The `p8sync files` row of `name`.
    async fn files_row(&self, config: &str, name: &str) -> String {
        let out = self.run(&["files", "--config", config], &[]).await;
        out.lines()
            .find(|l| l.split_whitespace().any(|w| w == name))
            .unwrap_or_else(|| panic!("no row for {name}:\n{out}"))
            .to_string()
    }
}

// ---------------------------------------------------------------------------------------------
// 6. A killed worker's job is taken over once its lease runs out
// ---------------------------------------------------------------------------------------------

async fn killed_worker_job_is_taken_over(postgres: bool) {
    const LEASE_SECS: u64 = 5;
    let cli = Cli::new(postgres).await;
    let folder = tempfile::tempdir().unwrap();
    copy_in(folder.path(), &[(voice_memo(), "memo.wav")]);
    let folder_arg = folder.path().display().to_string();
    cli.run(&["sync", &folder_arg, "--no-ingest"], &[]).await;
    let config = cli.config_id().await;
    assert!(
        cli.files_row(&config, "memo.wav").await.contains("queued"),
        "sync --no-ingest leaves the file queued"
    );

    // The first request hangs; later ones are answered.
    let fake = FakeWhisper::start(|n, upload| match n {
        1 => Answer::Hang,
        _ => heard(n, upload),
    })
    .await;
    let lease = LEASE_SECS.to_string();
    let env = [
        ("P8_TRANSCRIPTION_URL", fake.base.as_str()),
        ("P8_TRANSCRIPTION_API_KEY", API_KEY),
        ("P8_TRANSCRIPTION_MODEL", MODEL),
        ("P8_INGEST_LEASE_SECS", lease.as_str()),
        ("P8_INGEST_WORKERS", "1"),
    ];
    let mut worker = cli.command(&["ingest", "run"], &env).spawn().unwrap();
    fake.wait_for(1, Duration::from_secs(60)).await;
    // The worker is stuck in the transcription request, holding the lease: kill it.
    worker.start_kill().unwrap();
    let killed_at = Instant::now();
    let status = worker.wait().await.unwrap();
    assert!(!status.success());
    fake.uploads()[0].check();

    let status = cli.json(&["ingest", "status", "--json"], &[]).await;
    assert_eq!(
        status["queue"],
        serde_json::json!({ "queued": 0, "running": 1, "done": 0, "dead": 0 })
    );
    // While the dead worker's lease lasts (at least two thirds of it: it renewed a third of a
    // lease ago at most), the job is not anyone else's.
    let report = cli.json(&["ingest", "run", "--json"], &env).await;
    let elapsed = killed_at.elapsed();
    assert!(
        elapsed < Duration::from_secs(LEASE_SECS * 2 / 3),
        "too slow to check the lease: {elapsed:?} since the kill"
    );
    assert_eq!(report["transcribed"], 0, "{report}");
    assert_eq!(report["taken_over"], 0, "{report}");
    assert_eq!(fake.uploads().len(), 1, "nobody else sent a request");

    // Once it has run out, the next worker takes the job over and finishes it.
    tokio::time::sleep(
        Duration::from_secs(LEASE_SECS).saturating_sub(killed_at.elapsed())
            + Duration::from_millis(300),
    )
    .await;
    let report = cli.json(&["ingest", "run", "--json"], &env).await;
    assert_eq!(report["transcribed"], 1, "{report}");
    assert_eq!(report["taken_over"], 1, "{report}");
    let uploads = fake.uploads();
    assert_eq!(uploads.len(), 1 + SPEECH.len());
    uploads.iter().for_each(Upload::check);

    let row = cli.files_row(&config, "memo.wav").await;
    assert!(
        row.contains("transcribed") && row.contains("3 of 3 chunks transcribed"),
        "{row}"
    );
    let status = cli.json(&["ingest", "status", "--json"], &[]).await;
    assert_eq!(
        status["queue"],
        serde_json::json!({ "queued": 0, "running": 0, "done": 1, "dead": 0 })
    );
}

// ---------------------------------------------------------------------------------------------
// 7. `p8sync sync` ingests afterwards
// ---------------------------------------------------------------------------------------------

async fn cli_sync_ingests(postgres: bool) {
    let cli = Cli::new(postgres).await;
    let folder = tempfile::tempdir().unwrap();
    std::fs::write(
        folder.path().join("notes.txt"),
        "Harbour notes: the tide turns at noon.",
    )
    .unwrap();
    copy_in(
        folder.path(),
        &[
            (text_fixture("sample.pdf"), "report.pdf"),
            (text_fixture("sample.docx"), "manual.docx"),
            (voice_memo(), "memo.wav"),
        ],
    );
    let folder_arg = folder.path().display().to_string();
    let out = cli.run(&["sync", &folder_arg], &[]).await;
    let ingestion = out
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("ingestion:"))
        .unwrap_or_else(|| panic!("no ingestion line:\n{out}"));
    assert_eq!(
        ingestion,
        "ingestion: 3 ingested, 1 chunked without a transcript"
    );

    let config = cli.config_id().await;
    for name in ["notes.txt", "report.pdf", "manual.docx"] {
        let row = cli.files_row(&config, name).await;
        assert!(
            row.split_whitespace().any(|w| w == "ingested") && row.contains("1 resource from"),
            "{row}"
        );
    }
    let row = cli.files_row(&config, "memo.wav").await;
    assert!(
        row.split_whitespace().any(|w| w == "untranscribed") && row.contains(NO_BACKEND),
        "{row}"
    );

    let status = cli.json(&["ingest", "status", "--json"], &[]).await;
    assert_eq!(
        status["queue"],
        serde_json::json!({ "queued": 0, "running": 0, "done": 4, "dead": 0 })
    );
    // Everything is done: `ingest run` has nothing left.
    let out = cli.run(&["ingest", "run"], &[]).await;
    assert_eq!(out.trim(), "ingestion: nothing to do");
}
