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
}
