//! The provider registry: every component in the providers directory, indexed by its id.

use super::error::{LoadError, UnknownProvider};
use super::lock::{Approval, Lock};
use super::{Provider, Runtime};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The providers that loaded, and the files that did not (with why).
#[derive(Debug, Default)]
pub struct Registry {
    dir: PathBuf,
    providers: BTreeMap<String, Arc<Provider>>,
    problems: Vec<LoadError>,
}

impl Registry {
    /// Load every `*.wasm` file in `dir` that the operator approved in its lock file
    /// ([`super::lock`]). A file that fails to load, is not approved, or differs from its
    /// approval is reported in [`Registry::problems`] and does not stop the others. Two files
    /// claiming one id are both refused: which one would win is not something to leave to
    /// directory order.
    pub async fn load_dir(runtime: &Runtime, dir: &Path) -> Result<Registry, LoadError> {
        let lock = Lock::read(&Lock::path_in(dir))?;
        let read = std::fs::read_dir(dir).map_err(|source| LoadError::Dir {
            path: dir.to_path_buf(),
            source,
        })?;
        let mut files: Vec<PathBuf> = read
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "wasm") && p.is_file())
            .collect();
        files.sort();

        let mut registry = Registry {
            dir: dir.to_path_buf(),
            ..Registry::default()
        };
        let mut claimed: BTreeMap<String, PathBuf> = BTreeMap::new();
        let mut duplicated: BTreeMap<String, ()> = BTreeMap::new();
        for path in files {
            match runtime.load_file(&path).await {
                Ok(provider) => {
                    let id = provider.id().to_string();
                    if let Err(refused) = check_approval(&lock, &provider) {
                        tracing::warn!("{refused}");
                        registry.problems.push(refused);
                        continue;
                    }
                    if let Some(first) = claimed.get(&id) {
                        registry.problems.push(LoadError::DuplicateId {
                            id: id.clone(),
                            first: first.clone(),
                            second: path.clone(),
                        });
                        registry.providers.remove(&id);
                        duplicated.insert(id, ());
                        continue;
                    }
                    claimed.insert(id.clone(), path);
                    if !duplicated.contains_key(&id) {
                        tracing::debug!(provider = %id, file = %provider.source().path.display(), "loaded provider");
                        registry.providers.insert(id, Arc::new(provider));
                    }
                }
                Err(e) => {
                    tracing::warn!("{e}");
                    registry.problems.push(e);
                }
            }
        }
        Ok(registry)
    }

    /// A registry of providers loaded some other way (embedding, tests). Later duplicates of
    /// an id replace earlier ones.
    pub fn from_providers(providers: impl IntoIterator<Item = Provider>) -> Registry {
        Registry {
            providers: providers
                .into_iter()
                .map(|p| (p.id().to_string(), Arc::new(p)))
                .collect(),
            ..Registry::default()
        }
    }

    /// The provider with this id, or an error that lists the ids there are.
    pub fn get(&self, id: &str) -> Result<Arc<Provider>, UnknownProvider> {
        self.providers
            .get(id)
            .cloned()
            .ok_or_else(|| UnknownProvider {
                id: id.to_string(),
                available: self.ids(),
            })
    }

    /// The loaded providers' ids, sorted.
    pub fn ids(&self) -> Vec<String> {
        self.providers.keys().cloned().collect()
    }

    /// The loaded providers, sorted by id.
    pub fn providers(&self) -> impl Iterator<Item = &Arc<Provider>> {
        self.providers.values()
    }

    /// Files that could not be loaded, with the reasons.
    pub fn problems(&self) -> &[LoadError] {
        &self.problems
    }

    /// The directory the providers came from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Whether `provider` is what the operator approved.
fn check_approval(lock: &Lock, provider: &Provider) -> Result<(), LoadError> {
    let path = provider.source().path.clone();
    let Some(approved) = lock.providers.get(provider.id()) else {
        return Err(LoadError::NotApproved {
            id: provider.id().to_string(),
            path,
        });
    };
    let differences = approved.differences(&Approval::of(provider));
    if differences.is_empty() {
        Ok(())
    } else {
        Err(LoadError::ApprovalChanged {
            id: provider.id().to_string(),
            path,
            differences,
        })
    }
}
