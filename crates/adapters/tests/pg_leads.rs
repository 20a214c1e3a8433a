//! PgLeads against real PostgreSQL: import, list filters, scope, paging, statistics, preview.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use adapters::pg_leads::PgLeads;
use common::*;
use kernel::{OrgScope, PageRequest};
use leads::{FilterPreview, Lead, LeadInput, LeadRepository};
use serde_json::json;

fn counts(c: &leads::ImportCounts) -> (i64, i64, i64) {
    (c.inserted, c.updated, c.unchanged)
}

fn page(p: i64, size: i64) -> PageRequest {
    PageRequest::new(Some(p), Some(size)).unwrap()
}

async fn list_all(repo: &PgLeads, scope: &OrgScope, f: serde_json::Value) -> Vec<Lead> {
    let p = repo.list(scope, &filter(f), page(1, 100)).await.unwrap();
    assert_eq!(p.pagination.total, p.items.len() as i64);
    p.items
}

async fn phones(repo: &PgLeads, scope: &OrgScope, f: serde_json::Value) -> BTreeSet<String> {
    list_all(repo, scope, f)
        .await
        .into_iter()
        .map(|l| l.phone)
        .collect()
}

fn set(phones: &[usize]) -> BTreeSet<String> {
    phones.iter().map(|i| phone(*i)).collect()
}

fn full(p: usize, name: &str, level: &str, source: &str, created: &str) -> LeadInput {
    LeadInput {
        level: Some(level.into()),
        source: Some(source.into()),
        create_time: Some(created.into()),
        ..lead(&phone(p), name)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_counts_inserts_updates_and_unchanged_and_reimport_changes_nothing() {
    let (_db, pool) = setup().await;
    let o = org(&pool, "店", None).await;
    let scope = scope_of(&pool, o).await;
    let repo = PgLeads::new(pool.clone());
    let batch = || {
        vec![
            full(1, "张三", "H", "汽车之家", "2025-11-01 10:00:00"),
            lead(&phone(2), "李四"),
            LeadInput {
                external_id: Some("crm-3".into()),
                ..lead(&phone(3), "王五")
            },
        ]
    };
    assert_eq!(
        counts(&repo.import(o, rows(batch()), audit_entry()).await.unwrap()),
        (3, 0, 0)
    );
    assert_eq!(
        counts(&repo.import(o, rows(batch()), audit_entry()).await.unwrap()),
        (0, 0, 3),
        "re-import is a no-op"
    );
    assert_eq!(list_all(&repo, &scope, json!({})).await.len(), 3);

    // defaults on insert
    let li = list_all(&repo, &scope, json!({"keyword": "李四"}))
        .await
        .remove(0);
    assert_eq!(
        (li.level.as_str(), li.status.as_str(), li.source.as_str()),
        ("N", "未跟进", "")
    );
    assert_eq!(
        (li.call_count, li.do_not_call, li.last_call_time),
        (0, false, None)
    );

    // two changed rows, one equal; fields a row leaves out keep their stored value
    let changed = vec![
        lead(&phone(1), "张三丰"),
        lead(&phone(2), "李四"),
        LeadInput {
            external_id: Some("crm-3".into()),
            level: Some("a".into()),
            ..lead(&phone(3), "王五")
        },
    ];
    assert_eq!(
        counts(
            &repo
                .import(o, rows(changed.clone()), audit_entry())
                .await
                .unwrap()
        ),
        (0, 2, 1)
    );
    assert_eq!(
        counts(&repo.import(o, rows(changed), audit_entry()).await.unwrap()),
        (0, 0, 3)
    );
    let zs = list_all(&repo, &scope, json!({"keyword": phone(1)}))
        .await
        .remove(0);
    assert_eq!(zs.customer_name, "张三丰");
    assert_eq!(
        (zs.level.as_str(), zs.source.as_str()),
        ("H", "汽车之家"),
        "omitted fields are kept"
    );
    assert_eq!(zs.create_time, at("2025-11-01 10:00:00"));
    let ww = list_all(&repo, &scope, json!({"keyword": phone(3)}))
        .await
        .remove(0);
    assert_eq!(
        (ww.level.as_str(), ww.external_id.as_deref()),
        ("A", Some("crm-3"))
    );

    // within one batch a later row updates an earlier one
    let dup = vec![lead(&phone(4), "赵六"), lead(&phone(4), "赵六六")];
    assert_eq!(
        counts(
            &repo
                .import(o, rows(dup.clone()), audit_entry())
                .await
                .unwrap()
        ),
        (1, 1, 0)
    );
    assert_eq!(
        counts(&repo.import(o, rows(dup), audit_entry()).await.unwrap()),
        (0, 0, 2)
    );
    let zl = list_all(&repo, &scope, json!({"keyword": phone(4)})).await;
    assert_eq!(zl.len(), 1);
    assert_eq!(zl[0].customer_name, "赵六六");

    // do_not_call is updatable
    let dnc = vec![LeadInput {
        do_not_call: Some(true),
        ..lead(&phone(2), "李四")
    }];
    assert_eq!(
        counts(&repo.import(o, rows(dnc), audit_entry()).await.unwrap()),
        (0, 1, 0)
    );
    assert!(list_all(&repo, &scope, json!({"keyword": phone(2)})).await[0].do_not_call);
    assert_eq!(list_all(&repo, &scope, json!({})).await.len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_is_the_external_id_when_given_else_the_phone_within_the_org() {
    let (_db, pool) = setup().await;
    let x = org(&pool, "X", None).await;
    let y = org(&pool, "Y", None).await;
    let sx = scope_of(&pool, x).await;
    let repo = PgLeads::new(pool.clone());
    let ext = |p: usize, name: &str| LeadInput {
        external_id: Some("crm-1".into()),
        ..lead(&phone(p), name)
    };

    assert_eq!(
        counts(
            &repo
                .import(x, rows(vec![ext(1, "甲")]), audit_entry())
                .await
                .unwrap()
        ),
        (1, 0, 0)
    );
    // same external id, new phone: the same lead, its phone changes
    assert_eq!(
        counts(
            &repo
                .import(x, rows(vec![ext(2, "甲")]), audit_entry())
                .await
                .unwrap()
        ),
        (0, 1, 0)
    );
    let all = list_all(&repo, &sx, json!({})).await;
    assert_eq!(all.len(), 1);
    assert_eq!(
        (all[0].phone.clone(), all[0].external_id.as_deref()),
        (phone(2), Some("crm-1"))
    );

    // no external id: identity by phone, a different lead even though the phone is the same
    assert_eq!(
        counts(
            &repo
                .import(x, rows(vec![lead(&phone(2), "甲")]), audit_entry())
                .await
                .unwrap()
        ),
        (1, 0, 0)
    );
    assert_eq!(
        counts(
            &repo
                .import(x, rows(vec![lead(&phone(2), "乙")]), audit_entry())
                .await
                .unwrap()
        ),
        (0, 1, 0)
    );
    let all = list_all(&repo, &sx, json!({})).await;
    assert_eq!(all.len(), 2);
    let by_ext: BTreeMap<Option<String>, String> = all
        .into_iter()
        .map(|l| (l.external_id, l.customer_name))
        .collect();
    assert_eq!(by_ext[&Some("crm-1".to_string())], "甲");
    assert_eq!(by_ext[&None], "乙");

    // identities are per organisation
    assert_eq!(
        counts(
            &repo
                .import(
                    y,
                    rows(vec![ext(2, "甲"), lead(&phone(2), "乙")]),
                    audit_entry()
                )
                .await
                .unwrap()
        ),
        (2, 0, 0)
    );
    assert_eq!(list_all(&repo, &sx, json!({})).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_filters_by_level_source_status_model_and_created_range() {
    let (_db, pool) = setup().await;
    let o = org(&pool, "店", None).await;
    let s = scope_of(&pool, o).await;
    let repo = PgLeads::new(pool.clone());
    import(
        &pool,
        o,
        vec![
            LeadInput {
                status: Some("跟进中".into()),
                vehicle_model: Some("Model Y".into()),
                ..full(1, "甲", "H", "汽车之家", "2025-11-01 00:00:00")
            },
            full(2, "乙", "A", "懂车帝", "2025-11-15 23:59:59"),
            full(3, "丙", "B", "汽车之家", "2025-11-30 12:00:00"),
            full(4, "丁", "H", "易车", "2025-12-01 00:00:00"),
            full(5, "戊", "C", "懂车帝", "2025-10-31 23:59:59"),
        ],
    )
    .await;

    // newest first
    let order: Vec<String> = list_all(&repo, &s, json!({}))
        .await
        .into_iter()
        .map(|l| l.phone)
        .collect();
    assert_eq!(
        order,
        vec![phone(4), phone(3), phone(2), phone(1), phone(5)]
    );

    assert_eq!(
        phones(&repo, &s, json!({"levels": ["H", "a"]})).await,
        set(&[1, 2, 4])
    );
    assert_eq!(
        phones(&repo, &s, json!({"sources": ["汽车之家"]})).await,
        set(&[1, 3])
    );
    assert_eq!(
        phones(&repo, &s, json!({"sources": ["汽车之家", "易车"]})).await,
        set(&[1, 3, 4])
    );
    assert_eq!(
        phones(&repo, &s, json!({"statuses": ["跟进中"]})).await,
        set(&[1])
    );
    assert_eq!(
        phones(&repo, &s, json!({"statuses": ["未跟进"]})).await,
        set(&[2, 3, 4, 5])
    );
    assert_eq!(
        phones(&repo, &s, json!({"vehicle_models": ["Model Y"]})).await,
        set(&[1])
    );
    // both bounds inclusive; a bare date means the whole day (Beijing time)
    assert_eq!(
        phones(
            &repo,
            &s,
            json!({"created_from": "2025-11-01", "created_to": "2025-11-30"})
        )
        .await,
        set(&[1, 2, 3])
    );
    assert_eq!(
        phones(
            &repo,
            &s,
            json!({"created_from": "2025-11-01 00:00:01", "created_to": "2025-11-15 23:59:59"})
        )
        .await,
        set(&[2])
    );
    assert_eq!(
        phones(&repo, &s, json!({"created_from": "2025-12-01"})).await,
        set(&[4])
    );
    assert_eq!(
        phones(&repo, &s, json!({"created_to": "2025-10-31"})).await,
        set(&[5])
    );
    // parts combine with AND
    assert_eq!(
        phones(
            &repo,
            &s,
            json!({"levels": ["H"], "created_from": "2025-11-01", "created_to": "2025-11-30"})
        )
        .await,
        set(&[1])
    );
    assert_eq!(phones(&repo, &s, json!({"levels": ["N"]})).await, set(&[]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyword_is_a_literal_substring_of_name_or_phone() {
    let (_db, pool) = setup().await;
    let o = org(&pool, "店", None).await;
    let s = scope_of(&pool, o).await;
    let repo = PgLeads::new(pool.clone());
    import(
        &pool,
        o,
        vec![
            lead(&phone(1), "100%满意"),
            lead(&phone(2), "张_三"),
            lead(&phone(3), "张三"),
            lead("13912340000", "李四"),
            lead(&phone(5), "a\\b"),
        ],
    )
    .await;
    assert_eq!(phones(&repo, &s, json!({"keyword": "%"})).await, set(&[1]));
    assert_eq!(phones(&repo, &s, json!({"keyword": "_"})).await, set(&[2]));
    assert_eq!(phones(&repo, &s, json!({"keyword": "张%"})).await, set(&[]));
    assert_eq!(
        phones(&repo, &s, json!({"keyword": "%满"})).await,
        set(&[1])
    );
    assert_eq!(
        phones(&repo, &s, json!({"keyword": "张"})).await,
        set(&[2, 3])
    );
    assert_eq!(phones(&repo, &s, json!({"keyword": "\\"})).await, set(&[5]));
    let by_phone = list_all(&repo, &s, json!({"keyword": "1234"})).await;
    assert_eq!(by_phone.len(), 1);
    assert_eq!(by_phone[0].customer_name, "李四");
    assert_eq!(
        phones(&repo, &s, json!({"keyword": "'; DROP TABLE dcc_leads; --"})).await,
        set(&[])
    );
    assert_eq!(list_all(&repo, &s, json!({})).await.len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_filters_by_call_count_and_not_called_since() {
    let (_db, pool) = setup().await;
    let o = org(&pool, "店", None).await;
    let s = scope_of(&pool, o).await;
    let repo = PgLeads::new(pool.clone());
    import_n(&pool, o, 1, 3).await;
    set_lead_calls(
        &pool,
        lead_id(&pool, o, &phone(2), None).await,
        1,
        Some(at("2025-11-10 09:00:00")),
    )
    .await;
    set_lead_calls(
        &pool,
        lead_id(&pool, o, &phone(3), None).await,
        3,
        Some(at("2025-11-20 09:00:00")),
    )
    .await;

    assert_eq!(
        phones(&repo, &s, json!({"max_call_count": 0})).await,
        set(&[1])
    );
    assert_eq!(
        phones(&repo, &s, json!({"max_call_count": 1})).await,
        set(&[1, 2])
    );
    assert_eq!(
        phones(&repo, &s, json!({"max_call_count": 3})).await,
        set(&[1, 2, 3])
    );
    // never called counts as not called
    assert_eq!(
        phones(&repo, &s, json!({"not_called_since": "2025-11-15"})).await,
        set(&[1, 2])
    );
    assert_eq!(
        phones(&repo, &s, json!({"not_called_since": "2025-11-05"})).await,
        set(&[1])
    );
    assert_eq!(
        phones(&repo, &s, json!({"not_called_since": "2025-11-21"})).await,
        set(&[1, 2, 3])
    );
    assert_eq!(
        phones(
            &repo,
            &s,
            json!({"not_called_since": "2025-11-21", "max_call_count": 2})
        )
        .await,
        set(&[1, 2])
    );
    let l2 = list_all(&repo, &s, json!({"keyword": phone(2)}))
        .await
        .remove(0);
    assert_eq!(
        (l2.call_count, l2.last_call_time),
        (1, Some(at("2025-11-10 09:00:00")))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leads_outside_the_scope_never_appear() {
    let (_db, pool) = setup().await;
    let root = org(&pool, "集团", None).await;
    let child = org(&pool, "分店", Some(root)).await;
    let other = org(&pool, "别家", None).await;
    let repo = PgLeads::new(pool.clone());
    import(&pool, root, vec![lead(&phone(1), "同名客户")]).await;
    import(&pool, child, vec![lead(&phone(2), "同名客户")]).await;
    import(
        &pool,
        other,
        vec![lead(&phone(1), "同名客户"), lead(&phone(3), "同名客户")],
    )
    .await;

    let sr = scope_of(&pool, root).await;
    let sc = scope_of(&pool, child).await;
    let so = scope_of(&pool, other).await;
    for f in [
        json!({}),
        json!({"keyword": "同名"}),
        json!({"keyword": phone(1)}),
        json!({"levels": ["N"]}),
    ] {
        let items = list_all(&repo, &sr, f.clone()).await;
        assert!(
            items.iter().all(|l| l.org_id == root || l.org_id == child),
            "{f}: {items:?}"
        );
        let items = list_all(&repo, &sc, f.clone()).await;
        assert!(items.iter().all(|l| l.org_id == child), "{f}: {items:?}");
    }
    assert_eq!(phones(&repo, &sr, json!({})).await, set(&[1, 2]));
    assert_eq!(phones(&repo, &sc, json!({})).await, set(&[2]));
    assert_eq!(phones(&repo, &so, json!({})).await, set(&[1, 3]));
    assert!(
        phones(&repo, &sc, json!({"keyword": phone(3)}))
            .await
            .is_empty()
    );
    // a narrowed scope sees only the narrowed organisations
    assert_eq!(
        phones(&repo, &sr.narrow(&[child]).unwrap(), json!({})).await,
        set(&[2])
    );

    assert_eq!(repo.statistics(&sr).await.unwrap().total, 2);
    assert_eq!(repo.statistics(&sc).await.unwrap().total, 1);
    assert_eq!(repo.statistics(&so).await.unwrap().total, 2);
    assert_eq!(
        repo.preview(&sc, &filter(json!({}))).await.unwrap().matched,
        1
    );
    assert_eq!(
        repo.preview(&sr, &filter(json!({}))).await.unwrap().matched,
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_split_the_newest_first_order_without_gaps_or_overlap() {
    let (_db, pool) = setup().await;
    let o = org(&pool, "店", None).await;
    let s = scope_of(&pool, o).await;
    let repo = PgLeads::new(pool.clone());
    // pairs of leads share a create_time, so ordering relies on the id tie-break
    let inputs = (0..25)
        .map(|i| LeadInput {
            create_time: Some(format!("2025-11-01 10:{:02}:00", i / 2)),
            ..lead(&phone(i), &format!("客户{i}"))
        })
        .collect();
    import(&pool, o, inputs).await;

    let mut seen = Vec::new();
    for (p, want) in [(1, 10), (2, 10), (3, 5), (4, 0)] {
        let got = repo
            .list(&s, &filter(json!({})), page(p, 10))
            .await
            .unwrap();
        assert_eq!(got.items.len(), want, "page {p}");
        assert_eq!(got.pagination.total, 25);
        assert_eq!(got.pagination.total_pages, 3);
        assert_eq!(
            (got.pagination.page, got.pagination.page_size),
            (p as u32, 10)
        );
        seen.extend(got.items);
    }
    assert_eq!(seen.len(), 25);
    assert_eq!(
        seen.iter().map(|l| l.id).collect::<BTreeSet<_>>().len(),
        25,
        "no lead on two pages"
    );
    for w in seen.windows(2) {
        assert!(
            (w[0].create_time, w[0].id) > (w[1].create_time, w[1].id),
            "newest first, then by id"
        );
    }
    let filtered = repo
        .list(&s, &filter(json!({"keyword": "客户1"})), page(1, 3))
        .await
        .unwrap();
    // 客户1, 客户10..客户19
    assert_eq!(
        (
            filtered.pagination.total,
            filtered.pagination.total_pages,
            filtered.items.len()
        ),
        (11, 4, 3)
    );
    let none = repo
        .list(&s, &filter(json!({"keyword": "无此人"})), page(1, 10))
        .await
        .unwrap();
    assert_eq!(
        (
            none.pagination.total,
            none.pagination.total_pages,
            none.items.len()
        ),
        (0, 0, 0)
    );
}

/// A scope of several organisations (a group admin): the pages merge the organisations' leads
/// newest first, ties broken by id, with no gap or overlap, and nothing from outside the scope.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_of_several_organisations_merge_newest_first() {
    let (_db, pool) = setup().await;
    let group = org(&pool, "集团", None).await;
    let shop_a = org(&pool, "A店", Some(group)).await;
    let shop_b = org(&pool, "B店", Some(group)).await;
    let other = org(&pool, "别家", None).await;
    let repo = PgLeads::new(pool.clone());
    // the same minutes in every organisation: order across organisations relies on the id
    for (o, n, offset) in [
        (group, 3, 0),
        (shop_a, 9, 100),
        (shop_b, 6, 200),
        (other, 5, 300),
    ] {
        let inputs = (0..n)
            .map(|i| LeadInput {
                create_time: Some(format!("2025-11-01 10:{:02}:00", i % 4)),
                ..lead(&phone(offset + i), &format!("客户{}", offset + i))
            })
            .collect();
        import(&pool, o, inputs).await;
    }
    let s = scope_of(&pool, group).await;
    assert_eq!(s.ids().len(), 3);
    // what the pages must hold: every lead of the three, by (create_time, id) descending
    let mut want = Vec::new();
    for o in [group, shop_a, shop_b] {
        // each organisation alone (its own leads, not its subtree's)
        want.extend(list_all(&repo, &OrgScope::new(o, [o]), json!({})).await);
    }
    want.sort_by_key(|l| std::cmp::Reverse((l.create_time, l.id)));
    assert_eq!(want.len(), 18);

    let mut seen = Vec::new();
    for p in 1..=6 {
        let got = repo.list(&s, &filter(json!({})), page(p, 4)).await.unwrap();
        assert_eq!(got.pagination.total, 18, "page {p}");
        assert_eq!(
            got.items.len(),
            if p <= 4 {
                4
            } else if p == 5 {
                2
            } else {
                0
            }
        );
        seen.extend(got.items);
    }
    assert_eq!(
        seen.iter().map(|l| l.id).collect::<Vec<_>>(),
        want.iter().map(|l| l.id).collect::<Vec<_>>()
    );
    assert!(seen.iter().all(|l| l.org_id != other));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statistics_count_the_scope_by_level_source_and_status() {
    let (_db, pool) = setup().await;
    let o = org(&pool, "店", None).await;
    let other = org(&pool, "别家", None).await;
    let repo = PgLeads::new(pool.clone());
    import(
        &pool,
        o,
        vec![
            full(1, "甲", "H", "汽车之家", "2025-11-01"),
            LeadInput {
                do_not_call: Some(true),
                ..full(2, "乙", "H", "懂车帝", "2025-11-02")
            },
            LeadInput {
                status: Some("跟进中".into()),
                ..full(3, "丙", "A", "汽车之家", "2025-11-03")
            },
        ],
    )
    .await;
    import(&pool, other, vec![full(4, "丁", "C", "易车", "2025-11-01")]).await;

    let st = repo.statistics(&scope_of(&pool, o).await).await.unwrap();
    assert_eq!((st.total, st.callable), (3, 2));
    assert_eq!(
        st.by_level,
        BTreeMap::from([("H".to_string(), 2), ("A".to_string(), 1)])
    );
    assert_eq!(
        st.by_source,
        BTreeMap::from([("汽车之家".to_string(), 2), ("懂车帝".to_string(), 1)])
    );
    assert_eq!(
        st.by_status,
        BTreeMap::from([("未跟进".to_string(), 2), ("跟进中".to_string(), 1)])
    );

    let empty_org = org(&pool, "空", None).await;
    let st = repo
        .statistics(&scope_of(&pool, empty_org).await)
        .await
        .unwrap();
    assert_eq!((st.total, st.callable), (0, 0));
    assert!(st.by_level.is_empty() && st.by_source.is_empty() && st.by_status.is_empty());
}

fn preview(
    matched: i64,
    excluded_do_not_call: i64,
    excluded_in_active_tasks: i64,
    deduplicated: i64,
) -> FilterPreview {
    FilterPreview {
        matched,
        deduplicated,
        excluded_do_not_call,
        excluded_in_active_tasks,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preview_counts_matches_exclusions_and_distinct_phones_like_task_creation() {
    let (_db, pool) = setup().await;
    let o = org(&pool, "店", None).await;
    let other = org(&pool, "别家", None).await;
    let by = user(&pool, o, "op").await;
    let s = scope_of(&pool, o).await;
    let repo = PgLeads::new(pool.clone());
    let ext = |p: usize, e: &str| LeadInput {
        external_id: Some(e.into()),
        ..lead(&phone(p), &format!("客户{e}"))
    };
    import(
        &pool,
        o,
        vec![
            ext(1, "e1a"),
            ext(1, "e1b"), // same phone twice
            LeadInput {
                do_not_call: Some(true),
                ..lead(&phone(2), "拒接")
            },
            lead(&phone(3), "丙"),
            lead(&phone(4), "丁"),
            LeadInput {
                do_not_call: Some(true),
                ..ext(5, "e5a")
            },
            ext(5, "e5b"), // a callable lead shares its phone with a do-not-call one
        ],
    )
    .await;
    import(&pool, other, vec![lead(&phone(3), "别家丙")]).await;
    let all = filter(json!({}));

    assert_eq!(repo.preview(&s, &all).await.unwrap(), preview(7, 2, 0, 4));
    assert_eq!(
        repo.preview(&s, &filter(json!({"keyword": phone(1)})))
            .await
            .unwrap(),
        preview(2, 0, 0, 1)
    );
    assert_eq!(
        repo.preview(&s, &filter(json!({"keyword": phone(2)})))
            .await
            .unwrap(),
        preview(1, 1, 0, 0)
    );

    // phone 4 goes into an unfinished task
    let t1 = create_task(&pool, &s, &filter(json!({"keyword": phone(4)})), "t1", by)
        .await
        .unwrap();
    assert_eq!(t1.task.leads_count, 1);
    let before = repo.preview(&s, &all).await.unwrap();
    assert_eq!(before, preview(7, 2, 1, 3));
    assert_eq!(
        repo.preview(&s, &filter(json!({"exclude_in_active_tasks": false})))
            .await
            .unwrap(),
        preview(7, 2, 0, 4)
    );

    // `deduplicated` is exactly what a task created now gets
    let t2 = create_task(&pool, &s, &all, "t2", by).await.unwrap();
    assert_eq!(t2.task.leads_count, before.deduplicated);
    assert_eq!(t2.duplicates_removed, 1);
    assert_eq!(repo.preview(&s, &all).await.unwrap(), preview(7, 2, 5, 0));

    // paused and running tasks still hold their phones; completed and stopped ones do not
    for (code, in_active) in [(2, 5), (4, 5), (3, 0), (5, 0)] {
        set_task_type(&pool, t1.task.id, code).await;
        set_task_type(&pool, t2.task.id, code).await;
        let p = repo.preview(&s, &all).await.unwrap();
        assert_eq!(p.excluded_in_active_tasks, in_active, "task state {code}");
        assert_eq!(
            p.deduplicated,
            if in_active == 0 { 4 } else { 0 },
            "task state {code}"
        );
    }
    // another organisation's tasks do not exclude this organisation's leads and vice versa
    set_task_type(&pool, t2.task.id, 1).await;
    assert_eq!(
        repo.preview(&scope_of(&pool, other).await, &all)
            .await
            .unwrap(),
        preview(1, 0, 0, 1)
    );
}
