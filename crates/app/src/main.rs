use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    orderpay::cli::run(orderpay::cli::Cli::parse()).await
}
