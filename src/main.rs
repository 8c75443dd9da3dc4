//! The `newswatch` binary: parse arguments, hand over to the library.

use clap::Parser;

// mimalloc instead of the glibc allocator: parsing, cleaning and matching allocate many small
// short-lived strings on every worker thread, and glibc's malloc/free were about a tenth of the CPU
// of an `ingest`. The library does not choose an allocator; only the binary does.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let cli = newswatch::cli::Cli::parse();
    std::process::exit(newswatch::cli::main_with(cli));
}
