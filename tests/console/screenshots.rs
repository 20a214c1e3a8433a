//! Not a test: the screenshots of docs/console.md, taken through the browser tests' harness
//! (`just screenshots`, which sets `SCREENSHOTS_DIR`). Chinese text needs a CJK font on the
//! machine (`apt-get install fonts-wqy-microhei`).

use e2e::leads;
use fantoccini::Locator;
use kernel::Role;
use serde_json::json;

use crate::harness::{Browser, Setup, pause};

async fn shot(b: &Browser, dir: &str, name: &str) {
    pause(600).await;
    let png = b.client.screenshot().await.unwrap();
    std::fs::write(format!("{dir}/{name}.png"), png).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "writes docs/console/*.png: run by `just screenshots`"]
async fn screenshots() {
    let dir = std::env::var("SCREENSHOTS_DIR").expect("SCREENSHOTS_DIR");
    std::fs::create_dir_all(&dir).unwrap();
    let s = Setup::new().await;
    let (org, admin) = s.app.tenant("东风日产广州店").await;
    s.app.user(org, "op", Role::Operator).await;
    s.app.import(&admin, leads(0, 900)).await.expect(200, None);
    for (name, level) in [("A 级客户回访", "A"), ("B 级客户激活", "B")] {
        s.app
            .post(
                Some(&admin),
                "/api/create-autoCall-tasks",
                json!({"task_name": name, "script_id": "script-1", "filters": {"levels": [level]}}),
            )
            .await
            .expect(200, None);
    }
    s.app
        .post(
            Some(&admin),
            "/api/create_scene",
            json!({"scene_name": "H 级首呼", "script_id": "script-h", "description": "新到店的高意向客户",
                   "filters": {"levels": ["H"]}}),
        )
        .await
        .expect(200, None);

    let b = Browser::start(&s.served.base).await;
    b.open("/login?next=/").await;
    b.fill("#username", "op").await;
    shot(&b, &dir, "login").await;
    b.fill("#password", "password123").await;
    b.click("#login-form button[type=submit]").await;
    b.wait_for("#task-rows").await;
    b.wait_ready().await;

    b.click(".toolbar a[href='/?panel=create']").await;
    b.fill("#task_name", "H 级首呼（11 月）").await;
    b.click("input[name=levels][value=H]").await;
    b.wait_text(20, "#preview-matched", |t| t == "300").await;
    shot(&b, &dir, "create").await;
    b.click("#create-form button[type=submit]").await;
    b.wait_text(20, "#task-state", |t| t == "已创建").await;
    b.fill("#task-actions input[name=script_id]", "script-h")
        .await;
    b.click("#task-actions form button[type=submit]").await;
    pause(500).await;
    b.click("#task-actions button[hx-post$='/start']").await;
    b.wait_text(60, "#task-stats [data-stat='已外呼']", |t| {
        t.parse::<i64>().is_ok_and(|n| n >= 60)
    })
    .await;
    shot(&b, &dir, "task-running").await;
    b.wait_text(180, "#task-state", |t| t == "已完成").await;
    b.click("#task-actions button[hx-post$='/runs']").await;
    b.wait_text(60, "#task-run .run-status", |t| t.starts_with("已完成"))
        .await;
    b.click("#task-results button[hx-post*='/refresh']").await;
    b.wait_text(20, "#task-results tbody", |t| t.contains("已接通"))
        .await;
    b.client
        .find(Locator::Css("#task-results"))
        .await
        .unwrap()
        .click()
        .await
        .ok();
    b.js("document.querySelector('#task-results').scrollIntoView(); return null;")
        .await;
    shot(&b, &dir, "task-results").await;

    b.open("/").await;
    shot(&b, &dir, "home").await;
    b.open("/?panel=select").await;
    shot(&b, &dir, "select").await;
    b.open("/?panel=scenes").await;
    shot(&b, &dir, "scenes").await;
    b.open("/leads").await;
    shot(&b, &dir, "leads").await;
    b.open("/test-env").await;
    shot(&b, &dir, "test-env").await;
    b.open("/account").await;
    shot(&b, &dir, "account").await;

    // the admin's pages
    let store = s.app.org("天河二号店", Some(org)).await;
    s.app.user(store, "zhang", Role::Admin).await;
    b.click("header .who button").await;
    b.wait_for("#login-form").await;
    b.log_in("东风日产广州店-admin", "password123").await;
    b.open("/users").await;
    b.click("#users tr:nth-child(2) .actions button:last-child")
        .await;
    b.wait_for("#temporary-password").await;
    shot(&b, &dir, "users").await;
    b.open("/organizations").await;
    shot(&b, &dir, "organizations").await;
    b.open("/webhooks").await;
    b.fill("#webhook-url", "https://crm.example.com/hooks/outbound")
        .await;
    b.fill("#webhook-description", "经销商 CRM").await;
    b.click("#webhook-create button[type=submit]").await;
    b.wait_for("#webhook-secret-value").await;
    shot(&b, &dir, "webhooks").await;
    b.close().await;
}
