//! A person in a real browser: the client answers on a phone-sized screen by tapping, the
//! clinician logs in and reads the scores. Headless Chromium over WebDriver (chromedriver, started
//! here on a free port and killed when the test ends).
//!
//! Without chromium and chromedriver the test prints "skipped: chromium not installed" and
//! passes; with `BORDIN_REQUIRE_BROWSER=1` (CI) it fails instead. `BORDIN_CHROMIUM` and
//! `BORDIN_CHROMEDRIVER` override where the binaries are looked for. Screenshots go to
//! `target/screenshots/`.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use crate::support::*;

const CHROME_FLAGS: [&str; 8] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
];

/// A phone (iPhone 12–15 class): 390 × 844 CSS pixels.
const PHONE: (u32, u32) = (390, 844);
const DESKTOP: (u32, u32) = (1280, 900);

/// How long one browser test may take before it is failed rather than left hanging.
const TEST_LIMIT: Duration = Duration::from_secs(180);

// ---------------------------------------------------------------------------------------------
// The browser fixture

/// A running chromedriver. Dropping it kills chromedriver and whatever it started (it runs in
/// its own process group), also when the test panics.
struct ChromeDriver {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        // The group id is chromedriver's pid (process_group(0) below); Chromium inherits it.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find_executable(env: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env) {
        let p = PathBuf::from(p);
        return p.is_file().then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

struct Browser {
    client: Client,
    driver: ChromeDriver,
    _profile: tempfile::TempDir,
}

/// Starts chromedriver and a headless Chromium with an empty profile, or says why it cannot.
async fn start_browser() -> Option<Browser> {
    let chromium = find_executable(
        "BORDIN_CHROMIUM",
        &[
            "chromium",
            "chromium-browser",
            "google-chrome",
            "google-chrome-stable",
        ],
    );
    let chromedriver = find_executable("BORDIN_CHROMEDRIVER", &["chromedriver"]);
    let (Some(chromium), Some(chromedriver)) = (chromium.clone(), chromedriver.clone()) else {
        let what = format!("chromium: {chromium:?}, chromedriver: {chromedriver:?}");
        if std::env::var("BORDIN_REQUIRE_BROWSER").is_ok_and(|v| v == "1") {
            panic!("BORDIN_REQUIRE_BROWSER=1 but the browser is missing ({what}); install chromium and chromedriver");
        }
        println!("skipped: chromium not installed ({what}); set BORDIN_REQUIRE_BROWSER=1 to make this a failure");
        return None;
    };

    let profile = tempfile::tempdir().expect("profile dir");
    let log = profile.path().join("chromedriver.log");
    let port = free_port();
    let child = {
        use std::os::unix::process::CommandExt as _;
        Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", chromedriver.display()))
    };
    let driver = ChromeDriver { child, port, log };
    let base = format!("http://127.0.0.1:{}", driver.port);

    // Wait until chromedriver answers.
    let http = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let ready = match http.get(format!("{base}/status")).send().await {
            Ok(r) => r
                .json::<Value>()
                .await
                .is_ok_and(|v| v["value"]["ready"] == true),
            Err(_) => false,
        };
        if ready {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "chromedriver did not start within 30 s: {}",
            driver_log(&driver)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let mut args: Vec<String> = CHROME_FLAGS.iter().map(|s| (*s).to_owned()).collect();
    args.push(format!(
        "--user-data-dir={}",
        profile.path().join("chrome").display()
    ));
    args.push(format!("--window-size={},{}", PHONE.0, PHONE.1));
    let caps = json!({
        "browserName": "chrome",
        "goog:chromeOptions": { "binary": chromium, "args": args },
    });
    let Value::Object(caps) = caps else {
        unreachable!()
    };
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&base)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "chromium did not start through chromedriver: {e}\n{}",
                driver_log(&driver)
            )
        });
    Some(Browser {
        client,
        driver,
        _profile: profile,
    })
}

fn driver_log(d: &ChromeDriver) -> String {
    let text = std::fs::read_to_string(&d.log).unwrap_or_default();
    let tail: Vec<&str> = text.lines().rev().take(30).collect();
    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
}

/// Runs `body` with a browser, then closes the browser and chromedriver whatever happened.
/// Returns false when the browser is not installed (and not required), so nothing ran.
async fn with_browser<F, Fut>(body: F) -> bool
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(browser) = start_browser().await else {
        return false;
    };
    let outcome = tokio::spawn(tokio::time::timeout(
        TEST_LIMIT,
        body(browser.client.clone()),
    ))
    .await;
    let _ = tokio::time::timeout(Duration::from_secs(10), browser.client.close()).await;
    drop(browser.driver);
    match outcome {
        Ok(Ok(())) => true,
        Ok(Err(_)) => panic!("the browser test did not finish within {TEST_LIMIT:?}"),
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

// ---------------------------------------------------------------------------------------------
// What a person does

/// Where screenshots go: `target/screenshots/` of the workspace.
fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"),
        PathBuf::from,
    );
    let dir = target.join("screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    dir
}

/// Saves a screenshot of the whole page, from its top: the window is made as tall as the page,
/// then put back.
async fn screenshot(c: &Client, name: &str) {
    let (w, h) = c.get_window_size().await.expect("window size");
    let (w, h) = (
        u32::try_from(w).expect("width"),
        u32::try_from(h).expect("height"),
    );
    let dims = c
        .execute("window.scrollTo(0, 0); return [document.documentElement.scrollHeight, window.outerHeight - window.innerHeight];", vec![])
        .await
        .expect("page height");
    let (page_h, frame_h) = (dims[0].as_u64().unwrap_or(0), dims[1].as_u64().unwrap_or(0));
    let full = u32::try_from(page_h + frame_h)
        .unwrap_or(h)
        .clamp(h, 10_000);
    c.set_window_size(w, full).await.expect("resize");
    c.execute("window.scrollTo(0, 0)", vec![])
        .await
        .expect("scroll to top");
    let png = c.screenshot().await.expect("screenshot");
    c.set_window_size(w, h).await.expect("resize back");
    let path = screenshot_dir().join(format!("{name}.png"));
    std::fs::write(&path, png).expect("write screenshot");
    println!("screenshot: {}", path.display());
}

async fn wait_for(c: &Client, locator: Locator<'_>) -> fantoccini::elements::Element {
    c.wait()
        .at_most(Duration::from_secs(20))
        .for_element(locator)
        .await
        .unwrap_or_else(|e| {
            panic!("waited for {locator:?}: {e}");
        })
}

/// Waits until the page's heading reads `expected` (a click that submits returns before the
/// next page has loaded).
async fn expect_heading(c: &Client, expected: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let now = match c.find(Locator::Css("h1")).await {
            Ok(h) => h.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if now == expected {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "expected the heading {expected:?}, the page shows {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Taps the answer `value` of question `item`, the way a finger does: on the option's label.
async fn tap(c: &Client, item: &str, value: &str) {
    let label = c
        .find(Locator::XPath(&format!(
            "//input[@name='{item}' and @value='{value}']/parent::label"
        )))
        .await
        .unwrap_or_else(|e| panic!("no option {item}={value}: {e}"));
    label
        .click()
        .await
        .unwrap_or_else(|e| panic!("tap {item}={value}: {e}"));
    let input = label.find(Locator::Css("input")).await.expect("radio");
    assert!(
        input.is_selected().await.expect("selected?"),
        "{item}={value} is chosen after the tap"
    );
}

async fn send(c: &Client) {
    c.find(Locator::Css("form.questionnaire button[type=submit]"))
        .await
        .expect("submit button")
        .click()
        .await
        .expect("submit");
}

/// The page fits a phone: nothing wider than the screen, and answer targets big enough to tap.
async fn assert_fits_the_phone(c: &Client) {
    let widths = c
        .execute(
            "return [window.innerWidth, document.documentElement.scrollWidth]",
            vec![],
        )
        .await
        .expect("widths");
    let (inner, scroll) = (widths[0].as_u64().unwrap(), widths[1].as_u64().unwrap());
    assert!(
        inner <= u64::from(PHONE.0),
        "the window is phone-sized (inner width {inner})"
    );
    assert!(
        scroll <= inner,
        "no sideways scrolling on a phone: page {scroll}px wide in a {inner}px window"
    );
    let heights = c.execute("return Array.from(document.querySelectorAll('label.opt')).map(l => l.getBoundingClientRect().height)", vec![]).await.expect("heights");
    let smallest = heights
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_f64)
        .fold(f64::INFINITY, f64::min);
    assert!(
        smallest >= 44.0,
        "answer targets are at least 44 px tall (smallest {smallest})"
    );
}

/// The text of each cell of the scores table's rows, keyed by column heading.
async fn scores_table(c: &Client) -> Vec<Vec<(String, String)>> {
    let table = wait_for(c, Locator::Css("table#scores")).await;
    let mut heads = Vec::new();
    for th in table
        .find_all(Locator::Css("thead th"))
        .await
        .expect("headings")
    {
        heads.push(th.text().await.expect("th").replace('\n', " "));
    }
    let mut rows = Vec::new();
    for tr in table
        .find_all(Locator::Css("tbody tr"))
        .await
        .expect("rows")
    {
        let mut cells = Vec::new();
        for (i, cell) in tr
            .find_all(Locator::Css("th, td"))
            .await
            .expect("cells")
            .into_iter()
            .enumerate()
        {
            cells.push((
                heads[i].clone(),
                cell.text().await.expect("cell").replace('\n', " "),
            ));
        }
        rows.push(cells);
    }
    rows
}

// ---------------------------------------------------------------------------------------------
// The test

/// PHQ-9 answers (value per item) tapped on the phone: 3+3+2+2+2+2+1+1+0 = 16, "moderately
/// severe"; q10 (difficulty, not scored) "Somewhat difficult".
const PHQ9_TAPS: [(&str, &str); 10] = [
    ("q1", "3"),
    ("q2", "3"),
    ("q3", "2"),
    ("q4", "2"),
    ("q5", "2"),
    ("q6", "2"),
    ("q7", "1"),
    ("q8", "1"),
    ("q9", "0"),
    ("q10", "1"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_answers_on_a_phone_and_the_clinician_sees_the_scores_in_chromium() {
    let app = spawn_app().await;
    let s = app.login(&app.clinician).await;
    let case_id = s.new_case("C-phone").await;
    let (_, session) = s
        .post_json(
            &format!("/api/v1/cases/{case_id}/sessions"),
            &json!({"held_on": "2026-03-02"}),
        )
        .await;
    let session_id = session["session_id"].as_str().expect("session").to_owned();
    let mut links = Vec::new();
    for instrument in ["session_check", "phq9"] {
        let (status, body) = s
            .post_json(
                &format!("/api/v1/cases/{case_id}/administrations"),
                &json!({"instrument": instrument, "session": session_id}),
            )
            .await;
        assert_eq!(status, reqwest::StatusCode::CREATED, "{body}");
        links.push(app.url(body["path"].as_str().expect("path")));
    }
    let (sc_link, phq_link) = (links[0].clone(), links[1].clone());
    let login_url = app.url("/login");
    let case_url = app.url(&format!("/cases/{case_id}"));
    let email = app.clinician.email.clone();

    let ran = with_browser(move |c| async move {
        // (a) The client opens the Session Check on their phone, forgets three questions, is
        // shown where, and finishes by tapping one answer per question.
        c.set_window_size(PHONE.0, PHONE.1)
            .await
            .expect("phone size");
        c.goto(&sc_link).await.expect("open link");
        expect_heading(&c, "Bordin Session Check").await;
        assert_fits_the_phone(&c).await;
        tap(&c, "q1", "8").await;
        send(&c).await;
        wait_for(&c, Locator::Css("#form-problems")).await;
        assert!(c
            .find(Locator::Css("#form-problems"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
            .contains("Please check 3 answers below."));
        assert!(
            c.find(Locator::Css("#err-q2"))
                .await
                .unwrap()
                .is_displayed()
                .await
                .unwrap(),
            "the problem is shown at q2"
        );
        let kept = c
            .find(Locator::Css("input[name=q1][value='8']"))
            .await
            .unwrap();
        assert!(
            kept.is_selected().await.unwrap(),
            "q1 keeps the answer tapped before"
        );
        screenshot(&c, "session-check-phone-problems").await;
        for (item, value) in [("q2", "7"), ("q3", "9"), ("q4", "6")] {
            tap(&c, item, value).await;
        }
        screenshot(&c, "session-check-phone").await;
        send(&c).await;
        expect_heading(&c, "Thank you").await;
        assert!(c
            .source()
            .await
            .unwrap()
            .contains("Your answers have been sent."));
        screenshot(&c, "thank-you-phone").await;

        // (b) The same for the PHQ-9.
        c.goto(&phq_link).await.expect("open link");
        expect_heading(&c, "Patient Health Questionnaire (PHQ-9)").await;
        assert_fits_the_phone(&c).await;
        for (item, value) in PHQ9_TAPS {
            tap(&c, item, value).await;
        }
        screenshot(&c, "phq9-phone").await;
        send(&c).await;
        expect_heading(&c, "Thank you").await;
        // Back and send again: the link is used; the first answers stand.
        c.goto(&phq_link).await.expect("reopen link");
        expect_heading(&c, "Thank you").await;
        assert!(c.source().await.unwrap().contains("already been received"));

        // (c) The clinician logs in on a desktop and reads both scores for session 1.
        c.set_window_size(DESKTOP.0, DESKTOP.1)
            .await
            .expect("desktop size");
        c.goto(&login_url).await.expect("login page");
        c.find(Locator::Id("email"))
            .await
            .unwrap()
            .send_keys(&email)
            .await
            .unwrap();
        c.find(Locator::Id("password"))
            .await
            .unwrap()
            .send_keys(PASSWORD)
            .await
            .unwrap();
        c.find(Locator::Css("form button[type=submit]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        expect_heading(&c, "Caseload").await;
        c.find(Locator::LinkText("C-phone"))
            .await
            .expect("the case is on the caseload")
            .click()
            .await
            .unwrap();
        expect_heading(&c, "C-phone").await;
        assert_eq!(c.current_url().await.unwrap().as_str(), case_url);

        let rows = scores_table(&c).await;
        assert_eq!(rows.len(), 1, "one session: {rows:?}");
        let cell = |col: &str| {
            rows[0]
                .iter()
                .find(|(h, _)| h.starts_with(col))
                .map(|(_, t)| t.clone())
                .unwrap_or_else(|| panic!("no column {col}: {rows:?}"))
        };
        assert_eq!(cell("Session"), "1");
        assert_eq!(cell("Date"), "2026-03-02");
        // 8 + 7 + 9 + 6 = 30.
        assert_eq!(
            cell("Session Check"),
            "30 bond 8 · goals 7 · tasks 9 · overall fit 6"
        );
        // 3+3+2+2+2+2+1+1+0 = 16: moderately severe (15–19).
        assert_eq!(cell("PHQ-9"), "16 moderately severe");
        assert!(
            !c.source().await.unwrap().contains("Risk item"),
            "no risk item: q9 was 'Not at all'"
        );
        screenshot(&c, "client-page").await;
    })
    .await;

    // What the browser sent is what was stored.
    if ran {
        let sc = s.scores(&case_id, "session_check", "total").await;
        let phq = s.scores(&case_id, "phq9", "total").await;
        assert_eq!((sc.len(), sc[0]["value"].as_f64()), (1, Some(30.0)));
        assert_eq!(
            (phq.len(), phq[0]["value"].as_f64(), phq[0]["band"].as_str()),
            (1, Some(16.0), Some("moderately severe"))
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Monitoring in the browser

/// Logs in through the login page's form.
async fn log_in(c: &Client, login_url: &str, email: &str) {
    c.goto(login_url).await.expect("login page");
    expect_heading(c, "Log in to Bordin").await;
    c.find(Locator::Id("email"))
        .await
        .unwrap()
        .send_keys(email)
        .await
        .unwrap();
    c.find(Locator::Id("password"))
        .await
        .unwrap()
        .send_keys(PASSWORD)
        .await
        .unwrap();
    c.find(Locator::Css("form button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    expect_heading(c, "Caseload").await;
}

/// Waits until nothing matches `css` (a click that submits returns before the next page).
async fn wait_gone(c: &Client, css: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while c.find(Locator::Css(css)).await.is_ok() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{css} is still on the page"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn texts(c: &Client, css: &str) -> Vec<String> {
    let mut out = Vec::new();
    for e in c.find_all(Locator::Css(css)).await.expect(css) {
        out.push(e.text().await.expect("text").replace('\n', " "));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clinician_works_through_alerts_and_a_supervisor_reviews_them_in_chromium() {
    use crate::monitoring::{phq9_with_risk, planted, Course};

    let app = spawn_app().await;
    let s = app.login(&app.clinician).await;
    // Three clients of Cleo's, opened in this order: quiet, a rupture at session 5, a risk answer.
    let quiet = Course::open(&app, &s, "C-quiet").await;
    quiet.session_check(1, 36).await;
    quiet.session_check(2, 37).await;
    let rupture = Course::open(&app, &s, "C-rupture").await;
    planted(&rupture, 1, 5).await;
    let risk = Course::open(&app, &s, "C-risk").await;
    risk.phq9(1, &phq9_with_risk()).await;
    let rupture_id = rupture.alert("rupture", "session_check.total").await["alert_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let risk_id = risk.alert("risk", "phq9.q9").await["alert_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let login_url = app.url("/login");
    let (cleo, sam) = (app.clinician.email.clone(), app.supervisor.email.clone());
    let note = "Talked about the last session with the client; goals renegotiated";
    let (rid, kid) = (rupture_id.clone(), risk_id.clone());

    let ran = with_browser(move |c| async move {
        c.set_window_size(DESKTOP.0, DESKTOP.1)
            .await
            .expect("desktop size");
        log_in(&c, &login_url, &cleo).await;

        // The caseload: red first, then amber, then green, with the reasons in words; and the
        // banner for the risk answer.
        let heads = texts(&c, "table thead th").await;
        assert_eq!(
            heads.last().map(String::as_str),
            Some("Attention"),
            "{heads:?}"
        );
        let clients = texts(&c, "table tbody tr td:first-child a").await;
        assert_eq!(clients, ["C-risk", "C-rupture", "C-quiet"]);
        let attention = texts(&c, "table tbody tr td.attention").await;
        assert!(
            attention[0].starts_with("red") && attention[0].contains("risk (session 1)"),
            "{attention:?}"
        );
        assert!(
            attention[1].starts_with("amber") && attention[1].contains("rupture (session 5)"),
            "{attention:?}"
        );
        assert_eq!(attention[2], "green nothing open");
        let banner = wait_for(&c, Locator::Css("div.risk-banner[role=alert]")).await;
        assert!(banner.is_displayed().await.unwrap());
        assert!(banner.text().await.unwrap().contains("C-risk"));
        screenshot(&c, "caseload-attention").await;

        // The ruptured client's page: charts and alerts; resolve the rupture, saying what was done.
        c.find(Locator::LinkText("C-rupture"))
            .await
            .expect("the case is on the caseload")
            .click()
            .await
            .unwrap();
        expect_heading(&c, "C-rupture").await;
        let svg = wait_for(&c, Locator::Css("figure.chart svg[role=img]")).await;
        assert!(svg.is_displayed().await.unwrap(), "the chart is shown");
        let caption = c
            .find(Locator::Css("figure.chart figcaption"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(caption.contains("rupture at session 5"), "{caption}");
        let card = c
            .find(Locator::Id(&format!("alert-{rid}")))
            .await
            .expect("the rupture alert is listed");
        assert!(card.text().await.unwrap().contains("rupture"));
        screenshot(&c, "case-charts").await;
        c.find(Locator::Id(&format!("note-{rid}")))
            .await
            .expect("a note field")
            .send_keys(note)
            .await
            .unwrap();
        c.find(Locator::Css(&format!(
            "form[action='/alerts/{rid}/resolve'] button"
        )))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
        wait_gone(&c, &format!("#alert-{rid}")).await;
        expect_heading(&c, "C-rupture").await;
        assert!(
            c.source().await.unwrap().contains(note),
            "the resolved alert is kept with its note"
        );

        // The banner leads to the risk; acknowledging it takes the banner away.
        c.find(Locator::Css("div.risk-banner a"))
            .await
            .expect("the banner links to the case")
            .click()
            .await
            .unwrap();
        expect_heading(&c, "C-risk").await;
        c.find(Locator::Css(&format!(
            "form[action='/alerts/{kid}/acknowledge'] button"
        )))
        .await
        .expect("an Acknowledge button")
        .click()
        .await
        .unwrap();
        wait_gone(&c, "div.risk-banner").await;
        expect_heading(&c, "C-risk").await;
        c.find(Locator::LinkText("Caseload"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        expect_heading(&c, "Caseload").await;
        assert!(
            c.find(Locator::Css("div.risk-banner")).await.is_err(),
            "no banner once acknowledged"
        );

        // The supervisor logs in and reviews his supervisee.
        c.find(Locator::Css("form[action='/logout'] button"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        expect_heading(&c, "Log in to Bordin").await;
        log_in(&c, &login_url, &sam).await;
        c.find(Locator::LinkText("Supervision"))
            .await
            .expect("the navigation offers supervision")
            .click()
            .await
            .unwrap();
        expect_heading(&c, "Supervision").await;
        let rows = texts(&c, "table#supervision tbody tr").await;
        assert_eq!(rows.len(), 1, "Sam supervises Cleo only: {rows:?}");
        assert!(rows[0].starts_with("Cleo Clinician"), "{rows:?}");
        // Alliance rated at 7 of 8 attended sessions (2 + 5, not the PHQ-9-only session).
        assert!(rows[0].contains("7 of 8"), "{rows:?}");
        screenshot(&c, "supervision").await;
    })
    .await;

    // What was clicked is what was stored.
    if ran {
        let r = rupture.alert("rupture", "session_check.total").await;
        assert_eq!(
            (r["status"].as_str(), r["action_taken"].as_str()),
            (Some("resolved"), Some(note))
        );
        let k = risk.alert("risk", "phq9.q9").await;
        assert_eq!(k["status"], "acknowledged");
        assert!(k["acknowledged_by"]
            .as_str()
            .unwrap()
            .starts_with("Cleo Clinician"));
    }
}

// ---------------------------------------------------------------------------------------------
// Goals and tasks on the client's phone

/// The texts of the elements an XPath finds. An element that goes stale while it is read (the
/// page was replaced by the answer to a tap) is skipped: callers poll until the text appears.
async fn xtexts(c: &Client, xpath: &str) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(found) = c.find_all(Locator::XPath(xpath)).await else {
        return out;
    };
    for e in found {
        if let Ok(t) = e.text().await {
            out.push(t.replace('\n', " "));
        }
    }
    out
}

/// Waits until an element found by `xpath` contains `text`.
async fn wait_text(c: &Client, xpath: &str, text: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if xtexts(c, xpath).await.iter().any(|t| t.contains(text)) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{xpath} never showed {text:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// No sideways scrolling on the phone.
async fn assert_no_sideways_scroll(c: &Client) {
    let widths = c
        .execute(
            "return [window.innerWidth, document.documentElement.scrollWidth]",
            vec![],
        )
        .await
        .expect("widths");
    let (inner, scroll) = (widths[0].as_u64().unwrap(), widths[1].as_u64().unwrap());
    assert!(inner <= u64::from(PHONE.0), "phone-sized (inner {inner})");
    assert!(
        scroll <= inner,
        "no sideways scrolling on a phone: page {scroll}px wide in a {inner}px window"
    );
}

/// Taps the 0–10 button `value` of the rating `kind` under the goal titled `goal`.
async fn tap_rating(c: &Client, goal: &str, kind: &str, value: &str) {
    let xpath = format!(
        "//section[h2[normalize-space()='{goal}']]//form[input[@name='kind' and @value='{kind}']]//button[@name='value' and @value='{value}']"
    );
    wait_for(c, Locator::XPath(&xpath))
        .await
        .click()
        .await
        .unwrap_or_else(|e| panic!("tap {kind} {value} on {goal}: {e}"));
    wait_text(
        c,
        &format!("//section[h2[normalize-space()='{goal}']]//form[input[@name='kind' and @value='{kind}']]"),
        &format!("Your last answer: {value}."),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_shapes_goals_on_a_phone_and_the_clinician_sees_them_in_chromium() {
    let app = spawn_app().await;
    let s = app.login(&app.clinician).await;
    let case_id = s.new_case("G-phone").await;
    let (status, goal) = s
        .post_json(
            &format!("/api/v1/cases/{case_id}/goals"),
            &json!({"words": "Sleep through the night", "why": "Tired at work", "priority": 1, "active": true}),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{goal}");
    let sleep_id = goal["goal_id"].as_str().expect("goal id").to_owned();
    let (status, task) = s
        .post_json(
            &format!("/api/v1/goals/{sleep_id}/tasks"),
            &json!({"title": "Wind-down hour", "rationale": "A calmer evening helps sleep come", "owner": "client"}),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{task}");
    // The client's link, made on the clinician's goals page.
    let html = s
        .get(&format!("/cases/{case_id}/goals"))
        .await
        .text()
        .await
        .unwrap();
    let csrf = scrape_csrf(&html);
    let html = s
        .http
        .post(s.url(&format!("/cases/{case_id}/goals/link")))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .expect("link")
        .text()
        .await
        .unwrap();
    let marker = r#"id="client-goals-link">"#;
    let start = html.find(marker).expect("the link is shown") + marker.len();
    let end = html[start..].find('<').unwrap() + start;
    let link = app.url(&html[start..end]);

    let login_url = app.url("/login");
    let goals_url = app.url(&format!("/cases/{case_id}/goals"));
    let agreement_url = app.url(&format!("/cases/{case_id}/agreement"));
    let email = app.clinician.email.clone();
    let ran = with_browser(move |c| async move {
        // The client opens their link on a phone.
        c.set_window_size(PHONE.0, PHONE.1)
            .await
            .expect("phone size");
        c.goto(&link).await.expect("open link");
        expect_heading(&c, "Your goals").await;
        assert_no_sideways_scroll(&c).await;

        // They propose a goal by typing.
        let form = "//section[@id='propose']//form";
        for (name, text) in [
            ("words", "Walk to work again"),
            ("why", "I miss the fresh air"),
            ("how_we_know", "Three walks a week"),
        ] {
            c.find(Locator::XPath(&format!("{form}//textarea[@name='{name}']")))
                .await
                .unwrap_or_else(|e| panic!("no {name} box: {e}"))
                .send_keys(text)
                .await
                .unwrap();
        }
        c.find(Locator::XPath(&format!("{form}//button[@type='submit']")))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_for(
            &c,
            Locator::XPath("//section[h2[normalize-space()='Walk to work again']]"),
        )
        .await;

        // One tap each: how important their new goal is, how far along they are with sleep.
        tap_rating(&c, "Walk to work again", "agreement", "9").await;
        tap_rating(&c, "Sleep through the night", "agreement", "8").await;
        tap_rating(&c, "Sleep through the night", "progress", "4").await;

        // They did the task: helpful and relevant by tapping, then "I did it".
        tap(&c, "helpful", "8").await;
        tap(&c, "relevant", "7").await;
        c.find(Locator::Css("button[name=outcome][value=completed]"))
            .await
            .expect("I did it")
            .click()
            .await
            .unwrap();
        wait_for(&c, Locator::Css("div.notice.ok")).await;
        wait_text(
            &c,
            "//div[h3[normalize-space()='Wind-down hour']]",
            "Last time: done",
        )
        .await;

        // Their goals and ratings are on the page.
        let walk = xtexts(&c, "//section[h2[normalize-space()='Walk to work again']]").await;
        assert!(walk[0].contains("I miss the fresh air"), "{walk:?}");
        assert!(walk[0].contains("Your last answer: 9."), "{walk:?}");
        let sleep = xtexts(
            &c,
            "//section[h2[normalize-space()='Sleep through the night']]",
        )
        .await;
        assert!(sleep[0].contains("Your last answer: 8."), "{sleep:?}");
        assert!(sleep[0].contains("Your last answer: 4."), "{sleep:?}");
        assert_no_sideways_scroll(&c).await;
        screenshot(&c, "client-goals-phone").await;

        // The clinician logs in and sees all of it on the goals page.
        c.set_window_size(DESKTOP.0, DESKTOP.1)
            .await
            .expect("desktop size");
        log_in(&c, &login_url, &email).await;
        c.goto(&goals_url).await.expect("goals page");
        let walk = xtexts(
            &c,
            "//section[contains(@id, 'goal-')][contains(., 'Walk to work again')]",
        )
        .await;
        assert_eq!(walk.len(), 1, "{walk:?}");
        assert!(walk[0].contains("I miss the fresh air"), "{walk:?}");
        let walk_cells = xtexts(
            &c,
            "//section[contains(@id, 'goal-')][contains(., 'Walk to work again')]//td",
        )
        .await;
        assert_eq!(
            walk_cells.first().map(String::as_str),
            Some("9"),
            "client's agreement: {walk_cells:?}"
        );
        let sleep_xpath = format!("//section[@id='goal-{sleep_id}']");
        let sleep_cells = xtexts(&c, &format!("{sleep_xpath}//td")).await;
        assert_eq!(
            sleep_cells.first().map(String::as_str),
            Some("8"),
            "client's agreement: {sleep_cells:?}"
        );
        assert!(
            sleep_cells.iter().any(|t| t == "4" || t.starts_with("4 (")),
            "client's progress: {sleep_cells:?}"
        );
        let sleep = xtexts(&c, &sleep_xpath).await;
        assert!(sleep[0].contains("helpful 8"), "{sleep:?}");
        assert!(sleep[0].contains("relevant 7"), "{sleep:?}");
        screenshot(&c, "clinician-goals").await;

        // The one-page agreement summary, ready to print.
        c.goto(&agreement_url).await.expect("agreement page");
        expect_heading(&c, "Our agreement").await;
        let text = c
            .find(Locator::Css("article.agreement"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        for expected in [
            "Walk to work again",
            "Sleep through the night",
            "A calmer evening helps sleep come",
        ] {
            assert!(text.contains(expected), "{expected:?} in {text}");
        }
        screenshot(&c, "agreement-summary").await;
    })
    .await;

    // What was tapped is what was stored.
    if ran {
        let (_, body) = s.get_json(&format!("/api/v1/cases/{case_id}/goals")).await;
        let goals = body["goals"].as_array().expect("goals");
        let walk = goals
            .iter()
            .find(|g| g["words"] == "Walk to work again")
            .expect("the client's goal is stored");
        assert_eq!(walk["proposed_by"], "client");
        assert_eq!(body["reports"].as_array().map(Vec::len), Some(1), "{body}");
        assert_eq!(body["reports"][0]["helpful"], 8);
        assert_eq!(body["reports"][0]["relevant"], 7);
    }
}

// ---------------------------------------------------------------------------------------------
// The live co-pilot on a second screen

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_copilot_shows_markers_and_goals_as_the_session_goes_in_chromium() {
    let app = spawn_app().await;
    let s = app.login(&app.clinician).await;
    let (case_id, _, session_id) =
        crate::transcripts::listening_case(&s, "L-browser", &["live_copilot"]).await;
    let (status, goal) = s
        .post_json(
            &format!("/api/v1/cases/{case_id}/goals"),
            &json!({"words": "Better sleep", "why": "Tired all day", "active": true}),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{goal}");
    // The transcriber has its own login session.
    let (cookie, csrf) = crate::live::cookie_and_csrf(&app, &app.clinician).await;
    let ws_path = crate::live::live_path(&case_id, &session_id, &csrf);
    let base = app.base.clone();
    let login_url = app.url("/login");
    let live_url = app.url(&format!("/cases/{case_id}/live?session={session_id}"));
    let email = app.clinician.email.clone();

    let ran = with_browser(move |c| async move {
        c.set_window_size(DESKTOP.0, DESKTOP.1)
            .await
            .expect("resize");
        log_in(&c, &login_url, &email).await;
        c.goto(&live_url).await.expect("co-pilot page");
        expect_heading(&c, "Live co-pilot · session 1").await;
        wait_text(&c, "//p[@id='status']", "Connected").await;
        wait_text(&c, "//ul[@id='goal-list']/li", "Better sleep").await;

        let mut stt = crate::live::open_at(&base, &ws_path, &cookie, None)
            .await
            .expect("transcriber connects");
        assert_eq!(crate::live::next(&mut stt).await["type"], "hello");
        crate::live::send_turn(
            &mut stt,
            "Cleo",
            "What would you like to work on today?",
            0.0,
            4.0,
        )
        .await;
        let _ = crate::live::next(&mut stt).await;
        crate::live::send_turn(&mut stt, "Sam", "I don't know.", 5.0, 6.0).await;
        let _ = crate::live::next(&mut stt).await;

        // The marker appears with its words and a suggestion; the balance is 8 of 11 words.
        wait_text(&c, "//ol[@id='marker-list']/li", "minimal response").await;
        wait_text(&c, "//ol[@id='marker-list']/li", "I don't know.").await;
        wait_text(&c, "//ol[@id='marker-list']/li", "Try:").await;
        wait_text(&c, "//p[@id='balance-text']", "Clinician 73% of words").await;

        // The clinician (or a note-taker) types a turn on the page itself.
        c.find(Locator::Css("#turn-form summary, details > summary"))
            .await
            .expect("note-taker panel")
            .click()
            .await
            .expect("open panel");
        c.find(Locator::Id("turn-speaker"))
            .await
            .unwrap()
            .send_keys("Cleo")
            .await
            .unwrap();
        c.find(Locator::Id("turn-text"))
            .await
            .unwrap()
            .send_keys("Shall we work on better sleep together?")
            .await
            .unwrap();
        c.find(Locator::Css("#turn-form button[type=submit]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_text(
            &c,
            "//ul[@id='goal-list']/li[contains(@class,'covered')]",
            "Better sleep",
        )
        .await;
        // The transcriber's socket saw the page's turn too.
        let p = crate::live::next(&mut stt).await;
        assert_eq!(p["picture"]["turn"]["speaker"], "Cleo");
        screenshot(&c, "live-copilot").await;
    })
    .await;
    if !ran {
        return;
    }
}
