//! A `local-root` provider as a third party wrote it against `p8:provider@0.1.0` (the frozen
//! WIT beside it): it lists the top of `/root` through `wasi:filesystem` and fetches with plain
//! `local-file` paths. The host must still load and run it, and read the files it names, even
//! when a name holds the name encoding's quote `‛` (a 0.1.0 path is plain text).

wit_bindgen::generate!({
    path: "wit",
    world: "provider-component",
});

use exports::p8::provider::provider::Guest;
use p8::provider::types::{
    AuthMethod, Capability, ChangePage, Entry, EntryKind, FetchPlan, ListRequest, Page,
    ProviderError, ProviderInfo,
};

struct OldLocal;

impl Guest for OldLocal {
    fn info() -> ProviderInfo {
        ProviderInfo {
            id: "test_old_local".into(),
            display_name: "Old local (0.1.0)".into(),
            version: "0.1.0".into(),
            description: "The top of a local folder, the 0.1.0 way.".into(),
            api_hosts: vec![],
            plain_hosts: vec![],
            auth: AuthMethod::None,
            capabilities: vec![Capability::LocalRoot],
            config_keys: vec![],
        }
    }

    fn list(_request: ListRequest) -> Result<Page, ProviderError> {
        // Uses the 0.1.0 `host` interface too, so the host must link that import as well.
        p8::provider::host::log(p8::provider::host::LogLevel::Info, "listing, the 0.1.0 way");
        let read = std::fs::read_dir("/root")
            .map_err(|e| ProviderError::Transient(format!("cannot list the root: {e}")))?;
        let mut entries = Vec::new();
        for item in read {
            let item = item.map_err(|e| ProviderError::Transient(e.to_string()))?;
            let meta = item
                .metadata()
                .map_err(|e| ProviderError::Transient(e.to_string()))?;
            let Ok(name) = item.file_name().into_string() else {
                continue;
            };
            if !meta.is_file() {
                continue;
            }
            entries.push(Entry {
                id: name.clone(),
                name,
                path: vec![],
                parent_ids: vec![],
                kind: EntryKind::File,
                mime_type: None,
                size: Some(meta.len()),
                modified: None,
                created: None,
                checksums: vec![],
                revision: None,
                export_as: None,
                metadata_json: None,
            });
        }
        entries.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(Page {
            entries,
            skipped: vec![],
            next_cursor: None,
        })
    }

    fn start_cursor() -> Result<String, ProviderError> {
        Err(ProviderError::Permanent("no changes feed".into()))
    }

    fn changes(_cursor: String) -> Result<ChangePage, ProviderError> {
        Err(ProviderError::Permanent("no changes feed".into()))
    }

    fn fetch(entry: Entry) -> Result<FetchPlan, ProviderError> {
        Ok(FetchPlan::LocalFile(entry.id))
    }
}

export!(OldLocal);
