//! Splitting text into overlapping chunks of about a target size.
//!
//! Each chunk is a window of at most `target_chars` characters. Within the window we end at
//! the strongest break available in its second half (paragraph, then line or sentence end,
//! then whitespace), so chunks are neither cut mid-sentence nor wastefully short; without any
//! break (a 10k-character token, CJK without punctuation) we cut at the character limit. The
//! next chunk starts up to `overlap_chars` before the previous end, at a sentence or word
//! start inside that tail, so context carries over without starting mid-word.

/// How [`chunk`] sizes its pieces; sizes are in characters, not bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct ChunkOptions {
    /// Upper bound on a chunk's length; most chunks land between half of it and all of it.
    pub target_chars: usize,
    /// How much of the end of one chunk to repeat at the start of the next (capped at half
    /// the target).
    pub overlap_chars: usize,
}

impl Default for ChunkOptions {
    fn default() -> Self {
        Self {
            target_chars: 1000,
            overlap_chars: 100,
        }
    }
}

/// Split `text` into chunks of about `target_chars`.
pub fn chunk(text: &str, options: &ChunkOptions) -> Vec<String> {
    let target = options.target_chars.max(1);
    let overlap = options.overlap_chars.min(target / 2);
    let mut chunks = Vec::new();
    let mut start = skip_whitespace(text, 0);
    let mut previous_end = start;
    while start < text.len() {
        let end = chunk_end(text, start, previous_end, target);
        let piece = text[start..end].trim();
        if !piece.is_empty() {
            chunks.push(piece.to_owned());
        }
        if skip_whitespace(text, end) >= text.len() {
            break;
        }
        start = skip_whitespace(text, overlap_start(text, start, end, overlap));
        previous_end = end;
    }
    chunks
}

/// Strength of a place to split, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Break {
    Char,
    Word,
    Sentence,
    Paragraph,
}

/// Where the chunk starting at `start` ends: a byte offset past `min_end`, at most `target`
/// characters after `start`.
fn chunk_end(text: &str, start: usize, min_end: usize, target: usize) -> usize {
    let fill = target / 2;
    // Latest break of each strength in the window's second half.
    let mut late = [None; 4];
    // Latest word-or-stronger break anywhere, for windows whose second half has none.
    let mut any = None;
    let mut previous = None;
    for (count, (offset, c)) in text[start..].char_indices().enumerate() {
        let offset = start + offset;
        let before = previous.replace(c);
        if count == target {
            let best = late[Break::Word as usize..]
                .iter()
                .rev()
                .find_map(|&found| found)
                .or(any);
            return best.unwrap_or(offset);
        }
        if count == 0 || offset <= min_end || c.is_whitespace() {
            continue;
        }
        // Inside a word the only break is a character one, which the hard cut already
        // covers; skipping those keeps this loop cheap.
        if before.is_some_and(|b| !b.is_whitespace() && !is_cjk(b) && !is_cjk_terminator(b))
            && !is_cjk(c)
        {
            continue;
        }
        let kind = break_before(text, offset);
        if kind >= Break::Word {
            any = Some(offset);
        }
        if count >= fill {
            late[kind as usize] = Some(offset);
        }
    }
    text.len()
}

/// Where the chunk after `[start, end)` begins: within the last `overlap` characters, at the
/// first sentence start there, else the first word start, else exactly `overlap` back.
fn overlap_start(text: &str, start: usize, end: usize, overlap: usize) -> usize {
    if overlap == 0 {
        return end;
    }
    let content_end = start + text[start..end].trim_end().len();
    let back = match text[start..content_end]
        .char_indices()
        .rev()
        .nth(overlap - 1)
    {
        // A chunk no longer than the overlap would be repeated whole; move on instead.
        Some((0, _)) | None => return end,
        Some((back, _)) => back,
    };
    let window_start = start + back;
    let mut first_word = None;
    for (offset, c) in text[window_start..content_end].char_indices() {
        let offset = window_start + offset;
        if c.is_whitespace() {
            continue;
        }
        match break_before(text, offset) {
            Break::Sentence | Break::Paragraph => return offset,
            Break::Word if first_word.is_none() => first_word = Some(offset),
            _ => {}
        }
    }
    first_word.unwrap_or(window_start)
}

/// Classifies the split point just before the non-whitespace character at `offset`.
fn break_before(text: &str, offset: usize) -> Break {
    let before = &text[..offset];
    let content = before.trim_end();
    let gap = &before[content.len()..];
    let Some(previous) = content.chars().next_back() else {
        return Break::Char;
    };
    match gap.matches('\n').count() {
        0 => {}
        1 => return Break::Sentence,
        _ => return Break::Paragraph,
    }
    if ends_sentence(content) && (!gap.is_empty() || is_cjk_terminator(previous)) {
        return Break::Sentence;
    }
    let next = text[offset..].chars().next();
    if !gap.is_empty() || is_cjk(previous) || next.is_some_and(is_cjk) {
        // CJK writes words without spaces, so any boundary next to a CJK character is as
        // good as a space.
        return Break::Word;
    }
    Break::Char
}

fn ends_sentence(content: &str) -> bool {
    let content = content.trim_end_matches(['"', '\'', ')', ']', '”', '’', '»', '」', '』', '）']);
    content.ends_with(['.', '!', '?', '…'])
        || content.chars().next_back().is_some_and(is_cjk_terminator)
}

fn is_cjk_terminator(c: char) -> bool {
    matches!(c, '。' | '！' | '？' | '．')
}

fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{3040}'..='\u{30FF}' // Hiragana, Katakana
        | '\u{3400}'..='\u{4DBF}' // CJK Extension A
        | '\u{4E00}'..='\u{9FFF}' // CJK Unified Ideographs
        | '\u{F900}'..='\u{FAFF}' // CJK Compatibility Ideographs
        | '\u{20000}'..='\u{2FFFF}' // CJK Extensions B and later
    )
}

fn skip_whitespace(text: &str, from: usize) -> usize {
    text.len() - text[from..].trim_start().len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(target_chars: usize, overlap_chars: usize) -> ChunkOptions {
        ChunkOptions {
            target_chars,
            overlap_chars,
        }
    }

    fn chars(s: &str) -> usize {
        s.chars().count()
    }

    /// Prose with varied sentence lengths, five sentences per paragraph.
    fn prose(sentences: usize) -> String {
        let mut text = String::new();
        for i in 0..sentences {
            text.push_str(&format!(
                "Sentence {i} is about topic {} and{} ends here.",
                i % 7,
                " quite a lot more words".repeat(i % 5)
            ));
            text.push_str(if i % 5 == 4 { "\n\n" } else { " " });
        }
        text
    }

    #[test]
    fn short_text_is_one_trimmed_chunk() {
        assert_eq!(
            chunk("  Hello there.\n", &ChunkOptions::default()),
            ["Hello there."]
        );
        assert!(chunk(" \n\t ", &ChunkOptions::default()).is_empty());
        assert!(chunk("", &ChunkOptions::default()).is_empty());
    }

    #[test]
    fn chunks_stay_within_bounds_and_end_at_sentences() {
        let text = prose(400);
        let chunks = chunk(&text, &ChunkOptions::default());
        assert!(chunks.len() > 5);
        for (i, piece) in chunks.iter().enumerate() {
            assert!(chars(piece) <= 1000, "chunk {i} has {} chars", chars(piece));
            if i + 1 < chunks.len() {
                assert!(chars(piece) >= 500, "chunk {i} is short: {}", chars(piece));
                assert!(
                    piece.ends_with("ends here."),
                    "chunk {i} ends mid-sentence: {piece:?}"
                );
            }
            // Sentences here can outrun the overlap, so a chunk may start at a word instead.
            let head = &piece[..40];
            let at_word = [" ", "\n"]
                .iter()
                .any(|ws| text.contains(&format!("{ws}{head}")));
            assert!(i == 0 || at_word, "chunk {i} starts mid-word: {piece:?}");
        }
    }

    #[test]
    fn overlap_starts_at_a_sentence_when_one_fits() {
        let text = "Short sentence here. ".repeat(300);
        let chunks = chunk(&text, &ChunkOptions::default());
        assert!(chunks.len() > 5);
        for piece in &chunks {
            assert!(
                piece.starts_with("Short") && piece.ends_with("here."),
                "{piece:?}"
            );
        }
    }

    #[test]
    fn consecutive_chunks_overlap() {
        let text = prose(400);
        let chunks = chunk(&text, &ChunkOptions::default());
        for pair in chunks.windows(2) {
            let head: String = pair[1].chars().take(20).collect();
            let at = pair[0]
                .rfind(&head)
                .unwrap_or_else(|| panic!("{head:?} not in previous"));
            let repeated = chars(&pair[0][at..]);
            assert!((1..=100).contains(&repeated), "overlap of {repeated} chars");
        }
    }

    #[test]
    fn overlap_falls_back_to_word_starts() {
        let text = "word ".repeat(2000);
        let chunks = chunk(&text, &options(300, 50));
        for pair in chunks.windows(2) {
            assert!(pair[1].starts_with("word"), "{:?}", &pair[1][..10]);
            assert!(pair[0].ends_with("word"));
        }
    }

    #[test]
    fn paragraph_breaks_are_preferred() {
        let paragraph = "Short sentence here. ".repeat(14);
        let text = format!("{}\n\n", paragraph.trim()).repeat(10);
        let chunks = chunk(&text, &options(1000, 0));
        assert_eq!(chunks.len(), 4);
        for piece in &chunks {
            assert!(piece.starts_with("Short") && piece.ends_with("here."));
        }
        // Without overlap the chunks are exactly the paragraphs, regrouped.
        assert_eq!(chunks.join("\n\n"), text.trim());
    }

    #[test]
    fn deterministic() {
        let text = prose(300);
        assert_eq!(
            chunk(&text, &ChunkOptions::default()),
            chunk(&text, &ChunkOptions::default())
        );
    }

    #[test]
    fn long_run_without_breaks_still_splits() {
        let text = "x".repeat(10_000);
        let chunks = chunk(&text, &ChunkOptions::default());
        assert_eq!(chunks.len(), 11);
        assert!(chunks.iter().all(|c| chars(c) <= 1000 && !c.is_empty()));
        // Dropping each overlap reconstructs the input exactly.
        let mut rebuilt = chunks[0].clone();
        for piece in &chunks[1..] {
            rebuilt.push_str(&piece[100..]);
        }
        assert_eq!(rebuilt, text);
    }

    #[test]
    fn cjk_and_emoji_are_split_on_char_boundaries() {
        let text = "这是一个关于港口的测试句子，我们需要它足够长。".repeat(200);
        let chunks = chunk(&text, &options(500, 50));
        assert!(chunks.len() > 1);
        for (i, piece) in chunks.iter().enumerate() {
            assert!(chars(piece) <= 500);
            if i + 1 < chunks.len() {
                assert!(
                    piece.ends_with('。'),
                    "{:?}",
                    piece.chars().rev().take(5).collect::<String>()
                );
            }
        }
        let emoji = "🚢🌊⚓👩‍✈️".repeat(1000);
        let chunks = chunk(&emoji, &options(333, 33));
        assert!(chunks.len() > 10);
        assert!(chunks.iter().all(|c| chars(c) <= 333));
        let mixed = "naïve café 東京 🚀 ".repeat(500);
        for piece in chunk(&mixed, &options(100, 10)) {
            assert!(chars(&piece) <= 100);
            assert!(!piece.starts_with(char::is_whitespace));
        }
    }

    #[test]
    fn every_sentence_survives() {
        let text = prose(250);
        let chunks = chunk(&text, &options(400, 80));
        for i in 0..250 {
            let marker = format!("Sentence {i} is");
            assert!(chunks.iter().any(|c| c.contains(&marker)), "{marker} lost");
        }
    }

    #[test]
    fn degenerate_options_terminate() {
        let text = prose(20);
        for (target, overlap) in [(0, 0), (1, 5), (2, 1), (7, 7)] {
            let chunks = chunk(&text, &options(target, overlap));
            assert!(chunks.iter().all(|c| chars(c) <= target.max(1)));
            assert!(!chunks.is_empty());
        }
    }
}
