//! IMF-fixdate (RFC 9110 5.6.7) for the Date and Last-Modified fields.
//!
//! The service never reads a clock: the wall-clock second comes from the
//! monotonic `now` plus the offset the worker measured once at start.

//= https://www.rfc-editor.org/rfc/rfc9110#section-5.6.7
//# IMF-fixdate  = day-name "," SP date1 SP time-of-day SP GMT
pub const HTTP_DATE_LEN: usize = 29;

const DAYS: [&[u8; 3]; 7] = [b"Sun", b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat"];
const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// (year, month 1-12, day 1-31) of a day count since 1970-01-01
/// (the proleptic Gregorian "civil from days" conversion).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn two(out: &mut [u8], v: u32) {
    out[0] = b'0' + (v / 10 % 10) as u8;
    out[1] = b'0' + (v % 10) as u8;
}

/// Format seconds since the Unix epoch, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
/// Years past 9999 are clamped (the format has four digits).
pub fn format(unix_secs: u64) -> [u8; HTTP_DATE_LEN] {
    let unix_secs = unix_secs.min(253_402_300_799); // 9999-12-31T23:59:59
    let days = (unix_secs / 86_400) as i64;
    let secs = (unix_secs % 86_400) as u32;
    let (y, m, d) = civil_from_days(days);
    let mut out = *b"Thu, 01 Jan 1970 00:00:00 GMT";
    out[..3].copy_from_slice(DAYS[((days + 4) % 7) as usize]);
    two(&mut out[5..7], d);
    out[8..11].copy_from_slice(MONTHS[(m - 1) as usize]);
    let y = y as u32;
    two(&mut out[12..14], y / 100);
    two(&mut out[14..16], y % 100);
    two(&mut out[17..19], secs / 3600);
    two(&mut out[20..22], secs / 60 % 60);
    two(&mut out[23..25], secs % 60);
    out
}

/// Days since 1970-01-01 of a proleptic Gregorian date (the inverse of
/// `civil_from_days`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn month(name: &str) -> Option<u32> {
    let i = MONTHS.iter().position(|m| m[..] == *name.as_bytes())?;
    Some(i as u32 + 1)
}

fn number(s: &str, digits: usize) -> Option<u32> {
    if s.len() != digits || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// "08:49:37" as seconds of the day.
fn time_of_day(s: &str) -> Option<u64> {
    let mut it = s.split(':');
    let (h, m, sec) = (it.next()?, it.next()?, it.next()?);
    if it.next().is_some() {
        return None;
    }
    let (h, m, sec) = (number(h, 2)?, number(m, 2)?, number(sec, 2)?);
    //= https://www.rfc-editor.org/rfc/rfc9110#section-5.6.7
    //# second       = 2DIGIT
    // 60 is a leap second; 23:59:60 counts as the next day's first second.
    if h > 23 || m > 59 || sec > 60 {
        return None;
    }
    Some(u64::from(h) * 3600 + u64::from(m) * 60 + u64::from(sec))
}

fn to_unix(y: i64, m: u32, d: u32, secs: u64) -> Option<u64> {
    let days_in_month = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => return None,
    };
    if d == 0 || d > days_in_month || y < 1970 {
        return None;
    }
    let days = u64::try_from(days_from_civil(y, m, d)).ok()?;
    Some(days * 86_400 + secs)
}

/// Exactly `N` words, no more.
fn take<'a, const N: usize>(words: &mut impl Iterator<Item = &'a str>) -> Option<[&'a str; N]> {
    let mut out = [""; N];
    for w in &mut out {
        *w = words.next()?;
    }
    words.next().is_none().then_some(out)
}

/// Parse an HTTP-date in any of its three formats into seconds since the
/// Unix epoch; `now_secs` resolves the two-digit years of rfc850-date.
/// Dates before 1970 are None (no object of ours is that old).
//= https://www.rfc-editor.org/rfc/rfc9110#section-5.6.7
//# A recipient that parses a timestamp value in an HTTP field MUST
//# accept all three HTTP-date formats.
pub fn parse(s: &str, now_secs: u64) -> Option<u64> {
    let s = s.trim_matches([' ', '\t']);
    let (_day_name, rest) = s.split_once([',', ' '])?;
    let mut words = rest.split(' ').filter(|p| !p.is_empty());
    if s.as_bytes().get(3) == Some(&b',') {
        // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
        let [d, m, y, t, "GMT"] = take(&mut words)? else {
            return None;
        };
        let y = number(y, 4)?;
        return to_unix(i64::from(y), month(m)?, number(d, 2)?, time_of_day(t)?);
    }
    if s.as_bytes().get(3) == Some(&b' ') {
        // asctime-date: Sun Nov  6 08:49:37 1994
        let [m, d, t, y] = take(&mut words)?;
        let d = if d.len() == 1 {
            number(d, 1)?
        } else {
            number(d, 2)?
        };
        return to_unix(i64::from(number(y, 4)?), month(m)?, d, time_of_day(t)?);
    }
    // rfc850-date: Sunday, 06-Nov-94 08:49:37 GMT
    let [dmy, t, "GMT"] = take(&mut words)? else {
        return None;
    };
    let mut it = dmy.split('-');
    let (d, m, yy) = (it.next()?, it.next()?, it.next()?);
    if it.next().is_some() {
        return None;
    }
    let yy = i64::from(number(yy, 2)?);
    //= https://www.rfc-editor.org/rfc/rfc9110#section-5.6.7
    //# Recipients of a timestamp value in rfc850-date format, which uses a
    //# two-digit year, MUST interpret a timestamp that appears to be more
    //# than 50 years in the future as representing the most recent year in
    //# the past that had the same last two digits.
    let (this_year, _, _) = civil_from_days((now_secs / 86_400) as i64);
    let mut y = this_year - this_year.rem_euclid(100) + yy;
    if y > this_year + 50 {
        y -= 100;
    }
    to_unix(y, month(m)?, number(d, 2)?, time_of_day(t)?)
}

/// The formatted date of the current second, recomputed once a second.
#[derive(Debug, Default)]
pub struct DateCache {
    secs: Option<u64>,
    text: [u8; HTTP_DATE_LEN],
}

impl DateCache {
    pub fn get(&mut self, unix_secs: u64) -> &[u8; HTTP_DATE_LEN] {
        if self.secs != Some(unix_secs) {
            self.secs = Some(unix_secs);
            self.text = format(unix_secs);
        }
        &self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_known_dates_match_rfc_examples() {
        assert_eq!(&format(0), b"Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(&format(784_111_777), b"Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(&format(951_782_400), b"Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(&format(1_795_000_000), b"Wed, 18 Nov 2026 11:06:40 GMT");
        assert_eq!(&format(u64::MAX), b"Fri, 31 Dec 9999 23:59:59 GMT");
    }

    #[test]
    fn parse_accepts_the_three_formats_of_the_rfc_example() {
        let now = 1_700_000_000; // 2023
        for s in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
            " Sun, 06 Nov 1994 08:49:37 GMT ",
        ] {
            assert_eq!(parse(s, now), Some(784_111_777), "{s}");
        }
        assert_eq!(
            parse("Wednesday, 18-Nov-26 11:06:40 GMT", now),
            Some(1_795_000_000)
        );
    }

    #[test]
    fn parse_round_trips_format() {
        for t in [0, 951_782_400, 1_000_000_000, 1_795_000_000, 4_102_444_800] {
            let s = format(t);
            assert_eq!(parse(std::str::from_utf8(&s).unwrap(), 0), Some(t));
        }
    }

    #[test]
    fn parse_rejects_what_is_not_an_http_date() {
        for s in [
            "",
            "yesterday",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 6 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 94 08:49:37 GMT",
            "Sun, 31 Feb 1994 08:49:37 GMT",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sun, 06 Nov 1994 08:49 GMT",
            "Sun, 06 Nov 1994 08:49:37 GMT, Mon, 07 Nov 1994 08:49:37 GMT",
            "\"etag\"",
        ] {
            assert_eq!(parse(s, 1_700_000_000), None, "{s}");
        }
    }
}
