//! The checks, in the order they run. Each one calls the provider through the same sandbox a
//! sync uses; every call is a fresh instance, so a cursor that works here works across calls.

use super::faults::{self, Fault};
use super::{CheckResult, Outcome};
use crate::runtime::intercept::Interceptor;
use crate::runtime::types::{
    Capability, ChecksumAlgorithm, Entry, EntryKind, FetchPlan, ListRequest, ProviderError,
};
use crate::runtime::{CallContext, CallError, Provider, local_root};
use crate::sync::checksum::Hashers;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;

/// One run of the suite over one provider.
pub(super) struct Suite<'a> {
    pub(super) provider: &'a Provider,
    pub(super) cx: CallContext,
    pub(super) page_size: u32,
    pub(super) max_fetches: usize,
    pub(super) max_pages: usize,
    pub(super) call_timeout: Duration,
    pub(super) memory_limit: u64,
}

/// A full listing, page by page.
struct Listing {
    pages: Vec<Vec<Entry>>,
    /// The cursor that led to each page after the first.
    cursors: Vec<String>,
}

impl Listing {
    fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.pages.iter().flatten()
    }
}

fn pass(name: &'static str, detail: impl Into<String>) -> CheckResult {
    CheckResult {
        name,
        outcome: Outcome::Pass(detail.into()),
    }
}

fn fail(name: &'static str, detail: impl Into<String>) -> CheckResult {
    CheckResult {
        name,
        outcome: Outcome::Fail(detail.into()),
    }
}

fn skip(name: &'static str, detail: impl Into<String>) -> CheckResult {
    CheckResult {
        name,
        outcome: Outcome::Skip(detail.into()),
    }
}

/// The slowest call seen, for the limits check.
#[derive(Default)]
struct Timing {
    slowest: Duration,
    call: &'static str,
    calls: u32,
}

impl Suite<'_> {
    pub(super) async fn run(&self) -> Vec<CheckResult> {
        let mut out = vec![pass(
            "info",
            format!(
                "{} {} ({}), WIT {}",
                self.provider.id(),
                self.provider.info().version,
                self.provider.info().display_name,
                self.provider.source().wit_version
            ),
        )];
        let mut timing = Timing::default();
        let first = self.list_all(&mut timing).await;
        let listing = match first {
            Ok(l) => {
                out.push(pass(
                    "list.terminates",
                    format!("{} page(s), {} entries", l.pages.len(), l.entries().count()),
                ));
                Some(l)
            }
            Err(reason) => {
                out.push(fail("list.terminates", reason));
                None
            }
        };
        if let Some(listing) = &listing {
            out.push(self.resumable(listing, &mut timing).await);
            out.push(self.stable_ids(listing, &mut timing).await);
            out.push(entry_fields(listing));
            let (hosts, bytes) = self.fetches(listing, &mut timing).await;
            out.push(hosts);
            out.push(bytes);
        } else {
            for name in [
                "list.resumable",
                "list.stable-ids",
                "entries.fields",
                "fetch.declared-hosts",
                "fetch.bytes",
            ] {
                out.push(skip(name, "the listing did not complete"));
            }
        }
        let cursor = self.changes(&mut out, &mut timing).await;
        self.error_mapping(&mut out, cursor.as_deref(), &mut timing)
            .await;
        out.push(self.limits(&timing));
        out
    }

    async fn timed<T>(
        &self,
        timing: &mut Timing,
        call: &'static str,
        f: impl Future<Output = Result<T, CallError>>,
    ) -> Result<T, CallError> {
        let started = Instant::now();
        let result = f.await;
        let took = started.elapsed();
        timing.calls += 1;
        if took > timing.slowest {
            timing.slowest = took;
            timing.call = call;
        }
        result
    }

    fn request(&self, cursor: Option<String>) -> ListRequest {
        ListRequest {
            folder_id: None,
            recursive: true,
            cursor,
            page_size_hint: self.page_size,
        }
    }

    /// List everything, following cursors; an endless or failing listing is the error.
    async fn list_all(&self, timing: &mut Timing) -> Result<Listing, String> {
        let mut listing = Listing {
            pages: Vec::new(),
            cursors: Vec::new(),
        };
        let mut seen = BTreeSet::new();
        let mut cursor = None;
        loop {
            if listing.pages.len() >= self.max_pages {
                return Err(format!(
                    "the listing did not end within {} pages",
                    self.max_pages
                ));
            }
            let page = self
                .timed(
                    timing,
                    "list",
                    self.provider.list(&self.cx, &self.request(cursor.clone())),
                )
                .await
                .map_err(|e| format!("page {}: {e}", listing.pages.len() + 1))?;
            listing.pages.push(page.entries);
            match page.next_cursor {
                None => return Ok(listing),
                Some(next) => {
                    if !seen.insert(next.clone()) {
                        return Err(format!(
                            "page {} handed back a cursor it had already given: the listing loops",
                            listing.pages.len()
                        ));
                    }
                    listing.cursors.push(next.clone());
                    cursor = Some(next);
                }
            }
        }
    }

    /// A saved cursor, used again later in a fresh instance, gives the same next page.
    async fn resumable(&self, listing: &Listing, timing: &mut Timing) -> CheckResult {
        const NAME: &str = "list.resumable";
        let Some(cursor) = listing.cursors.first() else {
            return skip(
                NAME,
                "the listing has a single page, so there is no cursor to resume",
            );
        };
        let again = self
            .timed(
                timing,
                "list",
                self.provider
                    .list(&self.cx, &self.request(Some(cursor.clone()))),
            )
            .await;
        match again {
            Err(e) => fail(
                NAME,
                format!("resuming from the first page's cursor failed: {e}"),
            ),
            Ok(page) => {
                let want: Vec<&str> = listing.pages[1].iter().map(|e| e.id.as_str()).collect();
                let got: Vec<&str> = page.entries.iter().map(|e| e.id.as_str()).collect();
                if want == got {
                    pass(
                        NAME,
                        format!(
                            "page 2 again from its cursor: the same {} entries",
                            got.len()
                        ),
                    )
                } else {
                    fail(
                        NAME,
                        format!(
                            "page 2 from the same cursor differs: {} entries first, {} the second time",
                            want.len(),
                            got.len()
                        ),
                    )
                }
            }
        }
    }

    /// Ids are unique within a listing and the same in a second listing.
    async fn stable_ids(&self, listing: &Listing, timing: &mut Timing) -> CheckResult {
        const NAME: &str = "list.stable-ids";
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for e in listing.entries() {
            *counts.entry(e.id.as_str()).or_default() += 1;
        }
        if let Some((id, n)) = counts.iter().find(|(_, n)| **n > 1) {
            return fail(NAME, format!("id `{id}` appears {n} times in one listing"));
        }
        let second = match self.list_all(timing).await {
            Ok(l) => l,
            Err(e) => return fail(NAME, format!("the second listing failed: {e}")),
        };
        let a: BTreeSet<&str> = counts.keys().copied().collect();
        let b: BTreeSet<&str> = second.entries().map(|e| e.id.as_str()).collect();
        if a == b {
            pass(
                NAME,
                format!("{} unique ids, the same in two listings", a.len()),
            )
        } else {
            let only_first = a.difference(&b).next();
            let only_second = b.difference(&a).next();
            fail(
                NAME,
                format!(
                    "two listings gave different ids ({} and {}); for example {}",
                    a.len(),
                    b.len(),
                    only_first
                        .map(|i| format!("`{i}` only in the first"))
                        .or_else(|| only_second.map(|i| format!("`{i}` only in the second")))
                        .unwrap_or_default()
                ),
            )
        }
    }

    /// Fetch plans go only to declared hosts, and their bytes are what the entry says.
    async fn fetches(&self, listing: &Listing, timing: &mut Timing) -> (CheckResult, CheckResult) {
        const HOSTS: &str = "fetch.declared-hosts";
        const BYTES: &str = "fetch.bytes";
        let files: Vec<&Entry> = listing
            .entries()
            .filter(|e| e.kind == EntryKind::File)
            .take(self.max_fetches)
            .collect();
        if files.is_empty() {
            let why = "the listing has no files to fetch";
            return (skip(HOSTS, why), skip(BYTES, why));
        }
        let mut plans = Vec::new();
        for entry in &files {
            match self
                .timed(timing, "fetch", self.provider.fetch(&self.cx, entry))
                .await
            {
                Ok(plan) => plans.push((*entry, plan)),
                // The sandbox's verdict on the plan's destination.
                Err(e @ CallError::Sandbox { .. }) => {
                    return (
                        fail(HOSTS, format!("`{}`: {e}", entry.id)),
                        skip(BYTES, "a fetch plan was refused"),
                    );
                }
                Err(e) => {
                    let reason = format!("fetch for `{}` failed: {e}", entry.id);
                    return (fail(HOSTS, reason.clone()), fail(BYTES, reason));
                }
            }
        }
        let hosts = pass(
            HOSTS,
            format!("{} plan(s), all to declared hosts", plans.len()),
        );
        let mut verified = 0;
        let mut bytes_total = 0u64;
        for (entry, plan) in plans {
            match self.read_plan(entry, plan).await {
                Ok(n) => {
                    verified += 1;
                    bytes_total += n;
                }
                Err(reason) => return (hosts, fail(BYTES, format!("`{}`: {reason}", entry.id))),
            }
        }
        (
            hosts,
            pass(
                BYTES,
                format!("{verified} file(s), {bytes_total} bytes, sizes and checksums as declared"),
            ),
        )
    }

    /// Carry out a plan as a sync would, and check the bytes against the entry.
    async fn read_plan(&self, entry: &Entry, plan: FetchPlan) -> Result<u64, String> {
        let mut reader: Box<dyn tokio::io::AsyncRead + Send + Unpin> = match plan {
            FetchPlan::Inline(bytes) => Box::new(std::io::Cursor::new(bytes)),
            FetchPlan::LocalFile(path) => {
                let root = self
                    .cx
                    .root
                    .as_ref()
                    .ok_or("a local-file plan, but no root folder was given (--root)")?;
                let file = local_root::open_async(root, &path)
                    .await
                    .map_err(|e| e.to_string())?;
                Box::new(tokio::fs::File::from_std(file))
            }
            FetchPlan::Http(request) => self
                .provider
                .open_http(&self.cx, &request)
                .await
                .map_err(|e| e.to_string())?,
        };
        let mut hashers = Hashers::for_checksums(&entry.checksums);
        let mut buf = vec![0u8; 64 * 1024];
        let mut size = 0u64;
        loop {
            let n = reader
                .read(&mut buf)
                .await
                .map_err(|e| format!("reading the bytes failed: {e}"))?;
            if n == 0 {
                break;
            }
            hashers.update(&buf[..n]);
            size += n as u64;
        }
        crate::sync::transfer::verify(entry, size, hashers).map_err(|e| e.to_string())?;
        Ok(size)
    }

    /// The change feed: a start cursor, and cursors that advance while more is waiting.
    /// Returns a start cursor for the error checks.
    async fn changes(&self, out: &mut Vec<CheckResult>, timing: &mut Timing) -> Option<String> {
        const NAME: &str = "changes.advance";
        if !self.provider.has(Capability::ChangesFeed) {
            out.push(skip(NAME, "the provider does not declare changes-feed"));
            return None;
        }
        let start = match self
            .timed(timing, "start-cursor", self.provider.start_cursor(&self.cx))
            .await
        {
            Ok(c) => c,
            Err(e) => {
                out.push(fail(NAME, format!("start-cursor failed: {e}")));
                return None;
            }
        };
        let mut cursor = start.clone();
        let mut pages = 0;
        let mut changed = 0;
        loop {
            if pages >= self.max_pages {
                out.push(fail(
                    NAME,
                    format!("the change feed still had more after {pages} pages"),
                ));
                return Some(start);
            }
            let page = match self
                .timed(timing, "changes", self.provider.changes(&self.cx, &cursor))
                .await
            {
                Ok(p) => p,
                Err(e) => {
                    out.push(fail(NAME, format!("changes failed: {e}")));
                    return Some(start);
                }
            };
            pages += 1;
            changed += page.changed.len() + page.removed.len();
            if page.has_more && page.next_cursor == cursor {
                out.push(fail(
                    NAME,
                    "changes said more was waiting but handed back the same cursor: the feed would loop",
                ));
                return Some(start);
            }
            cursor = page.next_cursor;
            if !page.has_more {
                break;
            }
        }
        out.push(pass(
            NAME,
            format!("{pages} page(s) from the start cursor, {changed} change(s), then drained"),
        ));
        Some(start)
    }

    /// Each injected status maps onto the contract's error for it, without a trap or a timeout.
    async fn error_mapping(
        &self,
        out: &mut Vec<CheckResult>,
        cursor: Option<&str>,
        timing: &mut Timing,
    ) {
        for status in faults::STATUSES {
            let name: &'static str = match status {
                401 => "errors.401",
                403 => "errors.403",
                404 => "errors.404",
                429 => "errors.429",
                _ => "errors.500",
            };
            let fault = Arc::new(Fault::new(status));
            let cx = CallContext {
                interceptor: Some(fault.clone() as Arc<dyn Interceptor>),
                ..self.cx.clone()
            };
            let mut verdicts = Vec::new();
            let listed = self
                .timed(timing, "list", self.provider.list(&cx, &self.request(None)))
                .await
                .map(|_| ());
            verdicts.push(("list", listed));
            if let Some(cursor) = cursor {
                let changed = self
                    .timed(timing, "changes", self.provider.changes(&cx, cursor))
                    .await
                    .map(|_| ());
                verdicts.push(("changes", changed));
            }
            if fault.hits() == 0 {
                out.push(skip(
                    name,
                    "the provider made no HTTP request, so there was nothing to fail",
                ));
                continue;
            }
            out.push(judge(name, status, &verdicts));
        }
    }

    fn limits(&self, timing: &Timing) -> CheckResult {
        const NAME: &str = "limits";
        // A call over a limit already failed its own check; this reports the headroom, and
        // fails a provider that reached a limit (a sync would fail the same way).
        let peak = self.cx.usage.as_ref().map_or(0, |u| u.peak_memory_bytes());
        let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
        let detail = format!(
            "{} call(s); the slowest, {}, took {} ms of the {} ms allowed; the most memory one call used was {:.1} MiB of {:.0} MiB",
            timing.calls,
            if timing.call.is_empty() {
                "-"
            } else {
                timing.call
            },
            timing.slowest.as_millis(),
            self.call_timeout.as_millis(),
            mib(peak),
            mib(self.memory_limit)
        );
        if timing.slowest >= self.call_timeout || peak > self.memory_limit {
            fail(NAME, detail)
        } else {
            pass(NAME, detail)
        }
    }
}

fn judge(
    name: &'static str,
    status: u16,
    verdicts: &[(&str, Result<(), CallError>)],
) -> CheckResult {
    let mut seen = Vec::new();
    for (call, verdict) in verdicts {
        match verdict {
            Ok(()) => {
                return fail(
                    name,
                    format!(
                        "{call} succeeded although every request answered HTTP {status}: a failed call must be an error, never an empty result"
                    ),
                );
            }
            Err(CallError::Provider { error, .. }) => {
                if !faults::acceptable(status, error) {
                    return fail(
                        name,
                        format!(
                            "{call} mapped HTTP {status} to {}, expected {}",
                            faults::name(error),
                            faults::expected(status)
                        ),
                    );
                }
                if status == 429
                    && let ProviderError::RateLimited(r) = error
                    && r.retry_after_seconds != Some(faults::RETRY_AFTER)
                {
                    return fail(
                        name,
                        format!(
                            "{call} dropped the response's Retry-After: {} (it gave {:?})",
                            faults::RETRY_AFTER,
                            r.retry_after_seconds
                        ),
                    );
                }
                seen.push(format!("{call}: {}", faults::name(error)));
            }
            // A trap, a timeout, a refusal: the provider did not survive the error.
            Err(e) => return fail(name, format!("{call} under HTTP {status}: {e}")),
        }
    }
    pass(name, seen.join(", "))
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.chars().all(|c| c.is_ascii_hexdigit())
}

/// Every entry has what the contract requires of it.
fn entry_fields(listing: &Listing) -> CheckResult {
    const NAME: &str = "entries.fields";
    let mut files = 0;
    for e in listing.entries() {
        let problem = if e.id.trim().is_empty() {
            Some("an empty id".to_string())
        } else if e.name.trim().is_empty() {
            Some("an empty name".to_string())
        } else if e.name.contains('/') {
            Some(format!("a name with a slash (`{}`)", e.name))
        } else if e.path.iter().any(|s| s.is_empty() || s.contains('/')) {
            Some(format!(
                "a path segment that is empty or has a slash ({:?})",
                e.path
            ))
        } else if e.kind == EntryKind::File && e.size.is_none() && e.export_as.is_none() {
            Some("a file with neither a size nor an export format".to_string())
        } else if [&e.modified, &e.created]
            .into_iter()
            .flatten()
            .any(|t| t.nanoseconds >= 1_000_000_000)
        {
            Some("a timestamp with nanoseconds over a second".to_string())
        } else if let Some(c) = e
            .checksums
            .iter()
            .find(|c| !checksum_well_formed(&c.algorithm, &c.value))
        {
            Some(format!(
                "a malformed {:?} checksum `{}`",
                c.algorithm, c.value
            ))
        } else if let Some(m) = &e.metadata_json
            && !matches!(
                serde_json::from_str::<serde_json::Value>(m),
                Ok(serde_json::Value::Object(_))
            )
        {
            Some("metadata-json that is not a JSON object".to_string())
        } else {
            None
        };
        if let Some(p) = problem {
            return fail(NAME, format!("entry `{}` has {p}", e.id));
        }
        if e.kind == EntryKind::File {
            files += 1;
        }
    }
    pass(
        NAME,
        format!(
            "{} entries ({files} files) with ids, names, sizes and well-formed checksums",
            listing.entries().count()
        ),
    )
}

fn checksum_well_formed(algorithm: &ChecksumAlgorithm, value: &str) -> bool {
    use base64::Engine;
    let v = value.trim();
    match algorithm {
        ChecksumAlgorithm::Md5 => is_hex(v, 32),
        ChecksumAlgorithm::Sha1 => is_hex(v, 40),
        ChecksumAlgorithm::Sha256 | ChecksumAlgorithm::DropboxContentHash => is_hex(v, 64),
        ChecksumAlgorithm::QuickXorHash => base64::engine::general_purpose::STANDARD
            .decode(v)
            .is_ok_and(|b| b.len() == 20),
        ChecksumAlgorithm::Other(_) => !v.is_empty(),
    }
}
