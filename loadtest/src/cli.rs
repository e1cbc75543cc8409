//! The command line: `run` a scenario (exit 0 when every threshold passed, 2 when one failed,
//! 1 when the run could not happen) or `check` scenario files without running them.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::provision::AdminCredentials;
use crate::run::{RunOptions, run};
use crate::scenario::{Scenario, SourceRange};

/// Exit code of a run whose thresholds failed.
const THRESHOLDS_FAILED: u8 = 2;

/// Scenario-driven WebSocket load generator for Lyceum.
#[derive(Debug, Parser)]
#[command(name = "lyceum-loadtest", version)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Provision and run a scenario, then report.
    Run(RunArgs),
    /// Parse and validate scenario files; print every problem.
    Check {
        /// Scenario files.
        #[arg(required = true)]
        scenarios: Vec<PathBuf>,
    },
}

/// Arguments of `run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The scenario file (TOML).
    pub scenario: PathBuf,
    /// Node base URL (`http://host:port`); repeat for several nodes. Replaces the scenario's.
    #[arg(long = "target")]
    pub targets: Vec<String>,
    /// Write the JSON report here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write the HTML report here.
    #[arg(long)]
    pub html: Option<PathBuf>,
    /// Email of an admin created with `lyceum admin create`.
    #[arg(long, env = "LYCEUM_LOADTEST_ADMIN_EMAIL")]
    pub admin_email: Option<String>,
    /// That admin's password (prefer the environment variable: flags show in `ps`).
    #[arg(long, env = "LYCEUM_LOADTEST_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,
    /// Runtime worker threads; 1 (the default) runs everything on one core.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Source addresses for client sockets, `first-last` (replaces the scenario's).
    #[arg(long, value_parser = SourceRange::parse)]
    pub source_range: Option<SourceRange>,
    /// No progress line.
    #[arg(long)]
    pub quiet: bool,
}

/// Runs the command line.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check { scenarios } => {
            let mut ok = true;
            for path in scenarios {
                match Scenario::load(&path, &[]) {
                    Ok(s) => println!("{}: ok ({})", path.display(), s.name),
                    Err(e) => {
                        ok = false;
                        eprintln!("{e}");
                    }
                }
            }
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Command::Run(args) => match run_command(args) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}

fn run_command(args: RunArgs) -> anyhow::Result<ExitCode> {
    let scenario = Scenario::load(&args.scenario, &args.targets)?;
    let admin = match (args.admin_email, args.admin_password) {
        (Some(email), Some(password)) => Some(AdminCredentials { email, password }),
        (None, None) => None,
        _ => anyhow::bail!("give both --admin-email and --admin-password (or neither)"),
    };
    let threads = args.threads.max(1);
    let runtime = if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()?
    };
    let opts = RunOptions {
        admin,
        source_range: args.source_range,
        threads,
        progress: !args.quiet,
    };
    let report = runtime.block_on(run(&scenario, &opts))?;
    print!("{}", report.table());
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_vec_pretty(&report)?)?;
        eprintln!("JSON report: {}", path.display());
    }
    if let Some(path) = &args.html {
        std::fs::write(path, crate::html::render(&report))?;
        eprintln!("HTML report: {}", path.display());
    }
    Ok(if report.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(THRESHOLDS_FAILED)
    })
}
