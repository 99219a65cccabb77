//! Agreement of the analysis with human labels, so accuracy can be tracked as methods change.
//!
//! Label file format (`NAME.labels.json` beside the transcript `NAME.vtt|srt|json|txt`):
//!
//! ```json
//! {
//!   "context": {"clinicians": ["Lee"], "goals": [{"id": "g1", "text": "Sleep better"}]},
//!   "markers": [{"turn": 3, "kind": "withdrawal", "subtype": "minimal_response"}],
//!   "goals_covered": ["g1"],
//!   "alliance": "poor"
//! }
//! ```
//!
//! `turn` is the 0-based index of the turn after consecutive cues of one speaker are merged (as
//! `bordin analyze --json` numbers them). `subtype` is optional; every field may be left out.
//! A marker agrees when the analysis flags the same turn with the same kind (and, for the
//! subtype table, the same subtype). `alliance` (`good` or `poor`) is compared with the sign of
//! the session's mean bond evidence when the semantic part is on.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::analysis::Analysis;
use crate::context::Context;
use crate::markers::MarkerKind;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Labels {
    pub context: Context,
    pub markers: Vec<LabelledMarker>,
    pub goals_covered: Option<Vec<String>>,
    pub alliance: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelledMarker {
    pub turn: usize,
    pub kind: MarkerKind,
    #[serde(default)]
    pub subtype: Option<String>,
}

/// True and false positives and false negatives, with the rates they give.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Counts {
    pub true_positives: usize,
    pub false_positives: usize,
    pub false_negatives: usize,
}

impl Counts {
    /// `None` when nothing was flagged.
    pub fn precision(&self) -> Option<f64> {
        let d = self.true_positives + self.false_positives;
        (d > 0).then(|| self.true_positives as f64 / d as f64)
    }
    /// `None` when nothing was labelled.
    pub fn recall(&self) -> Option<f64> {
        let d = self.true_positives + self.false_negatives;
        (d > 0).then(|| self.true_positives as f64 / d as f64)
    }
    pub fn f1(&self) -> Option<f64> {
        let (p, r) = (self.precision()?, self.recall()?);
        (p + r > 0.0).then(|| 2.0 * p * r / (p + r))
    }
    fn add(&mut self, tp: usize, fp: usize, fn_: usize) {
        self.true_positives += tp;
        self.false_positives += fp;
        self.false_negatives += fn_;
    }
}

/// Agreement over a set of labelled sessions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Agreement {
    pub sessions: usize,
    /// By marker kind (`withdrawal`, `confrontation`), turn-level.
    pub by_kind: BTreeMap<String, Counts>,
    /// By `kind.subtype`, turn-level (labels without a subtype are left out here).
    pub by_subtype: BTreeMap<String, Counts>,
    /// Goals and tasks said to be covered.
    pub goal_coverage: Counts,
    /// Sessions whose `alliance` label matched the sign of the mean bond evidence, of those
    /// labelled and analysed with the semantic part on.
    pub alliance_agree: usize,
    pub alliance_labelled: usize,
}

/// Adds one session's comparison to the totals.
pub fn compare(total: &mut Agreement, analysis: &Analysis, labels: &Labels) {
    total.sessions += 1;
    for kind in [MarkerKind::Withdrawal, MarkerKind::Confrontation] {
        let found: Vec<usize> = dedup(
            analysis
                .markers
                .iter()
                .filter(|m| m.kind == kind)
                .map(|m| m.turn),
        );
        let wanted: Vec<usize> = dedup(
            labels
                .markers
                .iter()
                .filter(|m| m.kind == kind)
                .map(|m| m.turn),
        );
        let (tp, fp, fn_) = overlap(&found, &wanted);
        total
            .by_kind
            .entry(kind.as_str().to_owned())
            .or_default()
            .add(tp, fp, fn_);
    }
    let mut subtypes: Vec<String> = labels
        .markers
        .iter()
        .filter_map(|m| {
            m.subtype
                .as_ref()
                .map(|s| format!("{}.{s}", m.kind.as_str()))
        })
        .chain(
            analysis
                .markers
                .iter()
                .map(|m| format!("{}.{}", m.kind.as_str(), m.subtype)),
        )
        .collect();
    subtypes.sort();
    subtypes.dedup();
    for key in subtypes {
        let found = dedup(
            analysis
                .markers
                .iter()
                .filter(|m| format!("{}.{}", m.kind.as_str(), m.subtype) == key)
                .map(|m| m.turn),
        );
        let wanted = dedup(
            labels
                .markers
                .iter()
                .filter(|m| {
                    m.subtype
                        .as_ref()
                        .is_some_and(|s| format!("{}.{s}", m.kind.as_str()) == key)
                })
                .map(|m| m.turn),
        );
        let (tp, fp, fn_) = overlap(&found, &wanted);
        total.by_subtype.entry(key).or_default().add(tp, fp, fn_);
    }
    if let Some(covered) = &labels.goals_covered {
        let found: Vec<&str> = analysis
            .goals
            .iter()
            .chain(&analysis.tasks)
            .filter(|g| g.covered)
            .map(|g| g.id.as_str())
            .collect();
        let tp = found
            .iter()
            .filter(|g| covered.iter().any(|c| c == *g))
            .count();
        total
            .goal_coverage
            .add(tp, found.len() - tp, covered.len().saturating_sub(tp));
    }
    if let (Some(label), Some(bond)) = (&labels.alliance, &analysis.session.bond) {
        total.alliance_labelled += 1;
        let good = bond.mean > 0.0;
        if (label == "good") == good {
            total.alliance_agree += 1;
        }
    }
}

fn dedup(it: impl Iterator<Item = usize>) -> Vec<usize> {
    let mut v: Vec<usize> = it.collect();
    v.sort_unstable();
    v.dedup();
    v
}

fn overlap(found: &[usize], wanted: &[usize]) -> (usize, usize, usize) {
    let tp = found.iter().filter(|f| wanted.contains(f)).count();
    (tp, found.len() - tp, wanted.len() - tp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_from_counts() {
        let c = Counts {
            true_positives: 3,
            false_positives: 1,
            false_negatives: 2,
        };
        assert_eq!(c.precision(), Some(0.75));
        assert_eq!(c.recall(), Some(0.6));
        // 2·0.75·0.6 / 1.35 = 0.6667
        assert!((c.f1().unwrap_or(0.0) - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(Counts::default().precision(), None);
    }
}
