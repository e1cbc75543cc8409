//! Account rows and the queries over them. Written once against [`DbConnection`], so they run
//! on both backends.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{refresh_tokens, users};

/// A row of `users`.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = users)]
pub struct UserRow {
    /// UUIDv7 text id.
    pub id: String,
    /// Lower-cased, unique.
    pub email: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Shown to other users.
    pub display_name: String,
    /// `learner`, `instructor` or `admin`.
    pub role: String,
    /// When the account was created.
    pub created_at: NaiveDateTime,
    /// When the account last changed.
    pub updated_at: NaiveDateTime,
}

/// A row of `refresh_tokens`: one link of a rotation family.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = refresh_tokens)]
pub struct RefreshTokenRow {
    /// UUIDv7 text id.
    pub id: String,
    /// Whose token.
    pub user_id: String,
    /// Every token rotated from one login shares this id; reuse revokes the whole family.
    pub family_id: String,
    /// SHA-256 of the raw token.
    pub token_hash: String,
    /// When it was issued.
    pub created_at: NaiveDateTime,
    /// After this it is refused.
    pub expires_at: NaiveDateTime,
    /// Set when it was exchanged for a new one.
    pub used_at: Option<NaiveDateTime>,
    /// Set on logout or reuse detection.
    pub revoked_at: Option<NaiveDateTime>,
}

/// Inserts a user; a duplicate email surfaces as a unique violation.
pub fn insert_user(conn: &mut DbConnection, row: &UserRow) -> QueryResult<()> {
    diesel::insert_into(users::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

/// The user with this (already lower-cased) email.
pub fn find_user_by_email(conn: &mut DbConnection, email: &str) -> QueryResult<Option<UserRow>> {
    users::table
        .filter(users::email.eq(email))
        .select(UserRow::as_select())
        .first(conn)
        .optional()
}

/// The user with this id.
pub fn find_user(conn: &mut DbConnection, id: &str) -> QueryResult<Option<UserRow>> {
    users::table
        .find(id)
        .select(UserRow::as_select())
        .first(conn)
        .optional()
}

/// A page of users, newest first, optionally filtered by an email substring.
pub fn list_users(
    conn: &mut DbConnection,
    email_contains: Option<&str>,
    limit: i64,
    offset: i64,
) -> QueryResult<Vec<UserRow>> {
    let mut query = users::table.select(UserRow::as_select()).into_boxed();
    if let Some(needle) = email_contains {
        let escaped = needle
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        query = query.filter(users::email.like(format!("%{escaped}%")).escape('\\'));
    }
    query
        .order((users::created_at.desc(), users::id.desc()))
        .limit(limit)
        .offset(offset)
        .load(conn)
}

/// Sets a user's role; returns false when no such user exists.
pub fn set_role(
    conn: &mut DbConnection,
    id: &str,
    role: &str,
    at: NaiveDateTime,
) -> QueryResult<bool> {
    diesel::update(users::table.find(id))
        .set((users::role.eq(role), users::updated_at.eq(at)))
        .execute(conn)
        .map(|n| n == 1)
}

/// Stores a refresh token.
pub fn insert_refresh_token(conn: &mut DbConnection, row: &RefreshTokenRow) -> QueryResult<()> {
    diesel::insert_into(refresh_tokens::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

/// The refresh token with this hash.
pub fn find_refresh_token(
    conn: &mut DbConnection,
    token_hash: &str,
) -> QueryResult<Option<RefreshTokenRow>> {
    refresh_tokens::table
        .filter(refresh_tokens::token_hash.eq(token_hash))
        .select(RefreshTokenRow::as_select())
        .first(conn)
        .optional()
}

/// Marks a token used if, and only if, nobody did first; false means another request won.
pub fn mark_used(conn: &mut DbConnection, id: &str, at: NaiveDateTime) -> QueryResult<bool> {
    diesel::update(
        refresh_tokens::table
            .find(id)
            .filter(refresh_tokens::used_at.is_null())
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::used_at.eq(at))
    .execute(conn)
    .map(|n| n == 1)
}

/// Revokes every token of a family that is not revoked yet.
pub fn revoke_family(
    conn: &mut DbConnection,
    family_id: &str,
    at: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::family_id.eq(family_id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(at))
    .execute(conn)
}

/// Number of users; used by the seed command and tests.
pub fn count_users(conn: &mut DbConnection) -> QueryResult<i64> {
    users::table.count().get_result(conn)
}

/// Number of administrators, with every admin row locked until the transaction ends, so the
/// last one cannot be demoted even by concurrent demotions: on PostgreSQL (READ COMMITTED) a
/// second demotion waits here, then re-reads the rows the first changed and counts one admin
/// fewer; SQLite's write transactions are serial already.
pub fn lock_admins(conn: &mut DbConnection) -> QueryResult<i64> {
    let admins = users::table
        .filter(users::role.eq("admin"))
        .select(users::id);
    match conn {
        DbConnection::Postgresql(pg) => admins
            .for_update()
            .load::<String>(pg)
            .map(|ids| ids.len() as i64),
        DbConnection::Sqlite(_) => admins.count().get_result(conn),
    }
}
