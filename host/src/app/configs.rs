//! Sync configs: create, change, and queue a run, checked the same way whichever face asks.

use super::{App, AppError};
use crate::store::ids::{ConfigId, CredentialId, LogId, UserId};
use crate::store::{CredentialRecord, SyncConfig};
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

    /// The owner's accounts of the config's provider.
    async fn accounts_of(&self, config: &SyncConfig) -> Result<Vec<CredentialRecord>, AppError> {
        Ok(crate::oauth::accounts::accounts_of(
            self.store.as_ref(),
            config.userid,
            &config.provider,
        )
        .await?)
    }

    /// Check the account `config` names is its owner's, of its provider; a config that names
    /// none is bound to the owner's only account of the provider, and must name one when the
    /// owner has several (a config with no account yet is bound when it first runs).
    async fn bind_account(&self, config: &mut SyncConfig) -> Result<(), AppError> {
        let accounts = self.accounts_of(config).await?;
        match config.credential_id {
            Some(id) if accounts.iter().any(|c| c.id == id) => Ok(()),
            Some(id) => Err(AppError::Invalid(format!(
                "credential_id: {id} is not one of this user's {} accounts",
                config.provider
            ))),
            None if accounts.len() > 1 => Err(AppError::Invalid(format!(
                "credential_id: the user has {} {} accounts ({}); say which one this config syncs",
                accounts.len(),
                config.provider,
                accounts
                    .iter()
                    .map(|c| format!("`{}` {}", c.label, c.id))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
            None => {
                config.credential_id = accounts.first().map(|c| c.id);
                Ok(())
            }
        }
    }

    /// The account a run of `config` would use, if it is connected.
    pub async fn account_of(
        &self,
        config: &SyncConfig,
    ) -> Result<Option<CredentialRecord>, AppError> {
        let accounts = self.accounts_of(config).await?;
        Ok(match config.credential_id {
            Some(id) => accounts.into_iter().find(|c| c.id == id),
            None if accounts.len() == 1 => accounts.into_iter().next(),
            None => None,
        })
    }

    /// The config that syncs the whole of `user`'s `provider` account `credential` (labelled
    /// `label`), made unless it exists: `default` for the first account, `default: LABEL` for
    /// the others.
    pub async fn default_config(
        &self,
        user: UserId,
        provider: &str,
        credential: CredentialId,
        label: &str,
    ) -> Result<SyncConfig, AppError> {
        let name = if credential == CredentialId::derive(user, provider) {
            "default".to_string()
        } else {
            format!("default: {label}")
        };
        let mut config = SyncConfig::new(user, provider, &name);
        if let Some(existing) = self.store.config(config.id).await? {
            return Ok(existing);
        }
        config.credential_id = Some(credential);
        self.create_config(config).await
    }

    /// Save a new config. One with the same owner, provider and name is a conflict, not a
    /// silent overwrite.
    pub async fn create_config(&self, mut config: SyncConfig) -> Result<SyncConfig, AppError> {
        self.check(&config)?;
        self.bind_account(&mut config).await?;
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
        let existing = self.store.config(config.id).await?;
        // An account the config already names is left as it is, even one disconnected since,
        // so the config can still be changed (disabled, say); runs then say what is wrong.
        let unchanged = existing
            .as_ref()
            .is_some_and(|e| e.credential_id.is_some() && e.credential_id == config.credential_id);
        if !unchanged {
            self.bind_account(&mut config).await?;
        }
        if let Some(existing) = existing {
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
        if self
            .account_of(config)
            .await?
            .is_some_and(|c| c.needs_reauth)
        {
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

/// One time a schedule fires.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct NextRun {
    /// When, in UTC.
    pub at: chrono::DateTime<chrono::Utc>,
    /// The same time in the schedule's zone, for people (`2026-12-08 01:00 CET`).
    pub local: String,
}

/// The most times [`App::next_runs`] gives.
pub const MAX_NEXT_RUNS: usize = 10;

impl App {
    /// The next `count` times (at most [`MAX_NEXT_RUNS`]) a schedule fires from now: the cron
    /// expression `cron` read in `zone` (UTC by default), or every `interval_hours`.
    pub fn next_runs(
        &self,
        cron: Option<&str>,
        zone: Option<&str>,
        interval_hours: i32,
        count: usize,
    ) -> Result<Vec<NextRun>, AppError> {
        let schedule = Schedule::new(cron, zone, interval_hours)
            .map_err(|e| AppError::Invalid(e.to_string()))?;
        let tz = zone
            .map(str::trim)
            .filter(|z| !z.is_empty())
            .and_then(|z| z.parse::<chrono_tz::Tz>().ok())
            .unwrap_or(chrono_tz::UTC);
        let mut at = chrono::Utc::now();
        let mut out = Vec::new();
        for _ in 0..count.min(MAX_NEXT_RUNS) {
            let Some(next) = schedule.next_after(at) else {
                break;
            };
            out.push(NextRun {
                at: next,
                local: next
                    .with_timezone(&tz)
                    .format("%Y-%m-%d %H:%M %Z")
                    .to_string(),
            });
            at = next;
        }
        Ok(out)
    }
}
