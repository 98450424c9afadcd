//! The operator, not a component, decides what a provider may reach: a component loads only
//! when `providers.lock` approves its exact bytes and everything it declares. A component that
//! wants its own server credentialed is refused until approved, and refused again when it
//! changes; while refused, its server receives nothing at all.

use p8sync_e2e::*;
use std::path::Path;
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The port `tests/components/common` gives the `greedy` components' server.
const GREEDY_PORT: u16 = 47_011;

fn p8sync(providers: &Path, data: &Path, args: &[&str]) -> (bool, String, String) {
    let out: Output = std::process::Command::new(p8sync_bin())
        .args(args)
        .env("P8_PROVIDERS_DIR", providers)
        .env("P8_DATA_DIR", data)
        .env("P8_ALLOW_PRIVATE_NETWORKS", "true")
        .env_remove("P8_PG_HOST")
        .env_remove("DATABASE_URL")
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unapproved_or_changed_component_does_not_load_and_reaches_nobody() {
    // The component's own server: it counts every connection (a token, a client secret or a
    // code could only arrive on one).
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", GREEDY_PORT))
        .await
        .expect("port 47011 is free for the greedy components' server");
    let connections = Arc::new(AtomicUsize::new(0));
    let seen = connections.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
            drop(socket);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let wasm = dir.path().join("greedy.wasm");
    std::fs::copy(test_wasm("greedy"), &wasm).unwrap();
    let tokens = dir.path().join("tokens.json");
    std::fs::write(
        &tokens,
        r#"{"access_token": "a-user-token", "refresh_token": "a-refresh-token"}"#,
    )
    .unwrap();

    // Not approved: listed as such, with the command; not usable in any way.
    let (_, out, err) = p8sync(dir.path(), data.path(), &["providers"]);
    assert!(
        out.contains("greedy") && out.contains("NOT APPROVED"),
        "{out}"
    );
    assert!(
        err.contains(&format!("p8sync provider approve {}", wasm.display())),
        "{err}"
    );
    for args in [
        vec!["list", "--provider", "greedy"],
        vec![
            "auth",
            "login",
            "--provider",
            "greedy",
            "--timeout-seconds",
            "1",
        ],
        vec![
            "auth",
            "import",
            "--provider",
            "greedy",
            "--file",
            tokens.to_str().unwrap(),
        ],
    ] {
        let (ok, out, err) = p8sync(dir.path(), data.path(), &args);
        assert!(!ok, "{args:?} worked: {out}");
        assert!(err.contains("unknown provider `greedy`"), "{args:?}: {err}");
    }
    assert_eq!(connections.load(Ordering::SeqCst), 0);

    // Approved: the lock shows exactly what it may reach.
    let (ok, out, err) = p8sync(
        dir.path(),
        data.path(),
        &["provider", "approve", wasm.to_str().unwrap()],
    );
    assert!(ok, "{err}");
    let collector = format!("localhost:{GREEDY_PORT}");
    for shown in [
        format!("api_hosts = [\"{collector}\"]"),
        format!("token_url = \"https://{collector}/token\""),
        format!("authorize_url = \"https://{collector}/authorize\""),
        format!("revoke_url = \"https://{collector}/revoke\""),
    ] {
        assert!(out.contains(&shown), "{shown} not in {out}");
    }
    let lock = std::fs::read_to_string(dir.path().join("providers.lock")).unwrap();
    assert!(lock.contains("[providers.greedy]"), "{lock}");
    assert!(lock.contains(&format!("token_url = \"https://{collector}/token\"")));
    let (_, out, _) = p8sync(dir.path(), data.path(), &["providers"]);
    assert!(
        out.contains("approved") && !out.contains("NOT APPROVED"),
        "{out}"
    );

    // Replaced by a variant that wants one more host: refused, naming the difference.
    std::fs::copy(test_wasm("greedy-more"), &wasm).unwrap();
    let (_, out, err) = p8sync(dir.path(), data.path(), &["providers"]);
    assert!(out.contains("CHANGED"), "{out}");
    assert!(
        err.contains("api_hosts: it now also wants `exfil.example`"),
        "{err}"
    );
    assert!(err.contains("the component changed"), "{err}");
    assert!(err.contains("p8sync provider approve"), "{err}");
    let (ok, _, err) = p8sync(dir.path(), data.path(), &["list", "--provider", "greedy"]);
    assert!(!ok && err.contains("unknown provider `greedy`"), "{err}");
    assert_eq!(
        connections.load(Ordering::SeqCst),
        0,
        "a refused component reached its server"
    );
}
