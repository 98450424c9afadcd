//! Audio into `AudioFile` and `AudioChunk` rows, chunk WAVs in object storage, and a transcript
//! in `Resources`. Memory is bounded by one chunk: the object is copied to a scratch file, the
//! decoder writes 16 kHz mono PCM to another, and chunks are cut from that one at a time.

use super::audio::{self, AudioError, NO_BACKEND, Segment};
use super::text;
use super::text_job::resources;
use super::worker::{Failure, Ingestor};
use crate::blob::{ObjectKey, ObjectMeta};
use crate::store::ids::{AudioChunkId, AudioFileId};
use crate::store::ingest::{
    AudioChunkRecord, AudioFileRecord, AudioStatus, ChunkStatus, IngestJob, IngestOutcome,
    IngestStatus,
};
use std::sync::Arc;
use tokio::io::AsyncReadExt;

/// The `category` of resources made from transcripts.
pub const TRANSCRIPT_CATEGORY: &str = "audio_transcription";

/// Decode, chunk and transcribe the audio at `key`.
pub(super) async fn ingest(
    ingestor: &Ingestor,
    job: &IngestJob,
    key: &ObjectKey,
) -> Result<IngestOutcome, Failure> {
    let store = &ingestor.store;
    let file = &job.file;
    let project = store.config(file.config_id).await?.map(|c| c.name);
    let mut record = AudioFileRecord {
        id: AudioFileId::derive(file.id),
        userid: file.userid,
        project_name: project,
        filename: file.remote_name.clone().unwrap_or_default(),
        file_size: file.local_size,
        content_type: file.remote_type.clone(),
        duration: None,
        upload_date: file.local_modified_at,
        status: AudioStatus::Processing,
        s3_uri: file.s3_uri.clone().unwrap_or_default(),
        chunks: serde_json::json!([]),
        metadata: serde_json::json!({ "checksum": file.local_checksum }),
        sync_file_id: file.id,
    };
    store.put_audio_file(&record).await?;

    let source = ingestor.download(key).await?;
    let hint = file
        .remote_type
        .clone()
        .filter(|m| m.starts_with("audio/"))
        .or_else(|| key.as_str().rsplit_once('.').map(|(_, e)| e.to_string()));
    let Some(extractors) = ingestor.extractors.as_deref() else {
        return Ok(no_extractors(&format!(
            "{} audio",
            hint.as_deref().unwrap_or("this")
        )));
    };
    let analysed = audio::analyse(
        extractors,
        &source,
        hint.as_deref(),
        file.remote_name.as_deref().unwrap_or_default(),
        &ingestor.options.scratch_dir(),
        &ingestor.options.segment,
    )
    .await;
    drop(source);
    let analysis = match analysed {
        Ok(a) => Arc::new(a),
        Err(AudioError::Unsupported { reason }) => {
            record.status = AudioStatus::Failed;
            record.metadata["error"] = reason.clone().into();
            store.put_audio_file(&record).await?;
            return Ok(IngestOutcome {
                status: IngestStatus::NotIngestible,
                message: Some(format!("not decodable as audio: {reason}")),
                resources: vec![],
            });
        }
        Err(e @ AudioError::Io(_)) => return Err(Failure::retry(e)),
    };
    record.duration = Some(analysis.duration_secs);
    record.status = AudioStatus::Chunking;
    record.metadata["codec"] = analysis.codec.clone().into();
    record.metadata["source_sample_rate"] = analysis.source_sample_rate.into();
    record.metadata["source_channels"] = analysis.source_channels.into();
    let mut notes = Vec::new();
    if analysis.truncated {
        notes.push(format!(
            "only the first {} were decoded (the cap is P8_INGEST_MAX_AUDIO_SECS)",
            hours(analysis.duration_secs)
        ));
        record.metadata["truncated"] = true.into();
    }
    if analysis.segments.is_empty() {
        // Silence, or sound with no speech in it: nothing to transcribe, no chunk worth
        // storing, and no paid call to a backend.
        record.status = AudioStatus::Completed;
        record.metadata["speech"] = "none".into();
        store.put_audio_file(&record).await?;
        write_chunks(ingestor, job, key, &record, &analysis).await?;
        notes.insert(
            0,
            format!(
                "no speech found in {} of audio",
                hours(analysis.duration_secs)
            ),
        );
        return Ok(IngestOutcome {
            status: IngestStatus::Stored,
            message: Some(notes.join("; ")),
            resources: vec![],
        });
    }
    store.put_audio_file(&record).await?;

    let chunks = write_chunks(ingestor, job, key, &record, &analysis).await?;
    if analysis.segments.len() > chunks.len() {
        notes.push(format!(
            "{} of {} speech segments were cut into chunks (the cap is P8_INGEST_MAX_AUDIO_CHUNKS)",
            chunks.len(),
            analysis.segments.len()
        ));
    }
    record.chunks = chunk_summary(&chunks);
    let Some(backend) = ingestor.transcriber.clone() else {
        record.status = AudioStatus::Completed;
        record.metadata["transcription"] = NO_BACKEND.into();
        store.put_audio_file(&record).await?;
        return Ok(IngestOutcome {
            status: IngestStatus::Untranscribed,
            message: Some(with_notes(
                format!(
                    "{} chunks of {:.1} s of audio, not transcribed: {NO_BACKEND}, then run \
                     `p8sync ingest retry`",
                    chunks.len(),
                    analysis.duration_secs
                ),
                &notes,
            )),
            resources: vec![],
        });
    };
    record.status = AudioStatus::Transcribing;
    store.put_audio_file(&record).await?;

    let mut chunks = chunks;
    let mut retryable = 0;
    let mut last_error = None;
    for chunk in &mut chunks {
        let wav = read_object(ingestor, &chunk.s3_uri).await?;
        match backend
            .transcribe(wav, &format!("chunk-{}.wav", chunk.ordinal))
            .await
        {
            Ok(t) => {
                chunk.transcription = Some(t.text);
                chunk.confidence = t.confidence;
                chunk.status = ChunkStatus::Transcribed;
                chunk.error = None;
            }
            Err(e) => {
                // One chunk's failure is recorded on it; the others go on.
                tracing::warn!(file = %file.id, chunk = chunk.ordinal, "transcription failed: {e}");
                retryable += u32::from(e.is_retryable());
                chunk.status = ChunkStatus::Failed;
                chunk.error = Some(e.to_string());
                last_error = Some(e.to_string());
            }
        }
        store.put_audio_chunk(chunk).await?;
    }
    record.chunks = chunk_summary(&chunks);
    let transcribed: Vec<(Segment, String)> = chunks
        .iter()
        .filter(|c| c.status == ChunkStatus::Transcribed)
        .map(|c| {
            (
                Segment {
                    start: c.start_time,
                    end: c.end_time,
                },
                c.transcription.clone().unwrap_or_default(),
            )
        })
        .collect();
    let failed = chunks.len() - transcribed.len();
    // Retryable failures send the whole file round again while attempts remain; on the last
    // attempt a file with no transcript at all fails (it is set aside as dead, and `ingest
    // retry` brings it back once the backend recovers) rather than passing for untranscribed.
    if retryable > 0 && (job.attempt < ingestor.options.max_attempts || transcribed.is_empty()) {
        // The backend may recover: the whole file is tried again later, chunks included.
        record.status = AudioStatus::Failed;
        record.metadata["error"] = last_error.clone().unwrap_or_default().into();
        store.put_audio_file(&record).await?;
        return Err(Failure::retry(format!(
            "{failed} of {} chunks could not be transcribed yet: {}",
            chunks.len(),
            last_error.unwrap_or_default()
        )));
    }
    record.status = if transcribed.is_empty() && failed > 0 {
        AudioStatus::Failed
    } else {
        AudioStatus::Completed
    };
    if let Some(e) = &last_error {
        record.metadata["error"] = e.clone().into();
    }
    store.put_audio_file(&record).await?;

    let transcript = audio::transcript_text(&transcribed);
    let pieces = text::chunk(&transcript, &ingestor.options.chunk);
    let resources = resources(file, TRANSCRIPT_CATEGORY, &pieces, |_| {
        serde_json::json!({
            "audio_file_id": record.id,
            "duration": analysis.duration_secs,
            "audio_chunks": chunks.len(),
        })
    });
    let mut message = format!(
        "{} of {} chunks transcribed ({:.1} s of audio)",
        transcribed.len(),
        chunks.len(),
        analysis.duration_secs
    );
    if let Some(e) = last_error {
        message.push_str(&format!("; last failure: {e}"));
    }
    let message = with_notes(message, &notes);
    Ok(IngestOutcome {
        status: if resources.is_empty() {
            IngestStatus::Untranscribed
        } else {
            IngestStatus::Transcribed
        },
        message: Some(message),
        resources,
    })
}

/// Cut each segment into a mono 16 kHz WAV object and record it as a chunk, one at a time.
/// Chunks an older version of the file had beyond these are removed, objects and rows.
async fn write_chunks(
    ingestor: &Ingestor,
    job: &IngestJob,
    key: &ObjectKey,
    record: &AudioFileRecord,
    analysis: &Arc<audio::Analysis>,
) -> Result<Vec<AudioChunkRecord>, Failure> {
    let store = &ingestor.store;
    let segments = &analysis.segments[..analysis
        .segments
        .len()
        .min(ingestor.options.max_audio_chunks)];
    let count = i32::try_from(segments.len()).unwrap_or(i32::MAX);
    let old = store.audio_chunks(record.id).await?;
    ingestor
        .delete_objects(
            old.iter()
                .filter(|c| c.ordinal >= count)
                .map(|c| c.s3_uri.as_str()),
        )
        .await?;
    store.delete_audio_chunks(record.id, count).await?;
    let mut chunks = Vec::with_capacity(segments.len());
    for (n, segment) in segments.iter().enumerate() {
        let ordinal = i32::try_from(n).unwrap_or(i32::MAX);
        let cut = Arc::clone(analysis);
        let segment_copy = *segment;
        let wav = tokio::task::spawn_blocking(move || cut.segment_wav(&segment_copy))
            .await
            .map_err(|e| Failure::retry(format!("the chunking thread failed: {e}")))?
            .map_err(|e| Failure::retry(format!("cutting chunk {ordinal}: {e}")))?;
        let chunk_key = key.audio_chunk(ordinal);
        let meta = ObjectMeta {
            name: format!("chunk-{ordinal}.wav"),
            content_type: Some("audio/wav".into()),
            size_hint: Some(wav.len() as u64),
            sha256: None,
        };
        let stored = ingestor
            .blob
            .put(&chunk_key, &mut std::io::Cursor::new(wav), &meta)
            .await
            .map_err(Failure::retry)?;
        let (status, error) = match ingestor.transcriber {
            Some(_) => (ChunkStatus::Pending, None),
            None => (ChunkStatus::NoBackend, Some(NO_BACKEND.to_string())),
        };
        let chunk = AudioChunkRecord {
            id: AudioChunkId::derive(record.id, ordinal),
            audio_file_id: record.id,
            ordinal,
            start_time: segment.start,
            end_time: segment.end,
            duration: segment.end - segment.start,
            s3_uri: stored.uri,
            transcription: None,
            confidence: None,
            speaker_id: None,
            metadata: serde_json::json!({ "sample_rate": audio::SAMPLE_RATE, "channels": 1 }),
            userid: job.file.userid,
            status,
            error,
        };
        store.put_audio_chunk(&chunk).await?;
        chunks.push(chunk);
    }
    Ok(chunks)
}

async fn read_object(ingestor: &Ingestor, uri: &str) -> Result<Vec<u8>, Failure> {
    let key = ObjectKey::from_uri(uri).ok_or_else(|| Failure {
        message: format!("the chunk URI {uri} is not one p8sync wrote"),
        retryable: false,
    })?;
    let mut reader = ingestor.blob.read(&key).await.map_err(Failure::retry)?;
    let mut bytes = Vec::new();
    reader
        .read_to_end(&mut bytes)
        .await
        .map_err(|e| Failure::retry(format!("reading chunk {key}: {e}")))?;
    Ok(bytes)
}

/// `message`, then the notes a person should read with it.
fn with_notes(message: String, notes: &[String]) -> String {
    std::iter::once(message)
        .chain(notes.iter().cloned())
        .collect::<Vec<_>>()
        .join("; ")
}

/// A duration for people: `12.5 s`, `4.0 h`.
fn hours(secs: f64) -> String {
    if secs >= 3600.0 {
        format!("{:.1} h", secs / 3600.0)
    } else {
        format!("{secs:.1} s")
    }
}

/// The outcome when no extractors are set up at all.
pub(super) fn no_extractors(what: &str) -> IngestOutcome {
    IngestOutcome {
        status: IngestStatus::NotIngestible,
        message: Some(format!(
            "not ingestible: {what} needs an extractor, and this ingestor has none (set \
             P8_EXTRACTORS_DIR)"
        )),
        resources: vec![],
    }
}

fn chunk_summary(chunks: &[AudioChunkRecord]) -> serde_json::Value {
    chunks
        .iter()
        .map(|c| {
            serde_json::json!({
                "id": c.id,
                "ordinal": c.ordinal,
                "start": c.start_time,
                "end": c.end_time,
                "s3_uri": c.s3_uri,
                "status": c.status,
            })
        })
        .collect()
}
