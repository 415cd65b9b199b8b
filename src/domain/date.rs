//! Partial dates: `YYYY`, `YYYY-MM` or `YYYY-MM-DD`.
//!
//! The 2009 lists give years only, so every dated fact in pactum is a period
//! rather than a day. A [`PartialDate`] remembers the precision it was given
//! with, prints itself back the same way, and exposes the first and last day
//! of the period it covers (`docs/model.md` §2).

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;

/// The smallest year pactum accepts: dates are written with four digits.
pub const MIN_YEAR: u16 = 1000;
/// The largest year pactum accepts.
pub const MAX_YEAR: u16 = 9999;

/// How precisely a [`PartialDate`] was given.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Precision {
    /// `YYYY`
    Year,
    /// `YYYY-MM`
    Month,
    /// `YYYY-MM-DD`
    Day,
}

/// A date known to the year, the month or the day.
///
/// **Invariant:** the fields always name a real period: `month` is 0 (absent)
/// or 1..=12, `day` is 0 (absent) or a day that exists in that month, and a
/// day is never given without a month.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PartialDate {
    year: u16,
    month: u8,
    day: u8,
}

/// Why a text or a set of numbers is not a [`PartialDate`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    /// The text is not one of the three accepted shapes.
    #[error("'{0}' is not a date: expected YYYY, YYYY-MM or YYYY-MM-DD")]
    Shape(String),
    /// The year is outside 1000..=9999.
    #[error("year {0} is out of range ({MIN_YEAR}-{MAX_YEAR})")]
    Year(u32),
    /// The month is outside 1..=12.
    #[error("month {0} does not exist")]
    Month(u32),
    /// The day does not exist in that month.
    #[error("{year:04}-{month:02}-{day:02} does not exist")]
    Day {
        /// year of the impossible date
        year: u16,
        /// month of the impossible date
        month: u8,
        /// the day that month does not have
        day: u32,
    },
}

impl PartialDate {
    /// A whole year.
    pub fn year(year: u32) -> Result<Self, DateError> {
        Self::from_parts(year, 0, 0)
    }

    /// A month of a year.
    pub fn month(year: u32, month: u32) -> Result<Self, DateError> {
        if month == 0 {
            return Err(DateError::Month(month));
        }
        Self::from_parts(year, month, 0)
    }

    /// A single day.
    pub fn day(year: u32, month: u32, day: u32) -> Result<Self, DateError> {
        if month == 0 {
            return Err(DateError::Month(month));
        }
        if day == 0 {
            return Err(DateError::Day {
                year: u16::try_from(year).unwrap_or(0),
                month: u8::try_from(month).unwrap_or(0),
                day,
            });
        }
        Self::from_parts(year, month, day)
    }

    /// Builds a date from its stored parts, where 0 means "not given".
    pub fn from_parts(year: u32, month: u32, day: u32) -> Result<Self, DateError> {
        let year16 = u16::try_from(year)
            .ok()
            .filter(|y| (MIN_YEAR..=MAX_YEAR).contains(y))
            .ok_or(DateError::Year(year))?;
        let month8 = u8::try_from(month)
            .ok()
            .filter(|m| *m <= 12)
            .ok_or(DateError::Month(month))?;
        let impossible_day = DateError::Day {
            year: year16,
            month: month8,
            day,
        };
        let day8 = u8::try_from(day).map_err(|_| impossible_day.clone())?;
        if day8 != 0 {
            if month8 == 0 {
                return Err(DateError::Month(0));
            }
            NaiveDate::from_ymd_opt(i32::from(year16), month, day).ok_or(impossible_day)?;
        }
        Ok(Self {
            year: year16,
            month: month8,
            day: day8,
        })
    }

    /// The stored parts `(year, month, day)`, 0 meaning "not given".
    pub fn parts(self) -> (u16, u8, u8) {
        (self.year, self.month, self.day)
    }

    /// How precisely the date was given.
    pub fn precision(self) -> Precision {
        match (self.month, self.day) {
            (0, _) => Precision::Year,
            (_, 0) => Precision::Month,
            _ => Precision::Day,
        }
    }

    /// The first day of the period.
    pub fn earliest(self) -> NaiveDate {
        let (m, d) = match self.precision() {
            Precision::Year => (1, 1),
            Precision::Month => (u32::from(self.month), 1),
            Precision::Day => (u32::from(self.month), u32::from(self.day)),
        };
        // Invariant of the type: the parts name a real day.
        NaiveDate::from_ymd_opt(i32::from(self.year), m, d).unwrap_or(NaiveDate::MIN)
    }

    /// The last day of the period.
    pub fn latest(self) -> NaiveDate {
        let year = i32::from(self.year);
        let last = match self.precision() {
            Precision::Year => NaiveDate::from_ymd_opt(year, 12, 31),
            Precision::Month => {
                let (ny, nm) = if self.month == 12 {
                    (year + 1, 1)
                } else {
                    (year, u32::from(self.month) + 1)
                };
                NaiveDate::from_ymd_opt(ny, nm, 1).and_then(|d| d.pred_opt())
            }
            Precision::Day => {
                NaiveDate::from_ymd_opt(year, u32::from(self.month), u32::from(self.day))
            }
        };
        // Invariant of the type: the parts name a real period.
        last.unwrap_or(NaiveDate::MAX)
    }

    /// True when the period has begun by `d` (`earliest <= d`).
    pub fn begun_by(self, d: NaiveDate) -> bool {
        self.earliest() <= d
    }

    /// True when the period straddles `d`: begun, but not over (`latest > d`).
    pub fn straddles(self, d: NaiveDate) -> bool {
        self.latest() > d
    }
}

impl FromStr for PartialDate {
    type Err = DateError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let shape = || DateError::Shape(text.to_owned());
        let digits = |part: &str, width: usize| -> Result<u32, DateError> {
            if part.len() == width && part.bytes().all(|b| b.is_ascii_digit()) {
                part.parse().map_err(|_| shape())
            } else {
                Err(shape())
            }
        };
        let mut parts = text.split('-');
        let year = digits(parts.next().ok_or_else(shape)?, 4)?;
        let month = parts.next().map(|p| digits(p, 2)).transpose()?;
        let day = parts.next().map(|p| digits(p, 2)).transpose()?;
        if parts.next().is_some() {
            return Err(shape());
        }
        match (month, day) {
            (None, _) => Self::year(year),
            (Some(m), None) => Self::month(year, m),
            (Some(m), Some(d)) => Self::day(year, m, d),
        }
    }
}

impl fmt::Display for PartialDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.precision() {
            Precision::Year => write!(f, "{:04}", self.year),
            Precision::Month => write!(f, "{:04}-{:02}", self.year, self.month),
            Precision::Day => write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day),
        }
    }
}

impl PartialOrd for PartialDate {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for PartialDate {
    /// Ordered by first day, then by last day (a year sorts before its
    /// first month, which sorts before that month's first day).
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.earliest(), std::cmp::Reverse(self.latest()))
            .cmp(&(other.earliest(), std::cmp::Reverse(other.latest())))
    }
}

/// The valid-time instant that lies after every date: "the end of time".
pub fn end_of_time() -> NaiveDate {
    NaiveDate::MAX
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn parses_and_prints_each_precision_as_given() {
        for text in ["2009", "2009-03", "2009-03-14", "1999-12", "2000-02-29"] {
            let date: PartialDate = text.parse().unwrap();
            assert_eq!(date.to_string(), text);
        }
    }

    #[test]
    fn periods_cover_their_first_and_last_day() {
        let cases = [
            ("2009", "2009-01-01", "2009-12-31"),
            ("2009-02", "2009-02-01", "2009-02-28"),
            ("2008-02", "2008-02-01", "2008-02-29"),
            ("2009-12", "2009-12-01", "2009-12-31"),
            ("2009-03-14", "2009-03-14", "2009-03-14"),
        ];
        for (text, first, last) in cases {
            let date: PartialDate = text.parse().unwrap();
            assert_eq!(date.earliest(), d(first), "{text}");
            assert_eq!(date.latest(), d(last), "{text}");
        }
    }

    #[test]
    fn rejects_malformed_and_impossible_dates() {
        let cases = [
            "",
            "09",
            "2009-3",
            "2009-03-1",
            "2009/03/01",
            "2009-13",
            "2009-00",
            "2009-02-30",
            "2009-04-31",
            "0999",
            "abcd",
            "2009-03-14-01",
            " 2009",
            "2009-",
            "+200",
            "2009-03-00",
            "２００９",
        ];
        for text in cases {
            assert!(text.parse::<PartialDate>().is_err(), "accepted {text:?}");
        }
    }

    #[test]
    fn straddling_is_relative_to_the_last_day() {
        let y2009: PartialDate = "2009".parse().unwrap();
        assert!(y2009.begun_by(d("2009-06-01")));
        assert!(y2009.straddles(d("2009-06-01")));
        assert!(!y2009.straddles(d("2009-12-31")));
        assert!(!y2009.begun_by(d("2008-12-31")));
    }

    #[test]
    fn orders_by_first_day_then_wider_period_first() {
        let mut dates: Vec<PartialDate> = ["2009-01-01", "2009-01", "2008", "2009"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        dates.sort();
        let printed: Vec<String> = dates.iter().map(ToString::to_string).collect();
        assert_eq!(printed, ["2008", "2009", "2009-01", "2009-01-01"]);
    }

    #[test]
    fn stored_parts_round_trip_and_are_validated() {
        let date: PartialDate = "2009-03".parse().unwrap();
        let (y, m, dd) = date.parts();
        assert_eq!(
            PartialDate::from_parts(y.into(), m.into(), dd.into()),
            Ok(date)
        );
        assert!(PartialDate::from_parts(2009, 0, 5).is_err());
        assert!(PartialDate::from_parts(2009, 2, 31).is_err());
        assert!(PartialDate::from_parts(70_000, 1, 1).is_err());
    }
}
