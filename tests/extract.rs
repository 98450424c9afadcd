//! The extractor sandbox from the host's side: a misbehaving extractor (panics, spins, hoards
//! memory, floods, breaks its contract) fails only the file it was given, with a reason that
//! names the limit, and the next file is extracted as if nothing happened; the built-in ones
//! stop at their caps where hostile files would take them.

use p8sync::config::RuntimeSettings;
use p8sync::extract::{ExtractFailure, ExtractLimits, Extractors, Input, OutputKind};
use p8sync::runtime::Runtime;
use p8sync_e2e::*;
use std::path::Path;
use std::time::{Duration, Instant};

/// Extractors from `dir` with `memory_mib` as the cap, under `limits`.
fn extractors(dir: &Path, memory_mib: u64, limits: ExtractLimits) -> Extractors {
    let mut s: RuntimeSettings = settings();
    s.limits.extractor_memory_bytes = memory_mib * 1024 * 1024;
    Extractors::new(Runtime::new(s).unwrap(), dir.to_path_buf(), limits)
}

fn input(format: &str) -> Input {
    Input {
        format: format.into(),
        mime_type: None,
        name: format!("file.{format}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_misbehaving_extractor_fails_only_its_own_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(test_wasm("bad-extractor"), dir.path().join("bad.wasm")).unwrap();
    let limits = ExtractLimits {
        timeout: Duration::from_secs(2),
        max_chars: 1000,
        ..ExtractLimits::default()
    };
    let x = extractors(dir.path(), 32, limits);
    let bad = x
        .find(OutputKind::Text, Some("ok"), None, &[])
        .await
        .expect("the bad extractor loads");
    let file = dir.path().join("input");
    std::fs::write(&file, "plain words").unwrap();

    let ok = x.text(&bad, &file, input("ok")).await.unwrap();
    assert_eq!(ok.text, "plain words");

    for (format, expect) in [
        ("panic", "crashed"),
        ("spin", "2 s time limit"),
        (
            "alloc",
            "32 MiB memory cap while reading an ever-growing buffer",
        ),
        ("wrongkind", "broke its contract"),
    ] {
        let started = Instant::now();
        let err = x.text(&bad, &file, input(format)).await.unwrap_err();
        let message = err.to_string();
        assert!(message.contains(expect), "{format}: {message}");
        match format {
            "spin" | "alloc" => assert!(matches!(err, ExtractFailure::Limit(_)), "{err:?}"),
            _ => assert!(matches!(err, ExtractFailure::Crashed(_)), "{err:?}"),
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{format} took {:?}",
            started.elapsed()
        );
        if format == "panic" {
            assert!(message.contains("panics on purpose"), "{message}");
        }
        // The next file is read by a fresh instance, as if nothing had happened.
        let ok = x.text(&bad, &file, input("ok")).await.unwrap();
        assert_eq!(ok.text, "plain words", "after {format}");
    }

    let flood = x.text(&bad, &file, input("flood")).await.unwrap();
    assert!(flood.truncated);
    assert_eq!(flood.text.chars().count(), 1000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn built_in_extractors_stop_at_the_caps() {
    let dir = tempfile::tempdir().unwrap();
    let fanout = dir.path().join("fanout.xlsx");
    std::fs::write(
        &fanout,
        p8sync_hostile::xlsx_shared_string_fanout(4 << 20, 200_000),
    )
    .unwrap();
    // A 16 MiB cap can't hold the 4 MiB string as the parser needs it: stopped, and where.
    let small = extractors(&extractors_dir(), 16, ExtractLimits::default());
    let office = small
        .find(OutputKind::Text, Some("xlsx"), None, &[])
        .await
        .unwrap();
    let err = small
        .text(&office, &fanout, input("xlsx"))
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, ExtractFailure::Limit(_)), "{err:?}");
    assert!(message.contains("16 MiB memory cap"), "{message}");
    assert!(message.contains("xl/sharedStrings.xml"), "{message}");

    // With room, the text is cut at the character cap and said so.
    let x = extractors(
        &extractors_dir(),
        256,
        ExtractLimits {
            max_chars: 100_000,
            ..ExtractLimits::default()
        },
    );
    let office = x
        .find(OutputKind::Text, Some("xlsx"), None, &[])
        .await
        .unwrap();
    let out = x.text(&office, &fanout, input("xlsx")).await.unwrap();
    assert!(out.truncated);
    assert_eq!(out.text.chars().count(), 100_000);

    // A decompression bomb is stopped by the budget, which names the stream.
    let bomb = dir.path().join("bomb.pdf");
    std::fs::write(&bomb, p8sync_hostile::pdf_double_flate_bomb(1 << 30)).unwrap();
    let pdf = x
        .find(OutputKind::Text, None, Some("application/pdf"), &[])
        .await
        .unwrap();
    let err = x.text(&pdf, &bomb, input("pdf")).await.unwrap_err();
    let message = err.to_string();
    assert!(message.contains("decompressed bytes"), "{message}");
    assert!(message.contains("stream 4 0 R"), "{message}");
}
