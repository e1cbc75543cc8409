//! The `lyceum` command: serve (the default), migrate, bootstrap an admin, import MovieLens
//! history, seed demo data, evaluate the recommendation model.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};

use lyceum::accounts::domain::Role;
use lyceum::accounts::service::{self, NewAccount};
use lyceum::catalog::import::{self, ImportOptions, movielens};
use lyceum::config::Settings;
use lyceum::orders::service::CommerceConfig;
use lyceum::payments::sandbox::Sandbox;
use lyceum::recommend::eval::{self, EvalParams};
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
    /// Recommendation tools (need no database).
    Recommend {
        #[command(subcommand)]
        command: RecommendCommand,
    },
}

#[derive(Subcommand)]
enum RecommendCommand {
    /// The served model against popularity, item-kNN, ALS and EASE on MovieLens-format ratings
    /// (temporal and leave-last-out splits, full ranking, bootstrap intervals); see
    /// docs/recommendations.md.
    Eval {
        /// Tab-separated `user item rating timestamp` lines (`u.data`, or RecBole's
        /// `ml-100k.inter` with its header); `scripts/fetch-ml100k.sh` fetches ML-100K.
        #[arg(long)]
        ratings: PathBuf,
        /// Titles and genres (`u.item` or RecBole's `ml-100k.item`), imported with the ratings
        /// as the courses' titles and tags (default: "Movie N", no tags).
        #[arg(long)]
        items: Option<PathBuf>,
        /// Also write the figures as JSON to this file.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Dimension of item and user vectors (default: the production value).
        #[arg(long)]
        dim: Option<usize>,
        /// Half-life of an interaction's pull on the user vector, in hours.
        #[arg(long)]
        half_life_hours: Option<f64>,
        /// Weight of the popularity prior in the served re-scoring (default: the production
        /// value).
        #[arg(long)]
        prior: Option<f32>,
        /// Seed of the bootstrap and of the model's random initialisation.
        #[arg(long)]
        seed: Option<u64>,
        /// First choose the popularity prior's weight and half-life on a validation slice of
        /// the temporal training data, print the grid, and evaluate with the choice.
        #[arg(long)]
        tune: bool,
    },
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
    /// Load MovieLens-format ratings as free published courses, learners and enrolments dated
    /// when they were rated; running it again creates nothing twice.
    ImportMovielens {
        /// Tab-separated `user item rating timestamp` lines (`u.data`, or RecBole's `.inter`).
        #[arg(long)]
        ratings: PathBuf,
        /// Titles and genres: MovieLens `u.item` or RecBole's `.item` (default: "Movie N",
        /// no tags).
        #[arg(long)]
        items: Option<PathBuf>,
        /// The account that teaches the imported courses (created when missing).
        #[arg(long, default_value_t = ImportOptions::default().instructor_email)]
        instructor_email: String,
        /// Learners get `ml-<user id>@<this domain>`.
        #[arg(long, default_value_t = ImportOptions::default().email_domain)]
        email_domain: String,
        /// Skip ratings below this (default: every rating is an enrolment).
        #[arg(long)]
        min_rating: Option<f32>,
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
        Command::Admin {
            command:
                AdminCommand::ImportMovielens {
                    ratings,
                    items,
                    instructor_email,
                    email_domain,
                    min_rating,
                },
        } => {
            let opts = ImportOptions {
                instructor_email,
                email_domain,
                min_rating,
                ..ImportOptions::default()
            };
            import_movielens(&settings, &ratings, items.as_deref(), opts).await
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
        Command::Recommend {
            command:
                RecommendCommand::Eval {
                    ratings,
                    items,
                    json,
                    dim,
                    half_life_hours,
                    prior,
                    seed,
                    tune,
                },
        } => {
            let mut params = EvalParams::default();
            if let Some(dim) = dim {
                params.model.dim = dim;
                params.model.content_dims = params.model.content_dims.min(dim);
            }
            if let Some(hours) = half_life_hours {
                params.model.half_life_secs = hours * 3600.0;
            }
            if let Some(prior) = prior {
                params.model.popularity_prior = prior;
            }
            if let Some(seed) = seed {
                params.seed = seed;
                params.model.seed = seed;
            }
            recommend_eval(&ratings, items.as_deref(), json.as_deref(), params, tune)
        }
    }
}

/// `lyceum admin import-movielens`: reads both files before touching the database, so a
/// malformed file changes nothing.
async fn import_movielens(
    settings: &Settings,
    ratings: &Path,
    items: Option<&Path>,
    opts: ImportOptions,
) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let data = read(ratings, movielens::parse_ratings)?;
    let items = items.map(|p| read(p, movielens::parse_items)).transpose()?;
    let db = open_one_shot(settings).await?;
    let report = db
        .run(move |c| import::import(c, &data, items.as_ref(), &opts))
        .await
        .map_err(describe)?
        .report;
    println!(
        "imported {}: {report} in {:.1} s",
        ratings.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Parses the file at `path` with `parse`, naming the file in errors.
fn read<T, E>(path: &Path, parse: impl FnOnce(BufReader<File>) -> Result<T, E>) -> anyhow::Result<T>
where
    E: std::error::Error + Send + Sync + 'static,
{
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    parse(BufReader::new(file)).with_context(|| format!("reading {}", path.display()))
}

/// `lyceum recommend eval`: CPU-bound and one-shot, so it simply runs on this thread.
fn recommend_eval(
    ratings: &Path,
    items: Option<&Path>,
    json: Option<&Path>,
    mut params: EvalParams,
    tune: bool,
) -> anyhow::Result<()> {
    let data = read(ratings, movielens::parse_ratings)?;
    let items = items.map(|p| read(p, movielens::parse_items)).transpose()?;
    let tuning = tune
        .then(|| eval::tune(&data, items.as_ref(), &params))
        .transpose()?;
    if let Some(t) = &tuning {
        t.apply(&mut params);
    }
    let mut report = eval::evaluate(&data, items.as_ref(), &params)?;
    report.tuning = tuning;
    println!("{report}");
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
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
