//! Time: the [`Clock`] port and the contract's timestamp format.

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};

/// The time source of the domain. Production uses [`SystemClock`]; tests use a fixed clock.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait Clock: Send + Sync + 'static {
    /// Now, in UTC.
    fn now(&self) -> DateTime<Utc>;
}

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// The contract's timestamp format, `YYYY-MM-DD HH:MM:SS`.
pub const TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// Render `t` in the contract's format in time zone `tz`.
pub fn format_time(t: DateTime<Utc>, tz: chrono_tz::Tz) -> String {
    use chrono::{Datelike, Timelike};
    use std::fmt::Write;
    // the fields written directly: `format(TIME_FORMAT)` parses the pattern on every call, and
    // lists format many times per page
    let l = t.with_timezone(&tz).naive_local();
    let mut s = String::with_capacity(19);
    let _ = write!(
        s,
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        l.year(),
        l.month(),
        l.day(),
        l.hour(),
        l.minute(),
        l.second()
    );
    s
}

/// Parse a timestamp given in a request: `YYYY-MM-DD HH:MM:SS` (in `tz`), `YYYY-MM-DD`
/// (midnight in `tz`), or RFC 3339 with an offset. Local years outside 0000..=9999 are refused (the
/// database could not store them).
pub fn parse_time(s: &str, tz: chrono_tz::Tz) -> Option<DateTime<Utc>> {
    use chrono::Datelike;
    parse_any_time(s, tz).filter(|t| (0..=9999).contains(&t.with_timezone(&tz).year()))
}

fn parse_any_time(s: &str, tz: chrono_tz::Tz) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    let naive = NaiveDateTime::parse_from_str(s, TIME_FORMAT)
        .ok()
        .or_else(|| {
            chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })?;
    tz.from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

/// Whether a date-only string was given (so that an inclusive upper bound means the whole day).
pub fn is_date_only(s: &str) -> bool {
    chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_contract_and_iso_times() {
        let tz = chrono_tz::Asia::Shanghai;
        let a = parse_time("2025-11-01 08:00:00", tz).unwrap();
        let b = parse_time("2025-11-01T00:00:00Z", tz).unwrap();
        assert_eq!(a, b);
        assert_eq!(format_time(a, tz), "2025-11-01 08:00:00");
        assert!(parse_time("yesterday", tz).is_none());
        assert!(parse_time("-200000-01-01", tz).is_none());
        assert!(parse_time("+20000-01-01T00:00:00Z", tz).is_none());
    }

    #[test]
    fn format_time_writes_what_the_contract_pattern_writes() {
        // years 0000..=9999 (all the database and parse_time let in), across zones with and
        // without daylight saving, against chrono's own rendering of TIME_FORMAT
        let zones = [
            chrono_tz::Asia::Shanghai,
            chrono_tz::Europe::Berlin,
            chrono_tz::America::New_York,
            chrono_tz::UTC,
        ];
        let mut secs: i64 = -62_135_596_800 + 86_400; // 0001-01-02
        let end: i64 = 253_402_300_799 - 86_400; // 9999-12-30
        let step = 7_919_777; // about 92 days and a few hours: every field moves
        while secs < end {
            let t = DateTime::<Utc>::from_timestamp(secs, 0).unwrap();
            for tz in zones {
                assert_eq!(
                    format_time(t, tz),
                    t.with_timezone(&tz).format(TIME_FORMAT).to_string()
                );
            }
            secs += step;
        }
    }
}
