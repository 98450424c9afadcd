//! Ids: UUID newtypes, and Percolate's deterministic `make_uuid`.
//!
//! Percolate derives ids from content so that upserts are idempotent:
//! `uuid.UUID(hashlib.md5(json.dumps(obj, sort_keys=True).encode()).hexdigest())`.
//! p8sync reproduces that exactly, so both tools agree on every id:
//!
//! * the JSON form is Python's `json.dumps(obj, sort_keys=True)` with its defaults: keys sorted,
//!   `", "` between items, `": "` between a key and its value, and `ensure_ascii`: every
//!   character outside printable ASCII (space to `~`) is written as `\uXXXX` (UTF-16, so
//!   characters beyond U+FFFF become a surrogate pair), except `\n`, `\r`, `\t`, `\b`, `\f`, which
//!   use their short escapes; `"` and `\` are backslash-escaped;
//! * the MD5 of those UTF-8 bytes is the UUID's 16 bytes, as they are (no version bits are set).
//!
//! | id | JSON object |
//! | --- | --- |
//! | SyncConfig | `{"name": ..., "provider": ..., "userid": ...}` |
//! | SyncCredential | `{"provider": ..., "userid": ...}` |
//! | SyncFile | `{"config_id": ..., "remote_id": ...}` |
//!
//! Uuids inside the JSON are in their lower-case hyphenated form.

use std::fmt;
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map($name)
            }
        }
    };
}

id_type!(
    /// A user (`userid` columns).
    UserId
);
id_type!(
    /// A sync configuration (`p8."SyncConfig".id`).
    ConfigId
);
id_type!(
    /// A stored credential (`p8."SyncCredential".id`).
    CredentialId
);
id_type!(
    /// A synced file (`p8."SyncFile".id`).
    FileId
);
id_type!(
    /// A sync run (`p8."SyncLog".id`).
    LogId
);

impl ConfigId {
    /// The id of the config `name` of `provider` for `user`.
    pub fn derive(user: UserId, provider: &str, name: &str) -> Self {
        ConfigId(make_uuid(&[
            ("name", name),
            ("provider", provider),
            ("userid", &user.to_string()),
        ]))
    }
}

impl CredentialId {
    /// The id of `user`'s credential for `provider`.
    pub fn derive(user: UserId, provider: &str) -> Self {
        CredentialId(make_uuid(&[
            ("provider", provider),
            ("userid", &user.to_string()),
        ]))
    }
}

impl FileId {
    /// The id of the remote file `remote_id` in config `config`.
    pub fn derive(config: ConfigId, remote_id: &str) -> Self {
        FileId(make_uuid(&[
            ("config_id", &config.to_string()),
            ("remote_id", remote_id),
        ]))
    }
}

id_type!(
    /// A chunk of ingested text (`p8."Resources".id`).
    ResourceId
);
id_type!(
    /// An audio file's processing (`p8."AudioFile".id`).
    AudioFileId
);
id_type!(
    /// One chunk of an audio file (`p8."AudioChunk".id`).
    AudioChunkId
);

impl ResourceId {
    /// The id of chunk `ordinal` of the content at `uri`, as Percolate derives it.
    pub fn derive(uri: &str, ordinal: i32) -> Self {
        ResourceId(make_uuid_of(&[
            ("ordinal", Field::Int(ordinal.into())),
            ("uri", Field::Str(uri)),
        ]))
    }
}

impl AudioFileId {
    /// The id of the audio made from synced file `file`.
    pub fn derive(file: FileId) -> Self {
        AudioFileId(make_uuid(&[("sync_file_id", &file.to_string())]))
    }
}

impl AudioChunkId {
    /// The id of chunk `ordinal` of `audio`.
    pub fn derive(audio: AudioFileId, ordinal: i32) -> Self {
        AudioChunkId(make_uuid_of(&[
            ("audio_file_id", Field::Str(&audio.to_string())),
            ("ordinal", Field::Int(ordinal.into())),
        ]))
    }
}

impl LogId {
    /// A new random id.
    pub fn new() -> Self {
        LogId(Uuid::new_v4())
    }
}

impl Default for LogId {
    fn default() -> Self {
        Self::new()
    }
}

/// Percolate's `make_uuid` for an object of string values.
pub fn make_uuid(fields: &[(&str, &str)]) -> Uuid {
    let fields: Vec<(&str, Field<'_>)> = fields.iter().map(|(k, v)| (*k, Field::Str(v))).collect();
    make_uuid_of(&fields)
}

/// A value in an object given to [`make_uuid_of`].
#[derive(Debug, Clone, Copy)]
pub enum Field<'a> {
    /// A string.
    Str(&'a str),
    /// An integer (Python writes it bare).
    Int(i64),
}

/// Percolate's `make_uuid` for an object of string and integer values.
pub fn make_uuid_of(fields: &[(&str, Field<'_>)]) -> Uuid {
    let mut sorted: Vec<&(&str, Field<'_>)> = fields.iter().collect();
    // Python sorts str keys by code point; UTF-8 byte order is the same order.
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let mut json = String::from("{");
    for (i, (k, v)) in sorted.iter().enumerate() {
        if i > 0 {
            json.push_str(", ");
        }
        python_json_string(&mut json, k);
        json.push_str(": ");
        match v {
            Field::Str(v) => python_json_string(&mut json, v),
            Field::Int(n) => json.push_str(&n.to_string()),
        }
    }
    json.push('}');
    Uuid::from_bytes(md5::compute(json.as_bytes()).0)
}

/// A string as Python's `json.dumps` writes it with `ensure_ascii=True`.
fn python_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values computed with Percolate's make_uuid in CPython 3.11.
    const USER: &str = "5c1b2f3e-0000-4000-8000-000000000001";
    const CONFIG: &str = "0f8fad5b-d9cb-469f-a165-70867728950e";

    #[test]
    fn matches_percolate_for_configs_and_credentials() {
        let user: UserId = USER.parse().unwrap();
        assert_eq!(
            ConfigId::derive(user, "local", "docs").to_string(),
            "090670ec-95c1-3f16-06e6-000c3be6c371"
        );
        assert_eq!(
            CredentialId::derive(user, "google_drive").to_string(),
            "082b2995-aade-0a9e-7ed8-a0bf26282d64"
        );
    }

    #[test]
    fn matches_percolate_for_resources_with_integer_ordinals() {
        // Python: make_uuid({"uri": ..., "ordinal": 3}); the ordinal is written bare.
        assert_eq!(
            ResourceId::derive("s3://bucket/p8sync/a/b.txt", 3).to_string(),
            "8dcb5cbd-6337-48c8-b47a-274a5b64e7fa"
        );
    }

    #[test]
    fn matches_percolate_for_awkward_file_ids() {
        let config: ConfigId = CONFIG.parse().unwrap();
        assert_eq!(
            FileId::derive(config, "notes/été \"quoted\"\\back\n.txt").to_string(),
            "a4fe75c5-e16d-05eb-13c0-8647a1a306b6"
        );
        assert_eq!(
            FileId::derive(config, "emoji 😀 and tab\t").to_string(),
            "4da79061-93b3-60ad-51d0-f4edb15784c0"
        );
    }
}

macro_rules! from_uuid {
    ($($name:ident),+) => {$(
        impl From<Uuid> for $name {
            fn from(u: Uuid) -> Self {
                $name(u)
            }
        }
    )+};
}
from_uuid!(
    UserId,
    ConfigId,
    CredentialId,
    FileId,
    LogId,
    ResourceId,
    AudioFileId,
    AudioChunkId
);
