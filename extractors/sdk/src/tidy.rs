//! The clean-up every document extractor's text goes through, as a streaming [`TextSink`].

use crate::TextSink;

/// Longest run of whitespace inside a line that is kept (a line of a billion spaces between two
/// words must not cost a gigabyte); longer runs are cut to this many bytes.
const MAX_PENDING_WHITESPACE: usize = 64 * 1024;

/// Normalises text on its way to `inner`: `\n` line endings, no control characters (tab and
/// newline stay), no-break spaces as spaces, no trailing whitespace on a line, at most one
/// blank line in a row, no blank lines at the start or end. The same rules as the host's
/// `tidy`, applied as the text streams, so the host's character cap counts only kept text.
#[derive(Debug)]
pub struct Tidy<S> {
    inner: S,
    /// Whitespace seen in the current line since its last visible character.
    pending: String,
    line_has_text: bool,
    /// Line breaks owed before the next visible character: 1 for "\n", 2 for a blank line.
    breaks: u8,
    started: bool,
    after_cr: bool,
    stopped: bool,
    out: String,
}

impl<S: TextSink> Tidy<S> {
    /// Tidies what is written to it into `inner`.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            pending: String::new(),
            line_has_text: false,
            breaks: 0,
            started: false,
            after_cr: false,
            stopped: false,
            out: String::new(),
        }
    }

    /// Whether any visible text came through (an empty result means "no text").
    pub fn has_text(&self) -> bool {
        self.started
    }

    /// Whether `inner` said stop.
    pub fn stopped(&self) -> bool {
        self.stopped
    }

    /// The wrapped sink.
    pub fn into_inner(self) -> S {
        self.inner
    }

    /// The wrapped sink.
    pub fn inner_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    fn end_line(&mut self) {
        self.pending.clear();
        if self.line_has_text {
            self.breaks = 1;
            self.line_has_text = false;
        } else if self.started {
            self.breaks = 2;
        }
    }
}

/// Tidies a whole text at once: what [`Tidy`] does to a stream.
pub fn tidy(text: &str) -> String {
    struct Whole(String);
    impl TextSink for Whole {
        fn text(&mut self, text: &str) -> bool {
            self.0.push_str(text);
            true
        }
    }
    let mut t = Tidy::new(Whole(String::with_capacity(text.len())));
    t.text(text);
    t.into_inner().0
}

/// Control characters that don't belong in text (tab, newlines and form feed are whitespace).
fn is_junk_control(c: char) -> bool {
    c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\u{0C}')
}

impl<S: TextSink> Tidy<S> {
    /// Append visible text (no whitespace or control characters) to the current line.
    fn visible(&mut self, out: &mut String, text: &str) {
        if !self.line_has_text {
            if self.started {
                out.push_str(if self.breaks >= 2 { "\n\n" } else { "\n" });
            }
            self.line_has_text = true;
            self.started = true;
        }
        out.push_str(&self.pending);
        self.pending.clear();
        out.push_str(text);
    }
}

/// Printable ASCII and tab: the bulk of most text, handled a run at a time.
fn is_plain(b: u8) -> bool {
    matches!(b, b'\t' | 0x20..=0x7e)
}

impl<S: TextSink> Tidy<S> {
    /// Whitespace inside a line, kept until visible text follows, at most
    /// `MAX_PENDING_WHITESPACE` bytes of it.
    fn hold(&mut self, whitespace: &str) {
        let room = MAX_PENDING_WHITESPACE.saturating_sub(self.pending.len());
        // ASCII whitespace only, so any byte count is a char boundary.
        self.pending
            .push_str(&whitespace[..whitespace.len().min(room)]);
    }

    /// A run of printable ASCII and tabs: leading whitespace held, the text up to its last
    /// visible character passed on whole, trailing whitespace held.
    fn plain(&mut self, out: &mut String, run: &str) {
        let body = run.trim_start_matches([' ', '\t']);
        self.hold(&run[..run.len() - body.len()]);
        let content = body.trim_end_matches([' ', '\t']);
        if !content.is_empty() {
            self.visible(out, content);
        }
        self.hold(&body[content.len()..]);
    }
}

impl<S: TextSink> Tidy<S> {
    /// One character, by the rules.
    fn one(&mut self, out: &mut String, c: char) {
        if std::mem::take(&mut self.after_cr) && c == '\n' {
            return;
        }
        match c {
            '\r' => {
                self.after_cr = true;
                self.end_line();
            }
            '\n' => self.end_line(),
            c if is_junk_control(c) || c == '\u{0C}' => {}
            c if c.is_whitespace() => {
                if self.pending.len() < MAX_PENDING_WHITESPACE {
                    self.pending.push(if c == '\u{A0}' { ' ' } else { c });
                }
            }
            c => self.visible(out, c.encode_utf8(&mut [0; 4])),
        }
    }
}

impl<S: TextSink> TextSink for Tidy<S> {
    fn text(&mut self, text: &str) -> bool {
        if self.stopped {
            return false;
        }
        let mut out = std::mem::take(&mut self.out);
        out.clear();
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if !is_plain(bytes[i]) {
                let c = text[i..].chars().next().expect("i is at a char boundary");
                i += c.len_utf8();
                self.one(&mut out, c);
                continue;
            }
            // Most text is runs of printable ASCII: those go through whole, not char by char.
            let end = bytes[i..]
                .iter()
                .position(|&b| !is_plain(b))
                .map_or(bytes.len(), |n| i + n);
            let run = &text[i..end];
            self.after_cr = false;
            if run.len() <= MAX_PENDING_WHITESPACE {
                self.plain(&mut out, run);
            } else {
                // Long enough to hold an over-long whitespace run: every run capped on its own.
                for c in run.chars() {
                    self.one(&mut out, c);
                }
            }
            i = end;
        }
        let go_on = out.is_empty() || self.inner.text(&out);
        self.out = out;
        if !go_on {
            self.stopped = true;
        }
        go_on
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Collector, Limits};

    fn tidy_pieces(pieces: &[&str]) -> String {
        let mut t = Tidy::new(Collector::new(&Limits::default()));
        for p in pieces {
            t.text(p);
        }
        t.into_inner().text
    }

    #[test]
    fn normalises_like_the_host() {
        assert_eq!(
            tidy_pieces(&["\r\n\n  a  \r\nb\u{A0}c\u{7}\n\n\n\n d\t\n\n"]),
            "  a\nb c\n\n d"
        );
    }

    #[test]
    fn whole_texts_tidy_the_same() {
        let text = "\r\n\n  a  \r\nb\u{A0}c\u{7}\n\n\n\n d\t\n\n";
        assert_eq!(tidy(text), tidy_pieces(&[text]));
        assert_eq!(tidy(" \n\t"), "");
    }

    #[test]
    fn piece_boundaries_do_not_matter() {
        let text = "\r\n\n  a  \r\nb\u{A0}c\u{7}\n\n\n\n d\t\n\n";
        let pieces: Vec<String> = text.chars().map(String::from).collect();
        let refs: Vec<&str> = pieces.iter().map(String::as_str).collect();
        assert_eq!(tidy_pieces(&refs), "  a\nb c\n\n d");
        assert_eq!(tidy_pieces(&["a\r", "\nb"]), "a\nb");
    }

    #[test]
    fn blank_input_has_no_text() {
        let mut t = Tidy::new(Collector::new(&Limits::default()));
        t.text(" \n\t\r\n \u{0C}\u{1b}");
        assert!(!t.has_text());
        assert_eq!(t.into_inner().text, "");
    }

    /// Every character through the careful path, one at a time: the reference for the fast one.
    fn char_by_char(text: &str) -> String {
        let mut t = Tidy::new(Collector::new(&Limits::default()));
        for c in text.chars() {
            let mut out = String::new();
            t.one(&mut out, c);
            t.inner.text(&out);
        }
        t.into_inner().text
    }

    #[test]
    fn runs_and_single_characters_agree() {
        const ALPHABET: [&str; 10] = [
            "ab", " ", "\t", "\r", "\n", "é", "\u{A0}", "\u{7}", "c d", "  ",
        ];
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..2_000 {
            let len = next() % 40;
            let text: String = (0..len)
                .map(|_| ALPHABET[(next() % ALPHABET.len() as u64) as usize])
                .collect();
            // Cut into pieces at char boundaries, as a streaming extractor would.
            let mut pieces = Vec::new();
            let mut rest = text.as_str();
            while !rest.is_empty() {
                let mut at = (next() as usize % (rest.len() + 1)).max(1);
                while !rest.is_char_boundary(at) {
                    at += 1;
                }
                pieces.push(&rest[..at]);
                rest = &rest[at..];
            }
            assert_eq!(
                tidy_pieces(&pieces),
                char_by_char(&text),
                "{text:?} as {pieces:?}"
            );
        }
    }

    #[test]
    fn whitespace_runs_are_bounded() {
        let spaces = " ".repeat(1 << 20);
        let out = tidy_pieces(&["a", &spaces, &spaces, "b"]);
        assert_eq!(out.len(), MAX_PENDING_WHITESPACE + 2);
    }

    #[test]
    fn stops_when_the_sink_does() {
        let limits = Limits {
            max_chars: 3,
            ..Limits::default()
        };
        let mut t = Tidy::new(Collector::new(&limits));
        assert!(t.text("ab"));
        assert!(!t.text("cd"));
        assert!(t.stopped());
        assert!(!t.text("ef"));
        assert_eq!(t.into_inner().text, "abc");
    }
}
