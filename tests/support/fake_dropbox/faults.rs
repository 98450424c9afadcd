//! Injected faults, Dropbox's error bodies, and turning a reply into an HTTP response.

use super::{Fault, Target};
use crate::fake_common::faults::Injector;
use axum::response::Response;
use serde_json::{Value, json};

/// What a request was, for counting and for matching fault targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    ListFolder,
    Continue,
    LatestCursor,
    Download,
    CurrentAccount,
    TokenCode,
    TokenRefresh,
    TokenOther,
    Authorize,
}

impl Kind {
    fn is_api(self) -> bool {
        !matches!(
            self,
            Kind::TokenCode | Kind::TokenRefresh | Kind::TokenOther | Kind::Authorize
        )
    }

    fn hit_by(self, t: Target) -> bool {
        match t {
            Target::AnyApi => self.is_api(),
            Target::ListFolder => self == Kind::ListFolder,
            Target::Continue => self == Kind::Continue,
            Target::LatestCursor => self == Kind::LatestCursor,
            Target::Download => self == Kind::Download,
            Target::Token => matches!(
                self,
                Kind::TokenCode | Kind::TokenRefresh | Kind::TokenOther
            ),
        }
    }

    pub(crate) fn count(self, c: &mut super::Counts) {
        if self.is_api() {
            c.total_api += 1;
        }
        let slot = match self {
            Kind::ListFolder => &mut c.list_folder,
            Kind::Continue => &mut c.list_continue,
            Kind::LatestCursor => &mut c.latest_cursor,
            Kind::Download => &mut c.download,
            Kind::CurrentAccount => &mut c.current_account,
            Kind::TokenCode => &mut c.token_code,
            Kind::TokenRefresh => &mut c.token_refresh,
            Kind::TokenOther => &mut c.token_other,
            Kind::Authorize => &mut c.authorize,
        };
        *slot += 1;
    }
}

/// Count this request against every rule for its kind; the first rule that fires wins.
pub(crate) fn pick(rules: &mut Injector<Target, Fault>, kind: Kind) -> Option<Fault> {
    rules.pick(|t| kind.hit_by(t))
}

pub(crate) use crate::fake_common::reply::Reply;

/// A JSON reply as Dropbox does sends it.
pub(crate) fn json_reply(status: u16, v: &Value) -> Reply {
    Reply::bytes(
        status,
        "application/json",
        serde_json::to_vec(v).expect("json"),
    )
}

/// A 409 endpoint error: `error_summary` plus the nested `.tag` objects of `tags`.
pub(crate) fn endpoint_error(tags: &[&str]) -> Reply {
    let mut error = json!({});
    for (i, tag) in tags.iter().enumerate().rev() {
        let mut node = json!({ ".tag": tag });
        if i + 1 < tags.len() {
            node[*tag] = error;
        }
        error = node;
    }
    let summary = format!("{}/..", tags.join("/"));
    json_reply(409, &json!({"error_summary": summary, "error": error}))
}

/// 400 with Dropbox's plain-text explanation of a bad request.
pub(crate) fn bad_request(endpoint: &str, detail: &str) -> Reply {
    Reply::bytes(
        400,
        "text/plain; charset=utf-8",
        format!("Error in call to API function \"{endpoint}\": {detail}"),
    )
}

/// 401 with the token error (`invalid_access_token`, `expired_access_token`).
pub(crate) fn auth_error(tag: &str) -> Reply {
    json_reply(
        401,
        &json!({"error_summary": format!("{tag}/.."), "error": {".tag": tag}}),
    )
    .header(
        "www-authenticate",
        format!("Bearer realm=\"Dropbox-API\", error=\"{tag}\""),
    )
}

/// The reply an error fault produces, if it is one.
pub(crate) fn fault_reply(f: &Fault) -> Option<Reply> {
    Some(match f {
        Fault::RateLimit429 { retry_after } => json_reply(
            429,
            &json!({
                "error_summary": "too_many_requests/..",
                "error": {"reason": {".tag": "too_many_requests"}, "retry_after": retry_after},
            }),
        )
        .header("retry-after", retry_after.to_string()),
        Fault::Status500 => Reply::bytes(500, "text/plain; charset=utf-8", "Internal Server Error"),
        Fault::Status503 => Reply::bytes(503, "text/plain; charset=utf-8", "Service Unavailable"),
        Fault::Reset => endpoint_error(&["reset"]),
        Fault::Slow(_) => return None,
    })
}

/// Send `reply`, late if the fault says so.
pub(crate) async fn finish(reply: Reply, fault: Option<Fault>) -> Response {
    if let Some(Fault::Slow(d)) = fault {
        tokio::time::sleep(d).await;
    }
    reply.into_response()
}
