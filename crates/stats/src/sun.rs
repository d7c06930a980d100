//! Sunset and dusk (end of civil twilight) by the suncalc algorithm, in
//! local clock time.
//!
//! The veil-of-darkness test compares stops made in daylight and in
//! darkness at the same clock time, so it needs each date's sunset and dusk
//! where the stops happened. The Stanford Open Policing Project computes
//! them with R's `suncalc` package, which runs suncalc.js (the 1.x series by
//! Vladimir Agafonkin, after the formulas at aa.quae.nl). This module is a
//! transcription of suncalc.js 1.9's `getTimes` (the algorithm of R
//! `suncalc`), evaluated, as R's `getSunlightTimes` does, at 12:00 UTC of the
//! date, with:
//! - sunset: sun altitude -0.833° (refraction plus the solar radius);
//! - dusk: -6° (civil twilight end);
//! - observer height 0.
//!
//! suncalc.js 2.x replaced these formulas with Meeus' and gives times about
//! a minute different; 1.x is kept because that is what published analyses
//! used. Event instants are whole milliseconds truncated toward zero, as a
//! JavaScript `Date` stores them. Local times come from the IANA time zone
//! database (chrono-tz), daylight saving included.
//!
//! When the sun does not reach the altitude on that date (polar day or
//! night) the event is `None`.

use std::f64::consts::PI;
use std::fmt;

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

/// Sun altitude at sunset, degrees.
pub const SUNSET_ALTITUDE: f64 = -0.833;
/// Sun altitude at dusk (end of civil twilight), degrees.
pub const DUSK_ALTITUDE: f64 = -6.0;

const RAD: f64 = PI / 180.0;
const DAY_MS: f64 = 86_400_000.0;
const J1970: f64 = 2_440_588.0;
const J2000: f64 = 2_451_545.0;
const J0: f64 = 0.0009;
/// Obliquity of the Earth's axis.
const OBLIQUITY: f64 = RAD * 23.4397;

/// Errors from [`sun_times`].
#[derive(Debug, Clone, PartialEq)]
pub enum SunError {
    /// Latitude is not a finite number in [-90, 90].
    InvalidLatitude(f64),
    /// Longitude is not a finite number in [-180, 180].
    InvalidLongitude(f64),
    /// The date or an event time cannot be represented.
    DateOutOfRange,
}

impl fmt::Display for SunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SunError::InvalidLatitude(v) => write!(f, "latitude {v} is not in [-90, 90]"),
            SunError::InvalidLongitude(v) => write!(f, "longitude {v} is not in [-180, 180]"),
            SunError::DateOutOfRange => write!(f, "date is out of the supported range"),
        }
    }
}

impl std::error::Error for SunError {}

/// One sun event (sunset or dusk) on a date.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SunEvent {
    /// The instant, in UTC, to the millisecond.
    pub utc: DateTime<Utc>,
    /// The same instant on the local clock, to the millisecond.
    pub local: DateTime<Tz>,
    /// The local clock time truncated to the whole minute (seconds and
    /// fractions dropped, not rounded), as the veil-of-darkness analysis
    /// compares it with stop times recorded to the minute.
    pub local_minute: NaiveTime,
    /// `local_minute` as minutes since local midnight on the local clock
    /// (hour * 60 + minute, so a daylight-saving change earlier that day
    /// does not shift it).
    pub minutes_since_midnight: u32,
}

/// Sunset and dusk on a date.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SunTimes {
    /// The date asked for.
    pub date: NaiveDate,
    /// Sunset (altitude -0.833°), or `None` if the sun does not cross that
    /// altitude that day.
    pub sunset: Option<SunEvent>,
    /// Dusk (altitude -6°), or `None` if the sun does not cross that
    /// altitude that day.
    pub dusk: Option<SunEvent>,
}

/// Sunset and dusk for `date` at (`latitude`, `longitude`) in degrees
/// (north and east positive), in local time of `tz`.
pub fn sun_times(
    date: NaiveDate,
    latitude: f64,
    longitude: f64,
    tz: Tz,
) -> Result<SunTimes, SunError> {
    if !(latitude.is_finite() && (-90.0..=90.0).contains(&latitude)) {
        return Err(SunError::InvalidLatitude(latitude));
    }
    if !(longitude.is_finite() && (-180.0..=180.0).contains(&longitude)) {
        return Err(SunError::InvalidLongitude(longitude));
    }
    let noon = date
        .and_hms_opt(12, 0, 0)
        .ok_or(SunError::DateOutOfRange)?
        .and_utc()
        .timestamp_millis();
    let sets = set_julian_dates(
        noon as f64,
        latitude,
        longitude,
        &[SUNSET_ALTITUDE, DUSK_ALTITUDE],
    );
    let event = |j: Option<f64>| -> Result<Option<SunEvent>, SunError> {
        j.map(|j| to_event(j, tz)).transpose()
    };
    Ok(SunTimes {
        date,
        sunset: event(sets[0])?,
        dusk: event(sets[1])?,
    })
}

/// suncalc.js `getTimes`: Julian dates of the evening crossings of each
/// altitude (degrees), for the instant `ms` (milliseconds since the Unix
/// epoch). `None` where the hour angle does not exist.
fn set_julian_dates(ms: f64, lat: f64, lng: f64, altitudes: &[f64]) -> Vec<Option<f64>> {
    let lw = RAD * -lng;
    let phi = RAD * lat;
    let d = ms / DAY_MS - 0.5 + J1970 - J2000;
    // JavaScript's Math.round rounds halves up.
    let n = (d - J0 - lw / (2.0 * PI) + 0.5).floor();
    let ds = approx_transit(0.0, lw, n);
    let m = RAD * (357.5291 + 0.985_600_28 * ds);
    let c = RAD * (1.9148 * m.sin() + 0.02 * (2.0 * m).sin() + 0.0003 * (3.0 * m).sin());
    let l = m + c + RAD * 102.9372 + PI;
    let dec = (OBLIQUITY.sin() * l.sin()).asin();
    altitudes
        .iter()
        .map(|&h| {
            let h = h * RAD;
            let cos_w = (h.sin() - phi.sin() * dec.sin()) / (phi.cos() * dec.cos());
            let w = cos_w.acos();
            if w.is_nan() {
                return None;
            }
            let a = approx_transit(w, lw, n);
            Some(J2000 + a + 0.0053 * m.sin() - 0.0069 * (2.0 * l).sin())
        })
        .collect()
}

fn approx_transit(ht: f64, lw: f64, n: f64) -> f64 {
    J0 + (ht + lw) / (2.0 * PI) + n
}

/// Julian date to an event, truncating to whole milliseconds like
/// JavaScript's `new Date(ms)`.
fn to_event(j: f64, tz: Tz) -> Result<SunEvent, SunError> {
    let ms = ((j + 0.5 - J1970) * DAY_MS).trunc();
    if !ms.is_finite() || ms.abs() > 8.64e15 {
        return Err(SunError::DateOutOfRange);
    }
    let utc = Utc
        .timestamp_millis_opt(ms as i64)
        .single()
        .ok_or(SunError::DateOutOfRange)?;
    let local = utc.with_timezone(&tz);
    let (hour, minute) = (local.hour(), local.minute());
    let local_minute = NaiveTime::from_hms_opt(hour, minute, 0).ok_or(SunError::DateOutOfRange)?;
    Ok(SunEvent {
        utc,
        local,
        local_minute,
        minutes_since_midnight: hour * 60 + minute,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_coordinates() {
        let d = NaiveDate::from_ymd_opt(2020, 1, 1).unwrap();
        let tz = chrono_tz::UTC;
        assert!(matches!(
            sun_times(d, 91.0, 0.0, tz),
            Err(SunError::InvalidLatitude(_))
        ));
        assert!(matches!(
            sun_times(d, f64::NAN, 0.0, tz),
            Err(SunError::InvalidLatitude(_))
        ));
        assert!(matches!(
            sun_times(d, 0.0, 200.0, tz),
            Err(SunError::InvalidLongitude(_))
        ));
    }

    #[test]
    fn polar_night_and_day() {
        // Tromsø (69.65 N) has polar night in mid-December and midnight sun
        // in late June.
        let tz: Tz = "Europe/Oslo".parse().unwrap();
        let dec = NaiveDate::from_ymd_opt(2021, 12, 20).unwrap();
        let t = sun_times(dec, 69.65, 18.96, tz).unwrap();
        assert!(t.sunset.is_none());
        assert!(t.dusk.is_some()); // civil twilight still happens
        let jun = NaiveDate::from_ymd_opt(2021, 6, 21).unwrap();
        let t = sun_times(jun, 69.65, 18.96, tz).unwrap();
        assert!(t.sunset.is_none());
        assert!(t.dusk.is_none());
    }

    #[test]
    fn minute_fields_are_consistent() {
        let tz: Tz = "America/New_York".parse().unwrap();
        let d = NaiveDate::from_ymd_opt(2019, 3, 10).unwrap(); // DST starts
        let t = sun_times(d, 40.7, -74.0, tz).unwrap();
        let s = t.sunset.unwrap();
        assert_eq!(s.local_minute.second(), 0);
        assert_eq!(
            s.minutes_since_midnight,
            s.local.hour() * 60 + s.local.minute()
        );
        assert!(t.dusk.unwrap().utc > s.utc);
    }
}
