//! First run: while the database holds no account, the web app offers to create the first
//! admin or to load the demo data set. Either claims the single row of `setup_claim`, so two
//! racing setups (or a setup racing a second one) cannot both pass, on either backend.

pub mod routes;

use diesel::prelude::*;

use crate::db::schema::{live_sessions, setup_claim, users};
use crate::db::{self, DbConnection, DbError};
use crate::error::ApiError;

/// What first-run setup is being done; stored with the claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetupKind {
    /// The first admin account was created.
    Admin,
    /// The demo data set was loaded.
    Demo,
}

impl SetupKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Demo => "demo",
        }
    }
}

/// Why setup was refused.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The database already has accounts, or setup already ran.
    #[error("setup is only possible on an empty database, and only once")]
    AlreadyDone,
    /// The data layer failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for SetupError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Db(e.into())
    }
}

impl From<SetupError> for ApiError {
    fn from(e: SetupError) -> Self {
        match e {
            SetupError::AlreadyDone => ApiError::Conflict(e.to_string()),
            SetupError::Db(e) => e.into(),
        }
    }
}

/// True while setup may still run: nobody claimed it and no account exists.
pub fn is_open(conn: &mut DbConnection) -> Result<bool, SetupError> {
    let claimed: i64 = setup_claim::table.count().get_result(conn)?;
    Ok(claimed == 0 && !any_user(conn)?)
}

fn any_user(conn: &mut DbConnection) -> Result<bool, SetupError> {
    Ok(diesel::select(diesel::dsl::exists(users::table.select(users::id))).get_result(conn)?)
}

/// Claims setup for `kind`; call inside the transaction that does the setup's first write, so
/// the claim and that write commit together. The insert of row 1 is the lock: a concurrent
/// claim waits on the key and then inserts nothing.
pub fn claim(conn: &mut DbConnection, kind: SetupKind) -> Result<(), SetupError> {
    let row = (
        setup_claim::id.eq(1),
        setup_claim::kind.eq(kind.as_str()),
        setup_claim::claimed_at.eq(db::now()),
    );
    let inserted = crate::insert_or_ignore!(conn, setup_claim::table, &row)?;
    if inserted == 0 || any_user(conn)? {
        return Err(SetupError::AlreadyDone);
    }
    Ok(())
}

/// The live sessions in progress (id, course id, title), so the page can send a newcomer
/// straight into one after loading the demo.
pub fn live_now(conn: &mut DbConnection) -> Result<Vec<(String, String, String)>, SetupError> {
    Ok(live_sessions::table
        .filter(live_sessions::status.eq("live"))
        .select((
            live_sessions::id,
            live_sessions::course_id,
            live_sessions::title,
        ))
        .order(live_sessions::starts_at)
        .load(conn)?)
}
