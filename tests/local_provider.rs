//! The `local` provider, run as a real component in the sandbox.

use p8sync::runtime::local_root;
use p8sync::runtime::types::{EntryKind, FetchPlan, ListRequest, ProviderError};
use p8sync::runtime::{CallContext, CallError, Runtime};
use p8sync_e2e::*;
use std::collections::BTreeSet;

fn cx(root: &std::path::Path) -> CallContext {
    CallContext {
        root: Some(root.to_path_buf()),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_the_tree_with_sizes_times_and_paths() {
    let tree = make_tree(&[
        ("top.txt", "12345"),
        ("docs/readme.md", "# hi\n"),
        ("docs/2024/report.pdf", "%PDF-fake"),
        ("naïve café/ünïcode.txt", "u"),
    ]);
    let rt = Runtime::new(settings()).unwrap();
    let local = load_local(&rt).await;
    let page = local
        .list_all(&cx(tree.path()), None, true, 10)
        .await
        .unwrap();

    let files: BTreeSet<String> = page
        .entries
        .iter()
        .filter(|e| e.kind == EntryKind::File)
        .map(|e| e.id.clone())
        .collect();
    let expected: BTreeSet<String> = [
        "top.txt",
        "docs/readme.md",
        "docs/2024/report.pdf",
        "naïve café/ünïcode.txt",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(files, expected);

    for e in page.entries.iter().filter(|e| e.kind == EntryKind::File) {
        let meta = std::fs::metadata(tree.path().join(&e.id)).unwrap();
        assert_eq!(e.size, Some(meta.len()), "{}", e.id);
        let mtime = meta
            .modified()
            .unwrap()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        let m = e.modified.expect("modified time");
        assert_eq!(m.seconds as u64, mtime.as_secs(), "{}", e.id);
        assert!(e.checksums.is_empty(), "listing must not hash contents");
    }
    let report = page
        .entries
        .iter()
        .find(|e| e.id == "docs/2024/report.pdf")
        .unwrap();
    assert_eq!(report.name, "report.pdf");
    assert_eq!(report.path, vec!["docs", "2024"]);
    assert_eq!(report.parent_ids, vec!["docs/2024"]);
    assert_eq!(report.mime_type.as_deref(), Some("application/pdf"));
    let folders: BTreeSet<&str> = page
        .entries
        .iter()
        .filter(|e| e.kind == EntryKind::Folder)
        .map(|e| e.id.as_str())
        .collect();
    assert_eq!(
        folders,
        ["docs", "docs/2024", "naïve café"].into_iter().collect()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn symlinks_out_of_the_root_are_skipped_with_a_reason() {
    let outside = make_tree(&[("secret.txt", "top secret")]);
    let tree = make_tree(&[("in.txt", "inside")]);
    let root = tree.path();
    std::os::unix::fs::symlink(outside.path().join("secret.txt"), root.join("abs-escape")).unwrap();
    std::os::unix::fs::symlink("../../../../../../etc/passwd", root.join("rel-escape")).unwrap();
    std::os::unix::fs::symlink("in.txt", root.join("inner-link")).unwrap();
    std::os::unix::fs::symlink("missing.txt", root.join("dangling")).unwrap();
    std::fs::create_dir(root.join("d")).unwrap();
    std::os::unix::fs::symlink("d", root.join("dir-link")).unwrap();

    let rt = Runtime::new(settings()).unwrap();
    let local = load_local(&rt).await;
    let page = local.list_all(&cx(root), None, true, 10).await.unwrap();
    let ids: BTreeSet<&str> = page.entries.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["in.txt", "inner-link", "d"].into_iter().collect());

    let reason = |id: &str| {
        page.skipped
            .iter()
            .find(|s| s.id == id)
            .map(|s| s.reason.clone())
            .unwrap_or_else(|| panic!("{id} not reported as skipped: {:?}", page.skipped))
    };
    let r = reason("abs-escape");
    assert!(r.contains("outside the root"), "abs-escape: {r}");
    let r = reason("rel-escape");
    assert!(r.contains("outside the root"), "rel-escape: {r}");
    let r = reason("dangling");
    assert!(r.contains("broken symlink"), "dangling: {r}");
    let r = reason("dir-link");
    assert!(r.contains("not followed"), "dir-link: {r}");
    // The host refuses to follow the escape even if a provider asked for it.
    assert!(local_root::resolve(root, "abs-escape").is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_folders_are_paged_with_resumable_cursors() {
    let tree = tempfile::tempdir().unwrap();
    for d in 0..3 {
        let dir = tree.path().join(format!("d{d}"));
        std::fs::create_dir(&dir).unwrap();
        for i in 0..900 {
            std::fs::write(dir.join(format!("f{i:04}.txt")), "x").unwrap();
        }
    }
    let rt = Runtime::new(settings()).unwrap();
    let local = load_local(&rt).await;
    let cx = cx(tree.path());
    let mut cursor = None;
    let mut pages = 0;
    let mut ids = Vec::new();
    loop {
        let page = local
            .list(
                &cx,
                &ListRequest {
                    folder_id: None,
                    recursive: true,
                    cursor: cursor.clone(),
                    page_size_hint: 1000,
                },
            )
            .await
            .unwrap();
        assert!(page.entries.len() <= 1000);
        pages += 1;
        ids.extend(page.entries.into_iter().map(|e| e.id));
        // Resuming from the same cursor gives the same page again.
        if let Some(c) = &page.next_cursor {
            let again = local
                .list(
                    &cx,
                    &ListRequest {
                        folder_id: None,
                        recursive: true,
                        cursor: Some(c.clone()),
                        page_size_hint: 1000,
                    },
                )
                .await
                .unwrap();
            assert!(!again.entries.is_empty());
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(ids.len(), 2703);
    let unique: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "an entry was listed twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subfolder_can_be_listed_alone() {
    let tree = make_tree(&[
        ("a/one.txt", "1"),
        ("a/b/two.txt", "2"),
        ("c/three.txt", "3"),
    ]);
    let rt = Runtime::new(settings()).unwrap();
    let local = load_local(&rt).await;
    let page = local
        .list_all(&cx(tree.path()), Some("a".into()), false, 10)
        .await
        .unwrap();
    let ids: BTreeSet<&str> = page.entries.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["a/one.txt", "a/b"].into_iter().collect());

    match local
        .list_all(&cx(tree.path()), Some("../etc".into()), true, 10)
        .await
    {
        Err(CallError::Provider {
            error: ProviderError::InvalidConfig(m),
            ..
        }) => {
            assert!(m.contains("not a plain path"), "{m}")
        }
        other => panic!("expected invalid config, got {other:?}"),
    }
    match local
        .list_all(&cx(tree.path()), Some("nope".into()), true, 10)
        .await
    {
        Err(CallError::Provider {
            error: ProviderError::InvalidConfig(m),
            ..
        }) => {
            assert!(m.contains("nope"), "{m}")
        }
        other => panic!("expected invalid config, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_plans_point_inside_the_root() {
    let tree = make_tree(&[("docs/a.txt", "alpha")]);
    let rt = Runtime::new(settings()).unwrap();
    let local = load_local(&rt).await;
    let cx = cx(tree.path());
    let page = local.list_all(&cx, None, true, 10).await.unwrap();
    let entry = page.entries.iter().find(|e| e.id == "docs/a.txt").unwrap();
    let plan = local.fetch(&cx, entry).await.unwrap();
    let FetchPlan::LocalFile(rel) = plan else {
        panic!("expected a local-file plan, got {plan:?}")
    };
    let path = local_root::resolve(tree.path(), &rel).unwrap();
    assert_eq!(std::fs::read_to_string(path).unwrap(), "alpha");

    std::fs::remove_file(tree.path().join("docs/a.txt")).unwrap();
    match local.fetch(&cx, entry).await {
        Err(CallError::Provider {
            error: ProviderError::NotFound(_),
            ..
        }) => {}
        other => panic!("expected not-found, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_root_is_a_clear_error() {
    let rt = Runtime::new(settings()).unwrap();
    let local = load_local(&rt).await;
    let err = local
        .list_all(&CallContext::default(), None, true, 10)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("no root folder was given"),
        "{err}"
    );
    let gone = CallContext {
        root: Some("/definitely/not/here".into()),
        ..Default::default()
    };
    let err = local.list_all(&gone, None, true, 10).await.unwrap_err();
    // Named, and why, whichever way the provider reads it (WASI or the host's root calls).
    let said = err.to_string();
    assert!(
        said.contains("/definitely/not/here") && said.contains("No such file"),
        "{err}"
    );
}

/// A folder of names that are legal on disk but odd: one that is not UTF-8 (Latin-1), a
/// backslash, a newline, a tab, spaces at both ends, 255-byte names, names differing only in
/// case, a literal `‛`, a FIFO and a symlink out of the root. Synced by the real engine through
/// the real component into the local object folder: every regular file byte for byte, the FIFO
/// and the escaping link recorded as skipped with their reasons, and a re-sync changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_names_sync_byte_for_byte() {
    use p8sync::blob::BlobStore;
    use p8sync::blob::local::LocalBlobStore;
    use p8sync::runtime::{Registry, names};
    use p8sync::store::{FileStatus, SyncConfig};
    use p8sync::sync::{SyncEngine, SyncOptions};
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    use std::sync::Arc;

    let outside = make_tree(&[("secret.txt", "outside the root")]);
    let tree = tempfile::tempdir().unwrap();
    let root = tree.path();
    let long_ascii = format!("{}.txt", "n".repeat(251));
    let long_utf8 = format!("{}x.txt", "é".repeat(125));
    assert_eq!((long_ascii.len(), long_utf8.len()), (255, 255));
    // Raw names and their contents (each different, so a mix-up shows).
    let files: Vec<(Vec<u8>, Vec<u8>)> = vec![
        (b"caf\xE9.txt".to_vec(), b"Latin-1 name".to_vec()),
        (
            "caf‛E9.txt".into(),
            b"a literal quote, not the byte E9".to_vec(),
        ),
        (b"back\\slash.txt".to_vec(), b"backslash".to_vec()),
        (b"new\nline.txt".to_vec(), b"newline".to_vec()),
        (b"tab\there.txt".to_vec(), b"tab".to_vec()),
        (b" spaces at both ends ".to_vec(), b"spaces".to_vec()),
        (long_ascii.clone().into_bytes(), b"255 ASCII bytes".to_vec()),
        (
            long_utf8.clone().into_bytes(),
            b"255 bytes of UTF-8".to_vec(),
        ),
        (b"Case.txt".to_vec(), b"upper".to_vec()),
        (b"case.txt".to_vec(), b"lower".to_vec()),
        (b"d\xFCr/inner \xFF.bin".to_vec(), vec![0, 159, 255, 10, 13]),
    ];
    for (raw, content) in &files {
        let path = root.join(OsStr::from_bytes(raw));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    let status = std::process::Command::new("mkfifo")
        .arg(root.join("pipe"))
        .status()
        .unwrap();
    assert!(status.success());
    std::os::unix::fs::symlink(outside.path().join("secret.txt"), root.join("escape")).unwrap();

    let (store, _db) = sqlite_store().await;
    let objects = tempfile::tempdir().unwrap();
    let blob: Arc<dyn BlobStore> = Arc::new(LocalBlobStore::new(objects.path()));
    let rt = Runtime::new(settings()).unwrap();
    let registry = Registry::from_providers([load_local(&rt).await]);
    let engine = SyncEngine::new(
        store.clone(),
        blob.clone(),
        Arc::new(registry),
        SyncOptions::default(),
    );
    let user = "5c1b2f3e-0000-4000-8000-0000000000ab".parse().unwrap();
    let mut config = SyncConfig::new(user, "local", "odd names");
    config.provider_config = serde_json::json!({ "root": root.display().to_string() });
    store.put_config(&config).await.unwrap();

    // Nothing may hang: the whole run has a deadline.
    let run = |config: SyncConfig| {
        let engine = &engine;
        async move {
            tokio::time::timeout(std::time::Duration::from_secs(60), engine.run(&config))
                .await
                .expect("the sync hung")
                .unwrap()
        }
    };
    let report = run(config.clone()).await;
    assert_eq!(
        (report.files_synced, report.files_failed),
        (files.len() as u64, 0),
        "{report:?}"
    );
    assert_eq!(report.files_skipped, 2, "the FIFO and the escaping link");

    let rows = store.files(config.id).await.unwrap();
    for (raw, content) in &files {
        let id = raw
            .split(|b| *b == b'/')
            .map(names::encode)
            .collect::<Vec<_>>()
            .join("/");
        let row = rows
            .iter()
            .find(|r| r.remote_id == id)
            .unwrap_or_else(|| panic!("no row for {id:?}"));
        assert_eq!(
            row.status,
            FileStatus::Synced,
            "{id:?}: {:?}",
            row.error_message
        );
        // The id decodes back to the very name on disk.
        let decoded: Vec<Vec<u8>> = row
            .remote_id
            .split('/')
            .map(|n| names::decode(n).unwrap())
            .collect();
        assert_eq!(decoded.join(&b'/'), *raw);
        assert_eq!(
            row.remote_name.as_deref(),
            Some(names::encode(raw.rsplit(|b| *b == b'/').next().unwrap()).as_str())
        );
        let key = p8sync::blob::ObjectKey::from_uri(row.s3_uri.as_deref().unwrap()).unwrap();
        assert_eq!(&read_object(blob.as_ref(), &key).await, content, "{id:?}");
    }
    let skipped = |id: &str| {
        let row = rows.iter().find(|r| r.remote_id == id).unwrap();
        assert_eq!(row.status, FileStatus::Skipped, "{id}");
        row.error_message.clone().unwrap_or_default()
    };
    let r = skipped("pipe");
    assert!(r.contains("FIFO"), "{r}");
    let r = skipped("escape");
    assert!(r.contains("outside the root"), "{r}");
    assert_eq!(rows.len(), files.len() + 2);

    // Nothing changed: nothing moves, nothing fails.
    let again = run(config.clone()).await;
    assert_eq!(
        (
            again.files_synced,
            again.files_unchanged,
            again.files_failed,
            again.files_deleted
        ),
        (0, files.len() as u64, 0, 0),
        "{again:?}"
    );
    assert!(again.success, "{again:?}");

    // A FIFO swapped in for a listed file is refused at once, by the provider and by the
    // host's open, and the next run records it as skipped rather than hanging.
    let cx = cx(root);
    let local = load_local(&rt).await;
    let page = local.list_all(&cx, None, true, 10).await.unwrap();
    let entry = page
        .entries
        .iter()
        .find(|e| e.id == "tab\there.txt")
        .unwrap()
        .clone();
    std::fs::remove_file(root.join("tab\there.txt")).unwrap();
    let status = std::process::Command::new("mkfifo")
        .arg(root.join("tab\there.txt"))
        .status()
        .unwrap();
    assert!(status.success());
    let started = std::time::Instant::now();
    let err = local.fetch(&cx, &entry).await.unwrap_err();
    assert!(err.to_string().contains("FIFO"), "{err}");
    let err = local_root::open_async(root, "tab\there.txt")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("FIFO"), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    let after = run(config.clone()).await;
    assert_eq!(after.files_failed, 0, "{after:?}");
    assert_eq!(after.files_skipped, 3, "{after:?}");
}

/// A local-root component built against `p8:provider@0.1.0` (the frozen WIT of the old-local
/// test component) still loads and runs on this 0.1.1 host, and its `local-file` paths are
/// read as the plain paths they are: a name holding the encoding's quote `‛` is still the file
/// it named (the host encodes a 0.1.0 plan before it decodes it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_0_1_0_component_still_runs_and_its_plain_paths_stay_plain() {
    use std::io::Read;
    let tree = make_tree(&[
        ("plain.txt", "plain"),
        ("quote‛E9.txt", "a literal quote, not the byte E9"),
    ]);
    let rt = Runtime::new(settings()).unwrap();
    let old = load_test(&rt, "old-local").await;
    assert_eq!(old.source().wit_version.to_string(), "0.1.0");
    let cx = cx(tree.path());
    let page = old.list_all(&cx, None, false, 10).await.unwrap();
    let ids: Vec<&str> = page.entries.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["plain.txt", "quote‛E9.txt"]);
    let mut plans = Vec::new();
    for entry in &page.entries {
        let FetchPlan::LocalFile(rel) = old.fetch(&cx, entry).await.unwrap() else {
            panic!("expected a local-file plan")
        };
        let mut text = String::new();
        local_root::open(tree.path(), &rel)
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(
            text,
            std::fs::read_to_string(tree.path().join(&entry.id)).unwrap()
        );
        plans.push(rel);
    }
    assert_eq!(plans, ["plain.txt", "quote‛‛E9.txt"]);
}
