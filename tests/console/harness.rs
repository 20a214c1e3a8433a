//! The console's browser tests run the real binary (its in-process platform simulator, calls
//! made short) over a test database prepared through the API of an in-process app, and drive
//! Debian's chromium through chromedriver with fantoccini. A machine without chromium fails
//! these tests, it does not skip them: `.ci/run` and `scripts/test.sh` install it.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use e2e::{JWT_SECRET, TestApp, TestOptions, eventually, free_port};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

/// The tenant and data a browser test starts from.
pub struct Setup {
    /// The in-process app used to prepare data (no workers of its own).
    pub app: TestApp,
    /// The real binary, serving the console.
    pub served: Served,
}

impl Setup {
    /// A database with nothing in it yet, and the binary serving it.
    pub async fn new() -> Setup {
        let app = TestApp::spawn_with(TestOptions {
            workers: false,
            ..TestOptions::default()
        })
        .await;
        let served = Served::start(&app.db.url).await;
        Setup { app, served }
    }
}

/// The `outbound` binary serving a test database.
pub struct Served {
    /// `http://127.0.0.1:port`.
    pub base: String,
    child: Child,
}

impl Served {
    /// Start the binary on `db_url` with its in-process simulator (calls of 300 ms, five at a
    /// time) and a monitor that ticks every second.
    pub async fn start(db_url: &str) -> Served {
        let port = free_port();
        let child = Command::new(e2e::outbound_binary())
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", db_url)
            .env(
                "JWT_SECRET",
                String::from_utf8_lossy(JWT_SECRET).to_string(),
            )
            .env("BIND", format!("127.0.0.1:{port}"))
            .env("CALL_WINDOWS", "00:00-24:00")
            .env("MONITOR_INTERVAL_SECS", "1")
            .env("SIM_CALL_MS", "300")
            .env("SIM_CONCURRENCY", "5")
            .env("WORKER_ID", format!("console-{port}"))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start outbound");
        let base = format!("http://127.0.0.1:{port}");
        let health = format!("{base}/api/health");
        eventually(60, "the binary answers", || async {
            reqwest::get(&health)
                .await
                .ok()
                .filter(|r| r.status().is_success())
                .map(|_| ())
        })
        .await;
        Served { base, child }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A headless chromium driven over WebDriver.
pub struct Browser {
    /// The WebDriver session.
    pub client: Client,
    /// Where the console is.
    pub base: String,
    driver: Child,
}

fn which(names: &[&str]) -> Option<String> {
    names
        .iter()
        .find(|n| {
            Command::new("sh")
                .args(["-c", &format!("command -v {n}")])
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
        .map(|n| (*n).to_owned())
}

impl Browser {
    /// Start chromedriver and a headless chromium session for the console at `base`.
    pub async fn start(base: &str) -> Browser {
        let driver_bin = which(&["chromedriver"]).expect(
            "chromedriver is missing: the console's browser tests need Debian's chromium and \
             chromium-driver (`apt-get install chromium chromium-driver`; scripts/test.sh installs \
             them when run as root)",
        );
        let chrome = which(&["chromium", "chromium-browser"]).expect("chromium is missing");
        let port = free_port();
        let driver = Command::new(driver_bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let url = format!("http://127.0.0.1:{port}");
        let caps = json!({
            "goog:chromeOptions": {
                "binary": format!("/usr/bin/{chrome}"),
                "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                         "--window-size=1400,1000", "--lang=zh-CN", "--disable-gpu"],
            }
        });
        let caps = caps.as_object().cloned().unwrap_or_default();
        let client = eventually(30, "chromedriver accepts a session", || {
            let (caps, url) = (caps.clone(), url.clone());
            async move {
                ClientBuilder::new(HttpConnector::new())
                    .capabilities(caps)
                    .connect(&url)
                    .await
                    .ok()
            }
        })
        .await;
        Browser {
            client,
            base: base.to_owned(),
            driver,
        }
    }

    /// Open `path` of the console, and wait until htmx has set the page up.
    pub async fn open(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap();
        self.wait_ready().await;
    }

    /// Wait until the page has loaded and htmx runs in it.
    pub async fn wait_ready(&self) {
        eventually(20, "the page is ready", || async {
            let ready = self
                .client
                .execute(
                    "return document.readyState === 'complete' && !!window.htmx;",
                    vec![],
                )
                .await
                .ok()?;
            (ready == serde_json::Value::Bool(true)).then_some(())
        })
        .await;
    }

    /// Log in on the login page (the browser must be on it).
    pub async fn log_in(&self, username: &str, password: &str) {
        self.fill("#username", username).await;
        self.fill("#password", password).await;
        self.click("#login-form button[type=submit]").await;
        eventually(20, "the login page is left", || async {
            let url = self.client.current_url().await.ok()?;
            (!url.path().starts_with("/login")).then_some(())
        })
        .await;
        self.wait_ready().await;
    }

    /// Type `text` into the field `css` (cleared first).
    pub async fn fill(&self, css: &str, text: &str) {
        let e = self.wait_for(css).await;
        e.clear().await.unwrap();
        e.send_keys(text).await.unwrap();
    }

    /// Click the element `css` once it is there and can be clicked (not covered by something
    /// still moving into place).
    pub async fn click(&self, css: &str) {
        eventually(20, &format!("a click on {css}"), || async {
            let e = self.client.find(Locator::Css(css)).await.ok()?;
            e.click().await.ok()
        })
        .await;
    }

    /// The element `css`, waiting up to 20 s for it.
    pub async fn wait_for(&self, css: &str) -> fantoccini::elements::Element {
        eventually(20, &format!("element {css}"), || async {
            self.client.find(Locator::Css(css)).await.ok()
        })
        .await
    }

    /// The text of `css`, or "" when it is not there.
    pub async fn text(&self, css: &str) -> String {
        match self.client.find(Locator::Css(css)).await {
            Ok(e) => e.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// Wait until the text of `css` satisfies `ok`; returns it.
    pub async fn wait_text(&self, secs: u64, css: &str, ok: impl Fn(&str) -> bool) -> String {
        eventually(secs, &format!("text of {css}"), || async {
            let t = self.text(css).await;
            ok(&t).then_some(t)
        })
        .await
    }

    /// Run a script in the page and return its value.
    pub async fn js(&self, script: &str) -> serde_json::Value {
        self.client.execute(script, vec![]).await.unwrap()
    }

    /// Whether a dialog (alert, confirm, prompt) is open.
    pub async fn dialog_open(&self) -> bool {
        self.client.get_alert_text().await.is_ok()
    }

    /// Every URL the page has loaded resources from (scripts, styles, fetches, event streams).
    pub async fn resources(&self) -> Vec<String> {
        let v = self
            .js("return performance.getEntriesByType('resource').map(e => e.name).concat([location.href]);")
            .await;
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The path (and query) the browser shows.
    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.unwrap();
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        }
    }

    /// End the session and the driver.
    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
    }
}

/// Wait a moment (for something that must *not* happen).
pub async fn pause(ms: u64) {
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

/// Wait until the browser shows `path` (after a redirect), and the page is ready.
pub async fn eventually_path(b: &Browser, path: &str) {
    eventually(20, &format!("the browser shows {path}"), || async {
        (b.path().await == path).then_some(())
    })
    .await;
    b.wait_ready().await;
}
