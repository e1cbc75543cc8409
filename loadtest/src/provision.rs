//! Everything a scenario needs, created through the HTTP API before the measured window, on an
//! empty server: an instructor with a free published course and a started live session per
//! room, learners enrolled in the courses of their rooms, and for consultations a published
//! expert with round-the-clock availability and a paid, confirmed booking per pair.
//!
//! The only thing the tool cannot create over HTTP is an admin, whom course approval and role
//! changes need: the operator makes one with `lyceum admin create` and passes its credentials
//! (`--admin-email`, `--admin-password` or the `LYCEUM_LOADTEST_ADMIN_*` variables).
//!
//! Registration hashes a password with argon2 on the server, the slowest thing here, so
//! accounts are registered a bounded number at a time and reused: a learner account holds one
//! connection in each of up to `connections_per_user` rooms. Every account is named after the
//! run (`lt-<run>-…`), so runs against the same server never collide.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::{StreamExt, TryStreamExt, stream};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::scenario::{Consultations, Scenario};

/// The password of every generated account.
const PASSWORD: &str = "lyceum load test password";
/// Requests in flight at once for cheap calls (enrolments, courses).
const CHEAP_CONCURRENCY: usize = 32;
/// How long a booking may take to be confirmed by the sandbox's webhook.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(60);

/// An admin account the operator created.
#[derive(Debug, Clone)]
pub struct AdminCredentials {
    /// Email.
    pub email: String,
    /// Password.
    pub password: String,
}

/// A thin JSON client of one node's `/api/v1`.
#[derive(Clone)]
pub struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    /// A client of `base` (`http://host:port`).
    pub fn new(base: &str) -> anyhow::Result<Self> {
        Ok(Self {
            base: format!("{}/api/v1", base.trim_end_matches('/')),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .pool_max_idle_per_host(CHEAP_CONCURRENCY)
                .build()?,
        })
    }

    /// Sends `body` to `path` and returns the JSON answer, or an error naming the request and
    /// the server's error code and message.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = &body {
            req = req.json(b);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("{method} {path}"))?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        if !status.is_success() {
            bail!("{method} {path}: {status}: {text}");
        }
        if text.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).with_context(|| format!("{method} {path}: answer is not JSON"))
    }

    async fn post(&self, path: &str, token: Option<&str>, body: Value) -> anyhow::Result<Value> {
        self.call(reqwest::Method::POST, path, token, Some(body))
            .await
    }
}

/// A generated (or the admin's) account and its current tokens.
pub struct Account {
    /// User id.
    pub id: String,
    tokens: Mutex<Tokens>,
}

struct Tokens {
    access: Arc<str>,
    refresh: String,
    /// Refresh before this.
    fresh_until: Instant,
}

impl Tokens {
    fn from_answer(v: &Value) -> anyhow::Result<Self> {
        let field = |k: &str| {
            v[k].as_str()
                .map(str::to_owned)
                .with_context(|| format!("token answer without {k}: {v}"))
        };
        let ttl = v["expires_in"].as_u64().unwrap_or(900);
        Ok(Self {
            access: field("access_token")?.into(),
            refresh: field("refresh_token")?,
            // Refresh with a margin: a reconnect must never present an expired token.
            fresh_until: Instant::now() + Duration::from_secs(ttl.saturating_sub(ttl / 4)),
        })
    }
}

impl Account {
    fn from_answer(v: &Value) -> anyhow::Result<Self> {
        Ok(Self {
            id: v["user"]["id"]
                .as_str()
                .with_context(|| format!("token answer without user.id: {v}"))?
                .to_owned(),
            tokens: Mutex::new(Tokens::from_answer(v)?),
        })
    }

    /// A valid access token, refreshed first when it is close to expiry. One refresh per
    /// account at a time: refresh tokens are single-use, and presenting a spent one twice would
    /// revoke the whole family.
    pub async fn access_token(&self, api: &Api) -> anyhow::Result<Arc<str>> {
        let mut t = self.tokens.lock().await;
        if Instant::now() >= t.fresh_until {
            let v = api
                .post(
                    "/auth/refresh",
                    None,
                    json!({"refresh_token": t.refresh.as_str()}),
                )
                .await?;
            *t = Tokens::from_answer(&v)?;
        }
        Ok(t.access.clone())
    }

    /// Forces the next [`Self::access_token`] to refresh (after a role change).
    async fn expire(&self) {
        self.tokens.lock().await.fresh_until = Instant::now();
    }
}

/// One live room and who is in it.
pub struct Room {
    /// Index in the run's room list (also in reports).
    pub index: usize,
    /// `class:<id>` or `consult:<id>`.
    pub name: String,
    /// The instructor (classrooms) or the expert (consultations).
    pub host: Arc<Account>,
    /// The consultation's learner; classrooms' learners are assigned at arrival.
    pub guest: Option<Arc<Account>>,
}

/// What provisioning made.
pub struct World {
    /// Classroom rooms first, then consultation rooms.
    pub rooms: Vec<Room>,
    /// Number of classroom rooms at the front of `rooms`.
    pub classrooms: usize,
    /// Learner accounts of the classrooms.
    pub learners: Vec<Arc<Account>>,
    /// Connections each learner account holds.
    pub connections_per_user: usize,
    /// What it took.
    pub stats: ProvisionStats,
}

impl World {
    /// The learner account and classroom of learner connection `i` (in arrival order; see
    /// [`seat`]).
    pub fn learner_seat(&self, i: usize) -> (Arc<Account>, usize) {
        let (user, room) = seat(i, self.connections_per_user, self.classrooms);
        (self.learners[user].clone(), room)
    }
}

/// (account, room) of learner connection `i`: consecutive connections go to consecutive rooms,
/// and one account's `per_user` connections to distinct rooms while `per_user` <= `rooms`.
pub fn seat(i: usize, per_user: usize, rooms: usize) -> (usize, usize) {
    (i / per_user.max(1), i % rooms.max(1))
}

/// Provisioning figures, reported apart from the measured window.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProvisionStats {
    /// Accounts registered.
    pub accounts: usize,
    /// Courses created and published.
    pub courses: usize,
    /// Live sessions started.
    pub live_sessions: usize,
    /// Enrolments.
    pub enrolments: usize,
    /// Confirmed consultation bookings.
    pub bookings: usize,
    /// Seconds spent registering accounts (argon2 on the server).
    pub register_s: f64,
    /// Seconds for everything.
    pub total_s: f64,
}

/// Creates everything `scenario` needs through `api`.
pub async fn provision(
    api: &Api,
    scenario: &Scenario,
    admin: Option<&AdminCredentials>,
    run_id: &str,
) -> anyhow::Result<World> {
    let started = Instant::now();
    let admin = admin.context(
        "this scenario creates courses or experts, which needs an admin: create one with \
         `lyceum admin create` and pass --admin-email/--admin-password (or \
         LYCEUM_LOADTEST_ADMIN_EMAIL/LYCEUM_LOADTEST_ADMIN_PASSWORD)",
    )?;
    let admin = login(api, admin).await.context("logging in as the admin")?;
    let admin_token = admin.access_token(api).await?;
    let mut stats = ProvisionStats::default();

    let classroom = scenario.classroom.as_ref();
    let rooms = classroom.map_or(0, |c| c.rooms as usize);
    let per_user = classroom.map_or(1, |c| c.connections_per_user as usize);
    let learner_accounts = scenario.population().div_ceil(per_user.max(1));
    let pairs = scenario
        .consultations
        .as_ref()
        .map_or(0, |c| c.pairs as usize);

    // The slow part first: every account, a bounded number at a time.
    let t = Instant::now();
    let hosts = register_many(api, run_id, "host", rooms + pairs, scenario).await?;
    let learners = register_many(api, run_id, "learner", learner_accounts, scenario).await?;
    let guests = register_many(api, run_id, "guest", pairs, scenario).await?;
    stats.register_s = t.elapsed().as_secs_f64();
    stats.accounts = hosts.len() + learners.len() + guests.len();

    // Instructors and experts need the instructor role; tokens issued afterwards carry it.
    stream::iter(&hosts)
        .map(|h| promote(api, &admin_token, h))
        .buffer_unordered(CHEAP_CONCURRENCY)
        .try_collect::<Vec<()>>()
        .await?;

    let mut world_rooms = Vec::with_capacity(rooms + pairs);
    let classrooms: Vec<(String, String)> = stream::iter(0..rooms)
        .map(|i| live_room(api, &admin_token, &hosts[i], run_id, i))
        .buffered(CHEAP_CONCURRENCY)
        .try_collect()
        .await?;
    stats.courses = rooms;
    stats.live_sessions = rooms;
    for (i, (_, live)) in classrooms.iter().enumerate() {
        world_rooms.push(Room {
            index: i,
            name: format!("class:{live}"),
            host: hosts[i].clone(),
            guest: None,
        });
    }

    let enrolments: Vec<(Arc<Account>, String)> = (0..scenario.population())
        .map(|i| {
            let (account, room) = seat(i, per_user, rooms);
            (learners[account].clone(), classrooms[room].0.clone())
        })
        .collect();
    stream::iter(&enrolments)
        .map(|(account, course)| enrol(api, account, course))
        .buffer_unordered(CHEAP_CONCURRENCY)
        .try_collect::<Vec<()>>()
        .await?;
    stats.enrolments = enrolments.len();

    if let Some(c) = &scenario.consultations {
        let bookings: Vec<String> = stream::iter(0..pairs)
            .map(|i| booking(api, &hosts[rooms + i], &guests[i], c))
            .buffered(CHEAP_CONCURRENCY)
            .try_collect()
            .await?;
        for (i, id) in bookings.iter().enumerate() {
            world_rooms.push(Room {
                index: rooms + i,
                name: format!("consult:{id}"),
                host: hosts[rooms + i].clone(),
                guest: Some(guests[i].clone()),
            });
        }
        stats.bookings = pairs;
    }
    stats.total_s = started.elapsed().as_secs_f64();
    Ok(World {
        rooms: world_rooms,
        classrooms: rooms,
        learners,
        connections_per_user: per_user,
        stats,
    })
}

async fn login(api: &Api, admin: &AdminCredentials) -> anyhow::Result<Account> {
    let v = api
        .post(
            "/auth/login",
            None,
            json!({"email": admin.email, "password": admin.password}),
        )
        .await?;
    Account::from_answer(&v)
}

/// Registers `n` accounts named `lt-<run>-<kind><i>@loadtest.invalid`.
async fn register_many(
    api: &Api,
    run_id: &str,
    kind: &str,
    n: usize,
    scenario: &Scenario,
) -> anyhow::Result<Vec<Arc<Account>>> {
    stream::iter(0..n)
        .map(|i| async move {
            let email = format!("lt-{run_id}-{kind}{i}@loadtest.invalid");
            let v = api
                .post(
                    "/auth/register",
                    None,
                    json!({"email": email, "password": PASSWORD, "display_name": format!("{kind} {i}")}),
                )
                .await?;
            Account::from_answer(&v).map(Arc::new)
        })
        .buffered(scenario.provision.concurrency)
        .try_collect()
        .await
}

async fn promote(api: &Api, admin: &str, host: &Arc<Account>) -> anyhow::Result<()> {
    api.call(
        reqwest::Method::PUT,
        &format!("/admin/users/{}/role", host.id),
        Some(admin),
        Some(json!({"role": "instructor"})),
    )
    .await?;
    host.expire().await;
    Ok(())
}

/// A free published course of `host` with a started live session; returns (course, session).
async fn live_room(
    api: &Api,
    admin: &str,
    host: &Account,
    run_id: &str,
    i: usize,
) -> anyhow::Result<(String, String)> {
    let token = host.access_token(api).await?;
    let token = Some(token.as_ref());
    let course = api
        .post(
            "/courses",
            token,
            json!({
                "title": format!("Load test {run_id} room {i}"),
                "description": "Created by lyceum-loadtest.",
                "category": "load-testing",
                "price": {"amount_minor": 0, "currency": "EUR"},
            }),
        )
        .await?;
    let course = id_of(&course)?;
    api.post(
        &format!("/courses/{course}/lessons"),
        token,
        json!({"title": "Lesson", "body": "text", "free_preview": true, "duration_secs": 60}),
    )
    .await?;
    api.post(&format!("/courses/{course}/submit"), token, json!({}))
        .await?;
    api.post(
        &format!("/courses/{course}/approve"),
        Some(admin),
        json!({}),
    )
    .await?;
    let live = api
        .post(
            &format!("/courses/{course}/live-sessions"),
            token,
            json!({"title": format!("Room {i}"), "starts_at": "2030-01-01T10:00:00Z"}),
        )
        .await?;
    let live = id_of(&live)?;
    api.post(&format!("/live-sessions/{live}/start"), token, json!({}))
        .await?;
    Ok((course, live))
}

async fn enrol(api: &Api, learner: &Account, course: &str) -> anyhow::Result<()> {
    let token = learner.access_token(api).await?;
    api.post(
        &format!("/courses/{course}/enroll"),
        Some(&token),
        json!({}),
    )
    .await
    .map(drop)
}

/// Publishes `expert` with availability around the clock, books the next slot for `learner`,
/// pays it with the sandbox's test card and waits for the webhook to confirm it; returns the
/// booking id.
async fn booking(
    api: &Api,
    expert: &Account,
    learner: &Account,
    c: &Consultations,
) -> anyhow::Result<String> {
    let et = expert.access_token(api).await?;
    api.call(
        reqwest::Method::PUT,
        "/experts/me",
        Some(&et),
        Some(json!({
            "headline": "Load test expert", "languages": ["en"], "rate_per_minute_minor": 10,
            "currency": "EUR", "min_minutes": 5, "max_minutes": 240, "time_zone": "UTC",
            "published": true
        })),
    )
    .await?;
    let windows: Vec<Value> = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        .iter()
        .map(|d| json!({"weekday": d, "start": "00:00", "end": "24:00"}))
        .collect();
    api.call(
        reqwest::Method::PUT,
        "/experts/me/availability",
        Some(&et),
        Some(json!({"windows": windows})),
    )
    .await?;
    let lt = learner.access_token(api).await?;
    let booked = api
        .post(
            &format!("/experts/{}/bookings", expert.id),
            Some(&lt),
            json!({"starts_at": next_slot(), "minutes": c.minutes}),
        )
        .await?;
    let id = booked["booking"]["id"]
        .as_str()
        .with_context(|| format!("booking answer without booking.id: {booked}"))?
        .to_owned();
    let payment = booked["payment"]["id"]
        .as_str()
        .with_context(|| format!("booking answer without payment.id: {booked}"))?;
    api.post(
        &format!("/sandbox/payments/{payment}/confirm"),
        Some(&lt),
        json!({"card_number": "4242 4242 4242 4242"}),
    )
    .await?;
    let deadline = Instant::now() + CONFIRM_TIMEOUT;
    loop {
        let b = api
            .call(
                reqwest::Method::GET,
                &format!("/bookings/{id}"),
                Some(&lt),
                None,
            )
            .await?;
        if b["status"] == "confirmed" {
            return Ok(id);
        }
        if Instant::now() > deadline {
            bail!("booking {id} was not confirmed within {CONFIRM_TIMEOUT:?}: {b}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The first 5-minute boundary at least one minute from now, RFC 3339 in UTC.
fn next_slot() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let slot = (now + 60) / 300 * 300 + 300;
    rfc3339(slot)
}

/// Unix seconds as `YYYY-MM-DDTHH:MM:SSZ` (civil-from-days, proleptic Gregorian).
fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn id_of(v: &Value) -> anyhow::Result<String> {
    v["id"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("answer without id: {v}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_formats_unix_seconds() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_795_334_400), "2026-11-22T08:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }
}
