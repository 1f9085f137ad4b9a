//! The size gate of `cargo xtask test`: a figure measured now, the way its report measures
//! it, against the same figure in the report's committed JSON. Growth of more than 1% fails
//! until the report is refreshed and committed with the change that grew it, so that every
//! step up is a decision someone made, not drift.

use anyhow::{anyhow, bail, Result};

/// Growth over the committed figure that still passes, in per cent.
pub const MAX_GROWTH_PERCENT: u64 = 1;

/// `current` against `baseline`: Ok with a line to print, or Err naming both numbers, the
/// growth and `refresh`, the command that writes a new baseline.
pub fn check(figure: &str, baseline: u64, current: u64, refresh: &str) -> Result<String> {
    if baseline == 0 {
        bail!("{figure}: the committed baseline is 0 B; refresh it: {refresh}");
    }
    let growth = (current as f64 - baseline as f64) * 100.0 / baseline as f64;
    // In integers, so that exactly 1% passes whatever the rounding.
    if u128::from(current) * 100 > u128::from(baseline) * u128::from(100 + MAX_GROWTH_PERCENT) {
        Err(anyhow!(
            "{figure}: {current} B now, {baseline} B committed: {growth:+.2}%, more than \
             {MAX_GROWTH_PERCENT}%. If the growth is meant, refresh the baseline in the same \
             commit: {refresh}"
        ))
    } else if current < baseline {
        Ok(format!(
            "{figure}: {current} B now, {baseline} B committed ({growth:+.2}%): the baseline \
             can be lowered: {refresh}"
        ))
    } else {
        Ok(format!(
            "{figure}: {current} B now, {baseline} B committed ({growth:+.2}%)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REFRESH: &str = "cargo xtask size, then commit docs/size-report.json";

    #[test]
    fn growth_up_to_one_per_cent_passes() {
        assert!(check("x", 10_000, 10_090, REFRESH).is_ok());
        assert!(check("x", 10_000, 10_100, REFRESH).is_ok());
        assert!(check("x", 10_000, 10_000, REFRESH).is_ok());
    }

    #[test]
    fn growth_over_one_per_cent_fails_naming_numbers_growth_and_command() {
        let e = check("rinet's own layer", 10_000, 10_110, REFRESH)
            .unwrap_err()
            .to_string();
        assert!(e.contains("rinet's own layer"), "{e}");
        assert!(
            e.contains("10110 B now") && e.contains("10000 B committed"),
            "{e}"
        );
        assert!(e.contains("+1.10%"), "{e}");
        assert!(e.contains(REFRESH), "{e}");
        // One byte over the limit.
        assert!(check("x", 10_000, 10_101, REFRESH).is_err());
    }

    #[test]
    fn shrinking_passes_with_a_hint_to_lower_the_baseline() {
        let ok = check("x", 10_000, 9_000, REFRESH).unwrap();
        assert!(
            ok.contains("-10.00%") && ok.contains("can be lowered"),
            "{ok}"
        );
        assert!(!check("x", 10_000, 10_050, REFRESH)
            .unwrap()
            .contains("lowered"));
    }

    #[test]
    fn a_zero_baseline_is_an_error() {
        assert!(check("x", 0, 0, REFRESH).is_err());
    }
}
