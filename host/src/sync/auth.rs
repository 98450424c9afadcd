//! The engine's side of credentials: finding the token source for a config (an OAuth grant or
//! a stored Basic/bearer credential), and the rules for calls made with it (one refresh and
//! one retry on an unauthorized answer; no retries once the credential is known dead, which a
//! stored credential is as soon as it is rejected).

use super::SyncError;
use super::retry::RetryPolicy;
use crate::oauth::{OAuthApp, StaticKind, TokenManager};
use crate::runtime::types::{AuthMethod, ProviderError};
use crate::runtime::{CallContext, CallError, CredentialError, CredentialSource, Provider};
use crate::store::SyncConfig;
use std::sync::Arc;

/// Give `cx` the credential a config's syncs use, checked (and refreshed if it is about to
/// expire) before anything is listed, so a dead grant stops the run before it starts; and,
/// for an account on its own server (a user's WebDAV server), that server as the only origin
/// the credential may go to.
pub async fn authorize(
    config: &SyncConfig,
    provider: &Provider,
    tokens: Option<&TokenManager>,
    cx: &mut CallContext,
) -> Result<(), SyncError> {
    cx.credentials = credentials_for(config, provider, tokens).await?;
    let Some(tokens) = tokens.filter(|_| cx.credentials.is_some()) else {
        return Ok(());
    };
    let server = tokens
        .account(config.userid, provider.id(), config.credential_id)
        .await
        .ok()
        .and_then(|account| account.server_url);
    if let Some(url) = server {
        cx.account_server =
            Some(
                provider
                    .account_server(&url)
                    .map_err(|message| SyncError::Credential {
                        config: config.name.clone(),
                        message,
                    })?,
            );
    }
    Ok(())
}

async fn credentials_for(
    config: &SyncConfig,
    provider: &Provider,
    tokens: Option<&TokenManager>,
) -> Result<Option<Arc<dyn CredentialSource>>, SyncError> {
    let stop = |message: String| SyncError::Credential {
        config: config.name.clone(),
        message,
    };
    match &provider.info().auth {
        AuthMethod::None => Ok(None),
        AuthMethod::Oauth2(_) => {
            let tokens = tokens.ok_or_else(|| {
                stop("this provider signs in with OAuth2, but the engine was started without a credential store".into())
            })?;
            let app = OAuthApp::for_provider(provider).map_err(|e| stop(e.to_string()))?;
            let account = tokens
                .account(config.userid, provider.id(), config.credential_id)
                .await
                .map_err(|e| stop(e.to_string()))?;
            let source = tokens
                .source(account, &app)
                .await
                .map_err(|e| stop(e.to_string()))?;
            source
                .authorization()
                .await
                .map_err(|e| stop(e.to_string()))?;
            Ok(Some(source as Arc<dyn CredentialSource>))
        }
        AuthMethod::BearerToken | AuthMethod::Basic => {
            let kind = match provider.info().auth {
                AuthMethod::Basic => StaticKind::Basic,
                _ => StaticKind::Bearer,
            };
            // An engine without a credential store (a library user or a test that hands the
            // provider its API some other way) runs the provider without one, as before stored
            // passwords existed; the p8sync commands always open the store for such providers,
            // and then a missing credential stops the run with the command that sets it.
            let Some(tokens) = tokens else {
                tracing::debug!(
                    provider = provider.id(),
                    "no credential store: running without a stored {} credential",
                    kind.name()
                );
                return Ok(None);
            };
            let source = tokens
                .static_source(config.userid, provider.id(), config.credential_id, kind)
                .await
                .map_err(|e| stop(e.to_string()))?;
            Ok(Some(source as Arc<dyn CredentialSource>))
        }
    }
}

/// The credential failure that ended all hope, if one happened.
pub fn dead(cx: &CallContext) -> Option<CredentialError> {
    cx.credentials.as_ref().and_then(|c| c.fatal())
}

fn unauthorized(e: &CallError) -> bool {
    matches!(e.provider_error(), Some(ProviderError::Unauthorized(_)))
}

/// Run one provider call: transient errors retried with backoff (unless the credential died),
/// and an unauthorized answer met with one token refresh and one retry.
pub async fn call<T, F, Fut>(
    retry: &RetryPolicy,
    cx: &CallContext,
    mut op: F,
) -> Result<T, CallError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, CallError>>,
{
    let mut refreshed = false;
    loop {
        let generation = cx.credentials.as_ref().map(|c| c.generation());
        let result = retry.run_unless(&mut op, || dead(cx).is_some()).await;
        match (result, &cx.credentials, generation) {
            (Err(e), Some(source), Some(generation)) if !refreshed && unauthorized(&e) => {
                refreshed = true;
                if let Err(refresh) = source.rejected(generation).await {
                    tracing::warn!("{e}; and the token could not be refreshed: {refresh}");
                    return Err(e);
                }
            }
            (result, _, _) => return result,
        }
    }
}
