//! Recommendations served by the real server over HTTP while the index is rebuilt.
//!
//! `cargo bench --bench recommend_serving` fills a fresh SQLite file with a synthetic catalog
//! (`LYCEUM_BENCH_ITEMS`, default 100,000 courses in 200 tag clusters by 1,000 instructors) and
//! behaviour (`LYCEUM_BENCH_USERS`, default 20,000 learners with 20 events each inside their
//! cluster), starts the server (which builds the index from the database), then measures
//! `GET /recommendations` and `GET /courses/{id}/similar` at `LYCEUM_BENCH_RATE` requests per
//! second (default 200, alternating, open model over `LYCEUM_BENCH_CONCURRENCY` = 8 clients):
//! first for 10 s on a quiet server, then while an admin-triggered refit runs with the default
//! refit threads. Prints the build times and both latency distributions.

use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use futures_util::future::join_all;
use serde_json::{Value, json};

use lyceum::accounts::Role;
use lyceum::accounts::service::{self as accounts, NewAccount};
use lyceum::config::Settings;
use lyceum::db::DbError;
use lyceum::startup::{Application, open_database};

const TAGS: usize = 200;
const INSTRUCTORS: usize = 1_000;
const PASSWORD: &str = "bench password that is long enough";

fn env_or(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A small deterministic generator: the data set is the same on every run.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

/// Rows as one multi-row INSERT per 500, in one transaction.
fn insert_sql(table: &str, columns: &str, rows: &[String]) -> String {
    let mut sql = String::from("BEGIN;");
    for chunk in rows.chunks(500) {
        sql.push_str(&format!(
            "INSERT INTO {table} ({columns}) VALUES {};",
            chunk.join(",")
        ));
    }
    sql.push_str("COMMIT;");
    sql
}

fn course_id(i: usize) -> String {
    format!("bench-course-{i:06}")
}

/// The synthetic catalog and behaviour, written straight to the database.
fn populate(
    items: usize,
    users: usize,
) -> impl FnOnce(&mut lyceum::db::DbConnection) -> Result<(), DbError> {
    move |conn| {
        let now = "2026-11-22 00:00:00";
        let instructors: Vec<String> = (0..INSTRUCTORS)
            .map(|i| {
                format!(
                    "('bench-instructor-{i}', 'i{i}@bench.example', 'x', 'Instructor {i}', 'instructor', '{now}', '{now}')"
                )
            })
            .collect();
        let mut courses = Vec::with_capacity(items);
        let mut tags = Vec::with_capacity(items * 2);
        for i in 0..items {
            let (a, b) = (i % TAGS, (i * 7 + 3) % TAGS);
            courses.push(format!(
                "('{id}', 'bench-instructor-{ins}', 'Course {i} on topic{a}', 'Learn topic{a} and topic{b} in depth.', 'cat{c}', NULL, 0, 'EUR', 'beginner', 'en', 'published', NULL, 'course {i}', 0, 0, 0, 0, '{now}', '{now}', '{now}')",
                id = course_id(i),
                ins = i % INSTRUCTORS,
                c = a % 20,
            ));
            tags.push(format!("('{}', 'topic{a}')", course_id(i)));
            if b != a {
                tags.push(format!("('{}', 'topic{b}')", course_id(i)));
            }
        }
        let mut rng = Lcg(42);
        let mut events = Vec::with_capacity(users * 20);
        for u in 0..users {
            let cluster = u % TAGS;
            for e in 0..20 {
                // A course of the user's cluster: ids ≡ cluster (mod TAGS).
                let k = rng.below(items / TAGS);
                let item = (k * TAGS + cluster).min(items - 1);
                events.push(format!(
                    "('bench-ev-{u}-{e}', 'bench-user-{u}', '{}', 'course_view', 1.0, '2026-11-2{} 0{}:00:00', NULL)",
                    course_id(item),
                    1 + e % 2,
                    e % 10,
                ));
            }
        }
        let sql = [
            insert_sql(
                "users",
                "id, email, password_hash, display_name, role, created_at, updated_at",
                &instructors,
            ),
            insert_sql(
                "courses",
                "id, instructor_id, title, description, category, cover_image_url, price_minor, currency, level, language, status, rejection_reason, search_text, rating_count, rating_sum, rating_avg, enrollment_count, published_at, created_at, updated_at",
                &courses,
            ),
            insert_sql("course_tags", "course_id, tag", &tags),
            insert_sql(
                "behavior_events",
                "id, user_id, course_id, kind, weight, occurred_at, detail",
                &events,
            ),
        ];
        for s in sql {
            conn.batch_execute(&s).map_err(DbError::from)?;
        }
        Ok(())
    }
}

async fn login(client: &reqwest::Client, base: &str, email: &str) -> String {
    let body: Value = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("json");
    body["access_token"].as_str().expect("token").to_owned()
}

/// Requests at `rate` per second in all, spread over `clients` loops, until `stop` says so.
/// Each request has an intended send time on a fixed schedule and its latency counts from
/// then, so a stalled server is charged for the requests it delayed (no coordinated omission).
/// Latencies in microseconds.
async fn load(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    items: usize,
    (clients, rate): (usize, usize),
    stop: impl Fn() -> bool + Copy,
) -> Vec<u64> {
    let interval = Duration::from_secs_f64(clients as f64 / rate.max(1) as f64);
    let loops = (0..clients).map(|c| async move {
        let mut rng = Lcg(c as u64 + 7);
        let mut took = Vec::new();
        let mut due = Instant::now() + interval.mul_f64(c as f64 / clients as f64);
        while !stop() {
            tokio::time::sleep_until(due.into()).await;
            let url = if took.len() % 2 == 0 {
                format!("{base}/api/v1/recommendations?limit=10")
            } else {
                format!(
                    "{base}/api/v1/courses/{}/similar?limit=10",
                    course_id(rng.below(items))
                )
            };
            let resp = client
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .expect("request");
            assert!(resp.status().is_success(), "{}", resp.status());
            let _ = resp.bytes().await;
            took.push(due.elapsed().as_micros() as u64);
            due += interval;
        }
        took
    });
    join_all(loops).await.into_iter().flatten().collect()
}

fn summary(label: &str, mut took: Vec<u64>) {
    took.sort_unstable();
    let at = |q: f64| took[((took.len() as f64 * q) as usize).min(took.len() - 1)] as f64 / 1000.0;
    println!(
        "{label}: {} requests, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        took.len(),
        at(0.50),
        at(0.99),
        at(1.0)
    );
}

#[actix_web::main]
async fn main() {
    lyceum::telemetry::init_tracing();
    let items = env_or("LYCEUM_BENCH_ITEMS", 100_000).max(TAGS);
    let users = env_or("LYCEUM_BENCH_USERS", 20_000);
    let clients = env_or("LYCEUM_BENCH_CONCURRENCY", 8).max(1);
    let rate = env_or("LYCEUM_BENCH_RATE", 200);
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let data_dir = dir.path().display().to_string();
    let settings = Settings::from_lookup(|key| match key {
        "DATABASE_URL" => Some(url.clone()),
        "LYCEUM_DATA_DIR" => Some(data_dir.clone()),
        "LYCEUM_BIND" => Some("127.0.0.1:0".into()),
        // Only the refit this benchmark asks for.
        "LYCEUM_RECOMMEND_REBUILD_EVENTS" => Some("1000000000".into()),
        "LYCEUM_RECOMMEND_CHECK_SECS" => Some("3600".into()),
        _ => None,
    })
    .expect("settings");

    let db = open_database(&settings).await.expect("database");
    let started = Instant::now();
    db.run(populate(items, users)).await.expect("populate");
    let admin = NewAccount::parse("admin@bench.example", PASSWORD, "Admin").expect("account");
    let learner = NewAccount::parse("learner@bench.example", PASSWORD, "Learner").expect("account");
    db.run(move |c| {
        accounts::create_user(c, &admin, Role::Admin)?;
        accounts::create_user(c, &learner, Role::Learner)
    })
    .await
    .expect("accounts");
    println!(
        "{items} courses, {} events written in {:.1} s",
        users * 20,
        started.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    let app = Application::build(settings).await.expect("build");
    println!(
        "server start with the index built from the database: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let base = format!("http://127.0.0.1:{}", app.port());
    let _server = actix_web::rt::spawn(app.run_until_stopped());
    let client = reqwest::Client::new();
    let admin = login(&client, &base, "admin@bench.example").await;
    let learner = login(&client, &base, "learner@bench.example").await;
    let events: Vec<Value> = (0..5)
        .map(|i| json!({"kind": "course_view", "course_id": course_id(i * TAGS + 17)}))
        .collect();
    let resp = client
        .post(format!("{base}/api/v1/events"))
        .bearer_auth(&learner)
        .json(&json!({"events": events}))
        .send()
        .await
        .expect("events");
    assert!(resp.status().is_success());

    let quiet_until = Instant::now() + Duration::from_secs(10);
    let quiet = load(&client, &base, &learner, items, (clients, rate), || {
        Instant::now() >= quiet_until
    })
    .await;
    summary("quiet server", quiet);

    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = done.clone();
    let (report, during) = tokio::join!(
        async {
            let report: Value = client
                .post(format!("{base}/api/v1/admin/recommendations/rebuild"))
                .bearer_auth(&admin)
                .send()
                .await
                .expect("rebuild")
                .json()
                .await
                .expect("json");
            flag.store(true, std::sync::atomic::Ordering::SeqCst);
            report
        },
        load(&client, &base, &learner, items, (clients, rate), || {
            done.load(std::sync::atomic::Ordering::SeqCst)
        })
    );
    println!("refit: {report}");
    summary("during the refit", during);
    // Where the time goes: the in-memory part of each query, as the server measured it.
    let metrics = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    for line in metrics.lines().filter(|l| {
        l.starts_with("recommend_query_duration_seconds_sum")
            || l.starts_with("recommend_query_duration_seconds_count")
            || l.starts_with("http_request_duration_seconds_sum")
            || l.starts_with("http_request_duration_seconds_count")
    }) {
        if line.contains("recommend") || line.contains("similar") {
            println!("{line}");
        }
    }
}
