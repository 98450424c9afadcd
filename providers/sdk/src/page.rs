//! Building the contract's pages: collect entries and skipped entries, then finish with the
//! cursor. [`Paginator`] does the common case, a service that pages with a "next" token.

use crate::cursor;
use crate::types::{ChangePage, Entry, Page, ProviderError, SkippedEntry};

/// The most entries the host accepts on one page.
pub const MAX_PAGE_ENTRIES: u32 = 10_000;

/// The page size to ask the service for: the host's hint, at least 1 and at most `max` (the
/// service's own limit). A hint of 0 means "no preference" and gives `max`.
pub fn page_size(hint: u32, max: u32) -> u32 {
    let max = max.clamp(1, MAX_PAGE_ENTRIES);
    if hint == 0 { max } else { hint.min(max) }
}

/// Entries and skipped entries of one page or one change page, in order.
#[derive(Debug, Default)]
pub struct PageBuilder {
    entries: Vec<Entry>,
    skipped: Vec<SkippedEntry>,
}

impl PageBuilder {
    /// An empty page.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add an entry.
    pub fn push(&mut self, entry: Entry) {
        self.entries.push(entry);
    }

    /// Record something left out on purpose, and why (the host reports it).
    pub fn skip(
        &mut self,
        id: impl Into<String>,
        name: impl Into<String>,
        reason: impl Into<String>,
    ) {
        self.skipped.push(SkippedEntry {
            id: id.into(),
            name: name.into(),
            reason: reason.into(),
        });
    }

    /// How many entries so far.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no entry was added (skipped ones do not count).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// A listing page; `next_cursor: None` ends the listing.
    pub fn finish(self, next_cursor: Option<String>) -> Page {
        Page {
            entries: self.entries,
            skipped: self.skipped,
            next_cursor,
        }
    }

    /// A change page: the entries are the changed ones.
    pub fn finish_changes(
        self,
        removed: Vec<String>,
        next_cursor: String,
        has_more: bool,
    ) -> ChangePage {
        ChangePage {
            changed: self.entries,
            removed,
            skipped: self.skipped,
            next_cursor,
            has_more,
        }
    }
}

/// Token paging: the service answers a page of items and a token for the next page (or none).
/// The paginator wraps that token in the contract's cursor, tagged with `format` so that a
/// cursor from another provider or an older format is refused instead of misread.
#[derive(Debug, Clone, Copy)]
pub struct Paginator {
    format: &'static str,
}

impl Paginator {
    /// A paginator whose cursors carry `format` (for example `example.list.v1`); change it when
    /// the cursor's meaning changes.
    pub const fn new(format: &'static str) -> Self {
        Paginator { format }
    }

    /// The service's token to continue from: `None` for the first page. A cursor this
    /// paginator did not make is `cursor-expired` (the host then starts the listing over).
    pub fn token(&self, cursor: Option<&str>) -> Result<Option<String>, ProviderError> {
        cursor
            .map(|c| cursor::decode_state::<String>(self.format, c))
            .transpose()
    }

    /// The contract's page for these entries and the service's next token (`None` or an
    /// empty token: the listing is complete).
    pub fn page(&self, page: PageBuilder, next_token: Option<String>) -> Page {
        let next = next_token
            .filter(|t| !t.is_empty())
            .map(|t| cursor::encode_state(self.format, &t));
        page.finish(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entries;

    #[test]
    fn clamps_the_page_size() {
        assert_eq!(page_size(0, 500), 500);
        assert_eq!(page_size(3, 500), 3);
        assert_eq!(page_size(9_999, 500), 500);
        assert_eq!(page_size(50_000, 50_000), MAX_PAGE_ENTRIES);
        assert_eq!(page_size(7, 0), 1);
    }

    #[test]
    fn a_token_round_trips_through_the_cursor() {
        let p = Paginator::new("example.list.v1");
        assert_eq!(p.token(None).unwrap(), None);
        let mut b = PageBuilder::new();
        b.push(entries::file("1", "a.txt"));
        b.skip("2", "b.lnk", "a shortcut");
        let page = p.page(b, Some("offset=3\nwith newline".into()));
        assert_eq!(page.entries.len(), 1);
        assert_eq!(page.skipped[0].reason, "a shortcut");
        let cursor = page.next_cursor.unwrap();
        assert_eq!(
            p.token(Some(&cursor)).unwrap().as_deref(),
            Some("offset=3\nwith newline")
        );
    }

    #[test]
    fn the_last_page_has_no_cursor() {
        let p = Paginator::new("example.list.v1");
        assert_eq!(p.page(PageBuilder::new(), None).next_cursor, None);
        assert_eq!(
            p.page(PageBuilder::new(), Some(String::new())).next_cursor,
            None
        );
    }

    #[test]
    fn a_foreign_cursor_is_expired() {
        let p = Paginator::new("example.list.v1");
        let other = Paginator::new("example.list.v2")
            .page(PageBuilder::new(), Some("t".into()))
            .next_cursor
            .unwrap();
        for bad in [other.as_str(), "garbage", ""] {
            assert!(
                matches!(p.token(Some(bad)), Err(ProviderError::CursorExpired(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn change_pages_carry_removals() {
        let mut b = PageBuilder::new();
        b.push(entries::file("1", "a"));
        let c = b.finish_changes(vec!["9".into()], "c2".into(), true);
        assert_eq!((c.changed.len(), c.removed.len(), c.has_more), (1, 1, true));
    }
}
