//! The report's charts, drawn with plotters' SVG backend as inline SVG text: horizontal and vertical
//! bars, lines, a heat map and stacked bars. Text is left to the browser (no font is loaded), so the
//! layout estimates label widths from their length.
//!
//! Categorical axes are numeric axes with one key point at the middle of each category, labelled
//! by the category: that keeps every bar's position in the chart's own coordinates.

use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::error::ReportError;
use crate::format::{compact, shorten, thousands};

/// The colours of series and segments, in order (Tableau 10).
pub(crate) const PALETTE: [RGBColor; 10] = [
    RGBColor(0x4e, 0x79, 0xa7),
    RGBColor(0xf2, 0x8e, 0x2b),
    RGBColor(0x59, 0xa1, 0x4f),
    RGBColor(0xe1, 0x57, 0x59),
    RGBColor(0x76, 0xb7, 0xb2),
    RGBColor(0xed, 0xc9, 0x48),
    RGBColor(0xb0, 0x7a, 0xa1),
    RGBColor(0xff, 0x9d, 0xa7),
    RGBColor(0x9c, 0x75, 0x5f),
    RGBColor(0xba, 0xb0, 0xac),
];

/// A colour as CSS writes it, for the HTML legends beside the charts.
pub(crate) fn css_color(color: RGBColor) -> String {
    format!("#{:02x}{:02x}{:02x}", color.0, color.1, color.2)
}

const INK: RGBColor = RGBColor(0x2b, 0x2f, 0x36);
const MUTED: RGBColor = RGBColor(0x6b, 0x72, 0x80);
const GRID: RGBColor = RGBColor(0xe3, 0xe6, 0xeb);
const FONT: &str = "sans-serif";
/// The width of every chart, in SVG units (it scales to its box in the page).
const WIDTH: u32 = 720;
/// The size of axis labels and names, in pixels.
const LABEL_PX: f64 = 13.0;
/// The size of the values written on bars and cells, in pixels.
const VALUE_PX: f64 = 12.0;
/// Characters a category label may have before it is shortened.
const LABEL_CHARS: usize = 40;

/// plotters writes a font size of `size / 1.24`: the size to ask for `px` pixels.
fn font(px: f64) -> f64 {
    px * 1.24
}

fn text_style(px: f64, color: RGBColor) -> TextStyle<'static> {
    (FONT, font(px)).into_font().color(&color)
}

/// One bar: its label and value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Bar {
    /// The category.
    pub label: String,
    /// Its value.
    pub value: f64,
}

/// A line's name and its (x, y) points.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Series {
    /// The series' name (in the legend).
    pub name: String,
    /// Its points, by x.
    pub points: Vec<(f64, f64)>,
}

/// The report's error for a failed drawing of `what`.
fn drawing<E: std::fmt::Display>(what: &str) -> impl Fn(E) -> ReportError + '_ {
    move |error| ReportError::Chart { what: what.to_string(), message: error.to_string() }
}

/// A numeric axis from `low` to `high` with ticks (and grid lines) exactly at `ticks`; its labels
/// are the chart's formatter's.
#[derive(Debug, Clone)]
struct Axis {
    low: f64,
    high: f64,
    ticks: Vec<f64>,
}

impl Axis {
    fn new(range: Range<f64>, ticks: Vec<f64>) -> Self {
        Axis { low: range.start, high: range.end, ticks }
    }
}

impl Ranged for Axis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let share = if self.high > self.low { (value - self.low) / (self.high - self.low) } else { 0.5 };
        limit.0 + (f64::from(limit.1 - limit.0) * share).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.low..self.high
    }
}

/// An axis of `n` categories: one unit each, a tick at each middle.
fn category_axis(n: usize) -> Axis {
    Axis::new(0.0..n.max(1) as f64, (0..n).map(|index| index as f64 + 0.5).collect())
}

/// The label of the category whose middle is `value` on an axis of `labels` (drawn top-down when
/// `reversed`).
fn category_label(labels: &[String], value: f64, reversed: bool) -> String {
    let index = (value - 0.5).round().max(0.0) as usize;
    let index = if reversed { labels.len().saturating_sub(index + 1) } else { index };
    labels.get(index).cloned().unwrap_or_default()
}

/// A value axis from 0 to a round number above `max`, with its ticks.
fn value_axis(max: f64) -> (f64, Vec<f64>) {
    if !(max.is_finite() && max > 0.0) {
        return (1.0, vec![0.0, 1.0]);
    }
    let magnitude = 10f64.powf((max / 5.0).log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|multiple| multiple * magnitude)
        .find(|step| max / step <= 6.0)
        .unwrap_or(10.0 * magnitude);
    let top = (max / step).ceil() * step;
    let ticks = (0..=(top / step).round() as usize).map(|index| index as f64 * step).collect();
    (top, ticks)
}

/// Pixels a label of `text` takes at [`LABEL_PX`], about (a sans-serif character is about half as
/// wide as it is high).
fn label_width(text: &str) -> u32 {
    (text.chars().count() as f64 * LABEL_PX * 0.56).ceil() as u32
}

/// Names the finished SVG for assistive technology: `role="img"` and `aria-label`.
fn finish(svg: String, label: &str) -> String {
    let escaped = label.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;");
    svg.replacen("<svg ", &format!("<svg role=\"img\" aria-label=\"{escaped}\" "), 1)
}

/// The frame of a chart with one row per label, the first at the top, and a value axis from 0 to
/// `top` along the bottom: drawn on `root`, ready for the rows' shapes.
fn horizontal_frame<'a, 'b>(
    what: &str,
    root: &'a DrawingArea<SVGBackend<'b>, plotters::coord::Shift>,
    labels: &[String],
    (top, ticks): (f64, Vec<f64>),
    value_name: &str,
    margin_right: u32,
) -> Result<ChartContext<'a, SVGBackend<'b>, Cartesian2d<Axis, Axis>>, ReportError> {
    let error = drawing(what);
    let label_area = labels.iter().map(|label| label_width(label)).max().unwrap_or(0).clamp(40, 300) + 12;
    root.fill(&WHITE).map_err(&error)?;
    let mut chart = ChartBuilder::on(root)
        .margin(8)
        .margin_right(margin_right)
        .x_label_area_size(36)
        .y_label_area_size(label_area)
        .build_cartesian_2d(Axis::new(0.0..top, ticks), category_axis(labels.len()))
        .map_err(&error)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .bold_line_style(GRID)
        .axis_style(MUTED)
        .label_style(text_style(LABEL_PX, INK))
        .axis_desc_style(text_style(LABEL_PX, MUTED))
        .x_label_formatter(&|value| compact(*value))
        .y_label_formatter(&|value| category_label(labels, *value, true))
        .x_desc(value_name)
        .draw()
        .map_err(&error)?;
    Ok(chart)
}

/// Horizontal bars, first bar at the top, each value written at its bar's end.
pub(crate) fn horizontal_bars(what: &str, bars: &[Bar], value_name: &str) -> Result<String, ReportError> {
    let error = drawing(what);
    let labels: Vec<String> = bars.iter().map(|bar| shorten(&bar.label, LABEL_CHARS)).collect();
    let height = 60 + 24 * bars.len().max(1) as u32;
    let max = bars.iter().map(|bar| bar.value).fold(0.0, f64::max);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        let mut chart = horizontal_frame(what, &root, &labels, value_axis(max * 1.1), value_name, 64)?;
        let rows = bars.len();
        chart
            .draw_series(bars.iter().enumerate().map(|(index, bar)| {
                let y = (rows - 1 - index) as f64;
                Rectangle::new([(0.0, y + 0.18), (bar.value, y + 0.82)], PALETTE[0].filled())
            }))
            .map_err(&error)?;
        let value_style = text_style(VALUE_PX, INK).pos(Pos::new(HPos::Left, VPos::Center));
        chart
            .draw_series(bars.iter().enumerate().map(|(index, bar)| {
                let y = (rows - 1 - index) as f64 + 0.5;
                EmptyElement::at((bar.value, y)) + Text::new(thousands(bar.value), (4, 0), value_style.clone())
            }))
            .map_err(&error)?;
        root.present().map_err(&error)?;
    }
    Ok(finish(svg, what))
}

/// Vertical bars in the order given, each value written above its bar.
pub(crate) fn vertical_bars(what: &str, bars: &[Bar], x_name: &str, y_name: &str) -> Result<String, ReportError> {
    let error = drawing(what);
    let labels: Vec<String> = bars.iter().map(|bar| shorten(&bar.label, 16)).collect();
    let max = bars.iter().map(|bar| bar.value).fold(0.0, f64::max);
    let (top, ticks) = value_axis(max * 1.12);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 320)).into_drawing_area();
        root.fill(&WHITE).map_err(&error)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(category_axis(bars.len()), Axis::new(0.0..top, ticks))
            .map_err(&error)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .bold_line_style(GRID)
            .axis_style(MUTED)
            .label_style(text_style(LABEL_PX, INK))
            .axis_desc_style(text_style(LABEL_PX, MUTED))
            .x_label_formatter(&|value| category_label(&labels, *value, false))
            .y_label_formatter(&|value| compact(*value))
            .x_desc(x_name)
            .y_desc(y_name)
            .draw()
            .map_err(&error)?;
        let width = if bars.len() <= 3 { 0.25 } else { 0.15 };
        chart
            .draw_series(bars.iter().enumerate().map(|(index, bar)| {
                let x = index as f64;
                Rectangle::new([(x + width, 0.0), (x + 1.0 - width, bar.value)], PALETTE[0].filled())
            }))
            .map_err(&error)?;
        let value_style = text_style(VALUE_PX, INK).pos(Pos::new(HPos::Center, VPos::Bottom));
        chart
            .draw_series(bars.iter().enumerate().map(|(index, bar)| {
                EmptyElement::at((index as f64 + 0.5, bar.value))
                    + Text::new(thousands(bar.value), (0, -4), value_style.clone())
            }))
            .map_err(&error)?;
        root.present().map_err(&error)?;
    }
    Ok(finish(svg, what))
}

/// The ticks of a log axis over `[low, high]` (powers of ten, with 2 and 5 between them when there
/// are few), as log10 values.
fn log_ticks(low: f64, high: f64) -> (f64, f64, Vec<f64>) {
    let (first, last) = (low.log10().floor(), high.log10().ceil().max(low.log10().floor() + 1.0));
    let mut ticks = Vec::new();
    let few = last - first <= 2.0;
    let mut power = first;
    while power <= last {
        ticks.push(power);
        if few && power < last {
            ticks.extend([2f64.log10() + power, 5f64.log10() + power]);
        }
        power += 1.0;
    }
    (first, last, ticks)
}

/// Lines with a marker at each point, x being years; on a log scale when `log` (every y > 0).
pub(crate) fn lines(
    what: &str,
    series: &[Series],
    x_name: &str,
    y_name: &str,
    log: bool,
) -> Result<String, ReportError> {
    let error = drawing(what);
    let xs: Vec<f64> = {
        let mut xs: Vec<f64> = series.iter().flat_map(|line| line.points.iter().map(|(x, _)| *x)).collect();
        xs.sort_by(f64::total_cmp);
        xs.dedup();
        xs
    };
    let (x_low, x_high) = (xs.first().copied().unwrap_or(0.0), xs.last().copied().unwrap_or(1.0));
    let ys = series.iter().flat_map(|line| line.points.iter().map(|(_, y)| *y));
    // On a log scale the axis holds log10 of the values.
    let to_axis = |y: f64| if log { y.log10() } else { y };
    let (y_low, y_high, y_ticks) = if log {
        let (low, high) = ys.fold((f64::MAX, 0f64), |(low, high), y| (low.min(y), high.max(y)));
        let (low, high) = (low.max(1.0), high.max(1.0));
        let (first, last, ticks) = log_ticks(low, high);
        // A little room below the lowest point and above the highest, so no marker sits on the frame.
        (first.min(low.log10() - 0.12), last.max(high.log10() + 0.12), ticks)
    } else {
        let (top, ticks) = value_axis(ys.fold(0.0, f64::max) * 1.1);
        (0.0, top, ticks)
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 340)).into_drawing_area();
        root.fill(&WHITE).map_err(&error)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .margin_right(24)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(Axis::new((x_low - 0.4)..(x_high + 0.4), xs.clone()), Axis::new(y_low..y_high, y_ticks))
            .map_err(&error)?;
        let y_format = move |value: &f64| if log { compact(10f64.powf(*value)) } else { compact(*value) };
        chart
            .configure_mesh()
            .disable_x_mesh()
            .bold_line_style(GRID)
            .axis_style(MUTED)
            .label_style(text_style(LABEL_PX, INK))
            .axis_desc_style(text_style(LABEL_PX, MUTED))
            .x_label_formatter(&|value| format!("{value:.0}"))
            .y_label_formatter(&y_format)
            .x_desc(x_name)
            .y_desc(if log { format!("{y_name} (log scale)") } else { y_name.to_string() })
            .draw()
            .map_err(&error)?;
        for (index, line) in series.iter().enumerate() {
            let color = PALETTE[index % PALETTE.len()];
            let points: Vec<(f64, f64)> = line.points.iter().map(|(x, y)| (*x, to_axis(*y))).collect();
            chart.draw_series(LineSeries::new(points.clone(), color.stroke_width(2))).map_err(&error)?;
            chart.draw_series(points.into_iter().map(|point| Circle::new(point, 4, color.filled()))).map_err(&error)?;
        }
        root.present().map_err(&error)?;
    }
    Ok(finish(svg, what))
}

/// A grid of `rows` × `columns` cells coloured by value, each cell's value written in it (an empty
/// cell for a missing value).
pub(crate) fn heat_map(
    what: &str,
    rows: &[String],
    columns: &[String],
    values: &[Vec<Option<f64>>],
) -> Result<String, ReportError> {
    let error = drawing(what);
    let rows_shown: Vec<String> = rows.iter().map(|row| shorten(row, LABEL_CHARS)).collect();
    let label_area = rows_shown.iter().map(|row| label_width(row)).max().unwrap_or(0).clamp(40, 300) + 12;
    let height = 56 + 28 * rows.len().max(1) as u32;
    let present = values.iter().flatten().flatten().copied();
    let (min, max) = present.fold((f64::MAX, 0f64), |(min, max), value| (min.min(value), max.max(value)));
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(&error)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(8)
            .x_label_area_size(40)
            .y_label_area_size(label_area)
            .build_cartesian_2d(category_axis(columns.len()), category_axis(rows.len()))
            .map_err(&error)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .axis_style(WHITE)
            .label_style(text_style(LABEL_PX, INK))
            .x_label_formatter(&|value| category_label(columns, *value, false))
            .y_label_formatter(&|value| category_label(&rows_shown, *value, true))
            .draw()
            .map_err(&error)?;
        let cells: Vec<(f64, f64, f64)> = values
            .iter()
            .enumerate()
            .flat_map(|(row, cells)| {
                let y = (rows.len() - 1 - row) as f64;
                cells.iter().enumerate().filter_map(move |(column, value)| Some((column as f64, y, (*value)?)))
            })
            .collect();
        // From the lightest cell (the smallest value) to the darkest (the largest).
        let shade = |value: f64| if max > min { 0.1 + 0.9 * (value - min) / (max - min) } else { 0.5 };
        chart
            .draw_series(cells.iter().map(|&(x, y, value)| {
                let color = blend(RGBColor(0xee, 0xf3, 0xf9), RGBColor(0x1f, 0x4e, 0x79), shade(value));
                Rectangle::new([(x + 0.02, y + 0.04), (x + 0.98, y + 0.96)], color.filled())
            }))
            .map_err(&error)?;
        chart
            .draw_series(cells.iter().map(|&(x, y, value)| {
                let ink = if shade(value) > 0.5 { WHITE } else { INK };
                let style = text_style(VALUE_PX, ink).pos(Pos::new(HPos::Center, VPos::Center));
                Text::new(thousands(value), (x + 0.5, y + 0.5), style)
            }))
            .map_err(&error)?;
        root.present().map_err(&error)?;
    }
    Ok(finish(svg, what))
}

/// `from` moved towards `to` by `share` (0 to 1).
fn blend(from: RGBColor, to: RGBColor, share: f64) -> RGBColor {
    let share = share.clamp(0.0, 1.0);
    let mix = |a: u8, b: u8| (f64::from(a) + (f64::from(b) - f64::from(a)) * share).round() as u8;
    RGBColor(mix(from.0, to.0), mix(from.1, to.1), mix(from.2, to.2))
}

/// Horizontal bars split into segments (`colors[i]` for the i-th value of each row), first row at
/// the top.
pub(crate) fn stacked_bars(
    what: &str,
    rows: &[(String, Vec<f64>)],
    colors: &[RGBColor],
    value_name: &str,
) -> Result<String, ReportError> {
    let error = drawing(what);
    let labels: Vec<String> = rows.iter().map(|(label, _)| shorten(label, LABEL_CHARS)).collect();
    let height = 60 + 34 * rows.len().max(1) as u32;
    let max = rows.iter().map(|(_, values)| values.iter().sum::<f64>()).fold(0.0, f64::max);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        let mut chart = horizontal_frame(what, &root, &labels, value_axis(max), value_name, 24)?;
        let count = rows.len();
        let segments = rows.iter().enumerate().flat_map(|(index, (_, values))| {
            let y = (count - 1 - index) as f64;
            let starts = values.iter().scan(0.0, |sum, value| {
                let start = *sum;
                *sum += value;
                Some(start)
            });
            starts.zip(values).enumerate().filter(|(_, (_, value))| **value > 0.0).map(move |(part, (start, value))| {
                let color = colors.get(part).copied().unwrap_or(PALETTE[part % PALETTE.len()]);
                Rectangle::new([(start, y + 0.2), (start + value, y + 0.8)], color.filled())
            })
        });
        chart.draw_series(segments).map_err(&error)?;
        root.present().map_err(&error)?;
    }
    Ok(finish(svg, what))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bars(values: &[(&str, f64)]) -> Vec<Bar> {
        values.iter().map(|(label, value)| Bar { label: label.to_string(), value: *value }).collect()
    }

    fn count(svg: &str, element: &str) -> usize {
        svg.matches(&format!("<{element} ")).count()
    }

    #[test]
    fn value_axes_end_on_a_round_number_above_the_largest_value() {
        assert_eq!(value_axis(0.0), (1.0, vec![0.0, 1.0]));
        assert_eq!(value_axis(9.0), (10.0, vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]));
        let (top, ticks) = value_axis(15_000_000.0);
        assert_eq!(top, 15_000_000.0);
        assert_eq!(ticks, [0.0, 2.5e6, 5e6, 7.5e6, 10e6, 12.5e6, 15e6]);
        let (first, last, ticks) = log_ticks(1_000.0, 127_000.0);
        assert_eq!((first, last), (3.0, 6.0));
        assert_eq!(ticks, [3.0, 4.0, 5.0, 6.0]);
    }

    #[test]
    fn horizontal_bars_draw_a_bar_and_a_value_per_row_with_escaped_labels() {
        let svg = horizontal_bars("countries", &bars(&[("Antigua & Barbuda", 12.0), ("<b>", 3.0)]), "posts").unwrap();
        assert!(svg.starts_with("<svg role=\"img\" aria-label=\"countries\" "), "{}", &svg[..80]);
        assert!(svg.contains("Antigua &amp; Barbuda") && svg.contains("&lt;b&gt;") && !svg.contains("<b>"));
        // The background, the two bars.
        assert_eq!(count(&svg, "rect"), 3, "{svg}");
        assert!(svg.contains(">\n12\n</text>") && svg.contains(">\n3\n</text>"), "{svg}");
        assert!(svg.trim_end().ends_with("</svg>"));
    }

    #[test]
    fn every_kind_of_chart_draws_its_marks() {
        let vertical =
            vertical_bars("ages", &bars(&[("18-24", 127_000.0), ("+50", 1_000.0)]), "age", "median").unwrap();
        assert_eq!(count(&vertical, "rect"), 3);
        assert!(vertical.contains("127,000"));
        let series = vec![
            Series { name: "18-24".into(), points: vec![(2015.0, 100_000.0), (2016.0, 120_000.0)] },
            Series { name: "+50".into(), points: vec![(2015.0, 1_000.0), (2016.0, 900.0)] },
        ];
        let linear = lines("medians", &series, "year", "median", false).unwrap();
        let log = lines("medians", &series, "year", "median", true).unwrap();
        for svg in [&linear, &log] {
            assert_eq!(svg.matches("stroke-width=\"2\" points=").count(), 2, "a line per series: {svg}");
            assert_eq!(count(svg, "circle"), 4);
        }
        assert!(log.contains("(log scale)") && log.contains(">\n100k\n</text>"), "{log}");
        let heat = heat_map(
            "posts",
            &["art".into(), "travel".into()],
            &["2018".into(), "2019".into()],
            &[vec![Some(1.0), Some(2.0)], vec![None, Some(40.0)]],
        )
        .unwrap();
        assert_eq!(count(&heat, "rect"), 4, "the background and three cells");
        let stacked =
            stacked_bars("tables", &[("pin".into(), vec![10.0, 0.0, 2.0])], &[PALETTE[2], PALETTE[9]], "records")
                .unwrap();
        assert_eq!(count(&stacked, "rect"), 3, "the background and two non-empty segments");
    }

    #[test]
    fn charts_of_nothing_still_draw_their_axes() {
        for svg in [
            horizontal_bars("none", &[], "posts").unwrap(),
            vertical_bars("none", &[], "x", "y").unwrap(),
            lines("none", &[], "x", "y", false).unwrap(),
            heat_map("none", &[], &[], &[]).unwrap(),
            stacked_bars("none", &[], &[], "records").unwrap(),
        ] {
            assert!(svg.contains("<svg ") && svg.contains("</svg>"));
        }
    }
}
