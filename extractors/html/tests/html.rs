//! The `html` extractor's parser, natively: the host's HTML tests, plus hostile pages.

use std::time::{Duration, Instant};

use p8sync_extractor_html::{Html, extract_html};
use p8sync_extractor_sdk::{Collector, Extract, ExtractError, Input, Limits, Request};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../../host/tests/fixtures/text/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn run(bytes: &[u8], limits: Limits) -> (Result<(), ExtractError>, Collector) {
    let mut out = Collector::new(&limits);
    let request = Request::new("html", bytes.len() as u64, limits);
    let mut sink = &mut out;
    let result = Html::extract(Input::from_bytes(bytes.to_vec()), &request, &mut sink).map(|_| ());
    (result, out)
}

fn text(html: &str) -> String {
    let mut out = Collector::new(&Limits::default());
    extract_html(html.as_bytes(), &mut out).expect("html");
    out.text
}

#[test]
fn info_declares_html() {
    let info = Html::info();
    assert_eq!(info.id, "html");
    assert!(info.formats.contains(&"xhtml".to_string()));
    assert!(info.mime_types.contains(&"text/html".to_string()));
}

#[test]
fn html_keeps_visible_text_only() {
    let (result, out) = run(&fixture("sample.html"), Limits::default());
    result.expect("sample.html");
    let text = out.text;
    assert!(text.contains("The keeper lit the lamp at dusk & trimmed the wick."));
    assert!(text.contains("Ships passed safely all night.\nNo fog was reported."));
    assert!(text.contains("Oil: full\nLens: clean"));
    assert!(
        text.contains("wick.\n\nShips"),
        "paragraphs stay apart: {text:?}"
    );
    for absent in [
        "<",
        ">",
        "secretScriptMarker",
        "secondScriptMarker",
        "hidden-style-marker",
        "comment that must not appear",
        "Enable JavaScript",
    ] {
        assert!(!text.contains(absent), "{absent:?} leaked into {text:?}");
    }
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
        text("<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table><pre>x\n  y</pre>"),
        "a\tb\nc\n\nx\n  y"
    );
}

#[test]
fn unclosed_script_swallows_the_rest() {
    assert_eq!(text("<p>seen</p><script>never"), "seen");
}

#[test]
fn empty_page_has_no_text() {
    let (result, _) = run(b"<html><script>x()</script></html>", Limits::default());
    assert_eq!(result, Err(ExtractError::not_ingestible("no text")));
    let (result, _) = run(b"", Limits::default());
    assert_eq!(result, Err(ExtractError::not_ingestible("no text")));
}

#[test]
fn binary_junk_is_refused() {
    let (result, _) = run(&fixture("junk.bin"), Limits::default());
    match result {
        Err(ExtractError::NotIngestible(reason)) => assert!(reason.contains("binary"), "{reason}"),
        other => panic!("junk.bin: {other:?}"),
    }
}

#[test]
fn latin1_pages_decode() {
    assert_eq!(
        text_bytes(b"<p>caf\xe9 \x93ok\x94</p>"),
        "café \u{201C}ok\u{201D}"
    );
}

fn text_bytes(bytes: &[u8]) -> String {
    let mut out = Collector::new(&Limits::default());
    extract_html(bytes, &mut out).expect("html");
    out.text
}

/// Hostile: nesting a million elements deep. The tokenizer keeps no element stack, so this is
/// a million tags, not a million stack frames.
#[test]
fn deeply_nested_html_is_flat_work() {
    let depth = 1_000_000;
    let mut page = String::with_capacity(depth * 12);
    for _ in 0..depth {
        page.push_str("<div><b>");
    }
    page.push_str("deep text");
    for _ in 0..depth / 2 {
        page.push_str("</b></div>");
    }
    // Nested skipped elements and unbalanced ends must not wedge the skip counter either.
    page.push_str(&"<svg>".repeat(100_000));
    page.push_str("hidden");
    page.push_str(&"</svg>".repeat(200_000));
    page.push_str("<p>after");
    let started = Instant::now();
    let (result, out) = run(page.as_bytes(), Limits::default());
    result.expect("nested page");
    assert_eq!(out.text, "deep text\n\nafter");
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
}

/// Hostile: a page far past the character cap stops at it.
#[test]
fn output_stops_at_max_chars() {
    let page = "<p>lorem ipsum dolor</p>".repeat(500_000);
    let limits = Limits {
        max_chars: 1000,
        ..Limits::default()
    };
    let (result, out) = run(page.as_bytes(), limits);
    result.expect("capped page is still Ok");
    assert_eq!(out.chars, 1000);
    assert!(out.text_truncated);
    // Streaming: the extractor stopped after the first batch past the cap.
    assert!(out.text_calls < 5, "{} calls", out.text_calls);
}

#[test]
fn junk_never_panics() {
    for seed in 0..8 {
        let bytes = junk(2048, seed);
        let (result, _) = run(&bytes, Limits::default());
        assert!(
            matches!(result, Err(ExtractError::NotIngestible(_))),
            "seed {seed}: {result:?}"
        );
    }
}

/// Deterministic pseudo-random bytes (xorshift), so failures reproduce.
fn junk(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}
