//! The `p8sync` binary: read the settings file, parse the command line, set up logging, run.

use clap::Parser;
use p8sync::cli::{Cli, run};
use p8sync::config::file;
use std::process::ExitCode;

// mimalloc rather than glibc's malloc: a run of small files makes and frees many small
// buffers on several threads, and with glibc's a 2,000-file copy took a fifth more CPU. Built
// without transparent huge pages, which kept a 1 GiB upload's freed buffers resident
// (peak RSS 118 MiB instead of 95).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

// The components built into this binary (`PROVIDERS`, `EXTRACTORS`), collected by build.rs.
include!(concat!(env!("OUT_DIR"), "/builtin.rs"));

// Not `#[tokio::main]`: the settings file is applied with `std::env::set_var`, which is only
// sound while the process has one thread, so the runtime is built after it.
fn main() -> ExitCode {
    if let Some(path) = file::path_from(std::env::args_os(), std::env::var_os(file::PATH_ENV)) {
        // SAFETY: nothing has started a thread yet; the runtime is built below.
        if let Err(e) = unsafe { file::apply(&path) } {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    }
    let mut cli = Cli::parse();
    cli.builtins = p8sync::builtin::Builtins {
        providers: PROVIDERS,
        extractors: EXTRACTORS,
    };
    p8sync::logging::init(cli.log_format, cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    // On a worker, not on this thread: the work wakes on I/O the workers drive, and each
    // wake-up of a thread outside the pool is a trip through the kernel.
    let outcome = runtime.block_on(async {
        tokio::spawn(run(cli))
            .await
            .unwrap_or_else(|e| Err(anyhow::anyhow!("the command stopped unexpectedly: {e}")))
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
