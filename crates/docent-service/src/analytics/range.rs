//! The `from` and `to` of a report or an export: UTC days (`2026-12-01`) or
//! RFC 3339 instants, parsed once for both.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use docent_core::store::TimeRange;

use crate::{ServiceError, ServiceResult};

/// Days a range spans when the caller gives no `from`.
pub const DEFAULT_DAYS: i64 = 30;
/// Longest range accepted, in days.
pub const MAX_DAYS: i64 = 366;

/// `from` is inclusive; `to` as a day includes that whole day, as an
/// instant is exclusive. Without `to`: up to now; without `from`: the
/// [`DEFAULT_DAYS`] days that end at `to`.
pub fn parse(from: Option<&str>, to: Option<&str>, now: DateTime<Utc>) -> ServiceResult<TimeRange> {
    let to = match to.filter(|s| !s.is_empty()) {
        None => now,
        Some(s) => match instant(s, "to")? {
            Bound::Day(day) => start_of(day) + Duration::days(1),
            Bound::At(at) => at,
        },
    };
    let from = match from.filter(|s| !s.is_empty()) {
        None => start_of((to - Duration::days(DEFAULT_DAYS)).date_naive() + Duration::days(1)),
        Some(s) => match instant(s, "from")? {
            Bound::Day(day) => start_of(day),
            Bound::At(at) => at,
        },
    };
    if from >= to {
        return Err(ServiceError::Invalid("`from` must be before `to`".into()));
    }
    if to - from > Duration::days(MAX_DAYS) {
        return Err(ServiceError::Invalid(format!(
            "a range spans at most {MAX_DAYS} days"
        )));
    }
    Ok(TimeRange { from, to })
}

enum Bound {
    Day(NaiveDate),
    At(DateTime<Utc>),
}

fn instant(s: &str, name: &str) -> ServiceResult<Bound> {
    if let Ok(day) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(Bound::Day(day));
    }
    DateTime::parse_from_rfc3339(s)
        .map(|at| Bound::At(at.with_timezone(&Utc)))
        .map_err(|_| {
            ServiceError::Invalid(format!(
                "`{name}` is neither a date (2026-12-01) nor an RFC 3339 time"
            ))
        })
}

fn start_of(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(NaiveTime::MIN).and_utc()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn days_include_the_whole_last_day() {
        let now = at("2026-12-03T10:00:00Z");
        let r = parse(Some("2026-12-01"), Some("2026-12-02"), now).unwrap();
        assert_eq!(r.from, at("2026-12-01T00:00:00Z"));
        assert_eq!(r.to, at("2026-12-03T00:00:00Z"));
    }

    #[test]
    fn without_bounds_the_last_thirty_days_up_to_now() {
        let now = at("2026-12-03T10:00:00Z");
        let r = parse(None, None, now).unwrap();
        assert_eq!(r.to, now);
        assert_eq!(r.from, at("2026-11-04T00:00:00Z"));
    }

    #[test]
    fn bad_or_reversed_or_too_long_ranges_are_refused() {
        let now = at("2026-12-03T10:00:00Z");
        for (from, to) in [
            (Some("yesterday"), None),
            (Some("2026-12-02"), Some("2026-12-01")),
            (Some("2024-01-01"), Some("2026-01-01")),
            (None, Some("2026-13-01")),
        ] {
            assert!(
                matches!(parse(from, to, now), Err(ServiceError::Invalid(_))),
                "{from:?} {to:?}"
            );
        }
        assert!(parse(Some("2026-12-01T12:00:00+02:00"), None, now).is_ok());
    }
}
