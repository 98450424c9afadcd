//! Partial responses: the `fields` selector (`a,b(c,d/e),f/g`, `*`), applied to a full
//! resource so a provider that forgets to ask for a field really does not get it.

use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// What to keep of a JSON value.
#[derive(Debug, Clone, PartialEq)]
pub enum Selector {
    /// The whole value.
    All,
    /// Only these keys of an object (of each object, for an array).
    Keys(BTreeMap<String, Selector>),
}

impl Selector {
    fn merge(&mut self, path: &[&str], sub: Selector) {
        let Selector::Keys(map) = self else {
            return;
        };
        let Some((first, rest)) = path.split_first() else {
            return;
        };
        if *first == "*" {
            *self = Selector::All;
            return;
        }
        if rest.is_empty() {
            match (map.get_mut(*first), sub) {
                (Some(Selector::All), _) => {}
                (Some(existing), Selector::Keys(more)) => {
                    for (k, v) in more {
                        existing.merge(&[k.as_str()], v);
                    }
                }
                (Some(existing), Selector::All) => *existing = Selector::All,
                (None, sub) => {
                    map.insert(first.to_string(), sub);
                }
            }
            return;
        }
        map.entry(first.to_string())
            .or_insert_with(|| Selector::Keys(BTreeMap::new()))
            .merge(rest, sub);
    }

    /// Keep only the selected parts of `v`.
    pub fn apply(&self, v: &Value) -> Value {
        match (self, v) {
            (Selector::All, v) => v.clone(),
            (Selector::Keys(keys), Value::Object(obj)) => {
                let mut out = Map::new();
                for (k, sel) in keys {
                    if let Some(x) = obj.get(k) {
                        out.insert(k.clone(), sel.apply(x));
                    }
                }
                Value::Object(out)
            }
            (sel, Value::Array(items)) => {
                Value::Array(items.iter().map(|x| sel.apply(x)).collect())
            }
            (_, v) => v.clone(),
        }
    }
}

/// Parse a `fields` value.
pub fn parse(s: &str) -> Result<Selector, String> {
    let bytes: Vec<char> = s.chars().collect();
    let mut pos = 0;
    let sel = parse_list(&bytes, &mut pos)?;
    if pos < bytes.len() {
        return Err(format!("unexpected '{}' at {pos}", bytes[pos]));
    }
    Ok(sel)
}

fn parse_list(s: &[char], pos: &mut usize) -> Result<Selector, String> {
    let mut sel = Selector::Keys(BTreeMap::new());
    loop {
        skip_spaces(s, pos);
        let mut path = Vec::new();
        loop {
            let start = *pos;
            while *pos < s.len()
                && (s[*pos].is_ascii_alphanumeric() || matches!(s[*pos], '_' | '*'))
            {
                *pos += 1;
            }
            if start == *pos {
                return Err(format!("expected a field name at {start}"));
            }
            path.push(s[start..*pos].iter().collect::<String>());
            if s.get(*pos) == Some(&'/') {
                *pos += 1;
            } else {
                break;
            }
        }
        skip_spaces(s, pos);
        let sub = if s.get(*pos) == Some(&'(') {
            *pos += 1;
            let inner = parse_list(s, pos)?;
            if s.get(*pos) != Some(&')') {
                return Err(format!("expected ')' at {pos}"));
            }
            *pos += 1;
            skip_spaces(s, pos);
            inner
        } else {
            Selector::All
        };
        let path: Vec<&str> = path.iter().map(String::as_str).collect();
        sel.merge(&path, sub);
        if s.get(*pos) == Some(&',') {
            *pos += 1;
        } else {
            return Ok(sel);
        }
    }
}

fn skip_spaces(s: &[char], pos: &mut usize) {
    while *pos < s.len() && s[*pos] == ' ' {
        *pos += 1;
    }
}
