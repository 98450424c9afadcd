//! Sync configs: create, change, and queue a run, checked the same way whichever face asks.

use super::{App, AppError};
use crate::store::SyncConfig;
use crate::store::ids::{ConfigId, CredentialId, LogId, UserId};
use crate::sync::schedule::Schedule;
use crate::sync::validate::{carry_over, check_config};

impl App {
    /// The config `id`, if `owner` may see it (`None`: anyone's, for the operator and
    /// admins). Someone else's config is "not found" too, so nothing leaks about it.
    pub async fn config(
        &self,
        id: ConfigId,
        owner: Option<UserId>,
    ) -> Result<SyncConfig, AppError> {
        match self.store.config(id).await? {
            Some(c) if owner.is_none_or(|u| u == c.userid) => Ok(c),
            _ => Err(AppError::NotFound(format!("sync config {id}"))),
        }
    }

    /// Whether `config` may be saved: its provider is installed, its settings are ones the
    /// provider declares, its schedule parses, and a local folder is inside the owner's roots.
    fn check(&self, config: &SyncConfig) -> Result<Schedule, AppError> {
        let provider = self
            .registry
            .get(&config.provider)
            .map_err(|e| AppError::Invalid(format!("provider: {e}")))?;
        check_config(config, &provider, &self.local_roots)
            .map_err(|p| AppError::Invalid(p.to_string()))
    }

    /// Save a new config. One with the same owner, provider and name is a conflict, not a
    /// silent overwrite.
    pub async fn create_config(&self, config: SyncConfig) -> Result<SyncConfig, AppError> {
        self.check(&config)?;
        if self.store.config(config.id).await?.is_some() {
            return Err(AppError::Conflict(format!(
                "a `{}` config named {:?} exists already (id {})",
                config.provider, config.name, config.id
            )));
        }
        self.store.put_config(&config).await?;
        Ok(config)
    }

    /// Save `config`, new or in place of the one with its id; what runs have recorded (the
    /// change cursor, the last sync and the next one under the new schedule) is kept.
    pub async fn put_config(&self, mut config: SyncConfig) -> Result<SyncConfig, AppError> {
        let schedule = self.check(&config)?;
        if let Some(existing) = self.store.config(config.id).await? {
            carry_over(&mut config, &existing, &schedule);
        }
        self.store.put_config(&config).await?;
        Ok(config)
    }

    /// Queue a run of `config` now (a replica starts it at its next tick); `full` lists
    /// everything instead of reading the change feed. Refused for a disabled config and for
    /// one whose credential needs a new login.
    pub async fn queue_run(&self, config: &SyncConfig, full: bool) -> Result<LogId, AppError> {
        if !config.enabled {
            return Err(AppError::Conflict(
                "the config is disabled; enable it to run it".into(),
            ));
        }
        let credential = self
            .store
            .credential(CredentialId::derive(config.userid, &config.provider))
            .await?;
        if credential.is_some_and(|c| c.needs_reauth) {
            return Err(AppError::Conflict(format!(
                "the {} credential needs a new login before anything can sync: open /auth/{}/login",
                config.provider, config.provider
            )));
        }
        if full {
            // Without a cursor the run lists everything, and saves a new cursor when it
            // succeeds.
            self.store.set_cursor(config.id, None, None).await?;
        }
        self.store
            .queue_run(config.id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("sync config {}", config.id)))
    }
}
