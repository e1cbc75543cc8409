//! The `lyceum` binary's subcommands, run as a user would run them.

use std::io::Write;
use std::process::{Command, Stdio};

use lyceum::accounts::store;

use crate::backend_tests;
use crate::helpers::{Backend, PASSWORD, assert_error, spawn_app};

backend_tests!(
    admin_create_bootstraps_an_admin_who_can_log_in,
    admin_create_refuses_bad_input,
    seed_demo_is_idempotent,
    migrate_is_repeatable,
);

/// Runs the `lyceum` binary on `app`'s database with `args` (and `stdin`).
pub(crate) fn lyceum(
    app: &crate::helpers::TestApp,
    args: &[&str],
    stdin: Option<&str>,
) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lyceum"))
        .args(args)
        .env("DATABASE_URL", &app.database_url)
        .env("LYCEUM_DATA_DIR", &app.data_dir)
        .env("LYCEUM_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run lyceum");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("lyceum output")
}

async fn admin_create_bootstraps_an_admin_who_can_log_in(backend: Backend) {
    let app = spawn_app(backend).await;
    let out = lyceum(
        &app,
        &[
            "admin",
            "create",
            "--email",
            "boss@example.org",
            "--password-stdin",
        ],
        Some(&format!("{PASSWORD}\n")),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let resp = app.login("boss@example.org", PASSWORD).await;
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["user"]["role"], "admin");
}

async fn admin_create_refuses_bad_input(backend: Backend) {
    let app = spawn_app(backend).await;
    let no_flag = lyceum(
        &app,
        &["admin", "create", "--email", "a@example.org"],
        Some("x\n"),
    );
    assert!(!no_flag.status.success());
    let short = lyceum(
        &app,
        &[
            "admin",
            "create",
            "--email",
            "a@example.org",
            "--password-stdin",
        ],
        Some("short\n"),
    );
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("password"));
    app.register("taken@example.org").await;
    let taken = lyceum(
        &app,
        &[
            "admin",
            "create",
            "--email",
            "taken@example.org",
            "--password-stdin",
        ],
        Some(&format!("{PASSWORD}\n")),
    );
    assert!(!taken.status.success());
    assert_error(
        app.login("a@example.org", PASSWORD).await,
        401,
        "unauthorized",
    )
    .await;
}

async fn seed_demo_is_idempotent(backend: Backend) {
    let app = spawn_app(backend).await;
    let first = lyceum(&app, &["seed-demo"], None);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let db = app.db().await;
    let count = || {
        let db = db.clone();
        async move {
            db.run(|c| store::count_users(c).map_err(lyceum::db::DbError::from))
                .await
                .unwrap()
        }
    };
    let after_first = count().await;
    assert!(after_first >= 10);
    let catalog_first = catalog_snapshot(&app).await;
    assert_eq!(catalog_first.0, 6, "published demo courses");
    assert_eq!(catalog_first.1, 3, "free ones");
    assert_eq!(
        (catalog_first.2, catalog_first.3),
        (1, 1),
        "one draft, one in review"
    );
    assert!(catalog_first.4 >= 10, "enrolments and reviews");
    let second = lyceum(&app, &["seed-demo"], None);
    assert!(second.status.success());
    assert!(String::from_utf8_lossy(&second.stdout).contains("0 created"));
    assert_eq!(count().await, after_first);
    assert_eq!(catalog_snapshot(&app).await, catalog_first);
    let resp = app
        .login("admin@demo.lyceum.dev", lyceum::seed::DEMO_PASSWORD)
        .await;
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["user"]["role"], "admin");

    // Paid purchases went through the real order flow: paid orders, access, balanced books.
    let admin = body["access_token"].as_str().unwrap().to_owned();
    let revenue: serde_json::Value = app
        .get("/api/v1/admin/revenue", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    let currencies = revenue.as_array().unwrap();
    assert_eq!(currencies.len(), 2, "EUR and USD sales: {revenue}");
    assert!(
        currencies
            .iter()
            .all(|r| r["trial_balance_minor"] == 0 && r["collected_minor"].as_i64() > Some(0))
    );
    let maria: serde_json::Value = app
        .login("maria@demo.lyceum.dev", lyceum::seed::DEMO_PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    let orders: serde_json::Value = app
        .get("/api/v1/orders", maria["access_token"].as_str())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(orders.as_array().unwrap().len(), 1, "{orders}");
    assert_eq!(orders[0]["status"], "paid");

    // Live sessions: one live now, one scheduled, on the free Rust course.
    let found: serde_json::Value = app
        .get("/api/v1/courses?q=first%20steps", None)
        .await
        .json()
        .await
        .unwrap();
    let course = found["items"][0]["id"].as_str().unwrap().to_owned();
    let sessions: serde_json::Value = app
        .get(&format!("/api/v1/courses/{course}/live-sessions"), None)
        .await
        .json()
        .await
        .unwrap();
    let statuses: Vec<&str> = sessions
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["live", "scheduled"], "{sessions}");

    // Two published experts with weekly availability, findable by tag.
    let experts: serde_json::Value = app.get("/api/v1/experts", None).await.json().await.unwrap();
    assert_eq!(experts["total"], 2, "{experts}");
    let numerics: serde_json::Value = app
        .get("/api/v1/experts?tag=numerics", None)
        .await
        .json()
        .await
        .unwrap();
    let katherine = numerics["items"][0]["id"].as_str().unwrap().to_owned();
    let from = chrono::Utc::now();
    let to = from + chrono::Duration::days(7);
    let free: serde_json::Value = app
        .get(
            &format!(
                "/api/v1/experts/{katherine}/availability?from={}&to={}",
                from.to_rfc3339().replace('+', "%2B"),
                to.to_rfc3339().replace('+', "%2B")
            ),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(
        free["intervals"].as_array().is_some_and(|v| !v.is_empty()),
        "{free}"
    );
    // Paid questions: Katherine answered one publicly; the books still balance.
    let answered: serde_json::Value = app
        .get(&format!("/api/v1/experts/{katherine}/questions"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        answered["items"].as_array().map(Vec::len),
        Some(1),
        "{answered}"
    );
}

/// Counts of the seeded catalog: published, free, drafts, in review, and reviews plus
/// enrolments across published courses.
async fn catalog_snapshot(app: &crate::helpers::TestApp) -> (i64, i64, i64, i64, i64) {
    let get = |path: String, token: Option<String>| async move {
        let resp = app.get(&path, token.as_deref()).await;
        assert_eq!(resp.status(), 200, "{path}");
        resp.json::<serde_json::Value>().await.unwrap()
    };
    let login: serde_json::Value = app
        .login("admin@demo.lyceum.dev", lyceum::seed::DEMO_PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    let admin = login["access_token"].as_str().map(str::to_owned);
    let published = get("/api/v1/courses".into(), None).await;
    let free = get("/api/v1/courses?free=true".into(), None).await;
    let drafts = get("/api/v1/admin/courses?status=draft".into(), admin.clone()).await;
    let queue = get("/api/v1/admin/courses?status=in_review".into(), admin).await;
    let activity: i64 = published["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["rating"]["count"].as_i64().unwrap() + c["enrollment_count"].as_i64().unwrap())
        .sum();
    let total = |v: &serde_json::Value| v["total"].as_i64().unwrap();
    (
        total(&published),
        total(&free),
        total(&drafts),
        total(&queue),
        activity,
    )
}

async fn migrate_is_repeatable(backend: Backend) {
    let app = spawn_app(backend).await;
    for _ in 0..2 {
        let out = lyceum(&app, &["migrate"], None);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(app.get("/readyz", None).await.status(), 200);
}
