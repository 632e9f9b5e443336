//! Durations on the command line: plain seconds (`0.5`, `2`) or humantime forms (`500ms`, `2s`, `1m 30s`).

use std::time::{Duration, Instant};

/// The largest duration accepted anywhere: one day. Longer values are almost certainly typos.
pub const MAX: Duration = Duration::from_secs(86_400);

/// Parses a positive duration. Zero, negative, non-finite, garbage and values over a day are rejected
/// with a message naming the input and the accepted forms.
pub fn parse(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let forms = "expected seconds such as 0.5 or 2, or a duration such as 500ms, 2s, 1m";
    let d = if t.is_empty() {
        return Err(format!("empty duration: {forms}"));
    } else if let Ok(secs) = t.parse::<f64>() {
        if !secs.is_finite() || secs <= 0.0 {
            return Err(format!("duration '{t}' must be greater than zero: {forms}"));
        }
        if secs > MAX.as_secs_f64() {
            return Err(format!("duration '{t}' is longer than a day: {forms}"));
        }
        Duration::from_secs_f64(secs)
    } else if t.starts_with('-') {
        return Err(format!("duration '{t}' must be greater than zero: {forms}"));
    } else {
        humantime::parse_duration(t)
            .map_err(|e| format!("invalid duration '{t}' ({e}): {forms}"))?
    };
    if d.is_zero() {
        return Err(format!("duration '{t}' must be greater than zero: {forms}"));
    }
    if d > MAX {
        return Err(format!("duration '{t}' is longer than a day: {forms}"));
    }
    Ok(d)
}

/// Formats a duration for tables: `0.42 ms`, `12.3 ms`, `1.204 s`.
pub fn fmt_ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 1.0 {
        format!("{ms:.3} ms")
    } else if ms < 100.0 {
        format!("{ms:.2} ms")
    } else if ms < 1000.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{:.3} s", ms / 1000.0)
    }
}

/// Milliseconds as a float, for JSON.
pub fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

/// serde `serialize_with`: a duration as milliseconds (a float), the unit of every duration in netdiag's JSON.
pub fn ser_ms<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(ms(*d))
}

/// serde `serialize_with`: an optional duration as milliseconds, or null.
pub fn ser_opt_ms<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_f64(ms(*d)),
        None => s.serialize_none(),
    }
}

/// Time left before the deadline, or None once it passed.
pub fn left(deadline: Instant) -> Option<Duration> {
    deadline
        .checked_duration_since(Instant::now())
        .filter(|d| !d.is_zero())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_seconds_and_humantime() {
        assert_eq!(parse("0.5").unwrap(), Duration::from_millis(500));
        assert_eq!(parse("2").unwrap(), Duration::from_secs(2));
        assert_eq!(parse("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse("2s").unwrap(), Duration::from_secs(2));
        assert_eq!(parse("1m 30s").unwrap(), Duration::from_secs(90));
    }

    #[test]
    fn rejects_zero_negative_garbage_and_huge() {
        for bad in [
            "", "0", "0.0", "-1", "-0.5", "abc", "0ms", "NaN", "inf", "1e300", "2 days", "5x",
        ] {
            let e = parse(bad).unwrap_err();
            assert!(e.contains("expected seconds"), "{bad}: {e}");
        }
    }

    #[test]
    fn formats_milliseconds() {
        assert_eq!(fmt_ms(Duration::from_micros(420)), "0.420 ms");
        assert_eq!(fmt_ms(Duration::from_micros(12_340)), "12.34 ms");
        assert_eq!(fmt_ms(Duration::from_millis(1204)), "1.204 s");
    }
}
