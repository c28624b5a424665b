//! Time as the switch writes it: milliseconds since the Unix epoch inside, ISO 8601 UTC in
//! messages. The core never reads the clock; the runtime passes `now_ms` in.

/// ISO 8601 date-time in UTC with milliseconds, e.g. `2026-11-23T19:34:44.120Z`.
pub fn iso_datetime(ms: u64) -> String {
    let secs = ms / 1000;
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60,
        ms % 1000
    )
}

/// ISO 8601 date in UTC, e.g. `2026-11-23`.
pub fn iso_date(ms: u64) -> String {
    let (y, m, d) = civil_from_days((ms / 86_400_000) as i64);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Milliseconds since the Unix epoch of an ISO 8601 date-time as ISO 20022 carries it
/// (`2026-11-23T19:34:44`, optional fraction, optional `Z` or `+hh:mm` / `-hh:mm`; without
/// an offset it is read as UTC). `None` if it is not one or lies before 1970.
pub fn parse_iso_datetime_ms(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let part = b.get(from..from + len)?;
        part.iter().try_fold(0i64, |n, c| c.is_ascii_digit().then(|| n * 10 + i64::from(c - b'0')))
    };
    let seps = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if seps.iter().any(|(i, c)| b.get(*i) != Some(c)) {
        return None;
    }
    let (y, mo, d) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (h, mi, sec) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut at = 19;
    let mut ms = 0i64;
    if b.get(at) == Some(&b'.') {
        at += 1;
        let start = at;
        while b.get(at).is_some_and(u8::is_ascii_digit) {
            if at - start < 3 {
                ms = ms * 10 + i64::from(b.get(at).copied().unwrap_or(b'0') - b'0');
            }
            at += 1;
        }
        if at == start {
            return None;
        }
        for _ in (at - start)..3 {
            ms *= 10;
        }
    }
    let offset_min = match b.get(at..) {
        Some([]) | Some([b'Z']) => 0,
        Some([sign @ (b'+' | b'-'), ..]) if b.len() == at + 6 && b.get(at + 3) == Some(&b':') => {
            let m = num(at + 1, 2)? * 60 + num(at + 4, 2)?;
            if *sign == b'+' {
                m
            } else {
                -m
            }
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo as u32, d as u32);
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset_min * 60;
    u64::try_from(secs * 1000 + ms).ok()
}

/// (year, month, day), proleptic Gregorian, to days since 1970-01-01 (H. Hinnant's method).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from(if m > 2 { m - 3 } else { m + 9 });
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's method).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
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

/// The wall clock, for the runtime only.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(iso_datetime(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_datetime(1_795_462_484_120), "2026-11-23T19:34:44.120Z");
        assert_eq!(iso_date(951_782_400_000), "2000-02-29");
        assert!(iso20022::common::is_iso_datetime(&iso_datetime(1_795_462_484_120)));
    }

    #[test]
    fn parses_what_it_formats_and_iso20022_offsets() {
        for ms in [0, 951_782_400_000, 1_795_462_484_120, 4_102_444_800_999] {
            assert_eq!(parse_iso_datetime_ms(&iso_datetime(ms)), Some(ms));
        }
        let at = Some(1_795_462_484_000);
        assert_eq!(parse_iso_datetime_ms("2026-11-23T19:34:44"), at);
        assert_eq!(parse_iso_datetime_ms("2026-11-23T16:34:44-03:00"), at);
        assert_eq!(parse_iso_datetime_ms("2026-11-23T20:34:44+01:00"), at);
        assert_eq!(parse_iso_datetime_ms("2026-11-23T19:34:44.5Z"), Some(1_795_462_484_500));
        assert_eq!(parse_iso_datetime_ms("2026-11-23T19:34:44.123456Z"), Some(1_795_462_484_123));
        for bad in [
            "",
            "2026-11-23",
            "2026-13-01T00:00:00",
            "2026-11-23T19:34:44.Z",
            "2026-11-23T19:34:44+0100",
            "1969-12-31T23:59:59Z",
            "2026-11-23 19:34:44",
        ] {
            assert_eq!(parse_iso_datetime_ms(bad), None, "{bad}");
        }
    }
}
