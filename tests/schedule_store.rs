//! Claiming due configs with leases, queued runs, API keys, browser logins and paged reads, on
//! both store backends: what lets replicas of `p8sync serve` share one database. Leases that
//! must run out are 50 ms long and the tests sleep well past them.

use chrono::Utc;
use p8sync::store::access::{ApiKeyRecord, LoginStateRecord, hash_key};
use p8sync::store::ids::{CredentialId, UserId};
use p8sync::store::pages::{FileQuery, LogQuery};
use p8sync::store::{
    CredentialRecord, FileStatus, LogStatus, Store, SyncConfig, SyncFile, SyncLog,
};
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

    assert_eq!(s.due_configs().await.unwrap(), 2);
    // Never-synced configs first, then the longest overdue; future and disabled ones never.
    let first = s.claim_due_config("a", LONG).await.unwrap().unwrap();
    assert_eq!(first.config.id, never.id);
    assert!(!first.taken_over);
    let second = s.claim_due_config("b", LONG).await.unwrap().unwrap();
    assert_eq!(second.config.id, overdue.id);
    assert!(s.claim_due_config("c", LONG).await.unwrap().is_none());
    assert_eq!(
        s.due_configs().await.unwrap(),
        0,
        "leased ones are not waiting"
    );

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
        label: "work".into(),
        server_url: Some("https://dav.example.test/files/".into()),
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

async fn a_queued_run_is_adopted_once_and_makes_the_config_due(store: Arc<dyn Store>) {
    let s = &*store;
    let c = config(s, "later", Some(3600)).await;
    assert!(s.claim_due_config("a", LONG).await.unwrap().is_none());
    let queued = s.queue_run(c.id).await.unwrap().unwrap();
    assert_eq!(
        s.queue_run(c.id).await.unwrap(),
        Some(queued),
        "one queued run at a time"
    );
    assert_eq!(s.queued_run(c.id).await.unwrap(), Some(queued));
    let unknown = p8sync::store::ids::ConfigId(uuid::Uuid::new_v4());
    assert_eq!(s.queue_run(unknown).await.unwrap(), None);
    let log = s.log(queued).await.unwrap().unwrap();
    assert_eq!(log.status, LogStatus::Pending);
    assert_eq!(log.userid, user());

    // Due now: a replica claims it, and the run it starts is the queued one.
    let lease = s.claim_due_config("a", LONG).await.unwrap().unwrap();
    assert_eq!(lease.config.id, c.id);
    let mut run = SyncLog::start(&c);
    run.id = queued;
    s.start_log(&run).await.unwrap();
    assert_eq!(s.queued_run(c.id).await.unwrap(), None);
    // Queued again while it runs: the finished run leaves the config due at once.
    let next = s.queue_run(c.id).await.unwrap().unwrap();
    assert_ne!(next, queued);
    run.status = LogStatus::Success;
    run.completed_at = Some(Utc::now());
    s.finish_log(&run, Some(Utc::now() + chrono::Duration::hours(24)))
        .await
        .unwrap();
    let after = s.config(c.id).await.unwrap().unwrap();
    assert!(after.next_sync_at.unwrap() <= Utc::now());
    assert_eq!(
        s.log(queued).await.unwrap().unwrap().status,
        LogStatus::Success
    );
}

async fn runs_left_by_a_vanished_holder_are_cancelled(store: Arc<dyn Store>) {
    let s = &*store;
    let c = config(s, "c", None).await;
    let other = config(s, "other", None).await;
    let left = SyncLog::start(&c);
    s.start_log(&left).await.unwrap();
    let elsewhere = SyncLog::start(&other);
    s.start_log(&elsewhere).await.unwrap();
    assert_eq!(s.cancel_runs(c.id, "the replica stopped").await.unwrap(), 1);
    let l = s.log(left.id).await.unwrap().unwrap();
    assert_eq!(l.status, LogStatus::Cancelled);
    assert_eq!(l.error_message.as_deref(), Some("the replica stopped"));
    assert!(l.completed_at.is_some());
    assert_eq!(
        s.log(elsewhere.id).await.unwrap().unwrap().status,
        LogStatus::Syncing,
        "another config's run is untouched"
    );
    assert_eq!(s.cancel_runs(c.id, "again").await.unwrap(), 0);
}

async fn api_keys_and_logins_are_found_by_hash_and_logins_taken_once(store: Arc<dyn Store>) {
    let s = &*store;
    let (key, record) = ApiKeyRecord::mint(user(), "alice", false);
    s.put_api_key(&record).await.unwrap();
    let found = s
        .api_key_by_hash(&hash_key(key.expose()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.userid, user());
    assert!(!found.is_admin);
    assert!(
        s.api_key_by_hash(&hash_key("p8s_other"))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(s.api_keys(Some(user())).await.unwrap().len(), 1);
    assert!(s.delete_api_key(record.id).await.unwrap());
    assert!(!s.delete_api_key(record.id).await.unwrap());
    assert!(s.api_key_by_hash(&record.key_hash).await.unwrap().is_none());

    let login = LoginStateRecord {
        state_hash: hash_key("state"),
        provider: "google_drive".into(),
        userid: user(),
        verifier: "sealed".into(),
        key_id: Some("k1".into()),
        callback_url: "http://127.0.0.1/auth/google/callback".into(),
        app_redirect: Some("https://app.example.test/".into()),
        sync_files: true,
        credential_id: Some(CredentialId::derive(user(), "google_drive")),
        label: Some("work".into()),
        expires_at: Utc::now() + chrono::Duration::minutes(10),
        binding_hash: Some(hash_key("the browser's cookie")),
    };
    s.put_login_state(&login).await.unwrap();
    let taken = s
        .take_login_state(&login.state_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(taken.userid, user());
    assert_eq!(taken.app_redirect, login.app_redirect);
    assert!(taken.sync_files);
    assert!(
        (taken.expires_at - login.expires_at)
            .num_milliseconds()
            .abs()
            < 1000
    );
    assert!(
        s.take_login_state(&login.state_hash)
            .await
            .unwrap()
            .is_none(),
        "single use"
    );
}

async fn file_pages_follow_the_filters(store: Arc<dyn Store>) {
    let s = &*store;
    let a = config(s, "a", None).await;
    let b = config(s, "b", None).await;
    for (c, n) in [(&a, 7), (&b, 3)] {
        for i in 0..n {
            let mut f = SyncFile::new(c, &format!("r{i}"));
            f.status = if i % 2 == 0 {
                FileStatus::Synced
            } else {
                FileStatus::Failed
            };
            s.put_file(&f).await.unwrap();
        }
    }
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = s
            .file_page(&FileQuery {
                user: Some(user()),
                after,
                limit: 3,
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(page.len() <= 3);
        if page.is_empty() {
            break;
        }
        after = page.last().map(|f| f.id);
        seen.extend(page.into_iter().map(|f| f.id));
    }
    assert_eq!(seen.len(), 10);
    assert!(
        seen.windows(2).all(|w| w[0] < w[1]),
        "ordered by id, no repeats"
    );
    let failed_in_a = s
        .file_page(&FileQuery {
            config: Some(a.id),
            status: Some(FileStatus::Failed),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(failed_in_a.len(), 3);
    assert!(
        failed_in_a
            .iter()
            .all(|f| f.config_id == a.id && f.status == FileStatus::Failed)
    );
    let nobody = UserId(uuid::Uuid::new_v4());
    let none = s
        .file_page(&FileQuery {
            user: Some(nobody),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(none.is_empty());

    for c in [&a, &b] {
        let mut l = SyncLog::start(c);
        l.status = LogStatus::Success;
        s.start_log(&l).await.unwrap();
    }
    let logs = s
        .log_page(&LogQuery {
            config: Some(b.id),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].config_id, b.id);
    let all = s
        .log_page(&LogQuery {
            user: Some(user()),
            status: Some(LogStatus::Success),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    let skipped = s
        .log_page(&LogQuery {
            user: Some(user()),
            offset: 1,
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(skipped.len(), 1);
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
    a_queued_run_is_adopted_once_and_makes_the_config_due,
    runs_left_by_a_vanished_holder_are_cancelled,
    api_keys_and_logins_are_found_by_hash_and_logins_taken_once,
    file_pages_follow_the_filters,
);
