//! `p8sync serve`: the service. Syncs due configs and runs ingestion on this replica (as many
//! replicas as you like on one Postgres), and answers the HTTP API. SIGTERM or Ctrl-C stops
//! claiming new work and lets the work under way finish.

use super::Cli;
use crate::api::{ApiSettings, AppState};
use crate::scheduler::{Scheduler, SchedulerOptions, run_ingestion};
use crate::sync::local_roots::LocalRoots;
use crate::sync::{SyncEngine, SyncOptions};
use anyhow::{Context, Result};
use clap::Args;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Options of `p8sync serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Where the HTTP API listens.
    #[arg(long, env = "P8_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Seconds between looks for due configs when idle.
    #[arg(long, env = "P8_SCHEDULER_TICK_SECS", default_value_t = 5)]
    tick_secs: u64,
    /// Seconds a claimed config stays this replica's without renewal (renewed while it syncs).
    #[arg(long, env = "P8_SCHEDULER_LEASE_SECS", default_value_t = 60)]
    lease_secs: u64,
    /// Configs this replica syncs at once.
    #[arg(long, env = "P8_SCHEDULER_CONCURRENCY", default_value_t = 2)]
    concurrency: usize,
    /// Files transferred at once within a sync.
    #[arg(long, env = "P8_TRANSFERS", default_value_t = 4)]
    transfers: usize,
    /// After SIGTERM, seconds syncs under way may take to finish before they are stopped
    /// (their configs stay due and run again).
    #[arg(long, env = "P8_SHUTDOWN_GRACE_SECS", default_value_t = 30)]
    grace_secs: u64,
}

/// Run the service until SIGTERM or Ctrl-C.
pub(super) async fn run(cli: &Cli, args: &ServeArgs) -> Result<()> {
    // Installed first: what is recorded before the recorder exists is lost.
    crate::metrics::handle();
    let store = cli.store().await?;
    let blob = cli.blob().await;
    let runtime = cli.runtime()?;
    let registry = Arc::new(cli.registry(&runtime).await?);
    let options = SyncOptions {
        transfers: args.transfers,
        // With P8_LOCAL_ROOTS, API users' configs exist, and every run checks its root
        // against its owner's roots; without it, only the operator can have made local
        // configs, and their folders are the operator's choice.
        local_roots: LocalRoots::from_env()?.unwrap_or(LocalRoots::Anywhere),
        ..SyncOptions::from_env()?
    };
    let settings = ApiSettings::from_env(args.listen).map_err(anyhow::Error::msg)?;
    let mut engine = SyncEngine::new(store.clone(), blob.clone(), registry.clone(), options);
    let tokens = match cli.tokens(store.clone()).await {
        Ok(tokens) => {
            engine = engine.with_tokens(tokens.clone());
            Some(tokens)
        }
        // Configs of OAuth providers then fail with this reason in their SyncLog, and the
        // login endpoints say so; the rest runs.
        Err(e) => {
            tracing::warn!("OAuth credentials are unavailable: {e:#}");
            None
        }
    };
    let ingestor = cli.ingestor(store.clone(), &runtime).await?;
    let engine = engine.with_triage(Arc::new(ingestor.clone()));

    let stop = CancellationToken::new();
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let app = crate::api::router(AppState {
        store: store.clone(),
        blob,
        registry,
        tokens,
        settings: Arc::new(settings),
    });
    tracing::info!("p8sync serve: listening on http://{}", args.listen);
    let api = {
        let stop = stop.clone();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await
        })
    };
    let scheduler = Scheduler::new(
        store,
        Arc::new(engine),
        SchedulerOptions {
            tick: Duration::from_secs(args.tick_secs.max(1)),
            lease: Duration::from_secs(args.lease_secs.max(3)),
            concurrency: args.concurrency.max(1),
            grace: Duration::from_secs(args.grace_secs),
        },
    );
    let mut loops = tokio::task::JoinSet::new();
    for _ in 0..ingestor.workers() {
        loops.spawn(run_ingestion(
            ingestor.clone(),
            Duration::from_secs(args.tick_secs.max(1)),
            stop.clone(),
        ));
    }
    let signals = {
        let stop = stop.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("stopping: no new work is claimed; work under way finishes");
            stop.cancel();
        })
    };
    scheduler.run(stop.clone()).await;
    while loops.join_next().await.is_some() {}
    signals.abort();
    api.await
        .context("the HTTP server task failed")?
        .context("the HTTP server failed")?;
    tracing::info!("p8sync serve: stopped");
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
