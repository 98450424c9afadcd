//! Google Drive against the local fake: listing time for 10,000 files in 500 folders, and a
//! full sync's files per second with 4 and 16 transfers. Prints figures; asserts nothing about
//! speed (targets live in BENCHMARKS.md).
//!
//! cargo bench -p p8sync-e2e --bench google_drive

use p8sync::blob::local::LocalBlobStore;
use p8sync::config::ProviderOverrides;
use p8sync::oauth::{Grant, Keyring, TokenManager};
use p8sync::runtime::{CallContext, Registry, Runtime, StaticToken};
use p8sync::secret::Secret;
use p8sync::store::SyncConfig;
use p8sync::store::ids::UserId;
use p8sync::sync::{SyncEngine, SyncOptions};
use p8sync_e2e::fake_drive::FakeDrive;
use p8sync_e2e::*;
use std::sync::Arc;
use std::time::{Duration, Instant};

const FOLDERS: usize = 500;
const PER_FOLDER: usize = 20;

fn populate(fake: &FakeDrive) {
    let root = fake.root_id();
    // 20 top folders of 24 subfolders (plus the 20 tops = 500 folders), 20 files each.
    let mut folders = Vec::new();
    for t in 0..20 {
        let top = fake.add_folder(&root, &format!("top {t}"));
        folders.push(top.clone());
        for s in 0..24 {
            folders.push(fake.add_folder(&top, &format!("sub {s}")));
        }
    }
    assert_eq!(folders.len(), FOLDERS);
    for (n, folder) in folders.iter().enumerate() {
        for i in 0..PER_FOLDER {
            fake.add_file(
                &[folder],
                &format!("file {i}.txt"),
                "text/plain",
                format!("folder {n} file {i}\n").repeat(8),
            );
        }
    }
}

fn settings_for(fake: &FakeDrive) -> p8sync::config::RuntimeSettings {
    let mut s = settings();
    s.limits.call_timeout = Duration::from_secs(60);
    s.limits.memory_bytes = 128 * 1024 * 1024;
    s.overrides.set(
        "google_drive",
        ProviderOverrides {
            api_base: Some(fake.api_base()),
            token_url: Some(fake.token_url()),
            client_id: Some(FakeDrive::CLIENT_ID.into()),
            client_secret: Some(Secret::new(FakeDrive::CLIENT_SECRET)),
            ..Default::default()
        },
    );
    s
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let fake = FakeDrive::start().await;
    populate(&fake);
    let rt = Runtime::new(settings_for(&fake)).unwrap();
    let provider = rt.load_file(&provider_wasm("google-drive")).await.unwrap();
    let (access, refresh) = fake.issue_tokens();

    let cx = CallContext {
        credentials: Some(Arc::new(StaticToken::bearer(&Secret::new(access.clone())))),
        ..CallContext::default()
    };
    let mut best = Duration::MAX;
    for run in 0..3 {
        fake.reset_counts();
        let started = Instant::now();
        let page = provider.list_all(&cx, None, true, 100_000).await.unwrap();
        let took = started.elapsed();
        let files = page
            .entries
            .iter()
            .filter(|e| e.kind == p8sync::runtime::types::EntryKind::File)
            .count();
        assert_eq!(files, FOLDERS * PER_FOLDER);
        println!(
            "list run {run}: {files} files in {FOLDERS} folders: {:.2} s ({} files.list calls)",
            took.as_secs_f64(),
            fake.counts().list
        );
        best = best.min(took);
    }
    println!("list best: {:.2} s (target < 3 s)", best.as_secs_f64());

    let registry = Arc::new(Registry::from_providers([provider]));
    for transfers in [4, 16] {
        let (store, _db) = sqlite_store().await;
        let objects = tempfile::tempdir().unwrap();
        let blob = Arc::new(LocalBlobStore::new(objects.path()));
        let tokens = Arc::new(TokenManager::new(
            store.clone(),
            Arc::new(Keyring::new(&[1; 32], &[])),
        ));
        let user: UserId = "5c1b2f3e-0000-4000-8000-0000000000b1".parse().unwrap();
        tokens
            .save_grant(
                user,
                "google_drive",
                &Grant {
                    access_token: Secret::new(access.clone()),
                    refresh_token: Some(Secret::new(refresh.clone())),
                    expires_at: Some(chrono::Utc::now() + chrono::Duration::hours(1)),
                    scopes: None,
                },
                None,
                &p8sync::oauth::AccountChoice::default(),
            )
            .await
            .unwrap();
        let config = SyncConfig::new(user, "google_drive", "bench");
        store.put_config(&config).await.unwrap();
        let engine = SyncEngine::new(
            store.clone(),
            blob,
            registry.clone(),
            SyncOptions {
                transfers,
                ..SyncOptions::default()
            },
        )
        .with_tokens(tokens);
        let started = Instant::now();
        let report = engine.run(&config).await.unwrap();
        let took = started.elapsed().as_secs_f64();
        assert_eq!(
            report.files_synced as usize,
            FOLDERS * PER_FOLDER,
            "{}",
            report.message
        );
        println!(
            "full sync, {transfers} transfers: {} files in {took:.2} s = {:.0} files/s (SQLite, local objects)",
            report.files_synced,
            report.files_synced as f64 / took
        );
    }
}
