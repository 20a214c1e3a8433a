//! An operator runs a campaign in the browser from start to end, without curl.

use e2e::leads;
use kernel::Role;
use serde_json::json;

use crate::harness::{Browser, Setup};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_creates_starts_watches_and_reads_a_task_and_pauses_and_stops_others() {
    let s = Setup::new().await;
    let (org, admin) = s.app.tenant("dealer").await;
    s.app.user(org, "op", Role::Operator).await;
    // 200 leads of each level H, A, B
    s.app.import(&admin, leads(0, 600)).await.expect(200, None);
    let task = |name: &str, level: &str| json!({"task_name": name, "script_id": "s-1", "filters": {"levels": [level]}});
    let second = s
        .app
        .post(
            Some(&admin),
            "/api/create-autoCall-tasks",
            task("A 级回访", "A"),
        )
        .await
        .expect(200, None)
        .data()["task_id"]
        .as_i64()
        .unwrap();
    let third = s
        .app
        .post(
            Some(&admin),
            "/api/create-autoCall-tasks",
            task("B 级回访", "B"),
        )
        .await
        .expect(200, None)
        .data()["task_id"]
        .as_i64()
        .unwrap();

    let b = Browser::start(&s.served.base).await;
    // a page asked for without a session leads to the login and back
    b.open("/").await;
    assert!(
        b.path().await.starts_with("/login?next="),
        "{}",
        b.path().await
    );
    b.log_in("op", "password123").await;
    assert_eq!(b.path().await, "/");
    // operators do not see admin-only actions
    b.open("/test-env").await;
    b.wait_for("#check-username").await;
    assert_eq!(b.text("#monitor .actions").await, "");
    b.open("/").await;

    // create a task from a filter while the preview follows the fields
    b.click(".toolbar a[href='/?panel=create']").await;
    b.wait_text(20, "#preview-matched", |t| t == "600").await;
    // the A and B leads are in unfinished tasks: only the 200 H leads are left
    assert_eq!(b.text("#preview-deduplicated").await, "200");
    b.fill("#task_name", "H 级首呼").await;
    b.click("input[name=levels][value=H]").await;
    b.wait_text(20, "#preview-matched", |t| t == "200").await;
    assert!(b.text(".preview .size-desc").await.contains('H'));
    b.click("#create-form button[type=submit]").await;
    b.wait_text(20, "#task-state", |t| t == "已创建").await;
    let path = b.path().await;
    assert!(path.starts_with("/tasks/"), "{path}");
    b.wait_text(20, "#task-rows", |t| t.contains("H 级首呼"))
        .await;
    // the overview follows: two tasks before, three now
    b.wait_text(20, "#overview .card:first-child .value", |t| t == "3")
        .await;

    // start needs a script
    let start = b.wait_for("#task-actions button[hx-post$='/start']").await;
    assert!(!start.is_enabled().await.unwrap());
    b.fill("#task-actions input[name=script_id]", "script-h")
        .await;
    b.click("#task-actions form button[type=submit]").await;
    b.wait_text(20, "#task-actions .meta, #task-actions .actions", |_| true)
        .await;
    eventually_enabled(&b, "#task-actions button[hx-post$='/start']").await;

    // start, then watch the statistics move to the end without reloading
    b.js("window.__stayed = true; return null;").await;
    b.click("#task-actions button[hx-post$='/start']").await;
    b.wait_text(20, "#task-state", |t| t == "进行中").await;
    b.wait_text(60, "#task-stats [data-stat='已外呼']", |t| {
        t.parse::<i64>().is_ok_and(|n| n > 0)
    })
    .await;
    b.wait_text(120, "#task-state", |t| t == "已完成").await;
    assert_eq!(
        b.text("#task-stats [data-stat='已外呼']").await,
        "200",
        "every lead was called"
    );
    assert_eq!(b.js("return window.__stayed === true;").await, json!(true));

    // a query execution run pulls every result; its progress goes to the end, and a reload
    // finds the run again
    b.click("#task-actions button[hx-post$='/runs']").await;
    b.wait_text(60, "#task-run .run-status", |t| t.starts_with("已完成"))
        .await;
    b.open(&path).await;
    b.wait_text(20, "#task-run .run-status", |t| {
        t.starts_with("已完成") && t.contains("200")
    })
    .await;

    // per-lead results, phones masked
    b.click("#task-results button[hx-post*='/refresh']").await;
    let results = b
        .wait_text(20, "#task-results tbody", |t| {
            !t.contains("待外呼") && t.contains("****")
        })
        .await;
    assert!(
        results.contains("已接通") || results.contains("未接听"),
        "{results}"
    );

    // suspend and resume another task
    b.open(&format!("/tasks/{second}")).await;
    b.wait_text(20, "#task-state", |t| t == "已创建").await;
    b.click("#task-actions button[hx-post$='/start']").await;
    b.wait_text(20, "#task-state", |t| t == "进行中").await;
    b.click("#task-actions button[hx-post$='/suspend']").await;
    b.wait_text(20, "#task-state", |t| t == "已暂停").await;
    b.click("#task-actions button[hx-post$='/resume']").await;
    b.wait_text(20, "#task-state", |t| t == "进行中").await;

    // stop a third, after confirming
    b.open(&format!("/tasks/{third}")).await;
    b.click("#task-actions button.danger").await;
    b.wait_for("#task-actions .confirm").await;
    b.click("#task-actions .confirm button.danger").await;
    b.wait_text(20, "#task-state", |t| t == "已停止").await;

    // nothing any page loaded came from another host
    for page in ["/", "/leads", "/test-env", &format!("/tasks/{second}")] {
        b.open(page).await;
        b.wait_for("main").await;
        for url in b.resources().await {
            assert!(url.starts_with(&s.served.base), "{page} loaded {url}");
        }
    }
    b.close().await;
}

async fn eventually_enabled(b: &Browser, css: &str) {
    e2e::eventually(20, &format!("{css} enabled"), || async {
        let e = b.wait_for(css).await;
        e.is_enabled().await.ok().filter(|on| *on).map(|_| ())
    })
    .await;
}
