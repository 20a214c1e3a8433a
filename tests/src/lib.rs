//! End-to-end test harness: [`TestApp::spawn`] starts the real application on a free port over
//! its own database (cloned from the migrated template), with helpers to create organisations
//! and users and to call the API.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

pub mod receiver;

use std::net::TcpListener;

use adapters::db::{DbPool, PoolSettings, make_pool};
use adapters::pg_auth::PgUsers;
use adapters::security::Argon2Hasher;
use auth::{NewUser, UserRepository};
use kernel::{OrgId, Role};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use server::{AppOptions, AppState, HttpSettings, serve};
use std::sync::Arc;
use std::time::Duration;
use testkit::TestDb;

pub use platform_sim::{SimConfig, Simulator};

/// Secret used by test apps.
pub const JWT_SECRET: &[u8] = b"test-secret-test-secret-test-secret!!";

/// A running app with its own database.
pub struct TestApp {
    /// `http://127.0.0.1:port`.
    pub base: String,
    /// HTTP client.
    pub client: reqwest::Client,
    /// The app's state (domain services).
    pub state: AppState,
    /// The pool.
    pub pool: DbPool,
    /// The database (dropped with the app).
    pub db: TestDb,
    /// The platform simulator the app talks to.
    pub sim: Arc<Simulator>,
    /// The simulator's base URL.
    pub sim_url: String,
    join: Option<tokio::task::JoinHandle<()>>,
}

/// A response: status and JSON body.
#[derive(Debug)]
pub struct Resp {
    /// HTTP status.
    pub status: StatusCode,
    /// Body (Null when not JSON).
    pub body: Value,
    /// Headers.
    pub headers: reqwest::header::HeaderMap,
}

impl Resp {
    /// `data` of the envelope.
    pub fn data(&self) -> &Value {
        &self.body["data"]
    }
    /// Assert status and (for errors) the envelope's `error` code; returns self.
    #[track_caller]
    pub fn expect(self, status: u16, error: Option<&str>) -> Self {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status, body: {}",
            self.body
        );
        assert_eq!(
            self.body["code"].as_u64(),
            Some(status as u64),
            "envelope code, body: {}",
            self.body
        );
        match error {
            Some(code) => {
                assert_eq!(self.body["status"], "error", "body: {}", self.body);
                assert_eq!(self.body["error"], code, "body: {}", self.body);
            }
            None => assert_eq!(self.body["status"], "success", "body: {}", self.body),
        }
        self
    }
}

/// How to start a test app.
pub struct TestOptions {
    /// Simulator knobs (calls take `call_ms`; windows are always open in tests).
    pub sim: SimConfig,
    /// Start the dispatcher, monitor and run workers.
    pub workers: bool,
    /// Platform request timeout.
    pub platform_timeout: Duration,
    /// Worker id (two apps on one database need different ones).
    pub worker_id: String,
    /// The account's requests per second (`PLATFORM_MAX_QPS`); `None`: discovered. Tests that
    /// are not about the budget use a rate no test reaches.
    pub max_qps: Option<u32>,
    /// `TRUSTED_PROXIES`.
    pub trusted_proxies: String,
}

impl Default for TestOptions {
    fn default() -> Self {
        Self {
            sim: SimConfig {
                call_ms: 100,
                ..SimConfig::default()
            },
            workers: true,
            platform_timeout: Duration::from_millis(800),
            worker_id: format!("test-{}", uuid::Uuid::new_v4().simple()),
            max_qps: Some(1000),
            trusted_proxies: String::new(),
        }
    }
}

/// Start a simulator on a free port; returns it and its URL.
pub fn spawn_sim(cfg: SimConfig) -> (Arc<Simulator>, String) {
    let sim = Simulator::new(cfg);
    platform_sim::start_clock(sim.clone());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(platform_sim::serve(sim.clone(), listener, 1).unwrap());
    (sim, url)
}

impl TestApp {
    /// Start the app over a fresh database, with its own simulator and workers.
    pub async fn spawn() -> TestApp {
        Self::spawn_with(TestOptions::default()).await
    }

    /// Start the app with options.
    pub async fn spawn_with(opts: TestOptions) -> TestApp {
        let db = TestDb::new().await.expect("test database");
        let (sim, sim_url) = spawn_sim(opts.sim.clone());
        let mut app = Self::spawn_on(db, &sim_url, &opts).await;
        app.sim = sim;
        app
    }

    /// Another instance of this app: the same database and simulator, no workers of its own.
    pub async fn another_instance(&self) -> TestApp {
        let opts = TestOptions {
            workers: false,
            ..TestOptions::default()
        };
        Self::spawn_on(TestDb::attach(&self.db), &self.sim_url, &opts).await
    }

    /// Start another app (another "instance") on the same database and simulator.
    pub async fn spawn_on(db: TestDb, sim_url: &str, opts: &TestOptions) -> TestApp {
        // as in production: requests plan their statements once, the workers per execution
        let pool = make_pool(
            &db.url,
            &PoolSettings {
                max_size: 8,
                generic_plans: true,
                ..Default::default()
            },
        )
        .unwrap();
        let worker_pool = make_pool(
            &db.url,
            &PoolSettings {
                max_size: 4,
                ..Default::default()
            },
        )
        .unwrap();
        // cheap argon2 parameters keep tests fast; production uses OWASP's
        let hasher = Argon2Hasher::with_params(1024, 1, 1).unwrap();
        let settings = adapters::platform::PlatformSettings {
            base_url: sim_url.to_owned(),
            app_key: opts.sim.app_key.clone(),
            app_secret: opts.sim.app_secret.clone(),
            instance_id: "sim".into(),
            request_timeout: opts.platform_timeout,
            backoff_base: Duration::from_millis(20),
            backoff_max: Duration::from_millis(300),
            max_retries: 8,
            max_qps: opts.max_qps,
        };
        // as in production: the account's budget in the database, shared by the instances
        let budget_pool = make_pool(
            &db.url,
            &PoolSettings {
                max_size: 2,
                ..Default::default()
            },
        )
        .unwrap();
        let slots = adapters::pg_budget::PgSlots::new(
            budget_pool,
            settings.account(),
            settings.rate_mode(),
        );
        let platform = adapters::platform::HttpPlatform::new(settings)
            .unwrap()
            .with_budget(adapters::platform::budget::Budget::new(Arc::new(slots)));
        let exec = tasks::execution::ExecutionSettings {
            strategy: tasks::platform::Strategy {
                working_time: vec![tasks::platform::CallWindow {
                    begin: "00:00".into(),
                    end: "24:00".into(),
                }],
                max_attempts_per_day: 3,
                min_attempt_interval_minutes: 10,
            },
            worker_id: opts.worker_id.clone(),
            lease_secs: 10,
            reconcile_after: chrono::Duration::milliseconds(
                opts.platform_timeout.as_millis() as i64 * 2 + 200,
            ),
            batches_per_turn: 5,
            ..Default::default()
        };
        let state = AppState::new(AppOptions {
            pool: pool.clone(),
            worker_pool,
            database_url: db.url.clone(),
            jwt_secret: JWT_SECRET.to_vec(),
            tz: chrono_tz::Asia::Shanghai,
            token_ttl_secs: 3600,
            // the production default
            auth_cache: Duration::from_millis(1000),
            hasher,
            platforms: platform.platforms(),
            platform_simulated: true,
            exec,
            monitor_interval: Duration::from_millis(300),
            webhook_allow: webhooks::target::AllowHosts::parse("127.0.0.1"),
            webhook_sender: Arc::new(
                adapters::webhook_sender::HttpSender::new(webhooks::target::AllowHosts::parse(
                    "127.0.0.1",
                ))
                .unwrap(),
            ),
            delivery: webhooks::DeliverySettings {
                worker_id: opts.worker_id.clone(),
                // 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h become 1 ms, 60 ms, 0.4 s, 1.4 s,
                // 3.6 s, 7.2 s, 7.2 s: a delivery fails for good after about 20 s
                retry_scale: 0.0002,
                ..webhooks::DeliverySettings::default()
            },
            audit_retention_days: 180,
        });
        if opts.workers {
            state.workers.start(state.workers_execution.clone()).await;
            state.workers.start_deliveries(state.deliverer.clone());
        }
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let http = HttpSettings {
            body_limit: 2 * 1024 * 1024,
            cors_origins: vec!["http://allowed.example".into()],
            cookie_secure: false,
            trusted_proxies: api::client::TrustedProxies::parse(&opts.trusted_proxies).unwrap(),
        };
        let running = serve(state.clone(), http, listener, 2).unwrap();
        let base = format!("http://{}", running.addr);
        let server = running.server;
        let join = tokio::spawn(async move {
            let _ = server.await;
        });
        TestApp {
            base,
            client: reqwest::Client::new(),
            state,
            pool,
            db,
            sim: Simulator::new(SimConfig::default()),
            sim_url: sim_url.to_owned(),
            join: Some(join),
        }
    }

    /// Create an organisation, returning its id.
    pub async fn org(&self, name: &str, parent: Option<i64>) -> i64 {
        self.state
            .orgs
            .create(name, parent.map(kernel::OrgId))
            .await
            .unwrap()
            .id
            .0
    }

    /// Create a user with password `password123`.
    pub async fn user(&self, org: i64, username: &str, role: Role) -> i64 {
        let hash = Argon2Hasher::with_params(1024, 1, 1)
            .unwrap()
            .hash_blocking("password123")
            .unwrap();
        PgUsers::new(self.pool.clone())
            .create(
                NewUser {
                    username: username.into(),
                    display_name: username.into(),
                    role,
                    org_id: OrgId(org),
                    password_hash: hash,
                },
                None,
            )
            .await
            .unwrap()
            .id
            .0
    }

    /// Log in (password `password123`, see [`TestApp::user`]) and return the token.
    pub async fn login(&self, username: &str) -> String {
        self.login_with(username, "password123").await
    }

    /// Log in with a password and return the token.
    pub async fn login_with(&self, username: &str, password: &str) -> String {
        let r = self
            .post(
                None,
                "/api/login",
                json!({"username": username, "password": password}),
            )
            .await;
        let r = r.expect(200, None);
        r.data()["access_token"].as_str().unwrap().to_owned()
    }

    /// A new org with an admin user; returns (org id, token).
    pub async fn tenant(&self, name: &str) -> (i64, String) {
        let org = self.org(name, None).await;
        let username = format!("{name}-admin");
        self.user(org, &username, Role::Admin).await;
        (org, self.login(&username).await)
    }

    /// Send a request.
    pub async fn call(
        &self,
        method: Method,
        token: Option<&str>,
        path: &str,
        body: Option<Value>,
    ) -> Resp {
        let mut req = self
            .client
            .request(method, format!("{}{}", self.base, path));
        if let Some(t) = token {
            req = req.header("access-token", t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("request");
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp {
            status,
            body,
            headers,
        }
    }

    /// GET.
    pub async fn get(&self, token: Option<&str>, path: &str) -> Resp {
        self.call(Method::GET, token, path, None).await
    }

    /// POST JSON.
    pub async fn post(&self, token: Option<&str>, path: &str, body: Value) -> Resp {
        self.call(Method::POST, token, path, Some(body)).await
    }

    /// Import leads through the API into the caller's organisation.
    pub async fn import(&self, token: &str, leads: Value) -> Resp {
        self.post(Some(token), "/api/leads/import", json!({ "leads": leads }))
            .await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(j) = self.join.take() {
            j.abort();
        }
    }
}

/// `n` leads with phones `1380000xxxx` from `start`, level cycling H/A/B.
pub fn leads(start: usize, n: usize) -> Value {
    // phones 1380000xxxx for i < 10000, then 1390xxxxxxx
    let levels = ["H", "A", "B"];
    Value::Array(
        (start..start + n)
            .map(|i| {
                json!({
                    "customer_name": format!("客户{i}"),
                    "phone": if i < 10_000 { format!("1380000{:04}", i) } else { format!("139{:08}", i) },
                    "level": levels[i % 3],
                    "source": if i % 2 == 0 { "汽车之家" } else { "懂车帝" },
                    "vehicle_model": "凯美瑞",
                    "create_time": "2025-11-10 10:00:00",
                })
            })
            .collect(),
    )
}

/// Poll `check` until it returns `Some`, or panic after `secs` seconds with `what`.
pub async fn eventually<T, F, Fut>(secs: u64, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

impl TestApp {
    /// Run a statement on the app's database (for a state the API cannot make).
    pub async fn sql(&self, statement: &str) {
        let mut c = adapters::db::conn(&self.pool).await.unwrap();
        diesel_async::RunQueryDsl::execute(diesel::sql_query(statement), &mut c)
            .await
            .unwrap();
    }

    /// Import `n` leads, create a task over them with a script, return its id.
    pub async fn task_with_leads(&self, token: &str, n: usize, script: &str) -> i64 {
        for chunk_start in (0..n).step_by(5000) {
            let len = (n - chunk_start).min(5000);
            self.import(token, leads(chunk_start, len))
                .await
                .expect(200, None);
        }
        let r = self
            .post(
                Some(token),
                "/api/create-autoCall-tasks",
                json!({"task_name":"外呼", "script_id": script}),
            )
            .await
            .expect(200, None);
        assert_eq!(r.data()["leads_count"].as_u64(), Some(n as u64));
        r.data()["task_id"].as_i64().unwrap()
    }

    /// Retry by hand, as an operator would from the deliveries page, every webhook delivery
    /// that failed for good (all 8 attempts failed: 0.35^8 of a delivery to a receiver that fails
    /// 35% of the time, a few in a thousand); returns their ids.
    pub async fn retry_failed_deliveries(&self, token: &str) -> Vec<i64> {
        let failed = self
            .get(
                Some(token),
                "/api/webhook-deliveries?status=failed&page_size=100",
            )
            .await
            .expect(200, None);
        let mut retried = Vec::new();
        for d in failed.data()["items"].as_array().unwrap() {
            let id = d["id"].as_i64().unwrap();
            assert_eq!(
                d["attempts"], 8,
                "failed for good only after 8 attempts: {d}"
            );
            self.post(
                Some(token),
                "/api/webhook-deliveries/retry",
                json!({"delivery_id": id}),
            )
            .await
            .expect(200, None);
            retried.push(id);
        }
        retried
    }

    /// Task statistics.
    pub async fn stats(&self, token: &str, task: i64) -> Value {
        self.get(Some(token), &format!("/api/task-statistics?task_id={task}"))
            .await
            .expect(200, None)
            .data()
            .clone()
    }

    /// Wait until the task is completed (state 3) with progress 100.
    pub async fn wait_completed(&self, token: &str, task: i64, secs: u64) -> Value {
        eventually(secs, "task completed", || async {
            let s = self.stats(token, task).await;
            (s["task_type"] == 3 && s["progress"].as_f64() == Some(100.0)).then_some(s)
        })
        .await
    }
}

/// A plain HTTP client of a running service that is not a [`TestApp`] (e.g. the real binary).
#[derive(Clone)]
pub struct Api {
    /// `http://host:port`.
    pub base: String,
    /// HTTP client.
    pub client: reqwest::Client,
}

impl Api {
    /// A client of `base` whose requests give up after `timeout`.
    pub fn new(base: impl Into<String>, timeout: Duration) -> Api {
        Api {
            base: base.into(),
            client: reqwest::Client::builder().timeout(timeout).build().unwrap(),
        }
    }

    /// Wait (up to a minute) until the server answers `GET /api/health` with 200.
    pub async fn wait_healthy(&self) {
        eventually(60, "the binary answers /api/health", || async {
            match self.try_call(Method::GET, None, "/api/health", None).await {
                Ok(r) if r.status == 200 => Some(()),
                _ => None,
            }
        })
        .await;
    }

    /// Send a request; `Err` when there is no answer (connection refused, client timeout).
    pub async fn try_call(
        &self,
        method: Method,
        token: Option<&str>,
        path: &str,
        body: Option<Value>,
    ) -> Result<Resp, reqwest::Error> {
        let mut req = self
            .client
            .request(method, format!("{}{}", self.base, path));
        if let Some(t) = token {
            req = req.header("access-token", t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await?;
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await?;
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(Resp {
            status,
            body,
            headers,
        })
    }

    /// Send a request; panics when there is no answer.
    pub async fn call(
        &self,
        method: Method,
        token: Option<&str>,
        path: &str,
        body: Option<Value>,
    ) -> Resp {
        match self.try_call(method.clone(), token, path, body).await {
            Ok(r) => r,
            Err(e) => panic!("{method} {path}: no answer: {e}"),
        }
    }

    /// GET.
    pub async fn get(&self, token: Option<&str>, path: &str) -> Resp {
        self.call(Method::GET, token, path, None).await
    }

    /// POST JSON.
    pub async fn post(&self, token: Option<&str>, path: &str, body: Value) -> Resp {
        self.call(Method::POST, token, path, Some(body)).await
    }
}

/// The `outbound` binary of this build (`cargo build --bin outbound` must have run).
pub fn outbound_binary() -> std::path::PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let bin = target.join("debug/outbound");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build --bin outbound` (scripts/test.sh does)",
        bin.display()
    );
    bin
}

/// Run a command of the binary on `db_url` (stdin from `stdin`): whether it succeeded, its
/// stdout and its stderr.
pub fn outbound_cli(db_url: &str, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    let mut child = std::process::Command::new(outbound_binary())
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", db_url)
        .env(
            "JWT_SECRET",
            String::from_utf8_lossy(JWT_SECRET).to_string(),
        )
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run outbound");
    if let Some(input) = stdin {
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), input.as_bytes()).unwrap();
    } else {
        drop(child.stdin.take());
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `outbound serve` of the real binary on `db_url` at `port`, with the tests' token secret, a
/// platform that does not answer (set `PLATFORM_URL` again for one that does), warnings only
/// and no output; add what the test needs and spawn it.
pub fn serve_command(db_url: &str, port: u16) -> std::process::Command {
    let mut cmd = std::process::Command::new(outbound_binary());
    cmd.arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", db_url)
        .env(
            "JWT_SECRET",
            String::from_utf8_lossy(JWT_SECRET).to_string(),
        )
        .env("PLATFORM_URL", dead_url())
        .env("PLATFORM_APP_KEY", "sim-key")
        .env("PLATFORM_APP_SECRET", "sim-secret")
        .env("BIND", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    cmd
}

/// A port nothing listens on (bound a moment ago, then freed).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `http://127.0.0.1:port` URL where nothing listens.
pub fn dead_url() -> String {
    format!("http://127.0.0.1:{}", free_port())
}

/// The simulator's counters (`GET /sim/stats`).
pub async fn sim_stats(sim_url: &str) -> Value {
    reqwest::get(format!("{sim_url}/sim/stats"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Kills the child (if still running) when dropped, so a failing test leaves no process behind.
pub struct ChildGuard(pub std::process::Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Send SIGTERM to `child` and wait for it to exit, panicking after `secs` seconds.
pub async fn sigterm_and_wait(
    child: &mut std::process::Child,
    secs: u64,
) -> std::process::ExitStatus {
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no exit within {secs} s of SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
