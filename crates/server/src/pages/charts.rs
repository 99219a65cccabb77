//! Charts rendered on the server as SVG (plotters): readable in print (distinct markers, not
//! only colours) and each with a text alternative for screen readers.

use maud::{html, Markup, PreEscaped};
use plotters::prelude::*;

/// One line of a chart.
pub struct Line {
    pub label: String,
    pub color: RGBColor,
    pub points: Vec<(i64, f64)>,
    /// Square markers instead of circles (to tell lines apart in black and white).
    pub square: bool,
}

/// A marked event on a line (rupture, repair, reliable change).
pub struct Marker {
    pub session: i64,
    pub value: f64,
    pub label: &'static str,
    pub color: RGBColor,
}

/// A chart: lines, markers, horizontal reference lines and shaded bands.
pub struct Chart {
    pub id: String,
    pub title: String,
    /// The x axis name ("Session", or "Rating" for a series of ratings).
    pub x_label: &'static str,
    pub y_label: String,
    pub y_range: (f64, f64),
    pub lines: Vec<Line>,
    pub markers: Vec<Marker>,
    /// (y, label) e.g. caseness cut-off.
    pub rules: Vec<(f64, String)>,
    /// (from, to, label): a shaded horizontal band, e.g. reliable change around intake.
    pub bands: Vec<(f64, f64, String)>,
    /// What the chart shows, in words (the text alternative).
    pub summary: String,
}

pub const BLUE_: RGBColor = RGBColor(31, 95, 139);
pub const ORANGE: RGBColor = RGBColor(196, 98, 16);
pub const GREEN_: RGBColor = RGBColor(29, 122, 70);
pub const RED_: RGBColor = RGBColor(180, 35, 24);
pub const PURPLE: RGBColor = RGBColor(110, 64, 170);
pub const GREY: RGBColor = RGBColor(120, 128, 140);

fn draw(c: &Chart) -> Result<String, String> {
    let mut svg = String::new();
    let max_session = c
        .lines
        .iter()
        .flat_map(|l| l.points.iter().map(|p| p.0))
        .max()
        .unwrap_or(1)
        .max(2);
    {
        let root = SVGBackend::with_string(&mut svg, (720, 300)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(34)
            .y_label_area_size(44)
            .build_cartesian_2d(0.5f64..(max_session as f64 + 0.5), c.y_range.0..c.y_range.1)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc(c.x_label)
            .y_desc(c.y_label.as_str())
            .x_labels(max_session.min(20) as usize)
            .x_label_formatter(&|x| format!("{x:.0}"))
            .light_line_style(RGBColor(238, 240, 243))
            .draw()
            .map_err(|e| e.to_string())?;
        for (lo, hi, label) in &c.bands {
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(0.5, *lo), (max_session as f64 + 0.5, *hi)],
                    RGBColor(31, 95, 139).mix(0.08).filled(),
                )))
                .map_err(|e| e.to_string())?
                .label(label.as_str())
                .legend(|(x, y)| {
                    Rectangle::new(
                        [(x, y - 5), (x + 14, y + 5)],
                        RGBColor(31, 95, 139).mix(0.2).filled(),
                    )
                });
        }
        for (y, label) in &c.rules {
            chart
                .draw_series(LineSeries::new(
                    [(0.5, *y), (max_session as f64 + 0.5, *y)],
                    GREY.stroke_width(1),
                ))
                .map_err(|e| e.to_string())?
                .label(label.as_str())
                .legend(|(x, y)| PathElement::new([(x, y), (x + 14, y)], GREY));
        }
        for l in &c.lines {
            let pts: Vec<(f64, f64)> = l.points.iter().map(|&(s, v)| (s as f64, v)).collect();
            let color = l.color;
            chart
                .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
                .map_err(|e| e.to_string())?
                .label(l.label.as_str())
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 14, y)], color.stroke_width(2))
                });
            if l.square {
                chart
                    .draw_series(pts.iter().map(|&p| {
                        Rectangle::new(
                            [
                                (p.0 - 0.12, p.1 - 0.012 * (c.y_range.1 - c.y_range.0)),
                                (p.0 + 0.12, p.1 + 0.012 * (c.y_range.1 - c.y_range.0)),
                            ],
                            color.filled(),
                        )
                    }))
                    .map_err(|e| e.to_string())?;
            } else {
                chart
                    .draw_series(pts.iter().map(|&p| Circle::new(p, 3, color.filled())))
                    .map_err(|e| e.to_string())?;
            }
        }
        for m in &c.markers {
            let color = m.color;
            chart
                .draw_series(std::iter::once(TriangleMarker::new(
                    (m.session as f64, m.value),
                    8,
                    color.filled(),
                )))
                .map_err(|e| e.to_string())?;
        }
        let mut labels: Vec<(&str, RGBColor)> = Vec::new();
        for m in &c.markers {
            if !labels.iter().any(|(l, _)| *l == m.label) {
                labels.push((m.label, m.color));
            }
        }
        for (label, color) in labels {
            chart
                .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())
                .map_err(|e| e.to_string())?
                .label(label)
                .legend(move |(x, y)| TriangleMarker::new((x + 7, y), 6, color.filled()));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(213, 218, 226))
            .draw()
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

/// The chart as an accessible `<figure>`: the SVG is labelled by its title and description.
pub fn figure(c: &Chart) -> Markup {
    match draw(c) {
        Ok(svg) => svg_figure(&c.id, &c.title, &c.summary, svg),
        Err(e) => {
            tracing::warn!(error = %e, chart = %c.id, "chart could not be drawn");
            html! { p.muted { "The chart could not be drawn; the scores are in the table below." } }
        }
    }
}

/// Any SVG drawn here as an accessible `<figure>`: labelled by `title`, described by `summary`
/// (the text alternative), with both as its caption.
pub fn svg_figure(id: &str, title: &str, summary: &str, svg: String) -> Markup {
    let title_id = format!("{id}-title");
    let desc_id = format!("{id}-desc");
    // Give the SVG its accessible name and description.
    let head =
        format!("<svg role=\"img\" aria-labelledby=\"{title_id} {desc_id}\" class=\"chart\" ",);
    let svg = svg.replacen("<svg ", &head, 1);
    let svg = match svg.find('>') {
        Some(i) => format!(
            "{}<title id=\"{title_id}\">{}</title><desc id=\"{desc_id}\">{}</desc>{}",
            &svg[..=i],
            html! { (title) }.into_string(),
            html! { (summary) }.into_string(),
            &svg[i + 1..]
        ),
        None => svg,
    };
    html! {
        figure.chart id=(id) {
            (PreEscaped(svg))
            figcaption { strong { (title) } ". " (summary) }
        }
    }
}

/// A goal's progress ratings (0–10) in the order they were given: the client's progress chart.
pub fn progress_chart(id: &str, goal_words: &str, ratings: &[i64]) -> Markup {
    if ratings.len() < 2 {
        return html! {};
    }
    let points: Vec<(i64, f64)> = ratings
        .iter()
        .enumerate()
        .map(|(i, v)| (i as i64 + 1, *v as f64))
        .collect();
    let first = ratings[0];
    let last = ratings[ratings.len() - 1];
    figure(&Chart {
        id: id.to_owned(),
        title: format!("Progress: {goal_words}"),
        x_label: "Rating",
        y_label: "progress (0–10)".into(),
        y_range: (0.0, 10.0),
        lines: vec![Line {
            label: "progress".into(),
            color: BLUE_,
            points,
            square: false,
        }],
        markers: vec![],
        rules: vec![],
        bands: vec![],
        summary: format!(
            "{} progress ratings, from {first} to {last} out of 10.",
            ratings.len()
        ),
    })
}
