//! The provider registry: the built-in providers and every approved component in the providers
//! directory, indexed by id.

use super::error::{LoadError, UnknownProvider};
use super::lock::{Approval, Lock};
use super::{Provider, Runtime};
use crate::builtin::Embedded;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The providers that loaded, and the files that did not (with why).
#[derive(Debug, Default)]
pub struct Registry {
    dir: Option<PathBuf>,
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
        Registry::load(runtime, &[], Some(dir)).await
    }

    /// The built-in providers (approved by the build), then those in `dir` as
    /// [`Registry::load_dir`] loads them: a file there with a built-in's id replaces it.
    pub async fn load(
        runtime: &Runtime,
        builtins: &[Embedded],
        dir: Option<&Path>,
    ) -> Result<Registry, LoadError> {
        let mut registry = Registry {
            dir: dir.map(Path::to_path_buf),
            ..Registry::default()
        };
        let mut loaded = Vec::new();
        for embedded in builtins {
            loaded.push(runtime.load_builtin(embedded).await);
        }
        let builtin = registry.claim(loaded, None);
        let Some(dir) = dir else {
            registry.providers = builtin;
            return Ok(registry);
        };
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
        let mut loaded = Vec::new();
        for path in files {
            loaded.push(runtime.load_file(&path).await);
        }
        let from_dir = registry.claim(loaded, Some(&lock));
        registry.providers = builtin;
        for (id, provider) in from_dir {
            // Worth a line only when it is another component than the one built in.
            if let Some(built_in) = registry.providers.get(&id)
                && built_in.source().sha256 != provider.source().sha256
            {
                tracing::info!(provider = %id, file = %provider.source().path.display(), "overrides the built-in provider");
            }
            registry.providers.insert(id, provider);
        }
        Ok(registry)
    }

    /// The providers among `loaded` that may run, by id: approved by `lock` (built-ins need
    /// none), and the only one with their id. The rest go to the problems.
    fn claim(
        &mut self,
        loaded: Vec<Result<Provider, LoadError>>,
        lock: Option<&Lock>,
    ) -> BTreeMap<String, Arc<Provider>> {
        let mut providers = BTreeMap::new();
        let mut claimed: BTreeMap<String, PathBuf> = BTreeMap::new();
        let mut duplicated: BTreeMap<String, ()> = BTreeMap::new();
        for result in loaded {
            let provider = match result {
                Ok(provider) => provider,
                Err(e) => {
                    tracing::warn!("{e}");
                    self.problems.push(e);
                    continue;
                }
            };
            let id = provider.id().to_string();
            let path = provider.source().path.clone();
            if let Some(lock) = lock
                && let Err(refused) = check_approval(lock, &provider)
            {
                tracing::warn!("{refused}");
                self.problems.push(refused);
                continue;
            }
            if let Some(first) = claimed.get(&id) {
                self.problems.push(LoadError::DuplicateId {
                    id: id.clone(),
                    first: first.clone(),
                    second: path,
                });
                providers.remove(&id);
                duplicated.insert(id, ());
                continue;
            }
            claimed.insert(id.clone(), path);
            if !duplicated.contains_key(&id) {
                tracing::debug!(provider = %id, file = %provider.source().path.display(), "loaded provider");
                providers.insert(id, Arc::new(provider));
            }
        }
        providers
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

    /// The directory providers were loaded from besides the built-in ones, if any.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
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
