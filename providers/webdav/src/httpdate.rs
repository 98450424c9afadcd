//! HTTP dates (`getlastmodified`, `Retry-After`) as contract timestamps, without a date
//! library. RFC 9110 requires IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) and allows the
//! obsolete RFC 850 (`Sunday, 06-Nov-94 08:49:37 GMT`) and asctime (`Sun Nov  6 08:49:37
//! 1994`) forms; all three are read by picking out the day, month, year and time.

use p8sync_provider_sdk::types::Timestamp;

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

/// Parse an HTTP date (always UTC); `None` when it is not one.
pub fn parse(text: &str) -> Option<Timestamp> {
    let mut day = None;
    let mut month = None;
    let mut year = None;
    let mut time = None;
    for token in text.split([' ', ',', '-']).filter(|t| !t.is_empty()) {
        let lower = token.to_ascii_lowercase();
        if token.contains(':') {
            let parts: Vec<u32> = token
                .split(':')
                .map(|p| p.parse().ok())
                .collect::<Option<_>>()?;
            let [h, m, s] = parts[..] else { return None };
            time = Some((h, m, s));
        } else if let Some(i) = MONTHS.iter().position(|m| lower.starts_with(m)) {
            month = Some(i as u32 + 1);
        } else if token.bytes().all(|b| b.is_ascii_digit()) {
            let n: i64 = token.parse().ok()?;
            if token.len() >= 4 {
                year = Some(n);
            } else if day.is_none() {
                day = Some(n as u32);
            } else {
                // RFC 850's two-digit year: RFC 9110 says to read it as within 50 years.
                year = Some(if n < 70 { 2000 + n } else { 1900 + n });
            }
        }
    }
    let (day, month, year, (h, m, s)) = (day?, month?, year?, time?);
    if !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(Timestamp {
        seconds: days * 86_400 + i64::from(h * 3600 + m * 60 + s),
        nanoseconds: 0,
    })
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_forms() {
        let secs = |t: &str| parse(t).map(|t| (t.seconds, t.nanoseconds));
        let want = Some((784_111_777, 0));
        assert_eq!(secs("Sun, 06 Nov 1994 08:49:37 GMT"), want);
        assert_eq!(secs("Sunday, 06-Nov-94 08:49:37 GMT"), want);
        assert_eq!(secs("Sun Nov  6 08:49:37 1994"), want);
        assert_eq!(
            parse("Thu, 29 Feb 2024 00:00:00 GMT").unwrap().seconds,
            1_709_164_800
        );
        assert_eq!(secs("yesterday"), None);
        assert_eq!(secs("Sun, 06 Nov 1994 25:49:37 GMT"), None);
    }
}
