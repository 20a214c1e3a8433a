//! The OpenAPI document as served, Swagger UI, and real responses of the running app checked
//! against the document's schemas.
use e2e::{Resp, TestApp, eventually, leads};
use reqwest::Method;
use serde_json::{Value, json};
use testkit::schema::{response_schema, validate};

async fn fetch_doc(app: &TestApp) -> Value {
    let res = app
        .client
        .get(format!("{}/api/openapi.json", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    res.json().await.unwrap()
}

/// The response matches the document's schema for its method, path and status.
#[track_caller]
fn conforms(doc: &Value, method: &str, path: &str, r: &Resp) {
    let status = r.status.as_u16();
    let schema = response_schema(doc, method, path, status).unwrap_or_else(|| {
        panic!(
            "{method} {path}: status {status} is not documented; body: {}",
            r.body
        )
    });
    let errors = validate(doc, &schema, &r.body);
    assert!(
        errors.is_empty(),
        "{method} {path} {status} does not match the document:\n{}\nbody: {}",
        errors.join("\n"),
        r.body
    );
}

#[tokio::test]
async fn openapi_json_is_served_without_auth_and_lists_every_route() {
    let app = TestApp::spawn().await;
    let doc = fetch_doc(&app).await;
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let scheme = &doc["components"]["securitySchemes"]["access_token"];
    assert_eq!(scheme["type"], "apiKey");
    assert_eq!(scheme["in"], "header");
    assert_eq!(scheme["name"], "access-token");
    for e in api::routes::ENDPOINTS {
        let method = e.method.as_str().to_lowercase();
        let op = &doc["paths"][e.full_path()][&method];
        assert!(
            op.is_object(),
            "{method} {} missing from the served document",
            e.full_path()
        );
        let public = matches!(
            e.path,
            "/login" | "/health" | "/health/live" | "/health/ready"
        );
        let secured = op["security"]
            .as_array()
            .is_some_and(|s| s.iter().any(|r| r.get("access_token").is_some()));
        assert_eq!(secured, !public, "{method} {}", e.full_path());
    }
    // the rest of the API still answers as before around the new routes
    app.get(None, "/api/nope")
        .await
        .expect(404, Some("not_found"));
    app.get(None, "/api/tasks")
        .await
        .expect(401, Some("unauthorized"));
}

#[tokio::test]
async fn openapi_swagger_ui_is_served_offline() {
    let app = TestApp::spawn().await;
    let res = app
        .client
        .get(format!("{}/api/docs/", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = res.text().await.unwrap();
    assert!(html.to_lowercase().contains("swagger"), "{html}");
    // the UI's own files come from the binary, and it points at our document
    let init = app
        .client
        .get(format!("{}/api/docs/swagger-initializer.js", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(init.status().as_u16(), 200);
    assert!(init.text().await.unwrap().contains("/api/openapi.json"));
    let bundle = app
        .client
        .get(format!("{}/api/docs/swagger-ui-bundle.js", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(bundle.status().as_u16(), 200);
    // without the slash: redirected to the UI
    let res = app
        .client
        .get(format!("{}/api/docs", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert!(res.url().path().ends_with("/api/docs/"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_real_responses_match_the_document() {
    let app = TestApp::spawn().await;
    let doc = fetch_doc(&app).await;
    let (org, t) = app.tenant("dealer").await;
    let t = t.as_str();

    conforms(
        &doc,
        "get",
        "/api/health",
        &app.get(None, "/api/health").await.expect(200, None),
    );
    let login = app
        .post(
            None,
            "/api/login",
            json!({"username": "dealer-admin", "password": "password123"}),
        )
        .await;
    conforms(&doc, "post", "/api/login", &login.expect(200, None));
    let bad = app
        .post(
            None,
            "/api/login",
            json!({"username": "dealer-admin", "password": "wrong"}),
        )
        .await;
    conforms(
        &doc,
        "post",
        "/api/login",
        &bad.expect(401, Some("invalid_credentials")),
    );
    conforms(
        &doc,
        "get",
        "/api/auth/verify",
        &app.get(Some(t), "/api/auth/verify").await.expect(200, None),
    );
    conforms(
        &doc,
        "get",
        "/api/auth/verify",
        &app.get(None, "/api/auth/verify")
            .await
            .expect(401, Some("unauthorized")),
    );
    app.org("branch", Some(org)).await;
    conforms(
        &doc,
        "get",
        "/api/organizations",
        &app.get(Some(t), "/api/organizations")
            .await
            .expect(200, None),
    );

    let mut rows = leads(0, 6);
    rows.as_array_mut()
        .unwrap()
        .push(json!({"customer_name": "坏号码", "phone": "123"}));
    rows.as_array_mut().unwrap().push(json!({"customer_name": "外部", "phone": "13900000001", "external_id": "ext-1", "do_not_call": true}));
    conforms(
        &doc,
        "post",
        "/api/leads/import",
        &app.import(t, rows).await.expect(200, None),
    );
    for path in [
        "/api/leads",
        "/api/leads?page=1&page_size=5&levels=H,A&sources=汽车之家&exclude_in_active_tasks=true",
        "/api/leads?page=9",
    ] {
        conforms(
            &doc,
            "get",
            "/api/leads",
            &app.get(Some(t), path).await.expect(200, None),
        );
    }
    conforms(
        &doc,
        "get",
        "/api/leads",
        &app.get(Some(t), "/api/leads?page_size=101")
            .await
            .expect(400, Some("invalid_request")),
    );
    conforms(
        &doc,
        "get",
        "/api/leads",
        &app.get(Some(t), "/api/leads?org_ids=999999")
            .await
            .expect(404, Some("not_found")),
    );
    conforms(
        &doc,
        "get",
        "/api/leads/statistics",
        &app.get(Some(t), "/api/leads/statistics")
            .await
            .expect(200, None),
    );
    let preview = app
        .post(
            Some(t),
            "/api/leads/preview",
            json!({"filters": {"levels": ["H"]}}),
        )
        .await;
    conforms(
        &doc,
        "post",
        "/api/leads/preview",
        &preview.expect(200, None),
    );

    let scene = app
        .post(Some(t), "/api/create_scene", json!({"scene_name": "回访", "script_id": "script-1", "filters": {"levels": ["H", "A"]}}))
        .await
        .expect(200, None);
    conforms(&doc, "post", "/api/create_scene", &scene);
    conforms(
        &doc,
        "get",
        "/api/scenes",
        &app.get(Some(t), "/api/scenes").await.expect(200, None),
    );
    let created = app
        .post(
            Some(t),
            "/api/create-autoCall-tasks",
            json!({"task_name": "外呼", "script_id": ""}),
        )
        .await;
    let created = created.expect(200, None);
    conforms(&doc, "post", "/api/create-autoCall-tasks", &created);
    let task = created.data()["task_id"].as_i64().unwrap();
    let none = app
        .post(
            Some(t),
            "/api/create-autoCall-tasks",
            json!({"task_name": "再来", "script_id": ""}),
        )
        .await;
    conforms(
        &doc,
        "post",
        "/api/create-autoCall-tasks",
        &none.expect(422, Some("no_matching_leads")),
    );
    let no_script = app
        .post(Some(t), "/api/start-call-task", json!({"task_id": task}))
        .await;
    conforms(
        &doc,
        "post",
        "/api/start-call-task",
        &no_script.expect(422, Some("script_not_set")),
    );
    let updated = app
        .post(
            Some(t),
            "/api/update-script-id",
            json!({"task_id": task, "script_id": "script-1"}),
        )
        .await;
    conforms(
        &doc,
        "post",
        "/api/update-script-id",
        &updated.expect(200, None),
    );
    let missing = app
        .post(
            Some(t),
            "/api/update-script-id",
            json!({"task_id": 999_999, "script_id": "s"}),
        )
        .await;
    conforms(
        &doc,
        "post",
        "/api/update-script-id",
        &missing.expect(404, Some("not_found")),
    );
    conforms(
        &doc,
        "get",
        "/api/task_list",
        &app.get(Some(t), "/api/task_list?task_type=1")
            .await
            .expect(200, None),
    );
    conforms(
        &doc,
        "get",
        "/api/tasks",
        &app.get(Some(t), "/api/tasks").await.expect(200, None),
    );
    conforms(
        &doc,
        "get",
        "/api/task-stats",
        &app.get(Some(t), "/api/task-stats").await.expect(200, None),
    );

    let started = app
        .post(Some(t), "/api/start-call-task", json!({"task_id": task}))
        .await
        .expect(200, None);
    conforms(&doc, "post", "/api/start-call-task", &started);
    let again = app
        .post(Some(t), "/api/start-call-task", json!({"task_id": task}))
        .await;
    conforms(
        &doc,
        "post",
        "/api/start-call-task",
        &again.expect(409, Some("task_not_startable")),
    );
    let resume = app
        .post(
            Some(t),
            "/api/suspend-resume-task",
            json!({"task_id": task, "action": "resume"}),
        )
        .await;
    conforms(
        &doc,
        "post",
        "/api/suspend-resume-task",
        &resume.expect(409, Some("invalid_task_state")),
    );
    let stats = app
        .get(Some(t), &format!("/api/task-statistics?task_id={task}"))
        .await
        .expect(200, None);
    conforms(&doc, "get", "/api/task-statistics", &stats);
    let path = "/api/query-task-execution";
    conforms(
        &doc,
        "post",
        path,
        &app.post(Some(t), path, json!({"task_id": task, "page_size": 3}))
            .await
            .expect(200, None),
    );
    app.wait_completed(t, task, 60).await;
    conforms(
        &doc,
        "post",
        path,
        &app.post(Some(t), path, json!({"task_id": task, "refresh": true}))
            .await
            .expect(200, None),
    );
    let follow = app
        .get(
            Some(t),
            &format!("/api/get-leads-follow?task_id={task}&page_size=100"),
        )
        .await
        .expect(200, None);
    conforms(&doc, "get", "/api/get-leads-follow", &follow);
    let stats = app
        .get(Some(t), &format!("/api/task-statistics?task_id={task}"))
        .await
        .expect(200, None);
    conforms(&doc, "get", "/api/task-statistics", &stats);
    conforms(
        &doc,
        "get",
        "/api/task_list",
        &app.get(Some(t), "/api/task_list").await.expect(200, None),
    );

    let run = app
        .post(
            Some(t),
            "/api/start-query-execution-run",
            json!({"task_id": task}),
        )
        .await
        .expect(200, None);
    conforms(&doc, "post", "/api/start-query-execution-run", &run);
    let run_id = run.data()["run_id"].as_i64().unwrap();
    let done = eventually(30, "run finished", || async {
        let r = app
            .get(
                Some(t),
                &format!("/api/get-query-execution-run?run_id={run_id}"),
            )
            .await;
        matches!(r.data()["status"].as_str(), Some("succeeded" | "failed")).then_some(r)
    })
    .await;
    conforms(
        &doc,
        "get",
        "/api/get-query-execution-run",
        &done.expect(200, None),
    );

    let stop = app
        .post(Some(t), "/api/stop-call-task", json!({"task_id": task}))
        .await;
    conforms(
        &doc,
        "post",
        "/api/stop-call-task",
        &stop.expect(409, Some("invalid_task_state")),
    );
    conforms(
        &doc,
        "post",
        "/api/auto-task",
        &app.post(Some(t), "/api/auto-task", json!({"action": "check"}))
            .await
            .expect(200, None),
    );
    conforms(
        &doc,
        "get",
        "/api/config-check",
        &app.get(Some(t), "/api/config-check")
            .await
            .expect(200, None),
    );

    // an operator may not run admin operations
    app.user(org, "operator", kernel::Role::Operator).await;
    let op = app.login("operator").await;
    let forbidden = app
        .call(Method::GET, Some(&op), "/api/config-check", None)
        .await;
    conforms(
        &doc,
        "get",
        "/api/config-check",
        &forbidden.expect(403, Some("forbidden")),
    );
}

/// What API fuzzing (`scripts/fuzz-api.sh`) found, answered as documented: text with U+0000 and
/// times PostgreSQL cannot store were 500s; they are 400s (or, in an import, a rejected row).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_fuzz_findings_are_documented_400s() {
    let app = TestApp::spawn().await;
    let doc = fetch_doc(&app).await;
    let (_, t) = app.tenant("fuzz").await;
    let t = t.as_str();
    app.import(t, leads(0, 3)).await.expect(200, None);

    let bodies = [
        (
            "/api/login",
            json!({"username": "a\u{0}b", "password": "x"}),
        ),
        (
            "/api/leads/preview",
            json!({"filters": {"vehicle_models": ["a\u{0}"]}}),
        ),
        (
            "/api/leads/preview",
            json!({"filters": {"created_from": "-200000-01-01"}}),
        ),
        (
            "/api/leads/preview",
            json!({"filters": {"not_called_since": "-200000-01-01 00:00:00"}}),
        ),
        (
            "/api/create-autoCall-tasks",
            json!({"task_name": "t", "filters": {"created_to": "-200000-01-01"}}),
        ),
        ("/api/create-autoCall-tasks", json!({"task_name": "t\u{0}"})),
        (
            "/api/create_scene",
            json!({"scene_name": "s", "script_id": "x", "filters": {"created_from": "-200000-01-01"}}),
        ),
        (
            "/api/update-script-id",
            json!({"task_id": 1, "script_id": "x\u{0}"}),
        ),
    ];
    for (path, body) in bodies {
        let token = (path != "/api/login").then_some(t);
        let r = app.post(token, path, body.clone()).await;
        assert_eq!(r.status.as_u16(), 400, "{path} {body}: {}", r.body);
        conforms(&doc, "post", path, &r.expect(400, Some("invalid_request")));
    }
    for path in [
        "/api/leads?keyword=a%00",
        "/api/leads?created_from=-200000-01-01",
        "/api/task_list?keyword=%00",
    ] {
        let r = app.get(Some(t), path).await;
        conforms(&doc, "get", path.split('?').next().unwrap(), &r);
        r.expect(400, Some("invalid_request"));
    }
    // `%2500` is the text `%00`: a plain keyword
    app.get(Some(t), "/api/leads?keyword=%2500")
        .await
        .expect(200, None);

    // in an import, such a row is rejected on its own
    let r = app
        .import(
            t,
            json!([
                {"customer_name": "a\u{0}", "phone": "13911110001"},
                {"customer_name": "b", "phone": "13911110002", "create_time": "-200000-01-01"},
                {"customer_name": "c", "phone": "13911110003"},
            ]),
        )
        .await
        .expect(200, None);
    conforms(&doc, "post", "/api/leads/import", &r);
    assert_eq!(r.data()["inserted"], 1, "{}", r.body);
    let rejected: Vec<u64> = r.data()["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["index"].as_u64().unwrap())
        .collect();
    assert_eq!(rejected, [0, 1], "{}", r.body);
}
