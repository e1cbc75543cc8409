//! The test harness: every test gets the real server on 127.0.0.1:0 with a database of its own
//! (a fresh SQLite file, or a fresh PostgreSQL database that is dropped afterwards) and talks
//! to it over real HTTP.

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::dev::ServerHandle;
use diesel::{Connection, RunQueryDsl};
use lyceum::accounts::domain::Role;
use lyceum::accounts::service::{self, NewAccount};
use lyceum::clock::ManualClock;
use lyceum::config::Settings;
use lyceum::db::{Db, PoolOptions};
use lyceum::startup::{Application, Stopper};
use reqwest::{Method, RequestBuilder, Response};
use serde_json::{Value, json};

/// The password every test user gets.
pub const PASSWORD: &str = "correct horse battery staple";

/// Which database a test runs against.
#[derive(Clone, Debug)]
pub enum Backend {
    /// A fresh SQLite file in a temporary directory.
    Sqlite,
    /// A fresh database on the server named by `LYCEUM_TEST_DATABASE_URL`.
    Postgres(String),
}

impl Backend {
    /// The PostgreSQL backend when `LYCEUM_TEST_DATABASE_URL` is set. In CI (`CI` set) a
    /// missing URL is a failure, so the PostgreSQL suite can never be skipped silently there.
    pub fn postgres() -> Option<Self> {
        match std::env::var("LYCEUM_TEST_DATABASE_URL") {
            Ok(url) if !url.trim().is_empty() => Some(Self::Postgres(url)),
            _ if std::env::var_os("CI").is_some() => {
                panic!(
                    "CI is set but LYCEUM_TEST_DATABASE_URL is not: the PostgreSQL suite must run"
                )
            }
            _ => {
                eprintln!("LYCEUM_TEST_DATABASE_URL not set: skipping the PostgreSQL variant");
                None
            }
        }
    }
}

/// Generates, for each named `async fn(Backend)`, one test on SQLite and one on PostgreSQL.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[actix_web::test]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[actix_web::test]
                async fn $name() {
                    if let Some(backend) = $crate::helpers::Backend::postgres() {
                        super::$name(backend).await
                    }
                }
            )*
        }
    };
}

/// A running server and what a test needs to talk to it.
pub struct TestApp {
    /// `http://127.0.0.1:<port>` (`http://[::1]:<port>` when bound to IPv6).
    pub address: String,
    /// Shared HTTP client.
    pub client: reqwest::Client,
    /// The database URL the server uses (for direct checks and restarts).
    pub database_url: String,
    /// The data directory (JWT secret, SQLite file).
    pub data_dir: std::path::PathBuf,
    /// The server's consultation clock; tests move it instead of sleeping.
    pub clock: Arc<ManualClock>,
    /// Stops abruptly ([`TestApp::halt`]).
    handle: ServerHandle,
    /// Stops as SIGTERM does ([`TestApp::stop`]).
    stopper: Stopper,
    _dir: Option<tempfile::TempDir>,
    pg_cleanup: Option<(String, String)>,
}

/// A registered user and their tokens.
#[derive(Clone)]
pub struct TestUser {
    /// User id.
    pub id: String,
    /// Current access token.
    pub access_token: String,
    /// Current refresh token.
    pub refresh_token: String,
}

/// Starts a server on a fresh database with default settings.
pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, &[]).await
}

/// Starts a server on a fresh database, with `overrides` applied to the environment.
pub async fn spawn_app_with(backend: Backend, overrides: &[(&str, &str)]) -> TestApp {
    lyceum::telemetry::init_tracing_for_tests();
    let dir = tempfile::tempdir().expect("temp dir");
    let (database_url, pg_cleanup) = match backend {
        Backend::Sqlite => (
            format!("sqlite://{}", dir.path().join("test.db").display()),
            None,
        ),
        Backend::Postgres(base) => {
            let (url, name) = create_pg_database(&base).await;
            (url, Some((base, name)))
        }
    };
    let mut app = start(&database_url, dir.path(), overrides).await;
    app._dir = Some(dir);
    app.pg_cleanup = pg_cleanup;
    app
}

/// Starts another server on an existing database and data directory (a restart).
pub async fn start(
    database_url: &str,
    data_dir: &std::path::Path,
    overrides: &[(&str, &str)],
) -> TestApp {
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    start_with_clock(database_url, data_dir, overrides, clock).await
}

/// `start` with a given clock (a restart that keeps the time where the test moved it).
pub async fn start_with_clock(
    database_url: &str,
    data_dir: &std::path::Path,
    overrides: &[(&str, &str)],
    clock: Arc<ManualClock>,
) -> TestApp {
    let mut vars: HashMap<String, String> = [
        ("LYCEUM_BIND", "127.0.0.1:0"),
        ("LYCEUM_WORKERS", "1"),
        ("LYCEUM_DB_POOL_SIZE", "4"),
        ("LYCEUM_SHUTDOWN_TIMEOUT_SECS", "5"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    vars.insert("DATABASE_URL".into(), database_url.to_owned());
    vars.insert("LYCEUM_DATA_DIR".into(), data_dir.display().to_string());
    for (k, v) in overrides {
        vars.insert((*k).to_owned(), (*v).to_owned());
    }
    let settings = Settings::from_lookup(|k| vars.get(k).cloned()).expect("test settings");
    let host = if settings.bind.is_ipv6() {
        "[::1]"
    } else {
        "127.0.0.1"
    };
    let app = Application::build_with_clock(settings, clock.clone())
        .await
        .expect("server builds");
    let port = app.port();
    let (handle, stopper) = (app.handle(), app.stopper());
    actix_web::rt::spawn(app.run_until_stopped());
    TestApp {
        address: format!("http://{host}:{port}"),
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        database_url: database_url.to_owned(),
        data_dir: data_dir.to_owned(),
        clock,
        handle,
        stopper,
        _dir: None,
        pg_cleanup: None,
    }
}

/// Creates `lyceum_test_<uuid>` on the server of `base` and returns its URL and name.
async fn create_pg_database(base: &str) -> (String, String) {
    let name = format!("lyceum_test_{}", uuid::Uuid::new_v4().simple());
    let url = with_database(base, &name);
    let (base, n) = (base.to_owned(), name.clone());
    actix_web::rt::task::spawn_blocking(move || {
        let mut conn = diesel::PgConnection::establish(&base)
            .unwrap_or_else(|e| panic!("LYCEUM_TEST_DATABASE_URL is unreachable: {e}"));
        diesel::sql_query(format!("CREATE DATABASE \"{n}\""))
            .execute(&mut conn)
            .expect("create test database");
    })
    .await
    .expect("create database task");
    (url, name)
}

/// `base` with its database name replaced by `name`.
fn with_database(base: &str, name: &str) -> String {
    let (scheme, rest) = base.split_once("://").expect("database URL has a scheme");
    let (authority, tail) = rest.split_once('/').unwrap_or((rest, ""));
    let query = tail
        .split_once('?')
        .map(|(_, q)| format!("?{q}"))
        .unwrap_or_default();
    format!("{scheme}://{authority}/{name}{query}")
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Sends the stop command now; the server finishes on its own threads.
        drop(self.handle.stop(false));
        if let Some((base, name)) = self.pg_cleanup.take()
            && let Ok(mut conn) = diesel::PgConnection::establish(&base)
        {
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .execute(&mut conn);
        }
    }
}

impl TestApp {
    /// A request to `path` on this server.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, format!("{}{}", self.address, path))
    }

    /// Sends `body` (if any) as JSON with a bearer token (if any).
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        let mut req = self.request(method, path);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send().await.expect("request")
    }

    /// POSTs JSON.
    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.request(Method::POST, path)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    /// GETs with an optional bearer token.
    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        let mut req = self.request(Method::GET, path);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("request")
    }

    /// Registers `email` with [`PASSWORD`] and returns the new user and tokens.
    pub async fn register(&self, email: &str) -> TestUser {
        let resp = self
            .post_json(
                "/api/v1/auth/register",
                &json!({"email": email, "password": PASSWORD, "display_name": "Test User"}),
            )
            .await;
        assert_eq!(resp.status(), 201, "register {email}");
        TestUser::from_tokens(resp.json().await.expect("json"))
    }

    /// Logs in and returns the raw response.
    pub async fn login(&self, email: &str, password: &str) -> Response {
        self.post_json(
            "/api/v1/auth/login",
            &json!({"email": email, "password": password}),
        )
        .await
    }

    /// Creates a user with `role` directly in the database (as `lyceum admin create` would)
    /// and logs them in.
    pub async fn user_with_role(&self, email: &str, role: Role) -> TestUser {
        let db = self.db().await;
        let new = NewAccount::parse(email, PASSWORD, "Staff").expect("valid account");
        db.run(move |c| service::create_user(c, &new, role))
            .await
            .expect("create user");
        let resp = self.login(email, PASSWORD).await;
        assert_eq!(resp.status(), 200);
        TestUser::from_tokens(resp.json().await.expect("json"))
    }

    /// A pool on the server's database, for direct checks.
    pub async fn db(&self) -> Db {
        let url = self.database_url.clone();
        actix_web::rt::task::spawn_blocking(move || {
            Db::connect(
                &url,
                &PoolOptions {
                    max_size: 2,
                    acquire_timeout: std::time::Duration::from_secs(10),
                },
            )
        })
        .await
        .expect("task")
        .expect("connect")
    }

    /// Stops the server as SIGTERM does and waits until it has stopped.
    pub async fn stop(&self) {
        self.stopper.stop().await;
    }

    /// Stops the server abruptly, as a crash would: no sockets closed, no rooms drained.
    pub async fn halt(&self) {
        self.handle.stop(false).await;
    }
}

impl TestUser {
    /// Builds a user from a token response.
    pub fn from_tokens(body: Value) -> Self {
        Self {
            id: body["user"]["id"].as_str().expect("user id").to_owned(),
            access_token: body["access_token"]
                .as_str()
                .expect("access token")
                .to_owned(),
            refresh_token: body["refresh_token"]
                .as_str()
                .expect("refresh token")
                .to_owned(),
        }
    }
}

/// Asserts the documented error shape and returns the body.
pub async fn assert_error(resp: Response, status: u16, code: &str) -> Value {
    assert_eq!(resp.status(), status, "status");
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(ct.starts_with("application/json"), "content-type {ct}");
    let body: Value = resp.json().await.expect("error body is JSON");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    body
}
