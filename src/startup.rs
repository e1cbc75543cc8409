//! Building and running the server: open the database and apply migrations, bind the port, wire
//! the shared state and routes, and stop gracefully.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::{ErrorHandlers, from_fn};
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use arc_swap::ArcSwap;
use tracing_actix_web::TracingLogger;

use crate::accounts::hashing::Hasher;
use crate::accounts::revocation::{self, DbFeed, Revocations};
use crate::accounts::throttle::{Limits, LoginThrottle};
use crate::accounts::tokens::TokenKeys;
use crate::classroom::transcript::Transcripts;
use crate::clock::{Clock, SharedClock, SystemClock};
use crate::config::Settings;
use crate::consultations;
use crate::consultations::bookings::ConsultConfig;
use crate::consultations::hold_events::HoldSink;
use crate::db::{Db, PoolOptions};
use crate::orders::actor::OrderActor;
use crate::orders::service::CommerceConfig;
use crate::orders::service::OrderSink;
use crate::payments::WebhookSecret;
use crate::payments::dispatcher::Dispatcher;
use crate::payments::sandbox::Sandbox;
use crate::payments::sinks::Sinks;
use crate::realtime::broker::InProcess;
use crate::realtime::echo::{self, EchoLimit};
use crate::realtime::room::{DrainAll, Registry, RoomDeps, RoomLimits};
use crate::realtime::session::Realtime;
use crate::recommend::actor::{Recommender, RefitPolicy, refit};
use crate::recommend::ingest::EventThrottle;
use crate::recommend::model::ModelParams;
use crate::recommend::service::Recommendations;
use crate::{api, input, ops, telemetry};
use actix::Actor;
use tokio::sync::Notify;

/// A bound, wired, not yet running server.
pub struct Application {
    port: u16,
    server: Server,
    db: Db,
    /// Background tasks (the sandbox's webhook dispatcher) stopped with the server.
    background: Vec<actix_web::rt::task::JoinHandle<()>>,
    /// The realtime layer, whose sockets and rooms a shutdown closes and drains first.
    realtime: web::Data<Realtime>,
    /// Asks for the same stop a signal starts, and tells when it is done.
    stopper: Stopper,
}

/// Stops a running [`Application`] as SIGTERM does (sockets closed with 1012, rooms drained,
/// requests finished), from inside the process: tests and embedders use it.
#[derive(Clone)]
pub struct Stopper {
    requested: Arc<Notify>,
    stopped: tokio::sync::watch::Receiver<bool>,
    done: Arc<tokio::sync::watch::Sender<bool>>,
}

impl Stopper {
    fn new() -> Self {
        let (done, stopped) = tokio::sync::watch::channel(false);
        Self {
            requested: Arc::new(Notify::new()),
            stopped,
            done: Arc::new(done),
        }
    }

    /// Starts the stop without waiting for it.
    pub fn request(&self) {
        self.requested.notify_one();
    }

    /// Starts the stop and waits until the server has stopped.
    pub async fn stop(&self) {
        self.request();
        let mut stopped = self.stopped.clone();
        let _ = stopped.wait_for(|s| *s).await;
    }
}

/// Opens the pool for `settings` and applies pending migrations, off the async threads.
pub async fn open_database(settings: &Settings) -> anyhow::Result<Db> {
    let url = settings.database_url.expose().to_owned();
    let options = PoolOptions {
        max_size: settings.db_pool_size,
        acquire_timeout: std::time::Duration::from_secs(10),
    };
    tokio::task::spawn_blocking(move || {
        let db = Db::connect(&url, &options)?;
        let applied = db.migrate()?;
        tracing::info!(backend = db.backend(), applied, "database ready");
        anyhow::Ok(db)
    })
    .await
    .context("database start-up task failed")?
}

impl Application {
    /// Connects and migrates the database, then binds `settings.bind` (port 0 picks a free
    /// port, which tests use) and builds the HTTP server without starting to serve.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with_clock(settings, Arc::new(SystemClock)).await
    }

    /// `build` with the clock consultations are metered and judged by (tests move it).
    pub async fn build_with_clock(settings: Settings, clock: SharedClock) -> anyhow::Result<Self> {
        let db = open_database(&settings).await?;
        let listener = TcpListener::bind(settings.bind)
            .with_context(|| format!("cannot listen on {}", settings.bind))?;
        let port = listener.local_addr()?.port();

        let db_data = web::Data::new(db.clone());
        let keys = web::Data::new(TokenKeys::new(
            settings.jwt_secret.expose(),
            settings.access_token_ttl,
            settings.refresh_token_ttl,
        ));
        let throttle = web::Data::new(LoginThrottle::new(
            Limits {
                per_account_client: settings.login_max_failures_per_account_client,
                per_client: settings.login_max_failures_per_ip,
                per_account: settings.login_max_failures_per_account,
            },
            settings.login_window,
        ));
        // Access tokens stay valid for their lifetime plus the verification leeway.
        let keep = settings.access_token_ttl + std::time::Duration::from_secs(60);
        let revocations = web::Data::new(Revocations::new(keep));
        let hasher = web::Data::new(Hasher::start_default());
        let metrics = web::Data::new(telemetry::metrics_handle());
        let metrics_access =
            web::Data::new(ops::MetricsAccess::new(settings.metrics_token.clone()));
        let commerce = CommerceConfig::from_settings(&settings);
        let webhook_secret =
            WebhookSecret::new(settings.webhook_secret.as_ref(), &settings.jwt_secret);
        let wake = Arc::new(Notify::new());
        // The sandbox stands in for a remote processor, so it gets its own small pool: it is
        // called while a request holds a connection from the main pool, and sharing that pool
        // would let concurrent checkouts deadlock waiting for a second connection.
        let provider_db = {
            let url = settings.database_url.expose().to_owned();
            let options = PoolOptions {
                max_size: 4,
                acquire_timeout: std::time::Duration::from_secs(10),
            };
            tokio::task::spawn_blocking(move || Db::connect(&url, &options))
                .await
                .context("sandbox pool task failed")??
        };
        let sandbox = Sandbox::new(provider_db.clone(), wake.clone());
        let dispatcher = Dispatcher {
            db: provider_db,
            url: settings.webhook_url.clone().unwrap_or_else(|| {
                crate::payments::dispatcher::local_webhook_url(settings.bind.ip(), port)
            }),
            secret: webhook_secret.secret().clone(),
            chaos: settings.sandbox_chaos,
            wake,
        };
        let orders = web::Data::new(
            OrderActor::new(
                db.clone(),
                Arc::new(sandbox.clone()),
                commerce.clone(),
                settings.order_sweep,
            )
            .start(),
        );
        let consult = Arc::new(ConsultConfig::from_settings(&settings));
        let background = vec![
            actix_web::rt::spawn(revocation::follow(
                revocations.clone().into_inner(),
                DbFeed::new(db.clone()),
            )),
            actix_web::rt::spawn(dispatcher.run()),
            actix_web::rt::spawn(consultations::sweep::run(
                orders.get_ref().clone(),
                consult.clone(),
                clock.clone(),
                settings.consult_sweep,
            )),
        ];
        let consult = web::Data::from(consult);
        let clock_data: web::Data<dyn Clock> = web::Data::from(clock.clone());
        let commerce = web::Data::new(commerce);
        let realtime = web::Data::new(Realtime {
            db: db.clone(),
            keys: keys.clone().into_inner(),
            revocations: revocations.clone().into_inner(),
            rooms: Registry::new(RoomDeps {
                db: db.clone(),
                broker: Arc::new(InProcess::default()),
                limits: RoomLimits {
                    history: settings.room_history,
                    roster_max: settings.room_roster_max,
                    idle: settings.room_idle,
                    tick: settings.room_tick,
                    class: settings.class_limits,
                },
                orders: orders.get_ref().clone(),
                clock: clock.clone(),
                consult: consult.clone().into_inner(),
            })
            .start(),
            heartbeat: settings.ws_heartbeat,
            max_message: settings.ws_max_message_bytes,
            rate: (settings.ws_burst, settings.ws_rate_per_sec),
            max_per_user: settings.ws_max_connections_per_user,
            per_user: Default::default(),
            open: Default::default(),
            outbound_queue: settings.ws_outbound_queue,
            clock: clock.clone(),
        });
        let realtime_handle = realtime.clone();
        // Who applies which provider events: each claims its own references.
        let sinks = web::Data::new(Sinks::default().with(OrderSink).with(HoldSink::new(
            consult.clone().into_inner(),
            clock.clone(),
            Some(realtime.rooms.clone()),
        )));
        let transcripts = web::Data::new(Transcripts::default());
        let recommendations = web::Data::new(start_recommender(&db, &settings, &clock).await?);
        let sandbox = web::Data::new(sandbox);
        let webhook_secret = web::Data::new(webhook_secret);
        let settings = Arc::new(settings);
        let assets = web::Data::new(crate::web::Assets::for_build(&settings.static_dir));
        let shutdown_secs = settings.shutdown_timeout.as_secs();
        let workers = settings.workers.max(1);

        let server = HttpServer::new(move || {
            let body_limit = settings.max_body_bytes;
            App::new()
                .wrap(from_fn(move |req, next| {
                    input::reject_unstorable(body_limit, req, next)
                }))
                .wrap(ErrorHandlers::new().default_handler(ops::ensure_json_error))
                .wrap(from_fn(ops::track_requests))
                .wrap(from_fn(ops::request_id_header))
                .wrap(from_fn(ops::security_headers))
                .wrap(TracingLogger::<telemetry::RedactedRootSpan>::new())
                .app_data(db_data.clone())
                .app_data(keys.clone())
                .app_data(revocations.clone())
                .app_data(throttle.clone())
                .app_data(hasher.clone())
                .app_data(metrics.clone())
                .app_data(metrics_access.clone())
                .app_data(orders.clone())
                .app_data(commerce.clone())
                .app_data(realtime.clone())
                .app_data(consult.clone())
                .app_data(clock_data.clone())
                .app_data(sandbox.clone())
                .app_data(recommendations.clone())
                .app_data(transcripts.clone())
                .app_data(webhook_secret.clone())
                .app_data(sinks.clone())
                .configure(|cfg| api::extractor_config(cfg, settings.max_body_bytes))
                .configure(api::configure)
                .configure(|cfg| {
                    if settings.ws_echo {
                        cfg.app_data(web::Data::new(EchoLimit(settings.ws_max_message_bytes)))
                            .route("/ws/echo", web::get().to(echo::echo));
                    }
                })
                .app_data(assets.clone())
                .default_service(web::to(crate::web::serve))
        })
        .on_connect(crate::realtime::outlet::on_connect)
        .workers(workers)
        .shutdown_timeout(shutdown_secs)
        // SIGTERM and SIGINT are ours (see `run_until_stopped`): sockets close before the
        // server waits for its connections to end.
        .disable_signals()
        .listen(listener)?
        .run();

        Ok(Self {
            port,
            server,
            db,
            background,
            realtime: realtime_handle,
            stopper: Stopper::new(),
        })
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A handle to stop the server from elsewhere (tests, shutdown hooks) as a signal would.
    pub fn stopper(&self) -> Stopper {
        self.stopper.clone()
    }

    /// The HTTP server's own handle: stopping through it skips closing sockets and draining
    /// rooms, as a crash would (tests use it to play one).
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGINT/SIGTERM or [`Stopper::stop`]. Then it stops accepting,
    /// closes every WebSocket with 1012 (clients reconnect elsewhere or once it is back), cuts
    /// off sockets whose clients stopped reading after [`SOCKET_GRACE`], drains the rooms'
    /// pending steps (events, checkpoints, settlements), then lets in-flight requests finish
    /// (up to the shutdown timeout) and closes the database pool.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let Self {
            server,
            db,
            background,
            realtime,
            stopper,
            ..
        } = self;
        let handle = server.handle();
        let mut serving = actix_web::rt::spawn(server);
        let result = tokio::select! {
            served = &mut serving => served,
            signal = stop_signal(&stopper.requested) => {
                tracing::info!(signal, "stopping: closing sockets, draining rooms");
                handle.pause().await;
                let cut_off = realtime.close_all(SOCKET_GRACE).await;
                let drained = tokio::time::timeout(ROOM_DRAIN, realtime.rooms.send(DrainAll)).await;
                tracing::info!(cut_off, rooms = ?drained.map(|d| d.ok()), "sockets closed, rooms drained");
                handle.stop(true).await;
                serving.await
            }
        };
        for task in background {
            task.abort();
        }
        let (open, _) = db.state();
        drop(db);
        tracing::info!(
            closed_connections = open,
            "server stopped; database pool closed"
        );
        stopper.done.send_replace(true);
        result.unwrap_or_else(|e| Err(std::io::Error::other(e)))
    }
}

/// How long closed WebSockets get to end on their own before their sockets are cut off.
const SOCKET_GRACE: std::time::Duration = std::time::Duration::from_secs(2);
/// Longest a shutdown waits for the rooms' pending steps.
const ROOM_DRAIN: std::time::Duration = std::time::Duration::from_secs(5);

/// Resolves with the name of the first SIGTERM or SIGINT, or of a [`Stopper::stop`].
async fn stop_signal(requested: &Notify) -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
                () = requested.notified() => "stop requested",
            },
            _ => {
                requested.notified().await;
                "stop requested"
            }
        }
    }
    #[cfg(not(unix))]
    {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => "ctrl-c",
            () = requested.notified() => "stop requested",
        }
    }
}

/// Builds the first snapshot from the database (the server answers only once it is there, so
/// recommendations never start from an empty index), then starts the actor that keeps it fresh.
async fn start_recommender(
    db: &Db,
    settings: &Settings,
    clock: &SharedClock,
) -> anyhow::Result<Recommendations> {
    let policy = RefitPolicy {
        params: ModelParams {
            dim: settings.recommend_dim,
            half_life_secs: settings.recommend_half_life.as_secs_f64(),
            ..ModelParams::default()
        },
        after_events: settings.recommend_rebuild_events,
        every: settings.recommend_rebuild_every,
        check_every: settings.recommend_check_every,
        threads: settings.recommend_rebuild_threads,
    };
    let (snapshot, report) = refit(db, &policy, clock)
        .await
        .context("cannot build the recommendation index")?;
    tracing::info!(?report, "recommendation index built");
    let cell = Arc::new(ArcSwap::from_pointee(snapshot));
    let actor = Recommender::new(db.clone(), cell.clone(), policy, clock.clone()).start();
    Ok(Recommendations {
        cell,
        actor,
        throttle: EventThrottle::new(settings.events_burst, settings.events_per_minute),
        clock: clock.clone(),
    })
}
