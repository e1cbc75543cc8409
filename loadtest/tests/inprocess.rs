//! A tiny run against the real server, started in-process on 127.0.0.1:0 with a fresh SQLite
//! database the way the server's own tests do: provisioning through the HTTP API with an admin
//! created as `lyceum admin create` would, learners chatting, voting and raising hands, churn
//! with recovery, and the accounting checked — every expected event delivered, every measured
//! latency in the histogram, per-room tallies summing to the total. Nothing here asserts a time.

use std::collections::HashMap;
use std::sync::mpsc;

use lyceum::accounts::domain::Role;
use lyceum::accounts::service::{NewAccount, create_user};
use lyceum::config::Settings;
use lyceum::db::{Db, PoolOptions};
use lyceum::startup::Application;
use lyceum_loadtest::provision::AdminCredentials;
use lyceum_loadtest::run::{RunOptions, run};
use lyceum_loadtest::scenario::Scenario;

const ADMIN_EMAIL: &str = "root@loadtest.invalid";
const ADMIN_PASSWORD: &str = "a long admin password";

/// Starts the server on its own thread (its own actix system) and returns its base URL. The
/// server lives until the test process ends; its data directory is leaked with it.
fn spawn_server() -> String {
    let dir = tempfile::tempdir().expect("temp dir").keep();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let database_url = format!("sqlite://{}", dir.join("lt.db").display());
            let vars: HashMap<String, String> = [
                ("LYCEUM_BIND", "127.0.0.1:0"),
                ("LYCEUM_WORKERS", "1"),
                ("LYCEUM_DB_POOL_SIZE", "4"),
                ("LYCEUM_WS_RATE_PER_SEC", "1000"),
                ("LYCEUM_WS_BURST", "1000"),
                ("DATABASE_URL", database_url.as_str()),
                ("LYCEUM_DATA_DIR", &dir.display().to_string()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
            let settings = Settings::from_lookup(|k| vars.get(k).cloned()).expect("settings");
            let app = Application::build(settings).await.expect("server builds");
            let db = Db::connect(
                &database_url,
                &PoolOptions {
                    max_size: 1,
                    acquire_timeout: std::time::Duration::from_secs(10),
                },
            )
            .expect("database");
            let admin = NewAccount::parse(ADMIN_EMAIL, ADMIN_PASSWORD, "Root").expect("account");
            db.run(move |c| create_user(c, &admin, Role::Admin))
                .await
                .expect("admin");
            tx.send(app.port()).expect("report the port");
            app.run_until_stopped().await.expect("server runs");
        });
    });
    let port = rx.recv().expect("the server started");
    format!("http://127.0.0.1:{port}")
}

const TINY: &str = r#"
name = "tiny"
drain_timeout = "10s"

[[phases]]
name = "ramp-up"
duration = "1s"
arrival_rate = 20.0

[[phases]]
name = "steady"
duration = "2s"

[classroom]
rooms = 2
learners_per_room = 4
connections_per_user = 2

[classroom.instructor]
broadcast_rate = 10.0
payload_bytes = 100
poll_every = "1s"

[classroom.learners]
think_time = { distribution = "constant", value = "200ms" }
payload_bytes = 80

[classroom.learners.actions]
chat = 0.3
ask = 0.1
vote = 0.2
hand = 0.1
poll_vote = 0.2

[churn]
rate = 20.0
downtime = "100ms"

[consultations]
pairs = 1
minutes = 5
chat_rate = 5.0
payload_bytes = 60

[thresholds]
max_loss_ratio = 0.0
min_recovery_ratio = 1.0
"#;

#[test]
fn a_tiny_run_delivers_everything_and_accounts_for_it() {
    let base = spawn_server();
    let scenario = Scenario::from_toml("tiny", TINY, &[base]).expect("valid scenario");
    let opts = RunOptions {
        admin: Some(AdminCredentials {
            email: ADMIN_EMAIL.into(),
            password: ADMIN_PASSWORD.into(),
        }),
        threads: 1,
        ..RunOptions::default()
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let report = runtime.block_on(run(&scenario, &opts)).expect("the run");
    println!("{}", report.table());

    // Provisioning: 2 instructors + 1 expert, 4 learner accounts (2 connections each), 1 guest.
    assert_eq!(report.provisioning.accounts, 8);
    assert_eq!(report.provisioning.courses, 2);
    assert_eq!(report.provisioning.bookings, 1);
    assert_eq!(report.provisioning.enrolments, 8);

    // Everyone connected and joined; churn made learners come back, and they all recovered.
    assert_eq!(report.connections.failed, 0, "{:?}", report.disconnects);
    assert!(report.connections.established >= 8 + 2 + 2);
    assert!(report.recovery.rejoins > 0, "churn happened");
    assert_eq!(report.recovery.recovered, report.recovery.rejoins);

    // Loss accounting: something was expected, all of it delivered, rooms sum to the total.
    let d = &report.delivery;
    assert!(d.tally.expected > 0);
    assert_eq!(d.tally.lost, 0, "{:?}", d.rooms);
    assert_eq!(d.tally.delivered, d.tally.expected);
    assert_eq!(d.tally.duplicates, 0);
    assert_eq!(d.rooms.len(), 3, "two classrooms and one consultation");
    let summed: u64 = d.rooms.iter().map(|r| r.tally.expected).sum();
    assert_eq!(summed, d.tally.expected);
    assert!(
        d.rooms.iter().all(|r| r.tally.expected > 0),
        "{:?}",
        d.rooms
    );

    // Every stamped event that arrived is in the latency histogram.
    assert!(d.measured > 0);
    assert_eq!(d.latency.count, d.measured);
    let by_phase: u64 = report.phases.iter().map(|p| p.delivery.count).sum();
    assert_eq!(by_phase, d.measured);

    // Commands were answered; the only refusals allowed are conflicts of shared accounts.
    assert!(report.commands.sent > 0);
    assert_eq!(
        report.commands.error_rate, 0.0,
        "{:?}",
        report.commands.errors_by_code
    );
    assert!(report.passed, "{:?}", report.thresholds);

    // The reports render.
    let html = lyceum_loadtest::html::render(&report);
    assert!(html.contains("<svg") && !html.contains("<script"));
    let json = serde_json::to_value(&report).expect("JSON");
    assert_eq!(json["delivery"]["tally"]["lost"], 0);
}
