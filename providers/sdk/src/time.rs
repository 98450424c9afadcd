//! Conversions into the contract's `timestamp`.

use crate::types::Timestamp;
use std::time::{SystemTime, UNIX_EPOCH};

/// A `SystemTime` as a contract timestamp (times before 1970 are negative).
pub fn from_system_time(time: SystemTime) -> Timestamp {
    match time.duration_since(UNIX_EPOCH) {
        Ok(d) => Timestamp {
            seconds: d.as_secs() as i64,
            nanoseconds: d.subsec_nanos(),
        },
        Err(e) => {
            let d = e.duration();
            if d.subsec_nanos() == 0 {
                Timestamp {
                    seconds: -(d.as_secs() as i64),
                    nanoseconds: 0,
                }
            } else {
                Timestamp {
                    seconds: -(d.as_secs() as i64) - 1,
                    nanoseconds: 1_000_000_000 - d.subsec_nanos(),
                }
            }
        }
    }
}
