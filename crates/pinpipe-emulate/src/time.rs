//! Datetimes: the windows values fall in, and the three textual forms of docs/SPEC.md §1 "Datetimes".

use chrono::{NaiveDate, NaiveDateTime, TimeDelta};

use crate::rng::Rand;

/// A span of naive (UTC) time.
pub(crate) struct Window {
    start: NaiveDateTime,
    end: NaiveDateTime,
}

/// When posts were made: 2017-10 to 2022-10.
pub(crate) const POSTED: Window = Window::new((2017, 10, 20), (2022, 10, 18));
/// When users joined: 2015-10 to 2017-10.
pub(crate) const JOINED: Window = Window::new((2015, 10, 21), (2017, 10, 18));

impl Window {
    /// From the first second of `first` to the last second of `last` (year, month, day).
    const fn new(first: (i32, u32, u32), last: (i32, u32, u32)) -> Self {
        Self { start: moment(first, (0, 0, 0)), end: moment(last, (23, 59, 59)) }
    }

    /// The second at fraction `q` (in `[0, 1)`) of the window.
    pub(crate) fn at(&self, q: f64) -> NaiveDateTime {
        let seconds = (self.end - self.start).num_seconds() as f64;
        self.start + TimeDelta::seconds((q * seconds) as i64)
    }
}

const fn moment((year, month, day): (i32, u32, u32), (hour, min, sec): (u32, u32, u32)) -> NaiveDateTime {
    match NaiveDate::from_ymd_opt(year, month, day) {
        Some(date) => match date.and_hms_opt(hour, min, sec) {
            Some(datetime) => datetime,
            None => panic!("invalid time of day"),
        },
        None => panic!("invalid date"),
    }
}

/// The textual forms a datetime is sent in; one source row keeps one form.
#[derive(Clone, Copy)]
enum DateForm {
    /// `2020-08-28 03:52:47`, most rows.
    Spaced,
    /// `2020-08-28T03:52:47`.
    Iso,
    /// `2020:08:28 03:52:47`.
    Colons,
}

const DATE_FORM_SHARES: [(DateForm, f64); 3] =
    [(DateForm::Spaced, 0.94), (DateForm::Iso, 0.03), (DateForm::Colons, 0.03)];

impl DateForm {
    fn pattern(self) -> &'static str {
        match self {
            DateForm::Spaced => "%Y-%m-%d %H:%M:%S",
            DateForm::Iso => "%Y-%m-%dT%H:%M:%S",
            DateForm::Colons => "%Y:%m:%d %H:%M:%S",
        }
    }
}

/// `datetime` as text, in a form drawn with the shares sources show.
pub(crate) fn stamp(rng: &mut Rand, datetime: NaiveDateTime) -> String {
    let form = rng.weighted(&DATE_FORM_SHARES);
    datetime.format(form.pattern()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_span_their_months() {
        assert_eq!(POSTED.at(0.0).to_string(), "2017-10-20 00:00:00");
        assert_eq!(POSTED.at(0.999_999_999).to_string(), "2022-10-18 23:59:58");
        assert_eq!(JOINED.at(0.5).to_string(), "2016-10-19 11:59:59");
    }
}
