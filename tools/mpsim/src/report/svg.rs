//! The report as an SVG plot: each path's throughput over the run, the injected faults as
//! vertical lines, the filter's path transitions (failover, recovery, failback) as labelled marks,
//! and a legend.

use super::Report;
use plotters::prelude::*;

/// Plot size, pixels.
const SIZE: (u32, u32) = (1100, 560);

/// Rows the transition marks are staggered over.
const ROWS: usize = 4;
/// Room a transition label takes, as a fraction of the time axis.
const LABEL_WIDTH: f64 = 0.12;

/// Colours of the paths, in order (repeating past eight).
const PATH_COLOURS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(23, 190, 207),
];

/// The plot of `r` as an SVG document.
///
/// # Errors
/// Plotters could not draw (it reports why).
pub fn svg(r: &Report) -> Result<String, String> {
    let mut out = String::new();
    draw(r, &mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

fn draw(r: &Report, out: &mut String) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::with_string(out, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let end = r.duration_ms as f64;
    let top = r
        .throughput
        .mbps
        .iter()
        .flatten()
        .copied()
        .fold(0.0, f64::max)
        .max(1.0)
        * 1.15;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("{} — {} (seed {})", r.scenario, r.policy, r.seed),
            ("sans-serif", 22),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..end, 0.0..top)?;
    chart
        .configure_mesh()
        .x_desc("virtual time (ms)")
        .y_desc("throughput per path (Mbit/s)")
        .axis_desc_style(("sans-serif", 16))
        .label_style(("sans-serif", 14))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    let bin = r.throughput.bin_ms;
    for (i, (series, path)) in r.throughput.mbps.iter().zip(&r.paths).enumerate() {
        let colour = PATH_COLOURS[i % PATH_COLOURS.len()];
        let points = series
            .iter()
            .enumerate()
            .map(|(k, &v)| ((k as f64 + 0.5) * bin, v));
        chart
            .draw_series(LineSeries::new(points, colour.stroke_width(2)))?
            .label(format!("{} ({:.1} %)", path.name, path.share * 100.0))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2))
            });
    }
    let fault = RGBColor(200, 30, 30);
    for f in &r.failovers {
        let x = f.injected_ms;
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(x, 0.0), (x, top)],
            fault.mix(0.6).stroke_width(1),
        )))?;
        chart.draw_series(std::iter::once(Text::new(
            format!("{} {}", f.path, f.kind),
            (x, top * 0.97),
            ("sans-serif", 14).into_font().color(&fault),
        )))?;
    }
    // Marks sit on four staggered rows; a label is left out where it would run into the previous
    // one on its row (a flapping path has dozens), the mark stays.
    let label_room = end * LABEL_WIDTH;
    let mut row_free = [f64::NEG_INFINITY; ROWS];
    let mut row = 0;
    for (i, p) in r.paths.iter().enumerate() {
        let colour = PATH_COLOURS[i % PATH_COLOURS.len()];
        for t in &p.transitions {
            let y = top * (0.88 - 0.05 * row as f64);
            chart.draw_series(std::iter::once(Circle::new(
                (t.at_ms, y),
                4,
                colour.filled(),
            )))?;
            if t.at_ms >= row_free[row] {
                row_free[row] = t.at_ms + label_room;
                chart.draw_series(std::iter::once(Text::new(
                    format!("{} → {}", p.name, t.to),
                    (t.at_ms, y),
                    ("sans-serif", 13).into_font().color(&BLACK),
                )))?;
            }
            row = (row + 1) % ROWS;
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 15))
        .draw()?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Failover, PathReport, Throughput, TransitionRecord};

    fn path_with(name: &str, to: &[&str]) -> PathReport {
        PathReport {
            name: name.into(),
            bytes: 1,
            share: 0.5,
            final_state: "active".into(),
            transitions: to
                .iter()
                .enumerate()
                .map(|(k, t)| TransitionRecord {
                    at_ms: 5.0 + k as f64,
                    from: "active".into(),
                    to: (*t).into(),
                    reason: "LinkDown".into(),
                })
                .collect(),
        }
    }

    fn report() -> Report {
        let mut r = crate::report::tests::empty_report();
        r.paths = vec![
            path_with("left", &[]),
            path_with("right", &["failed", "active"]),
        ];
        r.throughput = Throughput {
            bin_ms: 1.0,
            mbps: vec![vec![100.0; 10], vec![50.0; 10]],
        };
        r.failovers = vec![Failover {
            path: "right".into(),
            kind: "link-down".into(),
            injected_ms: 5.0,
            detected_ms: Some(5.0),
            first_reroute_ms: None,
        }];
        r
    }

    #[test]
    fn the_plot_has_a_line_per_path_the_fault_the_transitions_and_a_legend() {
        let text = svg(&report()).unwrap();
        assert!(text.starts_with("<svg"), "{}", &text[..80.min(text.len())]);
        assert!(text.contains("left (50.0 %)") && text.contains("right (50.0 %)"));
        assert!(text.contains("right link-down"));
        assert!(text.contains("right → failed") && text.contains("right → active"));
        assert!(text.contains("virtual time (ms)"));
        assert!(text.matches("<polyline").count() >= 2);
    }

    #[test]
    fn a_flapping_path_keeps_every_mark_and_only_the_labels_that_fit() {
        let mut r = report();
        // 20 changes 1 ms apart on a 100 ms axis: a label needs 12 ms of its row.
        r.duration_ms = 100;
        let flaps: Vec<&str> = ["failed", "recovering"].repeat(10);
        r.paths[1] = path_with("right", &flaps);
        let text = svg(&r).unwrap();
        let marks = text.matches("<circle").count();
        let labels = text.matches("right → ").count();
        assert!(marks >= 20, "{marks} marks");
        assert!(labels > 0 && labels < 20, "{labels} labels");
    }
}
