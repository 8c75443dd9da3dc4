//! `newswatch extract` (built by its own issue).

use crate::commands::Ctx;
use crate::error::{CliError, CliResult};

#[allow(unused_variables)]
pub fn run(ctx: &Ctx, format: crate::cli::Format, inputs: &[String]) -> CliResult {
    Err(CliError::usage(
        "`extract` is not available in this build yet",
    ))
}
