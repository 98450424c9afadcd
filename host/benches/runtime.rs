//! Provider runtime benchmarks: cold and cached component loads, instantiation from the
//! prepared instance, and a `list` round trip of 1,000 entries through the local provider.
//!
//! Needs the components built first: `scripts/build-components.sh`, then
//! `cargo bench -p p8sync --bench runtime`.

use criterion::{Criterion, criterion_group, criterion_main};
use p8sync::config::RuntimeSettings;
use p8sync::runtime::types::ListRequest;
use p8sync::runtime::{CallContext, Runtime};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn component() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/providers/local-folder.wasm");
    assert!(path.is_file(), "run scripts/build-components.sh first");
    path
}

fn bench(c: &mut Criterion) {
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let wasm = component();
    let cache = tempfile::tempdir().unwrap();

    let uncached = Runtime::new(RuntimeSettings::default()).unwrap();
    let mut group = c.benchmark_group("load");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    group.bench_function("cold (compile + prepare + info)", |b| {
        b.iter(|| tokio.block_on(uncached.load_file(&wasm)).unwrap())
    });
    group.finish();

    let cached = Runtime::new(RuntimeSettings {
        cache_dir: Some(cache.path().to_path_buf()),
        ..RuntimeSettings::default()
    })
    .unwrap();
    println!("pooling allocator: {}", cached.uses_pooling());
    tokio.block_on(cached.load_file(&wasm)).unwrap(); // warm the cache
    c.bench_function("load/cached (deserialize + prepare + info)", |b| {
        b.iter(|| tokio.block_on(cached.load_file(&wasm)).unwrap())
    });

    let provider = tokio.block_on(cached.load_file(&wasm)).unwrap();
    c.bench_function("instantiate (fresh store + instance)", |b| {
        b.iter(|| tokio.block_on(provider.instantiate_only()).unwrap())
    });

    let tree = tempfile::tempdir().unwrap();
    for i in 0..1000 {
        std::fs::write(tree.path().join(format!("file-{i:04}.txt")), "x").unwrap();
    }
    let cx = CallContext {
        root: Some(tree.path().to_path_buf()),
        ..CallContext::default()
    };
    let request = ListRequest {
        folder_id: None,
        recursive: true,
        cursor: None,
        page_size_hint: 1000,
    };
    let page = tokio.block_on(provider.list(&cx, &request)).unwrap();
    // A full page comes with a cursor (the provider cannot tell that nothing follows without
    // reading further); the call measured is the one that lists all 1,000.
    assert_eq!(page.entries.len(), 1000);
    c.bench_function("list round trip, 1,000 entries (local provider)", |b| {
        b.iter(|| tokio.block_on(provider.list(&cx, &request)).unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
