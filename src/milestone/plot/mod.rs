//! Figures as PNG bytes: line charts ([`line`]) and grouped bar charts
//! ([`bar`]) drawn with plotters into a pixel buffer, encoded by `png`;
//! here the canvas, the font, the palette, axes and tick labels.
//!
//! Text is set in DejaVu Sans, compiled into the binary and registered with
//! plotters once, so drawing needs no system font or library. A figure is
//! a pure function of its data: the same data gives the same bytes.

mod bar;
mod line;

use std::ops::Range;
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

pub use bar::{bar_chart, Bars, Marks};
pub use line::{line_chart, line_chart_at, Series, Stroke};

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

pub(crate) const FONT: &str = "sans-serif";

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
    /// Fraction of the plot's height kept clear below the data, for a
    /// legend drawn at the bottom (0: none).
    pub room_below: f64,
}

impl<'a> Axis<'a> {
    pub fn linear(label: &'a str) -> Self {
        Axis {
            label,
            log: false,
            pow2: false,
            ticks: plain,
            room_below: 0.0,
        }
    }

    pub fn log(label: &'a str) -> Self {
        Axis {
            label,
            log: true,
            pow2: false,
            ticks: plain,
            room_below: 0.0,
        }
    }

    /// A log axis over powers of two (see [`Axis::pow2`]).
    pub fn pow2(label: &'a str) -> Self {
        Axis {
            label,
            log: false,
            pow2: true,
            ticks: plain,
            room_below: 0.0,
        }
    }

    pub fn ticks(self, ticks: fn(f64) -> String) -> Self {
        Axis { ticks, ..self }
    }

    /// Keeps `fraction` of the plot's height clear below the data, so a
    /// legend at the bottom covers none of it.
    pub fn room_below(self, fraction: f64) -> Self {
        Axis {
            room_below: fraction.clamp(0.0, 0.9),
            ..self
        }
    }

    /// `range` grown downwards by the room kept below the data.
    pub(crate) fn with_room(&self, range: Range<f64>) -> Range<f64> {
        let grow = self.room_below / (1.0 - self.room_below);
        if self.room_below <= 0.0 {
            range
        } else if self.log {
            range.start / (range.end / range.start).powf(grow)..range.end
        } else {
            range.start - (range.end - range.start) * grow..range.end
        }
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
pub(crate) fn span(values: impl Iterator<Item = f64>, log: bool, from_zero: bool) -> Range<f64> {
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

pub(crate) fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
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
}
