//! The seed's workflow for operators, in order, typed as an operator would, against the fake
//! Drive on Postgres: migrate, import a user's credential, list a folder of theirs with the
//! stored credential, create a config with filters, sync it, show a text file's chunks and an
//! audio file's transcript, and see why a filtered file is left out.

use p8sync_e2e::fake_drive::FakeDrive;
use p8sync_e2e::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const HEARD: &str = "the keeper lit the lamp";

/// An OpenAI-compatible transcription endpoint that hears the same words in every upload;
/// returns its base URL and the number of uploads it answered.
async fn transcriber() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/v1", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let answered = count.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let answered = answered.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 64 * 1024];
                // Headers, then as many body bytes as they announce.
                let body_start = loop {
                    let n = socket.read(&mut buf).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    request.extend_from_slice(&buf[..n]);
                    if let Some(i) = request.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i + 4;
                    }
                };
                let head = String::from_utf8_lossy(&request[..body_start]).to_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                while request.len() < body_start + length {
                    let n = socket.read(&mut buf).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    request.extend_from_slice(&buf[..n]);
                }
                answered.fetch_add(1, Ordering::SeqCst);
                let body = serde_json::json!({ "text": HEARD }).to_string();
                let reply = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(reply.as_bytes()).await;
            });
        }
    });
    (base, count)
}

/// Three seconds of a tone in bursts, as 16 kHz mono WAV: sound a speech detector keeps.
fn tone_wav() -> Vec<u8> {
    let rate = 16_000u32;
    let samples: Vec<i16> = (0..rate * 3)
        .map(|i| {
            let t = f64::from(i) / f64::from(rate);
            let on = ((t * 4.0) as u32).is_multiple_of(2);
            let a = if on { 9000.0 } else { 600.0 };
            (a * (t * 2.0 * std::f64::consts::PI * 220.0).sin()) as i16
        })
        .collect();
    let data_len = (samples.len() * 2) as u32;
    let mut wav = Vec::new();
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + data_len).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes());
    wav.extend_from_slice(&rate.to_le_bytes());
    wav.extend_from_slice(&(rate * 2).to_le_bytes());
    wav.extend_from_slice(&2u16.to_le_bytes());
    wav.extend_from_slice(&16u16.to_le_bytes());
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        wav.extend_from_slice(&s.to_le_bytes());
    }
    wav
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_workflow_works_as_written() {
    let (url, _name) = postgres_database().await;
    let fake = FakeDrive::start().await;
    let root = fake.root_id();
    let documents = fake.add_folder(&root, "Documents");
    fake.add_file(
        &[&documents],
        "notes.txt",
        "text/plain",
        "The harbour light was lit at dusk.",
    );
    fake.add_file(
        &[&documents],
        "scan.pdf",
        "application/pdf",
        b"%PDF-1.4".to_vec(),
    );
    fake.add_file(&[&documents], "memo.wav", "audio/wav", tone_wav());
    let other = fake.add_folder(&root, "Other");
    fake.add_file(&[&other], "elsewhere.txt", "text/plain", "not wanted");

    let (transcription_url, transcribed) = transcriber().await;
    let data = tempfile::tempdir().unwrap();
    let user = "5c1b2f3e-0000-4000-8000-0000000000a7";
    let p8sync = |args: &[&str]| {
        let out = std::process::Command::new(p8sync_bin())
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", &url)
            .env("P8_DATA_DIR", data.path())
            .env("P8_PROVIDERS_DIR", providers_dir())
            .env("P8_EXTRACTORS_DIR", extractors_dir())
            .env("P8_ENCRYPTION_KEY", hex::encode([5u8; 32]))
            .env("P8_TRANSCRIPTION_URL", &transcription_url)
            .envs(fake.env())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "p8sync {args:?} failed:\n{stderr}");
        stdout
    };

    assert!(p8sync(&["migrate"]).contains("migrated"));

    let grant = fake.grant();
    let tokens = data.path().join("tokens.json");
    std::fs::write(
        &tokens,
        serde_json::json!({
            "access_token": grant.access_token.expose(),
            "refresh_token": grant.refresh_token.as_ref().unwrap().expose(),
            "expires_in": 3600,
        })
        .to_string(),
    )
    .unwrap();
    p8sync(&[
        "auth",
        "import",
        "--provider",
        "google_drive",
        "--user",
        user,
        "--file",
        tokens.to_str().unwrap(),
    ]);

    // The user's folder, with names and types, through their stored credential.
    let listed = p8sync(&[
        "list",
        "--user",
        user,
        "--provider",
        "google_drive",
        "--folder",
        "Documents",
    ]);
    let row = listed
        .lines()
        .find(|l| l.contains("Documents/notes.txt"))
        .unwrap_or_else(|| panic!("notes.txt is not listed:\n{listed}"));
    assert!(row.contains("text/plain"), "{row}");
    assert!(!listed.contains("elsewhere.txt"), "{listed}");

    let id = p8sync(&[
        "config",
        "add",
        "--provider",
        "google_drive",
        "--user",
        user,
        "--name",
        "documents",
        "--include-folders",
        r#"["Documents"]"#,
        "--exclude-file-types",
        r#"["pdf"]"#,
    ]);
    let id = id.trim();
    let synced = p8sync(&["sync", "--config", id]);
    assert!(synced.contains("synced 2 files"), "{synced}");

    let shown = p8sync(&["show", "Documents/notes.txt"]);
    assert!(shown.contains("resources  1"), "{shown}");
    assert!(shown.contains("harbour light was lit"), "{shown}");

    let shown = p8sync(&["show", "Documents/memo.wav"]);
    assert!(shown.contains("audio "), "{shown}");
    assert!(shown.contains(HEARD), "no transcript in:\n{shown}");
    assert!(transcribed.load(Ordering::SeqCst) > 0);

    let explained = p8sync(&["sync", "--config", id, "--dry-run", "--full"]);
    let line = explained
        .lines()
        .find(|l| l.contains("Documents/scan.pdf"))
        .unwrap_or_else(|| panic!("scan.pdf is not explained:\n{explained}"));
    assert!(
        line.trim_start().starts_with("skipped") && line.contains("file type `pdf` is excluded"),
        "{line}"
    );
    assert!(
        explained
            .lines()
            .any(|l| l.trim_start().starts_with("unchanged") && l.contains("notes.txt")),
        "{explained}"
    );
}
