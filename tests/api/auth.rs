use e2e::TestApp;
use kernel::Role;
use serde_json::json;

#[tokio::test]
async fn health_reports_ok_with_version() {
    let app = TestApp::spawn().await;
    let r = app.get(None, "/api/health").await.expect(200, None);
    assert_eq!(r.data()["status"], "ok");
    assert_eq!(r.data()["database"], "ok");
    assert!(r.data()["version"].as_str().is_some());
}

#[tokio::test]
async fn login_verify_and_same_401_for_unknown_user_and_wrong_password() {
    let app = TestApp::spawn().await;
    let org = app.org("总部", None).await;
    app.user(org, "alice", Role::Operator).await;

    let r = app
        .post(
            None,
            "/api/login",
            json!({"username":"alice","password":"password123"}),
        )
        .await
        .expect(200, None);
    assert_eq!(r.data()["token_type"], "bearer");
    assert!(r.data()["expires_in"].as_i64().unwrap() > 0);
    assert_eq!(r.data()["user"]["username"], "alice");
    assert_eq!(r.data()["user"]["dcc_user_org_id"], org);
    assert_eq!(r.data()["user"]["org_name"], "总部");
    let token = r.data()["access_token"].as_str().unwrap().to_owned();

    let v = app
        .get(Some(&token), "/api/auth/verify")
        .await
        .expect(200, None);
    assert_eq!(v.data()["valid"], true);
    assert_eq!(v.data()["user"]["role"], "operator");

    // Authorization: Bearer works too
    let res = app
        .client
        .get(format!("{}/api/auth/verify", app.base))
        .header("Authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);

    let wrong = app
        .post(
            None,
            "/api/login",
            json!({"username":"alice","password":"nope-nope"}),
        )
        .await
        .expect(401, Some("invalid_credentials"));
    let unknown = app
        .post(
            None,
            "/api/login",
            json!({"username":"bob","password":"nope-nope"}),
        )
        .await
        .expect(401, Some("invalid_credentials"));
    assert_eq!(wrong.body["message"], unknown.body["message"]);
}

#[tokio::test]
async fn missing_or_bad_token_is_401() {
    let app = TestApp::spawn().await;
    app.get(None, "/api/task_list")
        .await
        .expect(401, Some("unauthorized"));
    app.get(Some("garbage"), "/api/task_list")
        .await
        .expect(401, Some("unauthorized"));
    app.get(Some("a.b.c"), "/api/auth/verify")
        .await
        .expect(401, Some("unauthorized"));
}

#[tokio::test]
async fn sixth_failure_for_a_username_is_429_even_with_right_password() {
    let app = TestApp::spawn().await;
    let org = app.org("总部", None).await;
    app.user(org, "carol", Role::Operator).await;
    for _ in 0..5 {
        app.post(
            None,
            "/api/login",
            json!({"username":"carol","password":"wrong-wrong"}),
        )
        .await
        .expect(401, Some("invalid_credentials"));
    }
    let r = app
        .post(
            None,
            "/api/login",
            json!({"username":"carol","password":"password123"}),
        )
        .await
        .expect(429, Some("too_many_attempts"));
    assert!(r.headers.get("retry-after").is_some());
}

#[tokio::test]
async fn malformed_login_body_is_400_and_unknown_route_404() {
    let app = TestApp::spawn().await;
    app.post(None, "/api/login", json!({"username":"x"}))
        .await
        .expect(400, Some("invalid_request"));
    app.post(
        None,
        "/api/login",
        json!({"username":"x","password":"y","extra":1}),
    )
    .await
    .expect(400, Some("invalid_request"));
    let res = app
        .client
        .post(format!("{}/api/login", app.base))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 400);
    app.get(None, "/api/nope")
        .await
        .expect(404, Some("not_found"));
}

#[tokio::test]
async fn organizations_tree_shows_own_subtree_only() {
    let app = TestApp::spawn().await;
    let root = app.org("集团", None).await;
    let a = app.org("华东区", Some(root)).await;
    let a1 = app.org("上海店", Some(a)).await;
    let _b = app.org("华南区", Some(root)).await;
    app.user(a, "east", Role::Operator).await;
    let t = app.login("east").await;
    let r = app
        .get(Some(&t), "/api/organizations")
        .await
        .expect(200, None);
    let items = r.data()["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], a);
    assert_eq!(items[0]["parent_id"], root);
    assert_eq!(items[0]["children"][0]["id"], a1);
    assert_eq!(items[0]["children"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn body_over_the_limit_is_413() {
    let app = TestApp::spawn().await;
    let (_, t) = app.tenant("big").await;
    let huge = "x".repeat(3 * 1024 * 1024);
    let r = app
        .post(
            Some(&t),
            "/api/leads/preview",
            json!({"filters": {"keyword": huge}}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 413);
    assert_eq!(r.body["error"], "payload_too_large");
}

#[tokio::test]
async fn unknown_query_parameters_are_400_even_where_none_are_taken() {
    let app = TestApp::spawn().await;
    let (_, t) = app.tenant("dealer").await;
    app.get(None, "/api/health?verbose=1")
        .await
        .expect(400, Some("invalid_request"));
    for path in [
        "/api/task-stats",
        "/api/tasks",
        "/api/scenes",
        "/api/leads/statistics",
        "/api/organizations",
        "/api/auth/verify",
    ] {
        app.get(Some(&t), &format!("{path}?x=1"))
            .await
            .expect(400, Some("invalid_request"));
        app.get(Some(&t), path).await.expect(200, None);
    }
}

#[tokio::test]
async fn wrong_method_is_405_with_allow_and_unknown_path_404() {
    let app = TestApp::spawn().await;
    let r = app
        .call(reqwest::Method::DELETE, None, "/api/task_list", None)
        .await
        .expect(405, Some("method_not_allowed"));
    assert_eq!(
        r.headers.get("allow").and_then(|v| v.to_str().ok()),
        Some("GET")
    );
    app.call(reqwest::Method::GET, None, "/api/login", None)
        .await
        .expect(405, Some("method_not_allowed"));
    app.get(None, "/api/does-not-exist")
        .await
        .expect(404, Some("not_found"));
}
