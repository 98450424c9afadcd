//! Cursors are opaque to the host, so a provider can carry its traversal state in them. These
//! helpers turn a list of strings into one cursor string and back, safely for any content.

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

#[cfg(test)]
mod tests {
    use super::*;

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
