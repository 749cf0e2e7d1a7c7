//! The page: its sections, in HTML built by maud (every interpolated value is escaped; only the
//! SVG the charts module made, and the page's own style and script, go in as they are).

use maud::{html, Markup, PreEscaped, DOCTYPE};
use pinpipe_contract::{Origin, Payload, RejectedRecord, Table};
use polars::prelude::DataFrame;

use crate::charts::{self, css_color, PALETTE};
use crate::error::ReportError;
use crate::format::{duration_ms, shorten, thousands, NULL};
use crate::frame::table_columns;
use crate::manifest::{RunManifest, TableCounts};
use crate::texts::{
    query_text, reject_kind, reject_kind_meaning, uses_age_groups, uses_medians, AGE_GROUP_RULE, MEDIAN_RULE,
    QUERY_TEXTS,
};
use crate::visuals::{visual, Visual};
use crate::{Report, RunFacts};

const STYLE: &str = include_str!("../assets/report.css");
const SCRIPT: &str = include_str!("../assets/report.js");
/// Characters of a refused record's payload the report shows.
const PAYLOAD_CHARS: usize = 300;

/// The whole page.
pub(crate) fn page(report: &Report<'_>) -> Result<Markup, ReportError> {
    let manifest = report.manifest;
    let date = &manifest.run_date;
    let when = if date == "offline" { "offline (pinpipe transform)".to_string() } else { date.clone() };
    let mut queries = Vec::new();
    for text in &QUERY_TEXTS {
        let frame = report.results.iter().find(|(query, _)| query.id == text.id).map(|(_, frame)| frame);
        queries.push(query_article(text.id, frame, date)?);
    }
    let quality = quality_section(report)?;
    Ok(html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="generator" content=(concat!("pinpipe ", env!("CARGO_PKG_VERSION")));
                title { "pinpipe report · " (when) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header.page {
                    h1 { "pinpipe run report " span.date { (when) } }
                    p {
                        "Read from " code { (report.source) } " · "
                        (thousands(manifest.inputs.len() as f64)) " raw inputs consumed"
                        @if let Some(total) = manifest.timings_ms.get("total") { " · batch " (duration_ms(*total)) }
                    }
                    nav {
                        a href="#overview" { "Overview" }
                        @for text in &QUERY_TEXTS { a href={ "#" (text.id) } title=(text.title) { (text.id) } }
                        a href="#quality" { "Data quality" }
                        @if report.run.is_some() { a href="#run" { "The run" } }
                    }
                }
                main {
                    (overview(report))
                    section #results {
                        h2 { "Query results" }
                        p.note {
                            "Each query of docs/SPEC.md §5 over all cleaned data after the run: a chart, its rule one click "
                            "away, and its full table (click a column header to sort)."
                        }
                        div.grid { @for article in &queries { (article) } }
                    }
                    (quality)
                    @if let Some(run) = report.run { (run_section(run)) }
                }
                footer { "Made by pinpipe " (env!("CARGO_PKG_VERSION")) " · a self-contained page: nothing is loaded from the network." }
                script { (PreEscaped(SCRIPT)) }
            }
        }
    })
}

/// The key figures of the run.
fn overview(report: &Report<'_>) -> Markup {
    let tables = &report.manifest.tables;
    let sum = |field: fn(&TableCounts) -> u64| tables.values().map(field).sum::<u64>() as f64;
    let refused = sum(TableCounts::rejected_total);
    let total_rows: u64 = report.manifest.cleaned_rows_total.values().sum();
    html! {
        section #overview {
            h2 { "Overview" }
            div.cards {
                (card("records read", &thousands(sum(|t| t.records_in)), None))
                (card("records cleaned (added)", &thousands(sum(|t| t.records_cleaned)), None))
                (card("duplicates dropped", &thousands(sum(|t| t.duplicates_dropped)), None))
                (card("records refused", &thousands(refused), Some(refused == 0.0)))
                (card("rows in the cleaned tables", &thousands(total_rows as f64), None))
                @if let Some(run) = report.run {
                    (card("acknowledged records lost", &thousands(run.accounts.lost as f64), Some(run.accounts.lost == 0)))
                    (card("records doubled", &thousands(run.accounts.doubled as f64), Some(run.accounts.doubled == 0)))
                }
            }
        }
    }
}

fn card(label: &str, value: &str, ok: Option<bool>) -> Markup {
    html! {
        div.card.ok[ok == Some(true)].bad[ok == Some(false)] {
            div.value { (value) }
            div.label { (label) }
        }
    }
}

/// The accounts and phases of a `pinpipe run`.
fn run_section(run: &RunFacts) -> Markup {
    let accounts = &run.accounts;
    let rows: [(&str, u64, &str); 8] = [
        ("posted", accounts.posted, "records sent to the API"),
        ("acknowledged", accounts.acknowledged, "records the API acknowledged as stored"),
        ("landed raw", accounts.landed_raw, "records in the raw layer (topics/)"),
        ("cleaned", accounts.cleaned, "records the batch cleaned in this run"),
        ("streamed", accounts.streamed, "rows of the stream tables (stream/)"),
        ("rejected", accounts.rejected, "records refused by any stage (rejected/)"),
        ("lost", accounts.lost, "acknowledged records the lake does not hold"),
        ("doubled", accounts.doubled, "extra copies of records the lake holds more than once"),
    ];
    let settled = accounts.lost == 0 && accounts.doubled == 0;
    html! {
        section #run {
            h2 { "The run" }
            div.panel {
                p {
                    @if settled {
                        span.status-ok { "Every acknowledged record is in the lake exactly once." }
                    } @else {
                        span.status-bad { (accounts.lost) " acknowledged records lost, " (accounts.doubled) " doubled." }
                    }
                    " Every record the API acknowledged was looked up in the lake where the API said it stored it."
                }
                div.grid {
                    div {
                        h4 { "Accounts" }
                        table {
                            thead { tr { th { "account" } th.num { "records" } th { "meaning" } } }
                            tbody {
                                @for (name, value, meaning) in rows {
                                    tr { td { (name) } td.num { (thousands(value as f64)) } td { (meaning) } }
                                }
                            }
                        }
                    }
                    div {
                        h4 { "Timings" }
                        table {
                            thead { tr { th { "phase" } th.num { "wall time" } } }
                            tbody {
                                @for (phase, took) in &run.phases {
                                    tr { td { (phase) } td.num { (duration_ms(took.as_millis() as u64)) } }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The data-quality counts of docs/SPEC.md §6, with examples of refused records.
fn quality_section(report: &Report<'_>) -> Result<Markup, ReportError> {
    let manifest = report.manifest;
    let tables: Vec<(Table, &TableCounts)> = manifest.tables.iter().map(|(table, counts)| (*table, counts)).collect();
    let segments = [("cleaned", PALETTE[2]), ("duplicates dropped", PALETTE[9]), ("refused", PALETTE[3])];
    let rows: Vec<(String, Vec<f64>)> = tables
        .iter()
        .map(|(table, counts)| {
            let values = [counts.records_cleaned, counts.duplicates_dropped, counts.rejected_total()];
            (table.to_string(), values.iter().map(|value| *value as f64).collect())
        })
        .collect();
    let colors: Vec<_> = segments.iter().map(|(_, color)| *color).collect();
    let chart = charts::stacked_bars("What happened to each table's records", &rows, &colors, "records read")?;
    Ok(html! {
        section #quality {
            h2 { "Data quality" }
            div.panel {
                p.note { "What the batch did with the records it read in this run (docs/SPEC.md §6): every record read is cleaned, dropped as an exact duplicate of one seen before, or refused with its reason." }
                figure.chart { (PreEscaped(chart)) }
                div.legend {
                    @for (name, color) in segments { span { span.swatch style={ "background:" (css_color(color)) } {} (name) } }
                }
                h4 { "Per table" }
                (counts_table(manifest, &tables))
                h4 { "Records refused, by reason" }
                (refusals(&tables, report.rejected))
                h4 { "Values made NULL because their JSON type does not fit the field (record kept)" }
                (per_field(&tables, |counts| counts.invalid_values.clone().into_iter().collect()))
                h4 { "NULLs produced by the cleaning rules (docs/SPEC.md §4)" }
                (null_rules(&tables))
                h4 { "Inputs" }
                (inputs(manifest))
            }
        }
    })
}

fn counts_table(manifest: &RunManifest, tables: &[(Table, &TableCounts)]) -> Markup {
    type Row = (&'static str, fn(&TableCounts) -> u64);
    let rows: [Row; 4] = [
        ("records read", |counts| counts.records_in),
        ("records cleaned (added to the table)", |counts| counts.records_cleaned),
        ("duplicates dropped", |counts| counts.duplicates_dropped),
        ("records refused", TableCounts::rejected_total),
    ];
    html! {
        table {
            thead { tr { th { "" } @for (table, _) in tables { th.num { (table) } } } }
            tbody {
                @for (name, value) in rows {
                    tr { td { (name) } @for (_, counts) in tables { td.num { (thousands(value(counts) as f64)) } } }
                }
                tr {
                    td { "rows in the cleaned table after the run" }
                    @for (table, _) in tables {
                        td.num { (thousands(manifest.cleaned_rows_total.get(table).copied().unwrap_or(0) as f64)) }
                    }
                }
            }
        }
    }
}

/// The refusals per table and kind, each with a few examples.
fn refusals(tables: &[(Table, &TableCounts)], examples: &[RejectedRecord]) -> Markup {
    let rows: Vec<(Table, &String, u64)> = tables
        .iter()
        .flat_map(|(table, counts)| counts.rejected.iter().map(move |(kind, count)| (*table, kind, *count)))
        .filter(|(_, _, count)| *count > 0)
        .collect();
    if rows.is_empty() {
        return html! { p.note { "No record was refused." } };
    }
    html! {
        table {
            thead { tr { th { "table" } th { "kind" } th { "meaning" } th.num { "records" } } }
            tbody {
                @for (table, kind, count) in &rows {
                    tr {
                        td { (table) }
                        td { code { (kind) } }
                        td { (reject_kind(kind).map(reject_kind_meaning).unwrap_or("")) }
                        td.num { (thousands(*count as f64)) }
                    }
                }
            }
        }
        @for (table, kind, count) in &rows {
            @let shown: Vec<&RejectedRecord> = examples
                .iter()
                .filter(|record| record.table == Some(*table) && reject_kind(kind) == Some(record.kind))
                .collect();
            @if !shown.is_empty() {
                details {
                    summary { "Examples of " code { (kind) } " in " (table) " (" (shown.len()) " of " (thousands(*count as f64)) ")" }
                    @for record in shown { (example(record)) }
                }
            }
        }
    }
}

fn example(record: &RejectedRecord) -> Markup {
    let origin = match &record.origin {
        Origin::Line { source, line } => format!("{source}, line {line}"),
        Origin::Kafka(at) => format!("topic {}, partition {}, offset {}", at.topic, at.partition, at.offset),
        Origin::Kinesis(at) => {
            format!("stream {}, shard {}, sequence number {}", at.stream, at.shard_id, at.sequence_number)
        }
    };
    let payload = match &record.payload {
        Some(Payload::Text(text)) => shorten(text, PAYLOAD_CHARS),
        Some(Payload::Base64(encoded)) => format!("(base64) {}", shorten(encoded, PAYLOAD_CHARS)),
        None => "(no value)".to_string(),
    };
    html! {
        div.example {
            div { (origin) ": " (record.reason) }
            code { (payload) }
        }
    }
}

/// A per-field count of every table, as a table of field × table (or a note when all are 0).
fn per_field(tables: &[(Table, &TableCounts)], counts: impl Fn(&TableCounts) -> Vec<(String, u64)>) -> Markup {
    let rows: Vec<(Table, String, u64)> = tables
        .iter()
        .flat_map(|(table, table_counts)| counts(table_counts).into_iter().map(move |(field, n)| (*table, field, n)))
        .filter(|(_, _, count)| *count > 0)
        .collect();
    if rows.is_empty() {
        return html! { p.note { "None." } };
    }
    html! {
        table {
            thead { tr { th { "table" } th { "field" } th.num { "values" } } }
            tbody { @for (table, field, count) in rows { tr { td { (table) } td { code { (field) } } td.num { (thousands(count as f64)) } } } }
        }
    }
}

/// The NULLs of each cleaning rule, per table and column.
fn null_rules(tables: &[(Table, &TableCounts)]) -> Markup {
    let mut rows: Vec<(Table, &str, String, u64)> = Vec::new();
    for (table, counts) in tables {
        let nulls = &counts.nulls;
        let per_column = [
            ("\"\" → NULL (rule 2)", &nulls.empty_text),
            ("placeholder → NULL (rule 3)", &nulls.placeholder),
            ("unparseable datetime → NULL (§1)", &nulls.unparseable_datetime),
        ];
        for (rule, columns) in per_column {
            rows.extend(columns.iter().map(|(column, count)| (*table, rule, column.clone(), *count)));
        }
        rows.push((
            *table,
            "follower_count that is no count → NULL (rule 4)",
            "follower_count".into(),
            nulls.unparseable_follower_count,
        ));
    }
    rows.retain(|(_, _, _, count)| *count > 0);
    if rows.is_empty() {
        return html! { p.note { "None." } };
    }
    html! {
        table.sortable {
            thead { tr { th { "table" } th { "rule" } th { "column" } th.num { "values" } } }
            tbody {
                @for (table, rule, column, count) in rows {
                    tr { td { (table) } td { (rule) } td { code { (column) } } td.num data-v=(count) { (thousands(count as f64)) } }
                }
            }
        }
    }
}

fn inputs(manifest: &RunManifest) -> Markup {
    let bytes: u64 = manifest.inputs.iter().map(|input| input.size).sum();
    html! {
        p {
            (thousands(manifest.inputs.len() as f64)) " raw inputs consumed (" (thousands(bytes as f64)) " bytes)"
            @if !manifest.timings_ms.is_empty() {
                "; batch timings: "
                @for (index, (phase, ms)) in timings(manifest).into_iter().enumerate() {
                    @if index > 0 { ", " } (phase) " " (duration_ms(ms))
                }
            }
            "."
        }
        @if !manifest.inputs.is_empty() {
            details {
                summary { "The inputs" }
                div.table-wrap {
                    table {
                        thead { tr { th { "key" } th.num { "bytes" } } }
                        tbody { @for input in &manifest.inputs { tr { td { code { (input.key) } } td.num { (thousands(input.size as f64)) } } } }
                    }
                }
            }
        }
        @if !manifest.skipped_inputs.is_empty() {
            p { (manifest.skipped_inputs.len()) " objects under topics/ were passed over:" }
            ul { @for skipped in &manifest.skipped_inputs { li { code { (skipped.key) } ": " (skipped.reason) } } }
        }
    }
}

/// The manifest's timings in the order of the phases (`read`, `transform`, `write`, then `total`
/// and any other).
fn timings(manifest: &RunManifest) -> Vec<(&str, u64)> {
    let rank = |phase: &str| ["read", "transform", "query", "write", "total"].iter().position(|known| *known == phase);
    let mut timings: Vec<(&str, u64)> = manifest.timings_ms.iter().map(|(phase, ms)| (phase.as_str(), *ms)).collect();
    timings.sort_by_key(|(phase, _)| rank(phase).unwrap_or(usize::MAX));
    timings
}

/// One query: title, chart (or figure), rule, full table.
fn query_article(id: &str, frame: Option<&DataFrame>, date: &str) -> Result<Markup, ReportError> {
    let text = query_text(id).expect("every query of QUERY_TEXTS has words");
    let Some(frame) = frame else {
        return Ok(html! {
            article.query #(id) {
                header { h3 { (text.title) } span.qid { (id) } }
                p.empty { "This run has no result for " (id) "." }
            }
        });
    };
    let picture = visual(id, text.title, frame)?;
    let columns = table_columns(frame, id)?;
    let key =
        if date == "offline" { format!("{id} (pinpipe transform)") } else { format!("results/{id} (run_date={date})") };
    Ok(html! {
        article.query #(id) {
            header { h3 { (text.title) } span.qid { (id) } }
            @match &picture {
                Visual::Chart { svg, caption, legend } => {
                    p.caption { (caption) }
                    figure.chart { (PreEscaped(svg)) }
                    @if !legend.is_empty() {
                        div.legend {
                            @for (name, color) in legend { span { span.swatch style={ "background:" (color) } {} (name) } }
                        }
                    }
                }
                Visual::Figure { label, value, unit } => {
                    div.figure {
                        span.answer { (label) }
                        span { span.amount { (value) } " " span.unit { (unit) } }
                    }
                }
                Visual::Empty => { p.empty { "No rows: nothing to draw." } }
            }
            details.rule {
                summary { "How this is computed" }
                p { (text.rule) }
                @if uses_age_groups(id) { p { (AGE_GROUP_RULE) } }
                @if uses_medians(id) { p { (MEDIAN_RULE) } }
                p.note { "docs/SPEC.md §5: " (text.question) ". Stored as " code { (key) } "." }
            }
            div.table-wrap {
                table.sortable {
                    thead { tr { @for column in &columns { th.num[column.numeric] { (column.name) } } } }
                    tbody {
                        @for row in 0..frame.height() {
                            tr {
                                @for column in &columns {
                                    @let cell = column.cells[row].as_deref();
                                    td.num[column.numeric].null[cell.is_none()] data-v=[column.sort_values.get(row).copied().flatten()] {
                                        (cell.unwrap_or(NULL))
                                    }
                                }
                            }
                        }
                    }
                }
            }
            p.rows { (thousands(frame.height() as f64)) @if frame.height() == 1 { " row" } @else { " rows" } }
        }
    })
}
