//! Text files into `Resources`: extract (plain text here, everything else in a sandboxed
//! extractor), chunk, and give each chunk its deterministic id.

use super::audio_job::no_extractors;
use super::text::{self, ExtractError, Format};
use super::worker::{Failure, Ingestor};
use crate::blob::ObjectKey;
use crate::extract::{ExtractFailure, Input, OutputKind};
use crate::store::SyncFile;
use crate::store::ids::ResourceId;
use crate::store::ingest::{IngestJob, IngestOutcome, IngestStatus, Resource};

/// The `category` of resources made from documents.
pub const DOCUMENT_CATEGORY: &str = "document";

/// Which reader a text file goes to.
pub(super) enum Source {
    /// A format the routes name: plain text is read here, the rest by the extractor that
    /// declares the format.
    Builtin(Format),
    /// No route names it, but an installed extractor declares its type.
    Discovered,
}

/// Extract the text of the object at `key` and chunk it into resources.
pub(super) async fn ingest(
    ingestor: &Ingestor,
    job: &IngestJob,
    key: &ObjectKey,
    source: Source,
) -> Result<IngestOutcome, Failure> {
    let file = &job.file;
    let max_bytes = ingestor.options.extract.max_bytes;
    let not_ingestible = |what: &str, reason: &str| IngestOutcome {
        status: IngestStatus::NotIngestible,
        message: Some(format!("not ingestible as {what}: {reason}")),
        resources: vec![],
    };
    // Refused before it is copied: a huge file costs nothing.
    if let Some(size) = file.local_size.filter(|s| *s as u64 > max_bytes) {
        return Ok(not_ingestible(
            "text",
            &format!(
                "the file is {size} bytes, over the {max_bytes} byte limit for text extraction; \
                 raise the limit to ingest it"
            ),
        ));
    }
    let limits = &ingestor.options.limits;
    let path = ingestor.download(key).await?;
    let (what, extracted) = match source {
        Source::Builtin(format) if format.is_plain_text() => {
            let options = ingestor.options.extract.clone();
            let max_chars = limits.max_chars;
            let path = path.to_path_buf();
            let decoded = tokio::task::spawn_blocking(move || {
                text::extract(format, &path, &options, max_chars)
            })
            .await
            .map_err(|e| Failure::retry(format!("the extraction thread failed: {e}")))?;
            match decoded {
                Ok((text, truncated)) => {
                    (format.as_str().to_string(), Ok((text, truncated, vec![])))
                }
                Err(ExtractError::NotIngestible { reason }) => {
                    return Ok(not_ingestible(format.as_str(), &reason));
                }
                Err(e @ ExtractError::Io(_)) => return Err(Failure::retry(e)),
            }
        }
        source => {
            let format = match source {
                Source::Builtin(format) => Some(format.as_str()),
                Source::Discovered => None,
            };
            let Some(extractors) = ingestor.extractors.as_deref() else {
                return Ok(no_extractors(format.unwrap_or("this type")));
            };
            let names: Vec<&str> = [file.remote_name.as_deref(), Some(key.as_str())]
                .into_iter()
                .flatten()
                .collect();
            let mime = file.remote_type.as_deref();
            let Some(extractor) = extractors
                .find(OutputKind::Text, format, mime, &names)
                .await
            else {
                return Ok(not_ingestible(
                    format.unwrap_or("text"),
                    &format!(
                        "no installed extractor reads {} (looked in {}; `p8sync extractors` \
                         lists them)",
                        format.unwrap_or("this type"),
                        extractors.looked_in()
                    ),
                ));
            };
            let input = Input {
                format: format
                    .map(str::to_string)
                    .or_else(|| extension_of(&names, &extractor.info().formats))
                    .unwrap_or_default(),
                mime_type: file.remote_type.clone(),
                name: file.remote_name.clone().unwrap_or_default(),
            };
            let what = if input.format.is_empty() {
                extractor.info().id.clone()
            } else {
                input.format.clone()
            };
            let result = extractors
                .text(&extractor, &path, input)
                .await
                .map(|out| (out.text, out.truncated, out.notes));
            (what, result)
        }
    };
    let (raw, truncated, mut notes) = match extracted {
        Ok(out) => out,
        Err(ExtractFailure::Io(e)) => return Err(Failure::retry(format!("extraction: {e}"))),
        Err(failure) => return Ok(not_ingestible(&what, &failure.to_string())),
    };
    drop(path);
    // Tidying and chunking ten million characters is CPU work too: off the async threads, so a
    // huge document never holds up the API or the other jobs.
    let chunking = ingestor.options.chunk.clone();
    let label = what.clone();
    let cut = tokio::task::spawn_blocking(move || {
        let text = text::finish(&raw, &label)?;
        drop(raw);
        Ok::<_, ExtractError>(text::chunk(&text, &chunking))
    })
    .await
    .map_err(|e| Failure::retry(format!("the chunking thread failed: {e}")))?;
    let mut chunks = match cut {
        Ok(chunks) => chunks,
        Err(ExtractError::NotIngestible { reason }) => return Ok(not_ingestible(&what, &reason)),
        Err(e @ ExtractError::Io(_)) => return Err(Failure::retry(e)),
    };
    if truncated {
        notes.push(format!(
            "the text was cut at {} characters (P8_INGEST_MAX_CHARS)",
            limits.max_chars
        ));
    }
    let max_resources = ingestor.options.max_resources;
    if chunks.len() > max_resources {
        notes.push(format!(
            "only the first {max_resources} of {} chunks were kept (P8_INGEST_MAX_RESOURCES)",
            chunks.len()
        ));
        chunks.truncate(max_resources);
    }
    let resources = resources(
        file,
        DOCUMENT_CATEGORY,
        &chunks,
        |ordinal| serde_json::json!({ "format": what, "chunk": ordinal, "chunks": chunks.len() }),
    );
    let mut message = format!(
        "{} resource{} from {what} text",
        resources.len(),
        if resources.len() == 1 { "" } else { "s" },
    );
    for note in notes {
        message.push_str("; ");
        message.push_str(&note);
    }
    Ok(IngestOutcome {
        status: IngestStatus::Ingested,
        message: Some(message),
        resources,
    })
}

/// The first of `names`' extensions that is one of `formats`.
fn extension_of(names: &[&str], formats: &[String]) -> Option<String> {
    names
        .iter()
        .filter_map(|n| n.rsplit('/').next()?.rsplit_once('.'))
        .map(|(_, e)| e.to_ascii_lowercase())
        .find(|e| formats.contains(e))
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
