//! Which pipeline a file goes to: by MIME type first, then by extension. The defaults cover
//! the formats the text and audio pipelines read; operators add or override rules with
//! `P8_INGEST_ROUTES`, e.g. `text/x-rst=text:plain,.rst=text:plain,.mp4=store,image/*=store`.

use super::text::Format;
use std::fmt;

/// Where a file goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Extract its text in this format and chunk it into `Resources`.
    Text(Format),
    /// Decode, chunk and transcribe it.
    Audio,
    /// Extract its text with the installed extractor that declares its type.
    Extractor,
    /// Keep it in object storage only.
    Store,
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Route::Text(format) => write!(f, "text:{}", format.as_str()),
            Route::Audio => f.write_str("audio"),
            Route::Extractor => f.write_str("extractor"),
            Route::Store => f.write_str("store"),
        }
    }
}

/// A rule's left-hand side.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    /// `type/subtype`, or `type/*`.
    Mime(String),
    /// `.ext`, lower case, without the dot.
    Extension(String),
}

/// A rule in `P8_INGEST_ROUTES` that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error(
    "P8_INGEST_ROUTES: cannot read the rule `{rule}`: {reason} (rules look like \
     `text/x-rst=text:plain`, `.rst=text:plain`, `image/*=store`, `.opus=audio`; the routes are \
     text, text:<format> with format one of plain, markdown, csv, json, html, pdf, docx, xlsx, \
     pptx, audio and store)"
)]
pub struct RouteError {
    rule: String,
    reason: String,
}

/// The routing table: operator rules first, then the built-in ones.
#[derive(Debug, Clone, Default)]
pub struct Routes {
    rules: Vec<(Pattern, Route)>,
}

/// Audio MIME types and extensions the decoder reads.
const AUDIO_MIME: &[&str] = &[
    "audio/wav",
    "audio/x-wav",
    "audio/wave",
    "audio/vnd.wave",
    "audio/mpeg",
    "audio/mp3",
    "audio/flac",
    "audio/x-flac",
    "audio/ogg",
    "audio/vorbis",
    "audio/mp4",
    "audio/x-m4a",
    "audio/m4a",
    "audio/aac",
];
const AUDIO_EXTENSIONS: &[&str] = &["wav", "mp3", "flac", "ogg", "oga", "m4a", "aac"];

impl Routes {
    /// The built-in rules plus `P8_INGEST_ROUTES`.
    pub fn from_env() -> Result<Self, RouteError> {
        match std::env::var("P8_INGEST_ROUTES") {
            Ok(rules) if !rules.trim().is_empty() => Self::parse(&rules),
            _ => Ok(Self::default()),
        }
    }

    /// The built-in rules plus `rules` (comma separated `pattern=route`), which win.
    pub fn parse(rules: &str) -> Result<Self, RouteError> {
        let mut parsed = Vec::new();
        for rule in rules.split(',').map(str::trim).filter(|r| !r.is_empty()) {
            let fail = |reason: &str| RouteError {
                rule: rule.to_string(),
                reason: reason.to_string(),
            };
            let (pattern, route) = rule
                .split_once('=')
                .ok_or_else(|| fail("expected pattern=route"))?;
            let pattern = pattern.trim().to_ascii_lowercase();
            let pattern = if let Some(ext) = pattern.strip_prefix('.') {
                if ext.is_empty() || ext.contains(['/', '.']) {
                    return Err(fail("an extension is one word after the dot"));
                }
                Pattern::Extension(ext.to_string())
            } else if pattern.contains('/') {
                Pattern::Mime(pattern)
            } else {
                return Err(fail(
                    "the pattern must be a MIME type (type/subtype or type/*) or an extension (.ext)",
                ));
            };
            let route = match route.trim().to_ascii_lowercase().as_str() {
                "audio" => Route::Audio,
                "store" => Route::Store,
                "text" => match &pattern {
                    Pattern::Extension(ext) => {
                        Route::Text(Format::from_extension(ext).unwrap_or(Format::Plain))
                    }
                    Pattern::Mime(mime) => {
                        Route::Text(Format::from_mime(mime).unwrap_or(Format::Plain))
                    }
                },
                other => match other.strip_prefix("text:").and_then(Format::parse) {
                    Some(format) => Route::Text(format),
                    None => return Err(fail("unknown route")),
                },
            };
            parsed.push((pattern, route));
        }
        Ok(Routes { rules: parsed })
    }

    /// Where a file of MIME type `mime` and with these names (the file's own, the stored
    /// object's) goes. An exported Google Doc has a `vnd.google-apps` type, so its object's
    /// extension is what decides.
    pub fn route(&self, mime: Option<&str>, names: &[&str]) -> Route {
        self.matched(mime, names).unwrap_or(Route::Store)
    }

    /// Like [`Routes::route`], but `None` when no rule (the operator's or a built-in one)
    /// matches, so the caller can look further (installed extractors).
    pub fn matched(&self, mime: Option<&str>, names: &[&str]) -> Option<Route> {
        let mime = mime
            .map(|m| m.split(';').next().unwrap_or(m).trim().to_ascii_lowercase())
            .filter(|m| !m.is_empty());
        let extensions: Vec<String> = names
            .iter()
            .filter_map(|n| n.rsplit('/').next())
            .filter_map(|n| n.rsplit_once('.'))
            .map(|(_, e)| e.to_ascii_lowercase())
            .collect();
        if let Some(mime) = &mime {
            if let Some(route) = self.operator_rule(|p| mime_matches(p, mime)) {
                return Some(route);
            }
            if let Some(route) = builtin_for_mime(mime) {
                return Some(route);
            }
        }
        for ext in &extensions {
            if let Some(route) = self.operator_rule(|p| p == &Pattern::Extension(ext.clone())) {
                return Some(route);
            }
            if let Some(route) = builtin_for_extension(ext) {
                return Some(route);
            }
        }
        None
    }

    fn operator_rule(&self, matches: impl Fn(&Pattern) -> bool) -> Option<Route> {
        // Exact MIME rules beat wildcards; among equals, the last one given wins.
        let mut best: Option<(bool, Route)> = None;
        for (pattern, route) in &self.rules {
            if matches(pattern) {
                let exact = !matches!(pattern, Pattern::Mime(m) if m.ends_with("/*"));
                if best.is_none_or(|(was_exact, _)| exact || !was_exact) {
                    best = Some((exact, *route));
                }
            }
        }
        best.map(|(_, route)| route)
    }
}

fn mime_matches(pattern: &Pattern, mime: &str) -> bool {
    match pattern {
        Pattern::Mime(p) => match p.strip_suffix("/*") {
            Some(kind) => mime.split('/').next() == Some(kind),
            None => p == mime,
        },
        Pattern::Extension(_) => false,
    }
}

fn builtin_for_mime(mime: &str) -> Option<Route> {
    if AUDIO_MIME.contains(&mime) {
        return Some(Route::Audio);
    }
    Format::from_mime(mime).map(Route::Text)
}

fn builtin_for_extension(ext: &str) -> Option<Route> {
    if AUDIO_EXTENSIONS.contains(&ext) {
        return Some(Route::Audio);
    }
    Format::from_extension(ext).map(Route::Text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mime_first_then_extension() {
        let r = Routes::default();
        assert_eq!(
            r.route(Some("text/plain; charset=utf-8"), &["a.bin"]),
            Route::Text(Format::Plain)
        );
        assert_eq!(r.route(Some("audio/mpeg"), &["x"]), Route::Audio);
        assert_eq!(
            r.route(Some("application/pdf"), &[]),
            Route::Text(Format::Pdf)
        );
        // An exported Google Doc: the google-apps type says nothing, the object's name does.
        assert_eq!(
            r.route(
                Some("application/vnd.google-apps.document"),
                &["Plan", "p8sync/c/f.docx"]
            ),
            Route::Text(Format::Docx)
        );
        assert_eq!(r.route(None, &["talk.WAV"]), Route::Audio);
        assert_eq!(r.route(Some("image/png"), &["x.png"]), Route::Store);
        assert_eq!(r.route(None, &["no-extension"]), Route::Store);
    }

    #[test]
    fn operator_rules_win_and_exact_beats_wildcard() {
        let r = Routes::parse("text/x-rst=text:plain, .rst=text, audio/*=store, audio/wav=audio")
            .unwrap();
        assert_eq!(r.route(Some("text/x-rst"), &[]), Route::Text(Format::Plain));
        assert_eq!(r.route(None, &["a.rst"]), Route::Text(Format::Plain));
        assert_eq!(r.route(Some("audio/mpeg"), &["a.mp3"]), Route::Store);
        assert_eq!(r.route(Some("audio/wav"), &["a.wav"]), Route::Audio);
    }

    #[test]
    fn bad_rules_say_what_is_wrong() {
        for (rule, says) in [
            ("nonsense", "pattern=route"),
            ("pdf=text", "MIME type"),
            (".md=text:latex", "unknown route"),
            ("./x=store", "one word"),
        ] {
            let e = Routes::parse(rule).unwrap_err().to_string();
            assert!(e.contains(says) && e.contains(rule), "{rule}: {e}");
        }
    }
}
