//! A real WebDAV server for the tests: `rclone serve webdav` (Debian's rclone, installed by
//! scripts/install-rclone.sh), over a folder, with Basic auth.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// `rclone serve webdav` over a folder, with Basic auth. Killed when dropped.
pub struct Rclone {
    child: Option<std::process::Child>,
    port: u16,
    /// The folder it serves.
    pub dir: PathBuf,
}

impl Rclone {
    /// Serve `dir` on a free port, with Basic auth as `user`/`pass`.
    pub fn start(dir: &Path, user: &str, pass: &str) -> Rclone {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Self::start_on(dir, port, user, pass)
    }

    /// Serve `dir` on `port` (to restart a stopped server where it was).
    pub fn start_on(dir: &Path, port: u16, user: &str, pass: &str) -> Rclone {
        let child = std::process::Command::new("rclone")
            .args(["serve", "webdav"])
            .arg(dir)
            .args(["--addr", &format!("127.0.0.1:{port}")])
            .args(["--user", user, "--pass", pass])
            // Changes on disk must show at once, not after the VFS's directory cache expires.
            .args(["--dir-cache-time", "0s", "--poll-interval", "0"])
            .env("RCLONE_CONFIG", dir.with_extension("rclone.conf"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("rclone is needed for the WebDAV tests: run scripts/install-rclone.sh");
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "rclone serve webdav did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Rclone {
            child: Some(child),
            port,
            dir: dir.to_path_buf(),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Kill the server.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Rclone {
    fn drop(&mut self) {
        self.stop();
    }
}
