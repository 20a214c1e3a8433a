use e2e::{TestApp, leads};
use serde_json::json;

#[tokio::test]
async fn create_task_dedupes_summarises_and_lists() {
    let app = TestApp::spawn().await;
    let (_, t) = app.tenant("dealer").await;
    app.import(&t, leads(0, 12)).await.expect(200, None);
    let r = app
        .post(Some(&t), "/api/create-autoCall-tasks", json!({
            "task_name": "双十一回访",
            "script_id": "",
            "filters": {"levels": ["H", "A"], "sources": ["汽车之家"], "created_from": "2025-11-01", "created_to": "2025-11-30"}
        }))
        .await
        .expect(200, None);
    let d = r.data();
    assert_eq!(d["task_type"], 1);
    assert_eq!(
        d["leads_count"], 4,
        "H/A with even index among 0..12: 0,2,4,8,10 minus level B ... {}",
        r.body
    );
    assert_eq!(
        d["size_desc"],
        "意向级别: H/A; 来源: 汽车之家; 创建时间: 2025-11-01 至 2025-11-30"
    );
    let id = d["task_id"].as_i64().unwrap();

    let list = app.get(Some(&t), "/api/task_list").await.expect(200, None);
    let item = &list.data()["items"][0];
    assert_eq!(item["id"], id);
    assert_eq!(item["leads_count"], 4);
    assert_eq!(item["called_count"], 0);
    assert_eq!(item["job_group_id"], serde_json::Value::Null);
    let old = app.get(Some(&t), "/api/tasks").await.expect(200, None);
    assert_eq!(old.data()["items"][0]["id"], id);

    let stats = app.get(Some(&t), "/api/task-stats").await.expect(200, None);
    assert_eq!(stats.data()["total_tasks"], 1);
    assert_eq!(stats.data()["by_type"]["1"], 1);
    assert_eq!(stats.data()["total_leads"], 4);
    assert_eq!(stats.data()["connect_rate"], 0.0);

    // the same leads are in an unfinished task now: nothing left to create
    let again = app
        .post(Some(&t), "/api/create-autoCall-tasks", json!({"task_name":"再来","script_id":"","filters":{"levels":["H","A"],"sources":["汽车之家"]}}))
        .await
        .expect(422, Some("no_matching_leads"));
    assert_eq!(again.data(), &serde_json::Value::Null);
    let list = app.get(Some(&t), "/api/task_list").await.expect(200, None);
    assert_eq!(
        list.data()["pagination"]["total"],
        1,
        "no task created on 422"
    );
}

#[tokio::test]
async fn create_task_validates_input() {
    let app = TestApp::spawn().await;
    let (_, t) = app.tenant("dealer").await;
    app.import(&t, leads(0, 3)).await.expect(200, None);
    let long = "长".repeat(101);
    app.post(
        Some(&t),
        "/api/create-autoCall-tasks",
        json!({"task_name": long, "script_id": ""}),
    )
    .await
    .expect(400, Some("invalid_request"));
    app.post(
        Some(&t),
        "/api/create-autoCall-tasks",
        json!({"task_name": "", "script_id": ""}),
    )
    .await
    .expect(400, Some("invalid_request"));
    app.post(
        Some(&t),
        "/api/create-autoCall-tasks",
        json!({"task_name": "x", "filters": {"nope": 1}}),
    )
    .await
    .expect(400, Some("invalid_request"));
    app.post(
        Some(&t),
        "/api/create-autoCall-tasks",
        json!({"task_name": "x", "scene_id": 999}),
    )
    .await
    .expect(404, Some("not_found"));
    app.post(
        Some(&t),
        "/api/create-autoCall-tasks",
        json!({"task_name": "x", "filters": {"levels":["N"]}}),
    )
    .await
    .expect(422, Some("no_matching_leads"));
}

#[tokio::test]
async fn task_list_pages_filters_by_state_and_keyword() {
    let app = TestApp::spawn().await;
    let (_, t) = app.tenant("dealer").await;
    app.import(&t, leads(0, 30)).await.expect(200, None);
    for i in 0..5 {
        app.post(Some(&t), "/api/create-autoCall-tasks", json!({"task_name": format!("任务{i}"), "script_id": "", "filters": {"keyword": format!("客户{i}"), "exclude_in_active_tasks": false}}))
            .await
            .expect(200, None);
    }
    let p = app
        .get(Some(&t), "/api/task_list?page=2&page_size=2")
        .await
        .expect(200, None);
    assert_eq!(p.data()["pagination"]["total"], 5);
    assert_eq!(p.data()["pagination"]["total_pages"], 3);
    assert_eq!(p.data()["items"][0]["task_name"], "任务2", "newest first");
    let k = app
        .get(Some(&t), "/api/task_list?keyword=任务4")
        .await
        .expect(200, None);
    assert_eq!(k.data()["pagination"]["total"], 1);
    // a keyword matching several: the total beside a short page, and past the end
    let k = app
        .get(Some(&t), "/api/task_list?keyword=任务&page_size=2&page=2")
        .await
        .expect(200, None);
    assert_eq!(k.data()["pagination"]["total"], 5);
    assert_eq!(k.data()["items"][0]["task_name"], "任务2");
    let k = app
        .get(Some(&t), "/api/task_list?keyword=任务&page_size=2&page=9")
        .await
        .expect(200, None);
    assert_eq!(k.data()["pagination"]["total"], 5);
    assert_eq!(k.data()["items"].as_array().unwrap().len(), 0);
    let s = app
        .get(Some(&t), "/api/task_list?task_type=2")
        .await
        .expect(200, None);
    assert_eq!(s.data()["pagination"]["total"], 0);
    app.get(Some(&t), "/api/task_list?task_type=9")
        .await
        .expect(400, Some("invalid_request"));
    app.get(Some(&t), "/api/task_list?page_size=0")
        .await
        .expect(400, Some("invalid_request"));
}

#[tokio::test]
async fn update_script_and_scenes() {
    let app = TestApp::spawn().await;
    let (_, t) = app.tenant("dealer").await;
    app.import(&t, leads(0, 6)).await.expect(200, None);
    let scene = app
        .post(Some(&t), "/api/create_scene", json!({"scene_name":"H 级回访","script_id":"script-h","description":"高意向","filters":{"levels":["H"]}}))
        .await
        .expect(200, None);
    let scene_id = scene.data()["id"].as_i64().unwrap();
    assert_eq!(scene.data()["filters"]["levels"][0], "H");
    let list = app.get(Some(&t), "/api/scenes").await.expect(200, None);
    assert_eq!(list.data()["items"][0]["id"], scene_id);
    app.post(
        Some(&t),
        "/api/create_scene",
        json!({"scene_name":"","script_id":"s"}),
    )
    .await
    .expect(400, Some("invalid_request"));
    app.post(
        Some(&t),
        "/api/create_scene",
        json!({"scene_name":"x","script_id":"s","filters":{"levels":["Q"]}}),
    )
    .await
    .expect(400, Some("invalid_request"));

    // a task from the scene takes its filter and script
    let c = app
        .post(
            Some(&t),
            "/api/create-autoCall-tasks",
            json!({"task_name":"场景任务","script_id":"","scene_id":scene_id}),
        )
        .await
        .expect(200, None);
    assert_eq!(c.data()["leads_count"], 2);
    let id = c.data()["task_id"].as_i64().unwrap();
    let list = app.get(Some(&t), "/api/task_list").await.expect(200, None);
    assert_eq!(list.data()["items"][0]["script_id"], "script-h");

    let u = app
        .post(
            Some(&t),
            "/api/update-script-id",
            json!({"task_id": id, "script_id": "script-2"}),
        )
        .await
        .expect(200, None);
    assert_eq!(u.data()["script_id"], "script-2");
    app.post(
        Some(&t),
        "/api/update-script-id",
        json!({"task_id": id, "script_id": ""}),
    )
    .await
    .expect(400, Some("invalid_request"));
    app.post(
        Some(&t),
        "/api/update-script-id",
        json!({"task_id": 424242, "script_id": "s"}),
    )
    .await
    .expect(404, Some("not_found"));
}

/// Operators of one organisation creating tasks at the same moment all get their task: no 500
/// from the organisation's task counter that every creation updates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creations_in_one_organisation_all_succeed() {
    let app = TestApp::spawn().await;
    let (_, t) = app.tenant("dealer").await;
    app.import(&t, leads(0, 12)).await.expect(200, None);
    let creations = (0..12).map(|i| {
        app.post(
            Some(&t),
            "/api/create-autoCall-tasks",
            json!({"task_name": format!("并发{i}"), "script_id": "s", "filters": {"exclude_in_active_tasks": false}}),
        )
    });
    for r in futures::future::join_all(creations).await {
        r.expect(200, None);
    }
    let list = app
        .get(Some(&t), "/api/task_list?page_size=50")
        .await
        .expect(200, None);
    assert_eq!(list.data()["pagination"]["total"], 12);
}
