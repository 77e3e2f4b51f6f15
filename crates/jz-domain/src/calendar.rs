//! The city's working-day calendar (工作日历) and deadline arithmetic for case time limits.
//!
//! # The model
//!
//! Instants are UTC microseconds since the Unix epoch (`i64`), as the store keeps them. A
//! [`WorkCalendar`] turns them into the city's local civil time (Asia/Shanghai for Shanghai)
//! and knows three things:
//!
//! - **working windows**: the same civil time ranges every working day, e.g. 09:00–12:00 and
//!   13:30–17:30 (AM/PM, 7 working hours);
//! - **the default week**: Monday to Friday are working days, Saturday and Sunday are rest days;
//! - **day overrides** published yearly by the State Council General Office: public holidays
//!   ([`DayKind::Holiday`], a day off even on a weekday) and make-up working days
//!   ([`DayKind::Workday`], 调休: a weekend day that becomes a working day).
//!
//! A [`TimeLimit`] is an amount of one [`TimeUnit`]. Natural units (minutes, hours, days) are
//! plain elapsed time and ignore the calendar: urgent cases run on the natural clock. Working
//! units count only *working time*, the instants inside a window on a working day:
//!
//! - `WorkingHours(n)` is `n` hours of working time;
//! - `WorkingDays(n)` is `n` × [`WorkCalendar::working_minutes_per_day`] of working time, the
//!   common practice of converting working days to working hours: one working day from Monday
//!   10:00 ends Tuesday 10:00 when both are working days.
//!
//! The deadline of a limit started at `start` is the **earliest instant `t ≥ start` by which the
//! limit's amount of time has passed** since `start`. Everything else follows from that one rule:
//! a start outside working time (night, lunch break, weekend, holiday) begins counting at the
//! next window opening; a deadline always lands inside working time, and one that lands exactly
//! on a window's end stays at that end rather than moving to the next opening; a zero amount
//! ends at `start` itself.
//!
//! [`WorkCalendar::progress`] measures the used share of a limit in the limit's own kind of
//! time, and [`Light`] turns it into the standard's deadline lights: green below 80 %, yellow
//! from 80 % up to and including 100 %, red beyond. [`overdue_multiple`] is
//! `(used − limit) / limit`.
//!
//! # Cost
//!
//! Arithmetic walks the calendar day by day, window by window — never minute by minute — so a
//! limit of a few hours or days costs a handful of window computations. Past the last override,
//! when the time zone has no further offset changes (Asia/Shanghai has had none since 1991),
//! whole weeks are skipped at once, so even a limit of `u32::MAX` working days answers at once.
//! Instants beyond the range the calendar can represent (years −9999 to 9999) are clamped to it.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use jiff::civil::{Date, DateTime, Time, Weekday};
use jiff::tz::{TimeZone, TimeZoneDatabase};
use jiff::{Span, Timestamp};

const MICROS_PER_MINUTE: i64 = 60 * 1_000_000;
const MICROS_PER_HOUR: i64 = 60 * MICROS_PER_MINUTE;
const MICROS_PER_DAY: i64 = 24 * MICROS_PER_HOUR;
const MICROS_PER_WEEK: i64 = 7 * MICROS_PER_DAY;

/// The IANA name of the city's time zone.
pub const SHANGHAI_TIME_ZONE: &str = "Asia/Shanghai";

/// Shanghai's working windows: 09:00–12:00 and 13:30–17:30, 7 working hours a day.
pub const SHANGHAI_WINDOWS: [(Time, Time); 2] = [
    (Time::constant(9, 0, 0, 0), Time::constant(12, 0, 0, 0)),
    (Time::constant(13, 30, 0, 0), Time::constant(17, 30, 0, 0)),
];

/// The header line of the holiday data file (`data/calendar/cn-holidays.csv`).
pub const OVERRIDES_HEADER: &str = "date,kind,name";

/// How a day differs from the default week (Monday–Friday work, Saturday/Sunday rest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DayKind {
    /// A public holiday: no working time, whatever the weekday.
    Holiday,
    /// A make-up working day (调休): working windows apply, whatever the weekday.
    Workday,
}

impl DayKind {
    /// The spelling used in the data file: `holiday` or `workday`.
    pub fn as_str(self) -> &'static str {
        match self {
            DayKind::Holiday => "holiday",
            DayKind::Workday => "workday",
        }
    }
}

impl fmt::Display for DayKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One published day that differs from the default week, e.g. `2026-10-01 holiday 国庆节`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DayOverride {
    pub date: Date,
    pub kind: DayKind,
    /// The holiday period it belongs to, as published (e.g. `春节`).
    pub name: String,
}

/// The unit a time limit is counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeUnit {
    NaturalMinutes,
    NaturalHours,
    /// `n` × 24 elapsed hours.
    NaturalDays,
    /// Hours of working time.
    WorkingHours,
    /// Working days converted to working time: `n` × the working minutes of one day.
    WorkingDays,
}

impl TimeUnit {
    /// Every unit, in the order the standard lists them.
    pub const ALL: [TimeUnit; 5] = [
        TimeUnit::NaturalMinutes,
        TimeUnit::NaturalHours,
        TimeUnit::NaturalDays,
        TimeUnit::WorkingHours,
        TimeUnit::WorkingDays,
    ];

    /// The stable snake_case spelling, e.g. `working_hours`.
    pub fn as_str(self) -> &'static str {
        match self {
            TimeUnit::NaturalMinutes => "natural_minutes",
            TimeUnit::NaturalHours => "natural_hours",
            TimeUnit::NaturalDays => "natural_days",
            TimeUnit::WorkingHours => "working_hours",
            TimeUnit::WorkingDays => "working_days",
        }
    }

    /// Whether the unit counts only working time (otherwise it is plain elapsed time).
    pub fn is_working(self) -> bool {
        matches!(self, TimeUnit::WorkingHours | TimeUnit::WorkingDays)
    }
}

impl fmt::Display for TimeUnit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TimeUnit {
    type Err = CalendarError;

    fn from_str(text: &str) -> Result<TimeUnit, CalendarError> {
        TimeUnit::ALL
            .into_iter()
            .find(|unit| unit.as_str() == text)
            .ok_or_else(|| CalendarError::UnknownTimeUnit(text.to_owned()))
    }
}

/// A time limit: an amount of one unit, written `4 working_hours` or `30 natural_minutes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimeLimit {
    pub amount: u32,
    pub unit: TimeUnit,
}

impl TimeLimit {
    pub fn new(amount: u32, unit: TimeUnit) -> TimeLimit {
        TimeLimit { amount, unit }
    }
}

impl fmt::Display for TimeLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount, self.unit)
    }
}

impl FromStr for TimeLimit {
    type Err = CalendarError;

    /// Parses `<amount> <unit>`; the amount is a whole number of at least 1, since a limit of
    /// nothing is not a limit.
    fn from_str(text: &str) -> Result<TimeLimit, CalendarError> {
        let bad = || CalendarError::BadTimeLimit(text.to_owned());
        let mut parts = text.split_whitespace();
        let (Some(amount), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad());
        };
        let amount: u32 = amount.parse().map_err(|_| bad())?;
        if amount == 0 {
            return Err(bad());
        }
        Ok(TimeLimit {
            amount,
            unit: unit.parse()?,
        })
    }
}

/// A deadline light (超时亮灯).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Light {
    /// Less than 80 % of the limit used.
    Green,
    /// From 80 % up to and including 100 % used.
    Yellow,
    /// More than 100 % used: overdue.
    Red,
}

impl Light {
    /// The share of the limit at which the light turns yellow.
    pub const YELLOW_FROM: f64 = 0.8;

    /// The light for a progress fraction (see [`WorkCalendar::progress`]). A NaN progress is
    /// treated as overdue, so a broken value draws attention instead of hiding.
    pub fn of(progress: f64) -> Light {
        if progress < Light::YELLOW_FROM {
            Light::Green
        } else if progress <= 1.0 {
            Light::Yellow
        } else {
            Light::Red
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Light::Green => "green",
            Light::Yellow => "yellow",
            Light::Red => "red",
        }
    }
}

/// How many limits' worth a case is overdue, `(used − limit) / limit`; 0 when not overdue.
pub fn overdue_multiple(progress: f64) -> f64 {
    if progress > 1.0 { progress - 1.0 } else { 0.0 }
}

/// Why a calendar or its data could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("unknown time zone `{0}`: expected an IANA name such as `Asia/Shanghai`")]
    UnknownTimeZone(String),
    #[error("a working calendar needs at least one working window")]
    NoWindows,
    #[error("working window {index} ({start}–{end}) must start before it ends")]
    EmptyWindow {
        index: usize,
        start: Time,
        end: Time,
    },
    #[error(
        "working window {index} ({start}–{end}) starts before window {previous} ends at \
         {previous_end}: windows must be sorted and must not overlap"
    )]
    OverlappingWindows {
        index: usize,
        start: Time,
        end: Time,
        previous: usize,
        previous_end: Time,
    },
    #[error("line {line}: expected the header `date,kind,name`, found `{found}`")]
    BadHeader { line: usize, found: String },
    #[error("line {line}: expected 3 fields `date,kind,name`, found {found} in `{text}`")]
    FieldCount {
        line: usize,
        found: usize,
        text: String,
    },
    #[error("line {line}: `{value}` is not a date: expected YYYY-MM-DD")]
    BadDate { line: usize, value: String },
    #[error("line {line}: `{value}` is not a day kind: expected `holiday` or `workday`")]
    BadDayKind { line: usize, value: String },
    #[error("line {line}: the name is empty")]
    EmptyName { line: usize },
    #[error("line {line}: {date} is listed again (first on line {first_line})")]
    DuplicateDate {
        line: usize,
        date: Date,
        first_line: usize,
    },
    #[error(
        "`{0}` is not a time unit: expected natural_minutes, natural_hours, natural_days, \
         working_hours or working_days"
    )]
    UnknownTimeUnit(String),
    #[error("`{0}` is not a time limit: expected `<amount ≥ 1> <unit>`, e.g. `4 working_hours`")]
    BadTimeLimit(String),
}

/// A city's working-day calendar: time zone, daily working windows and published day overrides.
#[derive(Debug, Clone)]
pub struct WorkCalendar {
    time_zone: TimeZone,
    /// Sorted, non-overlapping, each non-empty (checked in [`WorkCalendar::new`]).
    windows: Vec<(Time, Time)>,
    /// Working microseconds in one working day, by the civil clock.
    day_micros: i64,
    overrides: BTreeMap<Date, DayOverride>,
}

impl WorkCalendar {
    /// A calendar in the IANA time zone `time_zone` (looked up in the tz database compiled into
    /// the binary, never the host's), with working `windows` in local civil time and the given
    /// overrides (a later override of the same date replaces an earlier one).
    pub fn new(
        time_zone: &str,
        windows: &[(Time, Time)],
        overrides: Vec<DayOverride>,
    ) -> Result<WorkCalendar, CalendarError> {
        let time_zone = TimeZoneDatabase::bundled()
            .get(time_zone)
            .map_err(|_| CalendarError::UnknownTimeZone(time_zone.to_owned()))?;
        if windows.is_empty() {
            return Err(CalendarError::NoWindows);
        }
        for (index, &(start, end)) in windows.iter().enumerate() {
            if start >= end {
                return Err(CalendarError::EmptyWindow { index, start, end });
            }
            if index > 0 {
                let previous_end = windows[index - 1].1;
                if start < previous_end {
                    return Err(CalendarError::OverlappingWindows {
                        index,
                        start,
                        end,
                        previous: index - 1,
                        previous_end,
                    });
                }
            }
        }
        let day_micros = windows
            .iter()
            .map(|&(start, end)| civil_micros(start, end))
            .sum();
        let mut calendar = WorkCalendar {
            time_zone,
            windows: windows.to_vec(),
            day_micros,
            overrides: BTreeMap::new(),
        };
        for day in overrides {
            calendar.set_day(day);
        }
        Ok(calendar)
    }

    /// Shanghai: Asia/Shanghai, windows 09:00–12:00 and 13:30–17:30 (7 working hours a day).
    pub fn shanghai(overrides: Vec<DayOverride>) -> WorkCalendar {
        WorkCalendar::new(SHANGHAI_TIME_ZONE, &SHANGHAI_WINDOWS, overrides)
            .expect("Asia/Shanghai is in the bundled tz database and the windows are valid")
    }

    /// Parses the holiday data file's text: a header `date,kind,name`, then one line per day,
    /// e.g. `2026-10-01,holiday,国庆节`. Blank lines are skipped; fields are trimmed. Errors
    /// name the 1-based line. A date listed twice is an error. Pure: the caller reads the file.
    pub fn parse_overrides(csv_text: &str) -> Result<Vec<DayOverride>, CalendarError> {
        let text = csv_text.strip_prefix('\u{feff}').unwrap_or(csv_text);
        let mut lines = text
            .lines()
            .enumerate()
            .map(|(index, line)| (index + 1, line.trim()));
        match lines.next() {
            Some((_, OVERRIDES_HEADER)) => {}
            Some((line, found)) => {
                return Err(CalendarError::BadHeader {
                    line,
                    found: found.to_owned(),
                });
            }
            None => {
                return Err(CalendarError::BadHeader {
                    line: 1,
                    found: String::new(),
                });
            }
        }
        let mut first_seen: BTreeMap<Date, usize> = BTreeMap::new();
        let mut days = Vec::new();
        for (line, text) in lines.filter(|(_, text)| !text.is_empty()) {
            let fields: Vec<&str> = text.split(',').map(str::trim).collect();
            let [date, kind, name] = fields[..] else {
                return Err(CalendarError::FieldCount {
                    line,
                    found: fields.len(),
                    text: text.to_owned(),
                });
            };
            let date = parse_iso_date(date).ok_or_else(|| CalendarError::BadDate {
                line,
                value: date.to_owned(),
            })?;
            let kind = match kind {
                "holiday" => DayKind::Holiday,
                "workday" => DayKind::Workday,
                other => {
                    return Err(CalendarError::BadDayKind {
                        line,
                        value: other.to_owned(),
                    });
                }
            };
            if name.is_empty() {
                return Err(CalendarError::EmptyName { line });
            }
            if let Some(&first_line) = first_seen.get(&date) {
                return Err(CalendarError::DuplicateDate {
                    line,
                    date,
                    first_line,
                });
            }
            first_seen.insert(date, line);
            days.push(DayOverride {
                date,
                kind,
                name: name.to_owned(),
            });
        }
        Ok(days)
    }

    /// Sets (or replaces) the override of `o.date`.
    pub fn set_day(&mut self, o: DayOverride) {
        self.overrides.insert(o.date, o);
    }

    /// Removes any override of `date`, so the default week applies again.
    pub fn clear_day(&mut self, date: Date) {
        self.overrides.remove(&date);
    }

    /// The overrides, in date order.
    pub fn overrides(&self) -> impl Iterator<Item = &DayOverride> {
        self.overrides.values()
    }

    /// The calendar's time zone.
    pub fn time_zone(&self) -> &TimeZone {
        &self.time_zone
    }

    /// The daily working windows, in local civil time.
    pub fn windows(&self) -> &[(Time, Time)] {
        &self.windows
    }

    /// Whether `date` has working windows: its override if it has one, else Monday–Friday.
    pub fn is_working_day(&self, date: Date) -> bool {
        match self.overrides.get(&date) {
            Some(day) => day.kind == DayKind::Workday,
            None => !matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday),
        }
    }

    /// Working minutes in one working day (420 for Shanghai). Windows with seconds are rounded
    /// down here; the arithmetic itself uses the windows exactly.
    pub fn working_minutes_per_day(&self) -> u32 {
        u32::try_from(self.day_micros / MICROS_PER_MINUTE).unwrap_or(u32::MAX)
    }

    /// The instant a limit runs out when the clock starts at `start_us`: the earliest instant
    /// by which the limit's amount of (working or natural) time has passed. Never before
    /// `start_us`; for working units always inside working time or at a window's end.
    pub fn deadline(&self, start_us: i64, limit: TimeLimit) -> i64 {
        self.instant_after(start_us, limit.unit, self.limit_micros(limit))
    }

    /// Time used of `limit` between `start_us` and `now_us`, as a fraction (0.5 = half used,
    /// 1.25 = 25 % over), measured in the limit's own kind of time: working time for working
    /// units, natural time for natural units. Never negative; exactly 1.0 at the deadline. A
    /// zero limit is fully used at its start (1.0) and infinitely overdue once any time passed.
    pub fn progress(&self, start_us: i64, limit: TimeLimit, now_us: i64) -> f64 {
        let used = if limit.unit.is_working() {
            self.working_micros_between(start_us, now_us)
        } else {
            now_us.saturating_sub(start_us).max(0)
        };
        let total = self.limit_micros(limit);
        if total == 0 {
            return if used == 0 { 1.0 } else { f64::INFINITY };
        }
        used as f64 / total as f64
    }

    /// Working seconds between two instants, rounded down (0 when `b_us <= a_us`).
    pub fn working_seconds_between(&self, a_us: i64, b_us: i64) -> i64 {
        self.working_micros_between(a_us, b_us) / 1_000_000
    }

    /// The instant at which `share` of the limit is used (e.g. 0.8 for the yellow warning):
    /// the deadline of `share` × the limit, to the microsecond. `share` 1.0 is exactly
    /// [`WorkCalendar::deadline`]; a share of 0 or less (or NaN) is `start_us`.
    pub fn instant_at(&self, start_us: i64, limit: TimeLimit, share: f64) -> i64 {
        let total = self.limit_micros(limit);
        let amount = if share == 1.0 {
            total
        } else if share > 0.0 {
            // `as` saturates: a share beyond i64 becomes i64::MAX.
            (total as f64 * share).round() as i64
        } else {
            0
        };
        self.instant_after(start_us, limit.unit, amount)
    }

    /// The limit's length in microseconds of its own kind of time, saturating.
    fn limit_micros(&self, limit: TimeLimit) -> i64 {
        let per_unit = match limit.unit {
            TimeUnit::NaturalMinutes => MICROS_PER_MINUTE,
            TimeUnit::NaturalHours | TimeUnit::WorkingHours => MICROS_PER_HOUR,
            TimeUnit::NaturalDays => MICROS_PER_DAY,
            TimeUnit::WorkingDays => self.day_micros,
        };
        i64::from(limit.amount).saturating_mul(per_unit)
    }

    /// The earliest instant `amount` microseconds of `unit`'s kind of time after `start_us`.
    fn instant_after(&self, start_us: i64, unit: TimeUnit, amount: i64) -> i64 {
        if unit.is_working() {
            self.advance_working(start_us, amount).max(start_us)
        } else {
            start_us.saturating_add(amount)
        }
    }

    /// The earliest instant by which `amount` microseconds of working time have passed since
    /// `start_us`, walking day by day and window by window.
    fn advance_working(&self, start_us: i64, amount: i64) -> i64 {
        if amount <= 0 {
            return start_us;
        }
        let start = clamp_to_supported(start_us);
        let mut remaining = amount;
        let mut date = self.local_date(start);
        loop {
            if self.is_working_day(date) {
                for &window in &self.windows {
                    let (opens, closes) = self.window_instants(date, window);
                    let from = opens.max(start);
                    if closes > from {
                        let length = closes - from;
                        if remaining <= length {
                            return from + remaining;
                        }
                        remaining -= length;
                    }
                }
            }
            let Ok(next) = date.tomorrow() else {
                return max_supported_micros();
            };
            date = next;
            // Skip whole regular weeks, leaving at least one microsecond to walk so the
            // deadline is found inside a window (never at a skipped week's boundary).
            let week = 5 * self.day_micros;
            if remaining > week && self.is_regular_from(date) {
                let weeks = (remaining - 1) / week;
                let Some(after) = add_weeks(date, weeks) else {
                    return max_supported_micros();
                };
                date = after;
                remaining -= weeks * week;
            }
        }
    }

    /// Working microseconds in `[a_us, b_us)`, 0 when `b_us <= a_us`.
    fn working_micros_between(&self, a_us: i64, b_us: i64) -> i64 {
        if b_us <= a_us {
            return 0;
        }
        let (a, b) = (clamp_to_supported(a_us), clamp_to_supported(b_us));
        let last = self.local_date(b);
        let mut date = self.local_date(a);
        let mut total = 0;
        while date <= last {
            if self.is_working_day(date) {
                for &window in &self.windows {
                    let (opens, closes) = self.window_instants(date, window);
                    let (from, to) = (opens.max(a), closes.min(b));
                    if to > from {
                        total += to - from;
                    }
                }
            }
            let Ok(next) = date.tomorrow() else {
                break;
            };
            date = next;
            if self.is_regular_from(date) {
                // A regular week is exactly 7 × 24 h long and holds five working days.
                let midnight = self.instant_of(date.to_datetime(Time::midnight()));
                let weeks = (b - midnight) / MICROS_PER_WEEK;
                if weeks > 0 {
                    let Some(after) = add_weeks(date, weeks) else {
                        break;
                    };
                    date = after;
                    total += weeks * 5 * self.day_micros;
                }
            }
        }
        total
    }

    /// Whether every week from `date` (a Monday) on is a default week of constant length: no
    /// override on or after it and no further change of UTC offset in the time zone.
    fn is_regular_from(&self, date: Date) -> bool {
        if date.weekday() != Weekday::Monday {
            return false;
        }
        if self
            .overrides
            .keys()
            .next_back()
            .is_some_and(|&last| last >= date)
        {
            return false;
        }
        let midnight = self.instant_of(date.to_datetime(Time::midnight()));
        let Ok(midnight) = Timestamp::from_microsecond(midnight) else {
            return false;
        };
        self.time_zone.following(midnight).next().is_none()
    }

    /// The local civil date of an instant in the supported range.
    fn local_date(&self, instant_us: i64) -> Date {
        let timestamp = Timestamp::from_microsecond(instant_us)
            .expect("instants are clamped to the supported range first");
        self.time_zone.to_datetime(timestamp).date()
    }

    /// The instants a window opens and closes on `date` (a window cut short by an offset
    /// change never closes before it opens).
    fn window_instants(&self, date: Date, (start, end): (Time, Time)) -> (i64, i64) {
        let opens = self.instant_of(date.to_datetime(start));
        let closes = self.instant_of(date.to_datetime(end)).max(opens);
        (opens, closes)
    }

    /// The instant of a local civil time; a time skipped by a forward offset change counts as
    /// the instant after the gap, a repeated one as its first occurrence.
    fn instant_of(&self, local: DateTime) -> i64 {
        match self.time_zone.to_ambiguous_timestamp(local).compatible() {
            Ok(timestamp) => timestamp.as_microsecond(),
            Err(_) if local.year() < 0 => min_supported_micros(),
            Err(_) => max_supported_micros(),
        }
    }
}

/// Microseconds from `start` to `end` on the civil clock (`start < end`).
fn civil_micros(start: Time, end: Time) -> i64 {
    let duration = end.duration_since(start);
    duration.as_secs() * 1_000_000 + i64::from(duration.subsec_micros())
}

/// `date` plus whole weeks, or `None` past the last representable date.
fn add_weeks(date: Date, weeks: i64) -> Option<Date> {
    let span = Span::new().try_weeks(weeks).ok()?;
    date.checked_add(span).ok()
}

/// The last instant the calendar can represent, in whole seconds (as jiff accepts it back).
fn max_supported_micros() -> i64 {
    Timestamp::MAX.as_second() * 1_000_000
}

/// The first instant the calendar can represent.
fn min_supported_micros() -> i64 {
    Timestamp::MIN.as_second() * 1_000_000
}

fn clamp_to_supported(instant_us: i64) -> i64 {
    instant_us.clamp(min_supported_micros(), max_supported_micros())
}

/// A strict `YYYY-MM-DD` date (jiff alone would also take other ISO 8601 forms).
fn parse_iso_date(text: &str) -> Option<Date> {
    let bytes = text.as_bytes();
    let shaped = bytes.len() == 10
        && bytes.iter().enumerate().all(|(index, byte)| match index {
            4 | 7 => *byte == b'-',
            _ => byte.is_ascii_digit(),
        });
    if !shaped {
        return None;
    }
    text.parse().ok()
}
