//! The web console of `p8sync serve`, at `/`: server-rendered pages over the same application
//! layer as the API and the CLI, from the same binary (its one stylesheet is embedded). A
//! person signs in with an API key, which is exchanged for a session cookie
//! ([`crate::api::session`]); every form that changes something carries the session's CSRF
//! token. Pages are plain HTML: usable with the keyboard, readable at 375 px.

mod accounts;
mod admin;
mod configs;
pub(crate) mod html;
mod pages;

use crate::api::AppState;
use axum::Router;
use axum::routing::get;

/// The console's routes, merged into the API's router.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(pages::overview))
        .route("/signin", get(pages::signin_form).post(pages::signin))
        .route("/signout", axum::routing::post(pages::signout))
        .route("/admin", get(admin::admin_page))
        .route("/admin/key/new", axum::routing::post(admin::create_key))
        .route(
            "/admin/key/{id}/revoke",
            axum::routing::post(admin::revoke_key),
        )
        .route("/connect", get(accounts::connect_page))
        .route(
            "/connect/{provider}",
            axum::routing::post(accounts::connect),
        )
        .route(
            "/accounts/{id}/rename",
            axum::routing::post(accounts::rename),
        )
        .route(
            "/accounts/{id}/disconnect",
            axum::routing::post(accounts::disconnect),
        )
        .route("/configs/{id}", get(configs::config_page))
        .route("/configs/{id}/run", axum::routing::post(configs::run_now))
        .route("/runs/{id}/cancel", axum::routing::post(configs::cancel))
        .route("/console/app.css", get(pages::stylesheet))
        .route("/console/app.js", get(pages::script))
}
