//! `lyceum admin import-movielens`: a MovieLens file becomes published courses, learners and
//! dated enrolments that the catalog lists and the recommender learns from.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use lyceum::accounts::Role;
use lyceum::accounts::store;
use lyceum::catalog::{entitlements, events};
use lyceum::db::schema::{behavior_events, users};
use lyceum::db::{Db, DbError};
use reqwest::Method;
use serde_json::Value;

use crate::backend_tests;
use crate::cli::lyceum;
use crate::helpers::{Backend, PASSWORD, TestApp, assert_error, spawn_app};

backend_tests!(movielens_import_loads_dated_enrolments_once);

/// `user item rating timestamp`, as MovieLens `u.data`.
const RATINGS: &str = "1\t10\t5\t881250949\n\
                       1\t20\t3\t881251000\n\
                       2\t10\t4\t891717742\n\
                       2\t30\t1\t891717800\n\
                       3\t20\t2\t893286638\n\
                       3\t40\t4\t893286700\n";

/// A `u.item` line: the 19 genre flags set at `genres` (positions in MovieLens's `u.genre`).
fn item_line(id: u32, title: &[u8], genres: &[usize]) -> Vec<u8> {
    let flags: Vec<&str> = (0..19)
        .map(|i| if genres.contains(&i) { "1" } else { "0" })
        .collect();
    let mut line = format!("{id}|").into_bytes();
    line.extend_from_slice(title);
    line.extend_from_slice(format!("|01-Jan-1995||http://example.org/{id}|").as_bytes());
    line.extend_from_slice(flags.join("|").as_bytes());
    line.push(b'\n');
    line
}

/// Latin-1, as MovieLens ships it; item 50 is rated by nobody.
fn items() -> Vec<u8> {
    [
        item_line(10, b"Star Wars (1977)", &[1, 2, 14, 15, 17]),
        item_line(20, b"Mis\xe9rables, Les (1995)", &[8, 12]),
        item_line(30, b"Toy Story (1995)", &[3, 4, 5]),
        item_line(40, b"Blade Runner (1982)", &[10, 15]),
        item_line(50, b"Nobody Rated (1990)", &[8]),
    ]
    .concat()
}

fn at(secs: i64) -> NaiveDateTime {
    chrono::DateTime::from_timestamp(secs, 0)
        .expect("valid time")
        .naive_utc()
}

fn import(app: &TestApp, args: &[&str]) -> String {
    let out = lyceum(app, &[&["admin", "import-movielens"], args].concat(), None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn courses(app: &TestApp, query: &str) -> Value {
    let resp = app.get(&format!("/api/v1/courses?{query}"), None).await;
    assert_eq!(resp.status(), 200, "{query}");
    resp.json().await.expect("json")
}

fn titles(listing: &Value) -> Vec<String> {
    let mut titles: Vec<String> = listing["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|c| c["title"].as_str().expect("title").to_owned())
        .collect();
    titles.sort();
    titles
}

/// Users, behaviour events, and learner 1's enrolments as (granted_at, occurred_at) by
/// course id.
async fn stored(db: &Db) -> (i64, i64, HashMap<String, (NaiveDateTime, NaiveDateTime)>) {
    db.run(|c| {
        let users: i64 = users::table.count().get_result(c)?;
        let events: i64 = behavior_events::table.count().get_result(c)?;
        let learner = store::find_user_by_email(c, "ml-1@example.org")?.expect("learner 1");
        let mut enrolments = HashMap::new();
        for e in events::for_user(c, &learner.id)? {
            assert_eq!((e.kind.as_str(), e.weight), ("enroll", 3.0));
            let granted = entitlements::active(c, &learner.id, &e.course_id)?
                .expect("an entitlement beside each enrolment event");
            enrolments.insert(e.course_id, (granted.granted_at, e.occurred_at));
        }
        Ok::<_, DbError>((users, events, enrolments))
    })
    .await
    .expect("stored rows")
}

async fn movielens_import_loads_dated_enrolments_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let ratings = dir.path().join("u.data");
    let items_file = dir.path().join("u.item");
    std::fs::write(&ratings, RATINGS).expect("write ratings");
    std::fs::write(&items_file, items()).expect("write items");
    let (ratings, items_file) = (ratings.to_str().unwrap(), items_file.to_str().unwrap());
    let args = [
        "--ratings",
        ratings,
        "--items",
        items_file,
        "--email-domain",
        "example.org",
    ];

    // A malformed file is refused, naming its line, before anything is written.
    let bad = dir.path().join("bad.data");
    std::fs::write(&bad, format!("{RATINGS}4\t10\tfive\t893286800\n")).expect("write");
    let refused = lyceum(
        &app,
        &[
            "admin",
            "import-movielens",
            "--ratings",
            bad.to_str().unwrap(),
        ],
        None,
    );
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("line 7"), "{stderr}");
    assert_eq!(courses(&app, "").await["total"], 0);

    let first = import(&app, &args);
    assert!(
        first.contains(
            "courses 5 created, 0 existing; learners 3 created, 0 existing; \
             enrolments 6 created, 0 existing"
        ),
        "{first}"
    );

    // Published, free, listed with their genres as tags (the Latin-1 title decoded).
    let all = courses(&app, "category=movies&free=true").await;
    assert_eq!(all["total"], 5, "{all}");
    for c in all["items"].as_array().unwrap() {
        assert_eq!(c["status"], "published", "{c}");
        assert_eq!(c["price"]["amount_minor"], 0, "{c}");
    }
    let sci_fi = courses(&app, "tag=sci-fi").await;
    assert_eq!(titles(&sci_fi), ["Blade Runner (1982)", "Star Wars (1977)"]);
    let star_wars = sci_fi["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["title"] == "Star Wars (1977)")
        .unwrap();
    assert_eq!(
        star_wars["tags"],
        serde_json::json!(["action", "adventure", "romance", "sci-fi", "war"])
    );
    assert_eq!(star_wars["enrollment_count"], 2);
    assert_eq!(
        titles(&courses(&app, "tag=musical").await),
        ["Misérables, Les (1995)"]
    );
    assert_eq!(
        titles(&courses(&app, "tag=childrens").await),
        ["Toy Story (1995)"]
    );

    // Learner 1's two enrolments carry the file's times, entitlement and event alike.
    let db = app.db().await;
    let (users, events_count, enrolments) = stored(&db).await;
    assert_eq!(
        (users, events_count),
        (4, 6),
        "3 learners and the instructor"
    );
    let star_wars_id = star_wars["id"].as_str().unwrap();
    assert_eq!(
        enrolments.get(star_wars_id),
        Some(&(at(881250949), at(881250949)))
    );
    let mut times: Vec<_> = enrolments.values().copied().collect();
    times.sort();
    assert_eq!(
        times,
        [
            (at(881250949), at(881250949)),
            (at(881251000), at(881251000))
        ]
    );
    // Imported accounts have no password anyone could use.
    assert_error(
        app.login("ml-1@example.org", PASSWORD).await,
        401,
        "unauthorized",
    )
    .await;

    // Again: nothing new; with --min-rating the low ratings are counted apart.
    let second = import(&app, &[&args[..], &["--min-rating", "4"]].concat());
    assert!(
        second.contains(
            "courses 0 created, 5 existing; learners 0 created, 3 existing; \
             enrolments 0 created, 3 existing, 3 below min rating, 0 refused"
        ),
        "{second}"
    );
    assert_eq!(stored(&db).await, (users, events_count, enrolments));
    assert_eq!(courses(&app, "").await["total"], 5);

    // The recommender learns from the imported history at its next refit.
    let admin = app.user_with_role("admin@example.org", Role::Admin).await;
    let resp = app
        .send(
            Method::POST,
            "/api/v1/admin/recommendations/rebuild",
            Some(&admin.access_token),
            None,
        )
        .await;
    assert_eq!(resp.status(), 200);
    let report: Value = resp.json().await.expect("json");
    assert_eq!(
        (report["items"].as_i64(), report["interactions"].as_i64()),
        (Some(5), Some(6)),
        "{report}"
    );
}
