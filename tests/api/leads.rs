use e2e::{TestApp, leads};
use kernel::Role;
use serde_json::json;

#[tokio::test]
async fn import_is_idempotent_rejects_bad_rows_by_index_and_applies_in_order() {
    let app = TestApp::spawn().await;
    let (_, t) = app.tenant("dealer").await;
    let batch = json!([
        {"customer_name":"张三","phone":"13800000001","level":"H","source":"汽车之家"},
        {"customer_name":"李四","phone":"12345"},
        {"customer_name":"张三丰","phone":"13800000001"},
        {"phone":"13800000002"},
        {"customer_name":"王五","phone":"13800000003","bogus":true},
        {"customer_name":"赵六","phone":"13800000004","external_id":"X-1","do_not_call":true}
    ]);
    let r = app.import(&t, batch.clone()).await.expect(200, None);
    assert_eq!(r.data()["inserted"], 2);
    assert_eq!(r.data()["updated"], 1);
    let rejected: Vec<u64> = r.data()["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["index"].as_u64().unwrap())
        .collect();
    assert_eq!(rejected, vec![1, 3, 4]);

    let again = app.import(&t, batch).await.expect(200, None);
    assert_eq!(again.data()["inserted"], 0);
    assert_eq!(
        again.data()["updated"],
        0,
        "same batch again changes nothing: {}",
        again.body
    );
    assert_eq!(again.data()["unchanged"], 3);
    // the stored state after the batch is the last row's
    let list = app
        .get(Some(&t), "/api/leads?keyword=张三")
        .await
        .expect(200, None);
    assert_eq!(list.data()["items"][0]["customer_name"], "张三丰");
    assert_eq!(
        list.data()["items"][0]["phone"],
        "138****0001",
        "phones are masked"
    );

    // a batch without intra-batch changes re-imports as unchanged
    let same = json!([{"customer_name":"赵六","phone":"13800000004","external_id":"X-1","do_not_call":true}]);
    let r = app.import(&t, same).await.expect(200, None);
    assert_eq!(
        (
            r.data()["inserted"].as_i64(),
            r.data()["updated"].as_i64(),
            r.data()["unchanged"].as_i64()
        ),
        (Some(0), Some(0), Some(1))
    );
}

#[tokio::test]
async fn import_into_foreign_org_is_404_and_too_many_rows_400() {
    let app = TestApp::spawn().await;
    let (_, t) = app.tenant("a").await;
    let (other, _) = app.tenant("b").await;
    let r = app
        .post(
            Some(&t),
            "/api/leads/import",
            json!({"org_id": other, "leads": leads(0, 1)}),
        )
        .await;
    r.expect(404, Some("not_found"));
    let many: Vec<_> = (0..10_001).map(|_| json!({})).collect();
    app.post(Some(&t), "/api/leads/import", json!({"leads": many}))
        .await
        .expect(400, Some("invalid_request"));
}

#[tokio::test]
async fn list_filters_pages_and_validates() {
    let app = TestApp::spawn().await;
    let (_, t) = app.tenant("dealer").await;
    app.import(&t, leads(0, 30)).await.expect(200, None);
    let r = app
        .get(Some(&t), "/api/leads?page=2&page_size=7&levels=H,A")
        .await
        .expect(200, None);
    assert_eq!(r.data()["pagination"]["total"], 20);
    assert_eq!(r.data()["pagination"]["total_pages"], 3);
    assert_eq!(r.data()["items"].as_array().unwrap().len(), 7);
    for l in r.data()["items"].as_array().unwrap() {
        assert!(l["level"] == "H" || l["level"] == "A");
        assert!(l["phone"].as_str().unwrap().contains("****"));
    }
    let past = app
        .get(Some(&t), "/api/leads?page=99")
        .await
        .expect(200, None);
    assert_eq!(past.data()["items"].as_array().unwrap().len(), 0);
    assert_eq!(past.data()["pagination"]["total"], 30);
    app.get(Some(&t), "/api/leads?page=0")
        .await
        .expect(400, Some("invalid_request"));
    app.get(Some(&t), "/api/leads?page_size=101")
        .await
        .expect(400, Some("invalid_request"));
    app.get(Some(&t), "/api/leads?levels=Z")
        .await
        .expect(400, Some("invalid_request"));
    app.get(Some(&t), "/api/leads?unknown=1")
        .await
        .expect(400, Some("invalid_request"));
    app.get(
        Some(&t),
        "/api/leads?created_from=2025-12-01&created_to=2025-11-01",
    )
    .await
    .expect(400, Some("invalid_request"));
    // keyword is literal: % matches nothing
    let pct = app
        .get(Some(&t), "/api/leads?keyword=%25")
        .await
        .expect(200, None);
    assert_eq!(pct.data()["pagination"]["total"], 0);
    let kw = app
        .get(Some(&t), "/api/leads?keyword=客户2")
        .await
        .expect(200, None);
    assert_eq!(kw.data()["pagination"]["total"], 11, "客户2 and 客户20..29");
    let ph = app
        .get(Some(&t), "/api/leads?keyword=13800000017")
        .await
        .expect(200, None);
    assert_eq!(ph.data()["pagination"]["total"], 1);
}

#[tokio::test]
async fn statistics_and_preview_count_exclusions() {
    let app = TestApp::spawn().await;
    let (_, t) = app.tenant("dealer").await;
    app.import(&t, leads(0, 9)).await.expect(200, None);
    // same phone under another identity: a duplicate; and one do-not-call lead
    app.import(
        &t,
        json!([
            {"customer_name":"重复","phone":"13800000000","external_id":"dup-1","level":"H"},
            {"customer_name":"勿扰","phone":"13900000000","level":"H","do_not_call":true}
        ]),
    )
    .await
    .expect(200, None);
    let s = app
        .get(Some(&t), "/api/leads/statistics")
        .await
        .expect(200, None);
    assert_eq!(s.data()["total"], 11);
    assert_eq!(s.data()["callable"], 10);
    assert_eq!(s.data()["by_level"]["H"], 5);

    let p = app
        .post(
            Some(&t),
            "/api/leads/preview",
            json!({"filters":{"levels":["H"]}}),
        )
        .await
        .expect(200, None);
    assert_eq!(p.data()["matched"], 5);
    assert_eq!(p.data()["excluded_do_not_call"], 1);
    assert_eq!(p.data()["excluded_in_active_tasks"], 0);
    assert_eq!(
        p.data()["deduplicated"],
        3,
        "4 callable H leads, two share a phone"
    );

    let c = app
        .post(
            Some(&t),
            "/api/create-autoCall-tasks",
            json!({"task_name":"H 级","script_id":"","filters":{"levels":["H"]}}),
        )
        .await
        .expect(200, None);
    assert_eq!(c.data()["leads_count"], p.data()["deduplicated"]);
    assert_eq!(c.data()["duplicates_removed"], 1);

    let p2 = app
        .post(
            Some(&t),
            "/api/leads/preview",
            json!({"filters":{"levels":["H"]}}),
        )
        .await
        .expect(200, None);
    assert_eq!(p2.data()["excluded_in_active_tasks"], 4);
    assert_eq!(p2.data()["deduplicated"], 0);
    let p3 = app
        .post(
            Some(&t),
            "/api/leads/preview",
            json!({"filters":{"levels":["H"],"exclude_in_active_tasks":false}}),
        )
        .await
        .expect(200, None);
    assert_eq!(p3.data()["deduplicated"], 3);

    app.post(
        Some(&t),
        "/api/leads/preview",
        json!({"filters":{"levelz":["H"]}}),
    )
    .await
    .expect(400, Some("invalid_request"));
    app.post(
        Some(&t),
        "/api/leads/preview",
        json!({"filters":{"max_call_count":-1}}),
    )
    .await
    .expect(400, Some("invalid_request"));
}

#[tokio::test]
async fn parent_org_sees_child_leads_child_does_not_see_parent() {
    let app = TestApp::spawn().await;
    let root = app.org("集团", None).await;
    let child = app.org("门店", Some(root)).await;
    app.user(root, "boss", Role::Admin).await;
    app.user(child, "clerk", Role::Operator).await;
    let boss = app.login("boss").await;
    let clerk = app.login("clerk").await;
    app.import(&boss, leads(0, 3)).await.expect(200, None);
    app.import(&clerk, leads(100, 2)).await.expect(200, None);
    let all = app.get(Some(&boss), "/api/leads").await.expect(200, None);
    assert_eq!(all.data()["pagination"]["total"], 5);
    let own = app.get(Some(&clerk), "/api/leads").await.expect(200, None);
    assert_eq!(own.data()["pagination"]["total"], 2);
    let only_child = app
        .get(Some(&boss), &format!("/api/leads?org_ids={child}"))
        .await
        .expect(200, None);
    assert_eq!(only_child.data()["pagination"]["total"], 2);
    let only_root = app
        .get(
            Some(&boss),
            &format!("/api/leads?org_ids={root}&page_size=2"),
        )
        .await
        .expect(200, None);
    assert_eq!(only_root.data()["pagination"]["total"], 3);
    assert_eq!(only_root.data()["items"].as_array().unwrap().len(), 2);
    assert!(
        only_root.data()["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["org_id"] == root)
    );
    let both = app
        .get(Some(&boss), &format!("/api/leads?org_ids={root},{child}"))
        .await
        .expect(200, None);
    assert_eq!(both.data()["pagination"]["total"], 5);
    app.get(Some(&clerk), &format!("/api/leads?org_ids={root}"))
        .await
        .expect(404, Some("not_found"));
}

#[tokio::test]
async fn list_can_leave_out_leads_in_unfinished_tasks_and_tasks_belong_to_their_creator() {
    let app = TestApp::spawn().await;
    let root = app.org("集团", None).await;
    let child = app.org("门店", Some(root)).await;
    app.user(root, "boss", Role::Admin).await;
    app.user(child, "clerk", Role::Operator).await;
    let boss = app.login("boss").await;
    let clerk = app.login("clerk").await;
    app.import(&clerk, leads(0, 4)).await.expect(200, None);
    // the parent creates a task over the child's leads: the task is the parent's
    app.post(
        Some(&boss),
        "/api/create-autoCall-tasks",
        json!({"task_name":"总部任务","script_id":"","filters":{"org_ids":[child],"levels":["H"]}}),
    )
    .await
    .expect(200, None);
    let mine = app
        .get(Some(&boss), "/api/task_list")
        .await
        .expect(200, None);
    assert_eq!(mine.data()["pagination"]["total"], 1);
    let theirs = app
        .get(Some(&clerk), "/api/task_list")
        .await
        .expect(200, None);
    assert_eq!(
        theirs.data()["pagination"]["total"],
        0,
        "the child does not see the parent's task"
    );

    let all = app.get(Some(&boss), "/api/leads").await.expect(200, None);
    assert_eq!(all.data()["pagination"]["total"], 4);
    let free = app
        .get(Some(&boss), "/api/leads?exclude_in_active_tasks=true")
        .await
        .expect(200, None);
    assert_eq!(
        free.data()["pagination"]["total"],
        2,
        "leads 0 and 3 (level H) are in the task"
    );
}
