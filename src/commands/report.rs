//! `newswatch report` (built by its own issue).

use crate::commands::Ctx;
use crate::error::{CliError, CliResult};

#[allow(unused_variables)]
pub fn run(ctx: &Ctx, args: &crate::cli::ReportArgs) -> CliResult {
    Err(CliError::usage(
        "`report` is not available in this build yet",
    ))
}
