use clap::Parser;

// The request path allocates many small, short-lived buffers on one thread
// and frees them on another; glibc's allocator spent ~16% of a loaded
// gateway's time in malloc and free (consolidating fastbins), jemalloc a
// fraction of that.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use tracing_subscriber::EnvFilter;

fn main() {
    let spec = std::env::var("SWITCHYARD_LOG").unwrap_or_else(|_| "info".into());
    let mut filter = EnvFilter::try_new(&spec).unwrap_or_else(|_| EnvFilter::new("info"));
    // sqlx logs every slow batch insert whole (thousands of placeholders)
    // at warn; the spend writer reports its own failures.
    if !spec.contains("sqlx")
        && let Ok(d) = "sqlx::query=error".parse()
    {
        filter = filter.add_directive(d);
    }
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = switchyard::cli::Cli::parse();
    let code = match switchyard::cli::run(cli) {
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
