use clap::Parser;

// The request path allocates many small, short-lived buffers on one thread
// and frees them on another; glibc's allocator spent ~16% of a loaded
// gateway's time in malloc and free (consolidating fastbins), jemalloc a
// fraction of that.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use switchyard::cli::{Cli, Command};
use switchyard::observe::request_log::writer::{self, Behind};
use switchyard::observe::traces;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, Registry};

fn main() {
    let cli = Cli::parse();
    let asked = Asked::of(&cli);
    // Export starts before the subscriber so that the subscriber can hold
    // its layer; its failure is logged once the log exists.
    let (export, export_error) = if traces::export::wanted(asked.otel) {
        match traces::export::start() {
            Ok(export) => (Some(export), None),
            Err(e) => (None, Some(e)),
        }
    } else {
        (None, None)
    };
    // A thread of its own writes the log: no request waits on stderr.
    let (writer, log_guard) = match writer::behind(std::io::stderr()) {
        Ok(behind) => behind,
        Err(e) => {
            #[expect(clippy::print_stderr, reason = "there is no log without its writer")]
            {
                eprintln!("error: cannot start the log's writer thread: {e}");
            }
            std::process::exit(2);
        }
    };
    let mut layers: Vec<Box<dyn Layer<Registry> + Send + Sync>> =
        vec![log_layer(asked.json, writer)];
    if let Some(export) = &export {
        layers.push(Box::new(export.layer()));
    }
    tracing_subscriber::registry().with(layers).init();
    if let Some(e) = export_error {
        tracing::warn!(error = %e, "traces are off");
    }
    let result = switchyard::cli::run(cli);
    if let Some(export) = export {
        export.shutdown();
    }
    // Every line written before the exit (and before the error below).
    drop(log_guard);
    let code = match result {
        Ok(code) => code,
        Err(e) => {
            #[expect(clippy::print_stderr, reason = "the log may be filtered off")]
            {
                eprintln!("error: {e:#}");
            }
            2
        }
    };
    std::process::exit(code);
}

/// What the log and traces should be, asked before the subscriber exists.
struct Asked {
    /// Every line as a JSON object.
    json: bool,
    /// The config's `otel` callback.
    otel: bool,
}

impl Asked {
    /// `SWITCHYARD_LOG_FORMAT` (`json` or `text`) wins; else, for `serve`,
    /// the config's `json_logs`. The config is read here once more than
    /// `serve` reads it (cheap; a config that does not load is reported by
    /// `serve` itself).
    fn of(cli: &Cli) -> Asked {
        let config = match &cli.command {
            Command::Serve {
                config: Some(path), ..
            } => switchyard::config::Config::load(path).ok(),
            _ => None,
        };
        let observe = config.map(|c| c.observability).unwrap_or_default();
        let json = match std::env::var("SWITCHYARD_LOG_FORMAT") {
            Ok(f) if f.eq_ignore_ascii_case("json") => true,
            Ok(f) if f.eq_ignore_ascii_case("text") => false,
            _ => observe.json_logs,
        };
        Asked {
            json,
            otel: observe.has_callback("otel"),
        }
    }
}

/// The log on stderr (through `writer`), as text or JSON, filtered by
/// `SWITCHYARD_LOG`.
fn log_layer(json: bool, writer: Behind) -> Box<dyn Layer<Registry> + Send + Sync> {
    let spec = std::env::var("SWITCHYARD_LOG").unwrap_or_else(|_| "info".into());
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    switchyard::observe::request_log::layer(json, &spec, writer, ansi)
}
