//! Expected trajectories and "not on track".
//!
//! Lambert's expected recovery curves (Finch, Lambert & Schaalje 2001) model the expected score at
//! each session from the intake score (log-linear in session number) and signal a client whose
//! score is worse than the expected band. Bordin fits that model on the clinic's own closed cases
//! once it has enough of them (default 200 per measure): cases are grouped by intake score into
//! bands, score_t = a + b · ln(t) is fitted per band by least squares, and the 10th–90th
//! percentiles of the residuals give the tolerance band. Until then it uses the published
//! fallback rule in `shared/reference/statistics.md`: no reliable improvement by session 6, or
//! less than half the reliable-change threshold by session 4. Every judgement says which basis
//! was used.

use std::collections::BTreeMap;

use serde::Serialize;

use super::change::ChangeRule;
use super::rupture::Point;

/// A log-linear expected course for one intake band.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BandModel {
    /// Intake scores in [intake_min, intake_max] use this band.
    pub intake_min: f64,
    pub intake_max: f64,
    pub a: f64,
    pub b: f64,
    /// 10th and 90th percentiles of the residuals.
    pub p10: f64,
    pub p90: f64,
    pub cases: usize,
}

impl BandModel {
    pub fn expected(&self, session: i64) -> f64 {
        self.a + self.b * (session.max(1) as f64).ln()
    }
}

/// The fitted models of one measure.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MeasureModel {
    pub bands: Vec<BandModel>,
    pub closed_cases: usize,
}

/// Expected trajectories per measure, fitted from the clinic's closed cases where possible.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ExpectedTrajectories {
    pub models: BTreeMap<String, MeasureModel>,
}

/// How the latest score compares with what was expected.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Judgement {
    pub off_track: bool,
    /// `clinic` (fitted on its closed cases) or `published_rule`.
    pub basis: &'static str,
    pub expected: Option<f64>,
    /// The tolerance band (10th–90th percentile), when fitted.
    pub band: Option<(f64, f64)>,
    pub reason: String,
}

/// Least-squares fit of y = a + b · x.
fn fit_line(xs: &[f64], ys: &[f64]) -> Option<(f64, f64)> {
    let n = xs.len() as f64;
    if xs.len() < 2 {
        return None;
    }
    let (mx, my) = (xs.iter().sum::<f64>() / n, ys.iter().sum::<f64>() / n);
    let sxx: f64 = xs.iter().map(|x| (x - mx).powi(2)).sum();
    if sxx <= 0.0 {
        return None;
    }
    let sxy: f64 = xs.iter().zip(ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let b = sxy / sxx;
    Some((my - b * mx, b))
}

/// The q-quantile (0..=1) of sorted values, linear between ranks.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

impl ExpectedTrajectories {
    /// Minimum closed cases with the measure before the clinic's own model is used.
    pub const MIN_CASES: usize = 200;

    /// Fits the model of one measure from closed cases (each a course in session order) with
    /// `bands` intake bands of equal size. `None` with fewer than [`Self::MIN_CASES`] cases.
    pub fn fit(courses: &[Vec<Point>], bands: usize) -> Option<MeasureModel> {
        let usable: Vec<&Vec<Point>> = courses.iter().filter(|c| c.len() >= 2).collect();
        if usable.len() < Self::MIN_CASES || bands == 0 {
            return None;
        }
        let mut by_intake: Vec<&Vec<Point>> = usable;
        by_intake.sort_by(|a, b| a[0].value.total_cmp(&b[0].value));
        let per = by_intake.len().div_ceil(bands);
        let mut out = Vec::new();
        for chunk in by_intake.chunks(per) {
            let (mut xs, mut ys) = (Vec::new(), Vec::new());
            for c in chunk {
                for p in c.iter() {
                    xs.push((p.session.max(1) as f64).ln());
                    ys.push(p.value);
                }
            }
            let (a, b) = fit_line(&xs, &ys)?;
            let mut res: Vec<f64> = xs.iter().zip(&ys).map(|(x, y)| y - (a + b * x)).collect();
            res.sort_by(f64::total_cmp);
            out.push(BandModel {
                intake_min: chunk[0][0].value,
                intake_max: chunk[chunk.len() - 1][0].value,
                a,
                b,
                p10: quantile(&res, 0.10),
                p90: quantile(&res, 0.90),
                cases: chunk.len(),
            });
        }
        Some(MeasureModel {
            bands: out,
            closed_cases: by_intake.len(),
        })
    }

    /// Judges the latest score of a course.
    pub fn judge(
        &self,
        measure: &str,
        rule: &ChangeRule,
        intake: f64,
        session: i64,
        value: f64,
    ) -> Option<Judgement> {
        if let Some(m) = self.models.get(measure) {
            let band = m
                .bands
                .iter()
                .find(|b| intake >= b.intake_min && intake <= b.intake_max)
                .or_else(|| {
                    if intake < m.bands.first()?.intake_min {
                        m.bands.first()
                    } else {
                        m.bands.last()
                    }
                })?;
            let expected = band.expected(session);
            let (lo, hi) = (expected + band.p10, expected + band.p90);
            let off_track = if rule.higher_is_better {
                value < lo
            } else {
                value > hi
            };
            return Some(Judgement {
                off_track,
                basis: "clinic",
                expected: Some(expected),
                band: Some((lo, hi)),
                reason: format!(
                    "expected about {expected:.1} (80% of this clinic's similar cases between {lo:.1} and {hi:.1}; fitted on {} closed cases).",
                    m.closed_cases
                ),
            });
        }
        // Published fallback. Only a case that starts as a clinical case can be off track.
        if rule.is_case(intake) == Some(false) {
            return None;
        }
        let gained = rule.improvement(intake, value);
        let (off_track, reason) = if session >= 6 {
            (gained < rule.reliable_points, format!("no reliable improvement by session 6 (improved {gained:.1}; reliable change is {} points). Basis: published rule, the clinic has too few closed cases for its own expected course.", rule.reliable_points))
        } else if session >= 4 {
            let half = rule.reliable_points / 2.0;
            (gained < half, format!("less than half the reliable change by session 4 (improved {gained:.1}; half is {half:.1}). Basis: published rule, the clinic has too few closed cases for its own expected course."))
        } else {
            return None;
        };
        Some(Judgement {
            off_track,
            basis: "published_rule",
            expected: None,
            band: None,
            reason,
        })
    }
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
    fn the_published_rule_at_sessions_4_and_6() {
        let e = ExpectedTrajectories::default();
        let r = phq9();
        assert!(e.judge("phq9.total", &r, 18.0, 3, 18.0).is_none()); // too early
        assert!(e.judge("phq9.total", &r, 18.0, 4, 16.0).unwrap().off_track); // 2 < 3
        assert!(!e.judge("phq9.total", &r, 18.0, 4, 15.0).unwrap().off_track); // 3 ≥ 3
        assert!(e.judge("phq9.total", &r, 18.0, 6, 13.0).unwrap().off_track); // 5 < 6
        assert!(!e.judge("phq9.total", &r, 18.0, 6, 12.0).unwrap().off_track);
        assert!(e.judge("phq9.total", &r, 7.0, 6, 7.0).is_none()); // not a case at intake
        assert_eq!(
            e.judge("phq9.total", &r, 18.0, 6, 13.0).unwrap().basis,
            "published_rule"
        );
    }

    #[test]
    fn a_fitted_line_by_hand() {
        // y = 20 − 5 · ln t exactly: a = 20, b = −5.
        let xs: Vec<f64> = (1..=5).map(|t| (t as f64).ln()).collect();
        let ys: Vec<f64> = xs.iter().map(|x| 20.0 - 5.0 * x).collect();
        let (a, b) = fit_line(&xs, &ys).unwrap();
        assert!((a - 20.0).abs() < 1e-9 && (b + 5.0).abs() < 1e-9);
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0, 5.0], 0.1), 1.4);
    }

    #[test]
    fn the_clinic_model_is_used_from_200_closed_cases() {
        // 200 cases from 18 following 18 − 4 · ln t, residuals ±1 alternating.
        let courses: Vec<Vec<Point>> = (0..200)
            .map(|c| {
                (1..=8)
                    .map(|t| Point {
                        session: t,
                        value: 18.0 - 4.0 * (t as f64).ln()
                            + if (c + t) % 2 == 0 { 1.0 } else { -1.0 },
                    })
                    .collect()
            })
            .collect();
        assert!(ExpectedTrajectories::fit(&courses[..199], 1).is_none());
        let m = ExpectedTrajectories::fit(&courses, 1).unwrap();
        let mut e = ExpectedTrajectories::default();
        e.models.insert("phq9.total".into(), m);
        let j = e
            .judge("phq9.total", &phq9(), 18.0, 6, 18.0 - 4.0 * 6f64.ln())
            .unwrap();
        assert_eq!((j.basis, j.off_track), ("clinic", false));
        assert!(
            e.judge("phq9.total", &phq9(), 18.0, 6, 16.0)
                .unwrap()
                .off_track
        ); // 16 > 10.8 + 1
    }
}
