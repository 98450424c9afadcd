//! The fake's own checks: that it behaves as the reference says Box does.

use super::{FakeBox, Fault, Target};
use serde_json::Value;

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn get(bx: &FakeBox, token: &str, path: &str) -> (u16, Value) {
    let r = client()
        .get(format!("{}{path}", bx.api_base()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// `POST /oauth2/token` with `form`: the status and the JSON answer.
async fn post_token(bx: &FakeBox, form: &[(&str, &str)]) -> (u16, Value) {
    let r = client()
        .post(bx.token_url())
        .form(form)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn refresh_with(bx: &FakeBox, token: &str) -> (u16, Value) {
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", token),
        ("client_id", FakeBox::CLIENT_ID),
        ("client_secret", FakeBox::CLIENT_SECRET),
    ];
    post_token(bx, &form).await
}

#[tokio::test]
async fn refresh_tokens_rotate_and_clients_authenticate_in_the_body() {
    let bx = FakeBox::start().await;
    let (_, refresh) = bx.issue_tokens();
    let basic = client()
        .post(bx.token_url())
        .basic_auth(FakeBox::CLIENT_ID, Some(FakeBox::CLIENT_SECRET))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)])
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status().as_u16(), 400);
    let (status, body) = refresh_with(&bx, &refresh).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "bearer");
    let new = body["refresh_token"].as_str().unwrap();
    assert!(bx.refresh_token_is_live(new) && !bx.refresh_token_is_live(&refresh));
    let (status, body) = refresh_with(&bx, &refresh).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert_eq!(bx.counts().token_refresh_refused, 1);
}

#[tokio::test]
async fn listings_page_by_marker_and_select_fields() {
    let bx = FakeBox::start().await;
    let root = bx.root_id();
    let (access, _) = bx.issue_tokens();
    bx.add_file(&root, "b.txt", "b");
    bx.add_file(&root, "a.txt", "a");
    let sub = bx.add_folder(&root, "z");
    bx.add_file(&sub, "deep.txt", "deep");
    bx.set_max_page(2);
    let (status, page) = get(
        &bx,
        &access,
        "/folders/0/items?usemarker=true&fields=name,size",
    )
    .await;
    assert_eq!(status, 200, "{page}");
    let names: Vec<&str> = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["z", "a.txt"]);
    assert_eq!(page["entries"][0]["size"], 4);
    assert!(page["entries"][0].get("sha1").is_none() && page["entries"][0]["etag"] == "0");
    let marker = page["next_marker"].as_str().unwrap();
    let (_, last) = get(
        &bx,
        &access,
        &format!("/folders/0/items?usemarker=true&marker={marker}"),
    )
    .await;
    assert_eq!(
        last["entries"][0]["sha1"],
        bx.sha1_of(last["entries"][0]["id"].as_str().unwrap())
    );
    assert!(last.get("next_marker").is_none());
    let (status, bad) = get(
        &bx,
        &access,
        "/folders/0/items?usemarker=true&marker=nonsense",
    )
    .await;
    assert_eq!((status, bad["code"].as_str()), (400, Some("bad_request")));
    let r = client()
        .get(format!("{}/users/me", bx.api_base()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
}

#[tokio::test]
async fn content_redirects_to_the_download_server() {
    let bx = FakeBox::start().await;
    let (access, _) = bx.issue_tokens();
    let id = bx.add_file(&bx.root_id(), "f.bin", "0123456789");
    bx.not_ready_once(&id);
    let url = format!("{}/files/{id}/content", bx.api_base());
    let r = client()
        .get(&url)
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 202);
    let r = client()
        .get(&url)
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 302);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with(&bx.cdn_origin()));
    let part = client()
        .get(&location)
        .header("range", "bytes=2-4")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status().as_u16(), 206);
    assert_eq!(&part.bytes().await.unwrap()[..], b"234");
    bx.inject(Target::Cdn, Fault::CorruptBody, 1, Some(1));
    let bad = client()
        .get(&location)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(bad.len(), 10);
    assert_ne!(&bad[..], b"0123456789");
    assert_eq!(bx.cdn_authorization_seen(), 0);
}

#[tokio::test]
async fn events_continue_from_big_positions() {
    let bx = FakeBox::start().await;
    let (access, _) = bx.issue_tokens();
    let (_, now) = get(
        &bx,
        &access,
        "/events?stream_type=changes&stream_position=now",
    )
    .await;
    let start = now["next_stream_position"].as_u64().unwrap();
    assert!(start > 1 << 53);
    let folder = bx.add_folder(&bx.root_id(), "F");
    bx.add_file(&folder, "x", "x");
    bx.trash(&folder);
    let (_, page) = get(
        &bx,
        &access,
        &format!("/events?stream_position={start}&limit=2"),
    )
    .await;
    let types: Vec<&str> = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["ITEM_CREATE", "ITEM_CREATE"]);
    bx.set_repeat_events(true);
    bx.set_positions_as_strings(true);
    let next = page["next_stream_position"].as_u64().unwrap();
    let (_, rest) = get(&bx, &access, &format!("/events?stream_position={next}")).await;
    let entries = rest["entries"].as_array().unwrap();
    assert_eq!(entries[0]["event_id"], page["entries"][1]["event_id"]);
    assert_eq!(entries.len(), 3, "repeat, upload, one trash: {rest}");
    assert_eq!(entries[2]["source"]["item_status"], "trashed");
    assert!(rest["next_stream_position"].is_string());
    let (status, gone) = get(&bx, &access, &format!("/folders/{folder}")).await;
    assert_eq!((status, gone["code"].as_str()), (404, Some("trashed")));
}

#[tokio::test]
async fn codes_exchange_once_with_pkce_and_tokens_can_be_revoked() {
    let bx = FakeBox::start().await;
    let verifier = "a-verifier-of-enough-length-for-pkce-0123456789";
    let challenge = {
        use base64::Engine as _;
        use sha2::Digest as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier))
    };
    let authorize = format!(
        "{}?response_type=code&client_id={}&redirect_uri=http://127.0.0.1:1/cb&state=s1&code_challenge={challenge}&code_challenge_method=S256",
        bx.auth_url(),
        FakeBox::CLIENT_ID
    );
    let r = client().get(authorize).send().await.unwrap();
    let location = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    let code = location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", "http://127.0.0.1:1/cb"),
        ("code_verifier", verifier),
        ("client_id", FakeBox::CLIENT_ID),
        ("client_secret", FakeBox::CLIENT_SECRET),
    ];
    let (status, body) = post_token(&bx, &form).await;
    assert_eq!(status, 200);
    let access = body["access_token"].as_str().unwrap().to_string();
    // The code is single use.
    assert_eq!(post_token(&bx, &form).await.0, 400);
    assert_eq!(get(&bx, &access, "/users/me").await.0, 200);
    let revoke = [
        ("client_id", FakeBox::CLIENT_ID),
        ("client_secret", FakeBox::CLIENT_SECRET),
        ("token", access.as_str()),
    ];
    let r = client()
        .post(bx.revoke_url())
        .form(&revoke)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(get(&bx, &access, "/users/me").await.0, 401);
    assert_eq!(bx.counts().authorize, 1);
}
