//! The SAM template's alarms and dashboard use the namespace, dimensions and metric names this crate
//! defines, and nothing else in that namespace: renaming a metric here without the template (or the
//! other way round) fails this test instead of silencing an alarm.

use std::collections::BTreeSet;

use pinpipe_metrics::{ALL, FUNCTION_DIMENSION, KIND_DIMENSION, NAMESPACE};

fn template() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../infra/template.yaml");
    std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{path}: {error}"))
}

/// Metric names of the namespace in alarms (`Namespace: pinpipe` then `MetricName: X` within a few
/// lines), in the dashboard's metric arrays (`["pinpipe", "X", …`) and in its searches
/// (`SEARCH('{pinpipe,…} MetricName=\"X\" …`).
fn names_used(template: &str) -> BTreeSet<String> {
    let lines: Vec<&str> = template.lines().collect();
    let mut used = BTreeSet::new();
    for (i, line) in lines.iter().enumerate() {
        if line.trim() == format!("Namespace: {NAMESPACE}") {
            let name = lines[i + 1..]
                .iter()
                .take(4)
                .find_map(|next| next.trim().strip_prefix("MetricName: "))
                .unwrap_or_else(|| panic!("line {}: no MetricName after the namespace", i + 1));
            used.insert(name.trim().to_string());
        }
    }
    let array = format!(r#"["{NAMESPACE}", ""#);
    for (at, _) in template.match_indices(&array) {
        let rest = &template[at + array.len()..];
        used.insert(rest[..rest.find('"').unwrap()].to_string());
    }
    let search = format!("SEARCH('{{{NAMESPACE},");
    let metric_name = r#"MetricName=\""#;
    for (at, _) in template.match_indices(&search) {
        let (_, rest) = template[at..].split_once(metric_name).expect("a search names its metric");
        used.insert(rest[..rest.find('\\').unwrap()].to_string());
    }
    used
}

#[test]
fn the_template_uses_only_metrics_the_functions_emit() {
    let template = template();
    let used = names_used(&template);
    let known: BTreeSet<String> = ALL.iter().map(|metric| metric.name.to_string()).collect();
    assert!(used.len() >= 5, "the template should alarm on and chart pinpipe metrics: {used:?}");
    assert!(used.contains("RecordsRejected") && used.contains("RejectedShare"), "{used:?}");
    let unknown: Vec<&String> = used.difference(&known).collect();
    assert!(unknown.is_empty(), "the template uses metrics no function emits: {unknown:?}");
}

#[test]
fn the_template_uses_the_crate_dimensions() {
    let template = template();
    assert!(template.contains(&format!("- Name: {FUNCTION_DIMENSION}\n")));
    assert!(template.contains(&format!(r#""{FUNCTION_DIMENSION}", "${{"#)));
    assert!(template.contains(&format!("{{{NAMESPACE},{FUNCTION_DIMENSION},{KIND_DIMENSION}}}")));
}
