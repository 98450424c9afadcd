//! Google Workspace files have no bytes of their own; they are exported to a chosen format.
//!
//! The tables follow the formats Drive's `files.export` accepts for each type. A user can pick a
//! format per type in `export_formats` by MIME type or by a short name (`md`, `pdf`, ...).

use crate::model::GOOGLE_APPS_PREFIX;
use p8sync_provider_sdk::types::{ExportFormat, ProviderError};
use serde_json::Value;

/// One export format: its MIME type, the extension objects get, and the short names users type.
struct Format {
    mime: &'static str,
    extension: &'static str,
    aliases: &'static [&'static str],
}

const DOCX: Format = Format {
    mime: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    extension: "docx",
    aliases: &["docx", "word"],
};
const ODT: Format = Format {
    mime: "application/vnd.oasis.opendocument.text",
    extension: "odt",
    aliases: &["odt"],
};
const RTF: Format = Format {
    mime: "application/rtf",
    extension: "rtf",
    aliases: &["rtf"],
};
const PDF: Format = Format {
    mime: "application/pdf",
    extension: "pdf",
    aliases: &["pdf"],
};
const TXT: Format = Format {
    mime: "text/plain",
    extension: "txt",
    aliases: &["txt", "text"],
};
const HTML: Format = Format {
    mime: "text/html",
    extension: "html",
    aliases: &["html", "htm"],
};
const ZIP: Format = Format {
    mime: "application/zip",
    extension: "zip",
    aliases: &["zip"],
};
const EPUB: Format = Format {
    mime: "application/epub+zip",
    extension: "epub",
    aliases: &["epub"],
};
const MARKDOWN: Format = Format {
    mime: "text/markdown",
    extension: "md",
    aliases: &["md", "markdown"],
};
const XLSX: Format = Format {
    mime: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    extension: "xlsx",
    aliases: &["xlsx", "excel"],
};
const ODS: Format = Format {
    mime: "application/vnd.oasis.opendocument.spreadsheet",
    extension: "ods",
    aliases: &["ods"],
};
const CSV: Format = Format {
    mime: "text/csv",
    extension: "csv",
    aliases: &["csv"],
};
const TSV: Format = Format {
    mime: "text/tab-separated-values",
    extension: "tsv",
    aliases: &["tsv"],
};
const PPTX: Format = Format {
    mime: "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    extension: "pptx",
    aliases: &["pptx", "powerpoint"],
};
const ODP: Format = Format {
    mime: "application/vnd.oasis.opendocument.presentation",
    extension: "odp",
    aliases: &["odp"],
};
const JPG: Format = Format {
    mime: "image/jpeg",
    extension: "jpg",
    aliases: &["jpg", "jpeg"],
};
const PNG: Format = Format {
    mime: "image/png",
    extension: "png",
    aliases: &["png"],
};
const SVG: Format = Format {
    mime: "image/svg+xml",
    extension: "svg",
    aliases: &["svg"],
};

/// A Workspace type that can be exported: its short key, name for messages, and formats (the
/// first is the default).
struct Kind {
    key: &'static str,
    label: &'static str,
    formats: &'static [Format],
}

const KINDS: [Kind; 4] = [
    Kind {
        key: "document",
        label: "Google Docs",
        formats: &[DOCX, ODT, RTF, PDF, TXT, HTML, ZIP, EPUB, MARKDOWN],
    },
    Kind {
        key: "spreadsheet",
        label: "Google Sheets",
        formats: &[XLSX, ODS, PDF, ZIP, CSV, TSV],
    },
    Kind {
        key: "presentation",
        label: "Google Slides",
        formats: &[PPTX, ODP, PDF, TXT, JPG, PNG, SVG],
    },
    Kind {
        key: "drawing",
        label: "Google Drawings",
        formats: &[PDF, JPG, PNG, SVG],
    },
];

/// Workspace types that have no export at all, with the names users know them by.
const NOT_EXPORTABLE: [(&str, &str); 7] = [
    ("form", "Google Forms"),
    ("site", "Google Sites"),
    ("map", "Google My Maps"),
    ("fusiontable", "Google Fusion Tables"),
    ("jam", "Google Jamboard files"),
    ("script", "Google Apps Script projects"),
    ("drive-sdk", "Files of third-party Drive apps"),
];

/// The export format chosen for each exportable type (indexes into each kind's formats).
#[derive(Debug, Clone)]
pub struct ExportChoices {
    chosen: [usize; KINDS.len()],
}

impl Default for ExportChoices {
    fn default() -> Self {
        ExportChoices {
            chosen: [0; KINDS.len()],
        }
    }
}

/// What to do with a file of a given MIME type.
#[derive(Debug, Clone)]
pub enum Disposition {
    /// Not a Workspace file: download its bytes.
    Download,
    /// Export it in this format.
    Export(ExportFormat),
    /// It cannot be exported; the reason says why.
    Skip(String),
}

impl ExportChoices {
    /// Read `export_formats` (a JSON object); `None` keeps the defaults.
    pub fn parse(value: Option<&str>) -> Result<Self, ProviderError> {
        let mut choices = ExportChoices::default();
        let Some(text) = value else {
            return Ok(choices);
        };
        let invalid = |m: String| ProviderError::InvalidConfig(m);
        let map = match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => map,
            _ => {
                return Err(invalid(format!(
                    "export_formats must be a JSON object such as {{\"document\": \"md\", \
                     \"spreadsheet\": \"csv\"}}, not `{text:.80}`"
                )));
            }
        };
        for (key, value) in map {
            let short = key.strip_prefix(GOOGLE_APPS_PREFIX).unwrap_or(&key);
            let Some(k) = KINDS.iter().position(|k| k.key == short) else {
                let known = KINDS.iter().map(|k| k.key).collect::<Vec<_>>().join(", ");
                return Err(invalid(format!(
                    "export_formats key `{key}` is not a Google Workspace type that can be \
                     exported; use one of {known} (or their application/vnd.google-apps.* MIME \
                     types)"
                )));
            };
            let kind = &KINDS[k];
            let Value::String(wanted) = &value else {
                return Err(invalid(format!(
                    "export_formats.{key} must be a string naming a format; valid choices: {}",
                    choices_for(kind)
                )));
            };
            let wanted_lc = wanted.trim().to_ascii_lowercase();
            let wanted_lc = wanted_lc.trim_start_matches('.');
            let Some(f) = kind
                .formats
                .iter()
                .position(|f| f.mime == wanted_lc || f.aliases.contains(&wanted_lc))
            else {
                return Err(invalid(format!(
                    "export_formats.{key} = `{wanted}` is not a format {} can be exported to; \
                     valid choices: {}",
                    kind.label,
                    choices_for(kind)
                )));
            };
            choices.chosen[k] = f;
        }
        Ok(choices)
    }

    /// How a file of `mime_type` gets its bytes.
    pub fn disposition(&self, mime_type: &str) -> Disposition {
        let Some(short) = mime_type.strip_prefix(GOOGLE_APPS_PREFIX) else {
            return Disposition::Download;
        };
        if let Some(k) = KINDS.iter().position(|k| k.key == short) {
            let f = &KINDS[k].formats[self.chosen[k]];
            return Disposition::Export(ExportFormat {
                mime_type: f.mime.to_string(),
                extension: f.extension.to_string(),
            });
        }
        let reason = match NOT_EXPORTABLE.iter().find(|(key, _)| *key == short) {
            Some((_, label)) => format!("{label} can't be exported; skipped"),
            None => format!("Google Workspace type `{short}` can't be exported; skipped"),
        };
        Disposition::Skip(reason)
    }
}

fn choices_for(kind: &Kind) -> String {
    kind.formats
        .iter()
        .map(|f| format!("{} ({})", f.aliases[0], f.mime))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn export_of(choices: &ExportChoices, mime: &str) -> Option<(String, String)> {
        match choices.disposition(mime) {
            Disposition::Export(f) => Some((f.mime_type, f.extension)),
            _ => None,
        }
    }

    #[test]
    fn defaults_and_overrides() {
        let defaults = ExportChoices::parse(None).unwrap();
        let doc = "application/vnd.google-apps.document";
        assert_eq!(export_of(&defaults, doc).unwrap().1, "docx");
        assert_eq!(
            export_of(&defaults, "application/vnd.google-apps.drawing")
                .unwrap()
                .1,
            "pdf"
        );
        let chosen = ExportChoices::parse(Some(
            r#"{"application/vnd.google-apps.document": "MD", "spreadsheet": "text/csv",
                "presentation": ".jpeg"}"#,
        ))
        .unwrap();
        assert_eq!(
            export_of(&chosen, doc).unwrap(),
            ("text/markdown".into(), "md".into())
        );
        assert_eq!(
            export_of(&chosen, "application/vnd.google-apps.spreadsheet")
                .unwrap()
                .1,
            "csv"
        );
        assert_eq!(
            export_of(&chosen, "application/vnd.google-apps.presentation")
                .unwrap()
                .1,
            "jpg"
        );
        assert!(matches!(
            chosen.disposition("application/pdf"),
            Disposition::Download
        ));
    }

    #[test]
    fn skips_what_cannot_be_exported() {
        let d = ExportChoices::default();
        match d.disposition("application/vnd.google-apps.form") {
            Disposition::Skip(r) => assert_eq!(r, "Google Forms can't be exported; skipped"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            d.disposition("application/vnd.google-apps.unknown-thing"),
            Disposition::Skip(_)
        ));
    }

    #[test]
    fn refuses_bad_choices_naming_the_key() {
        for (config, needle) in [
            (r#"{"document": "csv"}"#, "export_formats.document"),
            (r#"{"drawing": "docx"}"#, "valid choices: pdf"),
            (r#"{"form": "pdf"}"#, "`form`"),
            (r#"{"document": 3}"#, "export_formats.document"),
            (r#"["docx"]"#, "JSON object"),
        ] {
            match ExportChoices::parse(Some(config)) {
                Err(ProviderError::InvalidConfig(m)) => assert!(m.contains(needle), "{m}"),
                other => panic!("{config}: {other:?}"),
            }
        }
    }
}
