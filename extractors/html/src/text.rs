//! HTML to visible text with html5ever's tokenizer.
//!
//! A tokenizer is enough: we need the text runs and where blocks start and end, not a DOM. It
//! keeps no stack of open elements, so nesting depth costs nothing (a million nested `<div>`s
//! are a million tags, not a million frames); the only per-element state is three counters.

use std::cell::RefCell;

use html5ever::tendril::StrTendril;
use html5ever::tokenizer::states::RawKind;
use html5ever::tokenizer::{
    BufferQueue, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts,
};
use p8sync_extractor_sdk::TextSink;

/// Input fed to the tokenizer per step; the text it yields is passed on between steps, so the
/// output is streamed and an early stop costs nothing more.
const FEED_BYTES: usize = 64 * 1024;

/// Streams the visible text of `html` into `out`, one paragraph per block element. Returns
/// false if `out` said stop.
pub fn html_text(html: &str, out: &mut dyn TextSink) -> bool {
    let tokenizer = Tokenizer::new(Collect::default(), TokenizerOpts::default());
    let input = BufferQueue::default();
    let mut rest = html;
    while !rest.is_empty() {
        let mut cut = rest.len().min(FEED_BYTES);
        while !rest.is_char_boundary(cut) {
            cut += 1;
        }
        let (piece, tail) = rest.split_at(cut);
        rest = tail;
        input.push_back(StrTendril::from_slice(piece));
        // The sink never asks to pause for scripts, so a feed consumes all it was given.
        let _ = tokenizer.feed(&input);
        if !drain(&tokenizer.sink, out) {
            return false;
        }
    }
    tokenizer.end();
    drain(&tokenizer.sink, out)
}

fn drain(sink: &Collect, out: &mut dyn TextSink) -> bool {
    let mut state = sink.state.borrow_mut();
    if state.out.is_empty() {
        return true;
    }
    let go_on = out.text(&state.out);
    state.out.clear();
    go_on
}

/// Separator owed before the next piece of text; stronger ones win.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Gap {
    None,
    Space,
    Cell,
    Line,
    Paragraph,
}

#[derive(Default)]
struct Collect {
    state: RefCell<State>,
}

struct State {
    /// Text not yet passed on.
    out: String,
    /// Whether any text was produced (separators go between pieces, never first).
    started: bool,
    gap: Gap,
    /// Inside an element whose text is raw data we drop (script, style, ...).
    in_raw_skip: bool,
    /// Nesting depth of normally-parsed elements we drop (template, svg, ...).
    skip_depth: usize,
    pre_depth: usize,
}

impl Default for State {
    fn default() -> Self {
        Self {
            out: String::new(),
            started: false,
            gap: Gap::None,
            in_raw_skip: false,
            skip_depth: 0,
            pre_depth: 0,
        }
    }
}

impl State {
    fn want(&mut self, gap: Gap) {
        self.gap = self.gap.max(gap);
    }

    fn text(&mut self, text: &str) {
        if self.in_raw_skip || self.skip_depth > 0 {
            return;
        }
        for c in text.chars() {
            if self.pre_depth == 0 && c.is_whitespace() {
                self.want(Gap::Space);
                continue;
            }
            if self.started {
                match self.gap {
                    Gap::None => {}
                    Gap::Space => self.out.push(' '),
                    Gap::Cell => self.out.push('\t'),
                    Gap::Line => self.out.push('\n'),
                    Gap::Paragraph => self.out.push_str("\n\n"),
                }
            }
            self.gap = Gap::None;
            self.started = true;
            self.out.push(c);
        }
    }

    fn tag(&mut self, kind: TagKind, name: &str) -> TokenSinkResult<()> {
        let start = kind == TagKind::StartTag;
        if self.in_raw_skip {
            // The tokenizer only ends raw text at the matching end tag.
            if !start {
                self.in_raw_skip = false;
            }
            return TokenSinkResult::Continue;
        }
        match name {
            "template" | "svg" | "math" => {
                self.skip_depth = if start {
                    self.skip_depth + 1
                } else {
                    self.skip_depth.saturating_sub(1)
                };
            }
            "pre" | "listing" => {
                self.want(Gap::Paragraph);
                self.pre_depth = if start {
                    self.pre_depth + 1
                } else {
                    self.pre_depth.saturating_sub(1)
                };
            }
            "br" => self.want(Gap::Line),
            "li" | "tr" | "dt" | "dd" | "option" | "caption" => self.want(Gap::Line),
            "td" | "th" => self.want(Gap::Cell),
            _ if is_block(name) => self.want(Gap::Paragraph),
            _ => {}
        }
        if !start {
            return TokenSinkResult::Continue;
        }
        // Elements whose content the tokenizer must read as raw text (so markup inside a
        // script is not mistaken for tags); we drop the content of all but title/textarea.
        let raw = match name {
            "script" => Some((RawKind::ScriptData, true)),
            "style" | "xmp" | "iframe" | "noembed" | "noframes" | "noscript" => {
                Some((RawKind::Rawtext, true))
            }
            "title" | "textarea" => Some((RawKind::Rcdata, false)),
            _ => None,
        };
        match raw {
            Some((kind, skip)) => {
                self.in_raw_skip = skip;
                TokenSinkResult::RawData(kind)
            }
            None if name == "plaintext" => TokenSinkResult::Plaintext,
            None => TokenSinkResult::Continue,
        }
    }
}

fn is_block(name: &str) -> bool {
    matches!(
        name,
        "address"
            | "article"
            | "aside"
            | "blockquote"
            | "body"
            | "center"
            | "details"
            | "dialog"
            | "div"
            | "dl"
            | "fieldset"
            | "figcaption"
            | "figure"
            | "footer"
            | "form"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "header"
            | "hgroup"
            | "hr"
            | "html"
            | "legend"
            | "main"
            | "menu"
            | "nav"
            | "ol"
            | "p"
            | "section"
            | "summary"
            | "table"
            | "title"
            | "ul"
    )
}

impl TokenSink for Collect {
    type Handle = ();

    fn process_token(&self, token: Token, _line_number: u64) -> TokenSinkResult<()> {
        let mut state = self.state.borrow_mut();
        match token {
            Token::CharacterTokens(text) => state.text(&text),
            Token::TagToken(tag) => return state.tag(tag.kind, &tag.name),
            Token::DoctypeToken(_)
            | Token::CommentToken(_)
            | Token::NullCharacterToken
            | Token::EOFToken
            | Token::ParseError(_) => {}
        }
        TokenSinkResult::Continue
    }
}
