//! The durable room log: each room has one epoch (a random id, new only when its history is
//! lost) and events numbered 1, 2, 3… within it. Rooms are the single writer of their log;
//! these functions only store and read it.

use diesel::prelude::*;

use crate::db::schema::{room_epochs, room_events};
use crate::db::{self, DbConnection};

/// One stored event.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = room_events)]
pub struct StoredEvent {
    /// Position in the epoch.
    pub seq: i64,
    /// What happened (`chat`, …).
    pub kind: String,
    /// Who did it.
    pub actor_id: Option<String>,
    /// JSON payload.
    pub data: String,
    /// When.
    pub created_at: chrono::NaiveDateTime,
}

/// The room's epoch and last sequence number, creating the epoch on first use, so a restarted
/// server continues the same log.
pub fn open(conn: &mut DbConnection, room: &str) -> QueryResult<(String, i64)> {
    db::write_transaction(conn, |c| {
        let epoch = match epoch(c, room)? {
            Some(e) => e,
            None => {
                let e = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
                diesel::insert_into(room_epochs::table)
                    .values((
                        room_epochs::room.eq(room),
                        room_epochs::epoch.eq(&e),
                        room_epochs::created_at.eq(db::now()),
                    ))
                    .execute(c)?;
                e
            }
        };
        let last: Option<i64> = room_events::table
            .filter(room_events::room.eq(room))
            .filter(room_events::epoch.eq(&epoch))
            .select(diesel::dsl::max(room_events::seq))
            .first(c)?;
        Ok((epoch, last.unwrap_or(0)))
    })
}

/// Stores one event of `room`'s log in `epoch`.
pub fn append(
    conn: &mut DbConnection,
    room: &str,
    epoch: &str,
    event: &StoredEvent,
) -> QueryResult<()> {
    diesel::insert_into(room_events::table)
        .values((
            room_events::room.eq(room),
            room_events::epoch.eq(epoch),
            room_events::seq.eq(event.seq),
            room_events::kind.eq(&event.kind),
            room_events::actor_id.eq(&event.actor_id),
            room_events::data.eq(&event.data),
            room_events::created_at.eq(event.created_at),
        ))
        .execute(conn)
        .map(|_| ())
}

/// Every event of the epoch, oldest first: rooms fold them into their state when they start,
/// and transcripts are read from them.
pub fn all(conn: &mut DbConnection, room: &str, epoch: &str) -> QueryResult<Vec<StoredEvent>> {
    room_events::table
        .filter(room_events::room.eq(room))
        .filter(room_events::epoch.eq(epoch))
        .order(room_events::seq.asc())
        .select(StoredEvent::as_select())
        .load(conn)
}

/// The events of the epoch after `seq`, oldest first: what a reader that already folded the log
/// up to `seq` still needs.
pub fn after(
    conn: &mut DbConnection,
    room: &str,
    epoch: &str,
    seq: i64,
) -> QueryResult<Vec<StoredEvent>> {
    room_events::table
        .filter(room_events::room.eq(room))
        .filter(room_events::epoch.eq(epoch))
        .filter(room_events::seq.gt(seq))
        .order(room_events::seq.asc())
        .select(StoredEvent::as_select())
        .load(conn)
}

/// Up to `limit` events of `kind` after `seq`, oldest first: one page of the chat without
/// reading the rest of the log.
pub fn page_of(
    conn: &mut DbConnection,
    room: &str,
    epoch: &str,
    kind: &str,
    seq: i64,
    limit: usize,
) -> QueryResult<Vec<StoredEvent>> {
    room_events::table
        .filter(room_events::room.eq(room))
        .filter(room_events::epoch.eq(epoch))
        .filter(room_events::seq.gt(seq))
        .filter(room_events::kind.eq(kind))
        .order(room_events::seq.asc())
        .limit(i64::try_from(limit).unwrap_or(i64::MAX))
        .select(StoredEvent::as_select())
        .load(conn)
}

/// The room's current epoch, if its log was ever opened.
pub fn epoch(conn: &mut DbConnection, room: &str) -> QueryResult<Option<String>> {
    room_epochs::table
        .find(room)
        .select(room_epochs::epoch)
        .first(conn)
        .optional()
}
