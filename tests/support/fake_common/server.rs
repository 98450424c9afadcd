//! Serving a fake's router on a free port of 127.0.0.1 for as long as the fake lives.

use axum::Router;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A bound port, known before the app that will serve it is built (fakes put it in URLs).
pub struct Port {
    listener: TcpListener,
    /// The port number.
    pub port: u16,
}

impl Port {
    /// Bind a free port of 127.0.0.1.
    pub async fn bind() -> Port {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding a port for a fake");
        let port = listener.local_addr().expect("local address").port();
        Port { listener, port }
    }

    /// `http://127.0.0.1:PORT`
    pub fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Serve `app` here until the returned handle is dropped.
    pub fn serve(self, app: Router) -> Served {
        let listener = self.listener;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Served {
            port: self.port,
            task,
        }
    }
}

/// A running server; dropping it stops it.
pub struct Served {
    /// The port it listens on.
    pub port: u16,
    task: JoinHandle<()>,
}

impl Served {
    /// `http://127.0.0.1:PORT`
    pub fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.task.abort();
    }
}
