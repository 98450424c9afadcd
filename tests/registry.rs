//! Loading providers: the registry, the artifact cache, and every way a file can be unusable.

use p8sync::runtime::cache::CacheOutcome;
use p8sync::runtime::{LoadError, Registry, Runtime};
use p8sync_e2e::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shipped_providers_load_and_unknown_ids_name_the_available_ones() {
    let rt = Runtime::new(settings()).unwrap();
    let registry = Registry::load_dir(&rt, &providers_dir()).await.unwrap();
    assert!(registry.problems().is_empty(), "{:?}", registry.problems());
    let local = registry.get("local").unwrap();
    assert_eq!(local.info().display_name, "Local folder");
    assert_eq!(local.source().wit_version.to_string(), "0.1.1");

    let err = registry.get("gooogle_drive").unwrap_err();
    let text = err.to_string();
    assert!(text.contains("unknown provider `gooogle_drive`"), "{text}");
    // Every shipped provider is named, sorted (the list grows as providers are added).
    let (_, names) = text.split_once("available providers: ").expect(&text);
    let names: Vec<&str> = names.split(", ").collect();
    assert!(
        names.contains(&"google_drive") && names.contains(&"local"),
        "{text}"
    );
    assert!(names.is_sorted(), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_files_are_reported_by_name_and_the_rest_still_load() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read(provider_wasm("local-folder")).unwrap();
    std::fs::write(dir.path().join("local.wasm"), &good).unwrap();
    std::fs::write(dir.path().join("garbage.wasm"), b"this is not wasm at all").unwrap();
    // A real component, cut in half.
    std::fs::write(dir.path().join("truncated.wasm"), &good[..good.len() / 2]).unwrap();
    // A core module (the empty module) instead of a component.
    std::fs::write(dir.path().join("core.wasm"), b"\0asm\x01\0\0\0").unwrap();
    std::fs::copy(test_wasm("wrong-version"), dir.path().join("future.wasm")).unwrap();
    std::fs::copy(test_wasm("not-a-provider"), dir.path().join("tool.wasm")).unwrap();
    std::fs::write(dir.path().join("notes.txt"), "ignored: not a .wasm file").unwrap();

    let rt = Runtime::new(settings()).unwrap();
    p8sync::runtime::lock::approve_file(&rt, &dir.path().join("local.wasm"), None)
        .await
        .unwrap();
    let registry = Registry::load_dir(&rt, dir.path()).await.unwrap();
    assert_eq!(registry.ids(), vec!["local"]);

    let problem = |file: &str| {
        registry
            .problems()
            .iter()
            .find(|p| p.to_string().contains(file))
            .unwrap_or_else(|| panic!("no problem reported for {file}: {:?}", registry.problems()))
    };
    assert!(matches!(problem("garbage.wasm"), LoadError::NotWasm { .. }));
    assert!(matches!(
        problem("truncated.wasm"),
        LoadError::Invalid { .. }
    ));
    assert!(matches!(problem("core.wasm"), LoadError::CoreModule { .. }));
    let future = problem("future.wasm");
    assert!(
        matches!(future, LoadError::UnsupportedVersion { .. }),
        "{future}"
    );
    let text = future.to_string();
    assert!(
        text.contains("p8:provider/provider@9.0.0") && text.contains("0.1.1"),
        "{text}"
    );
    let tool = problem("tool.wasm");
    assert!(matches!(tool, LoadError::NotAProvider { .. }), "{tool}");
    assert!(
        tool.to_string().contains("acme:tools/greet@1.0.0"),
        "{tool}"
    );
    assert_eq!(registry.problems().len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_files_claiming_one_id_are_both_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(provider_wasm("local-folder"), dir.path().join("a.wasm")).unwrap();
    std::fs::copy(provider_wasm("local-folder"), dir.path().join("b.wasm")).unwrap();
    let rt = Runtime::new(settings()).unwrap();
    approve_all(dir.path());
    let registry = Registry::load_dir(&rt, dir.path()).await.unwrap();
    assert!(registry.ids().is_empty());
    match registry.problems() {
        [LoadError::DuplicateId { id, first, second }] => {
            assert_eq!(id, "local");
            assert!(first.ends_with("a.wasm") && second.ends_with("b.wasm"));
        }
        other => panic!("expected one duplicate-id problem, got {other:?}"),
    }
    let err = registry.get("local").unwrap_err();
    assert!(err.to_string().contains("none"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compiled_components_are_cached_on_disk() {
    let cache = tempfile::tempdir().unwrap();
    let mut s = settings();
    s.cache_dir = Some(cache.path().to_path_buf());
    let rt = Runtime::new(s.clone()).unwrap();
    let first = rt.load_file(&provider_wasm("local-folder")).await.unwrap();
    assert_eq!(first.source().cache, CacheOutcome::Compiled);
    let second = rt.load_file(&provider_wasm("local-folder")).await.unwrap();
    assert_eq!(second.source().cache, CacheOutcome::Hit);
    // A new process (a new runtime with the same settings) hits the cache too.
    let again = Runtime::new(s).unwrap();
    let third = again
        .load_file(&provider_wasm("local-folder"))
        .await
        .unwrap();
    assert_eq!(third.source().cache, CacheOutcome::Hit);
    assert_eq!(third.id(), "local");

    // A damaged artifact is discarded and recompiled, not trusted.
    let artifact = walk(cache.path())
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .unwrap();
    std::fs::write(&artifact, b"corrupted").unwrap();
    let fourth = again
        .load_file(&provider_wasm("local-folder"))
        .await
        .unwrap();
    assert_eq!(fourth.source().cache, CacheOutcome::Compiled);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
