//! Credentials at rest across key rotations: `rekey` moves every credential and login under
//! way to the current key, so an old key can be dropped without losing anything, and a row
//! p8sync did not seal is refused until the operator adopts it.

use p8sync::oauth::{Grant, KeyError, Keyring, StaticCredential, TokenError, TokenManager};
use p8sync::secret::Secret;
use p8sync::store::access::{LoginStateRecord, hash_key};
use p8sync::store::ids::{CredentialId, UserId};
use p8sync::store::{CredentialRecord, Store};
use p8sync_e2e::*;
use std::sync::Arc;

const K1: [u8; 32] = [1; 32];
const K2: [u8; 32] = [2; 32];
const K3: [u8; 32] = [3; 32];

fn user(n: u8) -> UserId {
    format!("5c1b2f3e-0000-4000-8000-0000000000{n:02x}")
        .parse()
        .unwrap()
}

fn manager(store: &Arc<dyn Store>, current: &[u8; 32], previous: &[[u8; 32]]) -> TokenManager {
    TokenManager::new(store.clone(), Arc::new(Keyring::new(current, previous)))
}

/// Every credential of the three users opens, with the secret it was saved with.
async fn all_open(tokens: &TokenManager) {
    for (n, provider, secret) in [
        (1, "google_drive", "access-1"),
        (2, "webdav", "password-2"),
        (3, "dropbox", "access-3"),
    ] {
        let (access, refresh) = tokens
            .opened(user(n), provider)
            .await
            .unwrap_or_else(|e| panic!("{provider} of user {n}: {e}"))
            .unwrap();
        assert_eq!(access.expose(), secret);
        if provider != "webdav" {
            assert_eq!(refresh.unwrap().expose(), format!("refresh-{n}"));
        }
    }
}

fn grant(n: u8) -> Grant {
    Grant {
        access_token: Secret::new(format!("access-{n}")),
        refresh_token: Some(Secret::new(format!("refresh-{n}"))),
        expires_at: Some(chrono::Utc::now() + chrono::Duration::hours(1)),
        scopes: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_keys_on_sqlite() {
    let (store, _dir) = sqlite_store().await;
    three_keys_rekey_keeps_every_credential_and_refuses_unsealed_rows(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_keys_on_postgres() {
    let (store, _db) = postgres_store().await;
    three_keys_rekey_keeps_every_credential_and_refuses_unsealed_rows(store).await;
}

async fn three_keys_rekey_keeps_every_credential_and_refuses_unsealed_rows(store: Arc<dyn Store>) {
    // Sealed under key 1: OAuth grants, a stored password, and a login under way.
    let one = manager(&store, &K1, &[]);
    one.save_grant(
        user(1),
        "google_drive",
        &grant(1),
        None,
        &p8sync::oauth::AccountChoice::default(),
    )
    .await
    .unwrap();
    one.save_grant(
        user(3),
        "dropbox",
        &grant(3),
        None,
        &p8sync::oauth::AccountChoice::default(),
    )
    .await
    .unwrap();
    one.save_static(
        user(2),
        "webdav",
        &StaticCredential::Basic {
            username: "bob".into(),
            password: Secret::new("password-2"),
        },
        None,
        &p8sync::oauth::AccountChoice::default(),
    )
    .await
    .unwrap();
    let login_aad = |hash: &str| format!("SyncOAuthState:{hash}:verifier");
    let state_hash = hash_key("a-login-under-way");
    store
        .put_login_state(&LoginStateRecord {
            state_hash: state_hash.clone(),
            provider: "google_drive".into(),
            userid: user(1),
            verifier: one
                .keyring()
                .seal(&Secret::new("the-verifier"), &login_aad(&state_hash)),
            key_id: Some(one.keyring().current_id().to_string()),
            callback_url: "http://127.0.0.1/auth/google/callback".into(),
            app_redirect: None,
            sync_files: false,
            credential_id: None,
            label: None,
            expires_at: chrono::Utc::now() + chrono::Duration::minutes(10),
            binding_hash: None,
        })
        .await
        .unwrap();

    // Rotate to key 2 (key 1 as previous) and re-key: all moved.
    let two = manager(&store, &K2, &[K1]);
    all_open(&two).await;
    let report = two.rekey(false).await.unwrap();
    assert_eq!(
        (report.resealed, report.current, report.adopted),
        (3, 0, 0),
        "{report:?}"
    );
    assert_eq!(report.logins_resealed, 1, "{report:?}");
    assert!(report.complete(), "{report:?}");
    // Again: nothing left to move.
    let again = two.rekey(false).await.unwrap();
    assert_eq!((again.resealed, again.current), (0, 3), "{again:?}");

    // Rotate to key 3 with only key 2 as previous: key 1 is gone, and nothing needed it.
    let three = manager(&store, &K3, &[K2]);
    all_open(&three).await;
    let login = store.login_states().await.unwrap().remove(0);
    let verifier = three
        .keyring()
        .open(
            login.key_id.as_deref().unwrap(),
            &login.verifier,
            &login_aad(&state_hash),
        )
        .unwrap();
    assert_eq!(verifier.expose(), "the-verifier");
    assert_eq!(three.rekey(false).await.unwrap().resealed, 3);
    all_open(&manager(&store, &K3, &[])).await;

    // Without rekey, key 1's rows would have been lost at this rotation: the error says how
    // to bring the key back.
    let (store1, _dir1) = sqlite_store().await;
    manager(&store1, &K1, &[])
        .save_grant(
            user(1),
            "google_drive",
            &grant(1),
            None,
            &p8sync::oauth::AccountChoice::default(),
        )
        .await
        .unwrap();
    let lost = manager(&store1, &K3, &[K2])
        .opened(user(1), "google_drive")
        .await
        .unwrap_err();
    assert!(
        matches!(lost, TokenError::Key(KeyError::UnknownKey { .. })),
        "{lost}"
    );
    let report = manager(&store1, &K3, &[K2]).rekey(false).await.unwrap();
    assert_eq!(report.unreadable.len(), 1, "{report:?}");
    assert!(!report.complete());

    // A row with tokens in plain text (no key id), as Percolate writes them: refused, listed
    // by rekey, and sealed only when the operator adopts it.
    let id = CredentialId::derive(user(4), "google_drive");
    store
        .put_credential(&CredentialRecord {
            id,
            provider: "google_drive".into(),
            userid: user(4),
            label: "planted".into(),
            server_url: None,
            access_token: "planted-access".into(),
            refresh_token: Some("planted-refresh".into()),
            token_expiry: None,
            provider_user_id: None,
            provider_metadata: None,
            key_id: None,
            scopes: None,
            needs_reauth: false,
            reauth_reason: None,
            refreshed_at: None,
            created_at: None,
            updated_at: None,
        })
        .await
        .unwrap();
    let refused = three.opened(user(4), "google_drive").await.unwrap_err();
    assert!(
        matches!(refused, TokenError::Key(KeyError::Unsealed)),
        "{refused}"
    );
    assert!(
        refused
            .to_string()
            .contains("p8sync auth rekey --adopt-unsealed"),
        "{refused}"
    );
    let report = three.rekey(false).await.unwrap();
    assert_eq!(report.unsealed.len(), 1, "{report:?}");
    assert_eq!(report.adopted, 0);
    assert!(three.opened(user(4), "google_drive").await.is_err());
    let report = three.rekey(true).await.unwrap();
    assert_eq!((report.adopted, report.current), (1, 3), "{report:?}");
    let (access, _) = three
        .opened(user(4), "google_drive")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(access.expose(), "planted-access");
}

/// The command: `p8sync auth rekey` prints what it moved and exits non-zero while a row is
/// left under a key that is not configured.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rekey_command_moves_a_stored_password_to_the_new_key() {
    let data = tempfile::tempdir().unwrap();
    let b64 = |k: &[u8; 32]| {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(k)
    };
    let run = |current: &[u8; 32], previous: Option<&[u8; 32]>, args: &[&str], stdin: &str| {
        let mut cmd = std::process::Command::new(p8sync_bin());
        cmd.args(args)
            .env("P8_DATA_DIR", data.path())
            .env("P8_PROVIDERS_DIR", providers_dir())
            .env("P8_ENCRYPTION_KEY", b64(current))
            .env_remove("P8_PG_HOST")
            .env_remove("P8_DATABASE_URL")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        match previous {
            Some(p) => cmd.env("P8_ENCRYPTION_PREVIOUS_KEYS", b64(p)),
            None => cmd.env_remove("P8_ENCRYPTION_PREVIOUS_KEYS"),
        };
        let mut child = cmd.spawn().unwrap();
        use std::io::Write as _;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, _, err) = run(
        &K1,
        None,
        &[
            "auth",
            "set",
            "webdav",
            "--username",
            "alice",
            "--password-stdin",
        ],
        "s3cret-password",
    );
    assert!(ok, "{err}");
    let (ok, out, err) = run(&K2, Some(&K1), &["auth", "rekey", "--json"], "");
    assert!(ok, "{out}{err}");
    let report: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(report["resealed"], 1, "{out}");
    assert!(
        err.contains("P8_ENCRYPTION_PREVIOUS_KEYS can be emptied"),
        "{err}"
    );
    // Key 1 dropped: nothing needs it. Key 2 dropped before a rekey: the row is stuck, and the
    // command says so.
    let (ok, out, _) = run(&K2, None, &["auth", "rekey"], "");
    assert!(ok, "{out}");
    assert!(
        out.contains("0 credentials re-sealed, 1 already under it"),
        "{out}"
    );
    let (ok, out, err) = run(&K3, None, &["auth", "rekey"], "");
    assert!(!ok, "{out}");
    assert!(err.contains("keep P8_ENCRYPTION_PREVIOUS_KEYS"), "{err}");
    assert!(!out.contains("s3cret-password") && !err.contains("s3cret-password"));
}
