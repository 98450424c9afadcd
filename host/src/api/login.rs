//! The browser login: `GET /auth/{provider}/login` (for a signed-in API user) sends the browser
//! to the provider's consent page; `GET /auth/{provider}/callback` takes it back, stores the
//! credential sealed, and sends the browser on to the app (only to hosts the operator allows).

use super::AppState;
use super::auth::Caller;
use super::configs::provider_id;
use super::credentials::tokens;
use super::error::{ApiError, ApiResult};
use super::extract::ApiQuery;
use crate::console::html::escape;
use crate::oauth::OAuthApp;
use crate::oauth::web::{self, Callback, LoginRequest, WebLogin};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

/// How to start a login.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LoginParams {
    /// Also create a sync config named `default` for the provider, so files start syncing.
    #[serde(default)]
    pub sync_files: bool,
    /// Where to send the browser afterwards; its host must be one the operator allows
    /// (`P8_OAUTH_REDIRECT_HOSTS`). Without it, a plain success page is shown.
    pub redirect_uri: Option<String>,
    /// Reconnect this account (its id): the login must be to the same account at the
    /// provider. Without it the login adds an account (or signs in again to one held already).
    #[param(value_type = Option<String>, format = Uuid)]
    pub account: Option<crate::store::ids::CredentialId>,
    /// The label for an account this login adds (default: the account's email).
    pub label: Option<String>,
}

/// A started login, for apps that send the browser themselves.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct LoginStarted {
    /// The provider's consent page: open it in the user's browser within 10 minutes.
    pub authorize_url: String,
    /// The cookie that binds the login to that browser: the callback refuses a browser that
    /// does not send it back. The app must set it, for this server's origin, in the browser of
    /// the user who asked (see the README: "Logins are bound to the browser").
    pub binding_cookie: BindingCookie,
}

/// A login's binding cookie, as an app sets it.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct BindingCookie {
    /// The cookie's name.
    pub name: String,
    /// Its value (a secret: never log it, never put it in a URL).
    pub value: String,
    /// The whole `Set-Cookie` value this server would send (path, lifetime, flags).
    pub set_cookie: String,
}

/// What the provider sends back.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackParams {
    /// The login's state.
    pub state: Option<String>,
    /// The authorization code.
    pub code: Option<String>,
    /// Set when the user declined.
    pub error: Option<String>,
    /// Google echoes the granted scopes here.
    pub scope: Option<String>,
}

fn app_for(state: &AppState, provider: &str) -> ApiResult<OAuthApp> {
    Ok(state.app().oauth_app(provider)?)
}

/// The cookie binding a login to the browser that started it: HttpOnly (no script reads it),
/// `SameSite=Lax` (sent on the provider's top-level redirect back, not on cross-site
/// subrequests), gone with the login, and `__Host-` (HTTPS only, this host only) where the
/// public URL is HTTPS.
fn binding_cookie(state: &AppState, started: &web::Started) -> BindingCookie {
    let name = if https(state) {
        format!("__Host-{}", started.cookie_name)
    } else {
        started.cookie_name.clone()
    };
    let value = started.cookie_value.expose().to_string();
    let set_cookie = set_cookie(state, &name, &value, web::LOGIN_TTL.num_seconds());
    BindingCookie {
        name,
        value,
        set_cookie,
    }
}

/// The `Set-Cookie` that removes a login's binding cookie once the callback has used it.
fn clear_cookie(state: &AppState, name: &str) -> String {
    set_cookie(state, name, "", 0)
}

pub(crate) fn https(state: &AppState) -> bool {
    state.settings.public_url.starts_with("https://")
}

/// A login cookie's `Set-Cookie` value: the same attributes when it is set and when cleared
/// (a browser only replaces a cookie with the same name, path and flags).
pub(crate) fn set_cookie(state: &AppState, name: &str, value: &str, max_age: i64) -> String {
    format!(
        "{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{}",
        if https(state) { "; Secure" } else { "" }
    )
}

/// The binding cookie the browser sent for the login whose `state` came back: its name, and
/// its value.
fn sent_binding(headers: &axum::http::HeaderMap, login_state: &str) -> Option<(String, String)> {
    sent_cookie(headers, &web::cookie_name(login_state))
}

/// The cookie `name` (or its `__Host-` form) the browser sent: its name as sent, and its
/// value. At most 64 cookie headers of at most 100 pairs each are looked at.
pub(crate) fn sent_cookie(headers: &axum::http::HeaderMap, name: &str) -> Option<(String, String)> {
    let host = format!("__Host-{name}");
    headers
        .get_all(header::COOKIE)
        .iter()
        .take(64)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';').take(100))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == host || *k == name)
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
}

async fn begin(
    state: &AppState,
    caller: &Caller,
    path_provider: &str,
    params: LoginParams,
) -> ApiResult<LoginStarted> {
    let provider = provider_id(path_provider);
    let app = app_for(state, provider)?;
    let app_redirect = params
        .redirect_uri
        .map(|r| state.settings.check_redirect(&r).map(|()| r))
        .transpose()
        .map_err(ApiError::bad_request)?;
    // The callback keeps the path's spelling, so `/auth/google/login` comes back to
    // `/auth/google/callback` as the seed's OAuth client is registered.
    let callback_url = format!(
        "{}/auth/{path_provider}/callback",
        state.settings.public_url
    );
    // Checked now, not after the person has been through the consent screen.
    let account = match (params.account, params.label) {
        (Some(id), _) => {
            let record = state.app().account(caller.user, id).await?;
            if record.provider != app.provider() {
                return Err(ApiError::invalid(format!(
                    "account {id} is a {} account, not a {} one",
                    record.provider,
                    app.provider()
                )));
            }
            crate::oauth::AccountChoice::Existing(id)
        }
        (None, label) => crate::oauth::AccountChoice::Add {
            // An empty field of the console's form means "no label".
            label: label
                .filter(|l| !l.trim().is_empty())
                .as_deref()
                .map(crate::oauth::accounts::check_label)
                .transpose()
                .map_err(|e| ApiError::invalid(e.to_string()))?,
        },
    };
    let started = web::start(
        tokens(state)?,
        &app,
        LoginRequest {
            user: caller.user,
            callback_url,
            app_redirect,
            sync_files: params.sync_files,
            account,
        },
    )
    .await
    .map_err(|e| match e {
        web::WebLoginError::Store(e) => ApiError::from(e),
        other => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, other.to_string()),
    })?;
    Ok(LoginStarted {
        authorize_url: started.url.to_string(),
        binding_cookie: binding_cookie(state, &started),
    })
}

/// `GET /auth/{provider}/login`: redirect to the provider's consent page.
#[utoipa::path(operation_id = "startLogin", get, path = "/auth/{provider}/login", tag = "auth",
    params(("provider" = String, Path, description = "a provider id; `google` means `google_drive`"), LoginParams),
    responses((status = 303, description = "to the provider's consent page"),
        (status = 400, body = super::error::ErrorBody, description = "a redirect_uri whose host is not allowed"),
        (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn login(
    State(state): State<AppState>,
    caller: Caller,
    Path(provider): Path<String>,
    ApiQuery(params): ApiQuery<LoginParams>,
) -> ApiResult<Response> {
    let started = begin(&state, &caller, &provider, params).await?;
    let mut response = Redirect::to(&started.authorize_url).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, "no-store".parse().expect("static"));
    headers.insert(
        header::SET_COOKIE,
        started
            .binding_cookie
            .set_cookie
            .parse()
            .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "a bad cookie"))?,
    );
    Ok(response)
}

/// `POST /auth/{provider}/login`: the same, answering the consent URL as JSON.
#[utoipa::path(operation_id = "startLoginJson", post, path = "/auth/{provider}/login", tag = "auth",
    params(("provider" = String, Path), LoginParams),
    responses((status = 200, body = LoginStarted), (status = 400, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn login_json(
    State(state): State<AppState>,
    caller: Caller,
    Path(provider): Path<String>,
    ApiQuery(params): ApiQuery<LoginParams>,
) -> ApiResult<Json<LoginStarted>> {
    Ok(Json(begin(&state, &caller, &provider, params).await?))
}

/// `GET /auth/{provider}/callback`: where the provider sends the browser back.
#[utoipa::path(operation_id = "loginCallback", get, path = "/auth/{provider}/callback", tag = "auth",
    params(("provider" = String, Path), CallbackParams),
    responses((status = 200, description = "a page saying the account is connected"),
        (status = 302, description = "to the app's redirect_uri, with `connected=<provider>`"),
        (status = 400, description = "a missing, reused, expired or mismatched state, or a declined consent (an HTML page)"),
        (status = 502, description = "the provider refused the code (an HTML page)")))]
pub async fn callback(
    State(state): State<AppState>,
    Path(path_provider): Path<String>,
    headers: axum::http::HeaderMap,
    ApiQuery(params): ApiQuery<CallbackParams>,
) -> Response {
    let sent = params
        .state
        .as_deref()
        .and_then(|s| sent_binding(&headers, s));
    let mut response = finish_callback(&state, &path_provider, params, sent.clone()).await;
    // The binding is used up with the login, whatever came of it.
    if let Some((name, _)) = sent
        && let Ok(v) = clear_cookie(&state, &name).parse()
    {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

async fn finish_callback(
    state: &AppState,
    path_provider: &str,
    params: CallbackParams,
    sent: Option<(String, String)>,
) -> Response {
    let provider = provider_id(path_provider).to_string();
    let Some(manager) = state.tokens.clone() else {
        return page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Sign-in is unavailable",
            "This server can't store credentials: the operator must set P8_ENCRYPTION_KEY.",
        );
    };
    let callback = Callback {
        state: params.state,
        code: params.code,
        error: params.error,
        binding: sent.map(|(_, value)| value),
    };
    let app = state.app();
    let finished = web::finish(&manager, &provider, |id| app.oauth_client(id), callback).await;
    let login = match finished {
        Ok(login) => login,
        Err(e) => {
            let status = if e.is_bad_request() {
                StatusCode::BAD_REQUEST
            } else {
                tracing::warn!(%provider, "a browser login failed: {e}");
                StatusCode::BAD_GATEWAY
            };
            return page(status, "Sign-in failed", &e.to_string());
        }
    };
    tracing::info!(%provider, user = %login.user, "connected an account in the browser");
    let mut note = String::new();
    if login.sync_files {
        match default_config(state, &login).await {
            Ok(id) => note = format!(" Files sync into config {id}."),
            Err(e) => note = format!(" The default sync config was not created: {e}"),
        }
    }
    if !login.has_refresh_token {
        note.push_str(" The provider granted no offline access, so this connection stops working when its access token expires.");
    }
    if let Some(target) = login.app_redirect {
        // Checked when the login started; checked again in case the operator narrowed it.
        if state.settings.check_redirect(&target).is_ok()
            && let Ok(mut url) = url::Url::parse(&target)
        {
            url.query_pairs_mut().append_pair("connected", &provider);
            return Redirect::to(url.as_str()).into_response();
        }
    }
    let account = login
        .account
        .map(|a| format!(" as {a}"))
        .unwrap_or_default();
    page(
        StatusCode::OK,
        "Connected",
        &format!("Connected {provider}{account}. You can close this tab.{note}"),
    )
}

/// The default config of the account a login with `sync_files=true` connected.
async fn default_config(
    state: &AppState,
    login: &WebLogin,
) -> Result<crate::store::ids::ConfigId, String> {
    state
        .app()
        .default_config(
            login.user,
            &login.provider,
            login.credential_id,
            &login.label,
        )
        .await
        .map(|c| c.id)
        .map_err(|e| e.to_string())
}

/// A small HTML page for the person in the browser.
fn page(status: StatusCode, title: &str, message: &str) -> Response {
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>p8sync: {t}</title></head><body><h1>{t}</h1><p>{m}</p></body></html>",
        t = escape(title),
        m = escape(message)
    );
    let mut response = (status, Html(body)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, "no-store".parse().expect("static"));
    response
}
