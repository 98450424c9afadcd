//! Prometheus metrics of `p8sync serve`.
//!
//! The modules that do the work record through the small functions below, so that each metric
//! has one name, one set of label names and label values from one place. They go through the
//! `metrics` facade, which does nothing until [`handle`] installs the recorder: the one-shot CLI
//! commands never install it and pay nothing. The API renders the text at scrape time.
//!
//! A leaf module: besides the store's status enums (plain data at the bottom of the module
//! graph) it uses nothing of the crate. The runtime's label values (`call`, `kind`) come from
//! `runtime::error` as `&'static str`, because the runtime records here.
//!
//! Label values are bounded: provider ids (one per installed component), and fixed words.
//! Never a config id, a user, a file or a URL.

use crate::store::ingest::{IngestStatus, QueueDepth};
use crate::store::{LogStatus, SyncLog};
use metrics::{
    Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Duration;

/// Sync runs that ended, by `provider` and `status` (`success`, `partial`, `failed`).
pub const SYNCS_TOTAL: &str = "p8sync_syncs_total";
/// Files transferred into the object store, by `provider`.
pub const SYNC_FILES_SYNCED_TOTAL: &str = "p8sync_sync_files_synced_total";
/// Bytes transferred into the object store, by `provider`.
pub const SYNC_BYTES_SYNCED_TOTAL: &str = "p8sync_sync_bytes_synced_total";
/// Files whose transfer failed, by `provider`.
pub const SYNC_FILES_FAILED_TOTAL: &str = "p8sync_sync_files_failed_total";
/// Files found deleted at the provider, by `provider`.
pub const SYNC_FILES_DELETED_TOTAL: &str = "p8sync_sync_files_deleted_total";
/// Latency of calls into provider components, by `provider` and `call`.
pub const PROVIDER_CALL_SECONDS: &str = "p8sync_provider_call_seconds";
/// Failed calls into provider components, by `provider`, `call` and `kind`.
pub const PROVIDER_ERRORS_TOTAL: &str = "p8sync_provider_errors_total";
/// Outbound HTTP requests made for providers, by `provider` and `status_class`.
pub const PROVIDER_HTTP_REQUESTS_TOTAL: &str = "p8sync_provider_http_requests_total";
/// OAuth2 token refreshes, by `provider` and `outcome`.
pub const TOKEN_REFRESHES_TOTAL: &str = "p8sync_token_refreshes_total";
/// Leases taken over from a holder whose lease ran out, by `kind` (`config`, `ingest`).
pub const LEASE_TAKEOVERS_TOTAL: &str = "p8sync_lease_takeovers_total";
/// Ingestion job attempts that ended, by `outcome`.
pub const INGEST_JOBS_TOTAL: &str = "p8sync_ingest_jobs_total";

/// Bucket bounds of [`PROVIDER_CALL_SECONDS`]: from a local-folder listing (milliseconds) to a
/// slow API page, up to past the default call deadline of 60 s.
pub const CALL_SECONDS_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];

/// How often recorded histogram samples are folded into the rendered buckets. The recorder
/// installed without an exporter does not do it by itself, and samples pile up until it runs.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Work waiting or under way, by `queue` (`sync`, `ingest`) and `state`; read from the database
/// at scrape time, so every replica reports the same shared queues.
pub const QUEUE_DEPTH: &str = "p8sync_queue_depth";

/// The recorder's handle, installing the recorder (once per process) on first use. Safe to
/// call from anywhere, any number of times; every call returns a clone of the same handle.
/// Its own `render()` shows histograms as of the last upkeep (at most 5 s old); [`render`]
/// brings them up to date first.
pub fn handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(install).clone()
}

/// The metrics as Prometheus text, with the histogram samples recorded so far included.
pub fn render() -> String {
    let handle = handle();
    handle.run_upkeep();
    handle.render()
}

fn install() -> PrometheusHandle {
    // Explicit buckets make the latency a Prometheus histogram (aggregatable across replicas)
    // rather than a summary of quantiles per replica.
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(PROVIDER_CALL_SECONDS.to_string()),
            CALL_SECONDS_BUCKETS,
        )
        .expect("the bucket list is not empty")
        .build_recorder();
    let handle = recorder.handle();
    // `install_recorder` would lose the handle when another recorder is in place already (a
    // test harness's, say): keep it, and say why the output stays empty.
    if metrics::set_global_recorder(recorder).is_err() {
        tracing::warn!(
            "another metrics recorder is installed in this process, so /metrics will not show p8sync's metrics"
        );
    }
    describe();
    let upkeep = handle.clone();
    if let Err(e) = std::thread::Builder::new()
        .name("p8sync-metrics".into())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_EVERY);
                upkeep.run_upkeep();
            }
        })
    {
        tracing::warn!(
            "cannot start the metrics upkeep thread ({e}); histograms update only through metrics::render()"
        );
    }
    handle
}

/// The `# HELP` lines.
fn describe() {
    describe_gauge!(
        QUEUE_DEPTH,
        "Work in the shared queues, by queue (sync: configs due and unclaimed; ingest: jobs) and state."
    );
    describe_counter!(
        SYNCS_TOTAL,
        "Sync runs that ended, by provider and status (success, partial, failed)."
    );
    describe_counter!(
        SYNC_FILES_SYNCED_TOTAL,
        "Files transferred into the object store by sync runs, by provider."
    );
    describe_counter!(
        SYNC_BYTES_SYNCED_TOTAL,
        Unit::Bytes,
        "Bytes transferred into the object store by sync runs, by provider."
    );
    describe_counter!(
        SYNC_FILES_FAILED_TOTAL,
        "Files whose transfer failed in sync runs, by provider."
    );
    describe_counter!(
        SYNC_FILES_DELETED_TOTAL,
        "Files sync runs found deleted at the provider, by provider."
    );
    describe_histogram!(
        PROVIDER_CALL_SECONDS,
        Unit::Seconds,
        "Latency of calls into provider components (list, start_cursor, changes, fetch), by provider and call."
    );
    describe_counter!(
        PROVIDER_ERRORS_TOTAL,
        "Failed calls into provider components, by provider, call and kind (the provider's error, or timeout, trap, sandbox, ...)."
    );
    describe_counter!(
        PROVIDER_HTTP_REQUESTS_TOTAL,
        "Outbound HTTP requests made for providers (API calls and downloads), by provider and status class (2xx..5xx, or error when no response came)."
    );
    describe_counter!(
        TOKEN_REFRESHES_TOTAL,
        "OAuth2 access token refreshes, by provider and outcome (ok, invalid_grant, error)."
    );
    describe_counter!(
        LEASE_TAKEOVERS_TOTAL,
        "Leases taken over from a replica or worker whose lease ran out, by kind (config, ingest)."
    );
    describe_counter!(
        INGEST_JOBS_TOTAL,
        "Ingestion job attempts that ended, by outcome (ingested, stored, retrying, dead, superseded, ...)."
    );
}

/// One sync run ended as `log` records it (status and counts). Dry runs are not recorded.
pub fn sync_finished(provider: &str, log: &SyncLog) {
    let provider = provider.to_string();
    counter!(SYNCS_TOTAL, "provider" => provider.clone(), "status" => sync_status(log.status))
        .increment(1);
    let count = |name: &'static str, n: i64| {
        counter!(name, "provider" => provider.clone()).increment(n.max(0) as u64);
    };
    count(SYNC_FILES_SYNCED_TOTAL, log.files_synced.into());
    count(SYNC_BYTES_SYNCED_TOTAL, log.bytes_synced);
    count(SYNC_FILES_FAILED_TOTAL, log.files_failed.into());
    count(SYNC_FILES_DELETED_TOTAL, log.files_deleted.into());
}

/// A finished run's status as a label value; a run is over, so anything but success or
/// partial counts as failed.
fn sync_status(status: LogStatus) -> &'static str {
    match status {
        LogStatus::Success => "success",
        LogStatus::Partial => "partial",
        _ => "failed",
    }
}

/// One call into a provider component took `elapsed`; `error` is the failure's kind
/// (`CallError::kind`) when it failed.
pub fn provider_call(
    provider: &str,
    call: &'static str,
    elapsed: Duration,
    error: Option<&'static str>,
) {
    histogram!(PROVIDER_CALL_SECONDS, "provider" => provider.to_string(), "call" => call)
        .record(elapsed.as_secs_f64());
    if let Some(kind) = error {
        counter!(
            PROVIDER_ERRORS_TOTAL,
            "provider" => provider.to_string(),
            "call" => call,
            "kind" => kind
        )
        .increment(1);
    }
}

/// One outbound HTTP request for `provider` was answered with `status`, or with nothing
/// (`None`: a timeout or a failed connection).
pub fn provider_http_request(provider: &str, status: Option<u16>) {
    let class = match status.map(|s| s / 100) {
        None => "error",
        Some(1) => "1xx",
        Some(2) => "2xx",
        Some(3) => "3xx",
        Some(4) => "4xx",
        Some(5) => "5xx",
        Some(_) => "other",
    };
    counter!(
        PROVIDER_HTTP_REQUESTS_TOTAL,
        "provider" => provider.to_string(),
        "status_class" => class
    )
    .increment(1);
}

/// How a token refresh went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshOutcome {
    /// A new access token.
    Ok,
    /// The provider refused the refresh token: the credential needs a new login.
    InvalidGrant,
    /// Anything else (the token endpoint failed or could not be reached).
    Error,
}

/// One refresh at `provider`'s token endpoint.
pub fn token_refresh(provider: &str, outcome: RefreshOutcome) {
    let outcome = match outcome {
        RefreshOutcome::Ok => "ok",
        RefreshOutcome::InvalidGrant => "invalid_grant",
        RefreshOutcome::Error => "error",
    };
    counter!(TOKEN_REFRESHES_TOTAL, "provider" => provider.to_string(), "outcome" => outcome)
        .increment(1);
}

/// What a lease is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseKind {
    /// A sync config claimed by the scheduler.
    Config,
    /// An ingestion job claimed by a worker.
    Ingest,
}

/// A lease of `kind` was taken over from a holder whose lease ran out (it crashed or stalled).
pub fn lease_taken_over(kind: LeaseKind) {
    let kind = match kind {
        LeaseKind::Config => "config",
        LeaseKind::Ingest => "ingest",
    };
    counter!(LEASE_TAKEOVERS_TOTAL, "kind" => kind).increment(1);
}

/// The shared queues as the database has them now.
pub fn queue_depths(due_configs: i64, ingest: &QueueDepth) {
    gauge!(QUEUE_DEPTH, "queue" => "sync", "state" => "due").set(due_configs as f64);
    for (state, n) in [
        ("queued", ingest.queued),
        ("running", ingest.running),
        ("done", ingest.done),
        ("dead", ingest.dead),
    ] {
        gauge!(QUEUE_DEPTH, "queue" => "ingest", "state" => state).set(n as f64);
    }
}

/// An ingestion job attempt ended with `status` recorded.
pub fn ingest_job_finished(status: IngestStatus) {
    counter!(INGEST_JOBS_TOTAL, "outcome" => status.as_str()).increment(1);
}

/// An ingestion job attempt stopped because the file changed or another worker took the job.
pub fn ingest_job_superseded() {
    counter!(INGEST_JOBS_TOTAL, "outcome" => "superseded").increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lines of `text` about `name` that carry all of `labels`.
    fn lines<'a>(text: &'a str, name: &str, labels: &[&str]) -> Vec<&'a str> {
        text.lines()
            .filter(|l| l.starts_with(name) && labels.iter().all(|x| l.contains(x)))
            .collect()
    }

    #[test]
    fn recorded_values_render_as_prometheus_text() {
        // A second call returns the same recorder rather than failing to install another.
        let _ = handle();
        let handle = handle();
        // Provider names unique to this test: other tests in the process may record too.
        provider_call("metrics-test", "list", Duration::from_millis(30), None);
        provider_call(
            "metrics-test",
            "list",
            Duration::from_secs(3),
            Some("rate_limited"),
        );
        provider_http_request("metrics-test", Some(503));
        provider_http_request("metrics-test", None);
        token_refresh("metrics-test", RefreshOutcome::InvalidGrant);
        lease_taken_over(LeaseKind::Ingest);
        ingest_job_finished(IngestStatus::NotIngestible);
        let mut log = SyncLog::start(&crate::store::SyncConfig::new(
            crate::store::ids::UserId(uuid::Uuid::nil()),
            "metrics-test",
            "metrics test",
        ));
        log.status = LogStatus::Partial;
        log.files_synced = 3;
        log.files_failed = 1;
        log.bytes_synced = 4096;
        sync_finished("metrics-test", &log);

        let text = render();
        assert!(
            text.contains("# TYPE p8sync_provider_call_seconds histogram"),
            "{text}"
        );
        assert!(
            text.contains("# HELP p8sync_provider_call_seconds Latency of calls"),
            "{text}"
        );
        let p = "provider=\"metrics-test\"";
        let list = "call=\"list\"";
        let bucket = |le: &str| {
            lines(
                &text,
                "p8sync_provider_call_seconds_bucket{",
                &[p, list, &format!("le=\"{le}\"")],
            )
        };
        assert_eq!(
            bucket("0.01"),
            [format!(
                "p8sync_provider_call_seconds_bucket{{{p},{list},le=\"0.01\"}} 0"
            )],
            "{text}"
        );
        assert_eq!(
            bucket("0.05"),
            [format!(
                "p8sync_provider_call_seconds_bucket{{{p},{list},le=\"0.05\"}} 1"
            )],
            "{text}"
        );
        assert_eq!(
            bucket("5"),
            [format!(
                "p8sync_provider_call_seconds_bucket{{{p},{list},le=\"5\"}} 2"
            )],
            "{text}"
        );
        assert_eq!(bucket("+Inf").len(), 1, "{text}");
        assert_eq!(
            lines(&text, "p8sync_provider_call_seconds_count{", &[p, list]),
            [format!(
                "p8sync_provider_call_seconds_count{{{p},{list}}} 2"
            )]
        );
        let expect =
            |line: String| assert!(text.lines().any(|l| l == line), "no `{line}` in\n{text}");
        expect(format!(
            "p8sync_provider_errors_total{{{p},{list},kind=\"rate_limited\"}} 1"
        ));
        expect(format!(
            "p8sync_provider_http_requests_total{{{p},status_class=\"5xx\"}} 1"
        ));
        expect(format!(
            "p8sync_provider_http_requests_total{{{p},status_class=\"error\"}} 1"
        ));
        expect(format!(
            "p8sync_token_refreshes_total{{{p},outcome=\"invalid_grant\"}} 1"
        ));
        expect(format!("p8sync_syncs_total{{{p},status=\"partial\"}} 1"));
        expect(format!("p8sync_sync_files_synced_total{{{p}}} 3"));
        expect(format!("p8sync_sync_bytes_synced_total{{{p}}} 4096"));
        expect(format!("p8sync_sync_files_failed_total{{{p}}} 1"));
        expect(format!("p8sync_sync_files_deleted_total{{{p}}} 0"));
        assert!(text.contains("# TYPE p8sync_lease_takeovers_total counter"));
        assert_eq!(
            lines(&text, "p8sync_lease_takeovers_total{", &["kind=\"ingest\""]).len(),
            1
        );
        assert_eq!(
            lines(
                &text,
                "p8sync_ingest_jobs_total{",
                &["outcome=\"not_ingestible\""]
            )
            .len(),
            1
        );
        // The handle the API keeps renders the same registry.
        assert!(handle.render().contains("p8sync_token_refreshes_total"));
    }
}
