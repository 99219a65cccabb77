//! Outcome change: reliable change (Jacobson & Truax, 1991), clinically significant change, and
//! the routine services' recovery rules (NHS Talking Therapies, formerly IAPT; Gyani et al. 2013).

use serde::Serialize;

/// z for a two-sided p < .05 (Jacobson & Truax, 1991).
pub const Z_95: f64 = 1.96;

/// Standard error of measurement: SE = s1 · sqrt(1 − r_xx) (Jacobson & Truax, 1991).
///
/// ```
/// let se = bordin_core::monitoring::change::standard_error(5.0, 0.84);
/// assert!((se - 2.0).abs() < 1e-12);
/// ```
pub fn standard_error(sd_reference: f64, reliability: f64) -> f64 {
    sd_reference * (1.0 - reliability).sqrt()
}

/// Standard error of the difference: S_diff = sqrt(2 · SE²) (Jacobson & Truax, 1991).
pub fn s_diff(sd_reference: f64, reliability: f64) -> f64 {
    (2.0 * standard_error(sd_reference, reliability).powi(2)).sqrt()
}

/// Reliable change index RC = (x_post − x_pre) / S_diff (Jacobson & Truax, 1991).
///
/// ```
/// use bordin_core::monitoring::change::rci;
/// // s1 = 5, r = .84 → SE = 2, S_diff = 2.828…; a fall from 18 to 10 gives RC = −2.83.
/// assert!((rci(18.0, 10.0, 5.0, 0.84) + 2.8284).abs() < 1e-3);
/// ```
pub fn rci(pre: f64, post: f64, sd_reference: f64, reliability: f64) -> f64 {
    (post - pre) / s_diff(sd_reference, reliability)
}

/// The smallest change in raw points that is reliable: 1.96 · S_diff.
pub fn reliable_change_points(sd_reference: f64, reliability: f64) -> f64 {
    Z_95 * s_diff(sd_reference, reliability)
}

/// Jacobson & Truax's cut-off between the dysfunctional and functional populations.
///
/// With both norms, c = (SD_func · M_dys + SD_dys · M_func) / (SD_func + SD_dys) (preferred);
/// with the clinical norm only, a = M_dys − 2 · SD_dys when lower is healthier (M_dys + 2 · SD_dys
/// when higher is healthier).
pub fn clinical_cutoff(
    mean_dys: f64,
    sd_dys: f64,
    functional: Option<(f64, f64)>,
    lower_is_better: bool,
) -> f64 {
    match functional {
        Some((mean_func, sd_func)) => {
            (sd_func * mean_dys + sd_dys * mean_func) / (sd_func + sd_dys)
        }
        None if lower_is_better => mean_dys - 2.0 * sd_dys,
        None => mean_dys + 2.0 * sd_dys,
    }
}

/// How to judge change on one measure.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChangeRule {
    pub higher_is_better: bool,
    /// Smallest reliable change in raw points (a published fixed threshold, or 1.96 · S_diff).
    pub reliable_points: f64,
    /// Caseness: a score at or beyond this (in the unhealthy direction) is a clinical case.
    pub caseness: Option<f64>,
    /// Where the figures come from.
    pub basis: String,
}

impl ChangeRule {
    /// The rule from an instrument scale's declared norms: a published fixed threshold when the
    /// file gives one, else 1.96 · S_diff from its SD and reliability. `None` when neither exists.
    pub fn from_norms(n: &crate::instrument::ChangeNorms) -> Option<Self> {
        let reliable_points = match (n.reliable_change, n.sd_clinical, n.reliability) {
            (Some(fixed), _, _) => fixed,
            (None, Some(sd), Some(r)) => reliable_change_points(sd, r),
            _ => return None,
        };
        let caseness = n.caseness.or_else(|| {
            n.mean_clinical.zip(n.sd_clinical).map(|(m, sd)| {
                clinical_cutoff(
                    m,
                    sd,
                    n.mean_functional.zip(n.sd_functional),
                    !n.higher_is_better,
                )
            })
        });
        Some(Self {
            higher_is_better: n.higher_is_better,
            reliable_points,
            caseness,
            basis: n.source.clone(),
        })
    }

    /// Change from `pre` to `post` in the "better" direction (positive = improvement).
    pub fn improvement(&self, pre: f64, post: f64) -> f64 {
        if self.higher_is_better {
            post - pre
        } else {
            pre - post
        }
    }

    /// Whether a score is a clinical case under this rule.
    pub fn is_case(&self, score: f64) -> Option<bool> {
        self.caseness.map(|c| {
            if self.higher_is_better {
                score <= c
            } else {
                score >= c
            }
        })
    }

    /// Classifies the change from intake to now.
    ///
    /// Categories (Jacobson & Truax, 1991; recovery as in NHS Talking Therapies, Gyani et al.
    /// 2013): `Recovered` = reliable improvement and moved from case to non-case; `Improved` =
    /// reliable improvement only; `Deteriorated` = reliable deterioration; else `Unchanged`.
    pub fn classify(&self, pre: f64, post: f64) -> ChangeClass {
        let d = self.improvement(pre, post);
        // A threshold is met at equality: "≥ 6 points" on PHQ-9.
        let eps = 1e-9;
        if d <= -self.reliable_points + eps {
            ChangeClass::Deteriorated
        } else if d >= self.reliable_points - eps {
            match (self.is_case(pre), self.is_case(post)) {
                (Some(true), Some(false)) => ChangeClass::Recovered,
                _ => ChangeClass::Improved,
            }
        } else {
            ChangeClass::Unchanged
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeClass {
    Recovered,
    Improved,
    Unchanged,
    Deteriorated,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phq9() -> ChangeRule {
        ChangeRule {
            higher_is_better: false,
            reliable_points: 6.0,
            caseness: Some(10.0),
            basis: "IAPT".into(),
        }
    }

    #[test]
    fn jacobson_truax_by_hand() {
        // s1 = 7.5, r = .91 → SE = 7.5 · 0.3 = 2.25; S_diff = 2.25 · √2 = 3.18198; 1.96 · S_diff = 6.2367.
        assert!((standard_error(7.5, 0.91) - 2.25).abs() < 1e-12);
        assert!((s_diff(7.5, 0.91) - 3.181_980_5).abs() < 1e-6);
        assert!((reliable_change_points(7.5, 0.91) - 6.236_682).abs() < 1e-5);
        // c = (4 · 25 + 6 · 5) / (4 + 6) = 130 / 10 = 13; a = 25 − 2 · 6 = 13; a (higher better) = 20 + 2 · 5 = 30.
        assert!((clinical_cutoff(25.0, 6.0, Some((5.0, 4.0)), true) - 13.0).abs() < 1e-12);
        assert!((clinical_cutoff(25.0, 6.0, None, true) - 13.0).abs() < 1e-12);
        assert!((clinical_cutoff(20.0, 5.0, None, false) - 30.0).abs() < 1e-12);
    }

    #[test]
    fn phq9_categories_at_the_thresholds() {
        let r = phq9();
        assert_eq!(r.classify(16.0, 10.0), ChangeClass::Improved); // fell 6, still a case (10)
        assert_eq!(r.classify(16.0, 9.0), ChangeClass::Recovered); // fell 7, case → non-case
        assert_eq!(r.classify(12.0, 7.0), ChangeClass::Unchanged); // fell 5: not reliable
        assert_eq!(r.classify(8.0, 14.0), ChangeClass::Deteriorated); // rose 6
        assert_eq!(r.classify(8.0, 13.0), ChangeClass::Unchanged);
        assert_eq!(r.classify(9.0, 2.0), ChangeClass::Improved); // not a case at intake: not "recovered"
    }
}
