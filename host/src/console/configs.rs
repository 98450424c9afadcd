//! One config: its account and schedule, "Run now" with live progress (server-sent events,
//! read by `app.js`), stopping a run, the run history with each run's errors, and its files.

use super::html::{escape, page, see_other, when};
use super::pages::{Signed, csrf_refused, problem, status_class};
use crate::api::AppState;
use crate::app::AppError;
use crate::app::runs::ended;
use crate::store::FileStatus;
use crate::store::ids::{ConfigId, LogId};
use crate::store::pages::{FileQuery, LogQuery};
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

/// Runs listed on a config's page.
const RUNS_SHOWN: i64 = 20;
/// Files listed on a config's page.
const FILES_SHOWN: i64 = 100;

fn app_error(session: &crate::api::session::Session, e: AppError, back: &str) -> Response {
    let status = match e {
        AppError::NotFound(_) => StatusCode::NOT_FOUND,
        AppError::Conflict(_) => StatusCode::CONFLICT,
        AppError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
        _ => StatusCode::SERVICE_UNAVAILABLE,
    };
    problem(session, status, "That didn't work", &e.to_string(), back)
}

/// Which files a config's page lists.
#[derive(Deserialize, Default)]
pub struct FilesShown {
    /// Only files in this state (`failed`, `synced`, ...); empty or absent: all.
    status: Option<String>,
    /// The page after this file (keyset paging, as the API).
    after: Option<crate::store::ids::FileId>,
}

/// `GET /configs/{id}[?status=&after=]`
pub async fn config_page(
    State(state): State<AppState>,
    Signed(session): Signed,
    Path(id): Path<ConfigId>,
    axum::extract::Query(shown): axum::extract::Query<FilesShown>,
) -> Response {
    let status = match shown.status.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => match FileStatus::parse(s) {
            Some(status) => Some(status),
            None => {
                return problem(
                    &session,
                    StatusCode::BAD_REQUEST,
                    "No such state",
                    "A file's state is pending, synced, failed, deleted, skipped or excluded.",
                    &format!("/configs/{id}"),
                );
            }
        },
    };
    let owner = (!session.key.is_admin).then_some(session.key.userid);
    let app = state.app();
    let config = match app.config(id, owner).await {
        Ok(c) => c,
        Err(e) => return app_error(&session, e, "/"),
    };
    let body = async {
        let account = app.account_of(&config).await?;
        let runs = state
            .store
            .log_page(&LogQuery {
                user: owner,
                config: Some(id),
                limit: RUNS_SHOWN,
                ..LogQuery::default()
            })
            .await?;
        let files = state
            .store
            .file_page(&FileQuery {
                user: owner,
                config: Some(id),
                status,
                after: shown.after,
                limit: FILES_SHOWN,
            })
            .await?;
        Ok::<_, AppError>((account, runs, files))
    }
    .await;
    let (account, runs, files) = match body {
        Ok(parts) => parts,
        Err(e) => return app_error(&session, e, "/"),
    };
    let csrf = escape(&session.csrf);
    let mut out = format!(
        r#"<p>{provider}, account <strong>{account}</strong>; {schedule}; {enabled}.</p>"#,
        provider = escape(&config.provider),
        account = escape(
            account
                .as_ref()
                .map_or("not connected", |a| a.label.as_str())
        ),
        schedule = match &config.schedule {
            Some(cron) => format!(
                "on <code>{}</code> ({})",
                escape(cron),
                escape(config.schedule_timezone.as_deref().unwrap_or("UTC"))
            ),
            None => format!("every {} hours", config.sync_interval_hours),
        },
        enabled = if config.enabled {
            format!("next run {}", when(config.next_sync_at))
        } else {
            "disabled".into()
        },
    );
    if config.enabled
        && let Ok(next) = app.next_runs(
            config.schedule.as_deref(),
            config.schedule_timezone.as_deref(),
            config.sync_interval_hours,
            3,
        )
        && !next.is_empty()
    {
        out.push_str(&format!(
            "<p>Then: {}.</p>",
            next.iter()
                .map(|n| escape(&n.local))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    // The live panel: filled in by app.js from the run's events while it is queued or running.
    match runs.first().filter(|r| !ended(r.status)) {
        Some(live) => out.push_str(&format!(
            r#"<section aria-labelledby="live-h"><h2 id="live-h">Run under way</h2>
<p id="live" data-log="{log}" role="status" aria-live="polite">{status}</p>
<form method="post" action="/runs/{log}/cancel"><input type="hidden" name="csrf" value="{csrf}"><input type="hidden" name="back" value="{id}"><button type="submit">Stop this run</button></form></section>"#,
            log = live.id,
            status = live.status.as_str(),
        )),
        None => out.push_str(&format!(
            r#"<form method="post" action="/configs/{id}/run"><input type="hidden" name="csrf" value="{csrf}"><button type="submit">Run now</button></form>"#
        )),
    }
    out.push_str(r#"<section aria-labelledby="runs-h"><h2 id="runs-h">Runs</h2>"#);
    if runs.is_empty() {
        out.push_str("<p>No runs yet.</p>");
    } else {
        out.push_str(r#"<div class="table-wrap"><table><thead><tr><th scope="col">Started</th><th scope="col">Result</th><th scope="col">Files</th><th scope="col">Took</th><th scope="col">Errors</th></tr></thead><tbody>"#);
        for r in &runs {
            out.push_str(&format!(
                r#"<tr><td>{}</td><td><span class="{}">{}</span></td><td>{} synced, {} unchanged, {} failed, {} deleted</td><td>{}</td><td>{}</td></tr>"#,
                when(r.started_at),
                status_class(r.status),
                r.status.as_str(),
                r.files_synced,
                r.files_unchanged,
                r.files_failed,
                r.files_deleted,
                r.duration_seconds.map_or("—".into(), |d| format!("{d:.1} s")),
                escape(r.error_message.as_deref().unwrap_or("")),
            ));
        }
        out.push_str("</tbody></table></div>");
    }
    out.push_str("</section>");
    out.push_str(r#"<section aria-labelledby="files-h"><h2 id="files-h">Files</h2>"#);
    // A plain GET form: filtering works without script, and the URL can be shared.
    out.push_str(&format!(
        r#"<form method="get" action="/configs/{id}"><label for="status">State</label><select id="status" name="status"><option value="">all</option>{}</select> <button type="submit">Show</button></form>"#,
        ["pending", "synced", "failed", "deleted", "skipped", "excluded"]
            .iter()
            .map(|s| {
                let selected = if status.map(|st| st.as_str()) == Some(*s) {
                    " selected"
                } else {
                    ""
                };
                format!(r#"<option value="{s}"{selected}>{s}</option>"#)
            })
            .collect::<String>()
    ));
    if files.is_empty() {
        out.push_str("<p>No files here.</p>");
    } else {
        out.push_str(r#"<div class="table-wrap"><table><thead><tr><th scope="col">Path</th><th scope="col">Sync</th><th scope="col">Ingestion</th><th scope="col">Why</th></tr></thead><tbody>"#);
        for f in &files {
            out.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(f.remote_path.as_deref().unwrap_or(&f.remote_id)),
                f.status.as_str(),
                f.ingest_status.map_or("—", |s| s.as_str()),
                escape(f.error_message.as_deref().unwrap_or("")),
            ));
        }
        out.push_str("</tbody></table></div>");
        if files.len() as i64 == FILES_SHOWN
            && let Some(last) = files.last()
        {
            out.push_str(&format!(
                r#"<p><a href="/configs/{id}?status={}&amp;after={}">The next {FILES_SHOWN} files</a></p>"#,
                status.map_or("", |s| s.as_str()),
                last.id
            ));
        }
    }
    out.push_str(r#"</section><script src="/console/app.js" defer></script>"#);
    page(StatusCode::OK, &config.name, Some(&session), &out)
}

/// A form that carries only the CSRF token, and where to go back to.
#[derive(Deserialize)]
pub struct Action {
    csrf: String,
    back: Option<ConfigId>,
}

/// `POST /configs/{id}/run`
pub async fn run_now(
    State(state): State<AppState>,
    Signed(session): Signed,
    Path(id): Path<ConfigId>,
    Form(form): Form<Action>,
) -> Response {
    if let Some(refused) = csrf_refused(&session, &form.csrf) {
        return refused;
    }
    let owner = (!session.key.is_admin).then_some(session.key.userid);
    let app = state.app();
    let back = format!("/configs/{id}");
    let queued = async {
        let config = app.config(id, owner).await?;
        app.queue_run(&config, false).await
    }
    .await;
    match queued {
        Ok(_) => see_other(&back, &[]),
        Err(e) => app_error(&session, e, &back),
    }
}

/// `POST /runs/{id}/cancel`
pub async fn cancel(
    State(state): State<AppState>,
    Signed(session): Signed,
    Path(id): Path<LogId>,
    Form(form): Form<Action>,
) -> Response {
    if let Some(refused) = csrf_refused(&session, &form.csrf) {
        return refused;
    }
    let owner = (!session.key.is_admin).then_some(session.key.userid);
    let back = form
        .back
        .map_or("/".to_string(), |c| format!("/configs/{c}"));
    match state.app().cancel_run(id, owner).await {
        Ok(_) => see_other(&back, &[]),
        Err(e) => app_error(&session, e, &back),
    }
}
