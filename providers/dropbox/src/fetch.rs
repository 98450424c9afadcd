//! Download plans, what to do when one failed, and the `Dropbox-API-Arg` header.

use crate::api::{Api, map_error};
use crate::settings::Settings;
use p8sync_provider_sdk::fetch::{self, FetchFailure};
use p8sync_provider_sdk::types::{Entry, FetchPlan, HttpRequest, ProviderError};

/// The plan for `entry`; during a failure consultation, the explanation of that failure.
pub fn plan(
    entry: &Entry,
    settings: &Settings,
    failure: Option<FetchFailure>,
) -> Result<FetchPlan, ProviderError> {
    fetch::only_files(entry, &entry.name)?;
    let what = format!("downloading `{}` ({})", entry.name, entry.id);
    if let Some(failure) = failure {
        // Dropbox has no other way to the bytes: explain the failure so the host acts on it.
        return Err(failure.explain(&what, map_error));
    }
    let api = Api::new(settings);
    Ok(FetchPlan::Http(HttpRequest {
        method: "POST".into(),
        url: api.download_url(),
        headers: vec![("Dropbox-API-Arg".into(), api_arg(&entry.id))],
        body: None,
    }))
}

/// The `Dropbox-API-Arg` value `{"path": "<path>"}`. HTTP headers are ASCII, so (as Dropbox
/// documents) every non-ASCII character and DEL are written as `\uXXXX` escapes, with
/// surrogate pairs beyond the Basic Multilingual Plane.
pub fn api_arg(path: &str) -> String {
    format!("{{\"path\": {}}}", ascii_json_string(path))
}

/// A JSON string literal that is pure printable ASCII.
pub fn ascii_json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || (c as u32) >= 0x7f => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_arguments_are_ascii_json() {
        assert_eq!(
            api_arg("id:a4ayc_80_OEAAAAAAAAAXw"),
            r#"{"path": "id:a4ayc_80_OEAAAAAAAAAXw"}"#
        );
        let arg = api_arg("/Résumé \"q\"\\😀\u{7f}\n.txt");
        assert!(arg.is_ascii(), "{arg}");
        assert_eq!(
            arg,
            r#"{"path": "/R\u00e9sum\u00e9 \"q\"\\\ud83d\ude00\u007f\n.txt"}"#
        );
        // And it is the JSON it claims to be.
        let back: serde_json::Value = serde_json::from_str(&arg).unwrap();
        assert_eq!(back["path"], "/Résumé \"q\"\\😀\u{7f}\n.txt");
    }
}
