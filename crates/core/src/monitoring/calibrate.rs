//! Fitting a clinic's own parameters from its data, when it has enough of it.
//!
//! - The clinic-wide within-client SD of each alliance measure (the between-client reference of
//!   Gumz et al. 2012): pooled from cases with at least 3 scores, once 20 such cases exist.
//! - Low early alliance: the clinic's 25th percentile of the first client alliance score in
//!   sessions 1–3 (statistics reference, dropout factors), once 30 cases have one.
//! - Expected outcome courses: fitted on closed cases (see [`super::expected`]).

use super::expected::{quantile, ExpectedTrajectories};
use super::signals::{CaseData, Rules};

/// Cases with at least 3 scores needed before the clinic's own noise is used.
pub const MIN_CASES_NOISE: usize = 20;
/// Cases with an early alliance score needed before the clinic's own 25th percentile is used.
pub const MIN_CASES_EARLY: usize = 30;

/// One case as calibration sees it.
pub struct CalibrationCase<'a> {
    pub closed: bool,
    pub data: &'a CaseData,
}

/// Pooled within-client SD: sqrt of the mean within-case variance over cases with ≥ 3 scores.
pub fn pooled_within_sd(courses: &[Vec<f64>]) -> Option<f64> {
    let vars: Vec<f64> = courses
        .iter()
        .filter(|c| c.len() >= 3)
        .map(|c| {
            let m = c.iter().sum::<f64>() / c.len() as f64;
            c.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (c.len() - 1) as f64
        })
        .collect();
    if vars.len() < MIN_CASES_NOISE {
        return None;
    }
    Some((vars.iter().sum::<f64>() / vars.len() as f64).sqrt())
}

/// Returns `base` with the clinic's own figures wherever it has enough data.
pub fn calibrate(mut rules: Rules, cases: &[CalibrationCase<'_>]) -> Rules {
    for (measure, rule) in rules.ruptures.iter_mut() {
        let courses: Vec<Vec<f64>> = cases
            .iter()
            .filter_map(|c| c.data.series.get(measure))
            .map(|pts| pts.iter().map(|p| p.value).collect())
            .collect();
        rule.clinic_noise = pooled_within_sd(&courses);
    }
    let mut basis = Vec::new();
    for (measure, cut) in rules.thresholds.low_early.iter_mut() {
        let mut firsts: Vec<f64> = cases
            .iter()
            .filter_map(|c| c.data.series.get(measure))
            .filter_map(|pts| pts.iter().find(|p| p.session <= 3))
            .map(|p| p.value)
            .collect();
        if firsts.len() >= MIN_CASES_EARLY {
            firsts.sort_by(f64::total_cmp);
            *cut = quantile(&firsts, 0.25);
            basis.push(format!(
                "{measure}: this clinic's 25th percentile of early scores ({} cases)",
                firsts.len()
            ));
        }
    }
    if !basis.is_empty() {
        rules.thresholds.low_early_basis = basis.join("; ");
    }
    let mut expected = ExpectedTrajectories::default();
    for measure in rules.change.keys() {
        let courses: Vec<Vec<super::rupture::Point>> = cases
            .iter()
            .filter(|c| c.closed)
            .filter_map(|c| c.data.series.get(measure))
            .cloned()
            .collect();
        if let Some(m) = ExpectedTrajectories::fit(&courses, 3) {
            expected.models.insert(measure.clone(), m);
        }
    }
    rules.expected = expected;
    rules
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pooled_sd_by_hand() {
        // Two-value courses are ignored; each 3-value course [1,2,3] has variance 1 → SD 1.
        let mut courses = vec![vec![1.0, 2.0, 3.0]; 20];
        courses.push(vec![0.0, 100.0]);
        assert_eq!(pooled_within_sd(&courses), Some(1.0));
        assert_eq!(pooled_within_sd(&courses[..19]), None);
    }

    #[test]
    fn the_early_cut_off_becomes_the_clinics_25th_percentile() {
        let cases: Vec<CaseData> = (0..40)
            .map(|i| {
                let mut c = CaseData::default();
                c.add("wai_sr.total", 1, 30.0 + f64::from(i % 20));
                c
            })
            .collect();
        let cal: Vec<CalibrationCase> = cases
            .iter()
            .map(|d| CalibrationCase {
                closed: false,
                data: d,
            })
            .collect();
        let rules = calibrate(Rules::default(), &cal);
        // Values 30..49, each twice: the 25th percentile sits at rank 0.25 · 39 = 9.75, between
        // sorted[9] = 34 and sorted[10] = 35 → 34.75.
        assert!((rules.thresholds.low_early["wai_sr.total"] - 34.75).abs() < 1e-9);
        assert!(rules.thresholds.low_early_basis.contains("25th percentile"));
    }
}
