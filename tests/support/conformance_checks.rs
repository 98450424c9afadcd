//! Assertions on a conformance report that the conformance and guide tests share.

use p8sync::conformance::{Outcome, Report};

/// Assert that every one of `checks` ran and passed: skipping one would hide a break.
/// `run` names the run in the message, e.g. `" in replay"`.
pub fn assert_checks_pass(report: &Report, checks: &[&str], run: &str) {
    for check in checks {
        assert!(
            matches!(report.check(check), Some(Outcome::Pass(_))),
            "`{check}` did not pass{run}:\n{report}"
        );
    }
}
