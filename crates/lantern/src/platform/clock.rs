//! The time source. Production reads the system clock; tests move a manual clock forward to
//! check lockouts and idle timeouts without sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Utc};

#[derive(Clone, Debug, Default)]
pub struct Clock {
    manual: Option<Arc<AtomicI64>>,
}

impl Clock {
    pub fn system() -> Clock {
        Clock { manual: None }
    }

    /// A clock that stands still at `unix_seconds` until [`Clock::advance`] moves it.
    pub fn manual(unix_seconds: i64) -> Clock {
        Clock {
            manual: Some(Arc::new(AtomicI64::new(unix_seconds))),
        }
    }

    /// Seconds since the Unix epoch.
    pub fn unix(&self) -> i64 {
        match &self.manual {
            Some(t) => t.load(Ordering::SeqCst),
            None => Utc::now().timestamp(),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.unix(), 0).expect("clock within chrono's range")
    }

    /// Moves a manual clock forward. Does nothing to the system clock.
    pub fn advance(&self, seconds: i64) {
        if let Some(t) = &self.manual {
            t.fetch_add(seconds, Ordering::SeqCst);
        }
    }
}

/// Formats stored seconds for people: `2026-11-21 14:05 UTC`, or in the agency's zone.
pub fn format_unix(unix: i64, tz: chrono_tz::Tz) -> String {
    match DateTime::from_timestamp(unix, 0) {
        Some(t) => t.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z").to_string(),
        None => String::from("?"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = Clock::manual(1_000);
        assert_eq!(c.unix(), 1_000);
        c.advance(61);
        assert_eq!(c.unix(), 1_061);
        assert_eq!(c.clone().unix(), 1_061, "clones share the same time");
    }

    #[test]
    fn formats_in_the_agency_zone() {
        // 2026-07-01 12:00 UTC is 07:00 in Chicago (daylight saving time).
        let t = 1_782_907_200;
        assert_eq!(
            format_unix(t, chrono_tz::America::Chicago),
            "2026-07-01 07:00 CDT"
        );
    }
}
