//! Text files into `Resources`: extract, chunk, and give each chunk its deterministic id.

use super::text::{self, ExtractError, Format};
use super::worker::{Failure, Ingestor};
use crate::blob::ObjectKey;
use crate::store::SyncFile;
use crate::store::ids::ResourceId;
use crate::store::ingest::{IngestJob, IngestOutcome, IngestStatus, Resource};

/// The `category` of resources made from documents.
pub const DOCUMENT_CATEGORY: &str = "document";

/// Extract the text of the object at `key` and chunk it into resources.
pub(super) async fn ingest(
    ingestor: &Ingestor,
    job: &IngestJob,
    key: &ObjectKey,
    format: Format,
) -> Result<IngestOutcome, Failure> {
    let path = ingestor.download(key).await?;
    let options = ingestor.options.extract.clone();
    let chunking = ingestor.options.chunk.clone();
    // Extraction is CPU work on untrusted bytes: off the async threads.
    let extracted = tokio::task::spawn_blocking(move || {
        let text = text::extract(format, &path, &options)?;
        Ok::<_, ExtractError>(text::chunk(&text, &chunking))
    })
    .await
    .map_err(|e| Failure::retry(format!("the extraction thread failed: {e}")))?;
    let chunks = match extracted {
        Ok(chunks) => chunks,
        Err(ExtractError::NotIngestible { reason }) => {
            return Ok(IngestOutcome {
                status: IngestStatus::NotIngestible,
                message: Some(format!("not ingestible as {}: {reason}", format.as_str())),
                resources: vec![],
            });
        }
        Err(e @ ExtractError::Io(_)) => return Err(Failure::retry(e)),
    };
    let file = &job.file;
    let resources = resources(
        file,
        DOCUMENT_CATEGORY,
        &chunks,
        |ordinal| serde_json::json!({ "format": format.as_str(), "chunk": ordinal, "chunks": chunks.len() }),
    );
    Ok(IngestOutcome {
        status: IngestStatus::Ingested,
        message: Some(format!(
            "{} resource{} from {} text",
            resources.len(),
            if resources.len() == 1 { "" } else { "s" },
            format.as_str()
        )),
        resources,
    })
}

/// Resources for `chunks` of `file`'s content, with where they came from in `metadata`.
pub(super) fn resources(
    file: &SyncFile,
    category: &str,
    chunks: &[String],
    extra: impl Fn(usize) -> serde_json::Value,
) -> Vec<Resource> {
    let uri = file.s3_uri.clone().unwrap_or_default();
    let name = file
        .remote_name
        .clone()
        .unwrap_or_else(|| file.remote_id.clone());
    chunks
        .iter()
        .enumerate()
        .map(|(n, content)| {
            let ordinal = i32::try_from(n).unwrap_or(i32::MAX);
            let mut metadata = serde_json::json!({
                "source": "p8sync",
                "sync_file_id": file.id,
                "config_id": file.config_id,
                "remote_id": file.remote_id,
                "remote_path": file.remote_path,
                "mime_type": file.remote_type,
                "checksum": file.local_checksum,
            });
            if let (Some(m), serde_json::Value::Object(more)) = (metadata.as_object_mut(), extra(n))
            {
                m.extend(more);
            }
            Resource {
                id: ResourceId::derive(&uri, ordinal),
                name: name.clone(),
                category: category.to_string(),
                content: content.clone(),
                summary: None,
                ordinal,
                uri: uri.clone(),
                metadata,
                graph_paths: vec![],
                resource_timestamp: file.remote_modified_at,
                userid: file.userid,
                sync_file_id: file.id,
            }
        })
        .collect()
}
