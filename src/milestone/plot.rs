//! Figures as PNG bytes: line charts and grouped bar charts drawn with
//! plotters into a pixel buffer, encoded by `png`.
//!
//! Text is set in DejaVu Sans, compiled into the binary and registered with
//! plotters once, so drawing needs no system font or library. A figure is
//! a pure function of its data: the same data gives the same bytes.

use std::ops::Range;
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

/// Why a figure could not be drawn.
#[derive(Debug, thiserror::Error)]
#[error("cannot draw {figure}: {reason}")]
pub struct PlotError {
    pub figure: String,
    pub reason: String,
}

/// The drawing surface of one figure.
pub type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

/// A colour-blind-safe palette (Okabe-Ito), in the order series take it.
pub const PALETTE: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(120, 120, 120),
];

/// The `i`-th series colour (the palette repeats past its end).
pub fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

const FONT: &str = "sans-serif";

fn font_ready() -> Result<(), String> {
    static READY: OnceLock<Result<(), String>> = OnceLock::new();
    READY
        .get_or_init(|| {
            register_font(FONT, FontStyle::Normal, dejavu::sans::regular())
                .map_err(|_| "the embedded font does not parse".to_string())?;
            register_font(FONT, FontStyle::Bold, dejavu::sans::bold())
                .map_err(|_| "the embedded bold font does not parse".to_string())
        })
        .clone()
}

/// Draws a `width x height` figure called `name` with `draw` and returns
/// it as PNG bytes.
pub fn render(
    name: &str,
    (width, height): (u32, u32),
    draw: impl FnOnce(&Area) -> Result<(), String>,
) -> Result<Vec<u8>, PlotError> {
    let fail = |reason: String| PlotError {
        figure: name.to_string(),
        reason,
    };
    font_ready().map_err(fail)?;
    let mut rgb = vec![255u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| fail(e.to_string()))?;
        draw(&root).map_err(fail)?;
        root.present().map_err(|e| fail(e.to_string()))?;
    }
    let mut png_bytes = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut png_bytes, width, height);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header().map_err(|e| fail(e.to_string()))?;
        w.write_image_data(&rgb).map_err(|e| fail(e.to_string()))?;
    }
    Ok(png_bytes)
}

/// A figure's title above its panels; returns the area below it.
pub fn titled<'a>(area: &Area<'a>, title: &str) -> Result<Area<'a>, String> {
    area.titled(title, (FONT, 22).into_font().style(FontStyle::Bold))
        .map_err(|e| e.to_string())
}

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

/// An axis: its label (with its unit), log scale or not, and how its tick
/// values read.
#[derive(Debug, Clone, Copy)]
pub struct Axis<'a> {
    pub label: &'a str,
    pub log: bool,
    /// Powers of two: values are drawn at their log2, so ticks fall on
    /// whole powers (4 KiB, 16 KiB, ...) rather than on decades.
    pub pow2: bool,
    pub ticks: fn(f64) -> String,
}

impl<'a> Axis<'a> {
    pub fn linear(label: &'a str) -> Self {
        Axis {
            label,
            log: false,
            pow2: false,
            ticks: plain,
        }
    }

    pub fn log(label: &'a str) -> Self {
        Axis {
            label,
            log: true,
            pow2: false,
            ticks: plain,
        }
    }

    /// A log axis over powers of two (see [`Axis::pow2`]).
    pub fn pow2(label: &'a str) -> Self {
        Axis {
            label,
            log: false,
            pow2: true,
            ticks: plain,
        }
    }

    pub fn ticks(self, ticks: fn(f64) -> String) -> Self {
        Axis { ticks, ..self }
    }
}

/// A tick value without trailing zeros: 1, 2.5, 1e6 as 1000000.
pub fn plain(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    if v.abs() >= 1.0 && v.fract().abs() < 1e-9 {
        return format!("{v:.0}");
    }
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A byte count as KiB / MiB.
pub fn bytes(v: f64) -> String {
    const KIB: f64 = 1024.0;
    if v >= KIB * KIB {
        format!("{} MiB", plain(v / KIB / KIB))
    } else if v >= KIB {
        format!("{} KiB", plain(v / KIB))
    } else {
        format!("{} B", plain(v))
    }
}

/// A time in ns as ns / us / ms.
pub fn time_ns(v: f64) -> String {
    if v >= 1e6 {
        format!("{} ms", plain(v / 1e6))
    } else if v >= 1e3 {
        format!("{} us", plain(v / 1e3))
    } else {
        format!("{} ns", plain(v))
    }
}

/// The range a set of values spans, padded; on a log axis only positive
/// values count.
fn span(values: impl Iterator<Item = f64>, log: bool, from_zero: bool) -> Range<f64> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite() && (!log || *v > 0.0)) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return if log { 1.0..10.0 } else { 0.0..1.0 };
    }
    if log {
        lo / 1.5..hi * 1.5
    } else {
        let pad = ((hi - lo) * 0.08).max(hi.abs() * 0.05).max(1e-9);
        let lo = if from_zero && lo >= 0.0 {
            0.0
        } else {
            lo - pad
        };
        lo..hi + pad
    }
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
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
    let ys = span(
        series.iter().flat_map(|s| s.points.iter().map(|p| p.1)),
        y.log,
        true,
    );
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

/// One set of bars of a grouped bar chart: a value per category.
#[derive(Debug, Clone)]
pub struct Bars {
    pub name: String,
    pub color: RGBColor,
    pub values: Vec<f64>,
}

/// A reference mark per category (an ideal, a bound), drawn as a short
/// black bar across the category's group.
#[derive(Debug, Clone)]
pub struct Marks {
    pub name: String,
    pub values: Vec<f64>,
}

/// A grouped bar chart: one group per category, one bar per set.
pub fn bar_chart(
    area: &Area,
    title: &str,
    categories: (&[String], &str),
    y: Axis,
    bars: &[Bars],
    marks: Option<&Marks>,
) -> Result<(), String> {
    let (categories, x_label) = categories;
    let n = categories.len();
    let values = bars
        .iter()
        .flat_map(|b| b.values.iter().copied())
        .chain(marks.into_iter().flat_map(|m| m.values.iter().copied()));
    let ys = span(values, y.log, true);
    let base = ys.start;
    let mut b = ChartBuilder::on(area);
    b.caption(title, (FONT, 17))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(78);
    let xs = -0.5..n as f64 - 0.5;
    let label = |v: &f64| {
        let i = v.round();
        if (v - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < n {
            categories[i as usize].clone()
        } else {
            String::new()
        }
    };
    let width = 0.8 / bars.len().max(1) as f64;
    macro_rules! draw {
        ($yr:expr) => {{
            let mut chart = b.build_cartesian_2d(xs.clone(), $yr).map_err(err)?;
            chart
                .configure_mesh()
                .disable_x_mesh()
                .x_labels(n.max(1) * 2 + 1)
                .x_label_formatter(&label)
                .x_desc(x_label)
                .y_desc(y.label)
                .y_label_formatter(&|v| (y.ticks)(*v))
                .label_style((FONT, 12))
                .axis_desc_style((FONT, 14))
                .light_line_style(RGBColor(235, 235, 235))
                .draw()
                .map_err(err)?;
            for (j, set) in bars.iter().enumerate() {
                let c = set.color;
                let rects = set
                    .values
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| v.is_finite())
                    .map(move |(i, &v)| {
                        let x0 = i as f64 - 0.4 + j as f64 * width;
                        Rectangle::new([(x0, base), (x0 + width * 0.92, v.max(base))], c.filled())
                    });
                chart
                    .draw_series(rects)
                    .map_err(err)?
                    .label(set.name.as_str())
                    .legend(move |(x, y)| {
                        Rectangle::new([(x, y - 5), (x + 12, y + 5)], c.filled())
                    });
            }
            if let Some(m) = marks {
                let ticks = m
                    .values
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| v.is_finite())
                    .map(|(i, &v)| {
                        PathElement::new(
                            vec![(i as f64 - 0.45, v), (i as f64 + 0.45, v)],
                            BLACK.stroke_width(3),
                        )
                    });
                chart
                    .draw_series(ticks)
                    .map_err(err)?
                    .label(m.name.as_str())
                    .legend(|(x, y)| {
                        PathElement::new(vec![(x, y), (x + 14, y)], BLACK.stroke_width(3))
                    });
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .background_style(WHITE.mix(0.85))
                .border_style(RGBColor(160, 160, 160))
                .label_font((FONT, 13))
                .draw()
                .map_err(err)?;
        }};
    }
    if y.log {
        draw!(ys.log_scale())
    } else {
        draw!(ys)
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_labels_read_as_people_write_them() {
        assert_eq!(plain(1000.0), "1000");
        assert_eq!(plain(2.5), "2.5");
        assert_eq!(bytes(4096.0), "4 KiB");
        assert_eq!(bytes(16.0 * 1024.0 * 1024.0), "16 MiB");
        assert_eq!(time_ns(1500.0), "1.5 us");
    }

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
