//! HTML to visible text.
//!
//! A tokenizer is enough here: we only need the text runs and where blocks start and end, not
//! a DOM, and streaming tokens keeps memory flat for big pages.

use std::cell::RefCell;

use html5ever::tendril::StrTendril;
use html5ever::tokenizer::states::RawKind;
use html5ever::tokenizer::{
    BufferQueue, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts,
};

use super::ExtractError;

/// Extracts the visible text of an HTML document, one paragraph per block element.
pub(super) fn extract(html: &str) -> Result<String, ExtractError> {
    let tokenizer = Tokenizer::new(TextSink::default(), TokenizerOpts::default());
    let input = BufferQueue::default();
    input.push_back(StrTendril::from_slice(html));
    // The sink never asks to pause for scripts, so one feed consumes everything.
    let _ = tokenizer.feed(&input);
    tokenizer.end();
    let out = tokenizer.sink.state.into_inner().out;
    Ok(out)
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
struct TextSink {
    state: RefCell<State>,
}

struct State {
    out: String,
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
            if !self.out.is_empty() {
                match self.gap {
                    Gap::None => {}
                    Gap::Space => self.out.push(' '),
                    Gap::Cell => self.out.push('\t'),
                    Gap::Line => self.out.push('\n'),
                    Gap::Paragraph => self.out.push_str("\n\n"),
                }
            }
            self.gap = Gap::None;
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

impl TokenSink for TextSink {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn text(html: &str) -> String {
        extract(html).expect("html")
    }

    #[test]
    fn markup_inside_scripts_is_not_text() {
        assert_eq!(
            text("<p>a</p><script>if (a < b) { x = '</p><p>no'; }</script><p>b</p>"),
            "a\n\nb"
        );
    }

    #[test]
    fn entities_and_inline_whitespace() {
        assert_eq!(
            text("<p>fish &amp;   <i>chips</i>&#33;\n &lt;ok&gt;</p>"),
            "fish & chips! <ok>"
        );
    }

    #[test]
    fn tables_and_pre() {
        assert_eq!(
            text(
                "<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table><pre>x\n  y</pre>"
            ),
            "a\tb\nc\n\nx\n  y"
        );
    }

    #[test]
    fn unclosed_script_swallows_the_rest() {
        assert_eq!(text("<p>seen</p><script>never"), "seen");
    }
}
