//! Synced files: one file, and what ingestion made of it.

use super::{App, AppError};
use crate::store::SyncFile;
use crate::store::ids::{FileId, UserId};
use crate::store::ingest::{AudioChunkRecord, AudioFileRecord, Resource};

/// A synced file with what ingestion made of it: its text chunks, or its audio with the
/// transcript's time ranges.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct FileView {
    /// The file's record.
    pub file: SyncFile,
    /// Its text chunks (`p8."Resources"`), in order.
    pub resources: Vec<Resource>,
    /// Its audio record, for an audio file.
    pub audio: Option<AudioFileRecord>,
    /// Its audio chunks with their transcripts and time ranges, in order.
    pub audio_chunks: Vec<AudioChunkRecord>,
}

impl App {
    /// The file `id`, if `owner` may see it (`None`: anyone's, for the operator and admins).
    /// Someone else's file is "not found" too, so nothing leaks about it.
    pub async fn file(&self, id: FileId, owner: Option<UserId>) -> Result<SyncFile, AppError> {
        match self.store.file(id).await? {
            Some(f) if owner.is_none_or(|u| u == f.userid) => Ok(f),
            _ => Err(AppError::NotFound(format!("synced file {id}"))),
        }
    }

    /// `file` with what ingestion made of it.
    pub async fn file_view(&self, file: SyncFile) -> Result<FileView, AppError> {
        let resources = self.store.resources_for_file(file.id).await?;
        let audio = self.store.audio_file_for(file.id).await?;
        let audio_chunks = match &audio {
            Some(a) => self.store.audio_chunks(a.id).await?,
            None => Vec::new(),
        };
        Ok(FileView {
            file,
            resources,
            audio,
            audio_chunks,
        })
    }
}
