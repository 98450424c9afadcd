//! Connecting an account: one tile per installed provider. OAuth providers go through the
//! browser login; WebDAV asks for its server, user name and password; token providers for the
//! token. Each connection is another account, with its label.

use super::html::{escape, page, see_other};
use super::pages::{Signed, csrf_refused, problem};
use crate::api::AppState;
use crate::app::AppError;
use crate::oauth::{AccountChoice, StaticCredential};
use crate::runtime::types::AuthMethod;
use crate::secret::Secret;
use crate::store::ids::CredentialId;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

/// `GET /connect`
pub async fn connect_page(State(state): State<AppState>, Signed(session): Signed) -> Response {
    let mut body = String::from(
        r#"<p>Each connection adds an account; a user may hold several of one provider, each with its own label.</p><ul class="tiles">"#,
    );
    for provider in state.registry.providers() {
        let info = provider.info();
        let id = escape(&info.id);
        let name = escape(&info.display_name);
        let label = format!(
            r#"<label for="label-{id}">Label (optional)</label><input id="label-{id}" name="label" type="text" maxlength="100">"#
        );
        let csrf = format!(
            r#"<input type="hidden" name="csrf" value="{}">"#,
            escape(&session.csrf)
        );
        let form = match &info.auth {
            AuthMethod::None => continue,
            AuthMethod::Oauth2(_) => format!(
                r#"<form method="get" action="/auth/{id}/login">{label}
<label><input type="checkbox" name="sync_files" value="true"> Also sync everything in it</label>
<button type="submit">Sign in to {name}</button></form>"#
            ),
            AuthMethod::Basic => format!(
                r#"<form method="post" action="/connect/{id}">{csrf}
<label for="server-{id}">Server address</label><input id="server-{id}" name="server_url" type="url" placeholder="https://cloud.example.com/remote.php/dav/files/NAME/">
<label for="user-{id}">User name</label><input id="user-{id}" name="username" type="text" required autocomplete="username">
<label for="pass-{id}">Password (an app password where the service has them)</label><input id="pass-{id}" name="password" type="password" required autocomplete="current-password">
{label}<button type="submit">Connect {name}</button></form>"#
            ),
            AuthMethod::BearerToken => format!(
                r#"<form method="post" action="/connect/{id}">{csrf}
<label for="token-{id}">API token</label><input id="token-{id}" name="token" type="password" required>
{label}<button type="submit">Connect {name}</button></form>"#
            ),
        };
        body.push_str(&format!(
            r#"<li><section aria-labelledby="tile-{id}"><h2 id="tile-{id}">{name}</h2>{form}</section></li>"#
        ));
    }
    body.push_str("</ul>");
    page(StatusCode::OK, "Connect an account", Some(&session), &body)
}

/// A password or token form.
#[derive(Deserialize)]
pub struct SecretForm {
    csrf: String,
    username: Option<String>,
    password: Option<String>,
    token: Option<String>,
    server_url: Option<String>,
    label: Option<String>,
}

/// `POST /connect/{provider}`: store a password or token as a new account.
pub async fn connect(
    State(state): State<AppState>,
    Signed(session): Signed,
    Path(provider): Path<String>,
    Form(form): Form<SecretForm>,
) -> Response {
    if let Some(refused) = csrf_refused(&session, &form.csrf) {
        return refused;
    }
    let blank = |v: Option<String>| v.filter(|v| !v.trim().is_empty());
    let credential = match (blank(form.username), form.password, blank(form.token)) {
        (Some(username), Some(password), None) => StaticCredential::Basic {
            username,
            password: Secret::new(password),
        },
        (None, _, Some(token)) => StaticCredential::Bearer {
            token: Secret::new(token),
        },
        _ => {
            return problem(
                &session,
                StatusCode::UNPROCESSABLE_ENTITY,
                "Not connected",
                "Give a user name and a password, or a token.",
                "/connect",
            );
        }
    };
    let choice = AccountChoice::Add {
        label: blank(form.label),
    };
    let server = blank(form.server_url);
    match state
        .app()
        .save_user_secret(
            session.key.userid,
            &provider,
            &credential,
            server.as_deref(),
            &choice,
        )
        .await
    {
        Ok(_) => see_other("/", &[]),
        Err(e) => refused(&session, e),
    }
}

/// The rename form.
#[derive(Deserialize)]
pub struct RenameForm {
    csrf: String,
    label: String,
}

/// `POST /accounts/{id}/rename`
pub async fn rename(
    State(state): State<AppState>,
    Signed(session): Signed,
    Path(id): Path<CredentialId>,
    Form(form): Form<RenameForm>,
) -> Response {
    if let Some(refused) = csrf_refused(&session, &form.csrf) {
        return refused;
    }
    match state
        .app()
        .rename_account(session.key.userid, id, &form.label)
        .await
    {
        Ok(_) => see_other("/", &[]),
        Err(e) => refused(&session, e),
    }
}

/// A form that carries only the CSRF token.
#[derive(Deserialize)]
pub struct CsrfOnly {
    csrf: String,
}

/// `POST /accounts/{id}/disconnect`: revoke at the provider, then delete here (kept, with
/// the reason, when the provider can't be reached).
pub async fn disconnect(
    State(state): State<AppState>,
    Signed(session): Signed,
    Path(id): Path<CredentialId>,
    Form(form): Form<CsrfOnly>,
) -> Response {
    if let Some(refused) = csrf_refused(&session, &form.csrf) {
        return refused;
    }
    let app = state.app();
    let done = async {
        let account = app.account(session.key.userid, id).await?;
        app.disconnect(session.key.userid, &account.provider, Some(id), false)
            .await
    }
    .await;
    match done {
        Ok(_) => see_other("/", &[]),
        Err(e) => refused(&session, e),
    }
}

/// The page for a change the application refused, with its reason.
fn refused(session: &crate::api::session::Session, e: AppError) -> Response {
    let status = match e {
        AppError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
        AppError::NotFound(_) => StatusCode::NOT_FOUND,
        AppError::Conflict(_) => StatusCode::CONFLICT,
        AppError::Provider(_) => StatusCode::BAD_GATEWAY,
        _ => StatusCode::SERVICE_UNAVAILABLE,
    };
    problem(session, status, "Nothing changed", &e.to_string(), "/")
}
