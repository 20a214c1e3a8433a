//! A user of another organisation gets 404 from every id-taking endpoint and changes nothing.
use e2e::{TestApp, leads};
use serde_json::json;

#[tokio::test]
async fn other_organisation_gets_404_everywhere_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let (org_a, a) = app.tenant("tenant-a").await;
    let (_, b) = app.tenant("tenant-b").await;
    app.import(&a, leads(0, 6)).await.expect(200, None);
    let task = app
        .post(
            Some(&a),
            "/api/create-autoCall-tasks",
            json!({"task_name":"A 的任务","script_id":""}),
        )
        .await
        .expect(200, None);
    let task_id = task.data()["task_id"].as_i64().unwrap();
    let scene = app
        .post(
            Some(&a),
            "/api/create_scene",
            json!({"scene_name":"A 场景","script_id":"s"}),
        )
        .await
        .expect(200, None);
    let scene_id = scene.data()["id"].as_i64().unwrap();

    // every id-taking endpoint, as tenant B
    app.post(
        Some(&b),
        "/api/update-script-id",
        json!({"task_id": task_id, "script_id": "evil"}),
    )
    .await
    .expect(404, Some("not_found"));
    app.post(
        Some(&b),
        "/api/create-autoCall-tasks",
        json!({"task_name":"steal","script_id":"","scene_id": scene_id}),
    )
    .await
    .expect(404, Some("not_found"));
    app.post(
        Some(&b),
        "/api/create-autoCall-tasks",
        json!({"task_name":"steal","script_id":"","filters":{"org_ids":[org_a]}}),
    )
    .await
    .expect(404, Some("not_found"));
    app.post(
        Some(&b),
        "/api/leads/import",
        json!({"org_id": org_a, "leads": leads(50, 1)}),
    )
    .await
    .expect(404, Some("not_found"));
    app.post(
        Some(&b),
        "/api/leads/preview",
        json!({"filters":{"org_ids":[org_a]}}),
    )
    .await
    .expect(404, Some("not_found"));
    app.get(Some(&b), &format!("/api/leads?org_ids={org_a}"))
        .await
        .expect(404, Some("not_found"));

    // B sees none of A's data in lists
    let l = app.get(Some(&b), "/api/leads").await.expect(200, None);
    assert_eq!(l.data()["pagination"]["total"], 0);
    let t = app.get(Some(&b), "/api/task_list").await.expect(200, None);
    assert_eq!(t.data()["pagination"]["total"], 0);
    let s = app.get(Some(&b), "/api/scenes").await.expect(200, None);
    assert_eq!(s.data()["items"].as_array().unwrap().len(), 0);
    let st = app.get(Some(&b), "/api/task-stats").await.expect(200, None);
    assert_eq!(st.data()["total_tasks"], 0);

    // and A's data is unchanged
    let list = app.get(Some(&a), "/api/task_list").await.expect(200, None);
    assert_eq!(list.data()["items"][0]["script_id"], "");
    assert_eq!(list.data()["pagination"]["total"], 1);
    let leads_a = app.get(Some(&a), "/api/leads").await.expect(200, None);
    assert_eq!(leads_a.data()["pagination"]["total"], 6);
}
