//! `GET /providers`: what can be synced from, and what each provider's config takes.

use super::AppState;
use super::auth::Caller;
use axum::Json;
use axum::extract::State;

/// A provider's configuration key.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ProviderKey {
    /// The key in `provider_config`.
    pub name: String,
    /// What it means.
    pub description: String,
    /// Whether a config must set it.
    pub required: bool,
}

/// An installed provider.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ProviderView {
    /// The id configs refer to.
    pub id: String,
    /// For people.
    pub display_name: String,
    /// The component's own version.
    pub version: String,
    /// What it syncs.
    pub description: String,
    /// `none`, `oauth2`, `bearer-token` or `basic`.
    pub auth: String,
    /// Where to send the browser to connect an account (OAuth2 providers).
    pub login_path: Option<String>,
    /// Optional abilities (`changes-feed`, `local-root`, `ranged-fetch`).
    pub capabilities: Vec<String>,
    /// The keys of `provider_config`.
    pub config_keys: Vec<ProviderKey>,
    /// Hosts it calls with the user's credential.
    pub api_hosts: Vec<String>,
}

/// `GET /providers`
#[utoipa::path(operation_id = "listProviders", get, path = "/providers", tag = "providers",
    responses((status = 200, body = [ProviderView]), (status = 401, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(State(state): State<AppState>, _caller: Caller) -> Json<Vec<ProviderView>> {
    use crate::runtime::types::{AuthMethod, Capability};
    let views = state
        .registry
        .providers()
        .map(|p| {
            let info = p.info();
            let auth = match &info.auth {
                AuthMethod::None => "none",
                AuthMethod::Oauth2(_) => "oauth2",
                AuthMethod::BearerToken => "bearer-token",
                AuthMethod::Basic => "basic",
            };
            let mut config_keys: Vec<ProviderKey> = info
                .config_keys
                .iter()
                .map(|k| ProviderKey {
                    name: k.name.clone(),
                    description: k.description.clone(),
                    required: k.required,
                })
                .collect();
            if p.has(Capability::LocalRoot) {
                config_keys.push(ProviderKey {
                    name: "root".into(),
                    description: "the folder to sync (inside the folders the operator allows)"
                        .into(),
                    required: true,
                });
            }
            ProviderView {
                id: info.id.clone(),
                display_name: info.display_name.clone(),
                version: info.version.clone(),
                description: info.description.clone(),
                auth: auth.into(),
                login_path: matches!(info.auth, AuthMethod::Oauth2(_))
                    .then(|| format!("/auth/{}/login", info.id)),
                capabilities: info
                    .capabilities
                    .iter()
                    .map(|c| {
                        match c {
                            Capability::ChangesFeed => "changes-feed",
                            Capability::LocalRoot => "local-root",
                            Capability::RangedFetch => "ranged-fetch",
                        }
                        .to_string()
                    })
                    .collect(),
                config_keys,
                api_hosts: info.api_hosts.clone(),
            }
        })
        .collect();
    Json(views)
}
