//! Commerce rules below HTTP. A property test of the money rules: random sequences of purchases (with and without coupons),
//! declined cards, cancellations and full or partial refunds, run against the real services on
//! a fresh SQLite database with the sandbox provider. After every step the ledger balances and
//! every active paid entitlement matches a paid, not fully refunded order (and vice versa), and
//! the ledger's balances equal what the orders say.

use std::collections::HashMap;

use diesel::prelude::*;
use proptest::prelude::*;

use lyceum::accounts::AuthUser;
use lyceum::accounts::domain::Role;
use lyceum::accounts::service::{self as accounts, NewAccount};
use lyceum::catalog::service::{self as catalog, CourseDraft, CourseInput};
use lyceum::db::schema::{courses, entitlements, orders, sandbox_outbox};
use lyceum::db::{Db, DbConnection, PoolOptions};
use lyceum::ledger::domain::{self as posting, CLEARING};
use lyceum::ledger::service as ledger;
use lyceum::money::{Currency, Money};
use lyceum::orders::coupons::{self, NewCoupon};
use lyceum::orders::service::{self, CheckoutRequest, CommerceConfig, RefundRequest};
use lyceum::payments::sandbox::Sandbox;

const LEARNERS: usize = 3;
const COURSES: usize = 3;
const FEE_BPS: u32 = 2000;
/// The payer of the hold payments created directly through the provider.
const PAYER: &str = "payer-1";

#[derive(Debug, Clone)]
enum Op {
    Buy {
        learner: usize,
        course: usize,
        coupon: bool,
        declined_first: bool,
    },
    Cancel {
        learner: usize,
        course: usize,
    },
    Refund {
        learner: usize,
        course: usize,
        percent: u8,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..LEARNERS, 0..COURSES, any::<bool>(), any::<bool>())
            .prop_map(|(learner, course, coupon, declined_first)| Op::Buy { learner, course, coupon, declined_first }),
        1 => (0..LEARNERS, 0..COURSES).prop_map(|(learner, course)| Op::Cancel { learner, course }),
        2 => (0..LEARNERS, 0..COURSES, 1u8..=100).prop_map(|(learner, course, percent)| Op::Refund { learner, course, percent }),
    ]
}

struct World {
    db: Db,
    sandbox: Sandbox,
    cfg: CommerceConfig,
    admin: String,
    learners: Vec<String>,
    courses: Vec<(String, String)>,
    _dir: tempfile::TempDir,
}

fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("p.db").display());
    let db = Db::connect(
        &url,
        &PoolOptions {
            max_size: 4,
            acquire_timeout: std::time::Duration::from_secs(10),
        },
    )
    .unwrap();
    db.migrate().unwrap();
    let mut c = db.get().unwrap();
    let mut user = |email: &str, role| {
        let new = NewAccount::parse(email, "a long enough password", "P").unwrap();
        accounts::create_user(&mut c, &new, role).unwrap().id
    };
    let admin = user("admin@p.org", Role::Admin);
    let instructors = [
        user("i1@p.org", Role::Instructor),
        user("i2@p.org", Role::Instructor),
    ];
    let learners = (0..LEARNERS)
        .map(|i| user(&format!("l{i}@p.org"), Role::Learner))
        .collect();
    let mut course_ids = Vec::new();
    for (i, price) in [999i64, 1, 12345].into_iter().enumerate() {
        let instructor = &instructors[i % 2];
        let draft = CourseDraft::parse_new(&CourseInput {
            title: Some(format!("Course {i}")),
            category: Some("science".into()),
            price_minor: Some(price),
            currency: Some("EUR".into()),
            ..Default::default()
        })
        .unwrap();
        let who = AuthUser {
            id: instructor.clone(),
            role: Role::Instructor,
        };
        let card = catalog::create_course(&mut c, &who, &draft).unwrap();
        diesel::update(courses::table.find(&card.course.id))
            .set(courses::status.eq("published"))
            .execute(&mut c)
            .unwrap();
        course_ids.push((card.course.id, instructor.clone()));
    }
    let coupon = NewCoupon {
        code: "TENOFF".into(),
        percent_off_bps: Some(1000),
        amount_off: None,
        course_id: None,
        expires_at: None,
        max_redemptions: Some(4),
        max_per_user: None,
    };
    coupons::create(&mut c, &admin, Role::Admin, &coupon).unwrap();
    drop(c);
    let sandbox = Sandbox::new(db.clone(), std::sync::Arc::new(tokio::sync::Notify::new()));
    World {
        cfg: CommerceConfig {
            fee_bps: FEE_BPS,
            order_ttl: std::time::Duration::from_secs(3600),
            refund_window: std::time::Duration::from_secs(3600),
            lease: std::time::Duration::from_secs(30),
        },
        db,
        sandbox,
        admin,
        learners,
        courses: course_ids,
        _dir: dir,
    }
}

fn latest_order(
    c: &mut DbConnection,
    learner: &str,
    course: &str,
    statuses: &[&str],
) -> Option<(String, i64, i64)> {
    orders::table
        .filter(orders::user_id.eq(learner))
        .filter(orders::course_id.eq(course))
        .filter(orders::status.eq_any(statuses))
        .order(orders::created_at.desc())
        .select((orders::id, orders::amount_minor, orders::refunded_minor))
        .first(c)
        .optional()
        .unwrap()
}

fn run(w: &World, op: &Op) {
    let mut c = w.db.get().unwrap();
    match *op {
        Op::Buy {
            learner,
            course,
            coupon,
            declined_first,
        } => {
            let req = CheckoutRequest {
                course_id: w.courses[course].0.clone(),
                coupon: coupon.then(|| "tenoff".into()),
            };
            let key = uuid::Uuid::new_v4().to_string();
            // Refusals (already owned, coupon used up, pending order) are legitimate outcomes.
            if let Ok(resp) =
                service::checkout(&mut c, &w.sandbox, &w.cfg, &w.learners[learner], &key, &req)
            {
                let order: serde_json::Value = serde_json::from_str(&resp.body).unwrap();
                if let Some(pid) = order["payment"]["id"].as_str() {
                    if declined_first {
                        w.sandbox
                            .confirm(pid, &w.learners[learner], "4000000000000002")
                            .unwrap();
                    }
                    w.sandbox
                        .confirm(pid, &w.learners[learner], "4242424242424242")
                        .unwrap();
                }
            }
        }
        Op::Cancel { learner, course } => {
            if let Some((id, ..)) = latest_order(
                &mut c,
                &w.learners[learner],
                &w.courses[course].0,
                &["pending_payment"],
            ) {
                service::cancel(&mut c, &w.sandbox, &id, &w.learners[learner], Role::Learner)
                    .unwrap();
            }
        }
        Op::Refund {
            learner,
            course,
            percent,
        } => {
            if let Some((id, amount, refunded)) = latest_order(
                &mut c,
                &w.learners[learner],
                &w.courses[course].0,
                &["paid", "partially_refunded"],
            ) {
                let remaining = amount - refunded;
                let part = (remaining * i64::from(percent) / 100).max(1);
                let req = RefundRequest {
                    amount_minor: Some(part),
                    reason: "property".into(),
                };
                service::refund(&mut c, &w.sandbox, &w.cfg, &id, &w.admin, Role::Admin, &req)
                    .unwrap();
            }
        }
    }
    lyceum::payments::sinks::Sinks::default()
        .with(service::OrderSink)
        .apply_queued(&mut c, &w.sandbox)
        .unwrap();
}

fn check(w: &World) {
    let mut c = w.db.get().unwrap();
    for (currency, total) in ledger::trial_balance(&mut c).unwrap() {
        assert_eq!(total, 0, "ledger out of balance in {currency}");
    }
    let rows: Vec<(String, String, String, i64, i64)> = orders::table
        .select((
            orders::id,
            orders::course_id,
            orders::status,
            orders::amount_minor,
            orders::refunded_minor,
        ))
        .load(&mut c)
        .unwrap();
    let mut expected_clearing = 0;
    let mut expected_payable: HashMap<String, i64> = HashMap::new();
    let eur = Currency::parse("EUR").unwrap();
    for (id, course, status, amount, refunded) in &rows {
        let active: i64 = entitlements::table
            .filter(entitlements::order_id.eq(id))
            .filter(entitlements::revoked_at.is_null())
            .count()
            .get_result(&mut c)
            .unwrap();
        let should_own = status == "paid" || status == "partially_refunded";
        assert_eq!(
            active == 1,
            should_own,
            "order {id} is {status} but has {active} active entitlements"
        );
        if should_own || status == "refunded" {
            expected_clearing += amount - refunded;
            let earned = posting::split(Money::new(*amount, eur).unwrap(), FEE_BPS)
                .unwrap()
                .earning;
            let taken_back = posting::split(Money::new(*refunded, eur).unwrap(), FEE_BPS)
                .unwrap()
                .earning;
            let instructor = &w.courses.iter().find(|(cid, _)| cid == course).unwrap().1;
            *expected_payable.entry(instructor.clone()).or_default() += earned - taken_back;
        }
    }
    let clearing: i64 = ledger::balances(&mut c, CLEARING, None)
        .unwrap()
        .iter()
        .map(|(_, v)| v)
        .sum();
    assert_eq!(clearing, expected_clearing);
    for (instructor, expected) in expected_payable {
        let owed: i64 = ledger::balances(&mut c, &posting::instructor_account(&instructor), None)
            .unwrap()
            .iter()
            .map(|(_, v)| -v)
            .sum();
        assert_eq!(owed, expected, "instructor {instructor}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn the_ledger_balances_and_entitlements_follow_paid_orders(ops in proptest::collection::vec(op(), 1..14)) {
        let w = world();
        for op in &ops {
            run(&w, op);
            check(&w);
        }
    }
}

/// Authorise-only payments (consultations use them): hold, capture part, the rest released;
/// refunds never exceed what was captured; a refund key is idempotent; every change queues a
/// webhook event.
#[test]
fn manual_capture_holds_captures_part_and_refunds_within_bounds() {
    use lyceum::payments::{CaptureMethod, PaymentProvider, ProviderStatus};
    let w = world();
    let eur = |minor| Money::new(minor, Currency::parse("EUR").unwrap()).unwrap();
    let p = w
        .sandbox
        .create_payment("booking-1", PAYER, eur(6000), CaptureMethod::Manual)
        .unwrap();
    assert_eq!(p.status, ProviderStatus::RequiresConfirmation);
    assert_eq!(
        w.sandbox
            .create_payment("booking-1", PAYER, eur(6000), CaptureMethod::Manual)
            .unwrap()
            .id,
        p.id,
        "idempotent per reference"
    );
    assert!(
        w.sandbox.capture(&p.id, eur(100)).is_err(),
        "nothing to capture before authorisation"
    );
    let held = w.sandbox.confirm(&p.id, PAYER, "4242424242424242").unwrap();
    assert_eq!(held.status, ProviderStatus::Authorized);
    assert_eq!(held.captured_minor, 0);
    assert!(
        w.sandbox.capture(&p.id, eur(6001)).is_err(),
        "never above the authorisation"
    );
    let taken = w.sandbox.capture(&p.id, eur(2500)).unwrap();
    assert_eq!(
        (taken.status, taken.captured_minor),
        (ProviderStatus::Succeeded, 2500)
    );
    assert_eq!(
        w.sandbox.capture(&p.id, eur(2500)).unwrap().captured_minor,
        2500,
        "capturing again what was taken answers the captured payment (a racing worker finishes)"
    );
    assert!(
        w.sandbox.capture(&p.id, eur(2400)).is_err(),
        "a different amount is not a repeat"
    );
    assert!(
        w.sandbox.release(&p.id).is_err(),
        "captured money is refunded, not released"
    );
    assert!(
        w.sandbox.refund(&p.id, eur(2501), "r1").is_err(),
        "never above what was captured"
    );
    assert_eq!(
        w.sandbox
            .refund(&p.id, eur(1000), "r1")
            .unwrap()
            .refunded_minor,
        1000
    );
    assert_eq!(
        w.sandbox
            .refund(&p.id, eur(1000), "r1")
            .unwrap()
            .refunded_minor,
        1000,
        "same key, same refund"
    );
    assert!(
        w.sandbox.refund(&p.id, eur(5), "r1").is_err(),
        "a key names one refund"
    );
    assert_eq!(
        w.sandbox
            .refund(&p.id, eur(1500), "r2")
            .unwrap()
            .refunded_minor,
        2500
    );

    let other = w
        .sandbox
        .create_payment("booking-2", PAYER, eur(3000), CaptureMethod::Manual)
        .unwrap();
    w.sandbox
        .confirm(&other.id, PAYER, "4242424242424242")
        .unwrap();
    assert_eq!(
        w.sandbox.release(&other.id).unwrap().status,
        ProviderStatus::Canceled
    );
    assert!(
        w.sandbox
            .confirm(&other.id, PAYER, "4242424242424242")
            .is_err()
    );

    let mut c = w.db.get().unwrap();
    let kinds: Vec<String> = sandbox_outbox::table
        .order(sandbox_outbox::created_at)
        .select(sandbox_outbox::payload)
        .load::<String>(&mut c)
        .unwrap()
        .iter()
        .map(|p| {
            serde_json::from_str::<serde_json::Value>(p).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "payment.authorized",
            "payment.captured",
            "refund.succeeded",
            "refund.succeeded",
            "payment.authorized",
            "payment.canceled"
        ]
    );
}
