//! The `pactum` binary: parses the command line, sets up logging on stderr,
//! runs the command and turns its error into a message, a hint and the
//! documented exit code.

#![forbid(unsafe_code)]

use std::io::Write;
use std::process::ExitCode;

use pactum::cli;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::field::MakeExt;

fn init_tracing(verbose: u8, quiet: bool) {
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        (false, _) => "trace",
    };
    let standard = || {
        EnvFilter::new(format!(
            "pactum={default},{}",
            if verbose > 2 { "trace" } else { "warn" }
        ))
    };
    // A RUST_LOG that does not parse is reported (escaped, below) and
    // replaced by the standard filter: the filter's own lenient parser
    // would print it to stderr as it was given.
    let mut refused = None;
    let filter = match std::env::var("RUST_LOG") {
        Ok(v) if !v.is_empty() => EnvFilter::builder().parse(&v).unwrap_or_else(|e| {
            refused = Some((v, e.to_string()));
            standard()
        }),
        _ => standard(),
    };
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    // Log lines quote what they were given (an environment variable, an
    // error naming stored text): every field is shown with its control and
    // invisible characters escaped, as every other message is.
    let fields = tracing_subscriber::fmt::format::debug_fn(|w, field, value| {
        let text = format!("{value:?}");
        let shown = pactum::domain::text::escape_for_terminal(&text);
        match field.name() {
            "message" => write!(w, "{shown}"),
            name => write!(w, "{name}={shown}"),
        }
    })
    .delimited(" ");
    let _ = tracing_subscriber::fmt()
        .fmt_fields(fields)
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
    if let Some((value, error)) = refused {
        tracing::warn!(%value, %error, "RUST_LOG is not a filter; using the standard one");
    }
}

fn main() -> ExitCode {
    let (cli, name) = match cli::parse() {
        Ok(parsed) => parsed,
        Err(e) => return failed(&e),
    };
    init_tracing(cli.global.verbose, cli.global.quiet);
    match cli::run(cli, &name) {
        Ok(()) => ExitCode::SUCCESS,
        // the reader of the output went away (`pactum list | head -1`):
        // nothing is wrong, and nothing more can be said to it
        Err(e) if e.is_closed_pipe() => ExitCode::SUCCESS,
        Err(e) => failed(&e),
    }
}

/// Says what went wrong on stderr, and what could be done about it; the
/// error's exit code.
fn failed(e: &pactum::app::AppError) -> ExitCode {
    // Messages quote what the user (or a file) gave: every control or
    // invisible character in them is shown escaped, so that no input can
    // drive the terminal. A failure to write to stderr is ignored: the
    // exit code still says what happened.
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(
        stderr,
        "error: {}",
        pactum::domain::text::escape_for_display(&cli::error::message(e), true)
    );
    if let Some(hint) = cli::error::hint(e) {
        let _ = writeln!(
            stderr,
            "hint: {}",
            pactum::domain::text::escape_for_display(&hint, true)
        );
    }
    ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(1))
}
