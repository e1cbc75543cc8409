//! Expert profiles over HTTP: publishing and editing, weekly availability expanded across DST
//! changes, blocked days, public search, and the `bookable` check bookings will call.

use chrono::{DateTime, Datelike, Duration, NaiveDate, SecondsFormat, TimeZone, Utc, Weekday};
use reqwest::{Method, Response};
use serde_json::{Value, json};

use lyceum::accounts::domain::Role;
use lyceum::accounts::service::{self, NewAccount};
use lyceum::consultations::experts::{self, ExpertError};
use lyceum::error::ApiError;

use crate::backend_tests;
use crate::helpers::{Backend, PASSWORD, TestApp, TestUser, assert_error, spawn_app};

backend_tests!(
    instructors_publish_and_update_their_profile,
    invalid_profile_input_is_refused_and_changes_nothing,
    unpublished_profiles_are_hidden,
    availability_is_replaced_and_expanded_across_dst,
    invalid_availability_is_refused_and_changes_nothing,
    blocked_days_are_added_and_removed,
    search_filters_and_paginates,
    bookable_checks_terms_and_windows,
);

/// Asserts `status` and returns the JSON body.
async fn json_of(resp: Response, status: u16) -> Value {
    let got = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    assert_eq!(got, status, "{body}");
    body
}

/// A user with `role` and `display_name`, logged in.
async fn user_named(app: &TestApp, email: &str, name: &str, role: Role) -> TestUser {
    let new = NewAccount::parse(email, PASSWORD, name).expect("valid account");
    app.db()
        .await
        .run(move |c| service::create_user(c, &new, role))
        .await
        .expect("create user");
    let resp = app.login(email, PASSWORD).await;
    TestUser::from_tokens(json_of(resp, 200).await)
}

/// A valid, published profile in Berlin.
fn profile(headline: &str, rate: i64) -> Value {
    json!({
        "headline": headline,
        "bio": "Ten years of systems work.",
        "tags": ["Rust", "Async IO"],
        "languages": ["en", "DE"],
        "rate_per_minute_minor": rate,
        "currency": "eur",
        "min_minutes": 15,
        "max_minutes": 60,
        "time_zone": "Europe/Berlin",
        "published": true
    })
}

async fn put_profile(app: &TestApp, who: &TestUser, body: Value) -> Response {
    app.send(
        Method::PUT,
        "/api/v1/experts/me",
        Some(&who.access_token),
        Some(body),
    )
    .await
}

async fn put_windows(app: &TestApp, who: &TestUser, windows: Value) -> Response {
    app.send(
        Method::PUT,
        "/api/v1/experts/me/availability",
        Some(&who.access_token),
        Some(json!({ "windows": windows })),
    )
    .await
}

async fn block(app: &TestApp, who: &TestUser, date: &str) -> Response {
    app.send(
        Method::POST,
        "/api/v1/experts/me/blocked-days",
        Some(&who.access_token),
        Some(json!({ "date": date })),
    )
    .await
}

async fn me(app: &TestApp, who: &TestUser) -> Value {
    json_of(
        app.get("/api/v1/experts/me", Some(&who.access_token)).await,
        200,
    )
    .await
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `GET /experts/{id}/availability` for `[from, to)`, as `(start, end)` strings.
async fn free(
    app: &TestApp,
    id: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<(String, String)> {
    let path = format!(
        "/api/v1/experts/{id}/availability?from={}&to={}",
        rfc3339(from),
        rfc3339(to)
    );
    let body = json_of(app.get(&path, None).await, 200).await;
    body["intervals"]
        .as_array()
        .expect("intervals")
        .iter()
        .map(|i| {
            (
                i["start"].as_str().expect("start").to_owned(),
                i["end"].as_str().expect("end").to_owned(),
            )
        })
        .collect()
}

fn at(date: NaiveDate, hh: u32, mm: u32) -> DateTime<Utc> {
    date.and_hms_opt(hh, mm, 0).expect("time").and_utc()
}

fn text(date: NaiveDate, hh: u32, mm: u32) -> String {
    rfc3339(at(date, hh, mm))
}

/// The UTC instant of a Berlin wall-clock time that exists exactly once.
fn berlin(date: NaiveDate, hh: u32, mm: u32) -> DateTime<Utc> {
    chrono_tz::Europe::Berlin
        .from_local_datetime(&date.and_hms_opt(hh, mm, 0).expect("time"))
        .single()
        .expect("an unambiguous local time")
        .with_timezone(&Utc)
}

/// The last Sunday of `month` in the first year where it is at least nine days away, so the
/// DST tests always look at a change still to come (and a week before it).
fn next_last_sunday(month: u32) -> NaiveDate {
    let soon = Utc::now().date_naive() + Duration::days(9);
    (soon.year()..)
        .map(|year| {
            let first_of_next = if month == 12 {
                NaiveDate::from_ymd_opt(year + 1, 1, 1)
            } else {
                NaiveDate::from_ymd_opt(year, month + 1, 1)
            }
            .expect("date");
            let last = first_of_next - Duration::days(1);
            last - Duration::days(i64::from(last.weekday().num_days_from_sunday()))
        })
        .find(|d| *d >= soon)
        .expect("a future year")
}

/// The first `weekday` at least a week away (so "today" in any zone is long past it).
fn next_weekday(weekday: Weekday) -> NaiveDate {
    let mut d = Utc::now().date_naive() + Duration::days(7);
    while d.weekday() != weekday {
        d += Duration::days(1);
    }
    d
}

async fn instructors_publish_and_update_their_profile(backend: Backend) {
    let app = spawn_app(backend).await;
    let expert = user_named(&app, "ada@example.org", "Ada Lovelace", Role::Instructor).await;
    let admin = user_named(&app, "root@example.org", "Root", Role::Admin).await;
    let learner = app.register("learner@example.org").await;

    let none_yet = app
        .get("/api/v1/experts/me", Some(&expert.access_token))
        .await;
    assert_error(none_yet, 404, "not_found").await;

    let created = json_of(
        put_profile(&app, &expert, profile("  Rust mentor ", 150)).await,
        201,
    )
    .await;
    assert_eq!(created["id"], expert.id.as_str());
    assert_eq!(created["display_name"], "Ada Lovelace");
    assert_eq!(created["headline"], "Rust mentor");
    assert_eq!(created["tags"], json!(["async-io", "rust"]));
    assert_eq!(created["languages"], json!(["de", "en"]));
    assert_eq!(created["currency"], "EUR");
    assert_eq!(created["rate_per_minute_minor"], 150);
    assert_eq!(
        (
            created["min_minutes"].as_i64(),
            created["max_minutes"].as_i64()
        ),
        (Some(15), Some(60))
    );
    assert_eq!(created["time_zone"], "Europe/Berlin");
    assert_eq!(created["published"], true);
    assert_eq!(created["windows"], json!([]));
    assert_eq!(created["blocked_days"], json!([]));
    assert_eq!(me(&app, &expert).await, created);

    let public = json_of(
        app.get(&format!("/api/v1/experts/{}", expert.id), None)
            .await,
        200,
    )
    .await;
    assert_eq!(public["bio"], "Ten years of systems work.");
    assert_eq!(public["headline"], "Rust mentor");
    assert!(
        public.get("published").is_none(),
        "owner-only fields stay private"
    );

    let mut change = profile("Rust and C mentor", 200);
    change["tags"] = json!(["c"]);
    change["languages"] = json!(["fr"]);
    change["bio"] = Value::Null;
    let updated = json_of(put_profile(&app, &expert, change).await, 200).await;
    assert_eq!(updated["headline"], "Rust and C mentor");
    assert_eq!(updated["rate_per_minute_minor"], 200);
    assert_eq!(updated["tags"], json!(["c"]));
    assert_eq!(updated["languages"], json!(["fr"]));
    assert_eq!(updated["bio"], "");
    assert_eq!(updated["created_at"], created["created_at"]);

    // Admins may offer consultations too; learners may not, and anonymous callers are 401.
    json_of(
        put_profile(&app, &admin, profile("Platform admin", 100)).await,
        201,
    )
    .await;
    assert_error(
        put_profile(&app, &learner, profile("Me", 100)).await,
        403,
        "forbidden",
    )
    .await;
    let learner_me = app
        .get("/api/v1/experts/me", Some(&learner.access_token))
        .await;
    assert_error(learner_me, 403, "forbidden").await;
    let learner_windows = put_windows(&app, &learner, json!([])).await;
    assert_error(learner_windows, 403, "forbidden").await;
    assert_error(block(&app, &learner, "2030-01-01").await, 403, "forbidden").await;
    let anonymous = app
        .send(
            Method::PUT,
            "/api/v1/experts/me",
            None,
            Some(profile("x", 1)),
        )
        .await;
    assert_error(anonymous, 401, "unauthorized").await;
}

async fn invalid_profile_input_is_refused_and_changes_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let expert = user_named(&app, "ada@example.org", "Ada", Role::Instructor).await;
    json_of(
        put_profile(&app, &expert, profile("Rust mentor", 150)).await,
        201,
    )
    .await;
    let before = me(&app, &expert).await;

    let cases: Vec<(&str, Value)> = vec![
        ("headline", json!("")),
        ("headline", json!("h".repeat(121))),
        ("headline", json!("two\nlines")),
        ("bio", json!("b".repeat(4_001))),
        (
            "tags",
            json!((0..11).map(|i| format!("t{i}")).collect::<Vec<_>>()),
        ),
        ("tags", json!(["not ok!"])),
        ("tags", json!(["x".repeat(31)])),
        ("languages", json!([])),
        ("languages", json!(["en", "de", "fr", "es", "it", "pt"])),
        ("languages", json!(["english"])),
        ("languages", json!(["e1"])),
        ("rate_per_minute_minor", json!(0)),
        ("rate_per_minute_minor", json!(1_000_001)),
        ("rate_per_minute_minor", json!("150")),
        ("currency", json!("EURO")),
        ("min_minutes", json!(0)),
        ("min_minutes", json!(12)),
        ("min_minutes", json!(90)),
        ("max_minutes", json!(245)),
        ("max_minutes", json!(62)),
        ("time_zone", json!("Mars/Olympus")),
        ("time_zone", json!("europe/berlin")),
        ("time_zone", json!("")),
        ("published", json!("yes")),
    ];
    for (field, value) in cases {
        let mut body = profile("Changed", 999);
        body[field] = value.clone();
        let resp = put_profile(&app, &expert, body).await;
        let err = assert_error(resp, 400, "validation_failed").await;
        let message = err["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(
            message.contains(field.trim_end_matches('s')) || message.contains("invalid"),
            "{field}={value}: {message}"
        );
    }
    for missing in [
        "headline",
        "languages",
        "rate_per_minute_minor",
        "time_zone",
    ] {
        let mut body = profile("Changed", 999);
        body.as_object_mut().expect("object").remove(missing);
        assert_error(
            put_profile(&app, &expert, body).await,
            400,
            "validation_failed",
        )
        .await;
    }
    let mut unknown = profile("Changed", 999);
    unknown["colour"] = json!("blue");
    assert_error(
        put_profile(&app, &expert, unknown).await,
        400,
        "validation_failed",
    )
    .await;
    assert_eq!(
        me(&app, &expert).await,
        before,
        "refused edits change nothing"
    );
}

async fn unpublished_profiles_are_hidden(backend: Backend) {
    let app = spawn_app(backend).await;
    let expert = user_named(&app, "ada@example.org", "Ada", Role::Instructor).await;
    let mut draft = profile("Rust mentor", 150);
    draft["published"] = json!(false);
    json_of(put_profile(&app, &expert, draft.clone()).await, 201).await;
    json_of(
        put_windows(
            &app,
            &expert,
            json!([{"weekday": "mon", "start": "09:00", "end": "17:00"}]),
        )
        .await,
        200,
    )
    .await;

    let path = format!("/api/v1/experts/{}", expert.id);
    assert_error(app.get(&path, None).await, 404, "not_found").await;
    let monday = next_weekday(Weekday::Mon);
    let availability = format!(
        "{path}/availability?from={}&to={}",
        text(monday, 0, 0),
        text(monday + Duration::days(1), 0, 0)
    );
    assert_error(app.get(&availability, None).await, 404, "not_found").await;
    let list = json_of(app.get("/api/v1/experts", None).await, 200).await;
    assert_eq!(list["total"], 0);
    assert_eq!(
        me(&app, &expert).await["published"],
        false,
        "the owner still sees it"
    );
    assert_error(
        app.get("/api/v1/experts/nobody", None).await,
        404,
        "not_found",
    )
    .await;

    draft["published"] = json!(true);
    json_of(put_profile(&app, &expert, draft).await, 200).await;
    json_of(app.get(&path, None).await, 200).await;
    assert_eq!(
        json_of(app.get("/api/v1/experts", None).await, 200).await["total"],
        1
    );
}

async fn availability_is_replaced_and_expanded_across_dst(backend: Backend) {
    let app = spawn_app(backend).await;
    let expert = user_named(&app, "ada@example.org", "Ada", Role::Instructor).await;
    json_of(
        put_profile(&app, &expert, profile("Rust mentor", 150)).await,
        201,
    )
    .await;
    let saved = json_of(
        put_windows(
            &app,
            &expert,
            json!([
                {"weekday": "mon", "start": "09:00", "end": "10:00"},
                {"weekday": "sun", "start": "01:00", "end": "04:00"},
            ]),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(saved["time_zone"], "Europe/Berlin");
    assert_eq!(
        saved["windows"],
        json!([
            {"weekday": "mon", "start": "09:00", "end": "10:00"},
            {"weekday": "sun", "start": "01:00", "end": "04:00"},
        ]),
        "sorted Monday first"
    );
    assert_eq!(me(&app, &expert).await["windows"], saved["windows"]);

    // Spring: Berlin moves from UTC+1 to UTC+2 at 01:00 UTC on the last Sunday of March.
    let sunday = next_last_sunday(3);
    let saturday = sunday - Duration::days(1);
    let monday = sunday + Duration::days(1);
    let got = free(
        &app,
        &expert.id,
        at(saturday, 0, 0),
        at(monday + Duration::days(1), 0, 0),
    )
    .await;
    assert_eq!(
        got,
        [
            // 01:00 CET to 04:00 CEST: two real hours.
            (text(sunday, 0, 0), text(sunday, 2, 0)),
            // Monday 09:00 is now 07:00 UTC.
            (text(monday, 7, 0), text(monday, 8, 0)),
        ]
    );
    // The Monday before the change: 09:00 CET is 08:00 UTC.
    let week_before = monday - Duration::days(7);
    assert_eq!(
        free(
            &app,
            &expert.id,
            at(week_before, 0, 0),
            at(week_before, 23, 0)
        )
        .await,
        [(text(week_before, 8, 0), text(week_before, 9, 0))]
    );

    // Autumn: back to UTC+1 at 01:00 UTC on the last Sunday of October; the night window is
    // four real hours.
    let sunday = next_last_sunday(10);
    let (saturday, monday) = (sunday - Duration::days(1), sunday + Duration::days(1));
    assert_eq!(
        free(&app, &expert.id, at(saturday, 12, 0), at(monday, 23, 0)).await,
        [
            (text(saturday, 23, 0), text(sunday, 3, 0)),
            (text(monday, 8, 0), text(monday, 9, 0)),
        ]
    );

    // A range cut inside a window is clipped to it.
    let monday = next_weekday(Weekday::Mon);
    let wide_monday = at(monday, 0, 0);
    let (from, to) = (berlin(monday, 9, 30), berlin(monday, 9, 45));
    assert_eq!(
        free(&app, &expert.id, from, to).await,
        [(rfc3339(from), rfc3339(to))]
    );

    // Replacing the windows drops the old ones; an empty list clears them.
    json_of(
        put_windows(
            &app,
            &expert,
            json!([{"weekday": "tue", "start": "12:00", "end": "24:00"}]),
        )
        .await,
        200,
    )
    .await;
    let tuesday = monday + Duration::days(1);
    let got = free(
        &app,
        &expert.id,
        wide_monday,
        at(tuesday + Duration::days(1), 0, 0),
    )
    .await;
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0],
        (
            rfc3339(berlin(tuesday, 12, 0)),
            rfc3339(berlin(tuesday + Duration::days(1), 0, 0))
        )
    );
    json_of(put_windows(&app, &expert, json!([])).await, 200).await;
    assert!(
        free(
            &app,
            &expert.id,
            wide_monday,
            at(tuesday + Duration::days(1), 0, 0)
        )
        .await
        .is_empty()
    );

    // Past time is never offered.
    let always: Vec<Value> = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        .iter()
        .map(|d| json!({"weekday": d, "start": "00:00", "end": "24:00"}))
        .collect();
    json_of(put_windows(&app, &expert, json!(always)).await, 200).await;
    let now = Utc::now();
    let got = free(
        &app,
        &expert.id,
        now - Duration::days(2),
        now + Duration::days(1),
    )
    .await;
    assert_eq!(got.len(), 1);
    let first: DateTime<Utc> = got[0].0.parse().expect("rfc3339");
    assert!(
        first >= now && first - now <= Duration::minutes(5),
        "{first} vs {now}"
    );
    assert_eq!(first.timestamp() % 300, 0);

    // Bad ranges.
    let path = |from: DateTime<Utc>, to: DateTime<Utc>| {
        format!(
            "/api/v1/experts/{}/availability?from={}&to={}",
            expert.id,
            rfc3339(from),
            rfc3339(to)
        )
    };
    let from = at(monday, 0, 0);
    for bad in [
        path(from, from),
        path(from, from - Duration::hours(1)),
        path(from, from + Duration::days(31) + Duration::seconds(1)),
        format!(
            "/api/v1/experts/{}/availability?from={}",
            expert.id,
            rfc3339(from)
        ),
        format!(
            "/api/v1/experts/{}/availability?from=yesterday&to=today",
            expert.id
        ),
    ] {
        assert_error(app.get(&bad, None).await, 400, "validation_failed").await;
    }
    json_of(
        app.get(&path(from, from + Duration::days(31)), None).await,
        200,
    )
    .await;
}

async fn invalid_availability_is_refused_and_changes_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let expert = user_named(&app, "ada@example.org", "Ada", Role::Instructor).await;
    let no_profile = put_windows(&app, &expert, json!([])).await;
    assert_error(no_profile, 404, "not_found").await;
    json_of(
        put_profile(&app, &expert, profile("Rust mentor", 150)).await,
        201,
    )
    .await;
    let good = json!([{"weekday": "wed", "start": "09:00", "end": "12:00"}]);
    json_of(put_windows(&app, &expert, good.clone()).await, 200).await;

    let w = |d: &str, s: &str, e: &str| json!({"weekday": d, "start": s, "end": e});
    let too_many: Vec<Value> = (0..51)
        .map(|i| {
            w(
                "thu",
                &format!("{:02}:00", i / 3),
                &format!("{:02}:{:02}", i / 3, (i % 3) * 15 + 10),
            )
        })
        .collect();
    let cases = vec![
        json!([w("funday", "09:00", "10:00")]),
        json!([w("Mon", "09:00", "10:00")]),
        json!([w("mon", "9:00", "10:00")]),
        json!([w("mon", "09:03", "10:00")]),
        json!([w("mon", "10:00", "10:00")]),
        json!([w("mon", "11:00", "10:00")]),
        json!([w("mon", "24:00", "24:00")]),
        json!([w("mon", "23:00", "24:05")]),
        json!([w("mon", "09:00", "12:00"), w("mon", "11:00", "13:00")]),
        json!([w("mon", "09:00", "12:00"), w("mon", "09:00", "12:00")]),
        json!(too_many),
        json!([{"weekday": "mon", "start": "09:00"}]),
        json!([{"weekday": "mon", "start": "09:00", "end": "10:00", "tz": "UTC"}]),
        json!("mon 9-5"),
    ];
    for windows in cases {
        let resp = put_windows(&app, &expert, windows.clone()).await;
        assert_error(resp, 400, "validation_failed").await;
    }
    assert_eq!(
        me(&app, &expert).await["windows"],
        good,
        "refused edits change nothing"
    );
    // Touching windows are fine, and so are exactly 50.
    json_of(
        put_windows(
            &app,
            &expert,
            json!([w("mon", "09:00", "12:00"), w("mon", "12:00", "13:00")]),
        )
        .await,
        200,
    )
    .await;
    let fifty: Vec<Value> = (0..50)
        .map(|i| {
            w(
                "thu",
                &format!("{:02}:{:02}", i / 3, (i % 3) * 20),
                &format!("{:02}:{:02}", i / 3, (i % 3) * 20 + 10),
            )
        })
        .collect();
    json_of(put_windows(&app, &expert, json!(fifty)).await, 200).await;
}

async fn blocked_days_are_added_and_removed(backend: Backend) {
    let app = spawn_app(backend).await;
    let expert = user_named(&app, "ada@example.org", "Ada", Role::Instructor).await;
    assert_error(block(&app, &expert, "2030-01-01").await, 404, "not_found").await;
    json_of(
        put_profile(&app, &expert, profile("Rust mentor", 150)).await,
        201,
    )
    .await;
    let every_day: Vec<Value> = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        .iter()
        .map(|d| json!({"weekday": d, "start": "10:00", "end": "11:00"}))
        .collect();
    json_of(put_windows(&app, &expert, json!(every_day)).await, 200).await;

    let monday = next_weekday(Weekday::Mon);
    let (tuesday, wednesday) = (monday + Duration::days(1), monday + Duration::days(2));
    let (from, to) = (at(monday, 0, 0), at(wednesday, 23, 0));
    assert_eq!(free(&app, &expert.id, from, to).await.len(), 3);

    let day = tuesday.format("%Y-%m-%d").to_string();
    let blocked = json_of(block(&app, &expert, &day).await, 201).await;
    assert_eq!(blocked["date"], day.as_str());
    // Berlin midnight is 23:00 UTC in winter and 22:00 in summer; the day is 23–25 hours.
    let start: DateTime<Utc> = blocked["start"]
        .as_str()
        .expect("start")
        .parse()
        .expect("rfc3339");
    let end: DateTime<Utc> = blocked["end"]
        .as_str()
        .expect("end")
        .parse()
        .expect("rfc3339");
    assert!(
        start < at(tuesday, 0, 0) && start >= at(monday, 22, 0),
        "{start}"
    );
    assert!((23..=25).contains(&(end - start).num_hours()));
    let got = free(&app, &expert.id, from, to).await;
    assert_eq!(got.len(), 2);
    assert!(got.iter().all(|(s, _)| !s.starts_with(&day)), "{got:?}");
    assert_eq!(
        json_of(block(&app, &expert, &day).await, 200).await,
        blocked,
        "blocking twice is harmless"
    );
    assert_eq!(me(&app, &expert).await["blocked_days"], json!([blocked]));

    // Moving to New York keeps the local date and moves its UTC bounds (midnight is 04:00 or
    // 05:00 UTC there).
    let mut moved = profile("Rust mentor", 150);
    moved["time_zone"] = json!("America/New_York");
    let own = json_of(put_profile(&app, &expert, moved).await, 200).await;
    assert_eq!(own["blocked_days"][0]["date"], day.as_str());
    let ny_start: DateTime<Utc> = own["blocked_days"][0]["start"]
        .as_str()
        .expect("start")
        .parse()
        .expect("rfc3339");
    assert!(
        ny_start == at(tuesday, 4, 0) || ny_start == at(tuesday, 5, 0),
        "{ny_start}"
    );

    let unblock = |date: String| {
        let app = &app;
        let token = expert.access_token.clone();
        async move {
            app.send(
                Method::DELETE,
                &format!("/api/v1/experts/me/blocked-days/{date}"),
                Some(&token),
                None,
            )
            .await
        }
    };
    assert_eq!(unblock(day.clone()).await.status(), 204);
    assert!(
        me(&app, &expert).await["blocked_days"]
            .as_array()
            .is_some_and(Vec::is_empty)
    );
    assert_eq!(free(&app, &expert.id, from, to).await.len(), 3);
    assert_error(unblock(day.clone()).await, 404, "not_found").await;
    assert_error(unblock("tuesday".into()).await, 400, "validation_failed").await;

    let yesterday = (Utc::now().date_naive() - Duration::days(2))
        .format("%Y-%m-%d")
        .to_string();
    let far = (Utc::now().date_naive() + Duration::days(800))
        .format("%Y-%m-%d")
        .to_string();
    for bad in [
        yesterday.as_str(),
        far.as_str(),
        "2030-02-30",
        "2030-1-5",
        "soon",
        "",
    ] {
        assert_error(block(&app, &expert, bad).await, 400, "validation_failed").await;
    }
    let wrong_shape = app
        .send(
            Method::POST,
            "/api/v1/experts/me/blocked-days",
            Some(&expert.access_token),
            Some(json!({"day": day})),
        )
        .await;
    assert_error(wrong_shape, 400, "validation_failed").await;
    assert!(
        me(&app, &expert).await["blocked_days"]
            .as_array()
            .is_some_and(Vec::is_empty)
    );
}

async fn search_filters_and_paginates(backend: Backend) {
    let app = spawn_app(backend).await;
    let ada = user_named(&app, "ada@example.org", "Ada Lovelace", Role::Instructor).await;
    let grace = user_named(&app, "grace@example.org", "Grace Hopper", Role::Instructor).await;
    let linus = user_named(&app, "linus@example.org", "Linus", Role::Instructor).await;
    let hidden = user_named(
        &app,
        "hidden@example.org",
        "Hidden Rustacean",
        Role::Instructor,
    )
    .await;

    let mut body = profile("Rust mentor", 100);
    body["tags"] = json!(["rust", "systems"]);
    body["languages"] = json!(["en"]);
    json_of(put_profile(&app, &ada, body).await, 201).await;
    let mut body = profile("Compilers and COBOL", 300);
    body["tags"] = json!(["compilers"]);
    body["languages"] = json!(["en", "fr"]);
    body["bio"] = json!("I wrote the first compiler_ever; 100% true.");
    json_of(put_profile(&app, &grace, body).await, 201).await;
    let mut body = profile("Kernel hacking", 500);
    body["tags"] = json!(["systems", "c"]);
    body["languages"] = json!(["fi", "sv"]);
    body["currency"] = json!("USD");
    json_of(put_profile(&app, &linus, body).await, 201).await;
    let mut body = profile("Rust mentor too", 100);
    body["published"] = json!(false);
    json_of(put_profile(&app, &hidden, body).await, 201).await;

    let search = |query: String| {
        let app = &app;
        async move {
            json_of(
                app.get(&format!("/api/v1/experts?{query}"), None).await,
                200,
            )
            .await
        }
    };
    let ids = |list: &Value| -> Vec<String> {
        list["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|e| e["id"].as_str().expect("id").to_owned())
            .collect()
    };
    let (a, g, l) = (ada.id.as_str(), grace.id.as_str(), linus.id.as_str());

    let all = search(String::new()).await;
    assert_eq!(all["total"], 3, "unpublished hidden");
    assert_eq!(ids(&all), [l, g, a], "newest first");
    let item = &all["items"][2];
    for field in [
        "id",
        "display_name",
        "headline",
        "tags",
        "languages",
        "rate_per_minute_minor",
        "currency",
        "min_minutes",
        "max_minutes",
        "time_zone",
    ] {
        assert!(!item[field].is_null(), "{field} missing from {item}");
    }
    assert_eq!(item["display_name"], "Ada Lovelace");
    assert_eq!(item["tags"], json!(["rust", "systems"]));

    assert_eq!(ids(&search("tag=systems".into()).await), [l, a]);
    assert_eq!(ids(&search("tag=Compilers".into()).await), [g]);
    assert_eq!(ids(&search("language=en".into()).await), [g, a]);
    assert_eq!(ids(&search("language=FI".into()).await), [l]);
    assert_eq!(ids(&search("min_rate=300".into()).await), [l, g]);
    assert_eq!(ids(&search("max_rate=300".into()).await), [g, a]);
    assert_eq!(ids(&search("min_rate=101&max_rate=499".into()).await), [g]);
    assert_eq!(ids(&search("q=mentor".into()).await), [a], "headline");
    assert_eq!(ids(&search("q=HOPPER".into()).await), [g], "display name");
    assert_eq!(
        ids(&search("q=compiler_ever".into()).await),
        [g],
        "bio, _ matched literally"
    );
    assert!(
        ids(&search("q=compilerXever".into()).await).is_empty(),
        "_ is no wildcard"
    );
    assert_eq!(ids(&search("q=100%25".into()).await), [g]);
    assert!(
        ids(&search("q=rust%20cobol".into()).await).is_empty(),
        "every word must match"
    );
    assert_eq!(
        ids(&search("q=rust&tag=systems&language=en&max_rate=100".into()).await),
        [a]
    );

    // Pagination.
    let page = search("limit=2&offset=0".into()).await;
    assert_eq!(
        (
            page["total"].as_i64(),
            page["limit"].as_i64(),
            page["offset"].as_i64()
        ),
        (Some(3), Some(2), Some(0))
    );
    assert_eq!(ids(&page), [l, g]);
    let page = search("limit=2&offset=2".into()).await;
    assert_eq!(ids(&page), [a]);
    assert_eq!(page["total"], 3);

    // Availability: Ada works Mondays, Grace too but blocks the Monday asked about, Linus has
    // no windows at all.
    let monday = next_weekday(Weekday::Mon);
    let window = json!([{"weekday": "mon", "start": "09:00", "end": "12:00"}]);
    json_of(put_windows(&app, &ada, window.clone()).await, 200).await;
    json_of(put_windows(&app, &grace, window.clone()).await, 200).await;
    json_of(
        block(&app, &grace, &monday.format("%Y-%m-%d").to_string()).await,
        201,
    )
    .await;
    let range = |from: DateTime<Utc>, to: DateTime<Utc>| {
        format!(
            "available_from={}&available_to={}",
            rfc3339(from),
            rfc3339(to)
        )
    };
    let on_monday = search(range(at(monday, 0, 0), at(monday, 23, 0))).await;
    assert_eq!(ids(&on_monday), [a]);
    assert_eq!(on_monday["total"], 1);
    let next_monday = monday + Duration::days(7);
    let two_mondays = range(at(monday, 0, 0), at(next_monday, 23, 0));
    assert_eq!(ids(&search(two_mondays.clone()).await), [g, a]);
    let paged = search(format!("{two_mondays}&limit=1&offset=1")).await;
    assert_eq!(ids(&paged), [a]);
    assert_eq!(paged["total"], 2);
    assert_eq!(
        ids(&search(format!("{two_mondays}&tag=compilers")).await),
        [g]
    );
    let tuesday = monday + Duration::days(1);
    assert!(ids(&search(range(at(tuesday, 0, 0), at(tuesday, 23, 0))).await).is_empty());

    // Bad filters.
    for bad in [
        "min_rate=-1".to_owned(),
        "min_rate=5&max_rate=4".to_owned(),
        "min_rate=cheap".to_owned(),
        "language=english".to_owned(),
        "tag=no%20way!".to_owned(),
        format!("available_from={}", rfc3339(at(monday, 0, 0))),
        range(at(monday, 0, 0), at(monday, 0, 0)),
        range(at(monday, 0, 0), at(monday + Duration::days(32), 0, 0)),
        "available_from=monday&available_to=tuesday".to_owned(),
        "limit=0".to_owned(),
        "offset=-1".to_owned(),
        format!("q={}", "word%20".repeat(11)),
    ] {
        let resp = app.get(&format!("/api/v1/experts?{bad}"), None).await;
        assert_error(resp, 400, "validation_failed").await;
    }
}

async fn bookable_checks_terms_and_windows(backend: Backend) {
    let app = spawn_app(backend).await;
    let expert = user_named(&app, "ada@example.org", "Ada", Role::Instructor).await;
    let drafty = user_named(&app, "draft@example.org", "Drafty", Role::Instructor).await;
    json_of(
        put_profile(&app, &expert, profile("Rust mentor", 150)).await,
        201,
    )
    .await;
    let mut unpublished = profile("Not yet", 150);
    unpublished["published"] = json!(false);
    json_of(put_profile(&app, &drafty, unpublished).await, 201).await;
    json_of(
        put_windows(
            &app,
            &expert,
            json!([
                {"weekday": "mon", "start": "09:00", "end": "12:00"},
                {"weekday": "mon", "start": "12:00", "end": "13:00"},
            ]),
        )
        .await,
        200,
    )
    .await;
    let monday = next_weekday(Weekday::Mon);
    let nine = berlin(monday, 9, 0);
    let db = app.db().await;
    let check = |id: String, start: DateTime<Utc>, minutes: i64| {
        let db = db.clone();
        async move {
            db.run(move |c| experts::bookable(c, &id, start, minutes))
                .await
        }
    };

    let terms = check(expert.id.clone(), nine, 60).await.expect("bookable");
    assert_eq!(terms.expert_id, expert.id);
    assert_eq!(terms.rate_per_minute_minor, 150);
    assert_eq!(terms.currency.as_str(), "EUR");
    assert_eq!((terms.min_minutes, terms.max_minutes), (15, 60));
    // Across the two adjacent windows, and ending exactly at the last one's end.
    check(expert.id.clone(), nine + Duration::minutes(150), 60)
        .await
        .expect("across windows");
    check(expert.id.clone(), nine + Duration::minutes(225), 15)
        .await
        .expect("at the end");

    let status = |r: Result<experts::ExpertTerms, ExpertError>| {
        use actix_web::ResponseError as _;
        ApiError::from(r.expect_err("refused"))
            .status_code()
            .as_u16()
    };
    assert_eq!(status(check("nobody".into(), nine, 30).await), 404);
    assert_eq!(status(check(drafty.id.clone(), nine, 30).await), 404);
    for minutes in [10, 65, 17, 0, -15] {
        assert_eq!(
            status(check(expert.id.clone(), nine, minutes).await),
            400,
            "{minutes} minutes"
        );
    }
    assert_eq!(
        status(check(expert.id.clone(), nine + Duration::minutes(2), 30).await),
        400
    );
    assert_eq!(
        status(check(expert.id.clone(), nine + Duration::seconds(1), 30).await),
        400
    );
    let past = at(Utc::now().date_naive() - Duration::days(7), 9, 0);
    assert_eq!(status(check(expert.id.clone(), past, 30).await), 400);
    // Outside the windows, running past their end, or on a blocked day: 409.
    assert_eq!(
        status(check(expert.id.clone(), nine - Duration::minutes(15), 30).await),
        409
    );
    assert_eq!(
        status(check(expert.id.clone(), nine + Duration::minutes(225), 30).await),
        409
    );
    assert_eq!(
        status(check(expert.id.clone(), nine + Duration::days(1), 30).await),
        409
    );
    json_of(
        block(&app, &expert, &monday.format("%Y-%m-%d").to_string()).await,
        201,
    )
    .await;
    assert_eq!(status(check(expert.id.clone(), nine, 30).await), 409);
    let next_nine = berlin(monday + Duration::days(7), 9, 0);
    check(expert.id.clone(), next_nine, 30)
        .await
        .expect("the next Monday");
}
