//! Timestamps in every form APIPod sends them: ISO-8601 strings and Unix time.

use std::time::{Duration, SystemTime};

use serde_json::Value;

/// Reads a timestamp in any form APIPod uses: an ISO-8601 / RFC 3339 string (fractions and
/// UTC offsets allowed), or Unix time as a number or numeric string — seconds, or
/// milliseconds when the value is above 10^11. `None` for anything else.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use apipod::parse_timestamp;
///
/// let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1786352400);
/// assert_eq!(parse_timestamp(&"2026-08-10T09:00:00Z".into()), Some(t));
/// assert_eq!(parse_timestamp(&"2026-08-10T11:00:00+02:00".into()), Some(t));
/// assert_eq!(parse_timestamp(&1786352400.into()), Some(t));
/// assert_eq!(parse_timestamp(&1786352400000u64.into()), Some(t));
/// ```
pub fn parse_timestamp(value: &Value) -> Option<SystemTime> {
    match value {
        Value::Number(n) => unix_time(n.as_f64()?),
        Value::String(s) => {
            let s = s.trim();
            match s.parse::<f64>() {
                Ok(n) => unix_time(n),
                Err(_) => parse_iso8601(s),
            }
        }
        _ => None,
    }
}

fn unix_time(n: f64) -> Option<SystemTime> {
    if !n.is_finite() || n < 0.0 {
        return None;
    }
    let secs = if n > 1e11 { n / 1000.0 } else { n };
    let d = Duration::try_from_secs_f64(secs).ok()?;
    SystemTime::UNIX_EPOCH.checked_add(d)
}

fn parse_iso8601(s: &str) -> Option<SystemTime> {
    const DATE_TIME: usize = "2026-08-10T09:00:00".len();
    if s.len() < DATE_TIME || !s.is_char_boundary(DATE_TIME) {
        return None;
    }
    let (base, offset_secs) = if let Some(base) = s.strip_suffix(['Z', 'z']) {
        (base, 0i64)
    } else if let Some(pos) = s[DATE_TIME..].find(['+', '-']).map(|p| p + DATE_TIME) {
        (&s[..pos], parse_offset(&s[pos..])?)
    } else {
        (s, 0)
    };
    let local = humantime::parse_rfc3339_weak(base).ok()?;
    let shift = Duration::from_secs(offset_secs.unsigned_abs());
    if offset_secs >= 0 {
        local.checked_sub(shift)
    } else {
        local.checked_add(shift)
    }
}

/// `+HH:MM`, `+HHMM` or `+HH` (or with `-`), in seconds east of UTC.
fn parse_offset(s: &str) -> Option<i64> {
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) || !matches!(digits.len(), 2 | 4) {
        return None;
    }
    let hours: i64 = digits[..2].parse().ok()?;
    let minutes: i64 = if digits.len() == 4 {
        digits[2..].parse().ok()?
    } else {
        0
    };
    if hours > 23 || minutes > 59 {
        return None;
    }
    Some(sign * (hours * 3600 + minutes * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_and_fractions() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_786_352_400);
        let s = |x: &str| parse_timestamp(&Value::String(x.into()));
        assert_eq!(s("2026-08-10T09:00:00Z"), Some(t));
        assert_eq!(s("2026-08-10T09:00:00+00:00"), Some(t));
        assert_eq!(s("2026-08-10T04:30:00-04:30"), Some(t));
        assert_eq!(s("2026-08-10T10:00:00+0100"), Some(t));
        assert_eq!(s("2026-08-10T10:00:00+01"), Some(t));
        assert_eq!(s("2026-08-10 09:00:00"), Some(t));
        assert_eq!(
            s("2026-08-10T09:00:00.250Z"),
            Some(t + Duration::from_millis(250))
        );
        assert_eq!(s("1786352400"), Some(t));
        assert_eq!(s("2026-08-10T09:00:00+25:00"), None);
        assert_eq!(s("yesterday"), None);
        assert_eq!(s("2026-08-10"), None);
        assert_eq!(parse_timestamp(&Value::from(-5)), None);
        assert_eq!(parse_timestamp(&Value::Bool(true)), None);
        assert_eq!(
            parse_timestamp(&Value::from(1_786_352_400.5)),
            Some(t + Duration::from_millis(500))
        );
    }
}
