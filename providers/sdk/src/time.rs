//! Conversions into the contract's `timestamp`: from a `SystemTime`, Unix seconds, or an RFC 3339
//! text (what most JSON APIs send), without a date library.

use crate::types::Timestamp;
use std::time::{SystemTime, UNIX_EPOCH};

/// A `SystemTime` as a contract timestamp (times before 1970 are negative).
pub fn from_system_time(time: SystemTime) -> Timestamp {
    match time.duration_since(UNIX_EPOCH) {
        Ok(d) => Timestamp {
            seconds: d.as_secs() as i64,
            nanoseconds: d.subsec_nanos(),
        },
        Err(e) => {
            let d = e.duration();
            if d.subsec_nanos() == 0 {
                Timestamp {
                    seconds: -(d.as_secs() as i64),
                    nanoseconds: 0,
                }
            } else {
                Timestamp {
                    seconds: -(d.as_secs() as i64) - 1,
                    nanoseconds: 1_000_000_000 - d.subsec_nanos(),
                }
            }
        }
    }
}

/// Unix milliseconds (what some services send) as a timestamp.
pub fn from_unix_millis(millis: i64) -> Timestamp {
    Timestamp {
        seconds: millis.div_euclid(1000),
        nanoseconds: (millis.rem_euclid(1000) as u32) * 1_000_000,
    }
}

/// Parse an RFC 3339 date-time (`2024-05-01T12:34:56.789Z`, `2024-05-01T14:34:56+02:00`);
/// `None` when the text is not one. A leap second counts as the next second.
pub fn parse_rfc3339(text: &str) -> Option<Timestamp> {
    let b = text.trim().as_bytes();
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let digits = b.get(range)?;
        if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(digits).ok()?.parse().ok()
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if b.get(4) != Some(&b'-')
        || b.get(7) != Some(&b'-')
        || !matches!(b.get(10), Some(b'T' | b't' | b' '))
        || b.get(13) != Some(&b':')
        || b.get(16) != Some(&b':')
        || !(1..=12).contains(&month)
        || !(1..=days_in_month(year, month)).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut pos = 19;
    let mut nanos: u32 = 0;
    if b.get(pos) == Some(&b'.') {
        pos += 1;
        let start = pos;
        while b.get(pos).is_some_and(u8::is_ascii_digit) {
            if pos - start < 9 {
                nanos = nanos * 10 + u32::from(b[pos] - b'0');
            }
            pos += 1;
        }
        let digits = pos - start;
        if digits == 0 {
            return None;
        }
        for _ in digits..9 {
            nanos *= 10;
        }
    }
    let offset = match b.get(pos)? {
        b'Z' | b'z' if pos + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if pos + 6 == b.len() && b[pos + 3] == b':' => {
            let (h, m) = (num(pos + 1..pos + 3)?, num(pos + 4..pos + 6)?);
            if h > 23 || m > 59 {
                return None;
            }
            if *sign == b'-' {
                -(h * 3600 + m * 60)
            } else {
                h * 3600 + m * 60
            }
        }
        _ => return None,
    };
    Some(Timestamp {
        seconds: days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
            - offset,
        nanoseconds: nanos,
    })
}

fn days_in_month(year: i64, month: i64) -> i64 {
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Option<(i64, u32)> {
        parse_rfc3339(text).map(|t| (t.seconds, t.nanoseconds))
    }

    #[test]
    fn parses_rfc3339() {
        assert_eq!(parsed("1970-01-01T00:00:00Z"), Some((0, 0)));
        assert_eq!(
            parsed("2024-05-01T12:34:56.789Z"),
            Some((1_714_566_896, 789_000_000))
        );
        assert_eq!(
            parsed("2024-05-01T14:34:56+02:00"),
            Some((1_714_566_896, 0))
        );
        assert_eq!(
            parsed("2024-02-29T00:00:00.123456789123Z"),
            Some((1_709_164_800, 123_456_789))
        );
        assert_eq!(parsed("1969-12-31T23:59:59Z"), Some((-1, 0)));
    }

    #[test]
    fn refuses_what_is_not_rfc3339() {
        for bad in [
            "",
            "2024-05-01",
            "2023-02-29T00:00:00Z",
            "2024-05-01T12:34:56",
            "2024-05-01T12:34:56.Z",
            "2024-13-01T00:00:00Z",
            "2024-05-01T12:34:56+0200",
            "x024-05-01T12:34:56Z",
        ] {
            assert_eq!(parsed(bad), None, "{bad}");
        }
    }

    #[test]
    fn parses_the_times_providers_see() {
        // Google Drive and OneDrive: fractions of any length, offsets, before the epoch.
        assert_eq!(
            parsed("2024-02-29T00:00:00+01:00"),
            Some((1_709_161_200, 0))
        );
        assert_eq!(parsed("1969-12-31T23:59:59.5Z"), Some((-1, 500_000_000)));
        assert_eq!(
            parsed("2000-01-01T00:00:00.1234567891Z"),
            Some((946_684_800, 123_456_789))
        );
        // Dropbox: whole seconds in UTC.
        assert_eq!(parsed("2015-05-12T15:50:38Z"), Some((1_431_445_838, 0)));
        assert_eq!(parsed("1970-01-01T00:00:01.5Z"), Some((1, 500_000_000)));
        assert_eq!(
            parsed("2024-02-29T01:00:00+01:00"),
            Some((1_709_164_800, 0))
        );
    }

    #[test]
    fn refuses_more_that_is_not_rfc3339() {
        for bad in [
            "yesterday",
            "x",
            "2024-02-30T00:00:00Z",
            "2024-01-01T25:00:00Z",
            "2015-13-12T15:50:38Z",
            "2015-05-12T15:50:38",
            "２０２４-01-01T00:00:00Z",
        ] {
            assert_eq!(parsed(bad), None, "{bad}");
        }
    }

    #[test]
    fn converts_millis_before_and_after_the_epoch() {
        let t = from_unix_millis(1_500);
        assert_eq!((t.seconds, t.nanoseconds), (1, 500_000_000));
        let t = from_unix_millis(-1);
        assert_eq!((t.seconds, t.nanoseconds), (-1, 999_000_000));
    }
}
