//! Injected faults, the Google error envelope, and turning a reply into an HTTP response
//! (which is where a slow or dropped response happens).

use super::{Fault, Target};
use crate::fake_common::faults::Injector;
use crate::fake_common::reply::respond;
use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use serde_json::{Value, json};
use std::time::Duration;

/// What a request was, for counting and for matching fault targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    List,
    Get,
    Media,
    Export,
    ExportLink,
    Changes,
    StartPageToken,
    Drives,
    About,
    TokenCode,
    TokenRefresh,
    TokenOther,
    Authorize,
    Revoke,
    Userinfo,
}

impl Kind {
    fn is_api(self) -> bool {
        !matches!(
            self,
            Kind::TokenCode
                | Kind::TokenRefresh
                | Kind::TokenOther
                | Kind::Authorize
                | Kind::Revoke
                | Kind::Userinfo
        )
    }

    fn hit_by(self, t: Target) -> bool {
        match t {
            Target::AnyApi => self.is_api(),
            Target::List => self == Kind::List,
            Target::Get => self == Kind::Get,
            Target::Media => self == Kind::Media,
            Target::Export => self == Kind::Export,
            Target::ExportLink => self == Kind::ExportLink,
            Target::Changes => self == Kind::Changes,
            Target::StartPageToken => self == Kind::StartPageToken,
            Target::Drives => self == Kind::Drives,
            Target::About => self == Kind::About,
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
            Kind::List => &mut c.list,
            Kind::Get => &mut c.get,
            Kind::Media => &mut c.media,
            Kind::Export => &mut c.export,
            Kind::ExportLink => &mut c.export_link,
            Kind::Changes => &mut c.changes,
            Kind::StartPageToken => &mut c.start_page_token,
            Kind::Drives => &mut c.drives,
            Kind::About => &mut c.about,
            Kind::TokenCode => &mut c.token_code,
            Kind::TokenRefresh => &mut c.token_refresh,
            Kind::TokenOther => &mut c.token_other,
            Kind::Authorize => &mut c.authorize,
            Kind::Revoke => &mut c.revoke,
            Kind::Userinfo => &mut c.userinfo,
        };
        *slot += 1;
    }
}

/// Count this request against every rule for its kind; the first rule that fires wins.
pub(crate) fn pick(rules: &mut Injector<Target, Fault>, kind: Kind) -> Option<Fault> {
    rules.pick(|t| kind.hit_by(t))
}

pub(crate) use crate::fake_common::reply::Reply;

/// A JSON reply as Google does (pretty-printed) sends it.
pub(crate) fn json_reply(status: u16, v: &Value) -> Reply {
    Reply::bytes(
        status,
        "application/json; charset=UTF-8",
        serde_json::to_vec_pretty(v).expect("json"),
    )
}

fn status_name(code: u16) -> &'static str {
    match code {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        416 => "OUT_OF_RANGE",
        429 => "RESOURCE_EXHAUSTED",
        500 => "INTERNAL",
        503 => "UNAVAILABLE",
        _ => "UNKNOWN",
    }
}

/// The Google error envelope with one error item.
pub(crate) fn google_error(code: u16, domain: &str, reason: &str, message: &str) -> Reply {
    google_error_at(code, domain, reason, message, None)
}

/// The Google error envelope, naming the parameter or header at fault.
pub(crate) fn google_error_at(
    code: u16,
    domain: &str,
    reason: &str,
    message: &str,
    location: Option<(&str, &str)>,
) -> Reply {
    let mut item = json!({"domain": domain, "reason": reason, "message": message});
    if let Some((kind, name)) = location {
        item["locationType"] = json!(kind);
        item["location"] = json!(name);
    }
    json_reply(
        code,
        &json!({"error": {
            "code": code,
            "message": message,
            "errors": [item],
            "status": status_name(code),
        }}),
    )
}

/// 400 `invalid` for a bad parameter value.
pub(crate) fn invalid_param(param: &str, detail: &str) -> Reply {
    let message = if detail.is_empty() {
        "Invalid Value".to_string()
    } else {
        format!("Invalid Value: {detail}")
    };
    google_error_at(
        400,
        "global",
        "invalid",
        &message,
        Some(("parameter", param)),
    )
}

pub(crate) fn not_found(id: &str) -> Reply {
    let message = format!("File not found: {id}.");
    google_error_at(
        404,
        "global",
        "notFound",
        &message,
        Some(("parameter", "fileId")),
    )
}

pub(crate) fn auth_error() -> Reply {
    google_error_at(
        401,
        "global",
        "authError",
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
        Some(("header", "Authorization")),
    )
    .header("www-authenticate", "Bearer realm=\"https://accounts.google.com/\", error=\"invalid_token\"")
}

/// The reply an error fault produces, if it is one.
pub(crate) fn fault_reply(f: &Fault) -> Option<Reply> {
    let (reply, retry_after) = match f {
        Fault::RateLimit429 { retry_after } => (
            google_error(
                429,
                "usageLimits",
                "rateLimitExceeded",
                "Rate Limit Exceeded",
            ),
            retry_after,
        ),
        Fault::RateLimit403 { retry_after } => (
            google_error(
                403,
                "usageLimits",
                "userRateLimitExceeded",
                "User Rate Limit Exceeded",
            ),
            retry_after,
        ),
        Fault::Status500 => {
            return Some(google_error(500, "global", "backendError", "Backend Error"));
        }
        Fault::Status503 => {
            return Some(google_error(
                503,
                "global",
                "backendError",
                "The service is currently unavailable.",
            ));
        }
        Fault::Slow(_) | Fault::DropMidDownload => return None,
    };
    Some(match retry_after {
        Some(s) => reply.header("retry-after", s.to_string()),
        None => reply,
    })
}

/// Send `reply`, late or cut short as the fault says.
pub(crate) async fn finish(reply: Reply, fault: Option<Fault>) -> Response {
    if let Some(Fault::Slow(d)) = fault {
        tokio::time::sleep(d).await;
    }
    let drop_mid = matches!(fault, Some(Fault::DropMidDownload));
    let full_len = reply.body.len();
    let body = if drop_mid {
        let half = reply.body.slice(..full_len / 2);
        // Pause after the half so hyper flushes it before the error closes the connection.
        let steps = futures::stream::unfold(0u8, move |step| {
            let half = half.clone();
            async move {
                match step {
                    0 => Some((Ok::<Bytes, std::io::Error>(half), 1)),
                    1 => {
                        tokio::time::sleep(Duration::from_millis(30)).await;
                        Some((
                            Err(std::io::Error::other("fake drive: dropped mid-body")),
                            2,
                        ))
                    }
                    _ => None,
                }
            }
        });
        Body::from_stream(steps)
    } else {
        Body::from(reply.body)
    };
    let mut resp = respond(reply.status, reply.headers, body);
    if drop_mid {
        resp.headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(full_len));
    }
    resp
}
