//! End-to-end purchase throughput: checkout → sandbox confirmation → signed webhook → order
//! paid and learner entitled, measured against the real server over HTTP.
//!
//! `cargo bench --bench purchases` runs on a fresh SQLite file; with
//! `LYCEUM_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres` it runs on a fresh
//! PostgreSQL database instead. `LYCEUM_BENCH_PURCHASES` (default 400) and
//! `LYCEUM_BENCH_CONCURRENCY` (default 16) shape the run. Prints purchases per second and the
//! latency of one purchase (checkout to entitled) at p50/p90/p99.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use diesel::{Connection, RunQueryDsl};
use futures_util::future::join_all;
use serde_json::{Value, json};

use lyceum::config::Settings;
use lyceum::startup::Application;

fn env_or(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn post(
    client: &reqwest::Client,
    url: String,
    token: Option<&str>,
    key: Option<&str>,
    body: Value,
) -> Value {
    let mut req = client.post(url).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(k) = key {
        req = req.header("idempotency-key", k);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{status}: {body}");
    body
}

#[actix_web::main]
async fn main() {
    let purchases = env_or("LYCEUM_BENCH_PURCHASES", 400);
    let concurrency = env_or("LYCEUM_BENCH_CONCURRENCY", 16).max(1);
    let dir = tempfile::tempdir().expect("temp dir");
    let (database_url, backend, pg) = match std::env::var("LYCEUM_BENCH_DATABASE_URL") {
        Ok(base) => {
            let name = format!("lyceum_bench_{}", uuid::Uuid::new_v4().simple());
            let mut conn = diesel::PgConnection::establish(&base).expect("postgres reachable");
            diesel::sql_query(format!("CREATE DATABASE \"{name}\""))
                .execute(&mut conn)
                .expect("create db");
            let (head, _) = base.rsplit_once('/').expect("URL with a database");
            (format!("{head}/{name}"), "postgres", Some((base, name)))
        }
        Err(_) => (
            format!("sqlite://{}", dir.path().join("bench.db").display()),
            "sqlite",
            None,
        ),
    };
    let vars: HashMap<&str, String> = HashMap::from([
        ("LYCEUM_BIND", "127.0.0.1:0".into()),
        ("LYCEUM_DATA_DIR", dir.path().display().to_string()),
        ("DATABASE_URL", database_url.clone()),
        ("LYCEUM_LOGIN_MAX_FAILURES_PER_IP", "100000".into()),
    ]);
    let settings = Settings::from_lookup(|k| vars.get(k).cloned()).expect("settings");
    let app = Application::build(settings).await.expect("server");
    let base = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    actix_web::rt::spawn(app.run_until_stopped());
    let client = reqwest::Client::new();

    // Provisioning, outside the measured window: an admin, an instructor, courses, learners.
    let db = lyceum::startup::open_database(
        &Settings::from_lookup(|k| vars.get(k).cloned()).expect("settings"),
    )
    .await
    .expect("db");
    let staff = |email: &'static str, role| {
        let db = db.clone();
        async move {
            let new =
                lyceum::accounts::service::NewAccount::parse(email, "bench password 123", "Staff")
                    .expect("account");
            db.run(move |c| lyceum::accounts::service::create_user(c, &new, role))
                .await
                .expect("staff");
        }
    };
    staff("admin@bench.dev", lyceum::accounts::Role::Admin).await;
    staff("teacher@bench.dev", lyceum::accounts::Role::Instructor).await;
    let login = |email: &'static str| {
        let (client, base) = (client.clone(), base.clone());
        async move {
            post(
                &client,
                format!("{base}/api/v1/auth/login"),
                None,
                None,
                json!({"email": email, "password": "bench password 123"}),
            )
            .await["access_token"]
                .as_str()
                .expect("token")
                .to_owned()
        }
    };
    let (admin, teacher) = (
        login("admin@bench.dev").await,
        login("teacher@bench.dev").await,
    );
    let courses_n = 20;
    let mut courses = Vec::new();
    for i in 0..courses_n {
        let c = post(&client, format!("{base}/api/v1/courses"), Some(&teacher), None,
            json!({"title": format!("Bench course {i}"), "category": "bench", "price": {"amount_minor": 1000 + i, "currency": "EUR"}})).await;
        let id = c["id"].as_str().expect("course id").to_owned();
        post(
            &client,
            format!("{base}/api/v1/courses/{id}/lessons"),
            Some(&teacher),
            None,
            json!({"title": "L", "body": "B", "duration_secs": 60}),
        )
        .await;
        post(
            &client,
            format!("{base}/api/v1/courses/{id}/submit"),
            Some(&teacher),
            None,
            json!({}),
        )
        .await;
        post(
            &client,
            format!("{base}/api/v1/courses/{id}/approve"),
            Some(&admin),
            None,
            json!({}),
        )
        .await;
        courses.push(id);
    }
    let learners_n = purchases.div_ceil(courses_n);
    let mut learners = Vec::new();
    for i in 0..learners_n {
        let r = post(&client, format!("{base}/api/v1/auth/register"), None, None,
            json!({"email": format!("l{i}@bench.dev"), "password": "bench password 123", "display_name": "L"})).await;
        learners.push(r["access_token"].as_str().expect("token").to_owned());
    }
    let jobs: Vec<(String, String)> = (0..purchases)
        .map(|n| {
            (
                learners[n / courses_n].clone(),
                courses[n % courses_n].clone(),
            )
        })
        .collect();

    // Measured: each worker buys its share one purchase at a time.
    let started = Instant::now();
    let chunks: Vec<Vec<(String, String)>> = (0..concurrency)
        .map(|w| jobs.iter().skip(w).step_by(concurrency).cloned().collect())
        .collect();
    let latencies: Vec<Duration> = join_all(chunks.into_iter().map(|chunk| {
        let (client, base) = (client.clone(), base.clone());
        async move {
            let mut lat = Vec::new();
            for (token, course) in chunk {
                let t0 = Instant::now();
                let order = post(
                    &client,
                    format!("{base}/api/v1/orders"),
                    Some(&token),
                    Some(&uuid::Uuid::new_v4().to_string()),
                    json!({"course_id": course}),
                )
                .await;
                let (id, pid) = (
                    order["id"].as_str().expect("id").to_owned(),
                    order["payment"]["id"].as_str().expect("pid").to_owned(),
                );
                post(
                    &client,
                    format!("{base}/api/v1/sandbox/payments/{pid}/confirm"),
                    None,
                    None,
                    json!({"card_number": "4242424242424242"}),
                )
                .await;
                loop {
                    let o: Value = client
                        .get(format!("{base}/api/v1/orders/{id}"))
                        .bearer_auth(&token)
                        .send()
                        .await
                        .expect("get")
                        .json()
                        .await
                        .expect("json");
                    if o["status"] == "paid" {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                lat.push(t0.elapsed());
            }
            lat
        }
    }))
    .await
    .into_iter()
    .flatten()
    .collect();
    let elapsed = started.elapsed();
    let mut sorted = latencies.clone();
    sorted.sort();
    let pct = |p: f64| sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)];
    println!(
        "purchases backend={backend} purchases={} concurrency={concurrency} elapsed={:.2}s rate={:.1}/s latency p50={:.1}ms p90={:.1}ms p99={:.1}ms",
        sorted.len(),
        elapsed.as_secs_f64(),
        sorted.len() as f64 / elapsed.as_secs_f64(),
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.90).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
    );
    handle.stop(true).await;
    if let Some((base, name)) = pg
        && let Ok(mut conn) = diesel::PgConnection::establish(&base)
    {
        let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .execute(&mut conn);
    }
}
