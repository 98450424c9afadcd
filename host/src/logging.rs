//! Log output on stderr: plain lines for people at a terminal, one JSON object per line for
//! log collectors (`P8_LOG_FORMAT`, `--log-format`).

use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// JSON when stderr is not a terminal (a service, a pipe), text when it is.
    #[default]
    Auto,
    /// One JSON object per line: timestamp, level, message and fields, target, spans.
    Json,
    /// Plain lines.
    Text,
}

impl LogFormat {
    /// `Json` or `Text`, deciding `Auto` by whether stderr is a terminal.
    pub fn resolve(self) -> LogFormat {
        match self {
            LogFormat::Auto if std::io::stderr().is_terminal() => LogFormat::Text,
            LogFormat::Auto => LogFormat::Json,
            other => other,
        }
    }
}

/// Install the process's logger on stderr: `RUST_LOG` if set, else a level from `verbose`
/// (0: info for p8sync, 1: debug, 2+: trace).
pub fn init(format: LogFormat, verbose: u8) {
    let default = match verbose {
        0 => "warn,p8sync=info",
        1 => "info,p8sync=debug",
        _ => "debug,p8sync=trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format.resolve() {
        LogFormat::Json => builder
            .json()
            // Event fields at the top level next to `message`, so collectors index them
            // without digging; the spans keep `config_id`, `provider` and the like.
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(true)
            .init(),
        // Colours only for a terminal: escape codes in a file or a pipe are noise.
        _ => builder.with_ansi(std::io::stderr().is_terminal()).init(),
    }
}
