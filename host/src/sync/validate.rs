//! Whether a sync config can run, checked before it is stored (by `p8sync config add` and the
//! HTTP API) rather than discovered at its first sync: the provider's declared config keys,
//! the filters, the schedule, and for a local-folder provider, the folder.

use super::schedule::{Schedule, ScheduleError};
use crate::runtime::Provider;
use crate::runtime::types::Capability;
use crate::store::SyncConfig;
use std::path::Path;

/// What is wrong with a config, naming the field.
#[derive(Debug, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct ConfigProblem {
    /// The field (`provider_config.root`, `include_folders`, ...).
    pub field: String,
    /// What is wrong and what would be right.
    pub reason: String,
}

fn problem(field: impl Into<String>, reason: impl Into<String>) -> ConfigProblem {
    ConfigProblem {
        field: field.into(),
        reason: reason.into(),
    }
}

pub use super::local_roots::LocalRoots;
use super::local_roots::RootRefused;

impl From<RootRefused> for ConfigProblem {
    fn from(refused: RootRefused) -> Self {
        problem(ROOT_FIELD, refused.to_string())
    }
}

/// The field that holds a local-folder config's folder.
const ROOT_FIELD: &str = "provider_config.root";

/// The longest interval accepted: a year.
const MAX_INTERVAL_HOURS: i32 = 24 * 366;

/// Check `config` against `provider`; returns its schedule.
pub fn check_config(
    config: &SyncConfig,
    provider: &Provider,
    roots: &LocalRoots,
) -> Result<Schedule, ConfigProblem> {
    let name = config.name.trim();
    if name.is_empty() || name.len() > 200 || name.chars().any(char::is_control) {
        return Err(problem(
            "name",
            "must be 1 to 200 characters, without control characters",
        ));
    }
    if !(1..=MAX_INTERVAL_HOURS).contains(&config.sync_interval_hours) {
        return Err(problem(
            "sync_interval_hours",
            format!(
                "must be between 1 and {MAX_INTERVAL_HOURS}, not {}",
                config.sync_interval_hours
            ),
        ));
    }
    let schedule = Schedule::new(
        config.schedule.as_deref(),
        config.schedule_timezone.as_deref(),
        config.sync_interval_hours,
    )
    .map_err(|e| {
        let field = match e {
            ScheduleError::Zone(_) => "schedule_timezone",
            ScheduleError::Interval(_) => "sync_interval_hours",
            _ => "schedule",
        };
        problem(field, e.to_string())
    })?;
    if config.schedule_timezone.is_some() && config.schedule.is_none() {
        return Err(problem(
            "schedule_timezone",
            "only applies to a cron `schedule`; set one or leave the time zone out",
        ));
    }
    for (field, list) in [
        ("include_folders", &config.include_folders),
        ("exclude_folders", &config.exclude_folders),
    ] {
        if let Some(bad) = list
            .iter()
            .find(|f| f.trim().is_empty() || f.chars().any(char::is_control))
        {
            return Err(problem(
                field,
                format!("{bad:?} is not a folder path (empty, or with control characters)"),
            ));
        }
    }
    for (field, list) in [
        ("include_file_types", &config.include_file_types),
        ("exclude_file_types", &config.exclude_file_types),
    ] {
        if let Some(bad) = list.iter().find(|t| {
            let t = t.trim_start_matches('.');
            t.is_empty()
                || t.len() > 32
                || !t
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
        }) {
            return Err(problem(
                field,
                format!("{bad:?} is not a file extension (like \"pdf\" or \".docx\")"),
            ));
        }
    }
    if let Some(size) = config.max_file_size
        && size < 1
    {
        return Err(problem(
            "max_file_size",
            "must be a positive number of bytes",
        ));
    }
    check_provider_config(config, provider, roots)?;
    Ok(schedule)
}

fn check_provider_config(
    config: &SyncConfig,
    provider: &Provider,
    roots: &LocalRoots,
) -> Result<(), ConfigProblem> {
    let Some(settings) = config.provider_config.as_object() else {
        return Err(problem("provider_config", "must be a JSON object"));
    };
    let local = provider.has(Capability::LocalRoot);
    let declared = &provider.info().config_keys;
    let known = |key: &str| declared.iter().any(|k| k.name == key) || (local && key == "root");
    if let Some(unknown) = settings.keys().find(|k| !known(k)) {
        let mut names: Vec<&str> = declared.iter().map(|k| k.name.as_str()).collect();
        if local {
            names.push("root");
        }
        let offer = if names.is_empty() {
            format!("`{}` takes no settings", provider.id())
        } else {
            format!("`{}` understands: {}", provider.id(), names.join(", "))
        };
        return Err(problem(
            format!("provider_config.{unknown}"),
            format!("unknown key; {offer}"),
        ));
    }
    if let Some(missing) = declared
        .iter()
        .find(|k| k.required && !settings.contains_key(&k.name))
    {
        return Err(problem(
            format!("provider_config.{}", missing.name),
            format!("required by `{}`: {}", provider.id(), missing.description),
        ));
    }
    if local {
        let root = settings
            .get("root")
            .and_then(|r| r.as_str())
            .ok_or_else(|| {
                problem(
                    ROOT_FIELD,
                    "the local provider needs the folder to sync, like {\"root\": \"/data/docs\"}",
                )
            })?;
        check_root(config, Path::new(root), roots)?;
    }
    Ok(())
}

/// Whether the owner of `config` may sync `root`: opened now, as a run would open it (the handle
/// is dropped; a run opens it again).
fn check_root(config: &SyncConfig, root: &Path, roots: &LocalRoots) -> Result<(), ConfigProblem> {
    roots.roots_for(config.userid).open(root)?;
    Ok(())
}

/// Keep what a stored config learnt (its cursor, when it last ran) when it is replaced, and
/// move its next run to follow `schedule` as it is now, not as it was.
pub fn carry_over(config: &mut SyncConfig, existing: &SyncConfig, schedule: &Schedule) {
    config.change_cursor = existing.change_cursor.clone();
    config.cursor_scope = existing.cursor_scope.clone();
    config.last_sync_at = existing.last_sync_at;
    config.next_sync_at = existing
        .last_sync_at
        .and_then(|last| schedule.next_after(last))
        .or(existing.next_sync_at);
}
