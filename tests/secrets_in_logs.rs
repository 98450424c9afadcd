//! Tokens never reach a log line, even with every target at trace level, and the host (not the
//! guest) attaches them. These tests capture the process's logs at trace level, so they have a
//! test binary of their own: every other end-to-end test is in `e2e`, which logs nothing.

use p8sync::oauth::Grant;
use p8sync::runtime::types::ListRequest;
use p8sync::runtime::{CallContext, Runtime, StaticToken};
use p8sync::secret::Secret;
use p8sync_e2e::drive_sync::*;
use p8sync_e2e::*;
use std::sync::Arc;

const TOKEN: &str = "ya29.TEST-TOKEN-must-never-be-logged-5f2c";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_injected_by_the_host_and_never_logged() {
    let server = TestServer::start(|req| {
        if req.header("authorization") == Some(&format!("Bearer {TOKEN}")) {
            (
                200,
                r#"[{"id":"f1","name":"one.txt","size":3},{"id":"f2","name":"two.txt","size":5}]"#
                    .into(),
            )
        } else {
            (401, r#"{"error":"missing or wrong token"}"#.into())
        }
    })
    .await;
    let rt = Runtime::new(with_api_base(settings(), "test_http_echo", &server.base())).unwrap();
    let provider = load_test(&rt, "http-echo").await;

    // Capture everything from here on, every target at trace level.
    let logs = CapturedLogs::global();
    let request = ListRequest {
        folder_id: None,
        recursive: true,
        cursor: None,
        page_size_hint: 10,
    };

    // With the credential: the server sees the token and the listing works.
    let cx = CallContext {
        credentials: Some(Arc::new(StaticToken::bearer(&Secret::new(TOKEN)))),
        ..Default::default()
    };
    let page = provider
        .list(&cx, &request)
        .await
        .expect("listing with a token");
    let names: Vec<&str> = page.entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, vec!["one.txt", "two.txt"]);

    // Without it: the provider reports unauthorized, and the error does not carry the token.
    let err = provider
        .list(&CallContext::default(), &request)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("unauthorized"), "{err}");

    let seen = server.requests();
    assert_eq!(seen.len(), 2);
    assert_eq!(
        seen[0].header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(seen[1].header("authorization"), None);

    let text = logs.text();
    // The capture really holds trace output from the provider and the HTTP stack.
    assert!(
        text.contains("listing http://127.0.0.1"),
        "provider debug log missing:\n{text}"
    );
    assert!(
        text.contains("response headers"),
        "provider trace log missing:\n{text}"
    );
    assert!(text.contains("TRACE"), "no trace-level lines captured");
    assert!(!text.contains(TOKEN), "the token appeared in the logs");
    assert!(
        !text.contains("TEST-TOKEN"),
        "part of the token appeared in the logs"
    );
    assert!(!err.to_string().contains("TEST-TOKEN"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
/// A whole Drive sync with a token refresh in the middle: neither the old nor the new tokens reach
/// the logs or the database in clear.
async fn drive_tokens_appear_in_neither_logs_nor_the_database() {
    let d = drive().await;
    let e = populate(&d.fake, 2);
    let logs = CapturedLogs::global();
    // A refresh happens during the run, so old and new tokens both pass through the host.
    let (old_access, old_refresh) = d.fake.issue_tokens();
    d.tokens
        .save_grant(
            user(),
            PROVIDER,
            &Grant {
                access_token: Secret::new(old_access.clone()),
                refresh_token: Some(Secret::new(old_refresh.clone())),
                expires_at: Some(chrono::Utc::now()),
                scopes: None,
            },
            None,
            &p8sync::oauth::AccountChoice::default(),
        )
        .await
        .unwrap();
    d.fake.set_rotate_refresh_tokens(true);
    d.sync().await;
    check(&d, &e).await;
    assert_eq!(d.fake.counts().token_refresh, 1);
    let account = d.tokens.account(user(), PROVIDER, None).await.unwrap();
    let (new_access, new_refresh) = d.tokens.tokens(&account).unwrap();
    let new_refresh = new_refresh.unwrap();
    assert_ne!(
        new_refresh.expose(),
        old_refresh,
        "the rotated refresh token was saved"
    );
    let text = logs.text();
    assert!(text.len() > 10_000, "trace logging captured too little");
    // The whole database, as text.
    let dump = database_dump(&d).await;
    assert!(
        dump.contains("google_drive"),
        "the dump has the credential row"
    );
    for secret in [
        old_access.as_str(),
        old_refresh.as_str(),
        new_access.expose(),
        new_refresh.expose(),
    ] {
        assert!(!text.contains(secret), "a token reached the logs");
        assert!(!dump.contains(secret), "a token is stored in clear");
    }
}
