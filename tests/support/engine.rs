//! The set-up the providers' engine tests share, after rclone's fstest: a real Postgres store, a
//! real S3 bucket, the provider's component in a registry, a token manager and one sync config.
//! Each provider's test file adds only its server and what it checks specially.

use crate::{postgres_store, provider_wasm, read_object, s3_client, s3_settings, settings};
use p8sync::blob::s3::{S3BlobStore, S3Settings};
use p8sync::blob::{BlobStore, ObjectKey};
use p8sync::config::{ProviderOverrides, RuntimeSettings};
use p8sync::oauth::{Grant, Keyring, TokenManager};
use p8sync::runtime::{Registry, Runtime};
use p8sync::store::{FileStatus, Store, SyncConfig, SyncFile};
use p8sync::sync::retry::RetryPolicy;
use p8sync::sync::{SyncEngine, SyncError, SyncOptions, SyncReport};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Runtime settings for engine tests, with `overrides` for `provider`.
pub fn runtime_settings(provider: &str, overrides: ProviderOverrides) -> RuntimeSettings {
    let mut s = settings();
    // Debug builds of the host are slow at moving big pages in and out of the guest.
    s.limits.call_timeout = Duration::from_secs(30);
    s.limits.memory_bytes = 128 * 1024 * 1024;
    s.overrides.set(provider, overrides);
    s
}

/// Options for a fake that injects faults: enough quick retries to ride them all out.
pub fn retrying_options(transfers: usize) -> SyncOptions {
    SyncOptions {
        transfers,
        retry: RetryPolicy {
            retries: 8,
            base: Duration::from_millis(20),
            max: Duration::from_millis(200),
            ..RetryPolicy::default()
        },
        ..SyncOptions::default()
    }
}

/// What a provider's engine tests set up.
pub struct Setup {
    /// The component's name under target/providers, e.g. `google-drive`.
    pub component: &'static str,
    /// The runtime's settings, pointing the provider at its server.
    pub settings: RuntimeSettings,
    /// The keyring credentials are sealed with.
    pub keyring: Arc<Keyring>,
    /// The config the tests sync (stored by [`Harness::start`]).
    pub config: SyncConfig,
    /// The options [`Harness::sync`] runs with.
    pub options: SyncOptions,
}

/// Everything one engine test needs besides the provider's server.
pub struct Harness {
    /// The Postgres store.
    pub store: Arc<dyn Store>,
    /// The S3 object store over [`Harness::s3`].
    pub blob: Arc<dyn BlobStore>,
    /// The bucket's settings, for looking at it directly.
    pub s3: S3Settings,
    /// The registry holding the one provider.
    pub registry: Arc<Registry>,
    /// The token manager over the store.
    pub tokens: Arc<TokenManager>,
    /// The config as first stored.
    pub config: SyncConfig,
    /// The Postgres database's name.
    pub db: String,
    /// The options [`Harness::sync`] runs with.
    pub options: SyncOptions,
}

impl Harness {
    /// Set up the store, the bucket and the provider, and store the config.
    pub async fn start(setup: Setup) -> Harness {
        let (store, db) = postgres_store().await;
        let s3 = s3_settings().await;
        let blob: Arc<dyn BlobStore> = Arc::new(S3BlobStore::new(s3.clone()).await);
        let rt = Runtime::new(setup.settings).unwrap();
        let provider = rt
            .load_file(&provider_wasm(setup.component))
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "loading {}.wasm (scripts/build-components.sh builds it): {e}",
                    setup.component
                )
            });
        let registry = Arc::new(Registry::from_providers([provider]));
        let tokens = Arc::new(TokenManager::new(store.clone(), setup.keyring));
        store.put_config(&setup.config).await.unwrap();
        Harness {
            store,
            blob,
            s3,
            registry,
            tokens,
            config: setup.config,
            db,
            options: setup.options,
        }
    }

    /// Store `grant` as the config's user's credential for its provider.
    pub async fn save_grant(&self, grant: &Grant) {
        self.tokens
            .save_grant(
                self.config.userid,
                &self.config.provider,
                grant,
                Some("user@example.com".into()),
                &p8sync::oauth::AccountChoice::default(),
            )
            .await
            .unwrap();
    }

    /// An engine over the harness's store, bucket, registry and tokens.
    pub fn engine(&self, options: SyncOptions) -> SyncEngine {
        SyncEngine::new(
            self.store.clone(),
            self.blob.clone(),
            self.registry.clone(),
            options,
        )
        .with_tokens(self.tokens.clone())
    }

    /// The config as stored now (a sync moves its cursor).
    pub async fn config(&self) -> SyncConfig {
        self.store.config(self.config.id).await.unwrap().unwrap()
    }

    /// One sync of the config with `options`.
    pub async fn run(&self, options: SyncOptions) -> Result<SyncReport, SyncError> {
        let config = self.config().await;
        self.engine(options).run(&config).await
    }

    /// One sync with the harness's options, which must not fail as a whole.
    pub async fn sync(&self) -> SyncReport {
        self.run(self.options.clone())
            .await
            .unwrap_or_else(|e| panic!("sync failed: {e}"))
    }

    /// The file rows by remote id (folders are not recorded as files).
    pub async fn rows(&self) -> BTreeMap<String, SyncFile> {
        self.store
            .files(self.config.id)
            .await
            .unwrap()
            .into_iter()
            .map(|f| (f.remote_id.clone(), f))
            .collect()
    }

    /// Assert that `f` (named `what` in messages) is synced with exactly `bytes` stored.
    pub async fn assert_stored(&self, f: &SyncFile, what: &str, bytes: &[u8]) {
        assert_eq!(
            f.status,
            FileStatus::Synced,
            "{what}: {:?}",
            f.error_message
        );
        let key = ObjectKey::from_uri(f.s3_uri.as_deref().unwrap()).unwrap();
        let stored = read_object(self.blob.as_ref(), &key).await;
        // Not assert_eq: a mismatch of megabytes would flood the output.
        assert!(stored == bytes, "{what}: bytes differ");
        assert_eq!(f.local_size, Some(bytes.len() as i64), "{what}");
    }

    /// Keys in the bucket.
    pub async fn objects(&self) -> usize {
        let client = s3_client(&self.s3).await;
        let mut n = 0;
        let mut token = None;
        loop {
            let page = client
                .list_objects_v2()
                .bucket(&self.s3.bucket)
                .set_continuation_token(token)
                .send()
                .await
                .unwrap();
            n += page.contents().len();
            match page.next_continuation_token() {
                Some(t) => token = Some(t.to_string()),
                None => return n,
            }
        }
    }
}

/// A harness and the fake it syncs from; it derefs to the harness.
pub struct WithFake<F> {
    /// The fake provider.
    pub fake: F,
    /// The rest of the set-up.
    pub h: Harness,
}

impl<F> std::ops::Deref for WithFake<F> {
    type Target = Harness;
    fn deref(&self) -> &Harness {
        &self.h
    }
}
