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
    assert!(
        err.to_string()
            .contains("cannot open the root folder /definitely/not/here"),
        "{err}"
    );
}
