//! The console's pages: signing in and out, and the overview.

use super::html::{escape, page, secure, see_other, when};
use crate::api::AppState;
use crate::api::login::{sent_cookie, set_cookie};
use crate::api::session::{self, Session};
use crate::store::access::hash_key;
use crate::store::{LogStatus, SyncLog};
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

/// The cookie that carries the sign-in form's CSRF token before there is a session (the form
/// repeats it; another site can set neither).
const SIGNIN_COOKIE: &str = "p8sync_signin";
/// The most configs the overview lists (each costs a query for its last run).
const OVERVIEW_CONFIGS: usize = 200;

/// `GET /console/app.css`
pub async fn stylesheet() -> Response {
    let mut response = include_str!("app.css").into_response();
    secure(&mut response, "text/css; charset=utf-8");
    response
}

/// `GET /console/app.js`
pub async fn script() -> Response {
    let mut response = include_str!("app.js").into_response();
    secure(&mut response, "text/javascript; charset=utf-8");
    response
}

/// `GET /signin`
pub async fn signin_form(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if Session::from_headers(&state, &headers).await.is_some() {
        return see_other("/", &[]);
    }
    signin_page(&state, StatusCode::OK, None)
}

fn signin_page(state: &AppState, status: StatusCode, error: Option<&str>) -> Response {
    let csrf = crate::oauth::login::random_token();
    let error = error
        .map(|e| format!(r#"<p class="error" role="alert">{}</p>"#, escape(e)))
        .unwrap_or_default();
    let body = format!(
        r#"{error}<form method="post" action="/signin">
<input type="hidden" name="csrf" value="{csrf}">
<label for="key">API key</label>
<input id="key" name="key" type="password" autocomplete="current-password" required autofocus>
<p class="muted">An operator makes keys with <code>p8sync user create</code>, or an admin in this console.</p>
<button type="submit">Sign in</button>
</form>"#
    );
    let mut response = page(status, "Sign in", None, &body);
    if let Ok(cookie) = set_cookie(state, SIGNIN_COOKIE, &csrf, 3600).parse() {
        response
            .headers_mut()
            .append(axum::http::header::SET_COOKIE, cookie);
    }
    response
}

/// The sign-in form.
#[derive(Deserialize)]
pub struct SignIn {
    key: String,
    csrf: String,
}

/// `POST /signin`: an API key for a session cookie.
pub async fn signin(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<SignIn>,
) -> Response {
    let expected = sent_cookie(&headers, SIGNIN_COOKIE).map(|(_, v)| v);
    if expected.is_none_or(|e| e.is_empty() || e != form.csrf) {
        return signin_page(
            &state,
            StatusCode::FORBIDDEN,
            Some("This sign-in form has expired or came from another site; try again."),
        );
    }
    let key = form.key.trim();
    let record = match state.store.api_key_by_hash(&hash_key(key)).await {
        Ok(Some(record)) if !key.is_empty() => record,
        Ok(_) => {
            return signin_page(
                &state,
                StatusCode::UNAUTHORIZED,
                Some("That key is not valid (it may have been revoked). Ask for a new one."),
            );
        }
        Err(e) => {
            tracing::error!("signing in: {e}");
            return signin_page(
                &state,
                StatusCode::SERVICE_UNAVAILABLE,
                Some("The server can't reach its database just now; try again shortly."),
            );
        }
    };
    match session::start(&state, &record).await {
        Ok(cookie) => see_other("/", &[cookie, set_cookie(&state, SIGNIN_COOKIE, "", 0)]),
        Err(e) => {
            tracing::error!("starting a session: {e}");
            signin_page(
                &state,
                StatusCode::SERVICE_UNAVAILABLE,
                Some("The server can't reach its database just now; try again shortly."),
            )
        }
    }
}

/// A form that only carries the CSRF token.
#[derive(Deserialize)]
pub struct Csrf {
    csrf: String,
}

/// `POST /signout`
pub async fn signout(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<Csrf>,
) -> Response {
    let Some(session) = Session::from_headers(&state, &headers).await else {
        return see_other("/signin", &[session::clear(&state)]);
    };
    if !session.csrf_ok(&form.csrf) {
        return page(
            StatusCode::FORBIDDEN,
            "Not signed out",
            Some(&session),
            r#"<p class="error" role="alert">That request did not come from this console's page; nothing changed.</p>"#,
        );
    }
    if let Err(e) = session.end(&state).await {
        tracing::warn!("ending a session: {e}");
    }
    see_other("/signin", &[session::clear(&state)])
}

/// A signed-in browser's session; without one, the request is sent to the sign-in page.
pub(super) struct Signed(pub Session);

impl axum::extract::FromRequestParts<AppState> for Signed {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Session::from_headers(state, &parts.headers)
            .await
            .map(Signed)
            .ok_or_else(|| see_other("/signin", &[]))
    }
}

/// The refusal page when `sent` is not the session's CSRF token.
pub(super) fn csrf_refused(session: &Session, sent: &str) -> Option<Response> {
    (!session.csrf_ok(sent)).then(|| {
        page(
            StatusCode::FORBIDDEN,
            "Nothing changed",
            Some(session),
            r#"<p class="error" role="alert">That request did not come from this console's page (or the page is too old); reload it and try again.</p>"#,
        )
    })
}

/// A page that says what went wrong, in words, with a way back.
pub(super) fn problem(
    session: &Session,
    status: StatusCode,
    title: &str,
    why: &str,
    back: &str,
) -> Response {
    page(
        status,
        title,
        Some(session),
        &format!(
            r#"<p class="error" role="alert">{}</p><p><a href="{}">Back</a></p>"#,
            escape(why),
            escape(back)
        ),
    )
}

pub(super) fn status_class(status: LogStatus) -> &'static str {
    match status {
        LogStatus::Success => "ok",
        LogStatus::Partial | LogStatus::Cancelled => "warn",
        LogStatus::Failed => "bad",
        LogStatus::Pending | LogStatus::Syncing => "muted",
    }
}

/// `GET /`: accounts and their state, configs with their last and next run, and what needs
/// attention.
pub async fn overview(State(state): State<AppState>, Signed(session): Signed) -> Response {
    match overview_body(&state, &session).await {
        Ok(body) => page(StatusCode::OK, "Overview", Some(&session), &body),
        Err(e) => {
            tracing::error!("the overview: {e}");
            page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Overview",
                Some(&session),
                r#"<p class="error" role="alert">The server can't read its database just now; reload shortly.</p>"#,
            )
        }
    }
}

async fn overview_body(
    state: &AppState,
    session: &Session,
) -> Result<String, crate::store::StoreError> {
    let owner = (!session.key.is_admin).then_some(session.key.userid);
    let accounts = state.store.credentials(owner).await?;
    let configs = state.store.configs(owner).await?;
    let mut attention = Vec::new();
    let mut out = String::new();

    out.push_str(r#"<section aria-labelledby="accounts-h"><h2 id="accounts-h">Accounts</h2>"#);
    if accounts.is_empty() {
        out.push_str(
            r#"<p>No accounts are connected yet. <a href="/connect">Connect one</a>.</p>"#,
        );
    } else {
        out.push_str(
            r#"<div class="table-wrap"><table><thead><tr><th scope="col">Provider</th><th scope="col">Label</th><th scope="col">Signed in as</th><th scope="col">State</th><th scope="col">Change</th></tr></thead><tbody>"#,
        );
        for a in &accounts {
            let state_cell = if a.needs_reauth {
                let why = a
                    .reauth_reason
                    .as_deref()
                    .unwrap_or("the provider refused it");
                attention.push(format!(
                    "The {} account <strong>{}</strong> needs a new sign-in: {}",
                    escape(&a.provider),
                    escape(&a.label),
                    escape(why)
                ));
                r#"<span class="bad">needs a new sign-in</span>"#.to_string()
            } else {
                r#"<span class="ok">working</span>"#.to_string()
            };
            let csrf = escape(&session.csrf);
            let id = a.id;
            let label = escape(&a.label);
            let change = format!(
                r#"<form class="inline" method="post" action="/accounts/{id}/rename"><input type="hidden" name="csrf" value="{csrf}"><label for="rename-{id}">New label for {label}</label><input id="rename-{id}" name="label" type="text" maxlength="100" required> <button type="submit">Rename</button></form>
<form method="post" action="/accounts/{id}/disconnect"><input type="hidden" name="csrf" value="{csrf}"><button type="submit" aria-label="Disconnect {label}">Disconnect</button></form>"#
            );
            out.push_str(&format!(
                "<tr><td>{}</td><td>{label}</td><td>{}</td><td>{state_cell}</td><td>{change}</td></tr>",
                escape(&a.provider),
                escape(a.provider_user_id.as_deref().unwrap_or("—")),
            ));
        }
        out.push_str("</tbody></table></div>");
    }
    out.push_str("</section>");

    out.push_str(r#"<section aria-labelledby="configs-h"><h2 id="configs-h">Sync configs</h2>"#);
    if configs.is_empty() {
        out.push_str("<p>No sync configs yet.</p>");
    } else {
        out.push_str(
            r#"<div class="table-wrap"><table><thead><tr><th scope="col">Name</th><th scope="col">Provider</th><th scope="col">Account</th><th scope="col">Last run</th><th scope="col">Files</th><th scope="col">Next run</th></tr></thead><tbody>"#,
        );
        for c in configs.iter().take(OVERVIEW_CONFIGS) {
            let last: Option<SyncLog> = state.store.logs(Some(c.id), 1).await?.into_iter().next();
            let account = c
                .credential_id
                .and_then(|id| accounts.iter().find(|a| a.id == id))
                .map_or("—".to_string(), |a| escape(&a.label));
            let (last_cell, files_cell) = match &last {
                Some(l) => {
                    if matches!(l.status, LogStatus::Failed | LogStatus::Partial) {
                        attention.push(format!(
                            "The last run of <strong>{}</strong> {}: {}",
                            escape(&c.name),
                            if l.status == LogStatus::Failed {
                                "failed"
                            } else {
                                "left files behind"
                            },
                            escape(l.error_message.as_deref().unwrap_or("see its run")),
                        ));
                    }
                    (
                        format!(
                            r#"<span class="{}">{}</span> {}"#,
                            status_class(l.status),
                            l.status.as_str(),
                            when(l.completed_at.or(l.started_at))
                        ),
                        format!(
                            "{} synced, {} unchanged, {} failed",
                            l.files_synced, l.files_unchanged, l.files_failed
                        ),
                    )
                }
                None => ("never run".to_string(), "—".to_string()),
            };
            let next = if c.enabled {
                when(c.next_sync_at)
            } else {
                "disabled".to_string()
            };
            out.push_str(&format!(
                r#"<tr><td><a href="/configs/{}">{}</a></td><td>{}</td><td>{account}</td><td>{last_cell}</td><td>{files_cell}</td><td>{next}</td></tr>"#,
                c.id,
                escape(&c.name),
                escape(&c.provider),
            ));
        }
        out.push_str("</tbody></table></div>");
        if configs.len() > OVERVIEW_CONFIGS {
            out.push_str(&format!(
                r#"<p class="muted">The first {OVERVIEW_CONFIGS} of {} configs.</p>"#,
                configs.len()
            ));
        }
    }
    out.push_str("</section>");

    let mut head = String::from(
        r#"<section aria-labelledby="attention-h"><h2 id="attention-h">Needs attention</h2>"#,
    );
    if attention.is_empty() {
        head.push_str(
            r#"<p class="ok">Nothing: every account works and every last run passed.</p>"#,
        );
    } else {
        head.push_str("<ul>");
        for item in &attention {
            head.push_str(&format!("<li>{item}</li>"));
        }
        head.push_str("</ul>");
    }
    head.push_str("</section>");
    if session.key.is_admin {
        // The whole queue is every tenant's: admins only, as in the API.
        let q = state.store.queue_depth().await?;
        out.push_str(&format!(
            r#"<section aria-labelledby="queue-h"><h2 id="queue-h">Ingestion queue</h2><p>{} waiting, {} running, {} done, <span class="{}">{} given up</span>.</p></section>"#,
            q.queued,
            q.running,
            q.done,
            if q.dead > 0 { "bad" } else { "muted" },
            q.dead
        ));
    }
    Ok(head + &out)
}
