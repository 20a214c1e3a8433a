//! Security: forged and stale tokens, the per-address login limit, CORS, body limits, and no
//! secret, token or phone number in the logs of the real binary.
use std::process::{Command, Stdio};
use std::time::Duration;

use adapters::pg_auth::PgUsers;
use adapters::security::Argon2Hasher;
use auth::{NewUser, UserRepository};
use base64::Engine as _;
use e2e::{Api, ChildGuard, JWT_SECRET, SimConfig, TestApp, TestOptions, eventually, spawn_sim};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use kernel::{OrgId, Role};
use reqwest::Method;
use serde_json::{Value, json};

fn b64(v: &Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

fn payload_of(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap(),
    )
    .unwrap()
}

fn sign(alg: Algorithm, claims: &Value, key: &[u8]) -> String {
    encode(&Header::new(alg), claims, &EncodingKey::from_secret(key)).unwrap()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[tokio::test]
async fn forged_foreign_and_expired_tokens_are_401() {
    let app = TestApp::spawn().await;
    let org = app.org("总部", None).await;
    let alice = app.user(org, "alice", Role::Operator).await;
    let bob = app.user(org, "bob", Role::Admin).await;
    let token = app.login("alice").await;
    app.get(Some(&token), "/api/auth/verify")
        .await
        .expect(200, None);
    let real = payload_of(&token);
    assert_eq!(real["sub"], alice.to_string(), "sub is the user id: {real}");

    let live = json!({"jti": "crafted", "ver": 0, "sub": alice.to_string(), "org": org, "iat": now(), "exp": now() + 600});
    // the crafting itself is right: a token made here with the right key and algorithm is accepted
    let control = sign(Algorithm::HS256, &live, JWT_SECRET);
    let r = app
        .get(Some(&control), "/api/auth/verify")
        .await
        .expect(200, None);
    assert_eq!(r.data()["user"]["id"], alice);

    let parts: Vec<&str> = token.split('.').collect();
    let mut swapped = real.clone();
    swapped["sub"] = json!(bob.to_string());
    let cases: Vec<(&str, String)> = vec![
        (
            "alg none, no signature",
            format!(
                "{}.{}.",
                b64(&json!({"alg": "none", "typ": "JWT"})),
                b64(&live)
            ),
        ),
        (
            "alg none, original signature",
            format!(
                "{}.{}.{}",
                b64(&json!({"alg": "none", "typ": "JWT"})),
                parts[1],
                parts[2]
            ),
        ),
        (
            "HS512 with the right key",
            sign(Algorithm::HS512, &live, JWT_SECRET),
        ),
        (
            "HS384 with the right key",
            sign(Algorithm::HS384, &live, JWT_SECRET),
        ),
        (
            "HS256 with a wrong key",
            sign(
                Algorithm::HS256,
                &live,
                b"another-secret-another-secret-another!!",
            ),
        ),
        (
            "payload changed (sub swapped to another user), signature kept",
            format!("{}.{}.{}", parts[0], b64(&swapped), parts[2]),
        ),
        (
            "expired",
            sign(
                Algorithm::HS256,
                &json!({"jti": "crafted", "ver": 0, "sub": alice.to_string(), "org": org, "iat": now() - 3600, "exp": now() - 60}),
                JWT_SECRET,
            ),
        ),
        (
            "no exp claim",
            sign(
                Algorithm::HS256,
                &json!({"jti": "crafted", "ver": 0, "sub": alice.to_string(), "org": org, "iat": now()}),
                JWT_SECRET,
            ),
        ),
    ];
    for (name, forged) in &cases {
        let r = app.get(Some(forged), "/api/auth/verify").await;
        assert_eq!(
            r.status.as_u16(),
            401,
            "case `{name}`: expected 401, got {} {}",
            r.status,
            r.body
        );
        assert_eq!(r.body["error"], "unauthorized", "case `{name}`: {}", r.body);
        assert_eq!(r.body["data"], Value::Null, "case `{name}`: {}", r.body);
        // and on a business endpoint too
        let r = app.get(Some(forged), "/api/task_list").await;
        assert_eq!(
            r.status.as_u16(),
            401,
            "case `{name}` on task_list: {}",
            r.body
        );
    }
}

#[tokio::test]
async fn valid_token_of_a_deleted_user_is_401() {
    use adapters::schema::users;
    use diesel::{ExpressionMethods, QueryDsl};
    use diesel_async::RunQueryDsl;

    let app = TestApp::spawn().await;
    let org = app.org("总部", None).await;
    let ghost = app.user(org, "ghost", Role::Admin).await;
    let token = app.login("ghost").await;
    app.get(Some(&token), "/api/auth/verify")
        .await
        .expect(200, None);

    let mut c = app.pool.get().await.unwrap();
    let n = diesel::delete(users::table.filter(users::id.eq(ghost)))
        .execute(&mut c)
        .await
        .unwrap();
    assert_eq!(n, 1);
    drop(c);

    // refused once the user cache's time (AUTH_CACHE_MS, 1 s here as by default) has passed
    eventually(5, "the deleted user's token is refused", || async {
        (app.get(Some(&token), "/api/auth/verify")
            .await
            .status
            .as_u16()
            == 401)
            .then_some(())
    })
    .await;
    app.get(Some(&token), "/api/auth/verify")
        .await
        .expect(401, Some("unauthorized"));
    app.get(Some(&token), "/api/task_list")
        .await
        .expect(401, Some("unauthorized"));
}

#[tokio::test]
async fn fifty_failures_from_one_address_block_the_next_login_even_a_right_one() {
    let app = TestApp::spawn().await;
    let org = app.org("总部", None).await;
    app.user(org, "dave", Role::Operator).await;
    // different usernames, so the per-username limit (5) is never what triggers
    for i in 0..50 {
        let r = app
            .post(
                None,
                "/api/login",
                json!({"username": format!("nobody-{i}"), "password": "wrong-wrong"}),
            )
            .await;
        assert_eq!(
            r.status.as_u16(),
            401,
            "failure {i} is still a plain 401: {}",
            r.body
        );
        assert_eq!(
            r.body["error"], "invalid_credentials",
            "failure {i}: {}",
            r.body
        );
    }
    let r = app
        .post(
            None,
            "/api/login",
            json!({"username": "dave", "password": "password123"}),
        )
        .await
        .expect(429, Some("too_many_attempts"));
    let retry: u64 = r
        .headers
        .get("retry-after")
        .expect("Retry-After header")
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After is a number of seconds");
    assert!(
        retry > 0 && retry <= 15 * 60,
        "Retry-After within the window: {retry}"
    );
    assert_eq!(r.data(), &Value::Null, "no token: {}", r.body);
}

#[tokio::test]
async fn cors_preflight_allows_the_configured_origin_only() {
    let app = TestApp::spawn().await;
    let preflight = |origin: &'static str| {
        app.client
            .request(Method::OPTIONS, format!("{}/api/login", app.base))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header("Access-Control-Request-Headers", "content-type")
            .send()
    };

    let ok = preflight("http://allowed.example").await.unwrap();
    assert!(
        ok.status().is_success(),
        "allowed preflight: {}",
        ok.status()
    );
    assert_eq!(
        ok.headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap()),
        Some("http://allowed.example")
    );
    let methods = ok
        .headers()
        .get("access-control-allow-methods")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    assert!(methods.contains("POST"), "allowed methods: {methods}");

    let evil = preflight("http://evil.example").await.unwrap();
    assert!(
        evil.headers().get("access-control-allow-origin").is_none(),
        "no Access-Control-Allow-Origin for a foreign origin (status {}, headers {:?})",
        evil.status(),
        evil.headers()
    );

    // simple requests: the allowed origin is echoed, a foreign one is not
    let get = |origin: &'static str| {
        app.client
            .get(format!("{}/api/health", app.base))
            .header("Origin", origin)
            .send()
    };
    let ok = get("http://allowed.example").await.unwrap();
    assert_eq!(
        ok.headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap()),
        Some("http://allowed.example")
    );
    let evil = get("http://evil.example").await.unwrap();
    assert!(
        evil.headers().get("access-control-allow-origin").is_none(),
        "{:?}",
        evil.headers()
    );
}

#[tokio::test]
async fn import_body_over_the_limit_is_413_and_imports_nothing() {
    let app = TestApp::spawn().await;
    let (_, t) = app.tenant("big").await;
    // a realistic oversized batch: many well-formed leads, more than 2 MiB of JSON
    let batch = e2e::leads(0, 25_000);
    assert!(batch.to_string().len() > 2 * 1024 * 1024);
    let r = app.import(&t, batch).await;
    assert_eq!(r.status.as_u16(), 413, "{}", r.body);
    assert_eq!(r.body["error"], "payload_too_large");
    assert_eq!(r.body["code"], 413);
    let s = app
        .get(Some(&t), "/api/leads/statistics")
        .await
        .expect(200, None);
    assert_eq!(s.data()["total"], 0, "nothing imported: {}", s.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_token_password_or_phone_in_the_logs_of_a_full_flow() {
    const PLATFORM_KEY: &str = "log-test-key";
    const PLATFORM_SECRET: &str = "S3cr3t-platform-xyz";
    const JWT: &str = "Jwt-S3cret-for-the-log-test-0123456789abcdef";
    const PASSWORD: &str = "Pa55word-log-test-7731";
    const WRONG_PASSWORD: &str = "Wr0ng-pa55word-log-test-4410";
    const NEW_PASSWORD: &str = "N3w-user-pa55word-log-test-1207";
    const CHANGED_PASSWORD: &str = "Chang3d-pa55word-log-test-5521";
    let phones: Vec<String> = (1..=6).map(|i| format!("1391234{:04}", 7000 + i)).collect();

    let (_sim, sim_url) = spawn_sim(SimConfig {
        app_key: PLATFORM_KEY.into(),
        app_secret: PLATFORM_SECRET.into(),
        call_ms: 50,
        ..SimConfig::default()
    });
    // the test app only prepares the database (organisation and user); the binary does the rest
    let setup = TestApp::spawn_with(TestOptions {
        workers: false,
        ..TestOptions::default()
    })
    .await;
    let org = setup.org("日志测试", None).await;
    let hash = Argon2Hasher::with_params(1024, 1, 1)
        .unwrap()
        .hash_blocking(PASSWORD)
        .unwrap();
    PgUsers::new(setup.pool.clone())
        .create(
            NewUser {
                username: "logger".into(),
                display_name: "logger".into(),
                role: Role::Admin,
                org_id: OrgId(org),
                password_hash: hash,
            },
            None,
        )
        .await
        .unwrap();

    let log_path = std::env::temp_dir().join(format!(
        "outbound-log-test-{}.log",
        uuid::Uuid::new_v4().simple()
    ));
    let log = std::fs::File::create(&log_path).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(e2e::outbound_binary())
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", &setup.db.url)
        .env("JWT_SECRET", JWT)
        .env("PLATFORM_URL", &sim_url)
        .env("PLATFORM_APP_KEY", PLATFORM_KEY)
        .env("PLATFORM_APP_SECRET", PLATFORM_SECRET)
        .env("PLATFORM_TIMEOUT_MS", "800")
        .env("CALL_WINDOWS", "00:00-24:00")
        .env("MONITOR_INTERVAL_SECS", "1")
        .env("WORKER_ID", "log-test")
        .env("BIND", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "debug")
        .stdin(Stdio::null())
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .spawn()
        .expect("start outbound");
    let mut child = ChildGuard(child);

    let api = Api::new(format!("http://127.0.0.1:{port}"), Duration::from_secs(10));
    api.wait_healthy().await;

    // a failed login, then the real one
    api.post(
        None,
        "/api/login",
        json!({"username": "logger", "password": WRONG_PASSWORD}),
    )
    .await
    .expect(401, Some("invalid_credentials"));
    let r = api
        .post(
            None,
            "/api/login",
            json!({"username": "logger", "password": PASSWORD}),
        )
        .await
        .expect(200, None);
    let token = r.data()["access_token"].as_str().unwrap().to_owned();
    let t = Some(token.as_str());
    api.get(t, "/api/auth/verify").await.expect(200, None);
    // the token in the other header form too
    let res = api
        .client
        .get(format!("{}/api/auth/verify", api.base))
        .header("Authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);

    // leads with known phones (one invalid row, then a re-import that updates one)
    let mut rows: Vec<Value> = phones
        .iter()
        .enumerate()
        .map(|(i, p)| json!({"customer_name": format!("日志客户{i}"), "phone": p, "level": "H", "source": "汽车之家"}))
        .collect();
    rows.push(json!({"customer_name": "坏号码", "phone": "2391234"}));
    let r = api
        .post(t, "/api/leads/import", json!({"leads": rows}))
        .await
        .expect(200, None);
    assert_eq!(r.data()["inserted"], phones.len(), "{}", r.body);
    api.post(
        t,
        "/api/leads/import",
        json!({"leads": [{"customer_name": "改名客户", "phone": phones[0]}]}),
    )
    .await
    .expect(200, None);
    // a full phone number in a query string
    api.get(t, &format!("/api/leads?keyword={}", phones[1]))
        .await
        .expect(200, None);
    api.post(
        t,
        "/api/leads/preview",
        json!({"filters": {"keyword": phones[2]}}),
    )
    .await
    .expect(200, None);

    // a task over them, a script, start, completion
    let r = api
        .post(
            t,
            "/api/create-autoCall-tasks",
            json!({"task_name": "日志外呼", "script_id": ""}),
        )
        .await
        .expect(200, None);
    let task = r.data()["task_id"].as_i64().unwrap();
    assert_eq!(r.data()["leads_count"], phones.len());
    api.post(
        t,
        "/api/update-script-id",
        json!({"task_id": task, "script_id": "script-log"}),
    )
    .await
    .expect(200, None);
    api.post(t, "/api/start-call-task", json!({"task_id": task}))
        .await
        .expect(200, None);
    eventually(90, "task completed", || async {
        let s = api
            .get(t, &format!("/api/task-statistics?task_id={task}"))
            .await
            .expect(200, None);
        (s.data()["task_type"] == 3).then_some(())
    })
    .await;
    api.post(
        t,
        "/api/query-task-execution",
        json!({"task_id": task, "refresh": true}),
    )
    .await
    .expect(200, None);
    api.get(t, &format!("/api/get-leads-follow?task_id={task}"))
        .await
        .expect(200, None);
    let run = api
        .post(
            t,
            "/api/start-query-execution-run",
            json!({"task_id": task}),
        )
        .await
        .expect(200, None);
    let run_id = run.data()["run_id"].clone();
    let run_id = run_id
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| run_id.to_string());
    eventually(60, "execution run finished", || async {
        let r = api
            .get(t, &format!("/api/get-query-execution-run?run_id={run_id}"))
            .await
            .expect(200, None);
        (r.data()["status"] == "succeeded").then_some(())
    })
    .await;
    api.post(t, "/api/auto-task", json!({"action": "check"}))
        .await
        .expect(200, None);
    api.get(t, "/api/config-check").await.expect(200, None);
    // the console: its login (the password in a form) and a page with the session cookie
    let console = api
        .client
        .post(format!("{}/login", api.base))
        .header("HX-Request", "true")
        .header("Origin", api.base.clone())
        .header("Sec-Fetch-Site", "same-origin")
        .form(&[
            ("username", "logger"),
            ("password", PASSWORD),
            ("next", "/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(console.status().as_u16(), 200);
    let cookie = console.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let page = api
        .client
        .get(format!("{}/tasks/{task}", api.base))
        .header("Cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 200);

    // accounts: a user created with a password, reset, logged in with the temporary one, which
    // is changed, then logged out
    let r = api
        .post(
            t,
            "/api/users",
            json!({"org_id": org, "username": "newbie", "role": "operator", "password": NEW_PASSWORD}),
        )
        .await
        .expect(200, None);
    let newbie = r.data()["id"].as_i64().unwrap();
    let r = api
        .post(t, "/api/users/reset-password", json!({"user_id": newbie}))
        .await
        .expect(200, None);
    let temporary = r.data()["temporary_password"].as_str().unwrap().to_owned();
    let r = api
        .post(
            None,
            "/api/login",
            json!({"username": "newbie", "password": temporary}),
        )
        .await
        .expect(200, None);
    let pending = r.data()["access_token"].as_str().unwrap().to_owned();
    let r = api
        .post(
            Some(&pending),
            "/api/me/password",
            json!({"current_password": temporary, "new_password": CHANGED_PASSWORD}),
        )
        .await
        .expect(200, None);
    let fresh = r.data()["access_token"].as_str().unwrap().to_owned();
    api.post(Some(&fresh), "/api/logout", json!(null))
        .await
        .expect(200, None);

    // SIGTERM, then read everything it wrote
    e2e::sigterm_and_wait(&mut child.0, 15).await;
    let text = std::fs::read_to_string(&log_path).unwrap();
    let where_ = log_path.display();
    assert!(
        text.contains("DEBUG"),
        "debug logs were captured ({where_})"
    );
    assert!(
        text.contains("/api/start-call-task"),
        "request logs were captured ({where_})"
    );
    assert!(
        text.contains(&format!("console: http://127.0.0.1:{port}/")),
        "the console's address was printed ({where_})"
    );

    let db_password = setup
        .db
        .url
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split('@').next())
        .and_then(|userinfo| userinfo.split_once(':'))
        .map(|(_, pw)| pw.to_owned())
        .filter(|pw| !pw.is_empty());
    let signature = token.rsplit('.').next().unwrap().to_owned();
    let mut secrets: Vec<(String, String)> = vec![
        ("the JWT secret".into(), JWT.into()),
        ("the platform secret".into(), PLATFORM_SECRET.into()),
        ("the password".into(), PASSWORD.into()),
        ("a wrong password".into(), WRONG_PASSWORD.into()),
        ("the access token".into(), token.clone()),
        ("the access token's signature".into(), signature),
        ("a new user's password".into(), NEW_PASSWORD.into()),
        ("a temporary password".into(), temporary.clone()),
        ("a changed password".into(), CHANGED_PASSWORD.into()),
        ("a password hash".into(), "$argon2".into()),
        ("a logged-out token".into(), fresh.clone()),
    ];
    if let Some(pw) = db_password {
        secrets.push(("the database password".into(), pw));
    }
    for p in &phones {
        secrets.push((format!("phone {p}"), p.clone()));
        // a Debug rendering of the phone's bytes (bound query parameters) is a leak as well
        let bytes = p
            .bytes()
            .map(|b| b.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        secrets.push((format!("phone {p} as bytes"), bytes));
    }
    let mut leaks = Vec::new();
    for (what, s) in &secrets {
        if let Some(line) = text.lines().find(|l| l.contains(s.as_str())) {
            leaks.push(format!(
                "{what} in: {}",
                line.chars().take(400).collect::<String>()
            ));
        }
    }
    assert!(
        leaks.is_empty(),
        "leaks in the logs ({where_}):\n{}",
        leaks.join("\n")
    );
    let _ = std::fs::remove_file(&log_path);
}

/// A login from `app`'s own address with `X-Forwarded-For: xff`: its status.
async fn login_via(app: &TestApp, xff: &str, username: &str, password: &str) -> u16 {
    app.client
        .post(format!("{}/api/login", app.base))
        .header("X-Forwarded-For", xff)
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_the_throttle_counts_the_forwarded_client() {
    let app = TestApp::spawn_with(TestOptions {
        trusted_proxies: "127.0.0.1".into(),
        ..TestOptions::default()
    })
    .await;
    let org = app.org("总部", None).await;
    app.user(org, "dave", Role::Operator).await;
    for i in 0..50 {
        let status = login_via(&app, "198.51.100.7", &format!("nobody-{i}"), "wrong-wrong").await;
        assert_eq!(status, 401, "failure {i}");
    }
    // a client can prepend what it likes: the proxy's entry (right-most) is the one believed
    assert_eq!(
        login_via(&app, "203.0.113.1, 198.51.100.7", "dave", "password123").await,
        429,
        "the client that failed 50 times is blocked"
    );
    assert_eq!(
        login_via(&app, "198.51.100.8", "dave", "password123").await,
        200,
        "another client behind the same proxy is not"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_an_untrusted_peer_a_forwarded_address_is_ignored() {
    let app = TestApp::spawn().await;
    let org = app.org("总部", None).await;
    app.user(org, "dave", Role::Operator).await;
    // a new made-up address on every failure does not escape the per-address limit
    for i in 0..50 {
        let status = login_via(
            &app,
            &format!("198.51.100.{i}"),
            &format!("nobody-{i}"),
            "wrong-wrong",
        )
        .await;
        assert_eq!(status, 401, "failure {i}");
    }
    assert_eq!(
        login_via(&app, "198.51.100.200", "dave", "password123").await,
        429
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_failures_spread_over_two_instances_block_the_username_on_both() {
    let first = TestApp::spawn().await;
    let second = first.another_instance().await;
    let org = first.org("总部", None).await;
    first.user(org, "dave", Role::Operator).await;
    let wrong = json!({"username": "dave", "password": "wrong-wrong"});
    for i in 0..5 {
        let app = if i % 2 == 0 { &first } else { &second };
        app.post(None, "/api/login", wrong.clone())
            .await
            .expect(401, Some("invalid_credentials"));
    }
    let right = json!({"username": "dave", "password": "password123"});
    for app in [&first, &second] {
        app.post(None, "/api/login", right.clone())
            .await
            .expect(429, Some("too_many_attempts"));
    }
}
