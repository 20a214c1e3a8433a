//! PgTasks against real PostgreSQL: task creation from a filter, listing, stats, scripts, scenes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::collections::BTreeMap;

use adapters::db::conn;
use adapters::pg_tasks::PgTasks;
use adapters::schema::{call_tasks, leads_task_list};
use common::*;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use kernel::{OrgId, PageRequest, TaskId};
use leads::{LeadFilterInput, LeadInput};
use serde_json::json;
use tasks::{NewScene, TaskListFilter, TaskRepository, TaskState, TransitionError};

fn ext(p: usize, e: &str, created: &str) -> LeadInput {
    LeadInput {
        external_id: Some(e.into()),
        create_time: Some(created.into()),
        ..lead(&phone(p), &format!("客户{e}"))
    }
}

fn phones(ps: &[usize]) -> Vec<String> {
    let mut v: Vec<String> = ps.iter().map(|p| phone(*p)).collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_gets_one_lead_per_phone_the_newest_and_never_do_not_call() {
    let (_db, pool) = setup().await;
    let o = org(&pool, "店", None).await;
    let by = user(&pool, o, "op").await;
    let s = scope_of(&pool, o).await;
    import(
        &pool,
        o,
        vec![
            ext(1, "a", "2025-11-01 10:00:00"),
            ext(1, "b", "2025-11-03 10:00:00"), // newest of phone 1
            ext(1, "c", "2025-11-02 10:00:00"),
            ext(2, "d", "2025-11-01 10:00:00"),
            LeadInput {
                do_not_call: Some(true),
                ..ext(3, "e", "2025-11-05 10:00:00")
            },
            ext(4, "f", "2025-11-01 10:00:00"),
            ext(4, "g", "2025-11-01 10:00:00"), // same time: the later id wins
            LeadInput {
                do_not_call: Some(true),
                ..ext(2, "h", "2025-11-09 10:00:00")
            }, // newer but never called
        ],
    )
    .await;
    let mut task = new_task("十一月回访", o, by);
    task.filters = LeadFilterInput {
        levels: Some(vec!["N".into()]),
        ..Default::default()
    };
    let created = PgTasks::new(pool.clone())
        .create_from_filter(&s, &filter(json!({})), task, audit_entry())
        .await
        .unwrap()
        .unwrap();
    let t = &created.task;
    assert_eq!(t.leads_count, 3);
    assert_eq!(
        created.duplicates_removed, 3,
        "6 callable leads, 3 distinct phones"
    );
    assert_eq!(
        (t.state, t.org_id, t.task_name.as_str()),
        (TaskState::Created, o, "十一月回访")
    );
    assert_eq!(
        (t.script_id.as_str(), t.size_desc.as_str()),
        ("script-1", "全部线索")
    );
    assert_eq!(
        (t.called_count, t.connected_count, t.job_group_id.clone()),
        (0, 0, None)
    );
    assert_eq!(
        PgTasks::new(pool.clone())
            .get(&s, t.id)
            .await
            .unwrap()
            .as_ref(),
        Some(t)
    );

    let rows = task_leads(&pool, t.id).await;
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|r| r.3 == "pending"));
    let by_phone: BTreeMap<String, i64> = rows.iter().map(|r| (r.2.clone(), r.1)).collect();
    assert_eq!(
        by_phone.keys().cloned().collect::<Vec<_>>(),
        phones(&[1, 2, 4])
    );
    assert_eq!(
        by_phone[&phone(1)],
        lead_id(&pool, o, &phone(1), Some("b")).await
    );
    assert_eq!(
        by_phone[&phone(2)],
        lead_id(&pool, o, &phone(2), Some("d")).await
    );
    assert_eq!(
        by_phone[&phone(4)],
        lead_id(&pool, o, &phone(4), Some("g")).await
    );

    // the task lead copies the lead's organisation and name; the filter is stored with the task
    let mut c = conn(&pool).await.unwrap();
    let (lorg, name): (i64, String) = leads_task_list::table
        .filter(leads_task_list::task_id.eq(t.id.0))
        .filter(leads_task_list::phone.eq(phone(1)))
        .select((leads_task_list::org_id, leads_task_list::customer_name))
        .first(&mut c)
        .await
        .unwrap();
    assert_eq!((OrgId(lorg), name.as_str()), (o, "客户b"));
    let stored: serde_json::Value = call_tasks::table
        .find(t.id.0)
        .select(call_tasks::filters)
        .first(&mut c)
        .await
        .unwrap();
    assert_eq!(stored, json!({"levels": ["N"]}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dedup_spans_the_scope_and_the_task_belongs_to_its_root() {
    let (_db, pool) = setup().await;
    let root = org(&pool, "集团", None).await;
    let child = org(&pool, "分店", Some(root)).await;
    let by = user(&pool, root, "op").await;
    import(&pool, root, vec![ext(9, "old", "2025-11-01 10:00:00")]).await;
    import(
        &pool,
        child,
        vec![
            ext(9, "new", "2025-11-02 10:00:00"),
            ext(8, "x", "2025-11-01 10:00:00"),
        ],
    )
    .await;
    let s = scope_of(&pool, root).await;
    let t = create_task(&pool, &s, &filter(json!({})), "t", by)
        .await
        .unwrap();
    assert_eq!(
        (t.task.org_id, t.task.leads_count, t.duplicates_removed),
        (root, 2, 1)
    );
    let rows = task_leads(&pool, t.task.id).await;
    let p9: Vec<_> = rows.iter().filter(|r| r.2 == phone(9)).collect();
    assert_eq!(p9.len(), 1);
    assert_eq!(p9[0].1, lead_id(&pool, child, &phone(9), Some("new")).await);
    // the child's scope cannot see the parent's task
    assert!(
        PgTasks::new(pool.clone())
            .get(&scope_of(&pool, child).await, t.task.id)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phones_in_unfinished_tasks_of_the_org_are_left_out_but_not_finished_ones() {
    let (_db, pool) = setup().await;
    let o = org(&pool, "店", None).await;
    let o2 = org(&pool, "别家", None).await;
    let by = user(&pool, o, "op").await;
    let by2 = user(&pool, o2, "op2").await;
    let s = scope_of(&pool, o).await;
    import_n(&pool, o, 1, 3).await;
    let all = filter(json!({}));
    let only1 = filter(json!({"keyword": phone(1)}));

    let t1 = create_task(&pool, &s, &only1, "t1", by).await.unwrap();
    assert_eq!(task_phones(&pool, t1.task.id).await, phones(&[1]));
    let t2 = create_task(&pool, &s, &all, "t2", by).await.unwrap();
    assert_eq!(task_phones(&pool, t2.task.id).await, phones(&[2, 3]));
    assert_eq!(t2.duplicates_removed, 0);
    assert!(
        create_task(&pool, &s, &all, "t3", by).await.is_none(),
        "every phone is in an unfinished task"
    );
    assert_eq!(task_rows(&pool).await, 2);

    for code in [2i16, 4] {
        set_task_type(&pool, t1.task.id, code).await;
        assert!(
            create_task(&pool, &s, &only1, "again", by).await.is_none(),
            "state {code} holds its phones"
        );
    }
    assert_eq!(task_rows(&pool).await, 2);
    for code in [3i16, 5] {
        set_task_type(&pool, t1.task.id, code).await;
        let again = create_task(&pool, &s, &only1, "again", by).await.unwrap();
        assert_eq!(
            task_phones(&pool, again.task.id).await,
            phones(&[1]),
            "state {code} frees its phones"
        );
        set_task_type(&pool, again.task.id, 3).await;
    }

    // the rule can be switched off
    let incl = create_task(
        &pool,
        &s,
        &filter(json!({"exclude_in_active_tasks": false})),
        "incl",
        by,
    )
    .await
    .unwrap();
    assert_eq!(task_phones(&pool, incl.task.id).await, phones(&[1, 2, 3]));

    // another organisation's unfinished task does not hold this organisation's phones
    import_n(&pool, o2, 2, 1).await;
    let other = create_task(&pool, &scope_of(&pool, o2).await, &all, "other", by2)
        .await
        .unwrap();
    assert_eq!(task_phones(&pool, other.task.id).await, phones(&[2]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_matching_lead_returns_none_and_creates_no_task() {
    let (_db, pool) = setup().await;
    let o = org(&pool, "店", None).await;
    let empty = org(&pool, "空", None).await;
    let by = user(&pool, o, "op").await;
    let s = scope_of(&pool, o).await;
    import(
        &pool,
        o,
        vec![
            LeadInput {
                do_not_call: Some(true),
                ..lead(&phone(1), "拒接")
            },
            lead(&phone(2), "乙"),
        ],
    )
    .await;

    assert!(
        create_task(&pool, &s, &filter(json!({"keyword": "无此人"})), "t", by)
            .await
            .is_none()
    );
    assert!(
        create_task(&pool, &s, &filter(json!({"keyword": phone(1)})), "t", by)
            .await
            .is_none(),
        "only do-not-call"
    );
    assert!(
        create_task(
            &pool,
            &scope_of(&pool, empty).await,
            &filter(json!({})),
            "t",
            by
        )
        .await
        .is_none()
    );
    assert_eq!(task_rows(&pool).await, 0);
    let mut c = conn(&pool).await.unwrap();
    let n: i64 = leads_task_list::table
        .count()
        .get_result(&mut c)
        .await
        .unwrap();
    assert_eq!(n, 0);
    drop(c);

    assert!(
        create_task(&pool, &s, &filter(json!({})), "t", by)
            .await
            .is_some()
    );
    assert_eq!(task_rows(&pool).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_recent_and_stats_are_scoped_and_counted() {
    let (_db, pool) = setup().await;
    let o = org(&pool, "店", None).await;
    let o2 = org(&pool, "别家", None).await;
    let by = user(&pool, o, "op").await;
    let by2 = user(&pool, o2, "op2").await;
    let s = scope_of(&pool, o).await;
    let s2 = scope_of(&pool, o2).await;
    import_n(&pool, o, 1, 2).await;
    import_n(&pool, o2, 1, 1).await;
    let incl = filter(json!({"exclude_in_active_tasks": false}));
    let mut ids = Vec::new();
    for name in ["外呼 A", "外呼 B", "回访_1", "100%"] {
        ids.push(
            create_task(&pool, &s, &incl, name, by)
                .await
                .unwrap()
                .task
                .id,
        );
    }
    let foreign = create_task(&pool, &s2, &incl, "外呼 别家", by2)
        .await
        .unwrap()
        .task
        .id;
    set_task_type(&pool, ids[1], 2).await;
    set_task_type(&pool, ids[2], 3).await;
    set_task_type(&pool, ids[3], 5).await;
    let mut c = conn(&pool).await.unwrap();
    for (id, called, connected) in [(ids[1], 4i64, 1i64), (ids[2], 2, 1), (foreign, 1, 1)] {
        diesel::update(call_tasks::table.find(id.0))
            .set((
                call_tasks::called_count.eq(called),
                call_tasks::connected_count.eq(connected),
            ))
            .execute(&mut c)
            .await
            .unwrap();
    }
    drop(c);
    let repo = PgTasks::new(pool.clone());
    let list = |state: Option<TaskState>, keyword: Option<&str>, p: i64, size: i64| {
        let repo = repo.clone();
        let s = s.clone();
        let f = TaskListFilter {
            state,
            keyword: keyword.map(str::to_owned),
        };
        async move {
            repo.list(&s, &f, PageRequest::new(Some(p), Some(size)).unwrap())
                .await
                .unwrap()
        }
    };
    let idv = |p: &kernel::Page<tasks::CallTask>| p.items.iter().map(|t| t.id).collect::<Vec<_>>();

    let all = list(None, None, 1, 20).await;
    assert_eq!(
        idv(&all),
        vec![ids[3], ids[2], ids[1], ids[0]],
        "newest first, other org absent"
    );
    assert_eq!(all.pagination.total, 4);
    let p1 = list(None, None, 1, 3).await;
    let p2 = list(None, None, 2, 3).await;
    assert_eq!(
        (idv(&p1), idv(&p2)),
        (vec![ids[3], ids[2], ids[1]], vec![ids[0]])
    );
    assert_eq!((p2.pagination.total, p2.pagination.total_pages), (4, 2));
    assert_eq!(
        idv(&list(Some(TaskState::Running), None, 1, 20).await),
        vec![ids[1]]
    );
    assert_eq!(
        idv(&list(Some(TaskState::Paused), None, 1, 20).await),
        Vec::<TaskId>::new()
    );
    assert_eq!(
        idv(&list(None, Some("外呼"), 1, 20).await),
        vec![ids[1], ids[0]]
    );
    assert_eq!(
        idv(&list(None, Some("_"), 1, 20).await),
        vec![ids[2]],
        "keyword is literal"
    );
    assert_eq!(
        idv(&list(None, Some("%"), 1, 20).await),
        vec![ids[3]],
        "keyword is literal"
    );
    assert_eq!(
        idv(&list(Some(TaskState::Created), Some("外呼"), 1, 20).await),
        vec![ids[0]]
    );
    let running = &list(Some(TaskState::Running), None, 1, 20).await.items[0];
    assert_eq!(
        (
            running.called_count,
            running.connected_count,
            running.leads_count
        ),
        (4, 1, 2)
    );

    let recent: Vec<TaskId> = repo
        .recent(&s, 2)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(recent, vec![ids[3], ids[2]]);
    assert_eq!(repo.recent(&s, 200).await.unwrap().len(), 4);
    assert!(repo.get(&s, foreign).await.unwrap().is_none());

    let st = repo.stats(&s).await.unwrap();
    assert_eq!(st.total_tasks, 4);
    let want: BTreeMap<String, i64> = [("1", 1), ("2", 1), ("3", 1), ("4", 0), ("5", 1)]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    assert_eq!(st.by_type, want);
    assert_eq!((st.total_leads, st.called, st.connected), (8, 6, 2));
    assert!((st.connect_rate - 2.0 / 6.0).abs() < 1e-9);

    let st2 = repo.stats(&s2).await.unwrap();
    assert_eq!(
        (st2.total_tasks, st2.total_leads, st2.called, st2.connected),
        (1, 1, 1, 1)
    );
    assert!((st2.connect_rate - 1.0).abs() < 1e-9);
    let empty = org(&pool, "空", None).await;
    let st0 = repo.stats(&scope_of(&pool, empty).await).await.unwrap();
    assert_eq!(
        (st0.total_tasks, st0.total_leads, st0.connect_rate),
        (0, 0, 0.0)
    );
    assert_eq!(st0.by_type.len(), 5);
    assert!(st0.by_type.values().all(|n| *n == 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn script_changes_only_in_state_created_and_only_in_scope() {
    let (_db, pool) = setup().await;
    let root = org(&pool, "集团", None).await;
    let child = org(&pool, "分店", Some(root)).await;
    let other = org(&pool, "别家", None).await;
    let by = user(&pool, child, "op").await;
    import_n(&pool, child, 1, 2).await;
    let sc = scope_of(&pool, child).await;
    let sr = scope_of(&pool, root).await;
    let so = scope_of(&pool, other).await;
    let incl = filter(json!({"exclude_in_active_tasks": false}));
    let t = create_task(&pool, &sc, &incl, "t", by).await.unwrap().task;
    let repo = PgTasks::new(pool.clone());

    let updated = repo
        .update_script(&sc, t.id, "script-2", audit_entry())
        .await
        .unwrap();
    assert_eq!(
        (updated.script_id.as_str(), updated.state),
        ("script-2", TaskState::Created)
    );
    assert!(updated.update_time >= t.update_time);
    // a parent organisation may change its child's task
    assert_eq!(
        repo.update_script(&sr, t.id, "script-3", audit_entry())
            .await
            .unwrap()
            .script_id,
        "script-3"
    );

    let err = repo
        .update_script(&so, t.id, "x", audit_entry())
        .await
        .unwrap_err();
    assert!(matches!(err, TransitionError::NotFound), "{err:?}");
    let err = repo
        .update_script(&sc, TaskId(t.id.0 + 1000), "x", audit_entry())
        .await
        .unwrap_err();
    assert!(matches!(err, TransitionError::NotFound), "{err:?}");

    for (code, state) in [
        (2i16, TaskState::Running),
        (4, TaskState::Paused),
        (3, TaskState::Completed),
        (5, TaskState::Stopped),
    ] {
        set_task_type(&pool, t.id, code).await;
        let err = repo
            .update_script(&sc, t.id, "x", audit_entry())
            .await
            .unwrap_err();
        assert!(
            matches!(err, TransitionError::InvalidState(s) if s == state),
            "{err:?}"
        );
        // another scope learns nothing about the state
        let err = repo
            .update_script(&so, t.id, "x", audit_entry())
            .await
            .unwrap_err();
        assert!(matches!(err, TransitionError::NotFound), "{err:?}");
    }
    assert_eq!(
        repo.get(&sc, t.id).await.unwrap().unwrap().script_id,
        "script-3"
    );

    // a task of the parent is invisible to the child
    import_n(&pool, root, 10, 1).await;
    let parent_task = create_task(&pool, &sr, &filter(json!({"keyword": phone(10)})), "p", by)
        .await
        .unwrap()
        .task;
    let err = repo
        .update_script(&sc, parent_task.id, "x", audit_entry())
        .await
        .unwrap_err();
    assert!(matches!(err, TransitionError::NotFound), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenes_are_saved_in_the_root_and_seen_only_within_scope() {
    let (_db, pool) = setup().await;
    let root = org(&pool, "集团", None).await;
    let child = org(&pool, "分店", Some(root)).await;
    let other = org(&pool, "别家", None).await;
    let by = user(&pool, child, "op").await;
    let (sr, sc, so) = (
        scope_of(&pool, root).await,
        scope_of(&pool, child).await,
        scope_of(&pool, other).await,
    );
    let repo = PgTasks::new(pool.clone());
    let filters = LeadFilterInput {
        levels: Some(vec!["H".into(), "A".into()]),
        keyword: Some("张".into()),
        exclude_in_active_tasks: Some(false),
        ..Default::default()
    };
    let scene = repo
        .create_scene(
            &sc,
            NewScene {
                scene_name: "高意向回访".into(),
                script_id: "script-9".into(),
                description: "H/A 客户".into(),
                filters: filters.clone(),
            },
            by,
        )
        .await
        .unwrap();
    assert_eq!(scene.org_id, child);
    assert_eq!(
        (
            scene.scene_name.as_str(),
            scene.script_id.as_str(),
            scene.description.as_str()
        ),
        ("高意向回访", "script-9", "H/A 客户")
    );
    assert_eq!(scene.filters, filters);
    let root_scene = repo
        .create_scene(
            &sr,
            NewScene {
                scene_name: "全部".into(),
                script_id: "s".into(),
                description: String::new(),
                filters: Default::default(),
            },
            by,
        )
        .await
        .unwrap();
    assert_eq!(root_scene.org_id, root);

    assert_eq!(
        repo.get_scene(&sc, scene.id).await.unwrap(),
        Some(scene.clone())
    );
    assert_eq!(
        repo.get_scene(&sr, scene.id).await.unwrap(),
        Some(scene.clone())
    );
    assert_eq!(repo.get_scene(&so, scene.id).await.unwrap(), None);
    assert_eq!(repo.get_scene(&sc, root_scene.id).await.unwrap(), None);
    assert_eq!(
        repo.get_scene(&sr, kernel::SceneId(root_scene.id.0 + 1000))
            .await
            .unwrap(),
        None
    );

    let ids = |v: Vec<tasks::Scene>| v.into_iter().map(|s| s.id).collect::<Vec<_>>();
    assert_eq!(
        ids(repo.list_scenes(&sr).await.unwrap()),
        vec![root_scene.id, scene.id]
    );
    assert_eq!(ids(repo.list_scenes(&sc).await.unwrap()), vec![scene.id]);
    assert!(repo.list_scenes(&so).await.unwrap().is_empty());
}

/// Two operators create tasks in one organisation at the same moment: both tasks are created
/// (the organisation's task counter is updated by both, one after the other), neither gets an
/// error. Here a third transaction holds the counter row while a creation starts, then commits a
/// change to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creations_racing_on_the_organisation_counter_both_succeed() {
    use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
    let (db, pool) = setup().await;
    let o = org(&pool, "店", None).await;
    let by = user(&pool, o, "op").await;
    let s = scope_of(&pool, o).await;
    import_n(&pool, o, 0, 5).await;
    let repo = PgTasks::new(pool.clone());
    repo.create_from_filter(
        &s,
        &filter(json!({"exclude_in_active_tasks": false})),
        new_task("一", o, by),
        audit_entry(),
    )
    .await
    .unwrap()
    .unwrap();

    let mut blocker = AsyncPgConnection::establish(&db.url).await.unwrap();
    blocker
        .batch_execute(&format!(
            "BEGIN; UPDATE org_counts SET n = n + 0 WHERE org_id = {o} AND kind = 'tasks:1'"
        ))
        .await
        .unwrap();
    let (r, s2) = (repo.clone(), s.clone());
    let racing = tokio::spawn(async move {
        r.create_from_filter(
            &s2,
            &filter(json!({"exclude_in_active_tasks": false})),
            new_task("二", o, by),
            audit_entry(),
        )
        .await
    });
    // the creation has started and waits for the counter row
    wait_for_lock_waiters(&pool, 1).await;
    blocker.batch_execute("COMMIT").await.unwrap();
    let created = racing.await.unwrap().expect("no error").expect("created");
    assert_eq!(created.task.leads_count, 5);
    let n: i64 = call_tasks::table
        .filter(call_tasks::org_id.eq(o.0))
        .count()
        .get_result(&mut conn(&pool).await.unwrap())
        .await
        .unwrap();
    assert_eq!(n, 2);
}

/// A transaction that loses a race (serialization failure) is reported as "try again" (503),
/// never as a bug (500).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_serialization_race_maps_to_unavailable() {
    use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
    let (db, pool) = setup().await;
    let o = org(&pool, "店", None).await;
    let mut a = AsyncPgConnection::establish(&db.url).await.unwrap();
    let mut b = AsyncPgConnection::establish(&db.url).await.unwrap();
    a.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM organizations")
        .await
        .unwrap();
    b.batch_execute(&format!(
        "UPDATE organizations SET name = '店2' WHERE id = {o}"
    ))
    .await
    .unwrap();
    let err = diesel::sql_query(format!(
        "UPDATE organizations SET name = '店3' WHERE id = {o}"
    ))
    .execute(&mut a)
    .await
    .unwrap_err();
    assert!(
        matches!(adapters::db::db_error(err), kernel::RepoError::Unavailable),
        "a serialization failure is transient"
    );
}
