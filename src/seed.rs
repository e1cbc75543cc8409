//! `lyceum seed-demo`: a realistic demo data set (an admin, instructors, learners, courses in
//! every status with lessons, free enrolments and reviews). Idempotent: records are found by
//! natural key (email; instructor + course title; learner + course) and only missing ones are
//! created, and a course left half-way by an interrupted run is moved on to its target status,
//! so a second run changes nothing. Paid purchases come from the orders domain, not from here.

use std::sync::Arc;

use crate::accounts::AuthUser;
use crate::accounts::domain::Role;
use crate::accounts::service::{self, AccountError, NewAccount};
use crate::accounts::store;
use crate::catalog::domain::{CourseStatus, Rating, ReviewText, Transition};
use crate::catalog::entitlements;
use crate::catalog::service::{
    self as catalog, CatalogError, CourseDraft, CourseInput, LessonInput,
};
use crate::catalog::store as catalog_store;
use crate::catalog::store::CourseRow;
use crate::classroom::sessions::{self as live_sessions, ClassError};
use crate::clock::SystemClock;
use crate::consultations::bookings::ConsultConfig;
use crate::consultations::experts::{self, ExpertError, ProfileDraft, ProfileRequest, WindowView};
use crate::consultations::hold_events::HoldSink;
use crate::consultations::questions;
use crate::db::{self, DbConnection, DbError};
use crate::error::ApiError;
use crate::orders::service::{
    self as orders, CheckoutRequest, CommerceConfig, OrderError, OrderSink, OrderView,
};
use crate::payments::ProviderStatus;
use crate::payments::sandbox::Sandbox;
use crate::payments::sinks::Sinks;

/// The password every demo account gets; printed by the command and documented in the README.
pub const DEMO_PASSWORD: &str = "lyceum-demo-password";

/// Demo people: (email, display name, role); the first-run page lists them after loading.
pub const PEOPLE: &[(&str, &str, Role)] = &[
    ("admin@demo.lyceum.dev", "Ada Admin", Role::Admin),
    ("grace@demo.lyceum.dev", "Grace Hopper", Role::Instructor),
    ("alan@demo.lyceum.dev", "Alan Turing", Role::Instructor),
    (
        "katherine@demo.lyceum.dev",
        "Katherine Johnson",
        Role::Instructor,
    ),
    ("linus@demo.lyceum.dev", "Linus Learner", Role::Learner),
    ("maria@demo.lyceum.dev", "Maria Lopez", Role::Learner),
    ("kenji@demo.lyceum.dev", "Kenji Sato", Role::Learner),
    ("amara@demo.lyceum.dev", "Amara Okafor", Role::Learner),
    ("sofia@demo.lyceum.dev", "Sofia Rossi", Role::Learner),
    ("noah@demo.lyceum.dev", "Noah Schmidt", Role::Learner),
];

/// A demo course: (instructor email, title, description, category, tags, price in minor units,
/// currency, level, target status).
type DemoCourse = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
    i64,
    &'static str,
    &'static str,
    CourseStatus,
);

/// Demo courses across several categories: free and paid published ones, a draft and one
/// waiting for review.
const COURSES: &[DemoCourse] = &[
    (
        "grace@demo.lyceum.dev",
        "Programming in Rust: First Steps",
        "Ownership, borrowing and the compiler as your pair programmer.",
        "programming",
        &["rust", "beginner-friendly"],
        0,
        "EUR",
        "beginner",
        CourseStatus::Published,
    ),
    (
        "grace@demo.lyceum.dev",
        "Async Rust in Production",
        "Futures, executors, cancellation and backpressure in real services.",
        "programming",
        &["rust", "async", "backend"],
        4900,
        "EUR",
        "advanced",
        CourseStatus::Published,
    ),
    (
        "grace@demo.lyceum.dev",
        "Compilers from Scratch",
        "Lexing, parsing and code generation, one small language at a time.",
        "programming",
        &["compilers"],
        5900,
        "EUR",
        "advanced",
        CourseStatus::Draft,
    ),
    (
        "alan@demo.lyceum.dev",
        "Introduction to Machine Learning",
        "Regression, classification and how to tell whether a model works.",
        "data-science",
        &["machine-learning", "python"],
        0,
        "EUR",
        "beginner",
        CourseStatus::Published,
    ),
    (
        "alan@demo.lyceum.dev",
        "Cryptography Fundamentals",
        "Hashes, ciphers, signatures and the mistakes that break them.",
        "security",
        &["cryptography", "math"],
        2900,
        "USD",
        "intermediate",
        CourseStatus::Published,
    ),
    (
        "alan@demo.lyceum.dev",
        "Computability and Logic",
        "What machines can and cannot decide, from Turing machines to Gödel.",
        "mathematics",
        &["logic", "theory"],
        3500,
        "EUR",
        "advanced",
        CourseStatus::InReview,
    ),
    (
        "katherine@demo.lyceum.dev",
        "Orbital Mechanics for Everyone",
        "Why orbits are ellipses and how spacecraft get where they are going.",
        "science",
        &["space", "physics"],
        0,
        "EUR",
        "all_levels",
        CourseStatus::Published,
    ),
    (
        "katherine@demo.lyceum.dev",
        "Numerical Methods with Python",
        "Root finding, integration and differential equations, done carefully.",
        "mathematics",
        &["python", "numerics"],
        3900,
        "EUR",
        "intermediate",
        CourseStatus::Published,
    ),
];

/// Lessons every demo course gets: (title, duration in seconds, free preview).
const LESSONS: &[(&str, i64, bool)] = &[
    ("Welcome and course map", 300, true),
    ("Core ideas", 1200, false),
    ("Worked examples", 1500, false),
    ("Practice and next steps", 900, false),
];

/// A free enrolment: (learner email, course title, review stars and text).
type DemoEnrolment = (&'static str, &'static str, Option<(i64, &'static str)>);

/// Free enrolments and reviews.
const ENROLMENTS: &[DemoEnrolment] = &[
    (
        "linus@demo.lyceum.dev",
        "Programming in Rust: First Steps",
        Some((5, "Clear and friendly.")),
    ),
    (
        "maria@demo.lyceum.dev",
        "Programming in Rust: First Steps",
        Some((4, "Good pace, more exercises please.")),
    ),
    (
        "kenji@demo.lyceum.dev",
        "Programming in Rust: First Steps",
        None,
    ),
    (
        "kenji@demo.lyceum.dev",
        "Introduction to Machine Learning",
        Some((4, "Solid foundations.")),
    ),
    (
        "amara@demo.lyceum.dev",
        "Introduction to Machine Learning",
        Some((5, "Finally understood overfitting.")),
    ),
    (
        "sofia@demo.lyceum.dev",
        "Orbital Mechanics for Everyone",
        Some((5, "Wonderful explanations.")),
    ),
    (
        "noah@demo.lyceum.dev",
        "Orbital Mechanics for Everyone",
        Some((3, "Nice, a bit short.")),
    ),
    (
        "linus@demo.lyceum.dev",
        "Orbital Mechanics for Everyone",
        None,
    ),
];

/// Paid purchases, made through the real order flow with the sandbox provider:
/// (learner email, course title).
const PURCHASES: &[(&str, &str)] = &[
    ("maria@demo.lyceum.dev", "Async Rust in Production"),
    ("noah@demo.lyceum.dev", "Async Rust in Production"),
    ("amara@demo.lyceum.dev", "Cryptography Fundamentals"),
];

/// Live sessions: (course title, session title, days from now, live already).
const LIVE_SESSIONS: &[(&str, &str, i64, bool)] = &[
    (
        "Programming in Rust: First Steps",
        "Office hours: ownership questions",
        0,
        true,
    ),
    (
        "Programming in Rust: First Steps",
        "Live coding: a CLI in an hour",
        7,
        false,
    ),
    (
        "Async Rust in Production",
        "Debugging a stuck executor",
        3,
        false,
    ),
];

/// Expert profiles: (email, headline, tags, languages, rate per minute in cents (EUR), time
/// zone, weekly windows as (weekdays, start, end) in that zone).
type DemoExpert = (
    &'static str,
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
    i64,
    &'static str,
    &'static [(&'static [&'static str], &'static str, &'static str)],
);

/// Two experts in different time zones, so availability shows the conversion to UTC.
const EXPERTS: &[DemoExpert] = &[
    (
        "grace@demo.lyceum.dev",
        "Compilers, debugging and code review",
        &["compilers", "debugging", "rust"],
        &["en"],
        150,
        "America/New_York",
        &[
            (&["mon", "wed", "fri"], "09:00", "12:00"),
            (&["tue", "thu"], "14:00", "18:00"),
        ],
    ),
    (
        "katherine@demo.lyceum.dev",
        "Numerical methods and orbital mechanics",
        &["mathematics", "numerics"],
        &["en", "fr"],
        120,
        "Europe/Paris",
        &[(&["mon", "tue", "wed", "thu"], "10:00", "16:00")],
    ),
];

/// What the demo experts charge for a written question, in cents.
const QUESTION_PRICE: i64 = 900;

/// A paid question: (asker, expert, title, body, the expert's answer if answered, a user who
/// unlocks the public answer).
type DemoQuestion = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
);

/// One answered and unlocked, one answered, one still waiting for its answer.
const QUESTIONS: &[DemoQuestion] = &[
    (
        "linus@demo.lyceum.dev",
        "grace@demo.lyceum.dev",
        "Why does my borrow checker error mention a lifetime I never wrote?",
        "The compiler talks about '1 and '2 in a function with no lifetimes at all.",
        Some(
            "Those are elided lifetimes the compiler named for the message; write them out to see which reference outlives which.",
        ),
        Some("maria@demo.lyceum.dev"),
    ),
    (
        "kenji@demo.lyceum.dev",
        "katherine@demo.lyceum.dev",
        "Which integrator for a long orbital simulation?",
        "Energy drifts after a few thousand steps with RK4.",
        Some(
            "Use a symplectic integrator such as velocity Verlet: it keeps the energy error bounded.",
        ),
        None,
    ),
    (
        "sofia@demo.lyceum.dev",
        "grace@demo.lyceum.dev",
        "How do I read a core dump from a Rust binary?",
        "The process crashed in production and left a core file.",
        None,
        None,
    ),
];

/// The card every demo purchase pays with.
const DEMO_CARD: &str = "4242 4242 4242 4242";

/// What demo purchases pay through.
pub struct DemoShop<'a> {
    /// The sandbox provider (with its own connection), which also confirms payments as the
    /// payer would.
    pub sandbox: &'a Sandbox,
    /// Fees and windows.
    pub commerce: &'a CommerceConfig,
    /// Consultation and paid-question rules.
    pub consult: &'a ConsultConfig,
}

impl DemoShop<'_> {
    /// Pays `payment` with the demo card, as its `payer` would, unless it is settled already,
    /// then applies the provider's events as its webhooks would.
    fn pay(&self, conn: &mut DbConnection, payer: &str, payment: &str) -> Result<(), SeedError> {
        let status = self.sandbox.get(payment).map_err(OrderError::from)?.status;
        if !matches!(
            status,
            ProviderStatus::Succeeded | ProviderStatus::Authorized
        ) {
            self.sandbox
                .confirm(payment, payer, DEMO_CARD)
                .map_err(|e| SeedError::Inconsistent(format!("demo payment refused: {e}")))?;
        }
        // As the webhook would, minus the rooms: a demo has nobody connected to tell.
        let hold_sink = HoldSink::new(Arc::new(self.consult.clone()), Arc::new(SystemClock), None);
        Sinks::default()
            .with(OrderSink)
            .with(hold_sink)
            .apply_queued(conn, self.sandbox)?;
        Ok(())
    }
}

/// Why seeding failed.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// Creating an account failed.
    #[error(transparent)]
    Account(#[from] AccountError),
    /// Creating catalog data failed.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// A demo purchase failed.
    #[error(transparent)]
    Order(#[from] OrderError),
    /// Applying a demo payment's provider event failed.
    #[error(transparent)]
    Payment(#[from] ApiError),
    /// A demo live session could not be created.
    #[error(transparent)]
    Class(#[from] ClassError),
    /// The data layer failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// A demo record the seed relies on is missing (a bug in the data above).
    #[error("demo data is inconsistent: {0}")]
    Inconsistent(String),
}

impl From<diesel::result::Error> for SeedError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Db(e.into())
    }
}

/// What a seed run did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SeedReport {
    /// Records created by this run.
    pub created: usize,
    /// Records that already existed and were left alone.
    pub existing: usize,
}

/// Creates whichever demo records are missing.
pub fn seed_demo(conn: &mut DbConnection, shop: &DemoShop<'_>) -> Result<SeedReport, SeedError> {
    let mut report = seed_people(conn)?;
    let admin = acting_as(conn, "admin@demo.lyceum.dev")?;
    for course in COURSES {
        seed_course(conn, &admin, course, &mut report)?;
    }
    for (learner, title, review) in ENROLMENTS {
        seed_enrolment(conn, learner, title, *review, &mut report)?;
    }
    for (learner, title) in PURCHASES {
        seed_purchase(conn, shop, learner, title, &mut report)?;
    }
    for (course_title, title, days, live) in LIVE_SESSIONS {
        let course = demo_course(conn, course_title)?;
        if live_sessions::find_by_title(conn, &course.id, title)?.is_some() {
            report.existing += 1;
            continue;
        }
        let starts = db::now() + chrono::Duration::days(*days);
        let session = live_sessions::insert(conn, &course.id, title, starts)?;
        if *live {
            live_sessions::go_live(conn, &session.id)?;
        }
        report.created += 1;
    }
    for expert in EXPERTS {
        seed_expert(conn, expert, &mut report)?;
    }
    for question in QUESTIONS {
        seed_question(conn, shop, question, &mut report)?;
    }
    Ok(report)
}

/// Asks one paid question (paid with the demo card) unless the asker asked it before; with an
/// answer, the expert answers it (the price is captured); with an unlocker, that user pays to
/// read the answer (split between asker and expert).
fn seed_question(
    conn: &mut DbConnection,
    shop: &DemoShop<'_>,
    question: &DemoQuestion,
    report: &mut SeedReport,
) -> Result<(), SeedError> {
    let (asker, expert, title, body, answer, unlocker) = *question;
    let (asker, expert) = (acting_as(conn, asker)?, acting_as(conn, expert)?);
    if questions::find_by_title(conn, &asker.id, title)?.is_some() {
        report.existing += 1;
        return Ok(());
    }
    if questions::price_of(conn, &expert.id)?.is_none() {
        questions::set_price(conn, &expert, Some(QUESTION_PRICE))?;
    }
    let draft = questions::Draft {
        title: title.into(),
        body: body.into(),
        public: true,
    };
    let now = chrono::Utc::now();
    let asked = questions::ask(
        conn,
        shop.sandbox,
        shop.consult,
        &asker,
        &expert.id,
        &draft,
        now,
    )?;
    shop.pay(conn, &asker.id, &asked.payment.id)?;
    if let Some(text) = answer {
        let id = &asked.question.id;
        questions::answer(conn, shop.sandbox, shop.consult, &expert, id, text, now)?;
        if let Some(reader) = unlocker {
            let reader = acting_as(conn, reader)?;
            let unlocking =
                questions::request_unlock(conn, shop.sandbox, shop.consult, &reader, id)?;
            shop.pay(conn, &reader.id, &unlocking.payment.id)?;
        }
    }
    report.created += 1;
    Ok(())
}

/// Publishes one demo expert profile with its weekly availability, unless it exists.
fn seed_expert(
    conn: &mut DbConnection,
    expert: &DemoExpert,
    report: &mut SeedReport,
) -> Result<(), SeedError> {
    let (email, headline, tags, languages, rate, zone, windows) = *expert;
    let user = acting_as(conn, email)?;
    if experts::find_profile(conn, &user.id)?.is_some() {
        report.existing += 1;
        return Ok(());
    }
    let owned = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let request = ProfileRequest {
        headline: headline.into(),
        bio: Some(format!("{headline}. Book a slot or ask a question.")),
        tags: Some(owned(tags)),
        languages: owned(languages),
        rate_per_minute_minor: rate,
        currency: "EUR".into(),
        min_minutes: 15,
        max_minutes: 90,
        time_zone: zone.into(),
        published: Some(true),
    };
    let draft = ProfileDraft::parse(&request).map_err(demo_expert)?;
    experts::save_profile(conn, &user, &draft).map_err(demo_expert)?;
    let views: Vec<WindowView> = windows
        .iter()
        .flat_map(|(days, start, end)| {
            days.iter().map(|d| WindowView {
                weekday: (*d).into(),
                start: (*start).into(),
                end: (*end).into(),
            })
        })
        .collect();
    let schedule = experts::parse_schedule(&views).map_err(demo_expert)?;
    experts::save_schedule(conn, &user, &schedule).map_err(demo_expert)?;
    report.created += 1;
    Ok(())
}

fn demo_expert(e: ExpertError) -> SeedError {
    SeedError::Inconsistent(format!("demo expert: {e}"))
}

/// The demo course with this title.
fn demo_course(conn: &mut DbConnection, title: &str) -> Result<CourseRow, SeedError> {
    let (instructor, ..) = COURSES
        .iter()
        .find(|c| c.1 == title)
        .ok_or_else(|| SeedError::Inconsistent(format!("no demo course {title:?}")))?;
    let owner = acting_as(conn, instructor)?;
    catalog_store::find_course_by_title(conn, &owner.id, title)?
        .ok_or_else(|| SeedError::Inconsistent(format!("course {title:?} was not seeded")))
}

/// Buys a paid course for a learner unless they own it: checkout, pay with the sandbox's test
/// card, and apply the provider's events as its webhooks would. The idempotency key is fixed per
/// learner and course, so a run cut short resumes the same order.
fn seed_purchase(
    conn: &mut DbConnection,
    shop: &DemoShop<'_>,
    learner: &str,
    title: &str,
    report: &mut SeedReport,
) -> Result<(), SeedError> {
    let user = acting_as(conn, learner)?;
    let course = demo_course(conn, title)?;
    if entitlements::has_active(conn, &user.id, &course.id)? {
        report.existing += 1;
        return Ok(());
    }
    let request = CheckoutRequest {
        course_id: course.id.clone(),
        coupon: None,
    };
    let key = format!("seed-demo:{}", course.id);
    let answer = orders::checkout(conn, shop.sandbox, shop.commerce, &user.id, &key, &request)?;
    let order: OrderView = serde_json::from_str(&answer.body)
        .map_err(|e| SeedError::Inconsistent(format!("checkout answer: {e}")))?;
    if let Some(payment) = &order.payment.id {
        shop.pay(conn, &user.id, payment)?;
    }
    report.created += 1;
    Ok(())
}

/// The demo user with this email, as the services see a signed-in caller.
fn acting_as(conn: &mut DbConnection, email: &str) -> Result<AuthUser, SeedError> {
    let row = store::find_user_by_email(conn, email)?
        .ok_or_else(|| SeedError::Inconsistent(format!("no user {email}")))?;
    let role = row.role.parse().map_err(SeedError::Inconsistent)?;
    Ok(AuthUser { id: row.id, role })
}

/// Finds or creates one demo course, gives it lessons, and moves it on to its target status.
fn seed_course(
    conn: &mut DbConnection,
    admin: &AuthUser,
    course: &DemoCourse,
    report: &mut SeedReport,
) -> Result<(), SeedError> {
    let (email, title, description, category, tags, price, currency, level, target) = *course;
    let owner = acting_as(conn, email)?;
    let row = match catalog_store::find_course_by_title(conn, &owner.id, title)? {
        Some(row) => {
            report.existing += 1;
            row
        }
        None => {
            let draft = CourseDraft::parse_new(&CourseInput {
                title: Some(title.into()),
                description: Some(description.into()),
                category: Some(category.into()),
                tags: Some(tags.iter().map(|t| (*t).to_owned()).collect()),
                cover_image_url: None,
                price_minor: Some(price),
                currency: Some(currency.into()),
                level: Some(level.into()),
                language: Some("en".into()),
            })?;
            report.created += 1;
            catalog::create_course(conn, &owner, &draft)?.course
        }
    };
    if catalog_store::lessons_of(conn, &row.id)?.is_empty() {
        for (lesson, duration, free_preview) in LESSONS {
            let input = LessonInput {
                title: Some((*lesson).into()),
                body: Some(Some(format!("{lesson} of \"{title}\": {description}"))),
                media_url: None,
                duration_secs: Some(*duration),
                free_preview: Some(*free_preview),
            };
            catalog::add_lesson(conn, &owner, &row.id, &input)?;
        }
    }
    let mut status: CourseStatus = row.status.parse().map_err(SeedError::Inconsistent)?;
    while status != target {
        let (actor, step) = match (status, target) {
            (CourseStatus::Draft, CourseStatus::InReview | CourseStatus::Published) => {
                (&owner, Transition::Submit)
            }
            (CourseStatus::InReview, CourseStatus::Published) => (admin, Transition::Approve),
            // Anything else was changed by hand after seeding: leave it alone.
            _ => break,
        };
        let card = catalog::transition(conn, actor, &row.id, step, None)?;
        status = card
            .course
            .status
            .parse()
            .map_err(SeedError::Inconsistent)?;
    }
    Ok(())
}

/// Enrols a learner in a free demo course and writes their review, each only once.
fn seed_enrolment(
    conn: &mut DbConnection,
    learner: &str,
    title: &str,
    review: Option<(i64, &str)>,
    report: &mut SeedReport,
) -> Result<(), SeedError> {
    let user = acting_as(conn, learner)?;
    let course = demo_course(conn, title)?;
    let (_, newly) = catalog::enroll(conn, &user, &course.id)?;
    if newly {
        report.created += 1;
    } else {
        report.existing += 1;
    }
    if let Some((stars, text)) = review {
        if catalog_store::find_review(conn, &course.id, &user.id)?.is_some() {
            report.existing += 1;
        } else {
            let rating = Rating::parse(stars).map_err(SeedError::Inconsistent)?;
            let text = ReviewText::parse(text).map_err(SeedError::Inconsistent)?;
            catalog::put_review(conn, &user, &course.id, rating, Some(&text))?;
            report.created += 1;
        }
    }
    Ok(())
}

/// Creates whichever demo accounts are missing.
fn seed_people(conn: &mut DbConnection) -> Result<SeedReport, AccountError> {
    let mut report = SeedReport::default();
    for (email, name, role) in PEOPLE {
        if store::find_user_by_email(conn, email)?.is_some() {
            report.existing += 1;
            continue;
        }
        let new = NewAccount::parse(email, DEMO_PASSWORD, name)?;
        match service::create_user(conn, &new, *role) {
            Ok(_) => report.created += 1,
            // Another seeder won the race; the record exists either way.
            Err(AccountError::EmailTaken) => report.existing += 1,
            Err(e) => return Err(e),
        }
    }
    Ok(report)
}
