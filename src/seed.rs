//! `lyceum seed-demo`: a realistic demo data set (an admin, instructors, learners). Idempotent:
//! records are found by natural key (email) and only missing ones are created, so a second run
//! changes nothing. Later domains add their own data here.

use crate::accounts::domain::Role;
use crate::accounts::service::{self, AccountError, NewAccount};
use crate::accounts::store;
use crate::db::DbConnection;

/// The password every demo account gets; printed by the command and documented in the README.
pub const DEMO_PASSWORD: &str = "lyceum-demo-password";

/// Demo people: (email, display name, role).
const PEOPLE: &[(&str, &str, Role)] = &[
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

/// What a seed run did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SeedReport {
    /// Records created by this run.
    pub created: usize,
    /// Records that already existed and were left alone.
    pub existing: usize,
}

/// Creates whichever demo records are missing.
pub fn seed_demo(conn: &mut DbConnection) -> Result<SeedReport, AccountError> {
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
