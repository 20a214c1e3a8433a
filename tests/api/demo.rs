//! The embedded default's demo data: a working login, leads, and tasks in the states an operator
//! meets; never a call to a real platform.

use std::collections::BTreeMap;

use adapters::security::Argon2Hasher;
use e2e::TestApp;

/// Task name → state, of every task the token sees.
async fn tasks(app: &TestApp, token: &str) -> BTreeMap<String, i64> {
    let page = app
        .get(Some(token), "/api/task_list?page_size=100")
        .await
        .expect(200, None);
    page.data()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["task_name"].as_str().unwrap().to_owned(),
                t["task_type"].as_i64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_seeds_leads_and_tasks_in_each_state_once() {
    let app = TestApp::spawn().await;
    let hasher = Argon2Hasher::with_params(1024, 1, 1).unwrap();
    let (user, password) = server::demo::seed_demo(&app.state, &app.pool, &hasher)
        .await
        .unwrap()
        .expect("seeded");
    assert_eq!(user, "admin");
    let token = app.login_with("admin", &password).await;
    let leads = app.get(Some(&token), "/api/leads").await.expect(200, None);
    assert_eq!(leads.data()["pagination"]["total"], 300);
    assert_eq!(
        tasks(&app, &token).await,
        BTreeMap::from([
            ("H/A 级意向客户首呼".to_owned(), 1),
            ("B 级客户回访".to_owned(), 2),
            ("C 级客户激活".to_owned(), 4),
        ])
    );
    // the started tasks have job groups on the (simulated) platform
    assert!(app.sim.stats().requests > 0);

    // a second start seeds nothing more
    assert!(
        server::demo::seed_demo(&app.state, &app.pool, &hasher)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(tasks(&app, &token).await.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_with_a_real_platform_starts_no_task() {
    let app = TestApp::spawn().await;
    let mut state = app.state.clone();
    state.platform_simulated = false;
    let hasher = Argon2Hasher::with_params(1024, 1, 1).unwrap();
    let (_, password) = server::demo::seed_demo(&state, &app.pool, &hasher)
        .await
        .unwrap()
        .expect("seeded");
    let token = app.login_with("admin", &password).await;
    // created, none started: nothing for a real platform to dial
    assert_eq!(
        tasks(&app, &token).await,
        BTreeMap::from([
            ("H/A 级意向客户首呼".to_owned(), 1),
            ("B 级客户回访".to_owned(), 1),
            ("C 级客户激活".to_owned(), 1),
        ])
    );
    assert_eq!(
        app.sim.stats().requests,
        0,
        "no request reached the platform"
    );
}
