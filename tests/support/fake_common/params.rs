//! Query and form parameters as the fakes read them.

/// Query or form parameters, in order.
pub struct Params {
    /// The decoded (name, value) pairs.
    pub pairs: Vec<(String, String)>,
}

impl Params {
    /// Decode `application/x-www-form-urlencoded` text (none: no parameters).
    pub fn parse(raw: Option<&str>) -> Params {
        Params {
            pairs: raw
                .map(|r| {
                    url::form_urlencoded::parse(r.as_bytes())
                        .into_owned()
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}
