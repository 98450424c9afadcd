//! The subset of the Drive `q` search language that p8sync uses, parsed for real so a provider
//! that builds a malformed query fails here as it would against Google.

use super::state::FileRec;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

/// A parsed `q` expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// `a and b`
    And(Box<Expr>, Box<Expr>),
    /// `a or b`
    Or(Box<Expr>, Box<Expr>),
    /// `not a`
    Not(Box<Expr>),
    /// `'<id>' in parents`
    InParents(String),
    /// `trashed = <bool>` (`!=` is folded into the value)
    Trashed(bool),
    /// `mimeType = '...'`, `!=` or `contains`
    Mime(StrOp, String),
    /// `name = '...'`, `!=` or `contains` (prefix of the name or of a word in it), compared
    /// case-insensitively (value kept lowercased)
    Name(StrOp, String),
    /// `modifiedTime <op> '...'` or `createdTime <op> '...'`
    Time(TimeField, Cmp, DateTime<Utc>),
}

/// How a string field is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrOp {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `contains`
    Contains,
}

/// Which timestamp a time term looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeField {
    /// `modifiedTime`
    Modified,
    /// `createdTime`
    Created,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    Str(String),
    Word(String),
    Op(Cmp),
}

fn lex(q: &str) -> Result<Vec<(usize, Tok)>, String> {
    let bytes = q.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => {
                i += 1;
                continue;
            }
            b'(' => {
                out.push((start, Tok::LParen));
                i += 1;
            }
            b')' => {
                out.push((start, Tok::RParen));
                i += 1;
            }
            b'\'' => {
                i += 1;
                let mut s = Vec::new();
                loop {
                    match bytes.get(i) {
                        None => return Err(format!("unterminated string starting at {start}")),
                        Some(b'\'') => {
                            i += 1;
                            break;
                        }
                        Some(b'\\') => match bytes.get(i + 1) {
                            Some(&e @ (b'\'' | b'\\')) => {
                                s.push(e);
                                i += 2;
                            }
                            _ => return Err(format!("bad escape at {i}: only \\' and \\\\")),
                        },
                        Some(&b) => {
                            s.push(b);
                            i += 1;
                        }
                    }
                }
                // Slicing at ASCII quotes keeps UTF-8 boundaries intact.
                out.push((start, Tok::Str(String::from_utf8(s).expect("utf-8"))));
            }
            b'=' => {
                out.push((start, Tok::Op(Cmp::Eq)));
                i += 1;
            }
            b'!' if bytes.get(i + 1) == Some(&b'=') => {
                out.push((start, Tok::Op(Cmp::Ne)));
                i += 2;
            }
            b'<' | b'>' => {
                let eq = bytes.get(i + 1) == Some(&b'=');
                let op = match (c, eq) {
                    (b'<', false) => Cmp::Lt,
                    (b'<', true) => Cmp::Le,
                    (_, false) => Cmp::Gt,
                    (_, true) => Cmp::Ge,
                };
                out.push((start, Tok::Op(op)));
                i += if eq { 2 } else { 1 };
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                out.push((start, Tok::Word(q[start..i].to_string())));
            }
            _ => {
                let ch = q[start..].chars().next().unwrap_or('?');
                return Err(format!("unexpected character {ch:?} at {start}"));
            }
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<(usize, Tok)>,
    pos: usize,
    end: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(_, t)| t)
    }

    fn at(&self) -> usize {
        self.toks.get(self.pos).map_or(self.end, |(o, _)| *o)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).map(|(_, t)| t.clone());
        self.pos += 1;
        t
    }

    fn keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(w)) if w.eq_ignore_ascii_case(kw))
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut e = self.and()?;
        while self.keyword("or") {
            self.pos += 1;
            e = Expr::Or(Box::new(e), Box::new(self.and()?));
        }
        Ok(e)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut e = self.unary()?;
        while self.keyword("and") {
            self.pos += 1;
            e = Expr::And(Box::new(e), Box::new(self.unary()?));
        }
        Ok(e)
    }

    fn unary(&mut self) -> Result<Expr, String> {
        if self.keyword("not") {
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        if self.peek() == Some(&Tok::LParen) {
            self.pos += 1;
            let e = self.or()?;
            if self.next() != Some(Tok::RParen) {
                return Err(format!("expected ')' at {}", self.at_prev()));
            }
            return Ok(e);
        }
        self.term()
    }

    fn at_prev(&self) -> usize {
        self.toks
            .get(self.pos.saturating_sub(1))
            .map_or(self.end, |(o, _)| *o)
    }

    fn term(&mut self) -> Result<Expr, String> {
        let at = self.at();
        match self.next() {
            Some(Tok::Str(id)) => {
                if !self.keyword("in") {
                    return Err(format!("expected 'in' after the string at {at}"));
                }
                self.pos += 1;
                match self.next() {
                    Some(Tok::Word(w)) if w == "parents" => Ok(Expr::InParents(id)),
                    _ => Err(format!(
                        "only 'in parents' is supported, at {}",
                        self.at_prev()
                    )),
                }
            }
            Some(Tok::Word(field)) => self.comparison(&field, at),
            Some(t) => Err(format!("unexpected {t:?} at {at}")),
            None => Err(format!("unexpected end of query at {at}")),
        }
    }

    fn comparison(&mut self, field: &str, at: usize) -> Result<Expr, String> {
        let op_at = self.at();
        let op = match self.next() {
            Some(Tok::Op(c)) => Some(c),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("contains") => None,
            _ => return Err(format!("expected an operator after '{field}' at {op_at}")),
        };
        let val_at = self.at();
        let value = self.next();
        let string = |v: Option<Tok>| match v {
            Some(Tok::Str(s)) => Ok(s),
            _ => Err(format!("expected a quoted string at {val_at}")),
        };
        let str_op = |op: Option<Cmp>| match op {
            None => Ok(StrOp::Contains),
            Some(Cmp::Eq) => Ok(StrOp::Eq),
            Some(Cmp::Ne) => Ok(StrOp::Ne),
            Some(c) => Err(format!(
                "operator {c:?} is not valid for '{field}' at {op_at}"
            )),
        };
        match field {
            "trashed" => {
                let b = match value {
                    Some(Tok::Word(w)) if w.eq_ignore_ascii_case("true") => true,
                    Some(Tok::Word(w)) if w.eq_ignore_ascii_case("false") => false,
                    _ => return Err(format!("expected true or false at {val_at}")),
                };
                match op {
                    Some(Cmp::Eq) => Ok(Expr::Trashed(b)),
                    Some(Cmp::Ne) => Ok(Expr::Trashed(!b)),
                    _ => Err(format!("operator is not valid for 'trashed' at {op_at}")),
                }
            }
            "mimeType" => Ok(Expr::Mime(str_op(op)?, string(value)?)),
            "name" => Ok(Expr::Name(str_op(op)?, string(value)?.to_lowercase())),
            "modifiedTime" | "createdTime" => {
                let Some(op) = op else {
                    return Err(format!("'contains' is not valid for '{field}' at {op_at}"));
                };
                let s = string(value)?;
                let t = parse_time(&s).ok_or_else(|| format!("bad date-time '{s}' at {val_at}"))?;
                let f = if field == "modifiedTime" {
                    TimeField::Modified
                } else {
                    TimeField::Created
                };
                Ok(Expr::Time(f, op, t))
            }
            _ => Err(format!("unknown or unsupported field '{field}' at {at}")),
        }
    }
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    // Drive takes a zone-less time as UTC.
    if let Ok(t) = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f") {
        return Some(t.and_utc());
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

/// Parse a `q` string; the error names the problem and where it is.
pub fn parse(q: &str) -> Result<Expr, String> {
    let toks = lex(q)?;
    if toks.is_empty() {
        return Err("empty query".into());
    }
    let mut p = Parser {
        toks,
        pos: 0,
        end: q.len(),
    };
    let e = p.or()?;
    if p.pos < p.toks.len() {
        return Err(format!("unexpected {:?} at {}", p.toks[p.pos].1, p.at()));
    }
    Ok(e)
}

impl Expr {
    /// Replace the `root` alias in `in parents` terms by the real root id.
    pub(crate) fn resolve_root(&mut self, root_id: &str) {
        match self {
            Expr::And(a, b) | Expr::Or(a, b) => {
                a.resolve_root(root_id);
                b.resolve_root(root_id);
            }
            Expr::Not(a) => a.resolve_root(root_id),
            Expr::InParents(p) if p == "root" => *p = root_id.to_string(),
            _ => {}
        }
    }

    /// Parents whose children include every match, when the query pins them down; `None`
    /// means any file may match. Lets a listing visit a few folders instead of every file.
    pub(crate) fn candidate_parents(&self) -> Option<Vec<&str>> {
        match self {
            Expr::InParents(p) => Some(vec![p.as_str()]),
            Expr::And(a, b) => match (a.candidate_parents(), b.candidate_parents()) {
                (Some(x), Some(y)) => Some(if x.len() <= y.len() { x } else { y }),
                (x, y) => x.or(y),
            },
            Expr::Or(a, b) => {
                let mut x = a.candidate_parents()?;
                x.extend(b.candidate_parents()?);
                Some(x)
            }
            _ => None,
        }
    }

    /// Whether a file matches.
    pub(crate) fn matches(&self, f: &FileRec) -> bool {
        match self {
            Expr::And(a, b) => a.matches(f) && b.matches(f),
            Expr::Or(a, b) => a.matches(f) || b.matches(f),
            Expr::Not(a) => !a.matches(f),
            Expr::InParents(p) => f.parents.iter().any(|x| x == p),
            Expr::Trashed(b) => f.trashed == *b,
            Expr::Mime(op, v) => str_match(*op, &f.mime, v),
            Expr::Name(StrOp::Contains, v) => word_prefix(&f.name_lower, v),
            Expr::Name(op, v) => str_match(*op, &f.name_lower, v),
            Expr::Time(field, op, t) => {
                let x = match field {
                    TimeField::Modified => f.modified,
                    TimeField::Created => f.created,
                };
                match op {
                    Cmp::Eq => x == *t,
                    Cmp::Ne => x != *t,
                    Cmp::Lt => x < *t,
                    Cmp::Le => x <= *t,
                    Cmp::Gt => x > *t,
                    Cmp::Ge => x >= *t,
                }
            }
        }
    }
}

/// Drive documents `name contains` as prefix matching: `HelloWorld` matches `'Hello'` but
/// not `'World'`. Word starts and punctuation count as prefixes too (an approximation of
/// its tokenizer).
fn word_prefix(have: &str, want: &str) -> bool {
    let mut prev_alnum = false;
    for (i, c) in have.char_indices() {
        let boundary = !prev_alnum || !c.is_alphanumeric();
        if boundary && have[i..].starts_with(want) {
            return true;
        }
        prev_alnum = c.is_alphanumeric();
    }
    want.is_empty()
}

fn str_match(op: StrOp, have: &str, want: &str) -> bool {
    match op {
        StrOp::Eq => have == want,
        StrOp::Ne => have != want,
        StrOp::Contains => have.contains(want),
    }
}
