//! The sandbox holds against misbehaving components: each one ends in its own specific error,
//! the host stays healthy, and a well-behaved provider running alongside is unaffected.

use p8sync::runtime::policy::Violation;
use p8sync::runtime::types::{EntryKind, ListRequest, ProviderError};
use p8sync::runtime::{CallContext, CallError, Provider, Runtime};
use p8sync_e2e::*;

fn request() -> ListRequest {
    ListRequest {
        folder_id: None,
        recursive: true,
        cursor: None,
        page_size_hint: 100,
    }
}

async fn list(p: &Provider, cx: &CallContext) -> Result<usize, CallError> {
    p.list(cx, &request()).await.map(|page| page.entries.len())
}

fn config(pairs: &[(&str, &str)]) -> CallContext {
    let mut cx = CallContext::default();
    for (k, v) in pairs {
        cx.config.insert(k.to_string(), v.to_string());
    }
    cx
}

/// What each misbehaving component must produce.
fn check_spin(r: Result<usize, CallError>) {
    match r {
        Err(CallError::Deadline {
            provider, limit, ..
        }) => {
            assert_eq!(provider, "test_spin_forever");
            assert_eq!(limit, settings().limits.call_timeout);
        }
        other => panic!("expected a deadline error, got {other:?}"),
    }
}

fn check_alloc(r: Result<usize, CallError>) {
    match r {
        Err(e @ CallError::MemoryLimit { .. }) => {
            let CallError::MemoryLimit {
                limit_mib,
                requested_mib,
                ..
            } = &e
            else {
                unreachable!()
            };
            assert_eq!(*limit_mib, 64);
            assert!(*requested_mib > 64, "{e}");
            assert!(e.to_string().contains("over its limit of 64 MiB"), "{e}");
        }
        other => panic!("expected a memory limit error, got {other:?}"),
    }
}

fn check_undeclared(r: Result<usize, CallError>) {
    match r {
        Err(e @ CallError::Sandbox { .. }) => {
            let CallError::Sandbox { violation, .. } = &e else {
                unreachable!()
            };
            match violation {
                Violation::UndeclaredHost { host, allowed } => {
                    assert_eq!(host, "exfiltrate.example");
                    assert!(allowed.contains("api.declared.example"), "{allowed}");
                }
                v => panic!("expected an undeclared-host violation, got {v:?}"),
            }
            assert!(e.to_string().contains("did not declare"), "{e}");
        }
        other => panic!("expected a sandbox refusal, got {other:?}"),
    }
}

fn check_private(r: Result<usize, CallError>) {
    match r {
        Err(e @ CallError::Sandbox { .. }) => {
            let CallError::Sandbox { violation, .. } = &e else {
                unreachable!()
            };
            match violation {
                Violation::PrivateAddress { host, addr, kind } => {
                    assert_eq!(host, "localhost");
                    assert!(addr.is_loopback(), "{addr}");
                    assert_eq!(*kind, "loopback");
                }
                v => panic!("expected a private-address violation, got {v:?}"),
            }
            assert!(e.to_string().contains("P8_ALLOW_PRIVATE_NETWORKS"), "{e}");
        }
        other => panic!("expected a sandbox refusal, got {other:?}"),
    }
}

fn check_own_auth(r: Result<usize, CallError>) {
    match r {
        Err(CallError::Sandbox { violation, .. }) => assert_eq!(
            violation,
            Violation::CredentialHeader {
                header: "authorization".into()
            }
        ),
        other => panic!("expected a credential-header refusal, got {other:?}"),
    }
}

fn check_passwd(r: Result<usize, CallError>) {
    match r {
        Err(e @ CallError::Provider { .. }) => {
            let text = e.to_string();
            assert!(text.contains("could not read host files"), "{text}");
            assert!(text.contains("/etc/passwd"), "{text}");
            assert!(
                !text.contains("root:x:0"),
                "the sandbox leaked /etc/passwd: {text}"
            );
            assert!(matches!(
                e.provider_error(),
                Some(ProviderError::Permanent(_))
            ));
        }
        other => panic!("expected the provider's own failure to read, got {other:?}"),
    }
}

fn check_trap(r: Result<usize, CallError>) {
    match r {
        Err(e @ CallError::Trap { .. }) => {
            let CallError::Trap { detail, .. } = &e else {
                unreachable!()
            };
            let detail = detail.as_deref().unwrap_or_default();
            assert!(
                detail.contains("test component gave up: index 7 out of 0 items"),
                "{e}"
            );
            assert!(e.to_string().contains("crashed"), "{e}");
        }
        other => panic!("expected a trap, got {other:?}"),
    }
}

fn check_absurd_entries(r: Result<usize, CallError>) {
    match r {
        Err(e @ CallError::InvalidOutput { .. }) => {
            assert!(
                e.to_string()
                    .contains("a page holds 200000 entries; the limit is 10000"),
                "{e}"
            )
        }
        other => panic!("expected invalid output, got {other:?}"),
    }
}

fn check_absurd_string(r: Result<usize, CallError>) {
    match r {
        Err(e @ CallError::InvalidOutput { .. }) => assert!(
            e.to_string()
                .contains("the name of entry `huge` is 104857600 bytes long"),
            "{e}"
        ),
        other => panic!("expected invalid output, got {other:?}"),
    }
}

fn runtime() -> Runtime {
    Runtime::new(settings()).expect("runtime")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spinning_provider_is_stopped_at_its_deadline() {
    let rt = runtime();
    let p = load_test(&rt, "spin-forever").await;
    let started = std::time::Instant::now();
    check_spin(list(&p, &CallContext::default()).await);
    assert!(started.elapsed() < settings().limits.call_timeout * 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allocation_bomb_hits_the_memory_cap() {
    let rt = runtime();
    let p = load_test(&rt, "alloc-bomb").await;
    check_alloc(list(&p, &CallContext::default()).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undeclared_host_is_refused() {
    let rt = runtime();
    let p = load_test(&rt, "undeclared-host").await;
    check_undeclared(list(&p, &CallContext::default()).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declared_name_cannot_reach_loopback() {
    let server = TestServer::start(|_| (200, "leaked".into())).await;
    let rt = runtime();
    let p = load_test(&rt, "private-address").await;
    let cx = config(&[("target_url", &format!("https://localhost:{}/", server.port))]);
    check_private(list(&p, &cx).await);
    assert_eq!(
        *server.connections.lock().unwrap(),
        0,
        "a connection reached the loopback server"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ip_literal_to_a_private_address_is_refused_too() {
    // Same component, but it names a private address directly (an operator allowed the host
    // name through P8_..._ALLOWED_HOSTS, not the network).
    let mut s = settings();
    s.overrides.set(
        "test_undeclared_host",
        p8sync::config::ProviderOverrides {
            extra_hosts: vec!["169.254.169.254:*".into()],
            ..Default::default()
        },
    );
    let rt = Runtime::new(s).unwrap();
    let p = load_test(&rt, "undeclared-host").await;
    let cx = config(&[("target_url", "https://169.254.169.254/latest/meta-data/")]);
    match list(&p, &cx).await {
        Err(CallError::Sandbox {
            violation: Violation::PrivateAddress { kind, .. },
            ..
        }) => assert_eq!(kind, "link-local"),
        other => panic!("expected a private-address refusal, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_cannot_set_its_own_authorization() {
    let server = TestServer::start(|_| (200, "[]".into())).await;
    let rt = Runtime::new(with_api_base(
        settings(),
        "test_own_authorization",
        &server.base(),
    ))
    .unwrap();
    let p = load_test(&rt, "own-authorization").await;
    check_own_auth(list(&p, &CallContext::default()).await);
    for req in server.requests() {
        assert_ne!(
            req.header("authorization"),
            Some("Bearer guest-made-this-up")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_cannot_read_host_files() {
    let rt = runtime();
    let p = load_test(&rt, "read-passwd").await;
    check_passwd(list(&p, &CallContext::default()).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trap_is_reported_with_the_panic_message() {
    let rt = runtime();
    let p = load_test(&rt, "trap").await;
    check_trap(list(&p, &CallContext::default()).await);
    // The provider is still usable: each call has a fresh instance.
    check_trap(list(&p, &CallContext::default()).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absurd_data_is_refused() {
    // Enough memory for the guest to build its absurd answer, so the host's checks are what
    // stop it (with less, the memory cap stops it first).
    let mut s = settings();
    s.limits.memory_bytes = 256 * 1024 * 1024;
    let rt = Runtime::new(s).unwrap();
    let p = load_test(&rt, "absurd-data").await;
    check_absurd_entries(list(&p, &CallContext::default()).await);
    check_absurd_string(list(&p, &config(&[("mode", "string")])).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misbehaving_providers_do_not_disturb_a_good_one() {
    let mut s = settings();
    s.limits.memory_bytes = 256 * 1024 * 1024;
    let rt = Runtime::new(s).unwrap();
    let server = TestServer::start(|_| (200, "leaked".into())).await;
    let tree = make_tree(&[
        ("a.txt", "alpha"),
        ("sub/b.md", "bravo!"),
        ("sub/deeper/c.csv", "x,y\n"),
    ]);

    let spin = load_test(&rt, "spin-forever").await;
    let bomb = load_test(&rt, "alloc-bomb").await;
    let undeclared = load_test(&rt, "undeclared-host").await;
    let private = load_test(&rt, "private-address").await;
    let own_auth = load_test(&rt, "own-authorization").await;
    let passwd = load_test(&rt, "read-passwd").await;
    let trap = load_test(&rt, "trap").await;
    let absurd = load_test(&rt, "absurd-data").await;
    let local = load_local(&rt).await;

    let private_cx = config(&[("target_url", &format!("https://localhost:{}/", server.port))]);
    let local_cx = CallContext {
        root: Some(tree.path().to_path_buf()),
        ..Default::default()
    };
    let empty = CallContext::default();

    let good = async {
        // Several listings while the others misbehave.
        let mut ids_seen = Vec::new();
        for _ in 0..5 {
            let page = local
                .list_all(&local_cx, None, true, 10)
                .await
                .expect("local listing");
            let mut ids: Vec<String> = page
                .entries
                .iter()
                .filter(|e| e.kind == EntryKind::File)
                .map(|e| e.id.clone())
                .collect();
            ids.sort();
            ids_seen.push(ids);
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        ids_seen
    };
    let (s, b, u, pr, oa, pw, t, a, listings) = tokio::join!(
        list(&spin, &empty),
        list(&bomb, &empty),
        list(&undeclared, &empty),
        list(&private, &private_cx),
        list(&own_auth, &empty),
        list(&passwd, &empty),
        list(&trap, &empty),
        list(&absurd, &empty),
        good,
    );
    check_spin(s);
    // This runtime's cap is 256 MiB.
    match b {
        Err(CallError::MemoryLimit { limit_mib, .. }) => assert_eq!(limit_mib, 256),
        other => panic!("expected a memory limit error, got {other:?}"),
    }
    check_undeclared(u);
    check_private(pr);
    check_own_auth(oa);
    check_passwd(pw);
    check_trap(t);
    check_absurd_entries(a);
    for ids in listings {
        assert_eq!(ids, vec!["a.txt", "sub/b.md", "sub/deeper/c.csv"]);
    }
    // And the runtime is still healthy afterwards.
    let page = local.list_all(&local_cx, None, true, 10).await.unwrap();
    assert_eq!(page.entries.len(), 5);
}
