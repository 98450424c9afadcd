//! docs/writing-a-provider.md, tried as a new author would: the template copied out of the
//! repository, the guide's marked commands run exactly as written (rename, build, inspect,
//! `p8sync provider test` live, recording and replaying) against a fake of the example API;
//! the fake behaves like a sane API; the template maps the API's own failures; and the
//! template's cassette for the shipped-provider check is recorded against the fake and
//! replays offline.
//!
//! `P8_RECORD_CASSETTES=1 cargo test -p p8sync-e2e --test e2e -- guide::` writes
//! `tests/cassettes/example.json` again.

use p8sync::config::ProviderOverrides;
use p8sync::conformance::cassette::Cassette;
use p8sync::conformance::{self, Mode, Options, TestCredential};
use p8sync::secret::Secret;
use p8sync_e2e::conformance_checks::assert_checks_pass;
use p8sync_e2e::example_api::ExampleApi;
use p8sync_e2e::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The marker, on its own line, before each command block the test runs.
const MARKER: &str = "<!-- guide-test -->";

/// The guide's marked `sh` blocks, in order.
fn guide_steps() -> Vec<String> {
    let text = std::fs::read_to_string(workspace().join("docs/writing-a-provider.md"))
        .expect("docs/writing-a-provider.md");
    let mut steps = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.trim() != MARKER {
            continue;
        }
        let fence = lines.next().unwrap_or_default();
        assert_eq!(
            fence.trim(),
            "```sh",
            "a {MARKER} marker must be followed by a ```sh block"
        );
        let block: Vec<&str> = lines.by_ref().take_while(|l| l.trim() != "```").collect();
        steps.push(block.join("\n"));
    }
    steps
}

/// Files for the fake: folders, odd names, an empty file, one bigger than a read buffer.
fn fixture(api: &ExampleApi) {
    api.add_file("", "readme.md", "# hello\n");
    api.add_file("Work", "plan 2024.txt", "the plan\n".repeat(40));
    api.add_file("Work/Reports", "q3 résumé.pdf", vec![0x25u8; 70_000]);
    api.add_file("Work/Reports", "empty.txt", "");
    api.add_file(
        "Photos",
        "cat.jpg",
        (0..=255u8).cycle().take(5000).collect::<Vec<_>>(),
    );
}

fn run_step(step: &str, dir: &Path, api: &ExampleApi) -> String {
    let bin_dir = p8sync_bin().parent().unwrap().to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("bash")
        .arg("-euo")
        .arg("pipefail")
        .arg("-c")
        .arg(step)
        .current_dir(dir)
        .env("P8SYNC", workspace().canonicalize().unwrap())
        .env("PATH", path)
        .env("P8_ACME_API_BASE", api.api_base())
        .env("ACME_TOKEN", api.token())
        // The guide's paths are relative to the copy: no redirected target directory.
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET_DIR")
        .env_remove("P8_DATA_DIR")
        .output()
        .expect("running bash");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "the guide's step failed:\n{step}\n--- stdout\n{stdout}\n--- stderr\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn the_guide_takes_the_template_to_a_passing_provider() {
    let steps = guide_steps();
    assert!(
        steps.len() >= 5,
        "the guide lost its tested steps (copy, build, inspect, test, record/replay): {steps:?}"
    );
    assert!(steps[0].contains("providers/template"), "{}", steps[0]);
    let api = ExampleApi::start();
    fixture(&api);
    // A scratch directory outside the workspace, as a new author's would be.
    let scratch = tempfile::tempdir().unwrap();
    assert!(
        !scratch
            .path()
            .starts_with(workspace().canonicalize().unwrap())
    );
    run_step(&steps[0], scratch.path(), &api);
    let copy = scratch.path().join("acme");
    assert!(
        copy.join("Cargo.toml").is_file(),
        "the first step makes acme/"
    );
    // A build directory kept between runs, so only the first run compiles the dependencies.
    let target: PathBuf = workspace().join("target/guide");
    std::fs::create_dir_all(&target).unwrap();
    std::os::unix::fs::symlink(&target, copy.join("target")).unwrap();

    let outputs: Vec<String> = steps[1..]
        .iter()
        .map(|step| run_step(step, &copy, &api))
        .collect();
    let all = outputs.join("\n");

    assert!(
        all.contains("id:            acme"),
        "inspect did not show the renamed provider:\n{all}"
    );
    assert!(all.contains("hosts:         api.example.com"), "{all}");
    assert!(!all.contains("FAIL"), "{all}");
    for check in [
        "info",
        "list.terminates",
        "list.resumable",
        "list.stable-ids",
        "entries.fields",
        "fetch.declared-hosts",
        "fetch.bytes",
        "errors.401",
        "errors.403",
        "errors.404",
        "errors.429",
        "errors.500",
        "limits",
        "replay.complete",
    ] {
        assert!(
            all.contains(&format!("PASS  {check}")),
            "`{check}` did not pass:\n{all}"
        );
    }
    // The live checks really went to the fake, and the recording holds no token.
    assert!(api.requests() > 10, "{} requests", api.requests());
    let cassette = std::fs::read_to_string(copy.join("acme.json")).unwrap();
    assert!(
        !cassette.contains(&api.token()),
        "the token is in the cassette"
    );
}

fn options(mode: Mode) -> Options {
    let mut s = settings();
    s.limits.call_timeout = Duration::from_secs(20);
    s.limits.memory_bytes = 128 * 1024 * 1024;
    Options {
        component: provider_wasm("template"),
        mode,
        config: BTreeMap::new(),
        credential: None,
        root: None,
        settings: s,
        page_size: 3,
        max_fetches: 20,
        max_pages: 1_000,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_template_records_against_the_fake_and_replays_offline() {
    let api = ExampleApi::start();
    fixture(&api);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("template.json");
    let mut o = options(Mode::Record(path.clone()));
    o.settings.overrides.set(
        "example",
        ProviderOverrides {
            api_base: Some(api.api_base()),
            ..Default::default()
        },
    );
    o.credential = Some(TestCredential::Bearer(Secret::new(api.token())));
    let live = conformance::run(o).await.unwrap();
    assert!(live.passed(), "{live}");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains(&api.token()), "the token is in the cassette");
    let cassette = Cassette::load(&path).unwrap();
    assert_eq!(cassette.provider, "example");
    assert!(cassette.interactions.len() > 5);

    // The fake stops answering: the replay can't be using it.
    api.rotate_token();
    let replay = conformance::run(options(Mode::Replay(path.clone())))
        .await
        .unwrap();
    assert!(replay.passed(), "{replay}");
    assert_checks_pass(
        &replay,
        &[
            "list.terminates",
            "list.resumable",
            "entries.fields",
            "fetch.bytes",
            "errors.401",
            "errors.429",
            "errors.500",
            "replay.complete",
        ],
        " in replay",
    );

    if std::env::var("P8_RECORD_CASSETTES").is_ok_and(|v| v == "1") {
        // build-components.sh names the template's component template.wasm, and the
        // shipped-provider check looks for the cassette by that name.
        std::fs::copy(&path, workspace().join("tests/cassettes/example.json")).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_fake_behaves_like_a_sane_api() {
    let api = ExampleApi::start();
    for i in 0..5 {
        api.add_file("A", &format!("f{i}.txt"), format!("file {i}"));
    }
    let http = reqwest::Client::new();
    let get = |url: String, token: Option<String>| {
        let mut r = http.get(url);
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send()
    };
    let base = api.api_base();

    // No token, a wrong one: 401 with a JSON error body.
    let r = get(format!("{base}/files"), None).await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().contains_key("www-authenticate"));
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], 401);
    let r = get(format!("{base}/files"), Some("nope".into()))
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // Paging: every file exactly once, then no `next`.
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut url = format!("{base}/files?limit=2");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let r = get(url, Some(api.token())).await.unwrap();
        assert_eq!(r.status(), 200);
        let page: serde_json::Value = r.json().await.unwrap();
        pages += 1;
        for f in page["files"].as_array().unwrap() {
            ids.push(f["id"].as_str().unwrap().to_string());
            assert_eq!(f["sha256"].as_str().unwrap().len(), 64);
        }
        match page["next"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!((ids.len(), pages), (5, 3));
    ids.dedup();
    assert_eq!(ids.len(), 5);

    // A cursor it did not make, a bad limit: 400.
    let r = get(format!("{base}/files?cursor=2.deadbeef"), Some(api.token()))
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = get(format!("{base}/files?limit=0"), Some(api.token()))
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    // Content, and 404 for an unknown id.
    let r = get(
        format!("{base}/files/{}/content", ids[0]),
        Some(api.token()),
    )
    .await
    .unwrap();
    assert_eq!(r.text().await.unwrap(), "file 0");
    let r = get(format!("{base}/files/nope/content"), Some(api.token()))
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    // Faults: 429 with Retry-After, then a 503, then normal again.
    api.fail_next(429, 1, Some(7));
    api.fail_next(503, 1, None);
    let r = get(format!("{base}/files"), Some(api.token()))
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "7");
    let r = get(format!("{base}/files"), Some(api.token()))
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let r = get(format!("{base}/files"), Some(api.token()))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // A rotated token: the old one expires.
    let old = api.token();
    let new = api.rotate_token();
    let r = get(format!("{base}/files"), Some(old)).await.unwrap();
    assert_eq!(r.status(), 401);
    let r = get(format!("{base}/files"), Some(new)).await.unwrap();
    assert_eq!(r.status(), 200);
}

/// The template against the fake's own answers (not the harness's injected ones): its one
/// error mapping, the cursor the API refuses, and a config value that is not a number.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_template_maps_the_apis_own_failures() {
    use p8sync::runtime::types::{ListRequest, ProviderError};
    use p8sync::runtime::{CallContext, CallError, Runtime, StaticToken};
    use std::sync::Arc;

    let api = ExampleApi::start();
    fixture(&api);
    let rt = Runtime::new(with_api_base(settings(), "example", &api.api_base())).unwrap();
    let provider = rt.load_file(&provider_wasm("template")).await.unwrap();
    let cx = |token: String| CallContext {
        credentials: Some(Arc::new(StaticToken::bearer(&Secret::new(token)))),
        ..CallContext::default()
    };
    let request = |cursor: Option<String>| ListRequest {
        folder_id: None,
        recursive: true,
        cursor,
        page_size_hint: 2,
    };
    let error = |r: Result<_, CallError>| match r {
        Err(CallError::Provider { error, .. }) => error,
        Ok(_) => panic!("the call succeeded"),
        Err(e) => panic!("not a provider error: {e}"),
    };

    // The whole listing, two at a time, with folder paths.
    let mut entries = Vec::new();
    let mut cursor = None;
    loop {
        let page = provider
            .list(&cx(api.token()), &request(cursor))
            .await
            .unwrap();
        entries.extend(page.entries);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(entries.len(), 5);
    let q3 = entries.iter().find(|e| e.name == "q3 résumé.pdf").unwrap();
    assert_eq!(q3.path, ["Work", "Reports"]);
    assert_eq!(q3.size, Some(70_000));

    api.fail_next(429, 1, Some(7));
    match error(provider.list(&cx(api.token()), &request(None)).await) {
        ProviderError::RateLimited(r) => assert_eq!(r.retry_after_seconds, Some(7)),
        other => panic!("{other:?}"),
    }
    api.fail_next(503, 1, None);
    assert!(matches!(
        error(provider.list(&cx(api.token()), &request(None)).await),
        ProviderError::Transient(_)
    ));
    // A cursor in the template's format whose token the API refuses (400): start over.
    let stale = Some(r#"example.list.v1:"99.00000000""#.to_string());
    assert!(matches!(
        error(provider.list(&cx(api.token()), &request(stale)).await),
        ProviderError::CursorExpired(_)
    ));
    // A token that expired: unauthorized, and the message names no token.
    let old = api.token();
    api.rotate_token();
    match error(provider.list(&cx(old.clone()), &request(None)).await) {
        ProviderError::Unauthorized(m) => assert!(!m.contains(&old), "{m}"),
        other => panic!("{other:?}"),
    }
    // A config value that is not a number is the sync config's fault.
    let mut bad = cx(api.token());
    bad.config.insert("max_page_size".into(), "lots".into());
    assert!(matches!(
        error(provider.list(&bad, &request(None)).await),
        ProviderError::InvalidConfig(_)
    ));
}
