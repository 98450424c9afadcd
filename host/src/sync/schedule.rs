//! When a config syncs next: every `sync_interval_hours`, or by a five-field cron expression
//! (`0 1 * * *`: every day at 1 AM, Percolate's daily sync) in an optional time zone. After a
//! run with failures the next try comes sooner, backing off, but never later than the schedule.

use chrono::{DateTime, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

/// A config's schedule.
#[derive(Debug, Clone)]
pub enum Schedule {
    /// Every so many hours after the last run.
    Interval {
        /// Hours between runs (at least 1).
        hours: i32,
    },
    /// At the times a cron expression names, read in a time zone.
    Cron {
        /// The parsed expression.
        cron: Box<Cron>,
        /// The zone its hours are in.
        zone: chrono_tz::Tz,
    },
}

/// A schedule that cannot be used, with the reason.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    /// The cron expression does not parse.
    #[error(
        "the schedule `{expression}` is not a five-field cron expression (minute hour \
         day-of-month month day-of-week, e.g. `0 1 * * *` for every day at 1 AM): {reason}"
    )]
    Cron {
        /// What was given.
        expression: String,
        /// Why it was refused.
        reason: String,
    },
    /// The time zone is unknown.
    #[error(
        "the time zone `{0}` is unknown; use an IANA name such as `UTC`, `Europe/Berlin` or \
         `America/New_York`"
    )]
    Zone(String),
    /// The interval is not positive.
    #[error("the sync interval must be at least 1 hour, not {0}")]
    Interval(i32),
    /// The expression never fires.
    #[error("the schedule `{0}` never fires (no such date)")]
    Never(String),
}

impl Schedule {
    /// The schedule of a config: its cron expression (with its zone, UTC by default) when it
    /// has one, else its interval.
    pub fn new(
        cron: Option<&str>,
        zone: Option<&str>,
        interval_hours: i32,
    ) -> Result<Self, ScheduleError> {
        let zone = match zone.map(str::trim).filter(|z| !z.is_empty()) {
            None => chrono_tz::UTC,
            Some(name) => name
                .parse::<chrono_tz::Tz>()
                .map_err(|_| ScheduleError::Zone(name.to_string()))?,
        };
        match cron.map(str::trim).filter(|c| !c.is_empty()) {
            Some(expression) => {
                let parser = CronParser::builder()
                    .seconds(Seconds::Disallowed)
                    .year(Year::Disallowed)
                    .build();
                let cron = parser.parse(expression).map_err(|e| ScheduleError::Cron {
                    expression: expression.to_string(),
                    reason: e.to_string(),
                })?;
                let schedule = Schedule::Cron {
                    cron: Box::new(cron),
                    zone,
                };
                // `0 0 31 2 *` parses but never comes: refuse it now, not at the first run.
                if schedule.next_after(Utc::now()).is_none() {
                    return Err(ScheduleError::Never(expression.to_string()));
                }
                Ok(schedule)
            }
            None if interval_hours < 1 => Err(ScheduleError::Interval(interval_hours)),
            None => Ok(Schedule::Interval {
                hours: interval_hours,
            }),
        }
    }

    /// The first scheduled time after `t`, or `None` when the expression never fires again.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Schedule::Interval { hours } => Some(t + chrono::Duration::hours(i64::from(*hours))),
            Schedule::Cron { cron, zone } => cron
                .find_next_occurrence(&t.with_timezone(zone), false)
                .ok()
                .map(|next| next.with_timezone(&Utc)),
        }
    }

    /// When to run next after a run that ended at `now`. `failures` counts the runs in a row,
    /// this one included, that had failures: each gets a sooner retry (5 minutes, doubling,
    /// at most 6 hours), never later than the schedule itself.
    pub fn next_run(&self, now: DateTime<Utc>, failures: u32) -> Option<DateTime<Utc>> {
        let scheduled = self.next_after(now);
        if failures == 0 {
            return scheduled;
        }
        let minutes = (5i64 << (failures - 1).min(10)).min(6 * 60);
        let retry = now + chrono::Duration::minutes(minutes);
        Some(scheduled.map_or(retry, |s| s.min(retry)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    #[test]
    fn daily_at_one_in_utc_and_in_a_zone() {
        let s = Schedule::new(Some("0 1 * * *"), None, 24).unwrap();
        assert_eq!(
            s.next_after(at(2026, 11, 26, 0, 30)),
            Some(at(2026, 11, 26, 1, 0))
        );
        assert_eq!(
            s.next_after(at(2026, 11, 26, 1, 0)),
            Some(at(2026, 11, 27, 1, 0)),
            "strictly after"
        );
        // 1 AM in Berlin is midnight UTC in winter, 23:00 UTC the day before in summer.
        let berlin = Schedule::new(Some("0 1 * * *"), Some("Europe/Berlin"), 24).unwrap();
        assert_eq!(
            berlin.next_after(at(2026, 11, 26, 12, 0)),
            Some(at(2026, 11, 27, 0, 0))
        );
        assert_eq!(
            berlin.next_after(at(2026, 7, 1, 12, 0)),
            Some(at(2026, 7, 1, 23, 0))
        );
    }

    #[test]
    fn interval_when_there_is_no_expression() {
        let s = Schedule::new(None, None, 6).unwrap();
        assert_eq!(
            s.next_after(at(2026, 1, 1, 0, 0)),
            Some(at(2026, 1, 1, 6, 0))
        );
        assert!(matches!(
            Schedule::new(Some("  "), None, 0),
            Err(ScheduleError::Interval(0))
        ));
    }

    #[test]
    fn refuses_bad_input_with_the_reason() {
        for (cron, zone, says) in [
            (Some("0 1 * *"), None, "five-field"),
            (Some("61 1 * * *"), None, "five-field"),
            (Some("0 0 1 * * *"), None, "five-field"),
            (Some("0 1 * * *"), Some("Mars/Olympus"), "Mars/Olympus"),
            (Some("0 0 31 2 *"), None, "never fires"),
        ] {
            let e = Schedule::new(cron, zone, 24).unwrap_err().to_string();
            assert!(e.contains(says), "{cron:?} {zone:?}: {e}");
        }
    }

    #[test]
    fn failures_retry_sooner_with_backoff_but_not_past_the_schedule() {
        let daily = Schedule::new(Some("0 1 * * *"), None, 24).unwrap();
        let now = at(2026, 11, 26, 2, 0);
        assert_eq!(daily.next_run(now, 0), Some(at(2026, 11, 27, 1, 0)));
        assert_eq!(daily.next_run(now, 1), Some(at(2026, 11, 26, 2, 5)));
        assert_eq!(daily.next_run(now, 3), Some(at(2026, 11, 26, 2, 20)));
        assert_eq!(daily.next_run(now, 30), Some(at(2026, 11, 26, 8, 0)));
        // Just before the scheduled time, the schedule wins.
        let late = at(2026, 11, 27, 0, 58);
        assert_eq!(daily.next_run(late, 1), Some(at(2026, 11, 27, 1, 0)));
    }
}
