//! What an operator must never see: markup from the data run as code, a page of another
//! organisation, a session that no longer holds.

use fantoccini::cookies::Cookie;
use kernel::Role;
use serde_json::json;

use crate::harness::{Browser, Setup, pause};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markup_in_names_shows_as_text_and_runs_nothing() {
    let s = Setup::new().await;
    let (org, admin) = s.app.tenant("dealer").await;
    s.app.user(org, "op", Role::Operator).await;
    let lead = "<img src=x onerror=alert(1)>";
    let task_name = "<script>alert(1)</script>";
    s.app
        .import(
            &admin,
            json!([{"customer_name": lead, "phone": "13800000001", "level": "H"}]),
        )
        .await
        .expect(200, None);
    let task = s
        .app
        .post(
            Some(&admin),
            "/api/create-autoCall-tasks",
            json!({"task_name": task_name, "script_id": "s"}),
        )
        .await
        .expect(200, None)
        .data()["task_id"]
        .as_i64()
        .unwrap();

    let b = Browser::start(&s.served.base).await;
    b.open("/login").await;
    b.log_in("op", "password123").await;
    b.wait_text(20, "#task-rows a", |t| t == task_name).await;
    b.open(&format!("/tasks/{task}")).await;
    b.wait_text(20, "#drawer-title", |t| t == task_name).await;
    b.wait_text(20, "#task-results tbody", |t| t.contains(lead))
        .await;
    b.open("/leads").await;
    b.wait_text(20, "#lead-rows tbody", |t| t.contains(lead))
        .await;
    pause(500).await;
    assert!(!b.dialog_open().await, "a dialog opened");
    // the markup is text: no element was made from it
    assert_eq!(
        b.js("return document.querySelectorAll('img[src=x], main script').length;")
            .await,
        json!(0)
    );
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_made_invalid_leads_to_login_and_back_to_the_page() {
    let s = Setup::new().await;
    let (org, admin) = s.app.tenant("dealer").await;
    s.app.user(org, "op", Role::Operator).await;
    let task = s.app.task_with_leads(&admin, 3, "s").await;

    let b = Browser::start(&s.served.base).await;
    b.open(&format!("/tasks/{task}")).await;
    assert_eq!(b.path().await, format!("/login?next=/tasks/{task}"));
    b.log_in("op", "password123").await;
    assert_eq!(b.path().await, format!("/tasks/{task}"));
    b.wait_for("#task-state").await;

    // the token in the cookie stops being valid (as an expired or forged one)
    let forged = Cookie::parse(
        "outbound_session=not-a-token; Domain=127.0.0.1; Path=/; HttpOnly; SameSite=Strict",
    )
    .unwrap();
    b.client.delete_cookie("outbound_session").await.unwrap();
    b.client.add_cookie(forged.clone()).await.unwrap();
    // a click inside the page (an htmx request) goes to the login, to come back to this page
    b.click(".drawer-head .close").await;
    e2e::eventually(20, "the login page", || async {
        b.path().await.starts_with("/login").then_some(())
    })
    .await;
    assert_eq!(b.path().await, format!("/login?next=/tasks/{task}"));
    b.log_in("op", "password123").await;
    assert_eq!(b.path().await, format!("/tasks/{task}"));

    // a page load with the invalid session, too
    b.client.delete_cookie("outbound_session").await.unwrap();
    b.client.add_cookie(forged).await.unwrap();
    b.open(&format!("/tasks/{task}?status=pending")).await;
    assert_eq!(
        b.path().await,
        format!("/login?next=/tasks/{task}%3Fstatus%3Dpending")
    );
    b.log_in("op", "password123").await;
    assert_eq!(b.path().await, format!("/tasks/{task}?status=pending"));
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_of_another_organisation_gets_404_for_a_foreign_task() {
    let s = Setup::new().await;
    let (_, a) = s.app.tenant("dealer-a").await;
    let (org_b, _) = s.app.tenant("dealer-b").await;
    s.app.user(org_b, "op-b", Role::Operator).await;
    let task = s.app.task_with_leads(&a, 3, "s").await;

    let b = Browser::start(&s.served.base).await;
    b.open("/login").await;
    b.log_in("op-b", "password123").await;
    b.open(&format!("/tasks/{task}")).await;
    b.wait_text(20, "main h1", |t| t == "404").await;
    assert!(b.text("main").await.contains("页面不存在"));
    assert!(
        !b.text("main").await.contains("外呼"),
        "nothing of the task shows"
    );
    b.close().await;
}
