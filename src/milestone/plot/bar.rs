//! Grouped bar charts: one group per category, one bar per set, an
//! optional reference mark (an ideal, a bound) across each group.

use plotters::prelude::*;

use super::{err, span, Area, Axis, FONT};

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
