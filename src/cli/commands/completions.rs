//! `pactum completions` and `pactum man`.

use clap::Args;

use crate::app::AppError;

/// Print a completion script for a shell.
///
/// Example:
///   pactum completions bash > ~/.local/share/bash-completion/completions/pactum
#[derive(Debug, Args)]
#[command(verbatim_doc_comment, about = "Print a shell completion script")]
pub struct CompletionsArgs {
    /// bash, zsh, fish, powershell or elvish
    pub shell: clap_complete::Shell,
}

/// Print the man page (roff) on stdout.
///
/// Example:
///   pactum man > pactum.1 && man ./pactum.1
#[derive(Debug, Args)]
#[command(verbatim_doc_comment, about = "Print the man page")]
pub struct ManArgs {}

/// Runs `completions`.
pub fn completions(a: CompletionsArgs) -> Result<(), AppError> {
    let mut command = crate::cli::command();
    // generated into memory first: clap_complete panics on a write error
    let mut script = Vec::new();
    clap_complete::generate(a.shell, &mut command, "pactum", &mut script);
    crate::cli::output::print_bytes(&script)
}

/// The man page, as roff.
pub fn man_page() -> Result<Vec<u8>, AppError> {
    let mut out = Vec::new();
    clap_mangen::Man::new(crate::cli::command())
        .render(&mut out)
        .map_err(|e| AppError::Other(e.to_string()))?;
    Ok(out)
}

/// Runs `man`.
pub fn man(_a: ManArgs) -> Result<(), AppError> {
    crate::cli::output::print_bytes(&man_page()?)
}
