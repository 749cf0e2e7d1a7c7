//! The report of the real sample in a real browser (feature `browser`): headless Chromium opens
//! `report.html` as `pinpipe transform` writes it, offline; every chart is drawn at a real size with
//! its marks, the page runs without a script error, sorting a table works, and a screenshot is taken
//! (`PINPIPE_REPORT_SCREENSHOT=<file>` keeps a copy: that is how `docs/report.png` is made).
//!
//! Without a Chromium on PATH (`scripts/test.sh` installs Debian's `chromium`), the test says so and
//! passes.

use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pinpipe_batch::{transform_dir, REPORT_FILE};
use pinpipe_lake::testing::real_sample_dir;

/// The browsers tried, in order.
const BROWSERS: [&str; 4] = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"];
/// How long one browser run may take.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(120);

/// Runs before the page's own script: records script errors, and once the page is laid out writes
/// what it measured into `<pre id="pinpipe-probe">` for `--dump-dom` to show.
const PROBE: &str = r##"<script>
window.__errors = [];
window.addEventListener("error", function (event) { window.__errors.push(String(event.message)); });
var consoleError = console.error;
console.error = function () {
  window.__errors.push(Array.prototype.join.call(arguments, " "));
  consoleError.apply(console, arguments);
};
window.addEventListener("load", function () {
  var charts = Array.prototype.map.call(document.querySelectorAll("figure.chart svg"), function (svg) {
    var box = svg.getBoundingClientRect(), owner = svg.closest("article, section");
    // The data's marks: bars and cells (not the white background), lines (2 px) and their points.
    var marks = svg.querySelectorAll('rect:not([fill="#FFFFFF"]), polyline[stroke-width="2"], circle');
    var extent = 0;
    Array.prototype.forEach.call(marks, function (mark) { var b = mark.getBBox(); extent += b.width + b.height; });
    return { id: owner ? owner.id : "", width: Math.round(box.width), height: Math.round(box.height),
             marks: marks.length, extent: Math.round(extent),
             labels: Array.prototype.filter.call(svg.querySelectorAll("text"), function (text) {
               return text.getComputedTextLength() > 0; }).length };
  });
  var header = document.querySelector("#q1 table.sortable th:nth-child(3)");
  header.click();
  header.click();
  var probe = document.createElement("pre");
  probe.id = "pinpipe-probe";
  probe.textContent = JSON.stringify({
    charts: charts,
    errors: window.__errors,
    q1_largest_count: document.querySelector("#q1 table.sortable tbody tr td:nth-child(3)").textContent,
    q3b: (document.querySelector("#q3b .answer") || {}).textContent
  });
  document.body.appendChild(probe);
});
</script>"##;

/// The first browser of [`BROWSERS`] on PATH.
fn browser() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    BROWSERS
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|file| file.is_file())
}

/// What a browser run printed, and whether it succeeded.
struct Run {
    success: bool,
    stdout: String,
    stderr: String,
}

/// Runs headless `browser` on `page` with `arguments`, for at most [`BROWSER_TIMEOUT`]; its output
/// goes through files in `scratch` (a dumped DOM is larger than a pipe holds).
fn headless(browser: &Path, page: &Path, arguments: &[&str], scratch: &Path) -> Run {
    let (stdout, stderr) = (scratch.join("browser.stdout"), scratch.join("browser.stderr"));
    let mut child = Command::new(browser)
        // As root (CI containers) Chromium needs --no-sandbox; no GPU, no /dev/shm needed.
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars"])
        .args(["--no-first-run", "--disable-extensions", "--disable-background-networking", "--mute-audio"])
        .args(arguments)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(File::create(&stdout).unwrap())
        .stderr(File::create(&stderr).unwrap())
        .spawn()
        .unwrap_or_else(|error| panic!("starting {}: {error}", browser.display()));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > BROWSER_TIMEOUT {
            child.kill().unwrap();
            panic!("{} did not finish within {BROWSER_TIMEOUT:?}", browser.display());
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let read = |file: &Path| String::from_utf8_lossy(&std::fs::read(file).unwrap()).into_owned();
    Run { success: status.success(), stdout: read(&stdout), stderr: read(&stderr) }
}

/// The text of `<pre id="pinpipe-probe">` in a dumped DOM, unescaped.
fn probe_text(dom: &str) -> Option<String> {
    let start = dom.find("<pre id=\"pinpipe-probe\">")? + "<pre id=\"pinpipe-probe\">".len();
    let end = start + dom[start..].find("</pre>")?;
    Some(dom[start..end].replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&amp;", "&"))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_real_sample_report_draws_every_chart_in_chromium() {
    let Some(browser) = browser() else {
        // Straight to stderr, so the reason shows even though the test passes.
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED the_real_sample_report_draws_every_chart_in_chromium: no {} on PATH (Debian: apt-get install chromium)",
            BROWSERS.join(", ")
        );
        return;
    };
    // From the repository's root, so that the page names its input as a reader knows it (the test is
    // alone in its binary: changing the folder disturbs no other test).
    std::env::set_current_dir(real_sample_dir().join("../..")).unwrap();
    let out = tempfile::tempdir().unwrap();
    transform_dir(Path::new("data/real-sample"), out.path()).await.unwrap();
    let report = out.path().join(REPORT_FILE);
    let html = std::fs::read_to_string(&report).unwrap();
    let probed = out.path().join("probed.html");
    std::fs::write(&probed, html.replacen("<head>", &format!("<head>{PROBE}"), 1)).unwrap();

    let dump = headless(
        &browser,
        &probed,
        &["--enable-logging=stderr", "--v=0", "--window-size=1400,1000", "--virtual-time-budget=5000", "--dump-dom"],
        out.path(),
    );
    let (dom, log) = (&dump.stdout, &dump.stderr);
    assert!(dump.success, "{} failed: {log}", browser.display());
    let probe = probe_text(dom).unwrap_or_else(|| panic!("the probe did not run; the browser said:\n{log}"));
    let probe: serde_json::Value = serde_json::from_str(&probe).unwrap();

    assert_eq!(probe["errors"], serde_json::json!([]), "script errors");
    let console_errors: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("CONSOLE") && (line.contains("Uncaught") || line.contains("Error")))
        .collect();
    assert!(console_errors.is_empty(), "console errors: {console_errors:#?}");
    let charts = probe["charts"].as_array().unwrap();
    let owners: Vec<&str> = charts.iter().map(|chart| chart["id"].as_str().unwrap()).collect();
    assert_eq!(owners, ["q1", "q2a", "q2b", "q3a", "q4", "q5", "q6", "q7", "q8", "q9", "quality"]);
    for chart in charts {
        let size = |key: &str| chart[key].as_u64().unwrap();
        assert!(size("width") >= 300 && size("height") >= 100, "a chart laid out at a readable size: {chart}");
        assert!(size("marks") >= 3 && size("extent") > 0, "a chart whose bars, lines or cells are drawn: {chart}");
        assert!(size("labels") >= 3, "a chart with labels laid out in a font: {chart}");
    }
    assert_eq!(probe["q3b"], "Anguilla");
    assert_eq!(probe["q1_largest_count"], "47", "sorted by category_count, largest first");

    let screenshot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-real-sample.png");
    let _ = std::fs::remove_file(&screenshot);
    let shot = headless(
        &browser,
        &report,
        &["--window-size=1400,2600", &format!("--screenshot={}", screenshot.display())],
        out.path(),
    );
    assert!(shot.success, "screenshot: {}", shot.stderr);
    let png = std::fs::read(&screenshot).unwrap_or_else(|error| panic!("{}: {error}", screenshot.display()));
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    assert!(png.len() > 50_000, "a screenshot with something on it: {} bytes", png.len());
    if let Some(copy) = std::env::var_os("PINPIPE_REPORT_SCREENSHOT") {
        std::fs::copy(&screenshot, &copy).unwrap();
    }
    let _ = writeln!(
        std::io::stderr(),
        "report of the real sample drawn in {}; screenshot {}",
        browser.display(),
        screenshot.display()
    );
}
