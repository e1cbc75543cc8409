//! Expert profiles: an instructor (or admin) publishes a profile with a per-minute rate, weekly
//! availability windows and blocked days; anyone lists, searches and reads published profiles
//! and their free time. Bookings build on [`bookable`], the one check a booking must pass, and
//! fill [`busy_intervals`].
//!
//! The file reads top to bottom: validated input, rows and queries, the rules (plain functions
//! over a connection), then the thin HTTP handlers and their JSON shapes.

use std::collections::HashMap;

use actix_web::{HttpResponse, web};
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::availability::{
    self, Interval, STEP_MINUTES, WeeklySchedule, WeeklyWindow, covers, free_intervals,
};
use crate::accounts::{AuthUser, Role};
use crate::catalog::domain::{Tags, problems, text_type};
use crate::catalog::service::Listing;
use crate::catalog::store::{contains_pattern, names_for};
use crate::db::schema::{
    expert_blocked_days, expert_languages, expert_profiles, expert_tags, expert_windows,
};
use crate::db::{self, Db, DbConnection, DbError};
use crate::error::{ApiError, ErrorBody};
use crate::insert_or_ignore;
use crate::money::Currency;
use crate::pagination::{Page, PageQuery};

// ---------------------------------------------------------------------------------------------
// Validated input
// ---------------------------------------------------------------------------------------------

text_type!(
    /// An expert's one-line headline: 1–120 characters.
    Headline, "headline", 1, 120, false
);
text_type!(
    /// An expert's longer introduction: up to 4 000 characters, line breaks allowed.
    Bio, "bio", 0, 4_000, true
);

/// The languages an expert consults in: 1–5 distinct ISO 639-1 codes, lower-cased, sorted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Languages(Vec<String>);

impl Languages {
    /// Most languages one profile may list.
    pub const MAX_COUNT: usize = 5;

    /// Trims and lower-cases each code, drops duplicates and checks the count.
    pub fn parse<S: AsRef<str>>(raw: &[S]) -> Result<Self, String> {
        let mut codes = Vec::new();
        for r in raw {
            let code = parse_language(r.as_ref())?;
            if !codes.contains(&code) {
                codes.push(code);
            }
        }
        if codes.is_empty() || codes.len() > Self::MAX_COUNT {
            return Err(format!(
                "languages must list 1 to {} codes",
                Self::MAX_COUNT
            ));
        }
        codes.sort();
        Ok(Self(codes))
    }

    /// The codes.
    pub fn as_slice(&self) -> &[String] {
        &self.0
    }
}

/// One ISO 639-1 code such as `en`: two letters, lower-cased. Only the shape is checked; the
/// registry is not consulted.
pub fn parse_language(raw: &str) -> Result<String, String> {
    let code = raw.trim().to_ascii_lowercase();
    if code.len() == 2 && code.bytes().all(|b| b.is_ascii_lowercase()) {
        Ok(code)
    } else {
        Err(format!(
            "language {raw:?} must be a two-letter ISO 639-1 code like \"en\""
        ))
    }
}

/// An IANA time zone name such as `Europe/Berlin`, exactly as the tz database spells it.
pub fn parse_time_zone(raw: &str) -> Result<Tz, String> {
    raw.trim()
        .parse::<Tz>()
        .map_err(|_| format!("time_zone {raw:?} is not an IANA time zone like \"Europe/Berlin\""))
}

/// Highest accepted per-minute rate, in minor units (10 000.00 of a 2-decimal currency).
pub const MAX_RATE_MINOR: i64 = 1_000_000;
/// Longest booking an expert may allow, in minutes.
pub const MAX_BOOKING_MINUTES: i64 = 240;
/// How far ahead a day may be blocked, so the table stays bounded per expert.
pub const MAX_BLOCK_AHEAD_DAYS: i64 = 730;

/// A validated `PUT /experts/me`.
#[derive(Debug, Clone)]
pub struct ProfileDraft {
    /// Headline.
    pub headline: Headline,
    /// Bio.
    pub bio: Bio,
    /// Tags, normalised like course tags so one tag vocabulary serves both.
    pub tags: Tags,
    /// Languages.
    pub languages: Languages,
    /// Minor units per minute, 1–[`MAX_RATE_MINOR`].
    pub rate_per_minute_minor: i64,
    /// Currency of the rate.
    pub currency: Currency,
    /// Shortest booking, minutes.
    pub min_minutes: i32,
    /// Longest booking, minutes.
    pub max_minutes: i32,
    /// The zone the weekly windows are read in.
    pub time_zone: Tz,
    /// Listed publicly.
    pub published: bool,
}

/// Checks the booking-length bounds: multiples of 5, `5 ≤ min ≤ max ≤ 240`.
fn parse_minutes(min: i64, max: i64) -> Result<(i32, i32), String> {
    let step = i64::from(STEP_MINUTES);
    if min % step != 0 || max % step != 0 {
        return Err(format!(
            "min_minutes and max_minutes must be multiples of {step}"
        ));
    }
    if !(step <= min && min <= max && max <= MAX_BOOKING_MINUTES) {
        return Err(format!(
            "booking lengths must satisfy {step} ≤ min_minutes ≤ max_minutes ≤ {MAX_BOOKING_MINUTES}"
        ));
    }
    // Both are within 5..=240 here.
    Ok((min as i32, max as i32))
}

impl ProfileDraft {
    /// Checks every field, reporting all problems at once.
    pub fn parse(req: &ProfileRequest) -> Result<Self, ExpertError> {
        let headline = Headline::parse(&req.headline);
        let bio = Bio::parse(req.bio.as_deref().unwrap_or_default());
        let tags = Tags::parse(req.tags.as_deref().unwrap_or_default());
        let languages = Languages::parse(&req.languages);
        let rate = if (1..=MAX_RATE_MINOR).contains(&req.rate_per_minute_minor) {
            Ok(req.rate_per_minute_minor)
        } else {
            Err(format!(
                "rate_per_minute_minor must be between 1 and {MAX_RATE_MINOR}"
            ))
        };
        let currency = Currency::parse(&req.currency);
        let minutes = parse_minutes(req.min_minutes, req.max_minutes);
        let time_zone = parse_time_zone(&req.time_zone);
        match (
            headline, bio, tags, languages, rate, currency, minutes, time_zone,
        ) {
            (
                Ok(headline),
                Ok(bio),
                Ok(tags),
                Ok(languages),
                Ok(rate_per_minute_minor),
                Ok(currency),
                Ok((min_minutes, max_minutes)),
                Ok(time_zone),
            ) => Ok(Self {
                headline,
                bio,
                tags,
                languages,
                rate_per_minute_minor,
                currency,
                min_minutes,
                max_minutes,
                time_zone,
                published: req.published.unwrap_or(false),
            }),
            (a, b, c, d, e, f, g, h) => Err(ExpertError::Invalid(
                problems(&[
                    a.err(),
                    b.err(),
                    c.err(),
                    d.err(),
                    e.err(),
                    f.err(),
                    g.err(),
                    h.err(),
                ])
                .unwrap_or_default(),
            )),
        }
    }
}

/// Parses a weekly schedule from the wire, naming the position of each bad window.
pub fn parse_schedule(windows: &[WindowView]) -> Result<WeeklySchedule, ExpertError> {
    if windows.len() > availability::MAX_WINDOWS {
        return Err(ExpertError::Invalid(format!(
            "at most {} windows are allowed",
            availability::MAX_WINDOWS
        )));
    }
    let mut parsed = Vec::with_capacity(windows.len());
    let mut errors = Vec::new();
    for (i, w) in windows.iter().enumerate() {
        match WeeklyWindow::parse(&w.weekday, &w.start, &w.end) {
            Ok(window) => parsed.push(window),
            Err(e) => errors.push(Some(format!("windows[{i}]: {e}"))),
        }
    }
    if let Some(msg) = problems(&errors) {
        return Err(ExpertError::Invalid(msg));
    }
    WeeklySchedule::new(parsed).map_err(ExpertError::Invalid)
}

/// Parses a `YYYY-MM-DD` local date.
pub fn parse_date(raw: &str) -> Result<NaiveDate, ExpertError> {
    let raw = raw.trim();
    // chrono accepts unpadded fields; the wire format is exactly ten characters.
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .filter(|_| raw.len() == 10)
        .ok_or_else(|| ExpertError::Invalid(format!("date {raw:?} must be YYYY-MM-DD")))
}

/// Raw `GET /experts` filters; [`ExpertSearch::parse`] checks them.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExpertSearchParams {
    /// Free text: every whitespace-separated word must occur in the headline, bio or display
    /// name (case-insensitive).
    pub q: Option<String>,
    /// Only experts with this tag.
    pub tag: Option<String>,
    /// Only experts speaking this ISO 639-1 language.
    pub language: Option<String>,
    /// Lowest per-minute rate in minor units (inclusive), in the expert's own currency.
    pub min_rate: Option<i64>,
    /// Highest per-minute rate in minor units (inclusive), in the expert's own currency.
    pub max_rate: Option<i64>,
    /// With `available_to`: only experts with free time in this range (RFC 3339, at most 31
    /// days).
    pub available_from: Option<DateTime<Utc>>,
    /// End of the availability range (exclusive).
    pub available_to: Option<DateTime<Utc>>,
}

/// A checked expert search.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpertSearch {
    /// Lower-cased words that must all match.
    pub terms: Vec<String>,
    /// Normalised tag.
    pub tag: Option<String>,
    /// Language code.
    pub language: Option<String>,
    /// Inclusive lower rate bound.
    pub min_rate: Option<i64>,
    /// Inclusive upper rate bound.
    pub max_rate: Option<i64>,
    /// Only experts with free time in `[from, to)`.
    pub available: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

impl ExpertSearch {
    /// Longest free-text query, in characters.
    pub const MAX_QUERY_CHARS: usize = 200;
    /// Most words in a query.
    pub const MAX_TERMS: usize = 10;

    /// Checks every parameter, reporting all problems at once.
    pub fn parse(p: &ExpertSearchParams) -> Result<Self, String> {
        let q = p.q.as_deref().unwrap_or_default();
        let terms: Vec<String> = q.split_whitespace().map(str::to_lowercase).collect();
        let terms_err = if q.chars().count() > Self::MAX_QUERY_CHARS {
            Some(format!(
                "q must be at most {} characters",
                Self::MAX_QUERY_CHARS
            ))
        } else if terms.len() > Self::MAX_TERMS {
            Some(format!("q may hold at most {} words", Self::MAX_TERMS))
        } else {
            None
        };
        fn given(v: &Option<String>) -> Option<&str> {
            v.as_deref().map(str::trim).filter(|s| !s.is_empty())
        }
        let tag = given(&p.tag).map(Tags::parse_one).transpose();
        let language = given(&p.language).map(parse_language).transpose();
        let rate_err = match (p.min_rate, p.max_rate) {
            (Some(n), _) | (_, Some(n)) if n < 0 => Some("rates must not be negative".to_owned()),
            (Some(lo), Some(hi)) if lo > hi => Some("min_rate must not exceed max_rate".to_owned()),
            _ => None,
        };
        let available = match (p.available_from, p.available_to) {
            (None, None) => Ok(None),
            (Some(from), Some(to)) => availability::check_range(from, to)
                .map(|()| Some((from, to)))
                .map_err(|e| format!("available_from/available_to: {e}")),
            _ => Err("available_from and available_to go together".to_owned()),
        };
        if let Some(msg) = problems(&[
            terms_err,
            tag.as_ref().err().cloned(),
            language.as_ref().err().cloned(),
            rate_err,
            available.as_ref().err().cloned(),
        ]) {
            return Err(msg);
        }
        Ok(Self {
            terms,
            tag: tag.ok().flatten(),
            language: language.ok().flatten(),
            min_rate: p.min_rate,
            max_rate: p.max_rate,
            available: available.ok().flatten(),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// Why an expert operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ExpertError {
    /// Input broke a rule (400 `validation_failed`); the message lists every broken rule.
    #[error("{0}")]
    Invalid(String),
    /// No such expert, or not published (404).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The caller may not do this (403).
    #[error("{0}")]
    Forbidden(String),
    /// The expert is not available at the requested time (409 `conflict`).
    #[error("{0}")]
    Unavailable(String),
    /// The data layer failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for ExpertError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Db(e.into())
    }
}

impl From<ExpertError> for ApiError {
    fn from(e: ExpertError) -> Self {
        match e {
            ExpertError::Invalid(m) => ApiError::Validation(m),
            ExpertError::NotFound(what) => ApiError::not_found(what),
            ExpertError::Forbidden(m) => ApiError::Forbidden(m),
            ExpertError::Unavailable(m) => ApiError::Conflict(m),
            ExpertError::Db(e) => e.into(),
        }
    }
}

/// A stored value that breaks the rules it was written under: a bug, reported as a 500.
fn corrupt(msg: String) -> ExpertError {
    ExpertError::Db(DbError::Query(diesel::result::Error::DeserializationError(
        msg.into(),
    )))
}

// ---------------------------------------------------------------------------------------------
// Rows and queries
// ---------------------------------------------------------------------------------------------

/// The diesel backend behind [`DbConnection`], for boxed queries.
type Backend = <DbConnection as Connection>::Backend;

/// A row of `expert_profiles`, keyed by the expert's user id.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = expert_profiles)]
pub struct ProfileRow {
    /// The expert's user id.
    pub user_id: String,
    /// 1–120 characters.
    pub headline: String,
    /// Up to 4 000 characters.
    pub bio: String,
    /// Minor units of `currency` per minute.
    pub rate_per_minute_minor: i64,
    /// ISO 4217 code.
    pub currency: String,
    /// Shortest booking, minutes.
    pub min_minutes: i32,
    /// Longest booking, minutes.
    pub max_minutes: i32,
    /// IANA name of the zone the weekly windows are local to.
    pub time_zone: String,
    /// Listed publicly and bookable.
    pub published: bool,
    /// Lower-cased display name, headline and bio: what free-text search matches. The display
    /// name is captured when the profile is saved.
    pub search_text: String,
    /// When first saved.
    pub created_at: NaiveDateTime,
    /// When last saved.
    pub updated_at: NaiveDateTime,
}

/// The columns a profile save changes (never `created_at`).
#[derive(Debug, Clone, AsChangeset)]
#[diesel(table_name = expert_profiles)]
struct ProfileChanges<'a> {
    headline: &'a str,
    bio: &'a str,
    rate_per_minute_minor: i64,
    currency: &'a str,
    min_minutes: i32,
    max_minutes: i32,
    time_zone: &'a str,
    published: bool,
    search_text: &'a str,
    updated_at: NaiveDateTime,
}

/// A row of `expert_blocked_days`: one blocked local date and the UTC instants of that local
/// day in the profile's zone, so range queries run on UTC columns.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = expert_blocked_days)]
pub struct BlockedDayRow {
    /// The expert.
    pub expert_id: String,
    /// The blocked date, local to the profile's time zone.
    pub local_date: NaiveDate,
    /// Local midnight starting the day, in UTC.
    pub starts_at: NaiveDateTime,
    /// The next local midnight, in UTC.
    pub ends_at: NaiveDateTime,
}

impl BlockedDayRow {
    /// The row blocking `date` in `tz`.
    fn new(expert_id: &str, date: NaiveDate, tz: Tz) -> Self {
        let (start, end) = availability::local_day(tz, date);
        Self {
            expert_id: expert_id.to_owned(),
            local_date: date,
            starts_at: start.naive_utc(),
            ends_at: end.naive_utc(),
        }
    }
}

/// The profile of `expert_id`, published or not.
pub fn find_profile(conn: &mut DbConnection, expert_id: &str) -> QueryResult<Option<ProfileRow>> {
    expert_profiles::table
        .find(expert_id)
        .select(ProfileRow::as_select())
        .first(conn)
        .optional()
}

/// The published profile of `expert_id`; 404 otherwise.
pub fn find_published(conn: &mut DbConnection, expert_id: &str) -> Result<ProfileRow, ExpertError> {
    find_profile(conn, expert_id)?
        .filter(|p| p.published)
        .ok_or(ExpertError::NotFound("expert"))
}

/// Replaces the values of one child table (`expert_tags` or `expert_languages`) of an expert;
/// one statement per value, since batch inserts do not compile through the multi-backend
/// connection and there are at most ten.
macro_rules! replace_children {
    ($conn:expr, $table:ident, $column:ident, $expert_id:expr, $values:expr) => {{
        diesel::delete($table::table.filter($table::expert_id.eq($expert_id))).execute($conn)?;
        for value in $values {
            diesel::insert_into($table::table)
                .values(($table::expert_id.eq($expert_id), $table::$column.eq(value)))
                .execute($conn)?;
        }
        QueryResult::Ok(())
    }};
}

/// Alphabetical values of one child table for each expert in `ids`.
macro_rules! children_of {
    ($conn:expr, $table:ident, $column:ident, $ids:expr) => {{
        let rows: Vec<(String, String)> = $table::table
            .filter($table::expert_id.eq_any($ids))
            .order(($table::expert_id, $table::$column))
            .select(($table::expert_id, $table::$column))
            .load($conn)?;
        let mut map: HashMap<String, Vec<String>> = HashMap::new();
        for (expert, value) in rows {
            map.entry(expert).or_default().push(value);
        }
        QueryResult::Ok(map)
    }};
}

/// Weekly windows of each expert in `ids`, by day and start.
fn windows_for(
    conn: &mut DbConnection,
    ids: &[&str],
) -> Result<HashMap<String, Vec<WeeklyWindow>>, ExpertError> {
    let rows: Vec<(String, i32, i32, i32)> = expert_windows::table
        .filter(expert_windows::expert_id.eq_any(ids))
        .order((
            expert_windows::expert_id,
            expert_windows::weekday,
            expert_windows::start_minute,
        ))
        .select((
            expert_windows::expert_id,
            expert_windows::weekday,
            expert_windows::start_minute,
            expert_windows::end_minute,
        ))
        .load(conn)?;
    let mut map: HashMap<String, Vec<WeeklyWindow>> = HashMap::new();
    for (expert, day, start, end) in rows {
        let window = WeeklyWindow::from_stored(day, start, end).map_err(corrupt)?;
        map.entry(expert).or_default().push(window);
    }
    Ok(map)
}

/// The weekly windows of one expert.
fn windows_of(conn: &mut DbConnection, expert_id: &str) -> Result<Vec<WeeklyWindow>, ExpertError> {
    Ok(windows_for(conn, &[expert_id])?
        .remove(expert_id)
        .unwrap_or_default())
}

/// Replaces an expert's weekly windows.
fn set_windows(
    conn: &mut DbConnection,
    expert_id: &str,
    windows: &[WeeklyWindow],
) -> QueryResult<()> {
    diesel::delete(expert_windows::table.filter(expert_windows::expert_id.eq(expert_id)))
        .execute(conn)?;
    for w in windows {
        diesel::insert_into(expert_windows::table)
            .values((
                expert_windows::expert_id.eq(expert_id),
                expert_windows::weekday.eq(w.weekday_index()),
                expert_windows::start_minute.eq(i32::from(w.start_minute())),
                expert_windows::end_minute.eq(i32::from(w.end_minute())),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// The local dates an expert blocked whose local day overlaps `[from, to)`.
fn blocked_dates_between(
    conn: &mut DbConnection,
    expert_id: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> QueryResult<Vec<NaiveDate>> {
    expert_blocked_days::table
        .filter(expert_blocked_days::expert_id.eq(expert_id))
        .filter(expert_blocked_days::starts_at.lt(to.naive_utc()))
        .filter(expert_blocked_days::ends_at.gt(from.naive_utc()))
        .select(expert_blocked_days::local_date)
        .load(conn)
}

/// An expert's blocked days that have not ended by `now`, by date.
fn upcoming_blocked_days(
    conn: &mut DbConnection,
    expert_id: &str,
    now: DateTime<Utc>,
) -> QueryResult<Vec<BlockedDayRow>> {
    expert_blocked_days::table
        .filter(expert_blocked_days::expert_id.eq(expert_id))
        .filter(expert_blocked_days::ends_at.gt(now.naive_utc()))
        .order(expert_blocked_days::local_date)
        .select(BlockedDayRow::as_select())
        .load(conn)
}

/// Recomputes the UTC bounds of every blocked day after the profile's zone changed, so the
/// stored instants always describe the local dates in the current zone.
fn rebase_blocked_days(conn: &mut DbConnection, expert_id: &str, tz: Tz) -> QueryResult<()> {
    let dates: Vec<NaiveDate> = expert_blocked_days::table
        .filter(expert_blocked_days::expert_id.eq(expert_id))
        .select(expert_blocked_days::local_date)
        .load(conn)?;
    for date in dates {
        let row = BlockedDayRow::new(expert_id, date, tz);
        diesel::update(expert_blocked_days::table.find((expert_id, date)))
            .set((
                expert_blocked_days::starts_at.eq(row.starts_at),
                expert_blocked_days::ends_at.eq(row.ends_at),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// The UTC intervals in which `expert_id` is already booked and overlapping `[from, to)`.
/// Everything that computes free time or accepts a booking goes through this one function.
pub fn busy_intervals(
    conn: &mut DbConnection,
    expert_id: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> QueryResult<Vec<(DateTime<Utc>, DateTime<Utc>)>> {
    super::bookings::busy(conn, expert_id, from, to)
}

/// Published profiles matching the SQL part of `search`, unordered; shared by the count and the
/// page so the total always describes the same set.
fn search_query(search: &ExpertSearch) -> expert_profiles::BoxedQuery<'_, Backend> {
    let mut q = expert_profiles::table
        .filter(expert_profiles::published.eq(true))
        .into_boxed();
    for term in &search.terms {
        q = q.filter(
            expert_profiles::search_text
                .like(contains_pattern(term))
                .escape('\\'),
        );
    }
    if let Some(tag) = &search.tag {
        q = q.filter(
            expert_profiles::user_id.eq_any(
                expert_tags::table
                    .filter(expert_tags::tag.eq(tag))
                    .select(expert_tags::expert_id),
            ),
        );
    }
    if let Some(language) = &search.language {
        q = q.filter(
            expert_profiles::user_id.eq_any(
                expert_languages::table
                    .filter(expert_languages::language.eq(language))
                    .select(expert_languages::expert_id),
            ),
        );
    }
    if let Some(min) = search.min_rate {
        q = q.filter(expert_profiles::rate_per_minute_minor.ge(min));
    }
    if let Some(max) = search.max_rate {
        q = q.filter(expert_profiles::rate_per_minute_minor.le(max));
    }
    q
}

/// Profiles matching the SQL part of `search`, newest first; one page of them when `page` is
/// given.
fn search_rows(
    conn: &mut DbConnection,
    search: &ExpertSearch,
    page: Option<Page>,
) -> QueryResult<Vec<ProfileRow>> {
    let mut q = search_query(search)
        .order((
            expert_profiles::created_at.desc(),
            expert_profiles::user_id.desc(),
        ))
        .select(ProfileRow::as_select());
    if let Some(page) = page {
        q = q.limit(page.limit).offset(page.offset);
    }
    q.load(conn)
}

// ---------------------------------------------------------------------------------------------
// Rules
// ---------------------------------------------------------------------------------------------

/// What a booking is priced and bounded by, as [`bookable`] found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpertTerms {
    /// The expert's user id.
    pub expert_id: String,
    /// Minor units of `currency` per minute.
    pub rate_per_minute_minor: i64,
    /// The rate's currency.
    pub currency: Currency,
    /// Shortest booking, minutes.
    pub min_minutes: i32,
    /// Longest booking, minutes.
    pub max_minutes: i32,
}

/// A profile with what every view of it shows beside the row.
#[derive(Debug, Clone)]
pub struct ExpertCard {
    /// The row.
    pub profile: ProfileRow,
    /// The expert's current display name.
    pub display_name: String,
    /// Tags, alphabetically.
    pub tags: Vec<String>,
    /// Language codes, alphabetically.
    pub languages: Vec<String>,
}

/// The owner's view: the card, the weekly windows and the blocked days still ahead.
#[derive(Debug, Clone)]
pub struct OwnProfile {
    /// The profile.
    pub card: ExpertCard,
    /// Weekly windows.
    pub windows: Vec<WeeklyWindow>,
    /// Blocked days that have not ended yet.
    pub blocked_days: Vec<BlockedDayRow>,
}

/// The zone a stored profile names.
fn tz_of(row: &ProfileRow) -> Result<Tz, ExpertError> {
    parse_time_zone(&row.time_zone).map_err(corrupt)
}

/// Attaches names, tags and languages to rows, in three queries however many.
fn cards(conn: &mut DbConnection, rows: Vec<ProfileRow>) -> Result<Vec<ExpertCard>, ExpertError> {
    let ids: Vec<&str> = rows.iter().map(|r| r.user_id.as_str()).collect();
    let names = names_for(conn, &ids)?;
    let mut tags = children_of!(conn, expert_tags, tag, &ids)?;
    let mut languages = children_of!(conn, expert_languages, language, &ids)?;
    Ok(rows
        .into_iter()
        .map(|profile| ExpertCard {
            display_name: names.get(&profile.user_id).cloned().unwrap_or_default(),
            tags: tags.remove(&profile.user_id).unwrap_or_default(),
            languages: languages.remove(&profile.user_id).unwrap_or_default(),
            profile,
        })
        .collect())
}

/// Cards of published profiles, at most `limit`, most recently updated first: the candidates
/// the recommender ranks.
pub fn published_cards(
    conn: &mut DbConnection,
    limit: i64,
) -> Result<Vec<ExpertCard>, ExpertError> {
    let rows = expert_profiles::table
        .filter(expert_profiles::published.eq(true))
        .order(expert_profiles::updated_at.desc())
        .limit(limit)
        .select(ProfileRow::as_select())
        .load(conn)?;
    cards(conn, rows)
}

/// The card of one profile.
fn card(conn: &mut DbConnection, row: ProfileRow) -> Result<ExpertCard, ExpertError> {
    cards(conn, vec![row])?
        .pop()
        .ok_or(ExpertError::NotFound("expert"))
}

/// Instructors offer consultations; admins may too.
fn require_expert_role(user: &AuthUser) -> Result<(), ExpertError> {
    match user.role {
        Role::Instructor | Role::Admin => Ok(()),
        Role::Learner => Err(ExpertError::Forbidden(
            "only instructors and admins may offer consultations".into(),
        )),
    }
}

/// The caller's own profile row; 404 until they have saved one.
pub fn own_row(conn: &mut DbConnection, user: &AuthUser) -> Result<ProfileRow, ExpertError> {
    require_expert_role(user)?;
    find_profile(conn, &user.id)?.ok_or(ExpertError::NotFound("expert profile"))
}

/// The owner's view of their profile.
pub fn own_profile(conn: &mut DbConnection, user: &AuthUser) -> Result<OwnProfile, ExpertError> {
    let row = own_row(conn, user)?;
    let windows = windows_of(conn, &row.user_id)?;
    let blocked_days = upcoming_blocked_days(conn, &row.user_id, Utc::now())?;
    Ok(OwnProfile {
        card: card(conn, row)?,
        windows,
        blocked_days,
    })
}

/// Creates or replaces the caller's profile; true when it was created. A change of time zone
/// moves the UTC bounds of the blocked days with it (the weekly windows are local already).
pub fn save_profile(
    conn: &mut DbConnection,
    user: &AuthUser,
    draft: &ProfileDraft,
) -> Result<(OwnProfile, bool), ExpertError> {
    require_expert_role(user)?;
    let created = db::write_transaction(conn, |conn| -> Result<bool, ExpertError> {
        let name = names_for(conn, &[user.id.as_str()])?
            .remove(&user.id)
            .unwrap_or_default();
        let previous = find_profile(conn, &user.id)?;
        let now = db::now();
        let search_text = format!(
            "{name}\n{}\n{}",
            draft.headline.as_ref(),
            draft.bio.as_ref()
        )
        .to_lowercase();
        let changes = ProfileChanges {
            headline: draft.headline.as_ref(),
            bio: draft.bio.as_ref(),
            rate_per_minute_minor: draft.rate_per_minute_minor,
            currency: draft.currency.as_str(),
            min_minutes: draft.min_minutes,
            max_minutes: draft.max_minutes,
            time_zone: draft.time_zone.name(),
            published: draft.published,
            search_text: &search_text,
            updated_at: now,
        };
        let row = ProfileRow {
            user_id: user.id.clone(),
            headline: changes.headline.to_owned(),
            bio: changes.bio.to_owned(),
            rate_per_minute_minor: changes.rate_per_minute_minor,
            currency: changes.currency.to_owned(),
            min_minutes: changes.min_minutes,
            max_minutes: changes.max_minutes,
            time_zone: changes.time_zone.to_owned(),
            published: changes.published,
            search_text: search_text.clone(),
            created_at: now,
            updated_at: now,
        };
        // Insert-or-ignore then update: two first saves racing on PostgreSQL both succeed
        // instead of one failing on the primary key.
        let inserted = insert_or_ignore!(conn, expert_profiles::table, &row)?;
        if inserted == 0 {
            diesel::update(expert_profiles::table.find(&user.id))
                .set(&changes)
                .execute(conn)?;
        }
        replace_children!(conn, expert_tags, tag, &user.id, draft.tags.as_slice())?;
        replace_children!(
            conn,
            expert_languages,
            language,
            &user.id,
            draft.languages.as_slice()
        )?;
        if previous.is_some_and(|p| p.time_zone != draft.time_zone.name()) {
            rebase_blocked_days(conn, &user.id, draft.time_zone)?;
        }
        Ok(inserted == 1)
    })?;
    Ok((own_profile(conn, user)?, created))
}

/// Replaces the caller's weekly windows.
pub fn save_schedule(
    conn: &mut DbConnection,
    user: &AuthUser,
    schedule: &WeeklySchedule,
) -> Result<(ProfileRow, Vec<WeeklyWindow>), ExpertError> {
    db::write_transaction(conn, |conn| {
        let row = own_row(conn, user)?;
        set_windows(conn, &row.user_id, schedule.windows())?;
        let windows = windows_of(conn, &row.user_id)?;
        Ok((row, windows))
    })
}

/// Blocks a local date from today (in the expert's zone) up to [`MAX_BLOCK_AHEAD_DAYS`] ahead;
/// blocking it again is harmless. True when it was newly blocked.
pub fn add_blocked_day(
    conn: &mut DbConnection,
    user: &AuthUser,
    date: NaiveDate,
) -> Result<(BlockedDayRow, bool), ExpertError> {
    db::write_transaction(conn, |conn| {
        let row = own_row(conn, user)?;
        let tz = tz_of(&row)?;
        let today = Utc::now().with_timezone(&tz).date_naive();
        if date < today {
            return Err(ExpertError::Invalid(format!(
                "date {date} is in the past (today is {today} in {})",
                tz.name()
            )));
        }
        if date > today + TimeDelta::days(MAX_BLOCK_AHEAD_DAYS) {
            return Err(ExpertError::Invalid(format!(
                "days can be blocked at most {MAX_BLOCK_AHEAD_DAYS} days ahead"
            )));
        }
        let blocked = BlockedDayRow::new(&row.user_id, date, tz);
        let inserted = insert_or_ignore!(conn, expert_blocked_days::table, &blocked)?;
        Ok((blocked, inserted == 1))
    })
}

/// Unblocks a local date; 404 when it was not blocked.
pub fn remove_blocked_day(
    conn: &mut DbConnection,
    user: &AuthUser,
    date: NaiveDate,
) -> Result<(), ExpertError> {
    db::write_transaction(conn, |conn| {
        let row = own_row(conn, user)?;
        let n =
            diesel::delete(expert_blocked_days::table.find((&row.user_id, date))).execute(conn)?;
        if n == 0 {
            return Err(ExpertError::NotFound("blocked day"));
        }
        Ok(())
    })
}

/// A published expert's card.
pub fn public_profile(conn: &mut DbConnection, expert_id: &str) -> Result<ExpertCard, ExpertError> {
    let row = find_published(conn, expert_id)?;
    card(conn, row)
}

/// The first 5-minute boundary at or after `now`: free time before it cannot be booked.
pub fn bookable_from(now: DateTime<Utc>) -> DateTime<Utc> {
    let step = i64::from(STEP_MINUTES) * 60;
    let secs = now.timestamp();
    let on_boundary = secs.rem_euclid(step) == 0 && now.timestamp_subsec_nanos() == 0;
    let rounded = secs.div_euclid(step) * step + if on_boundary { 0 } else { step };
    DateTime::from_timestamp(rounded, 0).unwrap_or(now)
}

/// The bookable free time of a profile in `[from, to)`: the expanded windows from the next
/// 5-minute boundary on, minus blocked days and bookings.
fn free_time(
    conn: &mut DbConnection,
    row: &ProfileRow,
    windows: &[WeeklyWindow],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<Interval>, ExpertError> {
    let from = from.max(bookable_from(Utc::now()));
    if from >= to || windows.is_empty() {
        return Ok(Vec::new());
    }
    let tz = tz_of(row)?;
    let blocked = blocked_dates_between(conn, &row.user_id, from, to)?;
    let busy = busy_intervals(conn, &row.user_id, from, to)?;
    Ok(free_intervals(windows, &blocked, tz, from, to, &busy))
}

/// A published expert's free intervals in `[from, to)` (checked by the caller), with the
/// profile they belong to.
pub fn free_time_of(
    conn: &mut DbConnection,
    expert_id: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<(ProfileRow, Vec<Interval>), ExpertError> {
    let row = find_published(conn, expert_id)?;
    let windows = windows_of(conn, expert_id)?;
    let free = free_time(conn, &row, &windows, from, to)?;
    Ok((row, free))
}

/// Published experts matching `search`, newest profiles first. The availability filter runs in
/// Rust over every row the SQL filters leave, which is fine at this scale; without it the page
/// and count come straight from SQL.
pub fn search(
    conn: &mut DbConnection,
    search: &ExpertSearch,
    page: Page,
) -> Result<Listing<ExpertCard>, ExpertError> {
    let Some((from, to)) = search.available else {
        let total: i64 = search_query(search).count().get_result(conn)?;
        let rows = search_rows(conn, search, Some(page))?;
        return Ok(Listing {
            items: cards(conn, rows)?,
            total,
        });
    };
    let rows = search_rows(conn, search, None)?;
    let ids: Vec<&str> = rows.iter().map(|r| r.user_id.as_str()).collect();
    let mut windows = windows_for(conn, &ids)?;
    let mut available = Vec::new();
    for row in rows {
        let own = windows.remove(&row.user_id).unwrap_or_default();
        if !free_time(conn, &row, &own, from, to)?.is_empty() {
            available.push(row);
        }
    }
    let total = i64::try_from(available.len()).unwrap_or(i64::MAX);
    let skip = usize::try_from(page.offset).unwrap_or(usize::MAX);
    let take = usize::try_from(page.limit).unwrap_or(0);
    let page_rows = available.into_iter().skip(skip).take(take).collect();
    Ok(Listing {
        items: cards(conn, page_rows)?,
        total,
    })
}

/// Whether a booking of `minutes` starting at `start` may be made with `expert_id`, and on what
/// terms. Refuses (in this order) an unknown or unpublished expert (404); a length that is not
/// a multiple of 5 within the expert's minimum and maximum, a start off a 5-minute boundary or
/// not in the future (400); a time outside the expert's windows, on a blocked day or
/// overlapping [`busy_intervals`] (409). The database, not this check, must still guarantee
/// that concurrent bookings never overlap.
pub fn bookable(
    conn: &mut DbConnection,
    expert_id: &str,
    start: DateTime<Utc>,
    minutes: i64,
) -> Result<ExpertTerms, ExpertError> {
    let row = find_published(conn, expert_id)?;
    let step = i64::from(STEP_MINUTES);
    if minutes % step != 0
        || minutes < i64::from(row.min_minutes)
        || minutes > i64::from(row.max_minutes)
    {
        return Err(ExpertError::Invalid(format!(
            "minutes must be a multiple of {step} from {} to {}",
            row.min_minutes, row.max_minutes
        )));
    }
    if start.timestamp().rem_euclid(step * 60) != 0 || start.timestamp_subsec_nanos() != 0 {
        return Err(ExpertError::Invalid(format!(
            "start must be on a {step}-minute boundary"
        )));
    }
    if start <= Utc::now() {
        return Err(ExpertError::Invalid("start must be in the future".into()));
    }
    let end = start + TimeDelta::minutes(minutes);
    let tz = tz_of(&row)?;
    let windows = windows_of(conn, expert_id)?;
    let blocked = blocked_dates_between(conn, expert_id, start, end)?;
    if !covers(&windows, &blocked, tz, start, end) {
        return Err(ExpertError::Unavailable(
            "the expert is not available at that time".into(),
        ));
    }
    let busy = busy_intervals(conn, expert_id, start, end)?;
    if busy.iter().any(|(s, e)| *s < end && start < *e) {
        return Err(ExpertError::Unavailable(
            "the expert is already booked at that time".into(),
        ));
    }
    let currency = Currency::parse(&row.currency).map_err(corrupt)?;
    Ok(ExpertTerms {
        expert_id: row.user_id,
        rate_per_minute_minor: row.rate_per_minute_minor,
        currency,
        min_minutes: row.min_minutes,
        max_minutes: row.max_minutes,
    })
}

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------

/// `PUT /experts/me` body: the whole profile.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileRequest {
    /// 1–120 characters, one line.
    #[schema(min_length = 1, max_length = 120)]
    pub headline: String,
    /// Up to 4 000 characters (default empty).
    #[schema(max_length = 4000)]
    pub bio: Option<String>,
    /// At most 10 tags of at most 30 characters, normalised like course tags (default none).
    #[schema(max_items = 10)]
    pub tags: Option<Vec<String>>,
    /// 1–5 ISO 639-1 codes such as `en`.
    #[schema(min_items = 1, max_items = 5)]
    pub languages: Vec<String>,
    /// Price per minute in minor units of `currency`, 1–1 000 000.
    #[schema(minimum = 1, maximum = 1000000)]
    pub rate_per_minute_minor: i64,
    /// ISO 4217 code.
    pub currency: String,
    /// Shortest booking in minutes: a multiple of 5, at least 5.
    #[schema(minimum = 5, maximum = 240, multiple_of = 5)]
    pub min_minutes: i64,
    /// Longest booking in minutes: a multiple of 5, at least `min_minutes`, at most 240.
    #[schema(minimum = 5, maximum = 240, multiple_of = 5)]
    pub max_minutes: i64,
    /// IANA time zone the weekly windows are read in, e.g. `Europe/Berlin`.
    pub time_zone: String,
    /// Listed publicly and bookable (default false).
    pub published: Option<bool>,
}

/// One weekly window on the wire, in the expert's own time zone.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WindowView {
    /// `mon`, `tue`, `wed`, `thu`, `fri`, `sat` or `sun`.
    #[schema(pattern = "^(mon|tue|wed|thu|fri|sat|sun)$")]
    pub weekday: String,
    /// Local start, `HH:MM` on a 5-minute boundary.
    #[schema(pattern = "^[0-9]{2}:[0-9]{2}$")]
    pub start: String,
    /// Local end, `HH:MM` after `start`; `24:00` is midnight at the end of the day.
    #[schema(pattern = "^[0-9]{2}:[0-9]{2}$")]
    pub end: String,
}

impl From<&WeeklyWindow> for WindowView {
    fn from(w: &WeeklyWindow) -> Self {
        Self {
            weekday: availability::weekday_name(w.weekday()).to_owned(),
            start: availability::format_clock(w.start_minute()),
            end: availability::format_clock(w.end_minute()),
        }
    }
}

/// `PUT /experts/me/availability` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleRequest {
    /// Every weekly window (at most 50); windows on one day must not overlap. Replaces the old
    /// ones.
    #[schema(max_items = 50)]
    pub windows: Vec<WindowView>,
}

/// `POST /experts/me/blocked-days` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BlockDayRequest {
    /// Local date `YYYY-MM-DD` in the expert's time zone, from today up to two years ahead.
    #[schema(format = Date)]
    pub date: String,
}

/// `GET /experts/{id}/availability` range.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RangeQuery {
    /// Start, RFC 3339 (e.g. `2027-03-01T00:00:00Z`).
    pub from: DateTime<Utc>,
    /// End (exclusive), RFC 3339; at most 31 days after `from`.
    pub to: DateTime<Utc>,
}

/// An expert as lists show them.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExpertView {
    /// The expert's user id.
    pub id: String,
    /// Public name.
    pub display_name: String,
    /// One-line headline.
    pub headline: String,
    /// Tags, alphabetically.
    pub tags: Vec<String>,
    /// ISO 639-1 codes, alphabetically.
    pub languages: Vec<String>,
    /// Price per minute in minor units of `currency`.
    pub rate_per_minute_minor: i64,
    /// ISO 4217 code.
    pub currency: String,
    /// Shortest booking, minutes.
    pub min_minutes: i32,
    /// Longest booking, minutes.
    pub max_minutes: i32,
    /// IANA time zone of the expert's weekly windows.
    pub time_zone: String,
}

impl From<&ExpertCard> for ExpertView {
    fn from(c: &ExpertCard) -> Self {
        let p = &c.profile;
        Self {
            id: p.user_id.clone(),
            display_name: c.display_name.clone(),
            headline: p.headline.clone(),
            tags: c.tags.clone(),
            languages: c.languages.clone(),
            rate_per_minute_minor: p.rate_per_minute_minor,
            currency: p.currency.clone(),
            min_minutes: p.min_minutes,
            max_minutes: p.max_minutes,
            time_zone: p.time_zone.clone(),
        }
    }
}

/// A published expert's page.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExpertDetailView {
    /// What lists show.
    #[serde(flatten)]
    pub expert: ExpertView,
    /// Longer introduction.
    pub bio: String,
}

impl From<&ExpertCard> for ExpertDetailView {
    fn from(c: &ExpertCard) -> Self {
        Self {
            expert: c.into(),
            bio: c.profile.bio.clone(),
        }
    }
}

/// A blocked local day and the UTC instants it spans.
#[derive(Debug, Serialize, ToSchema)]
pub struct BlockedDayView {
    /// Local date, `YYYY-MM-DD`.
    pub date: String,
    /// Local midnight starting it, in UTC.
    pub start: DateTime<Utc>,
    /// The next local midnight, in UTC.
    pub end: DateTime<Utc>,
}

impl From<&BlockedDayRow> for BlockedDayView {
    fn from(b: &BlockedDayRow) -> Self {
        Self {
            date: b.local_date.format("%Y-%m-%d").to_string(),
            start: b.starts_at.and_utc(),
            end: b.ends_at.and_utc(),
        }
    }
}

/// The owner's view of their profile.
#[derive(Debug, Serialize, ToSchema)]
pub struct OwnProfileView {
    /// The public page.
    #[serde(flatten)]
    pub expert: ExpertDetailView,
    /// Listed publicly and bookable.
    pub published: bool,
    /// Weekly windows, by day and start.
    pub windows: Vec<WindowView>,
    /// Blocked days that have not ended, by date.
    pub blocked_days: Vec<BlockedDayView>,
    /// First saved.
    pub created_at: DateTime<Utc>,
    /// Last saved.
    pub updated_at: DateTime<Utc>,
}

impl From<&OwnProfile> for OwnProfileView {
    fn from(o: &OwnProfile) -> Self {
        Self {
            expert: (&o.card).into(),
            published: o.card.profile.published,
            windows: o.windows.iter().map(WindowView::from).collect(),
            blocked_days: o.blocked_days.iter().map(BlockedDayView::from).collect(),
            created_at: o.card.profile.created_at.and_utc(),
            updated_at: o.card.profile.updated_at.and_utc(),
        }
    }
}

/// The weekly windows as saved.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduleView {
    /// The zone they are read in.
    pub time_zone: String,
    /// Windows, by day and start.
    pub windows: Vec<WindowView>,
}

/// A free UTC interval `[start, end)`.
#[derive(Debug, Serialize, ToSchema)]
pub struct IntervalView {
    /// Start, RFC 3339 UTC.
    pub start: DateTime<Utc>,
    /// End (exclusive), RFC 3339 UTC.
    pub end: DateTime<Utc>,
}

/// An expert's free time in a range.
#[derive(Debug, Serialize, ToSchema)]
pub struct AvailabilityView {
    /// The expert's user id.
    pub expert_id: String,
    /// The expert's time zone (the windows' local time).
    pub time_zone: String,
    /// The range asked for.
    pub from: DateTime<Utc>,
    /// End of the range (exclusive).
    pub to: DateTime<Utc>,
    /// Free intervals, sorted and disjoint; nothing before the next 5-minute boundary from now.
    pub intervals: Vec<IntervalView>,
}

/// A page of experts.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExpertList {
    /// This page.
    pub items: Vec<ExpertView>,
    /// Matches across all pages.
    pub total: i64,
    /// The limit applied.
    pub limit: i64,
    /// The offset applied.
    pub offset: i64,
}

/// Creates or replaces the caller's expert profile (instructors and admins).
#[utoipa::path(put, path = "/api/v1/experts/me", tag = "experts",
    security(("bearer" = [])),
    request_body = ProfileRequest,
    responses(
        (status = 200, description = "Updated", body = OwnProfileView),
        (status = 201, description = "Created", body = OwnProfileView),
        (status = 400, description = "Invalid input", body = ErrorBody),
        (status = 403, description = "Not an instructor", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn put_profile(
    db: web::Data<Db>,
    user: AuthUser,
    body: web::Json<ProfileRequest>,
) -> Result<HttpResponse, ApiError> {
    require_expert_role(&user)?;
    let draft = ProfileDraft::parse(&body)?;
    let (own, created) = db.run(move |c| save_profile(c, &user, &draft)).await?;
    let view = OwnProfileView::from(&own);
    Ok(if created {
        HttpResponse::Created().json(view)
    } else {
        HttpResponse::Ok().json(view)
    })
}

/// The caller's own profile, published or not, with windows and upcoming blocked days.
#[utoipa::path(get, path = "/api/v1/experts/me", tag = "experts",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The profile", body = OwnProfileView),
        (status = 403, description = "Not an instructor", body = ErrorBody),
        (status = 404, description = "No profile yet", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn my_profile(db: web::Data<Db>, user: AuthUser) -> Result<HttpResponse, ApiError> {
    let own = db.run(move |c| own_profile(c, &user)).await?;
    Ok(HttpResponse::Ok().json(OwnProfileView::from(&own)))
}

/// Replaces the caller's weekly windows (local times in the profile's time zone).
#[utoipa::path(put, path = "/api/v1/experts/me/availability", tag = "experts",
    security(("bearer" = [])),
    request_body = ScheduleRequest,
    responses(
        (status = 200, description = "The saved windows", body = ScheduleView),
        (status = 400, description = "Invalid windows", body = ErrorBody),
        (status = 403, description = "Not an instructor", body = ErrorBody),
        (status = 404, description = "No profile yet", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn put_availability(
    db: web::Data<Db>,
    user: AuthUser,
    body: web::Json<ScheduleRequest>,
) -> Result<HttpResponse, ApiError> {
    require_expert_role(&user)?;
    let schedule = parse_schedule(&body.windows)?;
    let (row, windows) = db.run(move |c| save_schedule(c, &user, &schedule)).await?;
    Ok(HttpResponse::Ok().json(ScheduleView {
        time_zone: row.time_zone,
        windows: windows.iter().map(WindowView::from).collect(),
    }))
}

/// Blocks one local day; blocking it again answers 200 with the same day.
#[utoipa::path(post, path = "/api/v1/experts/me/blocked-days", tag = "experts",
    security(("bearer" = [])),
    request_body = BlockDayRequest,
    responses(
        (status = 201, description = "Blocked", body = BlockedDayView),
        (status = 200, description = "Already blocked", body = BlockedDayView),
        (status = 400, description = "Bad or past date", body = ErrorBody),
        (status = 403, description = "Not an instructor", body = ErrorBody),
        (status = 404, description = "No profile yet", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn block_day(
    db: web::Data<Db>,
    user: AuthUser,
    body: web::Json<BlockDayRequest>,
) -> Result<HttpResponse, ApiError> {
    require_expert_role(&user)?;
    let date = parse_date(&body.date)?;
    let (row, created) = db.run(move |c| add_blocked_day(c, &user, date)).await?;
    let view = BlockedDayView::from(&row);
    Ok(if created {
        HttpResponse::Created().json(view)
    } else {
        HttpResponse::Ok().json(view)
    })
}

/// Unblocks one local day.
#[utoipa::path(delete, path = "/api/v1/experts/me/blocked-days/{date}", tag = "experts",
    security(("bearer" = [])),
    params(("date" = String, Path, description = "Local date, YYYY-MM-DD")),
    responses(
        (status = 204, description = "Unblocked"),
        (status = 400, description = "Not a date", body = ErrorBody),
        (status = 403, description = "Not an instructor", body = ErrorBody),
        (status = 404, description = "Not blocked, or no profile", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn unblock_day(
    db: web::Data<Db>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require_expert_role(&user)?;
    let date = parse_date(&path)?;
    db.run(move |c| remove_blocked_day(c, &user, date)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Searches published experts. Every word of `q` must occur in the headline, bio or name.
#[utoipa::path(get, path = "/api/v1/experts", tag = "experts",
    params(ExpertSearchParams, PageQuery),
    responses(
        (status = 200, description = "A page of experts", body = ExpertList),
        (status = 400, description = "Bad filter", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all)]
pub async fn list(
    db: web::Data<Db>,
    params: web::Query<ExpertSearchParams>,
    page: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = ExpertSearch::parse(&params).map_err(ApiError::Validation)?;
    let page = Page::parse(&page)?;
    let listing = db.run(move |c| search(c, &query, page)).await?;
    Ok(HttpResponse::Ok().json(ExpertList {
        items: listing.items.iter().map(ExpertView::from).collect(),
        total: listing.total,
        limit: page.limit,
        offset: page.offset,
    }))
}

/// A published expert's profile.
#[utoipa::path(get, path = "/api/v1/experts/{id}", tag = "experts",
    params(("id" = String, Path, description = "The expert's user id")),
    responses(
        (status = 200, description = "The expert", body = ExpertDetailView),
        (status = 404, description = "No such published expert", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all)]
pub async fn get(db: web::Data<Db>, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let card = db.run(move |c| public_profile(c, &id)).await?;
    Ok(HttpResponse::Ok().json(ExpertDetailView::from(&card)))
}

/// A published expert's free time in `[from, to)` as UTC intervals: weekly windows expanded in
/// the expert's time zone, minus blocked days and bookings, from the next 5-minute boundary on.
#[utoipa::path(get, path = "/api/v1/experts/{id}/availability", tag = "experts",
    params(("id" = String, Path, description = "The expert's user id"), RangeQuery),
    responses(
        (status = 200, description = "Free intervals", body = AvailabilityView),
        (status = 400, description = "Bad range", body = ErrorBody),
        (status = 404, description = "No such published expert", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all)]
pub async fn get_availability(
    db: web::Data<Db>,
    path: web::Path<String>,
    range: web::Query<RangeQuery>,
) -> Result<HttpResponse, ApiError> {
    let (from, to) = (range.from, range.to);
    availability::check_range(from, to).map_err(ApiError::Validation)?;
    let id = path.into_inner();
    let (row, free) = db.run(move |c| free_time_of(c, &id, from, to)).await?;
    Ok(HttpResponse::Ok().json(AvailabilityView {
        expert_id: row.user_id,
        time_zone: row.time_zone,
        from,
        to,
        intervals: free
            .into_iter()
            .map(|(start, end)| IntervalView { start, end })
            .collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> ProfileRequest {
        ProfileRequest {
            headline: "Rust mentor".into(),
            bio: None,
            tags: Some(vec!["Rust".into(), "Async IO".into()]),
            languages: vec!["EN".into(), "de".into(), "en".into()],
            rate_per_minute_minor: 150,
            currency: "eur".into(),
            min_minutes: 15,
            max_minutes: 60,
            time_zone: "Europe/Berlin".into(),
            published: Some(true),
        }
    }

    #[test]
    fn a_valid_profile_is_normalised() {
        let d = ProfileDraft::parse(&request()).unwrap();
        assert_eq!(d.tags.as_slice(), ["rust", "async-io"]);
        assert_eq!(d.languages.as_slice(), ["de", "en"]);
        assert_eq!(d.currency.as_str(), "EUR");
        assert_eq!(d.time_zone, chrono_tz::Europe::Berlin);
        assert_eq!((d.min_minutes, d.max_minutes), (15, 60));
        assert_eq!(d.bio.as_ref(), "");
        assert!(d.published);
    }

    #[test]
    fn every_bad_field_is_reported() {
        let bad = ProfileRequest {
            headline: " ".into(),
            bio: Some("x".repeat(4_001)),
            tags: Some(vec!["no way!".into()]),
            languages: vec![],
            rate_per_minute_minor: 0,
            currency: "EURO".into(),
            min_minutes: 7,
            max_minutes: 60,
            time_zone: "Mars/Olympus".into(),
            published: None,
        };
        let Err(ExpertError::Invalid(msg)) = ProfileDraft::parse(&bad) else {
            panic!("accepted");
        };
        for part in [
            "headline",
            "bio",
            "tag",
            "languages",
            "rate",
            "currency",
            "multiples",
            "time_zone",
        ] {
            assert!(msg.contains(part), "{part} missing from {msg}");
        }
    }

    #[test]
    fn field_bounds() {
        let with = |f: &dyn Fn(&mut ProfileRequest)| {
            let mut r = request();
            f(&mut r);
            ProfileDraft::parse(&r)
        };
        assert!(with(&|r| r.headline = "h".repeat(120)).is_ok());
        assert!(with(&|r| r.headline = "h".repeat(121)).is_err());
        assert!(with(&|r| r.headline = "two\nlines".into()).is_err());
        assert!(with(&|r| r.rate_per_minute_minor = MAX_RATE_MINOR).is_ok());
        assert!(with(&|r| r.rate_per_minute_minor = MAX_RATE_MINOR + 1).is_err());
        assert!(with(&|r| r.rate_per_minute_minor = -5).is_err());
        assert!(with(&|r| (r.min_minutes, r.max_minutes) = (5, 240)).is_ok());
        assert!(with(&|r| (r.min_minutes, r.max_minutes) = (0, 60)).is_err());
        assert!(with(&|r| (r.min_minutes, r.max_minutes) = (60, 30)).is_err());
        assert!(with(&|r| (r.min_minutes, r.max_minutes) = (30, 245)).is_err());
        assert!(with(&|r| (r.min_minutes, r.max_minutes) = (30, 32)).is_err());
        assert!(
            with(&|r| r.languages = ["en", "de", "fr", "es", "it", "pt"]
                .map(String::from)
                .to_vec())
            .is_err()
        );
        assert!(with(&|r| r.languages = vec!["eng".into()]).is_err());
        assert!(with(&|r| r.languages = vec!["e1".into()]).is_err());
        assert!(with(&|r| r.tags = Some((0..11).map(|i| format!("t{i}")).collect())).is_err());
        assert!(with(&|r| r.time_zone = "europe/berlin".into()).is_err());
        assert!(with(&|r| r.time_zone = "UTC".into()).is_ok());
    }

    #[test]
    fn schedules_name_the_bad_window() {
        let win = |d: &str, s: &str, e: &str| WindowView {
            weekday: d.into(),
            start: s.into(),
            end: e.into(),
        };
        let ok =
            parse_schedule(&[win("tue", "09:00", "12:00"), win("mon", "18:00", "24:00")]).unwrap();
        assert_eq!(ok.windows()[0].weekday(), chrono::Weekday::Mon);
        let Err(ExpertError::Invalid(msg)) = parse_schedule(&[
            win("mon", "09:00", "10:00"),
            win("funday", "09:00", "10:00"),
            win("tue", "10:00", "09:00"),
        ]) else {
            panic!("accepted");
        };
        assert!(
            msg.contains("windows[1]") && msg.contains("windows[2]"),
            "{msg}"
        );
        assert!(parse_schedule(&vec![win("mon", "09:00", "10:00"); 51]).is_err());
    }

    #[test]
    fn dates_are_strict() {
        assert_eq!(
            parse_date("2027-03-28").unwrap(),
            NaiveDate::from_ymd_opt(2027, 3, 28).unwrap()
        );
        for bad in [
            "2027-3-28",
            "28.03.2027",
            "2027-02-30",
            "",
            "2027-03-28T00:00",
        ] {
            assert!(parse_date(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn searches_are_checked() {
        let from: DateTime<Utc> = "2027-01-01T00:00:00Z".parse().unwrap();
        let ok = ExpertSearch::parse(&ExpertSearchParams {
            q: Some(" Rust  Mentor ".into()),
            tag: Some("Web Dev".into()),
            language: Some("EN".into()),
            min_rate: Some(0),
            max_rate: Some(100),
            available_from: Some(from),
            available_to: Some(from + TimeDelta::days(31)),
        })
        .unwrap();
        assert_eq!(ok.terms, ["rust", "mentor"]);
        assert_eq!(ok.tag.as_deref(), Some("web-dev"));
        assert_eq!(ok.language.as_deref(), Some("en"));
        assert!(ok.available.is_some());
        let bad = |p: ExpertSearchParams| ExpertSearch::parse(&p).unwrap_err();
        assert!(
            bad(ExpertSearchParams {
                min_rate: Some(-1),
                ..Default::default()
            })
            .contains("negative")
        );
        assert!(
            bad(ExpertSearchParams {
                min_rate: Some(5),
                max_rate: Some(4),
                ..Default::default()
            })
            .contains("exceed")
        );
        assert!(
            bad(ExpertSearchParams {
                language: Some("english".into()),
                ..Default::default()
            })
            .contains("language")
        );
        assert!(
            bad(ExpertSearchParams {
                available_from: Some(from),
                ..Default::default()
            })
            .contains("together")
        );
        assert!(
            bad(ExpertSearchParams {
                available_from: Some(from),
                available_to: Some(from + TimeDelta::days(32)),
                ..Default::default()
            })
            .contains("31 days")
        );
    }

    #[test]
    fn bookable_time_starts_at_the_next_boundary() {
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        assert_eq!(
            bookable_from(t("2027-01-04T10:00:00Z")),
            t("2027-01-04T10:00:00Z")
        );
        assert_eq!(
            bookable_from(t("2027-01-04T10:00:01Z")),
            t("2027-01-04T10:05:00Z")
        );
        assert_eq!(
            bookable_from(t("2027-01-04T10:04:59.5Z")),
            t("2027-01-04T10:05:00Z")
        );
        assert_eq!(
            bookable_from(t("2027-01-04T10:00:00.001Z")),
            t("2027-01-04T10:05:00Z")
        );
    }
}
