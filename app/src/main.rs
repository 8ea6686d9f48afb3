use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    tienda::cli::run(tienda::cli::Cli::parse())
}
