//! Dropbox's timestamps (`2015-05-12T15:50:38Z`, RFC 3339 in UTC) as contract timestamps.

use p8sync_provider_sdk::types::Timestamp;

/// Parse `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`; `None` when it is not that.
pub fn parse(text: &str) -> Option<Timestamp> {
    let t = text.trim();
    let b = t.as_bytes();
    let digits = |from: usize, len: usize| -> Option<i64> {
        let s = t.get(from..from + len)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (year, month, day) = (digits(0, 4)?, digits(5, 2)?, digits(8, 2)?);
    let (hour, minute, second) = (digits(11, 2)?, digits(14, 2)?, digits(17, 2)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    if second > 60 {
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
        if pos == start {
            return None;
        }
        for _ in (pos - start).min(9)..9 {
            nanos *= 10;
        }
    }
    let offset = match &t[pos..] {
        "Z" | "z" => 0,
        rest if rest.len() == 6 && rest.as_bytes()[3] == b':' => {
            let sign = match rest.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            sign * (digits(pos + 1, 2)? * 3600 + digits(pos + 4, 2)? * 60)
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second.min(59) - offset;
    Some(Timestamp {
        seconds,
        nanoseconds: nanos,
    })
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dropbox_times() {
        let t = parse("2015-05-12T15:50:38Z").unwrap();
        assert_eq!((t.seconds, t.nanoseconds), (1_431_445_838, 0));
        let t = parse("1970-01-01T00:00:01.5Z").unwrap();
        assert_eq!((t.seconds, t.nanoseconds), (1, 500_000_000));
        let t = parse("2024-02-29T01:00:00+01:00").unwrap();
        assert_eq!(t.seconds, 1_709_164_800);
        for bad in [
            "",
            "2015-05-12",
            "2015-13-12T15:50:38Z",
            "2015-05-12T15:50:38",
            "x",
        ] {
            assert!(parse(bad).is_none(), "{bad}");
        }
    }
}
