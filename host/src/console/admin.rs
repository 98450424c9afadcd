//! The admin page (admin keys only): users and their keys (create, shown once; revoke), and
//! the installed providers with their version, contract, sign-in and hosts.

use super::html::{escape, page, see_other, when};
use super::pages::{Signed, csrf_refused, problem};
use crate::api::AppState;
use crate::api::session::Session;
use crate::runtime::types::AuthMethod;
use crate::store::ids::UserId;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

fn not_admin(session: &Session) -> Option<Response> {
    (!session.key.is_admin).then(|| {
        problem(
            session,
            StatusCode::FORBIDDEN,
            "Admins only",
            "This page needs an admin key; sign in with one.",
            "/",
        )
    })
}

/// `GET /admin`
pub async fn admin_page(State(state): State<AppState>, Signed(session): Signed) -> Response {
    if let Some(refused) = not_admin(&session) {
        return refused;
    }
    let keys = match state.app().keys(None).await {
        Ok(keys) => keys,
        Err(e) => {
            return problem(
                &session,
                StatusCode::SERVICE_UNAVAILABLE,
                "Admin",
                &e.to_string(),
                "/",
            );
        }
    };
    let csrf = escape(&session.csrf);
    let mut out = format!(
        r#"<section aria-labelledby="new-h"><h2 id="new-h">Create a key</h2>
<form method="post" action="/admin/key/new"><input type="hidden" name="csrf" value="{csrf}">
<label for="key-name">Name</label><input id="key-name" name="name" type="text" maxlength="200" required>
<label for="key-user">User (a uuid; empty: a new user)</label><input id="key-user" name="user" type="text">
<label><input type="checkbox" name="admin" value="true"> Admin (sees and changes every user's data)</label>
<button type="submit">Create the key</button></form></section>
<section aria-labelledby="keys-h"><h2 id="keys-h">Keys</h2><div class="table-wrap"><table><thead><tr><th scope="col">Name</th><th scope="col">User</th><th scope="col">Admin</th><th scope="col">Made</th><th scope="col">Revoke</th></tr></thead><tbody>"#
    );
    for k in &keys {
        out.push_str(&format!(
            r#"<tr><td>{name}</td><td><code>{user}</code></td><td>{admin}</td><td>{made}</td><td><form method="post" action="/admin/key/{id}/revoke"><input type="hidden" name="csrf" value="{csrf}"><button type="submit" aria-label="Revoke {name}">Revoke</button></form></td></tr>"#,
            name = escape(&k.name),
            user = k.userid,
            admin = if k.is_admin { "yes" } else { "no" },
            made = when(Some(k.created_at)),
            id = k.id,
        ));
    }
    out.push_str(r#"</tbody></table></div></section><section aria-labelledby="providers-h"><h2 id="providers-h">Providers</h2><div class="table-wrap"><table><thead><tr><th scope="col">Provider</th><th scope="col">Version</th><th scope="col">Contract</th><th scope="col">Sign-in</th><th scope="col">Hosts</th></tr></thead><tbody>"#);
    for p in state.registry.providers() {
        let info = p.info();
        let auth = match &info.auth {
            AuthMethod::None => "none",
            AuthMethod::Oauth2(_) => "OAuth2",
            AuthMethod::Basic => "user name and password",
            AuthMethod::BearerToken => "API token",
        };
        out.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{auth}</td><td>{}</td></tr>",
            escape(&info.display_name),
            escape(&info.version),
            escape(&p.source().wit_version.to_string()),
            escape(&p.allowed_hosts()),
        ));
    }
    out.push_str("</tbody></table></div></section>");
    page(StatusCode::OK, "Admin", Some(&session), &out)
}

/// The new-key form.
#[derive(Deserialize)]
pub struct NewKey {
    csrf: String,
    name: String,
    user: Option<String>,
    admin: Option<String>,
}

/// `POST /admin/key/new`: the new key, shown this once.
pub async fn create_key(
    State(state): State<AppState>,
    Signed(session): Signed,
    Form(form): Form<NewKey>,
) -> Response {
    if let Some(refused) = not_admin(&session).or_else(|| csrf_refused(&session, &form.csrf)) {
        return refused;
    }
    let user = match form
        .user
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
    {
        None => None,
        Some(text) => match text.parse::<UserId>() {
            Ok(user) => Some(user),
            Err(_) => {
                return problem(
                    &session,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "No key made",
                    "The user must be a uuid, or empty for a new user.",
                    "/admin",
                );
            }
        },
    };
    let admin = form.admin.as_deref() == Some("true");
    match state.app().create_key(&form.name, user, admin).await {
        Ok((key, info)) => page(
            StatusCode::CREATED,
            "Key created",
            Some(&session),
            &format!(
                r#"<p>The key <strong>{name}</strong> for user <code>{user}</code>. Copy it now: it is not shown again, and only its hash is kept.</p>
<p><label for="new-key">Key</label><input id="new-key" type="text" readonly value="{key}"></p><p><a href="/admin">Back to the admin page</a></p>"#,
                name = escape(&info.name),
                user = info.userid,
                key = escape(key.expose()),
            ),
        ),
        Err(e) => problem(
            &session,
            StatusCode::UNPROCESSABLE_ENTITY,
            "No key made",
            &e.to_string(),
            "/admin",
        ),
    }
}

/// A form that carries only the CSRF token.
#[derive(Deserialize)]
pub struct CsrfOnly {
    csrf: String,
}

/// `POST /admin/key/{id}/revoke`: the key fails at once, and its sessions end.
pub async fn revoke_key(
    State(state): State<AppState>,
    Signed(session): Signed,
    Path(id): Path<uuid::Uuid>,
    Form(form): Form<CsrfOnly>,
) -> Response {
    if let Some(refused) = not_admin(&session).or_else(|| csrf_refused(&session, &form.csrf)) {
        return refused;
    }
    match state.app().revoke_key(id).await {
        Ok(()) if id == session.key.id => {
            see_other("/signin", &[crate::api::session::clear(&state)])
        }
        Ok(()) => see_other("/admin", &[]),
        Err(e) => problem(
            &session,
            StatusCode::NOT_FOUND,
            "Not revoked",
            &e.to_string(),
            "/admin",
        ),
    }
}
