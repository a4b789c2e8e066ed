//! `StixTimestamp` (object properties: millisecond precision at least) and `TaxiiTimestamp`
//! (TAXII headers and envelopes: exactly six fractional digits): UTC, microsecond resolution,
//! parsed from any RFC 3339 date-time and stored as i64 microseconds since the epoch.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeDelta, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::StixError;

/// Parses an RFC 3339 `date-time` (`T`/`t`, `Z`/`z` or `±hh:mm`, any number of fractional
/// digits, truncated to microseconds) into a UTC instant of year 0000–9999.
///
/// A leap second (`:60`) is kept in order but folded to `:59.999999` of the same minute:
/// neither STIX consumers nor an i64 of microseconds can hold it.
fn parse_rfc3339(text: &str) -> Result<DateTime<Utc>, StixError> {
    let err = |why| StixError::InvalidTimestamp(text.to_owned(), why);
    let b = text.as_bytes();
    let digits = |from: usize, len: usize| -> Result<u32, StixError> {
        let part = b.get(from..from + len).ok_or_else(|| err("too short"))?;
        part.iter().try_fold(0u32, |acc, d| {
            if d.is_ascii_digit() {
                Ok(acc * 10 + u32::from(d - b'0'))
            } else {
                Err(err("a digit was expected"))
            }
        })
    };
    let expect = |at: usize, allowed: &[u8], why| -> Result<u8, StixError> {
        match b.get(at) {
            Some(c) if allowed.contains(c) => Ok(*c),
            _ => Err(err(why)),
        }
    };
    let year = digits(0, 4)?;
    expect(4, b"-", "expected `-` after the year")?;
    let month = digits(5, 2)?;
    expect(7, b"-", "expected `-` after the month")?;
    let day = digits(8, 2)?;
    expect(10, b"Tt", "expected `T` between date and time")?;
    let hour = digits(11, 2)?;
    expect(13, b":", "expected `:` after the hour")?;
    let minute = digits(14, 2)?;
    expect(16, b":", "expected `:` after the minute")?;
    let second = digits(17, 2)?;

    let mut at = 19;
    let mut micros = 0u32;
    if b.get(at) == Some(&b'.') {
        at += 1;
        let start = at;
        while b.get(at).is_some_and(u8::is_ascii_digit) {
            let d = b.get(at).map_or(0, |d| u32::from(d - b'0'));
            if at - start < 6 {
                micros = micros * 10 + d;
            }
            at += 1;
        }
        let count = at - start;
        if count == 0 {
            return Err(err("no digits after the decimal point"));
        }
        for _ in count..6 {
            micros *= 10;
        }
    }

    let offset_minutes: i64 = match b.get(at) {
        Some(b'Z' | b'z') => {
            at += 1;
            0
        }
        Some(sign @ (b'+' | b'-')) => {
            let sign = if *sign == b'-' { -1 } else { 1 };
            let oh = digits(at + 1, 2)?;
            expect(at + 3, b":", "expected `:` in the offset")?;
            let om = digits(at + 4, 2)?;
            if oh > 23 || om > 59 {
                return Err(err("offset out of range"));
            }
            at += 6;
            sign * i64::from(oh * 60 + om)
        }
        _ => return Err(err("missing time zone (`Z` or an offset)")),
    };
    if at != b.len() {
        return Err(err("unexpected characters after the time zone"));
    }

    let date =
        NaiveDate::from_ymd_opt(i32::try_from(year).map_err(|_| err("year out of range"))?, month, day)
            .ok_or_else(|| err("no such date"))?;
    let (second, micros) = match second {
        60 => (59, 999_999),
        s => (s, micros),
    };
    let time = NaiveTime::from_hms_micro_opt(hour, minute, second, micros)
        .ok_or_else(|| err("no such time of day"))?;
    let utc = date
        .and_time(time)
        .checked_sub_signed(TimeDelta::minutes(offset_minutes))
        .ok_or_else(|| err("out of range"))?
        .and_utc();
    check_range(utc).map_err(|()| err("outside years 0000-9999 once in UTC"))
}

/// STIX and TAXII timestamps have four-digit years.
fn check_range(dt: DateTime<Utc>) -> Result<DateTime<Utc>, ()> {
    if (0..=9999).contains(&dt.year()) { Ok(dt) } else { Err(()) }
}

/// Drops anything finer than a microsecond.
fn truncate_to_micros(dt: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(dt.timestamp_micros()).unwrap_or(dt)
}

/// The parts both timestamp types share: construction, conversion, ordering and serde.
macro_rules! utc_micros_type {
    ($name:ident) => {
        impl $name {
            /// The current time, truncated to microseconds.
            pub fn now() -> Self {
                Self(truncate_to_micros(Utc::now()))
            }

            /// Parses any RFC 3339 date-time; offsets are converted to UTC, digits beyond the
            /// microsecond are dropped.
            pub fn parse(text: &str) -> Result<Self, StixError> {
                parse_rfc3339(text).map(Self)
            }

            /// From the database form: microseconds since 1970-01-01T00:00:00Z.
            pub fn from_micros(micros: i64) -> Result<Self, StixError> {
                DateTime::from_timestamp_micros(micros)
                    .and_then(|dt| check_range(dt).ok())
                    .map(Self)
                    .ok_or_else(|| {
                        StixError::InvalidTimestamp(
                            micros.to_string(),
                            "microseconds outside years 0000-9999",
                        )
                    })
            }

            /// To the database form: microseconds since 1970-01-01T00:00:00Z.
            pub fn as_micros(&self) -> i64 {
                self.0.timestamp_micros()
            }

            /// From a chrono UTC instant, truncated to microseconds.
            pub fn from_datetime(dt: DateTime<Utc>) -> Result<Self, StixError> {
                check_range(truncate_to_micros(dt))
                    .map(Self)
                    .map_err(|()| StixError::InvalidTimestamp(dt.to_rfc3339(), "outside years 0000-9999"))
            }

            /// The chrono UTC instant.
            pub fn to_datetime(&self) -> DateTime<Utc> {
                self.0
            }

            /// This instant moved by `delta` (truncated to microseconds), if still in range.
            pub fn checked_add(&self, delta: TimeDelta) -> Option<Self> {
                self.0.checked_add_signed(delta).and_then(|dt| Self::from_datetime(dt).ok())
            }
        }

        impl FromStr for $name {
            type Err = StixError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                Self::parse(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}

/// A STIX timestamp property (`created`, `valid_from`, …). Displays three fractional digits
/// when the sub-millisecond part is zero, else six; always UTC with `Z`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StixTimestamp(DateTime<Utc>);

/// A TAXII 2.1 timestamp (`date_added`, `X-TAXII-Date-Added-*`, `added_after`). Displays
/// exactly six fractional digits and `Z`, as TAXII clients expect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaxiiTimestamp(DateTime<Utc>);

utc_micros_type!(StixTimestamp);

impl StixTimestamp {
    /// A whole second after the epoch; any `u32` is within years 1970–2106, so this cannot fail.
    pub(crate) fn from_unix_seconds(seconds: u32) -> Self {
        Self(DateTime::UNIX_EPOCH + TimeDelta::seconds(i64::from(seconds)))
    }
}
utc_micros_type!(TaxiiTimestamp);

impl fmt::Display for StixTimestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.timestamp_subsec_micros().is_multiple_of(1000) {
            write!(f, "{}", self.0.format("%Y-%m-%dT%H:%M:%S%.3fZ"))
        } else {
            write!(f, "{}", self.0.format("%Y-%m-%dT%H:%M:%S%.6fZ"))
        }
    }
}

impl fmt::Display for TaxiiTimestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%dT%H:%M:%S%.6fZ"))
    }
}

impl From<TaxiiTimestamp> for StixTimestamp {
    fn from(t: TaxiiTimestamp) -> Self {
        Self(t.0)
    }
}

impl From<StixTimestamp> for TaxiiTimestamp {
    fn from(t: StixTimestamp) -> Self {
        Self(t.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stix(s: &str) -> String {
        StixTimestamp::parse(s).unwrap().to_string()
    }

    fn taxii(s: &str) -> String {
        TaxiiTimestamp::parse(s).unwrap().to_string()
    }

    #[test]
    fn stix_display_has_millisecond_precision_at_least() {
        assert_eq!(stix("2024-03-01T12:00:00Z"), "2024-03-01T12:00:00.000Z");
        assert_eq!(stix("2024-03-01T12:00:00.5Z"), "2024-03-01T12:00:00.500Z");
        assert_eq!(stix("2024-03-01T12:00:00.123Z"), "2024-03-01T12:00:00.123Z");
        assert_eq!(stix("2024-03-01T12:00:00.1234Z"), "2024-03-01T12:00:00.123400Z");
        assert_eq!(stix("2024-03-01T12:00:00.123456Z"), "2024-03-01T12:00:00.123456Z");
    }

    #[test]
    fn taxii_display_has_exactly_six_digits() {
        assert_eq!(taxii("2024-03-01T12:00:00Z"), "2024-03-01T12:00:00.000000Z");
        assert_eq!(taxii("2024-03-01T12:00:00.1Z"), "2024-03-01T12:00:00.100000Z");
    }

    #[test]
    fn offsets_are_converted_to_utc() {
        assert_eq!(stix("2024-03-01T01:30:00+02:00"), "2024-02-29T23:30:00.000Z");
        assert_eq!(stix("2023-12-31T22:15:00.250-05:45"), "2024-01-01T04:00:00.250Z");
        assert_eq!(stix("2024-03-01T00:00:00-00:00"), "2024-03-01T00:00:00.000Z");
        assert_eq!(stix("2024-03-01T00:00:00+23:59"), "2024-02-29T00:01:00.000Z");
    }

    #[test]
    fn lowercase_t_and_z_are_accepted() {
        assert_eq!(stix("2024-03-01t12:00:00z"), "2024-03-01T12:00:00.000Z");
    }

    #[test]
    fn nanoseconds_are_truncated_not_rounded() {
        assert_eq!(taxii("2024-03-01T12:00:00.123456789Z"), "2024-03-01T12:00:00.123456Z");
        assert_eq!(stix("2024-03-01T12:00:00.999999999Z"), "2024-03-01T12:00:00.999999Z");
        assert_eq!(stix("2024-03-01T12:00:00.000000999Z"), "2024-03-01T12:00:00.000Z");
    }

    #[test]
    fn calendar_edges() {
        assert_eq!(stix("2024-02-29T00:00:00Z"), "2024-02-29T00:00:00.000Z");
        assert!(StixTimestamp::parse("2023-02-29T00:00:00Z").is_err());
        assert!(StixTimestamp::parse("1900-02-29T00:00:00Z").is_err());
        assert_eq!(stix("2000-02-29T23:59:59Z"), "2000-02-29T23:59:59.000Z");
        // Leap second: kept in order, folded into the last microsecond of the minute.
        assert_eq!(stix("2016-12-31T23:59:60Z"), "2016-12-31T23:59:59.999999Z");
        assert!(
            StixTimestamp::parse("2016-12-31T23:59:60Z").unwrap()
                < StixTimestamp::parse("2017-01-01T00:00:00Z").unwrap()
        );
        assert_eq!(stix("0000-01-01T00:00:00Z"), "0000-01-01T00:00:00.000Z");
        assert_eq!(stix("9999-12-31T23:59:59.999999Z"), "9999-12-31T23:59:59.999999Z");
        assert!(StixTimestamp::parse("0000-01-01T00:00:00+01:00").is_err());
        assert!(StixTimestamp::parse("9999-12-31T23:00:00-01:00").is_err());
    }

    #[test]
    fn garbage_is_rejected() {
        for bad in [
            "",
            "2024",
            "2024-03-01",
            "2024-03-01T12:00:00",
            "2024-03-01 12:00:00Z",
            "2024-03-01T12:00Z",
            "2024-3-01T12:00:00Z",
            "2024-03-01T12:00:00.Z",
            "2024-03-01T12:00:00,5Z",
            "2024-03-01T24:00:00Z",
            "2024-03-01T12:60:00Z",
            "2024-03-01T12:00:61Z",
            "2024-13-01T12:00:00Z",
            "2024-03-32T12:00:00Z",
            "2024-03-01T12:00:00+0100",
            "2024-03-01T12:00:00+24:00",
            "2024-03-01T12:00:00+01:60",
            "2024-03-01T12:00:00ZZ",
            "2024-03-01T12:00:00Z ",
            " 2024-03-01T12:00:00Z",
            "+2024-03-01T12:00:00Z",
            "２０２４-03-01T12:00:00Z",
            "yesterday",
        ] {
            assert!(StixTimestamp::parse(bad).is_err(), "{bad:?} accepted");
            assert!(TaxiiTimestamp::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn micros_round_trip_and_order() {
        let t = StixTimestamp::parse("2024-03-01T12:00:00.123456Z").unwrap();
        assert_eq!(t.as_micros(), 1_709_294_400_123_456);
        assert_eq!(StixTimestamp::from_micros(t.as_micros()).unwrap(), t);
        assert_eq!(TaxiiTimestamp::from_micros(0).unwrap().to_string(), "1970-01-01T00:00:00.000000Z");
        assert_eq!(StixTimestamp::from_micros(-1).unwrap().to_string(), "1969-12-31T23:59:59.999999Z");
        assert!(StixTimestamp::from_micros(i64::MAX).is_err());
        let later = t.checked_add(TimeDelta::microseconds(1)).unwrap();
        assert!(later > t);
        let taxii: TaxiiTimestamp = t.into();
        assert_eq!(taxii.as_micros(), t.as_micros());
    }

    #[test]
    fn now_is_microsecond_truncated() {
        let now = TaxiiTimestamp::now();
        assert_eq!(now.to_datetime().timestamp_subsec_nanos() % 1000, 0);
        let stix_now = StixTimestamp::now();
        assert_eq!(StixTimestamp::parse(&stix_now.to_string()).unwrap(), stix_now);
    }

    #[test]
    fn serde_uses_the_display_form() {
        let t = StixTimestamp::parse("2024-03-01T12:00:00+01:00").unwrap();
        assert_eq!(serde_json::to_string(&t).unwrap(), "\"2024-03-01T11:00:00.000Z\"");
        let back: TaxiiTimestamp = serde_json::from_str("\"2024-03-01T11:00:00Z\"").unwrap();
        assert_eq!(back.as_micros(), t.as_micros());
        assert!(serde_json::from_str::<StixTimestamp>("\"nope\"").is_err());
        assert!(serde_json::from_str::<StixTimestamp>("12").is_err());
    }
}
