//! Monitoring statistics: pure functions from a case's scores to the signals a clinician acts on.
//! Each rule cites its source; `shared/reference/statistics.md` collects them.

pub mod calibrate;
pub mod change;
pub mod expected;
pub mod rupture;
pub mod signals;
pub mod suggestions;
