//! The working-day calendar through its public API: the shipped holiday data and deadline rules.
//!
//! `data/calendar/cn-holidays.csv` lists China's public holidays and make-up working days for
//! 2025 and 2026 as published by the State Council General Office:
//! 国务院办公厅关于2025年部分节假日安排的通知 (gov.cn/zhengce/content/202411/content_6986382.htm)
//! and 国务院办公厅关于2026年部分节假日安排的通知 (gov.cn/zhengce/content/202511/content_7047090.htm).
//! The dates were taken from the crates.io crate `chinese_holiday` 2026.0.1 (`src/constants.rs`,
//! which quotes both notices line by line) and checked against the 2026 notice's text.
//!
//! Instants are written as Shanghai civil times (`+08:00`, Shanghai's offset since 1991) and
//! converted here independently of the calendar's own time-zone handling.

use jiff::Timestamp;
use jiff::civil::{Date, Time, Weekday, date};
use jiff::tz::{TimeZone, offset};
use jz_domain::calendar::{
    CalendarError, DayKind, DayOverride, Light, TimeLimit, TimeUnit, WorkCalendar, overdue_multiple,
};

const HOLIDAY_DATA: &str = include_str!("../../../data/calendar/cn-holidays.csv");
const MICROS_PER_SECOND: i64 = 1_000_000;
const MICROS_PER_HOUR: i64 = 3600 * MICROS_PER_SECOND;
const MICROS_PER_DAY: i64 = 24 * MICROS_PER_HOUR;

/// The Shanghai calendar with the shipped holiday data.
fn shanghai() -> WorkCalendar {
    WorkCalendar::shanghai(
        WorkCalendar::parse_overrides(HOLIDAY_DATA).expect("shipped data parses"),
    )
}

/// A Shanghai civil time such as `2026-10-08T11:00` as UTC microseconds.
fn at(local: &str) -> i64 {
    let timestamp: Timestamp = format!("{local}+08:00")
        .parse()
        .expect("a valid local time");
    timestamp.as_microsecond()
}

/// An instant back as a Shanghai civil time, for readable failures.
fn show(instant_us: i64) -> String {
    let timestamp = Timestamp::from_microsecond(instant_us).expect("an instant in range");
    TimeZone::fixed(offset(8))
        .to_datetime(timestamp)
        .to_string()
}

fn limit(text: &str) -> TimeLimit {
    text.parse().expect("a valid time limit")
}

/// Checks rows of `(start, limit, expected deadline)` against one calendar.
fn check_deadlines(calendar: &WorkCalendar, rows: &[(&str, &str, &str)]) {
    for &(start, time_limit, expected) in rows {
        let got = calendar.deadline(at(start), limit(time_limit));
        assert_eq!(show(got), show(at(expected)), "{time_limit} from {start}");
    }
}

#[test]
fn shipped_holiday_data_is_well_formed() {
    let days = WorkCalendar::parse_overrides(HOLIDAY_DATA).expect("shipped data parses");
    assert_eq!(days.len(), 72);
    for pair in days.windows(2) {
        assert!(
            pair[0].date < pair[1].date,
            "{} then {}: not in date order",
            pair[0].date,
            pair[1].date
        );
    }
    for day in &days {
        assert!(
            matches!(day.date.year(), 2025 | 2026),
            "{} is outside 2025-2026",
            day.date
        );
        assert!(!day.name.is_empty());
        if day.kind == DayKind::Workday {
            assert!(
                matches!(day.date.weekday(), Weekday::Saturday | Weekday::Sunday),
                "make-up working day {} is a {:?}, not a weekend day",
                day.date,
                day.date.weekday(),
            );
        }
    }
    let workdays = |year| {
        days.iter()
            .filter(|day| day.kind == DayKind::Workday && day.date.year() == year)
            .count()
    };
    assert_eq!((workdays(2025), workdays(2026)), (5, 6));
}

#[test]
fn shipped_holiday_data_holds_the_published_days() {
    let calendar = shanghai();
    let holidays = [
        // 2026 National Day: 1–7 October (Thursday to Wednesday).
        (date(2026, 10, 1), date(2026, 10, 7)),
        // 2026 Spring Festival: 15–23 February, nine days.
        (date(2026, 2, 15), date(2026, 2, 23)),
        (date(2026, 9, 25), date(2026, 9, 27)),
        (date(2026, 5, 1), date(2026, 5, 5)),
        (date(2026, 1, 1), date(2026, 1, 3)),
        // 2025 National Day and Mid-Autumn: 1–8 October.
        (date(2025, 10, 1), date(2025, 10, 8)),
        (date(2025, 1, 28), date(2025, 2, 4)),
    ];
    for (first, last) in holidays {
        let mut day = first;
        while day <= last {
            assert!(!calendar.is_working_day(day), "{day} should be a holiday");
            day = day.tomorrow().unwrap();
        }
    }
    let make_up_days = [
        date(2026, 1, 4),
        date(2026, 2, 14),
        date(2026, 2, 28),
        date(2026, 5, 9),
        date(2026, 9, 20),
        date(2026, 10, 10),
        date(2025, 1, 26),
        date(2025, 2, 8),
        date(2025, 4, 27),
        date(2025, 9, 28),
        date(2025, 10, 11),
    ];
    for day in make_up_days {
        assert!(
            calendar.is_working_day(day),
            "{day} should be a make-up working day"
        );
    }
    // The default week still holds around them.
    assert!(calendar.is_working_day(date(2026, 10, 8)));
    assert!(!calendar.is_working_day(date(2026, 10, 11)));
    assert!(!calendar.is_working_day(date(2026, 3, 14)));
    let national_day = calendar
        .overrides()
        .find(|day| day.date == date(2026, 10, 1))
        .unwrap();
    assert_eq!(
        (national_day.kind, national_day.name.as_str()),
        (DayKind::Holiday, "国庆节")
    );
}

#[test]
fn working_hours_across_holiday_periods_and_make_up_days() {
    check_deadlines(
        &shanghai(),
        &[
            // Friday before the 2026 Spring Festival: 1 h on Friday, then the make-up Saturday.
            ("2026-02-13T16:30", "4 working_hours", "2026-02-14T12:00"),
            // … and past it: the nine-day holiday and Sunday are skipped to Tuesday 24th.
            ("2026-02-13T16:30", "10 working_hours", "2026-02-24T11:00"),
            // Friday before the 2025 Spring Festival: Saturday rests, Sunday 26th is a make-up day.
            ("2025-01-24T16:00", "4 working_hours", "2025-01-26T11:30"),
            ("2025-01-24T16:00", "10 working_hours", "2025-01-27T10:30"),
            ("2025-01-24T16:00", "20 working_hours", "2025-02-05T15:00"),
            // Wednesday before the 2026 National Day: the first window after it is 8 October.
            ("2026-09-30T15:30", "4 working_hours", "2026-10-08T11:00"),
            // Thursday 8th and Friday 9th, then the make-up Saturday 10th.
            ("2026-10-08T09:00", "16 working_hours", "2026-10-10T11:00"),
            // Thursday before Mid-Autumn 2026 (Friday 25th to Sunday 27th off).
            ("2026-09-24T15:00", "4 working_hours", "2026-09-28T10:30"),
            // Started inside the holiday: counting begins when work resumes.
            ("2026-10-03T10:00", "1 working_hours", "2026-10-08T10:00"),
        ],
    );
}

#[test]
fn working_time_starts_at_the_next_window_opening() {
    check_deadlines(
        &shanghai(),
        &[
            // Monday night, Tuesday before dawn.
            ("2026-03-09T22:00", "1 working_hours", "2026-03-10T10:00"),
            ("2026-03-10T06:00", "1 working_hours", "2026-03-10T10:00"),
            // Lunch break, and just before it.
            ("2026-03-10T12:15", "1 working_hours", "2026-03-10T14:30"),
            ("2026-03-10T11:30", "1 working_hours", "2026-03-10T14:00"),
            // At closing time, and on a Saturday.
            ("2026-03-10T17:30", "1 working_hours", "2026-03-11T10:00"),
            ("2026-03-14T10:00", "2 working_hours", "2026-03-16T11:00"),
            // Friday evening runs over the weekend.
            ("2026-03-13T17:00", "2 working_hours", "2026-03-16T10:30"),
        ],
    );
}

#[test]
fn a_deadline_on_a_window_end_stays_there() {
    check_deadlines(
        &shanghai(),
        &[
            ("2026-03-10T09:00", "3 working_hours", "2026-03-10T12:00"),
            ("2026-03-10T13:30", "4 working_hours", "2026-03-10T17:30"),
            ("2026-03-10T09:00", "7 working_hours", "2026-03-10T17:30"),
            ("2026-03-10T10:30", "3 working_hours", "2026-03-10T15:00"),
            // A night start ending on the first day's close.
            ("2026-03-09T20:00", "7 working_hours", "2026-03-10T17:30"),
        ],
    );
}

#[test]
fn working_days_convert_to_working_hours() {
    let calendar = shanghai();
    assert_eq!(calendar.working_minutes_per_day(), 420);
    check_deadlines(
        &calendar,
        &[
            ("2026-03-09T10:00", "1 working_days", "2026-03-10T10:00"),
            ("2026-03-13T10:00", "1 working_days", "2026-03-16T10:00"),
            ("2026-03-09T09:00", "2 working_days", "2026-03-10T17:30"),
            ("2026-03-14T20:00", "1 working_days", "2026-03-16T17:30"),
            ("2026-03-09T12:30", "1 working_days", "2026-03-10T12:00"),
            ("2026-03-09T10:00", "5 working_days", "2026-03-16T10:00"),
            // Across the 2026 National Day, and onto its make-up Saturday.
            ("2026-09-30T10:00", "1 working_days", "2026-10-08T10:00"),
            ("2026-10-09T10:00", "1 working_days", "2026-10-10T10:00"),
        ],
    );
    let start = at("2026-03-09T10:00");
    assert_eq!(
        calendar.deadline(start, limit("3 working_days")),
        calendar.deadline(start, limit("21 working_hours")),
    );
}

#[test]
fn natural_units_ignore_the_calendar() {
    check_deadlines(
        &shanghai(),
        &[
            ("2026-10-01T10:00", "30 natural_minutes", "2026-10-01T10:30"),
            ("2026-10-01T23:50", "30 natural_minutes", "2026-10-02T00:20"),
            ("2026-10-01T10:00", "4 natural_hours", "2026-10-01T14:00"),
            ("2026-10-01T10:00", "3 natural_days", "2026-10-04T10:00"),
            ("2026-03-14T03:00", "2 natural_hours", "2026-03-14T05:00"),
        ],
    );
    let calendar = shanghai();
    let start = at("2026-10-01T10:00");
    assert_eq!(
        calendar.progress(start, limit("4 natural_hours"), at("2026-10-01T12:00")),
        0.5
    );
}

#[test]
fn progress_is_measured_in_the_limits_own_time() {
    let calendar = shanghai();
    let four_hours = limit("4 working_hours");
    let start = at("2026-03-10T10:00");
    let deadline = calendar.deadline(start, four_hours);
    assert_eq!(show(deadline), "2026-03-10T15:30:00");
    let cases = [
        ("2026-03-10T09:00", 0.0),  // before the start: never negative
        ("2026-03-10T11:00", 0.25), // 1 of 4 working hours
        ("2026-03-10T12:00", 0.5),
        ("2026-03-10T13:00", 0.5), // the lunch break does not count
        ("2026-03-10T13:30", 0.5),
        ("2026-03-10T15:30", 1.0),
        ("2026-03-10T17:30", 1.5),
        ("2026-03-10T22:00", 1.5), // nor does the night
        ("2026-03-11T10:00", 1.75),
    ];
    for (now, expected) in cases {
        let got = calendar.progress(start, four_hours, at(now));
        assert!(
            (got - expected).abs() < 1e-12,
            "progress at {now}: {got}, expected {expected}"
        );
    }
    assert!((calendar.progress(start, four_hours, deadline) - 1.0).abs() < 1e-9);
    // Natural limits count the night and the weekend.
    let natural = limit("4 natural_hours");
    assert_eq!(
        calendar.progress(start, natural, at("2026-03-10T22:00")),
        3.0
    );
}

#[test]
fn lights_and_overdue_multiple() {
    let cases = [
        (0.0, Light::Green),
        (0.79, Light::Green),
        (0.8, Light::Yellow),
        (0.95, Light::Yellow),
        (1.0, Light::Yellow),
        (1.01, Light::Red),
        (3.0, Light::Red),
    ];
    for (progress, expected) in cases {
        assert_eq!(Light::of(progress), expected, "light at {progress}");
    }
    assert_eq!(Light::Yellow.as_str(), "yellow");
    assert_eq!(overdue_multiple(0.5), 0.0);
    assert_eq!(overdue_multiple(1.0), 0.0);
    assert_eq!(overdue_multiple(1.5), 0.5);
    assert_eq!(overdue_multiple(3.0), 2.0);

    // The same through the calendar: 2.5 working hours over a 2-hour limit.
    let calendar = shanghai();
    let start = at("2026-03-10T09:00");
    let progress = calendar.progress(start, limit("2 working_hours"), at("2026-03-10T14:30"));
    assert_eq!(
        (Light::of(progress), overdue_multiple(progress)),
        (Light::Red, 1.0)
    );
}

#[test]
fn instant_at_marks_the_share_of_the_limit() {
    let calendar = shanghai();
    let four_hours = limit("4 working_hours");
    let start = at("2026-02-13T16:30");
    let warning = calendar.instant_at(start, four_hours, 0.8);
    // 3.2 working hours: 1 h on Friday, 2.2 h of the make-up Saturday's morning.
    assert_eq!(show(warning), "2026-02-14T11:12:00");
    let progress = calendar.progress(start, four_hours, warning);
    assert!((progress - 0.8).abs() < 1e-9);
    assert_eq!(Light::of(progress), Light::Yellow);
    assert_eq!(
        Light::of(calendar.progress(start, four_hours, warning - 1)),
        Light::Green
    );
    assert_eq!(
        calendar.instant_at(start, four_hours, 1.0),
        calendar.deadline(start, four_hours)
    );
    assert_eq!(calendar.instant_at(start, four_hours, 0.0), start);
    assert_eq!(calendar.instant_at(start, four_hours, -1.0), start);
    assert_eq!(
        show(calendar.instant_at(start, four_hours, 2.0)),
        "2026-02-14T17:30:00"
    );
    let natural = limit("30 natural_minutes");
    assert_eq!(
        calendar.instant_at(start, natural, 0.5),
        start + 15 * 60 * MICROS_PER_SECOND
    );
}

#[test]
fn working_seconds_between_counts_only_working_time() {
    let calendar = shanghai();
    let hours = |a: &str, b: &str| calendar.working_seconds_between(at(a), at(b)) as f64 / 3600.0;
    assert_eq!(hours("2026-03-10T08:00", "2026-03-10T18:00"), 7.0);
    assert_eq!(hours("2026-03-10T11:00", "2026-03-10T14:00"), 1.5);
    assert_eq!(hours("2026-03-10T18:00", "2026-03-10T08:00"), 0.0);
    assert_eq!(hours("2026-03-10T10:00", "2026-03-10T10:00"), 0.0);
    assert_eq!(hours("2026-03-13T00:00", "2026-03-17T00:00"), 14.0); // Friday + Monday
    assert_eq!(hours("2026-09-30T00:00", "2026-10-12T00:00"), 28.0); // 30th, 8th, 9th, 10th
    assert_eq!(hours("2026-02-13T00:00", "2026-03-02T00:00"), 7.0 * 7.0);
    let half_second = calendar
        .working_seconds_between(at("2026-03-10T10:00"), at("2026-03-10T10:00") + 1_500_000);
    assert_eq!(half_second, 1);
}

#[test]
fn overrides_can_be_set_and_cleared() {
    let mut calendar = WorkCalendar::shanghai(Vec::new());
    let monday = date(2030, 6, 3);
    let saturday = date(2030, 6, 8);
    assert!(calendar.is_working_day(monday) && !calendar.is_working_day(saturday));
    calendar.set_day(DayOverride {
        date: saturday,
        kind: DayKind::Workday,
        name: "test".into(),
    });
    calendar.set_day(DayOverride {
        date: monday,
        kind: DayKind::Holiday,
        name: "test".into(),
    });
    assert!(!calendar.is_working_day(monday) && calendar.is_working_day(saturday));
    let listed: Vec<Date> = calendar.overrides().map(|day| day.date).collect();
    assert_eq!(listed, [monday, saturday]);
    let start = at("2030-05-31T17:00"); // a Friday
    assert_eq!(
        show(calendar.deadline(start, limit("1 working_hours"))),
        "2030-06-04T09:30:00"
    );
    calendar.clear_day(monday);
    assert!(calendar.is_working_day(monday));
    assert_eq!(
        show(calendar.deadline(start, limit("1 working_hours"))),
        "2030-06-03T09:30:00"
    );
    // Replacing an override keeps one entry per date.
    calendar.set_day(DayOverride {
        date: saturday,
        kind: DayKind::Holiday,
        name: "again".into(),
    });
    assert_eq!(calendar.overrides().count(), 1);
    assert!(!calendar.is_working_day(saturday));
}

#[test]
fn time_units_and_limits_round_trip() {
    for unit in TimeUnit::ALL {
        assert_eq!(unit.as_str().parse::<TimeUnit>(), Ok(unit));
        assert_eq!(unit.to_string(), unit.as_str());
    }
    assert_eq!(
        limit("4 working_hours"),
        TimeLimit {
            amount: 4,
            unit: TimeUnit::WorkingHours
        }
    );
    assert_eq!(
        limit(" 30   natural_minutes "),
        TimeLimit::new(30, TimeUnit::NaturalMinutes)
    );
    assert_eq!(
        TimeLimit::new(3, TimeUnit::WorkingDays).to_string(),
        "3 working_days"
    );
    assert!(TimeUnit::WorkingDays.is_working() && !TimeUnit::NaturalDays.is_working());
    let errors = [
        (
            "4 hours",
            "`hours` is not a time unit: expected natural_minutes, natural_hours, natural_days, working_hours or working_days",
        ),
        (
            "0 working_hours",
            "`0 working_hours` is not a time limit: expected `<amount ≥ 1> <unit>`, e.g. `4 working_hours`",
        ),
        (
            "-1 working_hours",
            "`-1 working_hours` is not a time limit: expected `<amount ≥ 1> <unit>`, e.g. `4 working_hours`",
        ),
        (
            "4",
            "`4` is not a time limit: expected `<amount ≥ 1> <unit>`, e.g. `4 working_hours`",
        ),
        (
            "4 working_hours now",
            "`4 working_hours now` is not a time limit: expected `<amount ≥ 1> <unit>`, e.g. `4 working_hours`",
        ),
    ];
    for (text, message) in errors {
        let error = text.parse::<TimeLimit>().expect_err(text);
        assert_eq!(error.to_string(), message);
    }
}

#[test]
fn bad_override_data_is_named_by_line() {
    let header = "date,kind,name\n";
    let cases = [
        ("", "line 1: expected the header `date,kind,name`, found ``"),
        (
            "day,kind,name\n",
            "line 1: expected the header `date,kind,name`, found `day,kind,name`",
        ),
        (
            "date,kind,name\n2026-10-01,holiday\n",
            "line 2: expected 3 fields `date,kind,name`, found 2 in `2026-10-01,holiday`",
        ),
        (
            "date,kind,name\n2026-10-01,holiday,国庆节\n\n2026-13-01,holiday,x\n",
            "line 4: `2026-13-01` is not a date: expected YYYY-MM-DD",
        ),
        (
            "date,kind,name\n2026-2-1,holiday,x\n",
            "line 2: `2026-2-1` is not a date: expected YYYY-MM-DD",
        ),
        (
            "date,kind,name\n20261001,holiday,x\n",
            "line 2: `20261001` is not a date: expected YYYY-MM-DD",
        ),
        (
            "date,kind,name\n2026-10-01,Holiday,x\n",
            "line 2: `Holiday` is not a day kind: expected `holiday` or `workday`",
        ),
        (
            "date,kind,name\n2026-10-01,holiday, \n",
            "line 2: the name is empty",
        ),
        (
            "date,kind,name\n2026-10-01,holiday,a\n2026-10-02,holiday,a\n2026-10-01,workday,b\n",
            "line 4: 2026-10-01 is listed again (first on line 2)",
        ),
    ];
    for (text, message) in cases {
        let error = WorkCalendar::parse_overrides(text).expect_err(text);
        assert_eq!(error.to_string(), message, "for {text:?}");
    }
    assert!(matches!(
        WorkCalendar::parse_overrides("date,kind,name\n2026-02-30,holiday,x"),
        Err(CalendarError::BadDate { line: 2, .. })
    ));
    // A byte-order mark, CRLF line ends and blank lines are accepted.
    let days = WorkCalendar::parse_overrides(
        "\u{feff}date,kind,name\r\n\r\n2026-10-10,workday,国庆节\r\n",
    )
    .unwrap();
    assert_eq!(
        days,
        [DayOverride {
            date: date(2026, 10, 10),
            kind: DayKind::Workday,
            name: "国庆节".into()
        }]
    );
    assert_eq!(WorkCalendar::parse_overrides(header).unwrap(), []);
}

#[test]
fn bad_calendars_are_refused() {
    let t = |hour, minute| Time::constant(hour, minute, 0, 0);
    type Windows = Vec<(Time, Time)>;
    let cases: [(&str, Windows, &str); 5] = [
        (
            "Asia/Shanghia",
            vec![(t(9, 0), t(12, 0))],
            "unknown time zone `Asia/Shanghia`: expected an IANA name such as `Asia/Shanghai`",
        ),
        (
            "Asia/Shanghai",
            vec![],
            "a working calendar needs at least one working window",
        ),
        (
            "Asia/Shanghai",
            vec![(t(9, 0), t(12, 0)), (t(14, 0), t(14, 0))],
            "working window 1 (14:00:00–14:00:00) must start before it ends",
        ),
        (
            "Asia/Shanghai",
            vec![(t(9, 0), t(12, 0)), (t(11, 30), t(17, 0))],
            "working window 1 (11:30:00–17:00:00) starts before window 0 ends at 12:00:00: windows must be sorted and must not overlap",
        ),
        (
            "Asia/Shanghai",
            vec![(t(13, 0), t(17, 0)), (t(9, 0), t(12, 0))],
            "working window 1 (09:00:00–12:00:00) starts before window 0 ends at 17:00:00: windows must be sorted and must not overlap",
        ),
    ];
    for (zone, windows, message) in cases {
        let error = WorkCalendar::new(zone, &windows, Vec::new()).expect_err(message);
        assert_eq!(error.to_string(), message);
    }
    // Touching windows are fine: 09:00–12:00 then 12:00–13:00 is one long morning.
    let touching = WorkCalendar::new(
        "Asia/Shanghai",
        &[(t(9, 0), t(12, 0)), (t(12, 0), t(13, 0))],
        Vec::new(),
    )
    .unwrap();
    assert_eq!(touching.working_minutes_per_day(), 240);
    assert_eq!(
        show(touching.deadline(at("2026-03-10T11:00"), limit("2 working_hours"))),
        "2026-03-10T13:00:00"
    );
}

#[test]
fn windows_follow_the_local_clock_of_the_time_zone() {
    let t = |hour| Time::constant(hour, 0, 0, 0);
    let berlin = WorkCalendar::new("Europe/Berlin", &[(t(9), t(17))], Vec::new()).unwrap();
    let utc = |text: &str| text.parse::<Timestamp>().unwrap().as_microsecond();
    // Friday 16:00 CET; summer time starts on Sunday 29 March 2026; Monday 10:00 is CEST.
    let start = utc("2026-03-27T15:00Z");
    let deadline = berlin.deadline(start, limit("2 working_hours"));
    assert_eq!(deadline, utc("2026-03-30T08:00Z"));
    assert_eq!(berlin.working_seconds_between(start, deadline), 2 * 3600);
    // Offsets keep changing in Berlin, so long limits walk every day; they must still agree.
    let long = limit("400 working_days");
    let far = berlin.deadline(start, long);
    assert!((berlin.progress(start, long, far) - 1.0).abs() < 1e-12);
}

#[test]
fn long_limits_skip_regular_weeks_correctly() {
    let calendar = shanghai();
    // After the last published override (2026) only the default week applies: 300 working days
    // from a Monday opening are exactly 60 weeks, ending on a Friday's close.
    let start = at("2027-01-04T09:00");
    assert_eq!(
        show(calendar.deadline(start, limit("300 working_days"))),
        "2028-02-25T17:30:00"
    );
    // 2027 has 261 weekdays.
    assert_eq!(
        calendar.working_seconds_between(at("2027-01-01T00:00"), at("2028-01-01T00:00")),
        261 * 7 * 3600
    );
    // The same calendar with one more override far ahead (a Saturday holiday, which changes no
    // working time) cannot skip weeks before it, and must give the same answers.
    let mut walking = shanghai();
    walking.set_day(DayOverride {
        date: date(2100, 1, 2),
        kind: DayKind::Holiday,
        name: "guard".into(),
    });
    for (start, amount) in [
        ("2026-12-30T11:00", 9),
        ("2025-06-03T14:00", 700),
        ("2027-03-06T08:00", 1234),
    ] {
        for unit in [TimeUnit::WorkingDays, TimeUnit::WorkingHours] {
            let long = TimeLimit::new(amount, unit);
            let fast = calendar.deadline(at(start), long);
            assert_eq!(
                show(fast),
                show(walking.deadline(at(start), long)),
                "{long} from {start}"
            );
            assert_eq!(
                calendar.working_seconds_between(at(start), fast),
                walking.working_seconds_between(at(start), fast)
            );
            assert!((calendar.progress(at(start), long, fast) - 1.0).abs() < 1e-12);
        }
    }
    // Absurd limits end at the edge of the representable range instead of looping.
    let start = at("2026-03-10T10:00");
    let huge = TimeLimit::new(u32::MAX, TimeUnit::WorkingDays);
    assert_eq!(
        calendar.deadline(start, huge),
        Timestamp::MAX.as_second() * MICROS_PER_SECOND
    );
    assert!(calendar.progress(start, huge, at("2036-03-10T10:00")) > 0.0);
    assert_eq!(
        calendar.deadline(start, TimeLimit::new(u32::MAX, TimeUnit::NaturalDays)),
        i64::MAX
    );
    assert_eq!(
        calendar.deadline(i64::MAX, limit("1 working_hours")),
        i64::MAX
    );
    // A start before the representable range counts from its first working window.
    let ancient = calendar.deadline(i64::MIN, limit("1 working_hours"));
    assert!(
        ancient > i64::MIN
            && ancient < Timestamp::MIN.as_second() * MICROS_PER_SECOND + 2 * MICROS_PER_DAY
    );
}

#[test]
fn deadline_properties_hold_over_many_starts_and_limits() {
    let calendar = shanghai();
    let mut limits = Vec::new();
    for amount in [1, 2, 3, 4, 7, 8, 13, 24, 40] {
        limits.push(TimeLimit::new(amount, TimeUnit::WorkingHours));
    }
    for amount in [1, 2, 3, 5, 10, 20] {
        limits.push(TimeLimit::new(amount, TimeUnit::WorkingDays));
    }
    for (amount, unit) in [
        (30, TimeUnit::NaturalMinutes),
        (4, TimeUnit::NaturalHours),
        (3, TimeUnit::NaturalDays),
    ] {
        limits.push(TimeLimit::new(amount, unit));
    }
    // Starts spread over 2025-2027 at irregular minutes and seconds, covering nights, lunch
    // breaks, weekends, holidays and make-up days.
    let first = at("2024-12-20T00:00");
    let starts = (0..400_i64)
        .map(|k| first + k * (3 * MICROS_PER_HOUR + 7 * 60_000_000 + 13 * MICROS_PER_SECOND) * 7);
    for start in starts {
        for &time_limit in &limits {
            let deadline = calendar.deadline(start, time_limit);
            let context = format!("{time_limit} from {}", show(start));
            assert!(deadline >= start, "{context}: deadline before start");
            let progress = calendar.progress(start, time_limit, deadline);
            assert!(
                (progress - 1.0).abs() < 1e-12,
                "{context}: progress at deadline {progress}"
            );
            assert_eq!(
                calendar.instant_at(start, time_limit, 1.0),
                deadline,
                "{context}"
            );
            let warning = calendar.instant_at(start, time_limit, 0.8);
            let at_warning = calendar.progress(start, time_limit, warning);
            assert!(
                warning <= deadline && (at_warning - 0.8).abs() < 1e-9,
                "{context}: {at_warning}"
            );
            let longer = TimeLimit::new(time_limit.amount + 1, time_limit.unit);
            assert!(
                calendar.deadline(start, longer) > deadline,
                "{context}: not monotonic in amount"
            );
            for delay in [1, 17 * 60 * MICROS_PER_SECOND, 5 * MICROS_PER_HOUR] {
                assert!(
                    calendar.deadline(start + delay, time_limit) >= deadline,
                    "{context}: not monotonic in start"
                );
            }
            if time_limit.unit.is_working() {
                let day = TimeZone::fixed(offset(8))
                    .to_datetime(Timestamp::from_microsecond(deadline).unwrap())
                    .date();
                assert!(
                    calendar.is_working_day(day),
                    "{context}: deadline on a day off"
                );
                assert_eq!(
                    calendar.working_seconds_between(deadline - MICROS_PER_SECOND, deadline),
                    1,
                    "{context}: the second before the deadline is not working time"
                );
                let middle = start + (deadline - start) / 2 / MICROS_PER_SECOND * MICROS_PER_SECOND;
                assert_eq!(
                    calendar.working_seconds_between(start, middle)
                        + calendar.working_seconds_between(middle, deadline),
                    calendar.working_seconds_between(start, deadline),
                    "{context}: working time is not additive"
                );
            } else {
                assert_eq!(
                    deadline - start,
                    calendar.deadline(0, time_limit),
                    "{context}"
                );
            }
        }
    }
}
