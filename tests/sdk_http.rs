//! The SDK's HTTP client over the host's mediated `wasi:http` is reliable: hundreds of requests,
//! no spurious failures (a known wstd bug fails a few percent of GETs with "connection reset").

use p8sync::runtime::types::ListRequest;
use p8sync::runtime::{CallContext, Runtime};
use p8sync_e2e::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundreds_of_requests_without_a_failure() {
    let server =
        TestServer::start(|_| (200, r#"[{"id":"a","name":"a.txt","size":1}]"#.into())).await;
    let rt = Runtime::new(with_api_base(settings(), "test_http_echo", &server.base())).unwrap();
    let provider = load_test(&rt, "http-echo").await;
    let request = ListRequest {
        folder_id: None,
        recursive: true,
        cursor: None,
        page_size_hint: 10,
    };
    let mut failures = Vec::new();
    const N: usize = 300;
    for i in 0..N {
        match provider.list(&CallContext::default(), &request).await {
            Ok(page) => assert_eq!(page.entries.len(), 1),
            Err(e) => failures.push(format!("request {i}: {e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {N} failed: {failures:?}",
        failures.len()
    );
    assert_eq!(server.requests().len(), N);
}
