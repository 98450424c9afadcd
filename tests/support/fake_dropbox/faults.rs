//! Injected faults, Dropbox's error bodies, and turning a reply into an HTTP response.

use super::{Fault, Target};
use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode};
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

/// An injected fault and how often it fires.
pub(crate) struct Rule {
    pub target: Target,
    pub fault: Fault,
    pub every_nth: u32,
    pub limit: Option<u32>,
    pub matched: u32,
    pub fired: u32,
}

/// Count this request against every rule for its kind; the first rule that fires wins.
pub(crate) fn pick(rules: &mut [Rule], kind: Kind) -> Option<Fault> {
    let mut chosen = None;
    for r in rules.iter_mut().filter(|r| kind.hit_by(r.target)) {
        r.matched += 1;
        let due = r.matched % r.every_nth.max(1) == 0;
        let allowed = r.limit.is_none_or(|l| r.fired < l);
        if chosen.is_none() && due && allowed {
            r.fired += 1;
            chosen = Some(r.fault.clone());
        }
    }
    chosen
}

/// A response, built while the state is locked and sent after it is released.
pub(crate) struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Bytes,
}

impl Reply {
    pub(crate) fn json(status: u16, v: &Value) -> Reply {
        Reply {
            status,
            headers: vec![("content-type", "application/json".into())],
            body: Bytes::from(serde_json::to_vec(v).expect("json")),
        }
    }

    pub(crate) fn bytes(status: u16, content_type: &str, body: impl Into<Bytes>) -> Reply {
        Reply {
            status,
            headers: vec![("content-type", content_type.to_string())],
            body: body.into(),
        }
    }

    pub(crate) fn header(mut self, name: &'static str, value: impl Into<String>) -> Reply {
        self.headers.push((name, value.into()));
        self
    }
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
    Reply::json(409, &json!({"error_summary": summary, "error": error}))
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
    Reply::json(
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
        Fault::RateLimit429 { retry_after } => Reply::json(
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
    let mut resp = Response::new(Body::from(reply.body));
    *resp.status_mut() = StatusCode::from_u16(reply.status).expect("status");
    let h = resp.headers_mut();
    for (name, value) in reply.headers {
        h.append(name, HeaderValue::from_str(&value).expect("header value"));
    }
    resp
}
