//! Line charts: measurements as solid lines with dots, models and bounds
//! dashed, on linear, log or powers-of-two axes.

use plotters::prelude::*;

use super::{err, span, Area, Axis, FONT};

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stroke {
    /// A solid line with a dot at each point (a measurement).
    Measured,
    /// A dashed line (a model or a bound).
    Dashed,
    /// Points only.
    Points,
}

/// One line of a chart.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub color: RGBColor,
    pub stroke: Stroke,
    pub points: Vec<(f64, f64)>,
}

impl Series {
    pub fn new(name: impl Into<String>, color: RGBColor, stroke: Stroke) -> Self {
        Series {
            name: name.into(),
            color,
            stroke,
            points: Vec::new(),
        }
    }

    pub fn with_points(mut self, points: impl IntoIterator<Item = (f64, f64)>) -> Self {
        self.points.extend(points);
        self
    }
}

/// A line chart of `series` in `area`, its legend at the upper left.
pub fn line_chart(
    area: &Area,
    title: &str,
    x: Axis,
    y: Axis,
    series: &[Series],
) -> Result<(), String> {
    line_chart_at(area, title, x, y, series, SeriesLabelPosition::UpperLeft)
}

/// A line chart with its legend at `legend`.
pub fn line_chart_at(
    area: &Area,
    title: &str,
    x: Axis,
    y: Axis,
    series: &[Series],
    legend: SeriesLabelPosition,
) -> Result<(), String> {
    // A powers-of-two axis draws log2 of its values on a linear scale.
    let pow2 = |v: f64, on: bool| if on { v.log2() } else { v };
    let series: Vec<Series> = series
        .iter()
        .map(|s| Series {
            points: s
                .points
                .iter()
                .map(|&(a, b)| (pow2(a, x.pow2), pow2(b, y.pow2)))
                .collect(),
            ..s.clone()
        })
        .collect();
    let series = &series[..];
    let tick = |a: &Axis, v: f64| {
        if !a.pow2 {
            (a.ticks)(v)
        } else if (v - v.round()).abs() < 1e-6 {
            (a.ticks)(2f64.powf(v.round()))
        } else {
            String::new()
        }
    };
    let xs = span(
        series.iter().flat_map(|s| s.points.iter().map(|p| p.0)),
        x.log,
        false,
    );
    let ys = y.with_room(span(
        series.iter().flat_map(|s| s.points.iter().map(|p| p.1)),
        y.log,
        true,
    ));
    let mut b = ChartBuilder::on(area);
    b.caption(title, (FONT, 17))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(78);
    // Four combinations of linear and log axes are four chart types.
    macro_rules! draw {
        ($xr:expr, $yr:expr) => {{
            let mut chart = b.build_cartesian_2d($xr, $yr).map_err(err)?;
            chart
                .configure_mesh()
                .x_desc(x.label)
                .y_desc(y.label)
                .x_label_formatter(&|v| tick(&x, *v))
                .y_label_formatter(&|v| tick(&y, *v))
                .label_style((FONT, 13))
                .axis_desc_style((FONT, 14))
                .light_line_style(RGBColor(235, 235, 235))
                .draw()
                .map_err(err)?;
            for s in series {
                let c = s.color;
                let pts = s.points.clone();
                match s.stroke {
                    Stroke::Measured => {
                        chart
                            .draw_series(LineSeries::new(pts.clone(), c.stroke_width(2)))
                            .map_err(err)?
                            .label(s.name.as_str())
                            .legend(move |(x, y)| {
                                PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2))
                            });
                        chart
                            .draw_series(pts.iter().map(|&p| Circle::new(p, 3, c.filled())))
                            .map_err(err)?;
                    }
                    Stroke::Dashed => {
                        chart
                            .draw_series(DashedLineSeries::new(pts, 6, 4, c.stroke_width(2)))
                            .map_err(err)?
                            .label(s.name.as_str())
                            .legend(move |(x, y)| {
                                PathElement::new(vec![(x, y), (x + 8, y)], c.stroke_width(2))
                            });
                    }
                    Stroke::Points => {
                        chart
                            .draw_series(pts.iter().map(|&p| Circle::new(p, 4, c.filled())))
                            .map_err(err)?
                            .label(s.name.as_str())
                            .legend(move |(x, y)| Circle::new((x + 10, y), 4, c.filled()));
                    }
                }
            }
            chart
                .configure_series_labels()
                .position(legend.clone())
                .background_style(WHITE.mix(0.85))
                .border_style(RGBColor(160, 160, 160))
                .label_font((FONT, 13))
                .draw()
                .map_err(err)?;
        }};
    }
    match (x.log, y.log) {
        (true, true) => draw!(xs.log_scale(), ys.log_scale()),
        (true, false) => draw!(xs.log_scale(), ys),
        (false, true) => draw!(xs, ys.log_scale()),
        (false, false) => draw!(xs, ys),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{render, PALETTE};
    use super::*;

    #[test]
    fn a_figure_is_a_decodable_png_and_the_same_data_gives_the_same_bytes() {
        let draw = |a: &Area| {
            let s = Series::new("x", PALETTE[0], Stroke::Measured)
                .with_points([(1.0, 1.0), (10.0, 100.0)]);
            line_chart(a, "t", Axis::log("x (B)"), Axis::log("y (ns)"), &[s])
        };
        let a = render("t", (320, 240), draw).unwrap();
        let b = render("t", (320, 240), draw).unwrap();
        assert_eq!(a, b);
        let dec = png::Decoder::new(std::io::Cursor::new(&a));
        let r = dec.read_info().unwrap();
        assert_eq!((r.info().width, r.info().height), (320, 240));
    }
}
