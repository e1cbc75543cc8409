//! Writing journal transactions and reading balances.

use chrono::NaiveDateTime;
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::BigInt;

use super::domain::{self, Line};
use crate::db::schema::{ledger_entries, ledger_transactions};
use crate::db::{self, DbConnection};

/// Why a posting was refused.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The lines do not sum to zero: a bug in a posting rule, never written.
    #[error("unbalanced journal transaction {kind} for {reference}")]
    Unbalanced {
        /// Transaction kind.
        kind: String,
        /// What it was for.
        reference: String,
    },
    /// The database failed.
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

/// `SUM(amount_minor)` as a BIGINT on both backends (PostgreSQL would make it NUMERIC).
fn total() -> diesel::expression::SqlLiteral<BigInt> {
    sql::<BigInt>("CAST(COALESCE(SUM(ledger_entries.amount_minor), 0) AS BIGINT)")
}

/// Writes one balanced journal transaction. Call inside the transaction of the movement it
/// records, so the money and its books change together.
pub fn post(
    conn: &mut DbConnection,
    kind: &str,
    reference: &str,
    currency: &str,
    lines: &[Line],
) -> Result<(), LedgerError> {
    if !domain::balanced(lines) {
        return Err(LedgerError::Unbalanced {
            kind: kind.into(),
            reference: reference.into(),
        });
    }
    if lines.is_empty() {
        return Ok(());
    }
    let now = db::now();
    let tx_id = uuid::Uuid::now_v7().to_string();
    diesel::insert_into(ledger_transactions::table)
        .values((
            ledger_transactions::id.eq(&tx_id),
            ledger_transactions::kind.eq(kind),
            ledger_transactions::reference.eq(reference),
            ledger_transactions::currency.eq(currency),
            ledger_transactions::created_at.eq(now),
        ))
        .execute(conn)?;
    for l in lines {
        diesel::insert_into(ledger_entries::table)
            .values((
                ledger_entries::id.eq(uuid::Uuid::now_v7().to_string()),
                ledger_entries::transaction_id.eq(&tx_id),
                ledger_entries::account.eq(&l.account),
                ledger_entries::amount_minor.eq(l.amount_minor),
                ledger_entries::currency.eq(currency),
                ledger_entries::created_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Per-currency balances of accounts matching `account` (exact name), optionally only entries
/// created before `until`. Debit-positive.
pub fn balances(
    conn: &mut DbConnection,
    account: &str,
    until: Option<NaiveDateTime>,
) -> QueryResult<Vec<(String, i64)>> {
    let mut q = ledger_entries::table
        .filter(ledger_entries::account.eq(account))
        .group_by(ledger_entries::currency)
        .select((ledger_entries::currency, total()))
        .into_boxed();
    if let Some(t) = until {
        q = q.filter(ledger_entries::created_at.lt(t));
    }
    q.load(conn)
}

/// Per-currency credits to `account` from everything but refunds: what it earned from sales,
/// consultations, paid questions and unlocks, before anything was taken back.
pub fn earned(conn: &mut DbConnection, account: &str) -> QueryResult<Vec<(String, i64)>> {
    let rows: Vec<(String, i64)> = ledger_entries::table
        .inner_join(ledger_transactions::table)
        .filter(ledger_entries::account.eq(account))
        .filter(ledger_transactions::kind.ne("refund"))
        .group_by(ledger_entries::currency)
        .select((ledger_entries::currency, total()))
        .load(conn)?;
    Ok(rows.into_iter().map(|(c, s)| (c, -s)).collect())
}

/// Per-currency sum of every line: zero for every currency when the books balance.
pub fn trial_balance(conn: &mut DbConnection) -> QueryResult<Vec<(String, i64)>> {
    ledger_entries::table
        .group_by(ledger_entries::currency)
        .select((ledger_entries::currency, total()))
        .load(conn)
}

/// Per-currency balances of every account, for the admin summary.
pub fn all_balances(conn: &mut DbConnection) -> QueryResult<Vec<(String, String, i64)>> {
    ledger_entries::table
        .group_by((ledger_entries::account, ledger_entries::currency))
        .select((ledger_entries::account, ledger_entries::currency, total()))
        .load(conn)
}
