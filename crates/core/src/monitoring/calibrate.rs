//! Fitting a clinic's own parameters from its data, when it has enough of it.
//!
//! - The clinic-wide within-client SD of each alliance measure (the between-client reference of
//!   Gumz et al. 2012): pooled from cases with at least 3 scores, once 20 such cases exist.
//! - Low early alliance: the clinic's 25th percentile of the first client alliance score in
//!   sessions 1–3 (statistics reference, dropout factors), once 30 cases have one.
//! - Expected outcome courses: fitted on closed cases (see [`super::expected`]).

use super::expected::{quantile, ExpectedTrajectories};
use super::signals::{dropout_features, CaseData, Rules};

/// Cases with at least 3 scores needed before the clinic's own noise is used.
pub const MIN_CASES_NOISE: usize = 20;
/// Cases with an early alliance score needed before the clinic's own 25th percentile is used.
pub const MIN_CASES_EARLY: usize = 30;

/// One case as calibration sees it.
pub struct CalibrationCase<'a> {
    /// The case has ended (closed or dropped out).
    pub closed: bool,
    /// The case ended by the client dropping out.
    pub dropped_out: bool,
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
    calibrate_dropout(&mut rules, cases);
    rules
}

/// Ended cases needed before dropout weights are fitted, and of each outcome among them.
pub const MIN_CASES_DROPOUT: usize = 100;
pub const MIN_EACH_OUTCOME: usize = 20;
/// Predicted dropout probability at which a fitted model raises the signal.
pub const DROPOUT_PROBABILITY: f64 = 0.3;

/// Fits the dropout weights by logistic regression on the clinic's ended cases (statistics
/// reference: "calibrate weights on the clinic's own closed cases when enough exist"). The
/// weights become the fitted log-odds of each factor (a factor the data show as protective gets
/// weight 0: the factors are documented risks), and the signal is raised at a predicted
/// probability of 30%: Σ wᵢxᵢ ≥ logit(0.3) − β₀, never below the smallest positive weight, so a
/// case with no factor present is never signalled.
fn calibrate_dropout(rules: &mut Rules, cases: &[CalibrationCase<'_>]) {
    let ended: Vec<&CalibrationCase> = cases.iter().filter(|c| c.closed).collect();
    let dropouts = ended.iter().filter(|c| c.dropped_out).count();
    if ended.len() < MIN_CASES_DROPOUT
        || dropouts < MIN_EACH_OUTCOME
        || ended.len() - dropouts < MIN_EACH_OUTCOME
    {
        return;
    }
    let xs: Vec<[f64; 5]> = ended
        .iter()
        .map(|c| dropout_features(c.data, rules).map(|p| if p { 1.0 } else { 0.0 }))
        .collect();
    let ys: Vec<f64> = ended
        .iter()
        .map(|c| if c.dropped_out { 1.0 } else { 0.0 })
        .collect();
    let Some(beta) = logistic_fit(&xs, &ys, 1.0) else {
        return;
    };
    let weights: [f64; 5] = std::array::from_fn(|i| beta[i + 1].max(0.0));
    let logit = (DROPOUT_PROBABILITY / (1.0 - DROPOUT_PROBABILITY)).ln();
    let min_w = weights
        .iter()
        .copied()
        .filter(|w| *w > 0.0)
        .fold(f64::INFINITY, f64::min);
    let t = &mut rules.thresholds;
    t.dropout_weights = weights.map(|w| (w * 100.0).round() / 100.0);
    t.dropout_signal_at =
        ((logit - beta[0]).max(if min_w.is_finite() { min_w } else { 1.0 }) * 100.0).round()
            / 100.0;
    t.dropout_basis = format!(
        "fitted by logistic regression on this clinic's {} ended cases ({} dropped out); weights are log-odds; signal at a predicted dropout probability of {:.0}%",
        ended.len(),
        dropouts,
        DROPOUT_PROBABILITY * 100.0
    );
}

/// Logistic regression with an intercept by iteratively reweighted least squares (Newton's
/// method), with a small ridge penalty `lambda` on the slopes so that a factor present only in
/// dropouts (perfect separation) still gives a finite weight. Returns [β₀, β₁ … β₅].
///
/// Written here rather than taken from a crate: six parameters need a 6 × 6 solve, which does not
/// justify a linear-algebra dependency in the pure core.
pub fn logistic_fit(xs: &[[f64; 5]], ys: &[f64], lambda: f64) -> Option<[f64; 6]> {
    const P: usize = 6;
    let mut beta = [0.0f64; P];
    for _ in 0..50 {
        let mut grad = [0.0f64; P];
        let mut hess = [[0.0f64; P]; P];
        for (x, &y) in xs.iter().zip(ys) {
            let row: [f64; P] = [1.0, x[0], x[1], x[2], x[3], x[4]];
            let eta: f64 = row.iter().zip(&beta).map(|(a, b)| a * b).sum();
            let p = 1.0 / (1.0 + (-eta).exp());
            let w = p * (1.0 - p);
            for i in 0..P {
                grad[i] += (y - p) * row[i];
                for j in 0..P {
                    hess[i][j] += w * row[i] * row[j];
                }
            }
        }
        for i in 1..P {
            grad[i] -= lambda * beta[i];
            hess[i][i] += lambda;
        }
        let step = solve(hess, grad)?;
        let mut change = 0.0f64;
        for i in 0..P {
            beta[i] += step[i];
            change = change.max(step[i].abs());
        }
        if change < 1e-8 {
            return Some(beta);
        }
    }
    beta.iter().all(|b| b.is_finite()).then_some(beta)
}

/// Solves a·x = b by Gaussian elimination with partial pivoting; `None` if singular.
fn solve<const N: usize>(mut a: [[f64; N]; N], mut b: [f64; N]) -> Option<[f64; N]> {
    for col in 0..N {
        let pivot = (col..N).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() < 1e-12 {
            return None;
        }
        a.swap(col, pivot);
        b.swap(col, pivot);
        let (top, rest) = a.split_at_mut(col + 1);
        let pivot_row = &top[col];
        for (i, r) in rest.iter_mut().enumerate() {
            let f = r[col] / pivot_row[col];
            for (x, p) in r[col..].iter_mut().zip(&pivot_row[col..]) {
                *x -= f * p;
            }
            b[col + 1 + i] -= f * b[col];
        }
    }
    let mut x = [0.0; N];
    for i in (0..N).rev() {
        let s: f64 = (i + 1..N).map(|k| a[i][k] * x[k]).sum();
        x[i] = (b[i] - s) / a[i][i];
    }
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logistic_regression_recovers_a_known_effect() {
        // 400 cases: factor 1 present in half; dropout 60% with it, 20% without; others absent.
        // Unpenalised, β₀ = logit(0.2) = −1.386 and β₁ = logit(0.6) − logit(0.2) = 1.792.
        let mut xs = Vec::new();
        let mut ys = Vec::new();
        for i in 0..400 {
            let f = i % 2 == 0;
            let k = i / 2 % 10;
            xs.push([if f { 1.0 } else { 0.0 }, 0.0, 0.0, 0.0, 0.0]);
            ys.push(if (f && k < 6) || (!f && k < 2) {
                1.0
            } else {
                0.0
            });
        }
        // Columns that are always 0 need the ridge to stay solvable; it shrinks β₁ only a little.
        let b = logistic_fit(&xs, &ys, 1e-6).unwrap();
        assert!((b[0] + 1.386).abs() < 0.01, "{b:?}");
        assert!((b[1] - 1.792).abs() < 0.01, "{b:?}");
        assert!(b[2].abs() < 1e-3);
    }

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
                dropped_out: false,
                data: d,
            })
            .collect();
        let rules = calibrate(Rules::default(), &cal);
        // Values 30..49, each twice: the 25th percentile sits at rank 0.25 · 39 = 9.75, between
        // sorted[9] = 34 and sorted[10] = 35 → 34.75.
        assert!((rules.thresholds.low_early["wai_sr.total"] - 34.75).abs() < 1e-9);
        assert!(rules.thresholds.low_early_basis.contains("25th percentile"));
    }

    #[test]
    fn dropout_weights_are_fitted_on_enough_ended_cases() {
        // 120 ended cases: 25 dropped out after a low first Session Check (10), 95 completed with
        // ordinary ones (30–39). The early-alliance factor should carry a clearly positive weight.
        let cases: Vec<(bool, CaseData)> = (0..120)
            .map(|i| {
                let mut c = CaseData::default();
                let dropped = i < 25;
                c.add(
                    "session_check.total",
                    1,
                    if dropped {
                        10.0
                    } else {
                        30.0 + f64::from(i % 10)
                    },
                );
                c.add(
                    "session_check.total",
                    2,
                    if dropped {
                        12.0
                    } else {
                        32.0 + f64::from(i % 8)
                    },
                );
                (dropped, c)
            })
            .collect();
        let cal: Vec<CalibrationCase> = cases
            .iter()
            .map(|(d, c)| CalibrationCase {
                closed: true,
                dropped_out: *d,
                data: c,
            })
            .collect();
        let registry = crate::Registry::builtin().unwrap();
        let rules = calibrate(Rules::for_registry(&registry), &cal);
        let t = &rules.thresholds;
        assert!(
            t.dropout_basis.contains(
                "fitted by logistic regression on this clinic's 120 ended cases (25 dropped out)"
            ),
            "{}",
            t.dropout_basis
        );
        assert!(t.dropout_weights[0] > 2.0, "{:?}", t.dropout_weights);
        // With too few ended cases the documented defaults stay.
        let few = calibrate(Rules::for_registry(&registry), &cal[..90]);
        assert_eq!(few.thresholds.dropout_weights, [2.0, 2.0, 1.5, 1.0, 1.5]);
    }
}
