//! Cursors are opaque to the host, so a provider can carry its traversal state in them (every
//! call runs in a fresh instance: nothing else survives between pages). [`encode`] and
//! [`decode`] turn a list of strings into one cursor and back; [`encode_state`] and
//! [`decode_state`] do the same for any serde value, tagged with a format name so a cursor
//! from elsewhere is refused rather than misread.

use crate::types::ProviderError;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Join fields into a cursor; `%` and newlines are escaped so any string survives.
pub fn encode(fields: &[String]) -> String {
    fields
        .iter()
        .map(|f| f.replace('%', "%25").replace('\n', "%0A"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Split a cursor made by [`encode`] back into its fields.
pub fn decode(cursor: &str) -> Vec<String> {
    if cursor.is_empty() {
        return Vec::new();
    }
    cursor
        .split('\n')
        .map(|f| f.replace("%0A", "\n").replace("%25", "%"))
        .collect()
}

/// A state value as a cursor: `<format>:<JSON>`. Name the format after the provider and the
/// cursor's kind, with a version (`example.list.v1`), and change it when the state changes.
pub fn encode_state<T: Serialize + ?Sized>(format: &str, state: &T) -> String {
    // Serialising plain data (strings, numbers, vectors, derived structs) cannot fail.
    let json = serde_json::to_string(state).unwrap_or_else(|_| "null".into());
    format!("{format}:{json}")
}

/// The state inside a cursor made by [`encode_state`] with the same `format`. A cursor with
/// another format, or one that does not parse, is `cursor-expired`: the host then starts over
/// (a full listing, or a new change cursor) instead of failing every sync.
pub fn decode_state<T: DeserializeOwned>(format: &str, cursor: &str) -> Result<T, ProviderError> {
    let expired = |why: &str| {
        ProviderError::CursorExpired(format!(
            "the cursor is not a `{format}` cursor ({why}); it was made by another version of \
             the provider, so the listing starts over"
        ))
    };
    let json = cursor
        .strip_prefix(format)
        .and_then(|rest| rest.strip_prefix(':'))
        .ok_or_else(|| expired("another format"))?;
    serde_json::from_str(json).map_err(|_| expired("its state does not parse"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Walk {
        queue: Vec<String>,
        token: Option<String>,
    }

    #[test]
    fn state_round_trips_and_foreign_cursors_expire() {
        let walk = Walk {
            queue: vec!["a:b".into(), "\n\"".into()],
            token: Some("t".into()),
        };
        let c = encode_state("example.walk.v1", &walk);
        assert!(c.starts_with("example.walk.v1:"));
        assert_eq!(decode_state::<Walk>("example.walk.v1", &c).unwrap(), walk);
        for bad in [c.as_str(), "example.walk.v1:{", "example.walk.v1", ""] {
            let got = decode_state::<Walk>(
                if bad == c {
                    "example.walk.v2"
                } else {
                    "example.walk.v1"
                },
                bad,
            );
            assert!(matches!(got, Err(ProviderError::CursorExpired(_))), "{bad}");
        }
    }

    #[test]
    fn round_trips_awkward_strings() {
        let fields = vec![
            "a\nb".to_string(),
            "100%".to_string(),
            "%0A literal".to_string(),
            String::new(),
            "plain".to_string(),
        ];
        assert_eq!(decode(&encode(&fields)), fields);
    }
}
