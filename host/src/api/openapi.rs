//! `GET /openapi.json`: the API described from the handlers' own annotations, so the document
//! can't drift from the routes.

use axum::Json;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

/// The OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    info(title = "p8sync", description = "Sync files from storage providers into object storage."),
    paths(
        super::healthz, super::readyz, super::metrics,
        super::providers::list,
        super::configs::list, super::configs::create, super::configs::get,
        super::configs::patch, super::configs::delete, super::configs::run, super::configs::next_runs,
        super::runs::logs, super::runs::log, super::runs::cancel, super::runs::events, super::runs::files, super::runs::file,
        super::ingest::jobs, super::ingest::requeue, super::ingest::queue,
        super::credentials::list, super::credentials::revoke, super::credentials::save,
        super::credentials::account, super::credentials::rename, super::credentials::delete_account,
        super::users::list, super::users::create, super::users::revoke,
        super::login::login, super::login::login_json, super::login::callback,
    ),
    components(schemas(super::error::ErrorBody, super::error::ErrorDetail)),
    modifiers(&BearerKeys),
)]
pub struct ApiDoc;

struct BearerKeys;

impl utoipa::Modify for BearerKeys {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("an API key from `p8sync user create`"))
                    .build(),
            ),
        );
    }
}

/// `GET /openapi.json`
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
