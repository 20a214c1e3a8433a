//! The console at the HTTP level, without a browser: status codes of its pages, the session
//! cookie, the CSRF refusals and the headers every answer carries.

use e2e::TestApp;
use kernel::Role;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;

/// A client that follows no redirects (their targets are what is checked).
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The headers a console page sends from this origin.
fn from_console(app: &TestApp) -> Vec<(&'static str, String)> {
    vec![
        ("HX-Request", "true".to_owned()),
        ("Origin", app.base.clone()),
        ("Sec-Fetch-Site", "same-origin".to_owned()),
    ]
}

/// Log in through the console; returns the `Cookie` header value and the login answer's headers.
async fn console_login(app: &TestApp, username: &str) -> (String, HeaderMap) {
    let mut req = client().post(format!("{}/login", app.base)).form(&[
        ("username", username),
        ("password", "password123"),
        ("next", "/"),
    ]);
    for (k, v) in from_console(app) {
        req = req.header(k, v);
    }
    let res = req.send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["hx-redirect"], "/");
    let set = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    let pair = set.split(';').next().unwrap().to_owned();
    (pair, res.headers().clone())
}

async fn get(app: &TestApp, cookie: Option<&str>, path: &str) -> reqwest::Response {
    let mut req = client().get(format!("{}{path}", app.base));
    if let Some(c) = cookie {
        req = req.header("Cookie", c);
    }
    req.send().await.unwrap()
}

async fn state_of(app: &TestApp, token: &str, task: i64) -> i64 {
    app.get(Some(token), &format!("/api/task-statistics?task_id={task}"))
        .await
        .expect(200, None)
        .data()["task_type"]
        .as_i64()
        .unwrap()
}

#[tokio::test]
async fn each_page_answers_with_its_status_and_without_a_session_leads_to_login() {
    let app = TestApp::spawn().await;
    let (org, admin) = app.tenant("dealer").await;
    app.user(org, "op", Role::Operator).await;
    let task = app.task_with_leads(&admin, 2, "s").await;

    for path in ["/", "/leads", "/test-env", &format!("/tasks/{task}")] {
        let r = get(&app, None, path).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{path}");
        let to = r.headers()["location"].to_str().unwrap();
        assert!(to.starts_with("/login?next=/"), "{path} -> {to}");
    }
    assert_eq!(get(&app, None, "/login").await.status(), StatusCode::OK);

    let (cookie, _) = console_login(&app, "op").await;
    let c = Some(cookie.as_str());
    for path in [
        "/",
        "/?panel=create",
        "/?panel=select",
        "/?panel=scenes",
        "/leads",
        "/test-env",
        &format!("/tasks/{task}"),
        &format!("/tasks/{task}/results?status=pending"),
        "/task-rows?page=2",
        "/overview",
        "/preview?levels=H",
    ] {
        let r = get(&app, c, path).await;
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        assert_eq!(
            r.headers()["content-type"],
            "text/html; charset=utf-8",
            "{path}"
        );
    }
    for path in [
        "/tasks/999999",
        "/nope",
        "/tasks/abc",
        "/?panel=nope",
        "/runs/999999/live",
    ] {
        let r = get(&app, c, path).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(r.text().await.unwrap().contains("页面不存在"), "{path}");
    }
    for path in [
        "/task-rows?page=0",
        "/task-rows?state=9",
        "/preview?max_call_count=x",
    ] {
        let r = get(&app, c, path).await;
        assert!(r.status() == StatusCode::BAD_REQUEST, "{path}");
    }
    // the API keeps its JSON answers
    let r = get(&app, c, "/api/nope").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["error"],
        "not_found"
    );
}

#[tokio::test]
async fn the_session_cookie_is_http_only_same_site_strict_and_never_read_by_the_api() {
    let app = TestApp::spawn().await;
    let (org, _) = app.tenant("dealer").await;
    app.user(org, "op", Role::Operator).await;
    let (cookie, headers) = console_login(&app, "op").await;
    let set = headers["set-cookie"].to_str().unwrap();
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age="] {
        assert!(set.contains(flag), "{flag} missing: {set}");
    }
    let r = get(&app, Some(&cookie), "/api/auth/verify").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // the API's CORS never allows the console's header
    let preflight = client()
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/api/task-stats", app.base),
        )
        .header("Origin", "http://allowed.example")
        .header("Access-Control-Request-Method", "POST")
        .header("Access-Control-Request-Headers", "hx-request")
        .send()
        .await
        .unwrap();
    let allowed = preflight
        .headers()
        .get("access-control-allow-headers")
        .map(|v| v.to_str().unwrap().to_lowercase())
        .unwrap_or_default();
    assert!(!allowed.contains("hx-request"), "{allowed}");
    // logging out removes the cookie
    let mut req = client()
        .post(format!("{}/logout", app.base))
        .header("Cookie", &cookie);
    for (k, v) in from_console(&app) {
        req = req.header(k, v);
    }
    let out = req.send().await.unwrap();
    assert_eq!(out.headers()["hx-redirect"], "/login");
    assert!(
        out.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
}

#[tokio::test]
async fn a_state_change_from_another_site_or_without_the_console_header_is_403_and_changes_nothing()
{
    let app = TestApp::spawn().await;
    let (org, admin) = app.tenant("dealer").await;
    app.user(org, "op", Role::Operator).await;
    let task = app.task_with_leads(&admin, 2, "s").await;
    let (cookie, _) = console_login(&app, "op").await;
    let stop = format!("{}/tasks/{task}/stop", app.base);
    let refused: [&[(&str, &str)]; 4] = [
        // a plain cross-site form post
        &[
            ("Origin", "https://evil.example"),
            ("Sec-Fetch-Site", "cross-site"),
        ],
        // the header, from another site
        &[("HX-Request", "true"), ("Origin", "https://evil.example")],
        &[("HX-Request", "true"), ("Sec-Fetch-Site", "same-site")],
        // the header, from nowhere said
        &[("HX-Request", "true")],
    ];
    for headers in refused {
        let mut req = client().post(&stop).header("Cookie", &cookie);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{headers:?}");
        assert!(r.text().await.unwrap().contains("CSRF"));
        assert_eq!(state_of(&app, &admin, task).await, 1, "{headers:?}");
    }
    // a cross-site login is refused too
    let r = client()
        .post(format!("{}/login", app.base))
        .header("Origin", "https://evil.example")
        .form(&[("username", "op"), ("password", "password123")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.headers().get("set-cookie").is_none());

    // from the console itself it goes through
    let mut req = client().post(&stop).header("Cookie", &cookie);
    for (k, v) in from_console(&app) {
        req = req.header(k, v);
    }
    assert_eq!(req.send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(state_of(&app, &admin, task).await, 5);
}

#[tokio::test]
async fn every_answer_carries_the_content_security_policy_and_friends() {
    let app = TestApp::spawn().await;
    let (org, _) = app.tenant("dealer").await;
    app.user(org, "op", Role::Operator).await;
    let (cookie, _) = console_login(&app, "op").await;
    for (path, c) in [
        ("/login", None),
        ("/", Some(cookie.as_str())),
        ("/nope", Some(cookie.as_str())),
        ("/", None),
    ] {
        let r = get(&app, c, path).await;
        let h = r.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("default-src 'self'"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"));
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
    }
    // the page itself has no inline script or handler
    let page = get(&app, Some(&cookie), "/").await.text().await.unwrap();
    assert!(!page.contains("<script>") && !page.contains(" onclick="));
    // vendored files: versioned, cached for a year, compressed on request
    let r = client()
        .get(format!("{}/static/htmx-2.0.11.min.js", app.base))
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    assert_eq!(r.headers()["content-encoding"], "gzip");
    assert_eq!(
        get(&app, None, "/static/htmx-9.9.9.js").await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn another_organisations_task_is_404_in_every_console_route_and_admin_actions_are_403() {
    let app = TestApp::spawn().await;
    let (_, a) = app.tenant("dealer-a").await;
    let (org_b, _) = app.tenant("dealer-b").await;
    app.user(org_b, "op-b", Role::Operator).await;
    let task = app.task_with_leads(&a, 2, "s").await;
    let (cookie, _) = console_login(&app, "op-b").await;
    for path in [
        format!("/tasks/{task}"),
        format!("/tasks/{task}/results"),
        format!("/tasks/{task}/live"),
        format!("/tasks/{task}/actions"),
    ] {
        assert_eq!(
            get(&app, Some(&cookie), &path).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    for action in ["start", "stop", "script", "runs"] {
        let mut req = client()
            .post(format!("{}/tasks/{task}/{action}", app.base))
            .header("Cookie", &cookie)
            .form(&[("script_id", "x")]);
        for (k, v) in from_console(&app) {
            req = req.header(k, v);
        }
        assert_eq!(
            req.send().await.unwrap().status(),
            StatusCode::NOT_FOUND,
            "{action}"
        );
    }
    assert_eq!(state_of(&app, &a, task).await, 1);
    let mut req = client()
        .post(format!("{}/test-env/monitor", app.base))
        .header("Cookie", &cookie)
        .form(&[("action", "stop")]);
    for (k, v) in from_console(&app) {
        req = req.header(k, v);
    }
    assert_eq!(req.send().await.unwrap().status(), StatusCode::FORBIDDEN);
    assert!(app.state.api.background.monitor_status().running);
}

/// Each `<input>` and `<select>` of `html` that is not hidden, with whether it has a label:
/// a `<label for=…>` naming its id, or a `<label>` around it.
fn fields_and_labels(html: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(i) = html[at..].find(['<']).map(|i| at + i) {
        at = i + 1;
        let rest = &html[i..];
        if !(rest.starts_with("<input") || rest.starts_with("<select")) {
            continue;
        }
        let tag = &rest[..rest.find('>').unwrap_or(rest.len())];
        if tag.contains("type=\"hidden\"") {
            continue;
        }
        let id = tag
            .split("id=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .map(str::to_owned);
        let by_for = id
            .as_ref()
            .is_some_and(|id| html.contains(&format!("for=\"{id}\"")));
        let before = &html[..i];
        let wrapped = before.rfind("<label") > before.rfind("</label>");
        out.push((tag.to_owned(), by_for || wrapped));
    }
    out
}

#[tokio::test]
async fn every_field_of_every_page_has_a_label() {
    let app = TestApp::spawn().await;
    let (org, admin) = app.tenant("dealer").await;
    app.user(org, "op", Role::Operator).await;
    app.import(&admin, e2e::leads(0, 30))
        .await
        .expect(200, None);
    let task = app
        .post(
            Some(&admin),
            "/api/create-autoCall-tasks",
            serde_json::json!({"task_name": "t", "script_id": ""}),
        )
        .await
        .expect(200, None)
        .data()["task_id"]
        .as_i64()
        .unwrap();
    let (cookie, _) = console_login(&app, "op").await;
    let mut pages = vec![("/login".to_owned(), None)];
    for p in [
        "/",
        "/?panel=create",
        "/?panel=scenes",
        "/leads",
        "/test-env",
    ] {
        pages.push((p.to_owned(), Some(cookie.clone())));
    }
    pages.push((format!("/tasks/{task}"), Some(cookie.clone())));
    pages.push(("/account".to_owned(), Some(cookie.clone())));
    let (admin_cookie, _) = console_login(&app, "dealer-admin").await;
    for p in ["/users", "/organizations", "/webhooks", "/audit"] {
        pages.push((p.to_owned(), Some(admin_cookie.clone())));
    }
    for (path, c) in pages {
        let html = get(&app, c.as_deref(), &path).await.text().await.unwrap();
        let fields = fields_and_labels(&html);
        assert!(!fields.is_empty(), "{path} has fields");
        for (tag, labelled) in fields {
            assert!(labelled, "{path}: {tag} has no label");
        }
    }
}

#[tokio::test]
async fn the_task_detail_downloads_its_results_as_csv_and_xlsx() {
    let app = TestApp::spawn().await;
    let (org, admin) = app.tenant("dealer").await;
    app.user(org, "op", Role::Operator).await;
    let task = app.task_with_leads(&admin, 30, "").await;
    let (cookie, _) = console_login(&app, "op").await;
    let html = get(&app, Some(&cookie), &format!("/tasks/{task}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(&format!("/tasks/{task}/export?format=xlsx")),
        "{html}"
    );
    let res = get(
        &app,
        Some(&cookie),
        &format!("/tasks/{task}/export?format=csv"),
    )
    .await;
    assert_eq!(res.status().as_u16(), 200);
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    let body = res.bytes().await.unwrap();
    assert!(body.starts_with(b"\xEF\xBB\xBF"));
    // a header and 30 rows
    assert_eq!(String::from_utf8_lossy(&body).lines().count(), 31);
    let res = get(
        &app,
        Some(&cookie),
        &format!("/tasks/{task}/export?format=xlsx"),
    )
    .await;
    assert_eq!(res.status().as_u16(), 200);
    assert!(
        res.bytes().await.unwrap().starts_with(b"PK"),
        "a zip (xlsx) file"
    );
    // another organisation's task is the 404 page
    let (_, _) = app.tenant("other").await;
    let (stranger, _) = console_login(&app, "other-admin").await;
    let res = get(
        &app,
        Some(&stranger),
        &format!("/tasks/{task}/export?format=csv"),
    )
    .await;
    assert_eq!(res.status().as_u16(), 404);
}

/// POST a console form (as the page's htmx does) with the session cookie.
async fn post_form(app: &TestApp, cookie: &str, path: &str, form: &str) -> reqwest::Response {
    let mut req = client()
        .post(format!("{}{path}", app.base))
        .header("Cookie", cookie)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form.to_owned());
    for (k, v) in from_console(app) {
        req = req.header(k, v);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn an_admin_registers_a_webhook_in_the_console_sees_its_secret_once_and_pings_it() {
    use e2e::receiver::{Faults, Receiver};
    let app = TestApp::spawn().await;
    let (org, _) = app.tenant("dealer").await;
    app.user(org, "op", Role::Operator).await;
    let receiver = Receiver::start(Faults::default()).await;
    let (cookie, _) = console_login(&app, "dealer-admin").await;
    let page = get(&app, Some(&cookie), "/webhooks")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("webhook-create") && page.contains("还没有 Webhook"),
        "{page}"
    );
    let url = receiver.url.replace(':', "%3A").replace('/', "%2F");
    let res = post_form(
        &app,
        &cookie,
        "/webhooks",
        &format!("url={url}&events=lead.call_finished&events=task.completed&description=CRM"),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let panel = res.text().await.unwrap();
    let secret = panel
        .split("id=\"webhook-secret-value\" readonly value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("the secret is shown")
        .to_owned();
    assert!(secret.starts_with("whsec_"));
    let id = app
        .get(Some(&app.login("dealer-admin").await), "/api/webhooks")
        .await
        .data()["items"][0]["id"]
        .as_i64()
        .unwrap();
    // shown once: the page does not show it again
    let again = get(&app, Some(&cookie), "/webhooks")
        .await
        .text()
        .await
        .unwrap();
    assert!(!again.contains(&secret));
    // a ping from the console arrives, signed with that secret
    let res = post_form(&app, &cookie, &format!("/webhooks/{id}/test"), "").await;
    assert_eq!(res.status(), StatusCode::OK);
    let got = e2e::eventually(10, "the ping arrives", || async {
        receiver.all().into_iter().next()
    })
    .await;
    let ts: i64 = got.header("webhook-timestamp").parse().unwrap();
    assert!(webhooks::sign::verify(
        &secret,
        &got.header("webhook-id"),
        ts,
        &got.body,
        &got.header("webhook-signature")
    ));
    // a refused URL is a message on the page, and nothing is registered
    let res = post_form(
        &app,
        &cookie,
        "/webhooks",
        "url=http%3A%2F%2F10.0.0.1%2Fhook&events=task.completed",
    )
    .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("url"));
    // operators see no such page
    let (op, _) = console_login(&app, "op").await;
    assert_eq!(
        get(&app, Some(&op), "/webhooks").await.status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn an_admin_reads_in_the_console_who_started_a_task_from_the_console() {
    let app = TestApp::spawn().await;
    let (org, admin) = app.tenant("dealer").await;
    app.user(org, "op", Role::Operator).await;
    let task = app.task_with_leads(&admin, 2, "s").await;
    let (op, _) = console_login(&app, "op").await;
    let res = post_form(&app, &op, &format!("/tasks/{task}/start"), "").await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = post_form(&app, &op, &format!("/tasks/{task}/resume"), "").await;
    assert_eq!(
        res.status(),
        StatusCode::CONFLICT,
        "a running task is not resumed"
    );

    let (cookie, _) = console_login(&app, "dealer-admin").await;
    let page = get(&app, Some(&cookie), &format!("/audit?task={task}")).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    let started = html
        .split("<tr data-action=\"task.start\">")
        .nth(1)
        .expect("the start is listed");
    let started = started.split("</tr>").next().unwrap();
    assert!(
        started.contains("<td>op</td>") && started.contains("成功"),
        "{started}"
    );
    assert!(
        html.contains("data-action=\"task.resume\"") && html.contains("拒绝：invalid_task_state"),
        "the refused resume is listed too"
    );
    let logins = get(&app, Some(&cookie), "/audit?action=auth.login")
        .await
        .text()
        .await
        .unwrap();
    assert!(logins.contains("data-action=\"auth.login\""));
    assert!(!logins.contains("data-action=\"task.start\""));
    assert_eq!(
        get(&app, Some(&cookie), "/audit?task=abc").await.status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        get(&app, Some(&op), "/audit").await.status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn the_consoles_refused_account_webhook_and_organisation_actions_are_in_the_trail() {
    let app = TestApp::spawn().await;
    let (org, admin) = app.tenant("dealer").await;
    let (cookie, _) = console_login(&app, "dealer-admin").await;
    let refused = [
        (
            "/webhooks",
            "url=ftp%3A%2F%2Fexample.com%2Fhook&events=lead.call_finished".to_owned(),
            "webhook.create",
        ),
        (
            "/users",
            format!(
                "org_id={org}&username=dealer-admin&display_name=x&role=operator&password=password123"
            ),
            "user.create",
        ),
        (
            "/organizations",
            format!("name=%20&parent_id={org}"),
            "org.create",
        ),
    ];
    for (path, form, _) in &refused {
        let res = post_form(&app, &cookie, path, form).await;
        assert!(res.status().is_client_error(), "{path}: {}", res.status());
    }
    let trail = app
        .get(Some(&admin), "/api/audit-log?page_size=100")
        .await
        .expect(200, None)
        .data()["items"]
        .clone();
    for (path, _, action) in refused {
        let entry = trail
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["action"] == action)
            .unwrap_or_else(|| panic!("{path}: no {action} entry in {trail}"));
        assert_eq!(entry["actor"], "dealer-admin", "{entry}");
        assert!(entry["outcome"] != "ok", "{entry}");
    }
}
