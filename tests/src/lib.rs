//! End-to-end test harness: [`TestApp::spawn`] starts the real application on a free port over
//! its own database (cloned from the migrated template), with helpers to create organisations
//! and users and to call the API.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;

use adapters::db::{make_pool, DbPool, PoolSettings};
use adapters::pg_auth::PgUsers;
use adapters::security::Argon2Hasher;
use adapters::testing::TestDb;
use auth::{NewUser, UserRepository};
use kernel::Role;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use server::{serve, AppState, HttpSettings};

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
        assert_eq!(self.status.as_u16(), status, "unexpected status, body: {}", self.body);
        assert_eq!(self.body["code"].as_u64(), Some(status as u64), "envelope code, body: {}", self.body);
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

impl TestApp {
    /// Start the app over a fresh database.
    pub async fn spawn() -> TestApp {
        let db = TestDb::new().await.expect("test database");
        let pool = make_pool(&db.url, &PoolSettings { max_size: 8, ..Default::default() }).unwrap();
        // cheap argon2 parameters keep tests fast; production uses OWASP's
        let hasher = Argon2Hasher::with_params(1024, 1, 1).unwrap();
        let state = AppState::new(pool.clone(), JWT_SECRET, chrono_tz::Asia::Shanghai, 3600, hasher);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let http = HttpSettings { body_limit: 2 * 1024 * 1024, cors_origins: vec!["http://allowed.example".into()] };
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
            join: Some(join),
        }
    }

    /// Create an organisation, returning its id.
    pub async fn org(&self, name: &str, parent: Option<i64>) -> i64 {
        self.state.orgs.create(name, parent).await.unwrap().id
    }

    /// Create a user with password `password123`.
    pub async fn user(&self, org: i64, username: &str, role: Role) -> i64 {
        let hash = Argon2Hasher::with_params(1024, 1, 1).unwrap().hash_blocking("password123").unwrap();
        PgUsers::new(self.pool.clone())
            .create(NewUser {
                username: username.into(),
                display_name: username.into(),
                role,
                org_id: org,
                password_hash: hash,
            })
            .await
            .unwrap()
            .id
    }

    /// Log in and return the token.
    pub async fn login(&self, username: &str) -> String {
        let r = self.post(None, "/api/login", json!({"username": username, "password": "password123"})).await;
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
    pub async fn call(&self, method: Method, token: Option<&str>, path: &str, body: Option<Value>) -> Resp {
        let mut req = self.client.request(method, format!("{}{}", self.base, path));
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
        Resp { status, body, headers }
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
        self.post(Some(token), "/api/leads/import", json!({ "leads": leads })).await
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
    let levels = ["H", "A", "B"];
    Value::Array(
        (start..start + n)
            .map(|i| {
                json!({
                    "customer_name": format!("客户{i}"),
                    "phone": format!("1380000{:04}", i),
                    "level": levels[i % 3],
                    "source": if i % 2 == 0 { "汽车之家" } else { "懂车帝" },
                    "vehicle_model": "凯美瑞",
                    "create_time": "2025-11-10 10:00:00",
                })
            })
            .collect(),
    )
}
