//! The contract's time format (`2026-11-25T19:13:00.123Z`), written without `strftime`.
//!
//! Every message a client sees carries two times, so formatting is on the hot path of history
//! pages and live deliveries: chrono's `format` parses its pattern and goes through
//! `fmt::Write` for every item. Here the fields come straight from chrono's date and time
//! accessors and the digits are written into a fixed 24-byte buffer on the stack.

use chat_domain::Timestamp;
use chrono::{Datelike, Timelike};

/// The length of a formatted time: `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub const TIMESTAMP_LEN: usize = 24;

/// The chrono pattern this module reproduces; still used for years outside 0..=9999, which
/// chrono writes with a sign and more digits.
const PATTERN: &str = "%Y-%m-%dT%H:%M:%S%.3fZ";

/// A formatted time held on the stack.
#[derive(Clone, Copy)]
pub struct TimestampText {
    bytes: [u8; TIMESTAMP_LEN],
}

impl TimestampText {
    /// Formats `at`, or `None` when its year is outside 0..=9999 (it would not fit).
    pub fn new(at: &Timestamp) -> Option<Self> {
        let date = at.date_naive();
        let year = u32::try_from(date.year()).ok().filter(|y| *y <= 9999)?;
        let time = at.time();
        let nanos = time.nanosecond();
        // chrono shows a leap second (nanoseconds past one billion) as second 60, and its
        // `%.3f` truncates the fraction to whole milliseconds.
        let second = time.second() + nanos / 1_000_000_000;
        let millis = nanos % 1_000_000_000 / 1_000_000;
        let mut bytes = *b"0000-00-00T00:00:00.000Z";
        put_digits(&mut bytes[0..4], year);
        put_digits(&mut bytes[5..7], date.month());
        put_digits(&mut bytes[8..10], date.day());
        put_digits(&mut bytes[11..13], time.hour());
        put_digits(&mut bytes[14..16], time.minute());
        put_digits(&mut bytes[17..19], second);
        put_digits(&mut bytes[20..23], millis);
        Some(Self { bytes })
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII digits and separators are ever written, so this never fails.
        std::str::from_utf8(&self.bytes).unwrap_or_default()
    }
}

/// Writes `value` as decimal digits right-aligned in `out`, zero-padded (`value` fits).
fn put_digits(out: &mut [u8], mut value: u32) {
    for slot in out.iter_mut().rev() {
        // `value % 10` is below 10, so the cast cannot truncate.
        *slot = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// Formats a time as the contract shows it: `2026-11-25T19:13:00.123Z`.
pub fn format_timestamp(at: &Timestamp) -> String {
    match TimestampText::new(at) {
        Some(text) => text.as_str().to_owned(),
        None => at.format(PATTERN).to_string(),
    }
}

/// Writes a time as a JSON string without building a `String` (outside years 0..=9999, which
/// no clock of ours produces, it falls back to chrono's formatting).
pub(crate) fn serialize_timestamp<S: serde::Serializer>(at: &Timestamp, serializer: S) -> Result<S::Ok, S::Error> {
    match TimestampText::new(at) {
        Some(text) => serializer.serialize_str(text.as_str()),
        None => serializer.collect_str(&at.format(PATTERN)),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, NaiveDate, TimeZone, Utc};

    use super::*;

    fn chrono_format(at: &Timestamp) -> String {
        at.format(PATTERN).to_string()
    }

    fn at_millis(ms: i64) -> Timestamp {
        DateTime::from_timestamp_millis(ms).unwrap_or_else(|| panic!("{ms} in range"))
    }

    #[test]
    fn edge_cases_match_the_contract() {
        let cases = [
            (0, "1970-01-01T00:00:00.000Z"),
            (-1, "1969-12-31T23:59:59.999Z"),
            (951_782_400_000, "2000-02-29T00:00:00.000Z"),
            (1_709_164_799_999, "2024-02-28T23:59:59.999Z"),
            (1_709_164_800_000, "2024-02-29T00:00:00.000Z"),
            (1_709_251_200_000, "2024-03-01T00:00:00.000Z"),
            (-2_203_891_200_000, "1900-03-01T00:00:00.000Z"),
            (1_795_633_980_123, "2026-11-25T19:13:00.123Z"),
            (253_402_300_799_999, "9999-12-31T23:59:59.999Z"),
            (-62_167_219_200_000, "0000-01-01T00:00:00.000Z"),
        ];
        for (ms, expected) in cases {
            let at = at_millis(ms);
            assert_eq!(format_timestamp(&at), expected, "{ms}");
            assert_eq!(chrono_format(&at), expected, "chrono agrees for {ms}");
        }
    }

    #[test]
    fn sub_millisecond_digits_are_truncated_like_chrono() {
        let at = Utc
            .with_ymd_and_hms(2026, 11, 25, 19, 13, 0)
            .single()
            .map(|t| t + chrono::Duration::nanoseconds(123_999_999));
        let at = at.unwrap_or_else(|| panic!("valid date"));
        assert_eq!(format_timestamp(&at), "2026-11-25T19:13:00.123Z");
    }

    #[test]
    fn a_leap_second_shows_as_second_sixty() {
        let leap = NaiveDate::from_ymd_opt(2016, 12, 31)
            .and_then(|d| d.and_hms_milli_opt(23, 59, 59, 1_500))
            .unwrap_or_else(|| panic!("valid leap second"))
            .and_utc();
        assert_eq!(format_timestamp(&leap), chrono_format(&leap));
        assert_eq!(format_timestamp(&leap), "2016-12-31T23:59:60.500Z");
    }

    #[test]
    fn years_outside_four_digits_fall_back_to_chrono() {
        for ms in [253_402_300_800_000, -62_167_219_200_001] {
            let at = at_millis(ms);
            assert!(TimestampText::new(&at).is_none());
            assert_eq!(format_timestamp(&at), chrono_format(&at));
        }
        assert_eq!(format_timestamp(&at_millis(253_402_300_800_000)), "+10000-01-01T00:00:00.000Z");
    }

    #[test]
    fn agrees_with_chrono_across_the_four_digit_years() {
        // A deterministic walk with an odd stride touches every month, day and millisecond
        // pattern many times over.
        let (first, last) = (-62_167_219_200_000_i64, 253_402_300_799_999_i64);
        let stride = 3_155_695_200_007;
        let mut ms = first;
        while ms <= last {
            let at = at_millis(ms);
            assert_eq!(format_timestamp(&at), chrono_format(&at), "{ms}");
            ms += stride;
        }
        for day in 0..(366 * 8) {
            let at = at_millis(1_577_836_800_000 + day * 86_400_000 + day * 1_001);
            assert_eq!(format_timestamp(&at), chrono_format(&at), "day {day}");
        }
    }

    #[test]
    fn serializes_as_a_json_string() {
        #[derive(serde::Serialize)]
        struct Wrapper(#[serde(serialize_with = "serialize_timestamp")] Timestamp);
        let json = serde_json::to_string(&Wrapper(at_millis(1_795_633_980_123))).unwrap_or_default();
        assert_eq!(json, "\"2026-11-25T19:13:00.123Z\"");
    }
}
