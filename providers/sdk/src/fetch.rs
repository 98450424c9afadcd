//! Fetch failure consultation: how a provider learns that the host's download failed.
//!
//! The host performs `fetch-plan::http` requests itself, so a provider never sees the response
//! to its own plan. When that request ends with an HTTP error status, the host consults the
//! provider once: it calls `fetch(entry)` again, and during that second call
//! `config-get("p8sync.fetch_failure")` returns a JSON object describing the failure:
//!
//! ```text
//! {"status": 403, "retry_after_seconds": null, "body": "<first 8 KiB of the body, lossy UTF-8>"}
//! ```
//!
//! `retry_after_seconds` is the response's `Retry-After` in seconds, or `null`. The provider
//! answers either with a *new* plan (an alternative way to get the bytes, which the host tries
//! once) or with the `provider-error` that explains the failure (a rate limit, a per-file block,
//! ...), which the host then acts on instead of a bare status code. Outside such a consultation
//! the key is not set and [`failure`] returns `None`.

use crate::types::{Entry, EntryKind, FetchPlan, HttpRequest, ProviderError};
use crate::{config, log};

/// The configuration key the host sets while it consults the provider about a failed fetch.
pub const FAILURE_KEY: &str = "p8sync.fetch_failure";

/// The host's failed attempt at a fetch plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchFailure {
    /// The HTTP status the plan's request ended with.
    pub status: u16,
    /// `Retry-After` in seconds, when the response carried one.
    pub retry_after_seconds: Option<u32>,
    /// The start of the response body (the host sends at most 8 KiB), as lossy UTF-8.
    pub body: String,
}

impl FetchFailure {
    /// This failure as the provider's own status mapping reads it (`map(status,
    /// retry_after_seconds, body, what)`, the shape every provider's `map_error` has).
    pub fn explain(
        &self,
        what: &str,
        map: impl FnOnce(u16, Option<u32>, &str, &str) -> ProviderError,
    ) -> ProviderError {
        map(self.status, self.retry_after_seconds, &self.body, what)
    }
}

/// A plan for the host to `GET url` and stream the body (it adds `Authorization` when `url` is
/// on one of the provider's `api-hosts`, and checks the bytes against the entry's size and
/// checksums).
pub fn http_get(url: impl Into<String>) -> FetchPlan {
    FetchPlan::Http(HttpRequest {
        method: "GET".into(),
        url: url.into(),
        headers: Vec::new(),
        body: None,
    })
}

/// The failure the host is consulting about, or `None` in an ordinary `fetch` call.
pub fn failure() -> Option<FetchFailure> {
    parse(&config::get(FAILURE_KEY)?)
}

/// [`failure`] for `entry`, logged when there is one: the host's retry of a consulted plan is
/// otherwise invisible in the provider's own log lines.
pub fn consultation(entry: &Entry) -> Option<FetchFailure> {
    let failure = failure()?;
    log::debug(format!(
        "consulted about a failed download of `{}`: HTTP {}",
        entry.id, failure.status
    ));
    Some(failure)
}

/// `Err(Permanent)` for a folder, which has no content to fetch; `shown` names it in the message.
pub fn only_files(entry: &Entry, shown: &str) -> Result<(), ProviderError> {
    if entry.kind == EntryKind::Folder {
        return Err(ProviderError::Permanent(format!(
            "`{shown}` is a folder; only files have content"
        )));
    }
    Ok(())
}

/// Read the host's failure description. Lenient: numbers may arrive as strings, a missing or
/// unreadable body is empty; only a missing or unusable status makes it `None`.
pub fn parse(text: &str) -> Option<FetchFailure> {
    let Json::Object(fields) = Reader::new(text).document()? else {
        return None;
    };
    let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v);
    let status = field("status")
        .and_then(Json::as_u64)
        .and_then(|s| u16::try_from(s).ok())?;
    let retry_after_seconds = field("retry_after_seconds")
        .and_then(Json::as_u64)
        .map(|s| u32::try_from(s).unwrap_or(u32::MAX));
    let body = match field("body") {
        Some(Json::String(s)) => s.clone(),
        _ => String::new(),
    };
    Some(FetchFailure {
        status,
        retry_after_seconds,
        body,
    })
}

/// Just enough JSON for the failure object: the SDK carries no JSON library of its own.
enum Json {
    Null,
    Bool,
    Number(String),
    String(String),
    Array,
    Object(Vec<(String, Json)>),
}

impl Json {
    fn as_u64(&self) -> Option<u64> {
        let text = match self {
            Json::Number(n) => n.as_str(),
            Json::String(s) => s.trim(),
            _ => return None,
        };
        if let Ok(n) = text.parse::<u64>() {
            return Some(n);
        }
        // `403.0` or `1e2` from a generous serialiser.
        let f = text.parse::<f64>().ok()?;
        (f.is_finite() && f >= 0.0 && f.fract() == 0.0 && f <= u64::MAX as f64).then_some(f as u64)
    }
}

/// Nesting deeper than this is refused rather than risking the guest's stack.
const MAX_DEPTH: usize = 64;

struct Reader<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(text: &'a str) -> Self {
        Reader { text, pos: 0 }
    }

    fn document(mut self) -> Option<Json> {
        let value = self.value(0)?;
        self.skip_ws();
        (self.pos == self.text.len()).then_some(value)
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        self.skip_ws();
        (self.peek()? == byte).then(|| self.pos += 1)
    }

    fn literal(&mut self, word: &str, value: Json) -> Option<Json> {
        self.text[self.pos..].starts_with(word).then(|| {
            self.pos += word.len();
            value
        })
    }

    fn value(&mut self, depth: usize) -> Option<Json> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.skip_ws();
        match self.peek()? {
            b'{' => self.object(depth),
            b'[' => self.array(depth),
            b'"' => self.string().map(Json::String),
            b't' => self.literal("true", Json::Bool),
            b'f' => self.literal("false", Json::Bool),
            b'n' => self.literal("null", Json::Null),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn object(&mut self, depth: usize) -> Option<Json> {
        self.eat(b'{')?;
        let mut fields = Vec::new();
        if self.eat(b'}').is_some() {
            return Some(Json::Object(fields));
        }
        loop {
            self.skip_ws();
            let key = self.string()?;
            self.eat(b':')?;
            let value = self.value(depth + 1)?;
            fields.push((key, value));
            if self.eat(b',').is_none() {
                self.eat(b'}')?;
                return Some(Json::Object(fields));
            }
        }
    }

    fn array(&mut self, depth: usize) -> Option<Json> {
        self.eat(b'[')?;
        if self.eat(b']').is_some() {
            return Some(Json::Array);
        }
        loop {
            self.value(depth + 1)?;
            if self.eat(b',').is_none() {
                self.eat(b']')?;
                return Some(Json::Array);
            }
        }
    }

    fn number(&mut self) -> Option<Json> {
        let start = self.pos;
        while matches!(
            self.peek(),
            Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
        ) {
            self.pos += 1;
        }
        Some(Json::Number(self.text[start..self.pos].to_string()))
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.text.get(self.pos..self.pos + 4)?;
        let value = u32::from_str_radix(digits, 16).ok()?;
        self.pos += 4;
        Some(value)
    }

    fn string(&mut self) -> Option<String> {
        if self.peek()? != b'"' {
            return None;
        }
        self.pos += 1;
        let mut out = String::new();
        loop {
            let rest = &self.text[self.pos..];
            let stop = rest.find(['"', '\\'])?;
            out.push_str(&rest[..stop]);
            self.pos += stop;
            if self.peek()? == b'"' {
                self.pos += 1;
                return Some(out);
            }
            self.pos += 1;
            let escape = self.peek()?;
            self.pos += 1;
            match escape {
                b'"' => out.push('"'),
                b'\\' => out.push('\\'),
                b'/' => out.push('/'),
                b'b' => out.push('\u{8}'),
                b'f' => out.push('\u{c}'),
                b'n' => out.push('\n'),
                b'r' => out.push('\r'),
                b't' => out.push('\t'),
                b'u' => {
                    let high = self.hex4()?;
                    let code = if (0xD800..0xDC00).contains(&high)
                        && self.text[self.pos..].starts_with("\\u")
                    {
                        self.pos += 2;
                        let low = self.hex4()?;
                        if (0xDC00..0xE000).contains(&low) {
                            0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
                        } else {
                            // An unpaired surrogate: keep the second escape as its own char.
                            out.push(char::REPLACEMENT_CHARACTER);
                            low
                        }
                    } else {
                        high
                    };
                    out.push(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER));
                }
                _ => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_host_object() {
        let f = parse(r#"{"status": 403, "retry_after_seconds": null, "body": "{\"error\":{\"code\":403}}\n\u00e9\ud83d\ude00"}"#)
            .unwrap();
        assert_eq!(f.status, 403);
        assert_eq!(f.retry_after_seconds, None);
        assert_eq!(f.body, "{\"error\":{\"code\":403}}\né😀");
    }

    #[test]
    fn is_lenient_about_numbers_and_missing_fields() {
        let f =
            parse(r#"{"retry_after_seconds":"30","status":"429","extra":[1,{"a":true}]}"#).unwrap();
        assert_eq!(
            f,
            FetchFailure {
                status: 429,
                retry_after_seconds: Some(30),
                body: String::new()
            }
        );
        assert_eq!(parse(r#"{"status":500.0}"#).unwrap().status, 500);
    }

    #[test]
    fn refuses_what_is_not_a_failure() {
        for text in [
            "",
            "null",
            "[]",
            r#"{"body":"x"}"#,
            r#"{"status":70000}"#,
            r#"{"status":-1}"#,
            r#"{"status":403"#,
            r#"{"status":403} trailing"#,
        ] {
            assert_eq!(parse(text), None, "{text}");
        }
        let deep = "[".repeat(1000);
        assert_eq!(parse(&deep), None);
    }
}
