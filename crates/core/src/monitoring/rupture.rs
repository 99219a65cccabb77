//! Rupture and repair in session-by-session alliance ratings, against each client's own level.
//!
//! Alliance scores crowd the top of the scale and more so over time (Meier & Feeley 2022), so a
//! fixed cut-off misses drops; research reads ruptures as V-shaped deflections from the client's
//! own course: Stiles et al. (2004, J Counsel Psychol 51:81–92) used a 2 SD deflection, Strauss et
//! al. (2006, J Consult Clin Psychol 74:337–345) about 1 SD; Gumz et al. (2012, BMC Med Res Methodol
//! 12:10) combined the client's own variability with the between-client variability, taking the
//! stricter, and described multi-session declines.
//!
//! Bordin's rule (`shared/reference/statistics.md`; every number is a field of [`RuptureRule`]):
//! - baseline at session t = mean of the client's earlier scores on the measure that are not part
//!   of a rupture (at least 2; before that nothing is called);
//! - noise = max(the client's own SD of those scores, the clinic-wide within-client SD), never
//!   below a floor (WAI-SR total 2 points, a subscale 1.5);
//! - rupture at t when score_t ≤ baseline − k · noise, k = 1.5 (between Strauss's 1 SD and
//!   Stiles's 2 SD);
//! - a multi-session decline: scores falling over up to 3 consecutive sessions whose cumulative
//!   fall meets the same criterion against the baseline before the decline began;
//! - repair: within the next 3 sessions the score returns to ≥ baseline − 0.5 · noise; otherwise the
//!   rupture is unresolved (and escalates).

use serde::Serialize;

/// One score of one measure at one session.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Point {
    pub session: i64,
    pub value: f64,
}

/// Parameters of rupture detection (configurable per clinic).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RuptureRule {
    /// Drop criterion in units of noise (default 1.5).
    pub k: f64,
    /// Earlier scores needed before a rupture can be called (default 2).
    pub min_history: usize,
    /// Sessions after detection within which a return counts as repair (default 3).
    pub repair_window: usize,
    /// A repair is a return to ≥ baseline − this · noise (default 0.5).
    pub repair_fraction: f64,
    /// Longest multi-session decline considered, in sessions (default 3).
    pub max_decline: usize,
    /// Smallest noise used, in raw points of the measure.
    pub noise_floor: f64,
    /// The clinic-wide within-client SD of the measure, when known.
    pub clinic_noise: Option<f64>,
}

impl RuptureRule {
    /// Defaults with the given noise floor.
    pub fn with_floor(noise_floor: f64) -> Self {
        Self {
            k: 1.5,
            min_history: 2,
            repair_window: 3,
            repair_fraction: 0.5,
            max_decline: 3,
            noise_floor,
            clinic_noise: None,
        }
    }

    /// WAI-SR / WAI-SRT total (12–60): floor 2 points (statistics reference).
    pub fn wai_total() -> Self {
        Self::with_floor(2.0)
    }

    /// A WAI subscale (4–20): floor 1.5 points (statistics reference).
    pub fn wai_subscale() -> Self {
        Self::with_floor(1.5)
    }

    /// Any other measure: the floor scaled to its range as the WAI total's is (2 of 48 points),
    /// e.g. 1.67 for the Session Check total (0–40) and 0.42 for a 0–10 item, raised to at least
    /// one answer step (1 point for whole-number items).
    pub fn for_range(range: f64, step: f64) -> Self {
        Self::with_floor((range * 2.0 / 48.0).max(step))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RuptureShape {
    /// A drop from one session to the next.
    Sudden,
    /// A fall over several consecutive sessions.
    Decline,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RuptureStatus {
    /// Within the repair window, not yet repaired.
    Open,
    Repaired,
    /// The window passed without a return to the client's level.
    Unresolved,
}

/// A rupture–repair episode.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuptureEpisode {
    /// First session of the fall (the detection session for a sudden drop).
    pub start_session: i64,
    /// Session at which the criterion was met.
    pub detected_session: i64,
    pub shape: RuptureShape,
    /// The client's level before the rupture, and the noise it was judged with.
    pub baseline: f64,
    pub noise: f64,
    /// baseline − k · noise
    pub threshold: f64,
    pub lowest: f64,
    pub lowest_session: i64,
    pub status: RuptureStatus,
    pub repaired_session: Option<i64>,
}

impl RuptureEpisode {
    /// How far the score fell below the baseline at its lowest.
    pub fn depth(&self) -> f64 {
        self.baseline - self.lowest
    }
}

fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

/// Sample standard deviation (n − 1); 0 for fewer than two values.
pub fn sample_sd(xs: &[f64]) -> f64 {
    if xs.len() < 2 {
        return 0.0;
    }
    let m = mean(xs);
    (xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (xs.len() - 1) as f64).sqrt()
}

/// Baseline, noise and threshold from a level history, or `None` with too little history.
fn level(history: &[f64], rule: &RuptureRule) -> Option<(f64, f64, f64)> {
    if history.len() < rule.min_history {
        return None;
    }
    let baseline = mean(history);
    let noise = sample_sd(history)
        .max(rule.clinic_noise.unwrap_or(0.0))
        .max(rule.noise_floor);
    Some((baseline, noise, baseline - rule.k * noise))
}

/// Finds rupture–repair episodes in one measure's scores, in session order.
///
/// ```
/// use bordin_core::monitoring::rupture::{detect, Point, RuptureRule, RuptureStatus};
/// // WAI-SR total: stable around 50, a V-shaped dip at session 5, back at session 6.
/// let s = [50.0, 51.0, 50.0, 50.0, 42.0, 50.0, 51.0];
/// let pts: Vec<Point> = s.iter().enumerate().map(|(i, &v)| Point { session: i as i64 + 1, value: v }).collect();
/// let e = detect(&pts, &RuptureRule::wai_total());
/// assert_eq!(e.len(), 1);
/// assert_eq!(e[0].detected_session, 5);
/// assert_eq!((e[0].status, e[0].repaired_session), (RuptureStatus::Repaired, Some(6)));
/// ```
pub fn detect(points: &[Point], rule: &RuptureRule) -> Vec<RuptureEpisode> {
    let mut episodes: Vec<RuptureEpisode> = Vec::new();
    // The client's running level: scores not inside a rupture.
    let mut history: Vec<f64> = Vec::new();
    // Indices into `points` of the scores that were pushed to history, in order, for declines.
    let mut history_idx: Vec<usize> = Vec::new();
    let mut open: Option<(RuptureEpisode, usize)> = None; // episode and sessions seen since detection

    for (i, p) in points.iter().enumerate() {
        if let Some((mut ep, seen)) = open.take() {
            let seen = seen + 1;
            if p.value >= ep.baseline - rule.repair_fraction * ep.noise {
                ep.status = RuptureStatus::Repaired;
                ep.repaired_session = Some(p.session);
                episodes.push(ep);
                history.push(p.value);
                history_idx.push(i);
            } else {
                if p.value < ep.lowest {
                    ep.lowest = p.value;
                    ep.lowest_session = p.session;
                }
                if seen >= rule.repair_window {
                    // Unresolved: the client's level has moved; judge what follows from here.
                    ep.status = RuptureStatus::Unresolved;
                    episodes.push(ep);
                    history = vec![p.value];
                    history_idx = vec![i];
                } else {
                    open = Some((ep, seen));
                }
            }
            continue;
        }

        if let Some((baseline, noise, threshold)) = level(&history, rule) {
            if p.value <= threshold {
                let ep = RuptureEpisode {
                    start_session: p.session,
                    detected_session: p.session,
                    shape: RuptureShape::Sudden,
                    baseline,
                    noise,
                    threshold,
                    lowest: p.value,
                    lowest_session: p.session,
                    status: RuptureStatus::Open,
                    repaired_session: None,
                };
                open = Some((ep, 0));
                continue;
            }
        }
        // A multi-session decline: the last j scores (already in the history) fell step by step,
        // and the fall to this score meets the criterion against the level before them.
        let mut found = None;
        for j in 1..rule.max_decline {
            if history_idx.len() < j {
                break;
            }
            let first = history_idx.len() - j;
            let idxs = &history_idx[first..];
            // Consecutive sessions only, each no higher than the one before, ending above this.
            let consecutive =
                idxs.windows(2).all(|w| w[1] == w[0] + 1) && idxs.last() == Some(&(i - 1));
            let mut seq: Vec<f64> = idxs.iter().map(|&k| points[k].value).collect();
            seq.push(p.value);
            let falling = seq.windows(2).all(|w| w[1] <= w[0]) && seq.first() > seq.last();
            if !(consecutive && falling) {
                break;
            }
            if let Some((baseline, noise, threshold)) = level(&history[..first], rule) {
                if p.value <= threshold {
                    found = Some((first, baseline, noise, threshold));
                }
            }
        }
        if let Some((first, baseline, noise, threshold)) = found {
            let start_session = points[history_idx[first]].session;
            history.truncate(first);
            history_idx.truncate(first);
            let ep = RuptureEpisode {
                start_session,
                detected_session: p.session,
                shape: RuptureShape::Decline,
                baseline,
                noise,
                threshold,
                lowest: p.value,
                lowest_session: p.session,
                status: RuptureStatus::Open,
                repaired_session: None,
            };
            open = Some((ep, 0));
            continue;
        }
        history.push(p.value);
        history_idx.push(i);
    }
    if let Some((ep, _)) = open {
        episodes.push(ep);
    }
    episodes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pts(values: &[f64]) -> Vec<Point> {
        values
            .iter()
            .enumerate()
            .map(|(i, &v)| Point {
                session: i as i64 + 1,
                value: v,
            })
            .collect()
    }

    #[test]
    fn a_v_shaped_dip_is_a_rupture_repaired_by_hand() {
        // history [50, 51, 50, 50]: mean 50.25, sd 0.5 → noise = floor 2; threshold 50.25 − 3 = 47.25.
        // 46 ≤ 47.25 → rupture at session 5; repair needs ≥ 50.25 − 1 = 49.25: 48 no, 50 yes (s7).
        let e = detect(
            &pts(&[50.0, 51.0, 50.0, 50.0, 46.0, 48.0, 50.0]),
            &RuptureRule::wai_total(),
        );
        assert_eq!(e.len(), 1);
        let r = &e[0];
        assert_eq!(
            (r.start_session, r.detected_session, r.shape),
            (5, 5, RuptureShape::Sudden)
        );
        assert!(
            (r.baseline - 50.25).abs() < 1e-9
                && (r.noise - 2.0).abs() < 1e-9
                && (r.threshold - 47.25).abs() < 1e-9
        );
        assert_eq!(
            (r.status, r.repaired_session, r.lowest),
            (RuptureStatus::Repaired, Some(7), 46.0)
        );
    }

    #[test]
    fn no_rupture_before_two_earlier_scores() {
        assert!(detect(&pts(&[55.0, 40.0, 41.0]), &RuptureRule::wai_total())
            .iter()
            .all(|e| e.detected_session != 2));
    }

    #[test]
    fn an_unrepaired_drop_is_unresolved_after_three_sessions() {
        let e = detect(
            &pts(&[50.0, 50.0, 50.0, 44.0, 45.0, 44.0, 45.0, 45.0]),
            &RuptureRule::wai_total(),
        );
        assert_eq!(e.len(), 1);
        assert_eq!(
            (e[0].detected_session, e[0].status),
            (4, RuptureStatus::Unresolved)
        );
        // After that the new level (around 45) is the reference: no further rupture.
    }

    #[test]
    fn a_rupture_in_the_last_sessions_is_open() {
        let e = detect(&pts(&[50.0, 50.0, 50.0, 44.0]), &RuptureRule::wai_total());
        assert_eq!(e[0].status, RuptureStatus::Open);
    }

    #[test]
    fn a_multi_session_decline_by_hand() {
        // [50, 50] then 49, 47: at 47 the level [50, 50, 49] gives threshold 49.67 − 3 = 46.67, not met;
        // the decline 49 → 47 against the level before it ([50, 50]: 50 − 3 = 47) is met: 47 ≤ 47.
        let e = detect(
            &pts(&[50.0, 50.0, 49.0, 47.0, 50.0]),
            &RuptureRule::wai_total(),
        );
        assert_eq!(e.len(), 1);
        assert_eq!(
            (e[0].shape, e[0].start_session, e[0].detected_session),
            (RuptureShape::Decline, 3, 4)
        );
        assert_eq!(e[0].repaired_session, Some(5));
    }

    #[test]
    fn flat_high_and_noisy_courses_raise_nothing() {
        let rule = RuptureRule::wai_total();
        assert!(detect(&pts(&[60.0; 16]), &rule).is_empty());
        assert!(detect(
            &pts(&[58.0, 59.0, 60.0, 58.0, 59.0, 60.0, 59.0, 58.0, 60.0, 59.0]),
            &rule
        )
        .is_empty());
        // Noisy client (sd ≈ 4.5): a 5-point dip is within their usual swing.
        assert!(detect(
            &pts(&[40.0, 48.0, 42.0, 50.0, 41.0, 49.0, 44.0, 47.0, 42.0]),
            &rule
        )
        .is_empty());
    }

    #[test]
    fn the_clinic_noise_makes_the_rule_stricter_for_very_stable_clients() {
        let mut rule = RuptureRule::wai_total();
        let course = pts(&[55.0, 55.0, 55.0, 51.0]);
        assert_eq!(detect(&course, &rule).len(), 1); // 51 ≤ 55 − 3
        rule.clinic_noise = Some(3.0); // 55 − 4.5 = 50.5: a 4-point dip is ordinary in this clinic
        assert!(detect(&course, &rule).is_empty());
    }

    #[test]
    fn floors_for_other_ranges() {
        assert!((RuptureRule::for_range(40.0, 1.0).noise_floor - 40.0 / 24.0).abs() < 1e-12);
        assert!((RuptureRule::for_range(10.0, 1.0).noise_floor - 1.0).abs() < 1e-12);
    }
}
