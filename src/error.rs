//! The error type of the command line, and the exit codes DESIGN section 6 fixes:
//! 0 success, 2 bad usage or configuration, 1 runtime failure.

use std::fmt;

/// A failure that ends a command. `Usage` maps to exit code 2, `Runtime` to 1.
#[derive(Debug)]
pub enum CliError {
    Usage(String),
    Runtime(anyhow::Error),
}

impl CliError {
    pub fn usage(msg: impl Into<String>) -> Self {
        CliError::Usage(msg.into())
    }
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Usage(_) => 2,
            CliError::Runtime(_) => 1,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Usage(m) => f.write_str(m),
            // One line: the chain of causes joined with ": ".
            CliError::Runtime(e) => write!(f, "{e:#}"),
        }
    }
}

impl From<anyhow::Error> for CliError {
    fn from(e: anyhow::Error) -> Self {
        CliError::Runtime(e)
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        CliError::Runtime(e.into())
    }
}

pub type CliResult<T = ()> = Result<T, CliError>;
