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
        let existing: Option<String> = room_epochs::table
            .find(room)
            .select(room_epochs::epoch)
            .first(c)
            .optional()?;
        let epoch = match existing {
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

/// Stores one event.
pub fn append(
    conn: &mut DbConnection,
    room: &str,
    epoch: &str,
    seq: i64,
    kind: &str,
    actor_id: Option<&str>,
    data: &str,
) -> QueryResult<()> {
    diesel::insert_into(room_events::table)
        .values((
            room_events::room.eq(room),
            room_events::epoch.eq(epoch),
            room_events::seq.eq(seq),
            room_events::kind.eq(kind),
            room_events::actor_id.eq(actor_id),
            room_events::data.eq(data),
            room_events::created_at.eq(db::now()),
        ))
        .execute(conn)
        .map(|_| ())
}

/// The last `limit` events of the epoch, oldest first.
pub fn tail(
    conn: &mut DbConnection,
    room: &str,
    epoch: &str,
    limit: i64,
) -> QueryResult<Vec<StoredEvent>> {
    let mut rows: Vec<StoredEvent> = room_events::table
        .filter(room_events::room.eq(room))
        .filter(room_events::epoch.eq(epoch))
        .order(room_events::seq.desc())
        .limit(limit)
        .select(StoredEvent::as_select())
        .load(conn)?;
    rows.reverse();
    Ok(rows)
}
