//! A session's timeline as SVG (plotters, as the other charts): who spoke when, the silences,
//! the rupture markers and the turns that talked about a goal, in lanes over the session's
//! minutes (or over turn numbers when the transcript has no times); and the talk balance (the
//! clinician's running share of words) below it.

use bordin_listen::{Analysis, MarkerKind, Role};
use maud::{html, Markup};
use plotters::prelude::*;

use super::charts::{svg_figure, BLUE_, GREEN_, GREY, ORANGE, PURPLE, RED_};

/// Lanes from the top: (centre on the y axis, name).
const LANES: [(f64, &str); 5] = [
    (5.0, "Clinician"),
    (4.0, "Client"),
    (3.0, "Silences"),
    (2.0, "Markers"),
    (1.0, "Goals"),
];

/// Where each turn lies on the x axis: minutes from the first start when the transcript has
/// times, else turn numbers (turn i spans i..i+1).
fn spans(a: &Analysis) -> (Vec<(f64, f64)>, bool) {
    let timed = a.session.timed && a.turns.iter().all(|t| t.start.is_some());
    if !timed {
        return (
            (0..a.turns.len())
                .map(|i| (i as f64, i as f64 + 1.0))
                .collect(),
            false,
        );
    }
    let first = a.turns.first().and_then(|t| t.start).unwrap_or(0.0);
    let out = a
        .turns
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let s = t.start.unwrap_or(0.0);
            let e = t
                .end
                .or_else(|| a.turns.get(i + 1).and_then(|n| n.start))
                .unwrap_or(s + 1.0)
                .max(s);
            ((s - first) / 60.0, (e - first) / 60.0)
        })
        .collect();
    (out, true)
}

fn lane_of(role: Option<Role>) -> Option<(f64, RGBColor)> {
    match role {
        Some(Role::Clinician) => Some((5.0, BLUE_)),
        Some(Role::Client) => Some((4.0, ORANGE)),
        Some(Role::OtherClient) => Some((4.0, PURPLE)),
        None => None,
    }
}

fn draw_lanes(a: &Analysis) -> Result<String, String> {
    let (spans, timed) = spans(a);
    let first = a.turns.first().and_then(|t| t.start).unwrap_or(0.0);
    let x_max = spans.iter().map(|s| s.1).fold(1.0f64, f64::max);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (720, 260)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(34)
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..x_max, 0.4f64..5.6f64)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc(if timed { "minutes" } else { "turn" })
            .y_labels(0)
            .disable_y_mesh()
            .light_line_style(RGBColor(238, 240, 243))
            .draw()
            .map_err(|e| e.to_string())?;
        for (y, name) in LANES {
            let (_, py) = chart.backend_coord(&(0.0, y));
            root.draw(&Text::new(
                name,
                (6, py - 7),
                ("sans-serif", 13).into_font(),
            ))
            .map_err(|e| e.to_string())?;
        }
        // Turns.
        chart
            .draw_series(a.turns.iter().zip(&spans).filter_map(|(t, &(x0, x1))| {
                let (y, color) = lane_of(t.role)?;
                Some(Rectangle::new(
                    [(x0, y - 0.35), (x1.max(x0 + x_max / 900.0), y + 0.35)],
                    color.filled(),
                ))
            }))
            .map_err(|e| e.to_string())?;
        // Silences (only with times).
        if timed {
            chart
                .draw_series(a.silences.iter().map(|s| {
                    Rectangle::new(
                        [
                            ((s.start - first) / 60.0, 2.65),
                            ((s.end - first) / 60.0, 3.35),
                        ],
                        GREY.filled(),
                    )
                }))
                .map_err(|e| e.to_string())?;
        }
        // Markers: confrontation red, withdrawal purple (shapes differ too, for print).
        for m in &a.markers {
            let Some(&(x0, _)) = spans.get(m.turn) else {
                continue;
            };
            match m.kind {
                MarkerKind::Confrontation => chart
                    .draw_series(std::iter::once(TriangleMarker::new(
                        (x0, 2.0),
                        7,
                        RED_.filled(),
                    )))
                    .map(|_| ()),
                MarkerKind::Withdrawal => chart
                    .draw_series(std::iter::once(Cross::new(
                        (x0, 2.0),
                        6,
                        PURPLE.stroke_width(2),
                    )))
                    .map(|_| ()),
            }
            .map_err(|e| e.to_string())?;
        }
        // Goal talk.
        chart
            .draw_series(
                a.goals
                    .iter()
                    .chain(&a.tasks)
                    .flat_map(|g| g.evidence.iter())
                    .filter_map(|e| spans.get(e.turn))
                    .map(|&(x0, _)| Circle::new((x0, 1.0), 4, GREEN_.filled())),
            )
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

/// The clinician's running share of the words after each turn.
pub fn running_share(a: &Analysis) -> Vec<f64> {
    let (mut clin, mut all) = (0usize, 0usize);
    a.turns
        .iter()
        .map(|t| {
            all += t.words;
            if t.role == Some(Role::Clinician) {
                clin += t.words;
            }
            if all == 0 {
                0.0
            } else {
                clin as f64 / all as f64
            }
        })
        .collect()
}

fn draw_balance(a: &Analysis) -> Result<String, String> {
    let (spans, timed) = spans(a);
    let x_max = spans.iter().map(|s| s.1).fold(1.0f64, f64::max);
    let points: Vec<(f64, f64)> = spans
        .iter()
        .zip(running_share(a))
        .map(|(s, v)| (s.1, v * 100.0))
        .collect();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (720, 200)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(34)
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..x_max, 0f64..100f64)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc(if timed { "minutes" } else { "turn" })
            .y_desc("clinician %")
            .y_labels(5)
            .light_line_style(RGBColor(238, 240, 243))
            .draw()
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(LineSeries::new([(0.0, 50.0), (x_max, 50.0)], GREY))
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(LineSeries::new(points, BLUE_.stroke_width(2)))
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

fn pct(x: Option<f64>) -> String {
    x.map_or("—".into(), |v| format!("{:.0}%", v * 100.0))
}

/// The timeline and talk-balance figures of one analysed session, each with its text
/// alternative.
pub fn timeline(a: &Analysis) -> Markup {
    let (_, timed) = spans(a);
    let lanes_summary = format!(
        "{} turns{}; {} silences listed{}; {} rupture markers ({} withdrawal, {} confrontation); {} of {} goals and tasks talked about. Clinician turns blue, client turns orange (a second client purple), silences grey, confrontation markers red triangles, withdrawal markers purple crosses, goal talk green dots.",
        a.turns.len(),
        a.session
            .duration_seconds
            .map_or(String::new(), |d| format!(" over {:.0} minutes", d / 60.0)),
        if timed { a.silences.len() } else { 0 },
        if timed { "" } else { " (no times in the file)" },
        a.markers.len(),
        a.session.withdrawal_markers,
        a.session.confrontation_markers,
        a.goals.iter().chain(&a.tasks).filter(|g| g.covered).count(),
        a.goals.len() + a.tasks.len(),
    );
    let balance_summary = format!(
        "The clinician spoke {} of the words{}; the grey line marks an even share.",
        pct(a.session.clinician_talk_share),
        a.session
            .clinician_time_share
            .map_or(String::new(), |t| format!(
                " and {} of the time",
                pct(Some(t))
            )),
    );
    let lanes = draw_lanes(a);
    let balance = draw_balance(a);
    match (lanes, balance) {
        (Ok(l), Ok(b)) => html! {
            (svg_figure("timeline", "Session timeline", &lanes_summary, l))
            (svg_figure("talk-balance", "Talk balance", &balance_summary, b))
        },
        (Err(e), _) | (_, Err(e)) => {
            tracing::warn!(error = %e, "timeline could not be drawn");
            html! { p.muted { "The timeline could not be drawn; the turns are listed below." } }
        }
    }
}
