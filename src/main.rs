//! The `lyceum` command: serve (the default), migrate, bootstrap an admin, seed demo data.

use std::io::BufRead;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};

use lyceum::accounts::domain::Role;
use lyceum::accounts::service::{self, NewAccount};
use lyceum::config::Settings;
use lyceum::orders::service::CommerceConfig;
use lyceum::payments::sandbox::Sandbox;
use lyceum::startup::{Application, open_database};
use lyceum::{seed, telemetry};
use std::sync::Arc;
use tokio::sync::Notify;

/// Lyceum: realtime interactive learning server.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve HTTP and WebSocket traffic (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Administrative tasks.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Create the demo data set (idempotent: a second run changes nothing).
    SeedDemo,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create an admin account; the password is read from the first line of standard input.
    Create {
        /// Email of the new admin.
        #[arg(long)]
        email: String,
        /// Read the password from standard input (required, so it never shows in `ps`).
        #[arg(long)]
        password_stdin: bool,
        /// Display name of the new admin.
        #[arg(long, default_value = "Administrator")]
        display_name: String,
    },
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init_tracing();
    let cli = Cli::parse();
    let settings = Settings::from_env()?;
    for (key, value) in settings.describe() {
        tracing::info!("config {key} = {value}");
    }
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings).await,
        Command::Migrate => {
            open_one_shot(&settings).await?;
            Ok(())
        }
        Command::Admin {
            command:
                AdminCommand::Create {
                    email,
                    password_stdin,
                    display_name,
                },
        } => {
            if !password_stdin {
                bail!("pass --password-stdin and the password on standard input");
            }
            let mut password = String::new();
            std::io::stdin().lock().read_line(&mut password)?;
            let password = password.trim_end_matches(['\r', '\n']);
            let new = NewAccount::parse(&email, password, &display_name).map_err(describe)?;
            let db = open_one_shot(&settings).await?;
            let user = db
                .run(move |c| service::create_user(c, &new, Role::Admin))
                .await
                .map_err(describe)?;
            println!("created admin {} ({})", user.email, user.id);
            Ok(())
        }
        Command::SeedDemo => {
            let db = open_one_shot(&settings).await?;
            // The sandbox provider keeps its own connection, as it does in the server.
            let sandbox = Sandbox::new(open_one_shot(&settings).await?, Arc::new(Notify::new()));
            let commerce = CommerceConfig::from_settings(&settings);
            let consult = lyceum::consultations::bookings::ConsultConfig::from_settings(&settings);
            let report = db
                .run(move |c| {
                    let shop = seed::DemoShop {
                        sandbox: &sandbox,
                        commerce: &commerce,
                        consult: &consult,
                    };
                    seed::seed_demo(c, &shop)
                })
                .await
                .map_err(describe)?;
            println!(
                "demo data: {} created, {} already present; every demo account's password is {:?}",
                report.created,
                report.existing,
                seed::DEMO_PASSWORD
            );
            Ok(())
        }
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let bind = settings.bind;
    let app = Application::build(settings).await?;
    tracing::info!(
        "listening on http://{}:{} (OpenAPI at /openapi.json)",
        bind.ip(),
        app.port()
    );
    app.run_until_stopped().await.context("server failed")
}

/// Opens the database for a one-shot command with a pool of one connection. A larger pool
/// replenishes idle connections on a background thread; when the command then returns, the
/// process exits while that thread may be inside libpq's connect, which crashes with SIGSEGV
/// (seen in about one `lyceum migrate` run in six against PostgreSQL).
async fn open_one_shot(settings: &Settings) -> anyhow::Result<lyceum::db::Db> {
    let mut settings = settings.clone();
    settings.db_pool_size = 1;
    open_database(&settings).await
}

fn describe(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}
