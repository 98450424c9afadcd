//! Claiming due configs with leases, on both store backends: what lets replicas of
//! `p8sync serve` share one database. Leases that must run out are 50 ms long and the tests
//! sleep well past them.

use chrono::Utc;
use p8sync::store::ids::{CredentialId, UserId};
use p8sync::store::{CredentialRecord, Store, SyncConfig};
use p8sync_e2e::{postgres_store, sqlite_store};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const LONG: Duration = Duration::from_secs(600);
const SHORT: Duration = Duration::from_millis(50);
const PAST_SHORT: Duration = Duration::from_millis(400);

fn user() -> UserId {
    "5c1b2f3e-0000-4000-8000-000000000001".parse().unwrap()
}

async fn config(store: &dyn Store, name: &str, due_in_secs: Option<i64>) -> SyncConfig {
    let mut c = SyncConfig::new(user(), "local", name);
    c.next_sync_at = due_in_secs.map(|s| Utc::now() + chrono::Duration::seconds(s));
    store.put_config(&c).await.unwrap();
    c
}

async fn due_configs_are_claimed_once_until_released(store: Arc<dyn Store>) {
    let s = &*store;
    let never = config(s, "never synced", None).await;
    let overdue = config(s, "overdue", Some(-3600)).await;
    config(s, "later", Some(3600)).await;
    let mut off = SyncConfig::new(user(), "local", "disabled");
    off.enabled = false;
    s.put_config(&off).await.unwrap();

    // Never-synced configs first, then the longest overdue; future and disabled ones never.
    let first = s.claim_due_config("a", LONG).await.unwrap().unwrap();
    assert_eq!(first.config.id, never.id);
    assert!(!first.taken_over);
    let second = s.claim_due_config("b", LONG).await.unwrap().unwrap();
    assert_eq!(second.config.id, overdue.id);
    assert!(s.claim_due_config("c", LONG).await.unwrap().is_none());

    // Only the holder renews or releases.
    assert!(s.renew_config_lease(never.id, "a", LONG).await.unwrap());
    assert!(!s.renew_config_lease(never.id, "b", LONG).await.unwrap());
    assert!(!s.release_config(never.id, "b").await.unwrap());
    assert!(s.release_config(never.id, "a").await.unwrap());
    assert!(
        !s.release_config(never.id, "a").await.unwrap(),
        "already let go"
    );
    // Released but still due (its run did not move next_sync_at): claimable again.
    let again = s.claim_due_config("d", LONG).await.unwrap().unwrap();
    assert_eq!(again.config.id, never.id);
    assert!(!again.taken_over);
}

async fn an_expired_lease_is_taken_over(store: Arc<dyn Store>) {
    let s = &*store;
    let c = config(s, "docs", Some(-60)).await;
    let crashed = s.claim_due_config("crashed", SHORT).await.unwrap().unwrap();
    assert_eq!(crashed.config.id, c.id);
    assert!(s.claim_due_config("other", LONG).await.unwrap().is_none());
    tokio::time::sleep(PAST_SHORT).await;
    let taken = s.claim_due_config("other", LONG).await.unwrap().unwrap();
    assert_eq!(taken.config.id, c.id);
    assert!(taken.taken_over, "the first holder's lease ran out");
    assert!(!s.renew_config_lease(c.id, "crashed", LONG).await.unwrap());
    assert!(!s.release_config(c.id, "crashed").await.unwrap());
    assert!(s.release_config(c.id, "other").await.unwrap());
}

async fn a_credential_waiting_for_login_holds_its_configs(store: Arc<dyn Store>) {
    let s = &*store;
    let mut drive = SyncConfig::new(user(), "google_drive", "drive");
    drive.next_sync_at = None;
    s.put_config(&drive).await.unwrap();
    let now = Utc::now();
    let mut credential = CredentialRecord {
        id: CredentialId::derive(user(), "google_drive"),
        provider: "google_drive".into(),
        userid: user(),
        access_token: "sealed".into(),
        refresh_token: Some("sealed".into()),
        token_expiry: Some(now),
        provider_user_id: None,
        provider_metadata: None,
        key_id: Some("k0000000000".into()),
        scopes: None,
        needs_reauth: true,
        reauth_reason: Some("invalid_grant".into()),
        refreshed_at: None,
        created_at: None,
        updated_at: None,
    };
    s.put_credential(&credential).await.unwrap();
    assert!(
        s.claim_due_config("a", LONG).await.unwrap().is_none(),
        "not retried until the user logs in again"
    );
    credential.needs_reauth = false;
    s.put_credential(&credential).await.unwrap();
    let claimed = s.claim_due_config("a", LONG).await.unwrap().unwrap();
    assert_eq!(claimed.config.id, drive.id);
}

async fn replicas_claim_each_config_exactly_once(store: Arc<dyn Store>) {
    let mut ids = BTreeSet::new();
    for i in 0..30 {
        ids.insert(config(&*store, &format!("c{i:02}"), Some(-i)).await.id);
    }
    let claimed = Arc::new(Mutex::new(Vec::new()));
    let mut replicas = Vec::new();
    for r in 0..4 {
        let (store, claimed) = (store.clone(), claimed.clone());
        replicas.push(tokio::spawn(async move {
            let mut n = 0;
            while let Some(lease) = store
                .claim_due_config(&format!("replica-{r}-{n}"), LONG)
                .await
                .unwrap()
            {
                claimed.lock().unwrap().push(lease.config.id);
                n += 1;
            }
        }));
    }
    for r in replicas {
        r.await.unwrap();
    }
    let claimed = claimed.lock().unwrap().clone();
    assert_eq!(claimed.len(), 30, "each due config once: {claimed:?}");
    assert_eq!(claimed.iter().copied().collect::<BTreeSet<_>>(), ids);
}

macro_rules! both {
    ($($name:ident),+ $(,)?) => {
        mod on_sqlite {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let (store, _dir) = sqlite_store().await;
                    super::$name(store).await;
                }
            )+
        }
        mod on_postgres {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let (store, _db) = postgres_store().await;
                    super::$name(store).await;
                }
            )+
        }
    };
}

both!(
    due_configs_are_claimed_once_until_released,
    an_expired_lease_is_taken_over,
    a_credential_waiting_for_login_holds_its_configs,
    replicas_claim_each_config_exactly_once,
);
