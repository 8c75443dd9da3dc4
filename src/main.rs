//! The `newswatch` binary: parse arguments, hand over to the library.

use clap::Parser;

fn main() {
    let cli = newswatch::cli::Cli::parse();
    std::process::exit(newswatch::cli::main_with(cli));
}
