//! A minimal headless-Chromium driver for tests, spoken to over WebDriver (chromedriver) with
//! the HTTP client the tests already have, so no browser-automation crate is needed.
//! `scripts/install-browser.sh` installs Chromium and chromedriver (scripts/test.sh runs it).

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The W3C WebDriver key under which an element reference is returned.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A headless Chromium with its own chromedriver and its own empty profile. Dropping it ends
/// the session and every process it started, even when a test panics.
pub struct Browser {
    http: reqwest::Client,
    /// `http://127.0.0.1:{port}/session/{id}`: every command is under it.
    session_url: String,
    /// Held only for its Drop, which ends the session and the processes.
    _driver: Driver,
}

impl Browser {
    /// Start chromedriver (`/usr/bin/chromedriver`, or `$CHROMEDRIVER`) on a free port and open
    /// a session in headless Chromium (`/usr/bin/chromium`, or `$CHROMIUM`). Panics, with the
    /// tail of chromedriver's log, if either is missing or does not start.
    pub async fn start() -> Browser {
        let chromedriver = binary("CHROMEDRIVER", "/usr/bin/chromedriver");
        let chromium = binary("CHROMIUM", "/usr/bin/chromium");
        let dir = tempfile::tempdir().expect("temp dir for the browser");
        let profile = dir.path().join("profile");
        let log = dir.path().join("chromedriver.log");
        // Ask the OS for a free port, then hand it to chromedriver: the tiny window in which
        // another process could take it is acceptable for tests.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("finding a free port for chromedriver")
            .port();
        let child = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", chromedriver.display()));
        // From here on the guard owns the processes, so a panic below still cleans up.
        let mut driver = Driver {
            child,
            port,
            session: None,
            profile: profile.clone(),
            log,
            _dir: dir,
        };
        let http = reqwest::Client::builder()
            // A proxy from the environment must never see requests to our own chromedriver.
            .no_proxy()
            // Long enough for a slow page load, short enough that a wedged driver fails the test.
            .timeout(Duration::from_secs(60))
            .build()
            .expect("HTTP client for chromedriver");
        let base = format!("http://127.0.0.1:{port}");
        driver.wait_ready(&http, &base).await;

        let args = [
            // The new headless mode is the real browser, not the old separate implementation.
            "--headless=new".to_string(),
            // Tests run as root in containers, where Chromium's sandbox cannot start.
            "--no-sandbox".to_string(),
            "--disable-gpu".to_string(),
            // /dev/shm is tiny in containers; Chromium crashes tabs when it runs out.
            "--disable-dev-shm-usage".to_string(),
            "--window-size=1200,900".to_string(),
            // Our own profile: no state shared between browsers, and a unique string that lets
            // Drop find any process of this browser that outlives chromedriver.
            format!("--user-data-dir={}", profile.display()),
        ];
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": args},
        }}});
        let created = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await;
        let body: Value = match created {
            Ok(resp) => resp.json().await.unwrap_or(Value::Null),
            Err(e) => json!({"value": {"error": e.to_string()}}),
        };
        let Some(id) = body["value"]["sessionId"].as_str() else {
            panic!(
                "chromedriver could not start Chromium: {}\n--- chromedriver log ---\n{}",
                body["value"],
                driver.log_tail()
            );
        };
        driver.session = Some(id.to_string());
        Browser {
            session_url: format!("{base}/session/{id}"),
            http,
            _driver: driver,
        }
    }

    /// Add these headers to every request the page makes from now on, navigations and
    /// redirects included (e.g. `Authorization: Bearer …`, which a plain navigation cannot send).
    pub async fn set_extra_headers(&self, headers: &[(&str, &str)]) {
        let headers: serde_json::Map<String, Value> = headers
            .iter()
            .map(|(k, v)| (k.to_string(), Value::from(*v)))
            .collect();
        // WebDriver has no such command; chromedriver passes DevTools Protocol calls through.
        self.cdp("Network.enable", json!({})).await;
        self.cdp("Network.setExtraHTTPHeaders", json!({"headers": headers}))
            .await;
    }

    /// Navigate to `url` and wait for the page to load.
    pub async fn goto(&self, url: &str) {
        self.cmd(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    /// The URL of the current page (after any redirects).
    pub async fn current_url(&self) -> String {
        as_string(self.cmd(reqwest::Method::GET, "/url", None).await)
    }

    /// The visible text of the current page (`document.body.innerText`).
    pub async fn page_text(&self) -> String {
        as_string(self.execute(PAGE_TEXT).await)
    }

    /// The HTML of the current page, as the browser serializes it now.
    pub async fn page_source(&self) -> String {
        as_string(self.cmd(reqwest::Method::GET, "/source", None).await)
    }

    /// Type `text` into the first element matching a CSS selector. Panics if there is none.
    pub async fn fill(&self, css_selector: &str, text: &str) {
        let id = self.element(css_selector).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    async fn element(&self, css_selector: &str) -> String {
        let found = self
            .cmd(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css_selector})),
            )
            .await;
        match found[ELEMENT_KEY].as_str() {
            Some(id) => id.to_string(),
            None => panic!("finding {css_selector:?}: unexpected answer {found}"),
        }
    }

    /// Click the first element matching a CSS selector. Panics if there is none.
    pub async fn click(&self, css_selector: &str) {
        let id = self.element(css_selector).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{id}/click"),
            Some(json!({})),
        )
        .await;
    }

    /// Poll the current URL and page text every 100 ms until `done(url, text)` holds, and
    /// return them. Panics with the last URL and text seen if `timeout` passes first.
    pub async fn wait_until(
        &self,
        timeout: Duration,
        mut done: impl FnMut(&str, &str) -> bool,
    ) -> (String, String) {
        let deadline = Instant::now() + timeout;
        let (mut url, mut text) = (String::new(), String::new());
        loop {
            // A poll may land in the middle of a navigation, when the driver answers with an
            // error: that is not a failure, just a reason to look again.
            let seen = async {
                let url = as_string(self.try_cmd(reqwest::Method::GET, "/url", None).await?);
                let text = as_string(self.try_execute(PAGE_TEXT).await?);
                Ok::<_, String>((url, text))
            }
            .await;
            let error = match seen {
                Ok((u, t)) => {
                    if done(&u, &t) {
                        return (u, t);
                    }
                    (url, text) = (u, t);
                    None
                }
                Err(e) => Some(e),
            };
            if Instant::now() >= deadline {
                panic!(
                    "browser: condition not met after {timeout:?}\nlast url: {url}\n\
                     last error: {}\nlast text:\n{text}",
                    error.as_deref().unwrap_or("none")
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn execute(&self, script: &str) -> Value {
        self.try_execute(script)
            .await
            .unwrap_or_else(|e| panic!("browser: {e}"))
    }

    async fn try_execute(&self, script: &str) -> Result<Value, String> {
        self.try_cmd(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
        .await
    }

    async fn cdp(&self, cmd: &str, params: Value) -> Value {
        self.cmd(
            reqwest::Method::POST,
            "/goog/cdp/execute",
            Some(json!({"cmd": cmd, "params": params})),
        )
        .await
    }

    async fn cmd(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        self.try_cmd(method, path, body)
            .await
            .unwrap_or_else(|e| panic!("browser: {e}"))
    }

    /// One WebDriver command under the session; its `value`, or the driver's error as text.
    async fn try_cmd(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.session_url));
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| format!("{method} {path}: {e}"))?;
        let status = resp.status();
        let mut body: Value = resp
            .json()
            .await
            .map_err(|e| format!("{method} {path}: {status}, unreadable answer: {e}"))?;
        if !status.is_success() {
            let v = &body["value"];
            return Err(format!(
                "{method} {path}: {status} {}: {}",
                v["error"].as_str().unwrap_or("?"),
                v["message"].as_str().unwrap_or("")
            ));
        }
        Ok(body["value"].take())
    }
}

const PAGE_TEXT: &str = "return document.body ? document.body.innerText : ''";

fn as_string(v: Value) -> String {
    match v {
        Value::String(s) => s,
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn binary(env: &str, default: &str) -> PathBuf {
    let path = std::env::var_os(env).map_or_else(|| PathBuf::from(default), PathBuf::from);
    assert!(
        path.is_file(),
        "{} is missing (set ${env} to override): install it with scripts/install-browser.sh \
         (scripts/test.sh runs it)",
        path.display()
    );
    path
}

/// Owns chromedriver and the browser's files; its Drop is what guarantees no process outlives
/// the test. It is separate from `Browser` so that it already cleans up if `start` panics.
struct Driver {
    child: Child,
    port: u16,
    session: Option<String>,
    profile: PathBuf,
    log: PathBuf,
    /// Holds the profile and the log; removed after the processes are gone (field drops run
    /// after `Drop::drop`).
    _dir: tempfile::TempDir,
}

impl Driver {
    async fn wait_ready(&mut self, http: &reqwest::Client, base: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "chromedriver exited at start ({status})\n--- chromedriver log ---\n{}",
                    self.log_tail()
                );
            }
            let ready = async {
                let v: Value = http
                    .get(format!("{base}/status"))
                    .timeout(Duration::from_secs(2))
                    .send()
                    .await
                    .ok()?
                    .json()
                    .await
                    .ok()?;
                v["value"]["ready"].as_bool()
            };
            if ready.await == Some(true) {
                return;
            }
            if Instant::now() >= deadline {
                panic!(
                    "chromedriver on port {} not ready after 20s\n--- chromedriver log ---\n{}",
                    self.port,
                    self.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let start = log.len().saturating_sub(4000);
        let start = (start..log.len())
            .find(|&i| log.is_char_boundary(i))
            .unwrap_or(log.len());
        log[start..].to_string()
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Ending the session is what makes chromedriver close Chromium: killing chromedriver
        // alone leaves Chromium running. Drop may run inside a tokio runtime (where blocking
        // reqwest would panic) and reqwest's blocking client is not enabled anyway, so this is
        // one plain HTTP/1.1 request on a std socket, with timeouts so it cannot hang.
        if let Some(session) = &self.session {
            delete_session(self.port, session);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Whatever survived (session never created, or chromedriver too wedged to quit it).
        kill_processes_using(&self.profile);
    }
}

fn delete_session(port: u16, session: &str) {
    use std::io::{Read, Write};
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut conn) = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
        return;
    };
    let _ = conn.set_write_timeout(Some(Duration::from_secs(2)));
    // chromedriver answers once Chromium has quit, which normally takes well under a second.
    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
    let request = format!(
        "DELETE /session/{session} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
         Content-Length: 0\r\nConnection: close\r\n\r\n"
    );
    if conn.write_all(request.as_bytes()).is_err() {
        return;
    }
    // Read until the whole answer is in: chromedriver ignores `Connection: close` and keeps
    // the socket open, so waiting for end-of-file would always cost the full read timeout.
    let mut answer = Vec::new();
    let mut chunk = [0u8; 1024];
    while let Ok(n @ 1..) = conn.read(&mut chunk) {
        answer.extend_from_slice(&chunk[..n]);
        if http_answer_complete(&answer) {
            break;
        }
    }
}

/// Whether `answer` holds an HTTP response's headers and all of the body they announce.
fn http_answer_complete(answer: &[u8]) -> bool {
    let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let headers = String::from_utf8_lossy(&answer[..end]).to_ascii_lowercase();
    let length = headers
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    answer.len() >= end + 4 + length
}

/// SIGKILL every process whose command line names this profile: they are this browser's
/// Chromium processes and no one else's (the profile is a fresh temp dir).
fn kill_processes_using(profile: &Path) {
    let marker = format!("--user-data-dir={}", profile.display());
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return;
    };
    let pids: Vec<String> = procs
        .flatten()
        .filter_map(|e| {
            let pid = e.file_name().into_string().ok()?;
            pid.parse::<u32>().ok()?;
            let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
            cmdline
                .split(|&b| b == 0)
                .any(|arg| arg == marker.as_bytes())
                .then_some(pid)
        })
        .collect();
    if !pids.is_empty() {
        // std has no kill(2) for arbitrary pids and the tests have no libc dependency.
        let _ = Command::new("kill")
            .arg("-KILL")
            .args(&pids)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}
