//! Writing the console's HTML: escaping, the page frame, and the headers every page carries.

use crate::api::session::Session;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// `text` safe inside HTML text and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A whole page: the header (with the navigation and the sign-out button for a signed-in
/// browser), then `body` as the main content.
pub fn page(status: StatusCode, title: &str, session: Option<&Session>, body: &str) -> Response {
    let nav = match session {
        Some(s) => format!(
            r#"<nav aria-label="Main"><a href="/">Overview</a><a href="/connect">Connect an account</a>{admin}</nav>
<span class="muted">{who}</span>
<form class="inline" method="post" action="/signout"><input type="hidden" name="csrf" value="{csrf}"><button class="link" type="submit">Sign out</button></form>"#,
            who = escape(&s.key.name),
            admin = if s.key.is_admin {
                r#"<a href="/admin">Admin</a>"#
            } else {
                ""
            },
            csrf = escape(&s.csrf),
        ),
        None => String::new(),
    };
    let html = format!(
        r##"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · p8sync</title>
<link rel="stylesheet" href="/console/app.css">
</head><body>
<a class="skip" href="#main">Skip to the content</a>
<header><a class="brand" href="/">p8sync</a>{nav}</header>
<main id="main">
<h1>{title}</h1>
{body}
</main></body></html>"##,
        title = escape(title),
    );
    let mut response = (status, html).into_response();
    secure(&mut response, "text/html; charset=utf-8");
    response
}

/// The headers every console response carries: no framing, no sniffing, nothing loaded from
/// elsewhere, nothing cached (pages show private data), no referrer beyond this origin.
pub fn secure(response: &mut Response, content_type: &'static str) {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        // No `form-action`: the sign-in to a provider is a form whose answer redirects to the
        // provider's consent page, which `form-action 'self'` would block in Chromium.
        HeaderValue::from_static("default-src 'self'; frame-ancestors 'none'; base-uri 'none'"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// A redirect (303: the next request is a GET), with `cookies` set on the way.
pub fn see_other(to: &str, cookies: &[String]) -> Response {
    let mut response =
        (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_string())]).into_response();
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    secure(&mut response, "text/plain; charset=utf-8");
    response
}

/// A short relative time, for people: "3 min ago", "in 2 h".
pub fn when(at: Option<chrono::DateTime<chrono::Utc>>) -> String {
    let Some(at) = at else {
        return "—".into();
    };
    let secs = (at - chrono::Utc::now()).num_seconds();
    let (n, unit) = match secs.unsigned_abs() {
        s if s < 60 => (s, "s"),
        s if s < 3600 => (s / 60, "min"),
        s if s < 86_400 => (s / 3600, "h"),
        s => (s / 86_400, "d"),
    };
    let text = if secs < 0 {
        format!("{n} {unit} ago")
    } else {
        format!("in {n} {unit}")
    };
    format!(
        r#"<time datetime="{}">{text}</time>"#,
        at.format("%Y-%m-%dT%H:%M:%SZ")
    )
}
