//! The picture of each query's result: which chart fits it, from which columns (docs/SPEC.md §5).
//!
//! * rankings over many groups (q1, q3a: ~200 countries): horizontal bars of the top [`TOP`] groups,
//!   every row being in the table below;
//! * the winner of each of a few groups (q2b, q4): horizontal bars in the groups' order;
//! * counts per category and year (q2a): a heat map;
//! * one value per group (q5, q6, q7): vertical bars;
//! * medians per age group and year (q8, q9): a line per age group, on a log scale when the medians
//!   span more than two orders of magnitude;
//! * the one-row answer (q3b): a highlighted figure.

use polars::prelude::DataFrame;

use crate::charts::{self, css_color, Bar, Series, PALETTE};
use crate::error::ReportError;
use crate::format::{thousands, NULL};
use crate::frame::{numbers, texts};

/// Groups a ranking chart shows.
pub(crate) const TOP: usize = 25;

/// What a query's result is shown as, above its table.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Visual {
    /// A chart: its SVG, a caption, and the legend's names and CSS colours (empty: no legend).
    Chart {
        /// The SVG text.
        svg: String,
        /// What the chart shows, in words.
        caption: String,
        /// The legend: name and colour per series.
        legend: Vec<(String, String)>,
    },
    /// One highlighted answer.
    Figure {
        /// What the answer is (a country).
        label: String,
        /// Its value, formatted.
        value: String,
        /// What the value counts.
        unit: &'static str,
    },
    /// The result has no rows.
    Empty,
}

/// The picture of query `id`'s result; `title` names the chart for assistive technology.
pub(crate) fn visual(id: &str, title: &str, frame: &DataFrame) -> Result<Visual, ReportError> {
    if frame.height() == 0 {
        return Ok(Visual::Empty);
    }
    match id {
        "q1" => ranking(frame, id, title, ["country", "category", "category_count"], "posts in the top category"),
        "q3a" => ranking(frame, id, title, ["country", "poster_name", "follower_count"], "followers"),
        "q2b" => winners(frame, id, title, ["post_year", "category", "category_count"], "posts"),
        "q4" => winners(frame, id, title, ["age_group", "category", "category_count"], "posts"),
        "q2a" => heat_map(frame, id, title),
        "q3b" => figure(frame, id),
        "q5" => bars(frame, id, title, ["age_group", "median_follower_count"], ["age group", "median follower count"]),
        "q6" => bars(frame, id, title, ["post_year", "number_users_joined"], ["year joined", "users who joined"]),
        "q7" => {
            bars(frame, id, title, ["post_year", "median_follower_count"], ["year joined", "median follower count"])
        }
        "q8" => lines(frame, id, title, "year joined"),
        "q9" => lines(frame, id, title, "post year"),
        _ => Ok(Visual::Empty),
    }
}

/// The rows of `frame` as (group, detail, value), ties of a group joined into one entry whose
/// detail lists every tied detail, in the frame's order.
fn grouped(frame: &DataFrame, id: &str, [group, detail, value]: [&str; 3]) -> Result<Vec<Bar>, ReportError> {
    let groups = texts(frame, id, group)?;
    let details = texts(frame, id, detail)?;
    let values = numbers(frame, id, value)?;
    let mut entries: Vec<(String, Vec<String>, f64)> = Vec::new();
    for ((group, detail), value) in groups.into_iter().zip(details).zip(values) {
        let group = group.unwrap_or_else(|| NULL.to_string());
        let detail = detail.unwrap_or_else(|| NULL.to_string());
        match entries.last_mut() {
            Some((last, details, _)) if *last == group => details.push(detail),
            _ => entries.push((group, vec![detail], value.unwrap_or(0.0))),
        }
    }
    Ok(entries
        .into_iter()
        .map(|(group, details, value)| Bar { label: format!("{group} · {}", details.join(", ")), value })
        .collect())
}

/// The top [`TOP`] countries by value (ties by the frame's order), as horizontal bars.
fn ranking(
    frame: &DataFrame,
    id: &str,
    title: &str,
    columns: [&str; 3],
    value_name: &str,
) -> Result<Visual, ReportError> {
    let bars = grouped(frame, id, columns)?;
    let groups = bars.len();
    let bars = top(bars);
    let caption = if groups > TOP {
        format!("The {TOP} of {groups} countries with the most {value_name}; every row is in the table below.")
    } else {
        format!("All {groups} countries, the most {value_name} first.")
    };
    let svg = charts::horizontal_bars(title, &bars, value_name)?;
    Ok(Visual::Chart { svg, caption, legend: Vec::new() })
}

/// The winner(s) of each group, in the groups' order, as horizontal bars.
fn winners(
    frame: &DataFrame,
    id: &str,
    title: &str,
    columns: [&str; 3],
    value_name: &str,
) -> Result<Visual, ReportError> {
    let bars = grouped(frame, id, columns)?;
    let caption = format!("Per {}, the most popular {} and its count (ties share a bar).", columns[0], columns[1]);
    let svg = charts::horizontal_bars(title, &bars, value_name)?;
    Ok(Visual::Chart { svg, caption: caption.replace('_', " "), legend: Vec::new() })
}

/// The [`TOP`] bars of the highest values, highest first (ties in their order).
fn top(mut bars: Vec<Bar>) -> Vec<Bar> {
    bars.sort_by(|a, b| b.value.total_cmp(&a.value));
    bars.truncate(TOP);
    bars
}

/// Posts per category (rows) and post year (columns).
fn heat_map(frame: &DataFrame, id: &str, title: &str) -> Result<Visual, ReportError> {
    let years = texts(frame, id, "post_year")?;
    let categories = texts(frame, id, "category")?;
    let counts = numbers(frame, id, "category_count")?;
    let name = |value: &Option<String>| value.clone().unwrap_or_else(|| NULL.to_string());
    let mut columns: Vec<String> = Vec::new();
    let mut rows: Vec<String> = Vec::new();
    for (year, category) in years.iter().zip(&categories) {
        for (list, value) in [(&mut columns, name(year)), (&mut rows, name(category))] {
            if !list.contains(&value) {
                list.push(value);
            }
        }
    }
    rows.sort();
    let mut values = vec![vec![None; columns.len()]; rows.len()];
    for ((year, category), count) in years.iter().zip(&categories).zip(counts) {
        let row = rows.iter().position(|row| *row == name(category)).expect("every category has a row");
        let column = columns.iter().position(|column| *column == name(year)).expect("every year has a column");
        values[row][column] = count;
    }
    let svg = charts::heat_map(title, &rows, &columns, &values)?;
    let caption = "Posts per category (rows) and post year (columns); the darker the cell, the more posts.".into();
    Ok(Visual::Chart { svg, caption, legend: Vec::new() })
}

/// The one row of q3b.
fn figure(frame: &DataFrame, id: &str) -> Result<Visual, ReportError> {
    let country = texts(frame, id, "country")?.into_iter().next().flatten().unwrap_or_else(|| NULL.to_string());
    let count = numbers(frame, id, "follower_count")?.into_iter().next().flatten();
    Ok(Visual::Figure { label: country, value: count.map_or_else(|| NULL.to_string(), thousands), unit: "followers" })
}

/// One value per group, as vertical bars in the frame's order (NULL values drawn as no bar).
fn bars(
    frame: &DataFrame,
    id: &str,
    title: &str,
    [group, value]: [&str; 2],
    [x_name, y_name]: [&str; 2],
) -> Result<Visual, ReportError> {
    let groups = texts(frame, id, group)?;
    let values = numbers(frame, id, value)?;
    let bars: Vec<Bar> = groups
        .into_iter()
        .zip(values)
        .map(|(group, value)| Bar { label: group.unwrap_or_else(|| NULL.to_string()), value: value.unwrap_or(0.0) })
        .collect();
    let svg = charts::vertical_bars(title, &bars, x_name, y_name)?;
    Ok(Visual::Chart { svg, caption: format!("{} per {x_name}.", capitalised(y_name)), legend: Vec::new() })
}

/// The median follower count per year, one line per age group.
fn lines(frame: &DataFrame, id: &str, title: &str, x_name: &str) -> Result<Visual, ReportError> {
    let groups = texts(frame, id, "age_group")?;
    let years = numbers(frame, id, "post_year")?;
    let medians = numbers(frame, id, "median_follower_count")?;
    let mut series: Vec<Series> = Vec::new();
    for ((group, year), median) in groups.into_iter().zip(years).zip(medians) {
        let name = group.unwrap_or_else(|| NULL.to_string());
        let index = match series.iter().position(|line| line.name == name) {
            Some(index) => index,
            None => {
                series.push(Series { name, points: Vec::new() });
                series.len() - 1
            }
        };
        if let (Some(year), Some(median)) = (year, median) {
            series[index].points.push((year, median));
        }
    }
    let values: Vec<f64> = series.iter().flat_map(|line| line.points.iter().map(|(_, y)| *y)).collect();
    let (low, high) = values.iter().fold((f64::MAX, 0f64), |(low, high), y| (low.min(*y), high.max(*y)));
    let log = !values.is_empty() && low > 0.0 && high / low >= 100.0;
    let svg = charts::lines(title, &series, x_name, "median follower count", log)?;
    let scale = if log { " The medians span orders of magnitude: the scale is logarithmic." } else { "" };
    let caption = format!("The median follower count per {x_name}, one line per age group.{scale}");
    let legend = series
        .iter()
        .enumerate()
        .map(|(index, line)| (line.name.clone(), css_color(PALETTE[index % PALETTE.len()])))
        .collect();
    Ok(Visual::Chart { svg, caption, legend })
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::*;

    #[test]
    fn ties_share_a_bar_and_rankings_keep_the_top() {
        let frame = df!(
            "country" => ["Albania", "Albania", "Chad", "Peru"],
            "category" => [Some("art"), Some("travel"), None, Some("diy")],
            "category_count" => [5i64, 5, 9, 1],
        )
        .unwrap();
        let bars = grouped(&frame, "q1", ["country", "category", "category_count"]).unwrap();
        assert_eq!(
            bars,
            [
                Bar { label: "Albania · art, travel".into(), value: 5.0 },
                Bar { label: "Chad · NULL".into(), value: 9.0 },
                Bar { label: "Peru · diy".into(), value: 1.0 },
            ]
        );
        let labels: Vec<String> = top(bars).into_iter().map(|bar| bar.label).collect();
        assert_eq!(labels, ["Chad · NULL", "Albania · art, travel", "Peru · diy"]);
        let many: Vec<Bar> = (0..40).map(|value| Bar { label: value.to_string(), value: value as f64 }).collect();
        let kept = top(many);
        assert_eq!((kept.len(), kept[0].value, kept[TOP - 1].value), (TOP, 39.0, 15.0));
        let Visual::Chart { svg, caption, .. } = visual("q1", "q1", &frame).unwrap() else { panic!("a chart") };
        assert_eq!(caption, "All 3 countries, the most posts in the top category first.");
        assert!(svg.contains("Chad · NULL") && svg.contains(">\n9\n</text>"), "{svg}");
    }

    #[test]
    fn q3b_is_a_figure_and_an_empty_result_is_empty() {
        let frame = df!("country" => ["Anguilla"], "follower_count" => [15_000_000i32]).unwrap();
        assert_eq!(
            visual("q3b", "q3b", &frame).unwrap(),
            Visual::Figure { label: "Anguilla".into(), value: "15,000,000".into(), unit: "followers" }
        );
        assert_eq!(visual("q3b", "q3b", &frame.clear()).unwrap(), Visual::Empty);
    }

    #[test]
    fn medians_spanning_orders_of_magnitude_are_drawn_on_a_log_scale() {
        let frame = df!(
            "age_group" => ["18-24", "18-24", "+50", "+50"],
            "post_year" => [2015i32, 2016, 2015, 2016],
            "median_follower_count" => [Some(127_000i32), Some(90_000), Some(1_000), None],
        )
        .unwrap();
        let Visual::Chart { caption, legend, .. } = visual("q8", "q8", &frame).unwrap() else { panic!("a chart") };
        assert!(caption.contains("logarithmic"), "{caption}");
        assert_eq!(legend.iter().map(|(name, _)| name.as_str()).collect::<Vec<_>>(), ["18-24", "+50"]);
    }

    #[test]
    fn a_missing_column_is_an_error_naming_the_query_and_column() {
        let frame = df!("age_group" => ["18-24"]).unwrap();
        let error = visual("q5", "q5", &frame).unwrap_err();
        assert!(error.to_string().starts_with("result q5: column median_follower_count"), "{error}");
    }
}
