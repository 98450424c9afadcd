//! The access tokens a fake's OAuth server has issued: each lives for a while, and a test can
//! expire them all at once (to see the host refresh).

use std::collections::HashMap;
use std::time::{Duration, Instant};

struct Issued<G> {
    expires_at: Instant,
    expired: bool,
    data: G,
}

/// Issued access tokens, each with what the fake ties to it (`G`, e.g. its grant).
pub struct AccessTokens<G = ()> {
    tokens: HashMap<String, Issued<G>>,
}

impl<G> Default for AccessTokens<G> {
    fn default() -> Self {
        AccessTokens {
            tokens: HashMap::new(),
        }
    }
}

impl<G> AccessTokens<G> {
    /// Record `token` as valid for `lifetime` from now.
    pub fn issue(&mut self, token: String, lifetime: Duration, data: G) {
        let expires_at = Instant::now() + lifetime;
        self.tokens.insert(
            token,
            Issued {
                expires_at,
                expired: false,
                data,
            },
        );
    }

    /// What `token` is tied to, if it was issued here and has not expired.
    pub fn live(&self, token: &str) -> Option<&G> {
        self.tokens
            .get(token)
            .filter(|t| !t.expired && t.expires_at > Instant::now())
            .map(|t| &t.data)
    }

    /// Whether `token` was ever issued here (expired or not).
    pub fn known(&self, token: &str) -> bool {
        self.tokens.contains_key(token)
    }

    /// Expire every token issued so far.
    pub fn expire_all(&mut self) {
        for t in self.tokens.values_mut() {
            t.expired = true;
        }
    }
}
