//! Expert availability as pure functions: weekly windows in the expert's own wall-clock time,
//! expanded into concrete UTC intervals in the expert's time zone, minus blocked local days and
//! busy (booked) intervals. No database and no clock here, so every rule — DST changes above
//! all — is unit-tested with fixed dates.
//!
//! Local times that do not exist or exist twice (clocks jumping forward or back) are read the
//! way RFC 9557 and JavaScript's Temporal call "compatible": a wall time skipped by a jump
//! forward is shifted forward by the length of the jump, and a wall time that occurs twice
//! means its first occurrence. So a window 01:00–04:00 on the night clocks go forward lasts two
//! real hours, and on the night they go back, four.

use chrono::{
    DateTime, Datelike, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeDelta,
    TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;

/// A half-open UTC interval `[start, end)`.
pub type Interval = (DateTime<Utc>, DateTime<Utc>);

/// Minutes in a day: the latest a window may end (`"24:00"`, the next midnight).
pub const DAY_MINUTES: u16 = 24 * 60;
/// Windows and bookings start and end on multiples of this many minutes.
pub const STEP_MINUTES: u16 = 5;
/// Most weekly windows one expert may keep: plenty for split days, bounded for expansion.
pub const MAX_WINDOWS: usize = 50;
/// Longest range one availability query may expand, so a request does bounded work.
pub const MAX_RANGE_DAYS: i64 = 31;

/// The wire name of a weekday (`"mon"` … `"sun"`).
pub fn weekday_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "mon",
        Weekday::Tue => "tue",
        Weekday::Wed => "wed",
        Weekday::Thu => "thu",
        Weekday::Fri => "fri",
        Weekday::Sat => "sat",
        Weekday::Sun => "sun",
    }
}

/// Parses exactly `"mon"` … `"sun"`; chrono's own parser also takes `"Monday"` and mixed case,
/// which would make the wire format ambiguous.
pub fn parse_weekday(raw: &str) -> Result<Weekday, String> {
    [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ]
    .into_iter()
    .find(|d| weekday_name(*d) == raw)
    .ok_or_else(|| format!("weekday {raw:?} must be one of mon, tue, wed, thu, fri, sat, sun"))
}

/// Parses `"HH:MM"` (two digits each) into minutes after midnight, on a 5-minute boundary.
/// `"24:00"` is accepted only when `end_of_day` is set, so a window can run to midnight.
pub fn parse_clock(raw: &str, end_of_day: bool) -> Result<u16, String> {
    let invalid = || format!("time {raw:?} must be HH:MM");
    let (h, m) = raw.split_once(':').ok_or_else(invalid)?;
    let two_digits = |s: &str| s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit());
    if !two_digits(h) || !two_digits(m) {
        return Err(invalid());
    }
    let (h, m): (u16, u16) = (
        h.parse().map_err(|_| invalid())?,
        m.parse().map_err(|_| invalid())?,
    );
    let minutes = h * 60 + m;
    if m >= 60 || minutes > DAY_MINUTES || (minutes == DAY_MINUTES && !end_of_day) {
        return Err(format!("time {raw:?} is not a time of day"));
    }
    if !minutes.is_multiple_of(STEP_MINUTES) {
        return Err(format!(
            "time {raw:?} must be on a {STEP_MINUTES}-minute boundary"
        ));
    }
    Ok(minutes)
}

/// Minutes after midnight as `"HH:MM"` (1440 is `"24:00"`).
pub fn format_clock(minutes: u16) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// One weekly recurring window, in the expert's local wall-clock time: every `weekday` from
/// `start_minute` to `end_minute` after local midnight. Built only through [`WeeklyWindow::new`],
/// so it always lies inside one day, on 5-minute boundaries, and is not empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WeeklyWindow {
    /// 0 = Monday … 6 = Sunday (first, so windows sort by day, then time).
    day: u8,
    start_minute: u16,
    end_minute: u16,
}

impl WeeklyWindow {
    /// Checks `start < end ≤ 24:00` and the 5-minute boundaries.
    pub fn new(weekday: Weekday, start_minute: u16, end_minute: u16) -> Result<Self, String> {
        if !start_minute.is_multiple_of(STEP_MINUTES) || !end_minute.is_multiple_of(STEP_MINUTES) {
            return Err(format!(
                "window times must be on {STEP_MINUTES}-minute boundaries"
            ));
        }
        if start_minute >= end_minute || end_minute > DAY_MINUTES {
            return Err(format!(
                "window {}–{} must start before it ends, within one day",
                format_clock(start_minute),
                format_clock(end_minute)
            ));
        }
        Ok(Self {
            // num_days_from_monday is 0..=6.
            day: weekday.num_days_from_monday() as u8,
            start_minute,
            end_minute,
        })
    }

    /// Parses the wire form: `"mon"`, `"09:00"`, `"12:30"`.
    pub fn parse(weekday: &str, start: &str, end: &str) -> Result<Self, String> {
        let day = parse_weekday(weekday)?;
        let start = parse_clock(start, false)?;
        let end = parse_clock(end, true)?;
        Self::new(day, start, end)
    }

    /// Rebuilds a stored row (`weekday` 0 = Monday); a row that breaks the rules is an error.
    pub fn from_stored(weekday: i32, start_minute: i32, end_minute: i32) -> Result<Self, String> {
        let bad = || format!("stored window ({weekday}, {start_minute}, {end_minute}) is invalid");
        let day = u8::try_from(weekday)
            .ok()
            .and_then(|d| Weekday::try_from(d).ok())
            .ok_or_else(bad)?;
        let start = u16::try_from(start_minute).map_err(|_| bad())?;
        let end = u16::try_from(end_minute).map_err(|_| bad())?;
        Self::new(day, start, end)
    }

    /// The day it recurs on.
    pub fn weekday(&self) -> Weekday {
        Weekday::try_from(self.day).unwrap_or(Weekday::Mon)
    }

    /// The stored day number, 0 = Monday … 6 = Sunday.
    pub fn weekday_index(&self) -> i32 {
        i32::from(self.day)
    }

    /// Local minutes after midnight it starts at.
    pub fn start_minute(&self) -> u16 {
        self.start_minute
    }

    /// Local minutes after midnight it ends at (1440 = the next midnight).
    pub fn end_minute(&self) -> u16 {
        self.end_minute
    }
}

/// An expert's whole weekly schedule: at most [`MAX_WINDOWS`] windows, sorted, no two on the
/// same day overlapping (touching is fine: they join into one longer stretch).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WeeklySchedule(Vec<WeeklyWindow>);

impl WeeklySchedule {
    /// Sorts the windows and refuses too many or overlapping ones.
    pub fn new(mut windows: Vec<WeeklyWindow>) -> Result<Self, String> {
        if windows.len() > MAX_WINDOWS {
            return Err(format!("at most {MAX_WINDOWS} windows are allowed"));
        }
        windows.sort();
        for pair in windows.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            if a.day == b.day && b.start_minute < a.end_minute {
                return Err(format!(
                    "windows {} {}–{} and {}–{} overlap",
                    weekday_name(a.weekday()),
                    format_clock(a.start_minute),
                    format_clock(a.end_minute),
                    format_clock(b.start_minute),
                    format_clock(b.end_minute)
                ));
            }
        }
        Ok(Self(windows))
    }

    /// The windows, by day then start.
    pub fn windows(&self) -> &[WeeklyWindow] {
        &self.0
    }
}

/// Checks an availability query range: `from < to`, at most [`MAX_RANGE_DAYS`] apart.
pub fn check_range(from: DateTime<Utc>, to: DateTime<Utc>) -> Result<(), String> {
    if from >= to {
        return Err("from must be before to".into());
    }
    if to - from > TimeDelta::days(MAX_RANGE_DAYS) {
        return Err(format!("the range may span at most {MAX_RANGE_DAYS} days"));
    }
    Ok(())
}

/// The UTC instant a local wall-clock time names in `tz`, read "compatibly" (see the module
/// doc): the first occurrence of a repeated time, and a skipped time shifted forward by the
/// jump — computed by reading it with the offset in force before the jump.
pub fn local_to_utc(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(first, _) => first.with_timezone(&Utc),
        LocalResult::None => {
            // A day before is safely before the jump (no zone changes its offset twice in a
            // day) and, read as UTC, still after any earlier change.
            let before = local
                .checked_sub_signed(TimeDelta::days(1))
                .unwrap_or(local);
            let offset = tz.offset_from_utc_datetime(&before).fix();
            (local - TimeDelta::seconds(i64::from(offset.local_minus_utc()))).and_utc()
        }
    }
}

/// `minutes` after local midnight of `date`, as a wall-clock time (1440 is the next midnight).
fn wall_time(date: NaiveDate, minutes: u16) -> NaiveDateTime {
    NaiveDateTime::new(date, NaiveTime::MIN) + TimeDelta::minutes(i64::from(minutes))
}

/// The UTC instants `[start, end)` the local day `date` spans in `tz`: usually 24 hours, 23 or
/// 25 on DST changes, and empty for a date a zone skipped entirely (Samoa, 30 Dec 2011).
pub fn local_day(tz: Tz, date: NaiveDate) -> Interval {
    (
        local_to_utc(tz, wall_time(date, 0)),
        local_to_utc(tz, wall_time(date, DAY_MINUTES)),
    )
}

/// Sorts intervals and joins those that overlap or touch, so two adjacent windows (12:00–14:00
/// after 09:00–12:00, or Monday until 24:00 then Tuesday from 00:00) become one stretch.
fn merge(mut intervals: Vec<Interval>) -> Vec<Interval> {
    intervals.retain(|(s, e)| s < e);
    intervals.sort();
    let mut out: Vec<Interval> = Vec::with_capacity(intervals.len());
    for (s, e) in intervals {
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

/// Removes every `busy` interval from the sorted, disjoint `free` ones.
fn subtract(free: Vec<Interval>, busy: &[Interval]) -> Vec<Interval> {
    let busy = merge(busy.to_vec());
    let mut out = Vec::with_capacity(free.len());
    for (mut s, e) in free {
        for &(bs, be) in &busy {
            if be <= s || bs >= e {
                continue;
            }
            if bs > s {
                out.push((s, bs));
            }
            s = be;
            if s >= e {
                break;
            }
        }
        if s < e {
            out.push((s, e));
        }
    }
    out
}

/// The free UTC intervals in `[from, to)`: every window expanded on each local date of the
/// range in `tz`, except on `blocked` local dates (a blocked date loses its whole local day),
/// joined where adjacent, clipped to the range, minus `busy` (already booked) intervals. Sorted
/// and disjoint. Work grows with the length of the range: callers bound it (see
/// [`check_range`]).
pub fn free_intervals(
    windows: &[WeeklyWindow],
    blocked: &[NaiveDate],
    tz: Tz,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    busy: &[Interval],
) -> Vec<Interval> {
    if from >= to || windows.is_empty() {
        return Vec::new();
    }
    // A window lies inside its own local day, so the local dates of `from` and `to` (one day
    // of slack either side for the zone's offset) include every window that reaches the range.
    let first = from.with_timezone(&tz).date_naive();
    let first = first.pred_opt().unwrap_or(first);
    let last = to.with_timezone(&tz).date_naive();
    let last = last.succ_opt().unwrap_or(last);
    let mut expanded = Vec::new();
    for date in first.iter_days().take_while(|d| *d <= last) {
        if blocked.contains(&date) {
            continue;
        }
        let day = date.weekday().num_days_from_monday();
        for w in windows.iter().filter(|w| u32::from(w.day) == day) {
            let start = local_to_utc(tz, wall_time(date, w.start_minute)).max(from);
            let end = local_to_utc(tz, wall_time(date, w.end_minute)).min(to);
            expanded.push((start, end));
        }
    }
    subtract(merge(expanded), busy)
}

/// True when `[start, end)` lies entirely inside the expanded windows — one window or several
/// contiguous ones — and touches no blocked local date. Busy intervals are not considered: the
/// caller checks existing bookings.
pub fn covers(
    windows: &[WeeklyWindow],
    blocked: &[NaiveDate],
    tz: Tz,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> bool {
    start < end && free_intervals(windows, blocked, tz, start, end, &[]) == [(start, end)]
}

#[cfg(test)]
mod tests {
    use super::*;

    const BERLIN: Tz = chrono_tz::Europe::Berlin;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn w(day: &str, start: &str, end: &str) -> WeeklyWindow {
        WeeklyWindow::parse(day, start, end).unwrap()
    }

    fn iv(start: &str, end: &str) -> Interval {
        (utc(start), utc(end))
    }

    #[test]
    fn clock_times_are_strict() {
        assert_eq!(parse_clock("00:00", false), Ok(0));
        assert_eq!(parse_clock("09:35", false), Ok(575));
        assert_eq!(parse_clock("24:00", true), Ok(1440));
        for bad in [
            "24:00", "9:00", "09:0", "0900", "09:03", "25:00", "12:60", "ab:cd", "-1:00", "",
        ] {
            assert!(parse_clock(bad, false).is_err(), "{bad:?} accepted");
        }
        assert!(parse_clock("24:05", true).is_err());
        assert_eq!(format_clock(575), "09:35");
        assert_eq!(format_clock(1440), "24:00");
    }

    #[test]
    fn weekdays_use_three_letter_lower_case_names() {
        assert_eq!(parse_weekday("mon"), Ok(Weekday::Mon));
        assert_eq!(parse_weekday("sun"), Ok(Weekday::Sun));
        for bad in ["Mon", "monday", "MON", "", "mo"] {
            assert!(parse_weekday(bad).is_err(), "{bad:?} accepted");
        }
        for d in 0..7u8 {
            let day = Weekday::try_from(d).unwrap();
            assert_eq!(parse_weekday(weekday_name(day)), Ok(day));
        }
    }

    #[test]
    fn windows_start_before_they_end_within_a_day() {
        let ok = w("tue", "09:00", "24:00");
        assert_eq!(ok.weekday(), Weekday::Tue);
        assert_eq!(ok.weekday_index(), 1);
        assert_eq!((ok.start_minute(), ok.end_minute()), (540, 1440));
        assert!(WeeklyWindow::parse("mon", "10:00", "10:00").is_err());
        assert!(WeeklyWindow::parse("mon", "11:00", "10:00").is_err());
        assert!(WeeklyWindow::parse("mon", "24:00", "24:00").is_err());
        assert!(WeeklyWindow::new(Weekday::Mon, 3, 60).is_err());
        assert!(WeeklyWindow::new(Weekday::Mon, 0, 1445).is_err());
        assert_eq!(
            WeeklyWindow::from_stored(6, 0, 1440).unwrap().weekday(),
            Weekday::Sun
        );
        assert!(WeeklyWindow::from_stored(7, 0, 60).is_err());
        assert!(WeeklyWindow::from_stored(0, -5, 60).is_err());
    }

    #[test]
    fn schedules_refuse_overlaps_and_too_many_windows() {
        let s = WeeklySchedule::new(vec![
            w("tue", "09:00", "10:00"),
            w("mon", "12:00", "14:00"),
            w("mon", "09:00", "12:00"),
        ])
        .unwrap();
        assert_eq!(
            s.windows(),
            [
                w("mon", "09:00", "12:00"),
                w("mon", "12:00", "14:00"),
                w("tue", "09:00", "10:00")
            ]
        );
        let overlap =
            WeeklySchedule::new(vec![w("mon", "09:00", "12:00"), w("mon", "11:55", "13:00")]);
        assert!(overlap.unwrap_err().contains("overlap"));
        let same =
            WeeklySchedule::new(vec![w("fri", "09:00", "10:00"), w("fri", "09:00", "10:00")]);
        assert!(same.is_err());
        // The same hours on different days do not overlap.
        assert!(
            WeeklySchedule::new(vec![w("mon", "09:00", "12:00"), w("tue", "09:00", "12:00")])
                .is_ok()
        );
        let many: Vec<WeeklyWindow> = (0..51u16)
            .map(|i| WeeklyWindow::new(Weekday::Wed, i * 20, i * 20 + 10).unwrap())
            .collect();
        assert!(WeeklySchedule::new(many[..50].to_vec()).is_ok());
        assert!(WeeklySchedule::new(many).unwrap_err().contains("at most"));
    }

    #[test]
    fn ranges_are_ordered_and_bounded() {
        let from = utc("2027-01-01T00:00:00Z");
        assert!(check_range(from, from + TimeDelta::days(31)).is_ok());
        assert!(check_range(from, from + TimeDelta::days(31) + TimeDelta::seconds(1)).is_err());
        assert!(check_range(from, from).is_err());
        assert!(check_range(from, from - TimeDelta::hours(1)).is_err());
    }

    #[test]
    fn windows_expand_in_the_experts_time_zone() {
        let windows = [w("mon", "09:00", "12:00")];
        // Winter: Berlin is UTC+1. 2027-01-04 is a Monday.
        assert_eq!(
            free_intervals(
                &windows,
                &[],
                BERLIN,
                utc("2027-01-04T00:00:00Z"),
                utc("2027-01-11T00:00:00Z"),
                &[]
            ),
            [iv("2027-01-04T08:00:00Z", "2027-01-04T11:00:00Z")]
        );
        // Summer: UTC+2.
        assert_eq!(
            free_intervals(
                &windows,
                &[],
                BERLIN,
                utc("2027-07-05T00:00:00Z"),
                utc("2027-07-06T00:00:00Z"),
                &[]
            ),
            [iv("2027-07-05T07:00:00Z", "2027-07-05T10:00:00Z")]
        );
        // The same local window in Tokyo (UTC+9, no DST) falls on the previous UTC evening.
        assert_eq!(
            free_intervals(
                &[w("mon", "02:00", "04:00")],
                &[],
                chrono_tz::Asia::Tokyo,
                utc("2027-01-03T00:00:00Z"),
                utc("2027-01-05T00:00:00Z"),
                &[]
            ),
            [iv("2027-01-03T17:00:00Z", "2027-01-03T19:00:00Z")]
        );
    }

    #[test]
    fn a_week_across_the_spring_change_keeps_local_hours() {
        // Berlin goes from UTC+1 to UTC+2 at 01:00 UTC on Sunday 2027-03-28.
        let windows = [w("sat", "09:00", "10:00"), w("mon", "09:00", "10:00")];
        let got = free_intervals(
            &windows,
            &[],
            BERLIN,
            utc("2027-03-27T00:00:00Z"),
            utc("2027-03-30T00:00:00Z"),
            &[],
        );
        assert_eq!(
            got,
            [
                iv("2027-03-27T08:00:00Z", "2027-03-27T09:00:00Z"),
                iv("2027-03-29T07:00:00Z", "2027-03-29T08:00:00Z"),
            ]
        );
    }

    #[test]
    fn the_night_clocks_go_forward() {
        let (from, to) = (utc("2027-03-27T12:00:00Z"), utc("2027-03-29T00:00:00Z"));
        let expand =
            |start, end| free_intervals(&[w("sun", start, end)], &[], BERLIN, from, to, &[]);
        // 01:00 CET is 00:00 UTC; 04:00 CEST is 02:00 UTC: two real hours.
        assert_eq!(
            expand("01:00", "04:00"),
            [iv("2027-03-28T00:00:00Z", "2027-03-28T02:00:00Z")]
        );
        // 02:30 does not exist; it is read as 03:30 CEST (01:30 UTC).
        assert_eq!(
            expand("02:30", "04:00"),
            [iv("2027-03-28T01:30:00Z", "2027-03-28T02:00:00Z")]
        );
        // A window entirely inside the skipped hour is empty that night.
        assert_eq!(expand("02:00", "03:00"), []);
        // The local day is 23 hours long.
        let (s, e) = local_day(BERLIN, date("2027-03-28"));
        assert_eq!((s, e), iv("2027-03-27T23:00:00Z", "2027-03-28T22:00:00Z"));
    }

    #[test]
    fn the_night_clocks_go_back() {
        // Berlin goes from UTC+2 to UTC+1 at 01:00 UTC on Sunday 2027-10-31; 02:00–03:00 local
        // happens twice.
        let (from, to) = (utc("2027-10-30T12:00:00Z"), utc("2027-11-01T00:00:00Z"));
        let expand =
            |start, end| free_intervals(&[w("sun", start, end)], &[], BERLIN, from, to, &[]);
        // 01:00 CEST is 23:00 UTC the day before; 04:00 CET is 03:00 UTC: four real hours.
        assert_eq!(
            expand("01:00", "04:00"),
            [iv("2027-10-30T23:00:00Z", "2027-10-31T03:00:00Z")]
        );
        // 02:30 means its first occurrence (CEST, 00:30 UTC); 03:00 exists once (CET).
        assert_eq!(
            expand("02:30", "03:00"),
            [iv("2027-10-31T00:30:00Z", "2027-10-31T02:00:00Z")]
        );
        // Windows after the change are an hour later in UTC than the week before.
        assert_eq!(
            expand("09:00", "10:00"),
            [iv("2027-10-31T08:00:00Z", "2027-10-31T09:00:00Z")]
        );
        let (s, e) = local_day(BERLIN, date("2027-10-31"));
        assert_eq!(e - s, TimeDelta::hours(25));
    }

    #[test]
    fn far_future_dst_changes_are_known() {
        // 2040-03-25 is the last Sunday of March: 10:00 local is 08:00 UTC that day, 09:00 the
        // Sunday before.
        let got = free_intervals(
            &[w("sun", "10:00", "11:00")],
            &[],
            BERLIN,
            utc("2040-03-18T00:00:00Z"),
            utc("2040-03-26T00:00:00Z"),
            &[],
        );
        assert_eq!(
            got,
            [
                iv("2040-03-18T09:00:00Z", "2040-03-18T10:00:00Z"),
                iv("2040-03-25T08:00:00Z", "2040-03-25T09:00:00Z"),
            ]
        );
    }

    #[test]
    fn a_skipped_date_is_an_empty_day() {
        // Samoa moved across the date line: 30 December 2011 never happened there.
        let (s, e) = local_day(chrono_tz::Pacific::Apia, date("2011-12-30"));
        assert_eq!(s, e);
        let (s, e) = local_day(chrono_tz::Pacific::Apia, date("2011-12-31"));
        assert_eq!(e - s, TimeDelta::hours(24));
    }

    #[test]
    fn blocked_dates_remove_their_whole_local_day() {
        let windows = [
            w("mon", "00:00", "24:00"),
            w("tue", "00:00", "02:00"),
            w("tue", "09:00", "10:00"),
            w("wed", "09:00", "10:00"),
        ];
        let (from, to) = (utc("2027-01-04T00:00:00Z"), utc("2027-01-07T00:00:00Z"));
        let free = |blocked: &[NaiveDate]| free_intervals(&windows, blocked, BERLIN, from, to, &[]);
        assert_eq!(
            free(&[]),
            [
                // Monday all day (Berlin midnight is 23:00 UTC) runs on into Tuesday 02:00.
                iv("2027-01-04T00:00:00Z", "2027-01-05T01:00:00Z"),
                iv("2027-01-05T08:00:00Z", "2027-01-05T09:00:00Z"),
                iv("2027-01-06T08:00:00Z", "2027-01-06T09:00:00Z"),
            ]
        );
        // Blocking Tuesday keeps Monday until its local midnight and Wednesday.
        assert_eq!(
            free(&[date("2027-01-05")]),
            [
                iv("2027-01-04T00:00:00Z", "2027-01-04T23:00:00Z"),
                iv("2027-01-06T08:00:00Z", "2027-01-06T09:00:00Z"),
            ]
        );
        // Blocking Monday leaves the early Tuesday window, which starts at local midnight.
        assert_eq!(
            free(&[date("2027-01-04")])[0],
            iv("2027-01-04T23:00:00Z", "2027-01-05T01:00:00Z")
        );
        // A date outside the range changes nothing.
        assert_eq!(free(&[date("2027-02-01")]), free(&[]));
    }

    #[test]
    fn busy_intervals_are_subtracted() {
        let windows = [w("mon", "09:00", "12:00"), w("mon", "14:00", "16:00")];
        let (from, to) = (utc("2027-01-04T00:00:00Z"), utc("2027-01-05T00:00:00Z"));
        let free = |busy: &[Interval]| free_intervals(&windows, &[], BERLIN, from, to, busy);
        // In the middle: the window splits.
        assert_eq!(
            free(&[iv("2027-01-04T09:00:00Z", "2027-01-04T09:30:00Z")]),
            [
                iv("2027-01-04T08:00:00Z", "2027-01-04T09:00:00Z"),
                iv("2027-01-04T09:30:00Z", "2027-01-04T11:00:00Z"),
                iv("2027-01-04T13:00:00Z", "2027-01-04T15:00:00Z"),
            ]
        );
        // At the start, at the end, and one spanning the gap between windows; unordered.
        assert_eq!(
            free(&[
                iv("2027-01-04T14:30:00Z", "2027-01-04T20:00:00Z"),
                iv("2027-01-04T07:00:00Z", "2027-01-04T08:15:00Z"),
                iv("2027-01-04T10:45:00Z", "2027-01-04T13:30:00Z"),
            ]),
            [
                iv("2027-01-04T08:15:00Z", "2027-01-04T10:45:00Z"),
                iv("2027-01-04T13:30:00Z", "2027-01-04T14:30:00Z"),
            ]
        );
        // Overlapping busy intervals, one covering a whole window; empty ones are ignored.
        assert_eq!(
            free(&[
                iv("2027-01-04T08:00:00Z", "2027-01-04T10:00:00Z"),
                iv("2027-01-04T09:00:00Z", "2027-01-04T11:00:00Z"),
                iv("2027-01-04T13:30:00Z", "2027-01-04T13:30:00Z"),
            ]),
            [iv("2027-01-04T13:00:00Z", "2027-01-04T15:00:00Z")]
        );
        // Busy time outside every window changes nothing.
        assert_eq!(
            free(&[iv("2027-01-04T18:00:00Z", "2027-01-04T19:00:00Z")]),
            free(&[])
        );
    }

    #[test]
    fn results_are_clipped_to_the_range() {
        let windows = [w("mon", "09:00", "12:00")];
        let got = free_intervals(
            &windows,
            &[],
            BERLIN,
            utc("2027-01-04T09:10:00Z"),
            utc("2027-01-04T10:20:00Z"),
            &[],
        );
        assert_eq!(got, [iv("2027-01-04T09:10:00Z", "2027-01-04T10:20:00Z")]);
        assert!(
            free_intervals(
                &windows,
                &[],
                BERLIN,
                utc("2027-01-04T12:00:00Z"),
                utc("2027-01-04T11:00:00Z"),
                &[]
            )
            .is_empty()
        );
        assert!(
            free_intervals(
                &[],
                &[],
                BERLIN,
                utc("2027-01-04T00:00:00Z"),
                utc("2027-01-05T00:00:00Z"),
                &[]
            )
            .is_empty()
        );
    }

    #[test]
    fn covers_whole_windows_and_contiguous_ones() {
        let windows = [
            w("mon", "09:00", "12:00"),
            w("mon", "12:00", "14:00"),
            w("mon", "22:00", "24:00"),
            w("tue", "00:00", "01:00"),
            w("tue", "09:00", "10:00"),
        ];
        let covered = |s: &str, e: &str| covers(&windows, &[], BERLIN, utc(s), utc(e));
        // Exactly one window, and inside one.
        assert!(covered("2027-01-05T08:00:00Z", "2027-01-05T09:00:00Z"));
        assert!(covered("2027-01-04T08:00:00Z", "2027-01-04T08:05:00Z"));
        // Across two adjacent windows on one day, and across midnight.
        assert!(covered("2027-01-04T10:00:00Z", "2027-01-04T12:00:00Z"));
        assert!(covered("2027-01-04T08:00:00Z", "2027-01-04T13:00:00Z"));
        assert!(covered("2027-01-04T22:00:00Z", "2027-01-05T00:00:00Z"));
        // Five minutes too early, five too late, across a gap, empty or reversed.
        assert!(!covered("2027-01-04T07:55:00Z", "2027-01-04T09:00:00Z"));
        assert!(!covered("2027-01-05T08:00:00Z", "2027-01-05T09:05:00Z"));
        assert!(!covered("2027-01-04T12:30:00Z", "2027-01-04T21:30:00Z"));
        assert!(!covered("2027-01-04T09:00:00Z", "2027-01-04T09:00:00Z"));
        assert!(!covered("2027-01-04T10:00:00Z", "2027-01-04T09:00:00Z"));
        // Wrong day.
        assert!(!covered("2027-01-06T08:00:00Z", "2027-01-06T09:00:00Z"));
    }

    #[test]
    fn covers_refuses_blocked_days_even_in_part() {
        let windows = [w("mon", "22:00", "24:00"), w("tue", "00:00", "02:00")];
        let across_midnight = (utc("2027-01-04T22:00:00Z"), utc("2027-01-05T00:00:00Z"));
        assert!(covers(
            &windows,
            &[],
            BERLIN,
            across_midnight.0,
            across_midnight.1
        ));
        for blocked in ["2027-01-04", "2027-01-05"] {
            assert!(!covers(
                &windows,
                &[date(blocked)],
                BERLIN,
                across_midnight.0,
                across_midnight.1
            ));
        }
        assert!(covers(
            &windows,
            &[date("2027-01-06")],
            BERLIN,
            across_midnight.0,
            across_midnight.1
        ));
    }

    #[test]
    fn covers_across_the_dst_nights() {
        let windows = [w("sun", "01:00", "04:00")];
        // Spring: 00:00–02:00 UTC is the whole (two-hour) window; one more hour is not.
        assert!(covers(
            &windows,
            &[],
            BERLIN,
            utc("2027-03-28T00:00:00Z"),
            utc("2027-03-28T02:00:00Z")
        ));
        assert!(!covers(
            &windows,
            &[],
            BERLIN,
            utc("2027-03-28T00:00:00Z"),
            utc("2027-03-28T03:00:00Z")
        ));
        // Autumn: the window is four real hours.
        assert!(covers(
            &windows,
            &[],
            BERLIN,
            utc("2027-10-30T23:00:00Z"),
            utc("2027-10-31T03:00:00Z")
        ));
    }
}
