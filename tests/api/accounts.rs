//! Accounts: admins manage the users of their subtree, everyone their own password; logout,
//! password changes, resets and disabling end tokens.
use e2e::{TestApp, eventually};
use kernel::Role;
use serde_json::{Value, json};

/// A parent organisation with its admin, and a child organisation with its own admin.
struct Tree {
    parent: i64,
    child: i64,
    parent_admin: String,
    child_admin: String,
    child_admin_id: i64,
}

async fn tree(app: &TestApp) -> Tree {
    let parent = app.org("集团", None).await;
    let child = app.org("门店", Some(parent)).await;
    app.user(parent, "boss", Role::Admin).await;
    let child_admin_id = app.user(child, "manager", Role::Admin).await;
    Tree {
        parent,
        child,
        parent_admin: app.login("boss").await,
        child_admin: app.login("manager").await,
        child_admin_id,
    }
}

fn usernames(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap().to_owned())
        .collect()
}

/// The status of a request with `token`.
async fn status(app: &TestApp, token: &str, path: &str) -> u16 {
    app.get(Some(token), path).await.status.as_u16()
}

#[tokio::test]
async fn the_admin_of_a_child_cannot_see_or_touch_the_parents_users() {
    let app = TestApp::spawn().await;
    let t = tree(&app).await;
    let boss = app
        .get(Some(&t.parent_admin), "/api/users")
        .await
        .expect(200, None);
    let boss_id = boss.data()["items"][0]["id"].as_i64().unwrap();
    let seen = app
        .get(Some(&t.child_admin), "/api/users")
        .await
        .expect(200, None);
    assert_eq!(usernames(seen.data()), ["manager"]);
    app.get(
        Some(&t.child_admin),
        &format!("/api/users?org_id={}", t.parent),
    )
    .await
    .expect(404, Some("not_found"));
    for path in [
        "/api/users/update",
        "/api/users/disable",
        "/api/users/reset-password",
    ] {
        let body = json!({"user_id": boss_id, "display_name": "x"});
        let body = if path.ends_with("update") {
            body
        } else {
            json!({"user_id": boss_id})
        };
        app.post(Some(&t.child_admin), path, body)
            .await
            .expect(404, Some("not_found"));
    }
    // nor create users in it, nor move someone there
    app.post(
        Some(&t.child_admin),
        "/api/users",
        json!({"org_id": t.parent, "username": "spy", "role": "admin", "password": "password123"}),
    )
    .await
    .expect(404, Some("not_found"));
    app.post(
        Some(&t.child_admin),
        "/api/users/update",
        json!({"user_id": t.child_admin_id, "org_id": t.parent}),
    )
    .await
    .expect(404, Some("not_found"));
    let boss = app
        .get(Some(&t.parent_admin), "/api/users")
        .await
        .expect(200, None);
    assert_eq!(boss.data()["items"][0]["display_name"], "boss", "unchanged");
}

#[tokio::test]
async fn the_admin_of_the_parent_manages_the_childs_users() {
    let app = TestApp::spawn().await;
    let t = tree(&app).await;
    let created = app
        .post(
            Some(&t.parent_admin),
            "/api/users",
            json!({"org_id": t.child, "username": "op1", "display_name": "小王", "role": "operator", "password": "first-password"}),
        )
        .await
        .expect(200, None);
    let op = created.data()["id"].as_i64().unwrap();
    assert_eq!(created.data()["org_name"], "门店");
    assert_eq!(created.data()["enabled"], true);
    let token = app.login_with("op1", "first-password").await;
    app.get(Some(&token), "/api/task_list")
        .await
        .expect(200, None);

    // filters: organisation, role, enabled, keyword (case ignored)
    let list = app
        .get(
            Some(&t.parent_admin),
            &format!("/api/users?org_id={}&role=operator", t.child),
        )
        .await
        .expect(200, None);
    assert_eq!(usernames(list.data()), ["op1"]);
    let list = app
        .get(Some(&t.parent_admin), "/api/users?keyword=MANA")
        .await
        .expect(200, None);
    assert_eq!(usernames(list.data()), ["manager"]);

    let changed = app
        .post(
            Some(&t.parent_admin),
            "/api/users/update",
            json!({"user_id": op, "role": "admin", "display_name": "王经理", "org_id": t.parent}),
        )
        .await
        .expect(200, None);
    assert_eq!(changed.data()["role"], "admin");
    assert_eq!(changed.data()["org_id"], t.parent);
    // moved to another organisation: the old token's organisation no longer matches
    app.get(Some(&token), "/api/task_list")
        .await
        .expect(401, Some("unauthorized"));

    app.post(
        Some(&t.parent_admin),
        "/api/users",
        json!({"org_id": t.child, "username": "op1", "role": "operator", "password": "password123"}),
    )
    .await
    .expect(409, Some("username_taken"));
    app.post(
        Some(&t.parent_admin),
        "/api/users",
        json!({"org_id": t.child, "username": "x", "role": "operator", "password": "password123"}),
    )
    .await
    .expect(400, Some("invalid_request"));
    app.post(
        Some(&t.parent_admin),
        "/api/users",
        json!({"org_id": t.child, "username": "op2", "role": "operator", "password": "short"}),
    )
    .await
    .expect(400, Some("invalid_request"));
    let list = app
        .get(Some(&t.parent_admin), "/api/users?keyword=op")
        .await
        .expect(200, None);
    assert_eq!(
        usernames(list.data()),
        ["op1"],
        "nothing was created by the refusals"
    );
}

#[tokio::test]
async fn an_organisation_keeps_its_last_enabled_admin_and_an_admin_their_own_account() {
    let app = TestApp::spawn().await;
    let t = tree(&app).await;
    let boss_id = app
        .get(Some(&t.parent_admin), "/api/users")
        .await
        .expect(200, None)
        .data()["items"][0]["id"]
        .as_i64()
        .unwrap();
    for (path, body) in [
        ("/api/users/disable", json!({"user_id": t.child_admin_id})),
        (
            "/api/users/update",
            json!({"user_id": t.child_admin_id, "role": "operator"}),
        ),
        (
            "/api/users/update",
            json!({"user_id": t.child_admin_id, "org_id": t.parent}),
        ),
    ] {
        app.post(Some(&t.parent_admin), path, body)
            .await
            .expect(409, Some("last_admin"));
    }
    for (path, body) in [
        ("/api/users/disable", json!({"user_id": boss_id})),
        (
            "/api/users/update",
            json!({"user_id": boss_id, "role": "operator"}),
        ),
        (
            "/api/users/update",
            json!({"user_id": boss_id, "org_id": t.child}),
        ),
        ("/api/users/reset-password", json!({"user_id": boss_id})),
    ] {
        app.post(Some(&t.parent_admin), path, body)
            .await
            .expect(409, Some("own_account"));
    }
    app.get(Some(&t.child_admin), "/api/task_list")
        .await
        .expect(200, None);
    app.get(Some(&t.parent_admin), "/api/task_list")
        .await
        .expect(200, None);

    // with a second admin, the first may go; then the second is the last
    let second = app.user(t.child, "deputy", Role::Admin).await;
    app.post(
        Some(&t.parent_admin),
        "/api/users/disable",
        json!({"user_id": t.child_admin_id}),
    )
    .await
    .expect(200, None);
    app.post(
        Some(&t.parent_admin),
        "/api/users/disable",
        json!({"user_id": second}),
    )
    .await
    .expect(409, Some("last_admin"));
}

#[tokio::test]
async fn two_admins_demoting_each_other_at_once_leave_one_admin() {
    let app = TestApp::spawn().await;
    let org = app.org("总部", None).await;
    let a = app.user(org, "admin-a", Role::Admin).await;
    let b = app.user(org, "admin-b", Role::Admin).await;
    let (ta, tb) = (app.login("admin-a").await, app.login("admin-b").await);
    for _ in 0..5 {
        let (ra, rb) = tokio::join!(
            app.post(
                Some(&ta),
                "/api/users/update",
                json!({"user_id": b, "role": "operator"})
            ),
            app.post(
                Some(&tb),
                "/api/users/update",
                json!({"user_id": a, "role": "operator"})
            ),
        );
        let ok = [&ra, &rb]
            .iter()
            .filter(|r| r.status.as_u16() == 200)
            .count();
        assert_eq!(
            ok, 1,
            "exactly one demotion wins: {:?} {:?}",
            ra.body, rb.body
        );
        let loser = if ra.status.as_u16() == 200 { &rb } else { &ra };
        // the loser is refused as last admin, or was demoted before its request was checked
        assert!(
            [403, 409].contains(&loser.status.as_u16()),
            "{:?}",
            loser.body
        );
        // restore both as admins for the next round (directly: no admin may promote... the winner can)
        let (winner_token, demoted) = if ra.status.as_u16() == 200 {
            (&ta, b)
        } else {
            (&tb, a)
        };
        app.post(
            Some(winner_token),
            "/api/users/update",
            json!({"user_id": demoted, "role": "admin"}),
        )
        .await
        .expect(200, None);
    }
}

#[tokio::test]
async fn a_disabled_user_cannot_log_in_and_their_token_is_refused_on_every_instance() {
    let first = TestApp::spawn().await;
    let second = first.another_instance().await;
    let (org, admin) = first.tenant("车行").await;
    let op = first.user(org, "leaver", Role::Operator).await;
    let token = first.login("leaver").await;
    // both instances have seen (and remember) the user
    assert_eq!(status(&first, &token, "/api/task_list").await, 200);
    assert_eq!(status(&second, &token, "/api/task_list").await, 200);
    first
        .post(Some(&admin), "/api/users/disable", json!({"user_id": op}))
        .await
        .expect(200, None);
    // at once where it was disabled, within AUTH_CACHE_MS (1 s) on the other
    assert_eq!(status(&first, &token, "/api/task_list").await, 401);
    eventually(5, "the other instance refuses the token", || async {
        (status(&second, &token, "/api/task_list").await == 401).then_some(())
    })
    .await;
    first
        .post(
            None,
            "/api/login",
            json!({"username": "leaver", "password": "password123"}),
        )
        .await
        .expect(403, Some("account_disabled"));
    first
        .post(
            None,
            "/api/login",
            json!({"username": "leaver", "password": "wrong-one"}),
        )
        .await
        .expect(401, Some("invalid_credentials"));
    first
        .post(Some(&admin), "/api/users/enable", json!({"user_id": op}))
        .await
        .expect(200, None);
    let again = first.login("leaver").await;
    assert_eq!(status(&first, &again, "/api/task_list").await, 200);
    eventually(
        5,
        "the other instance accepts the enabled user again",
        || async { (status(&second, &again, "/api/task_list").await == 200).then_some(()) },
    )
    .await;
}

#[tokio::test]
async fn a_logged_out_token_is_refused_and_the_users_other_tokens_are_not() {
    let first = TestApp::spawn().await;
    let second = first.another_instance().await;
    let (org, _) = first.tenant("车行").await;
    first.user(org, "op", Role::Operator).await;
    let (phone, laptop) = (first.login("op").await, first.login("op").await);
    assert_eq!(status(&second, &phone, "/api/task_list").await, 200);
    let r = first.post(Some(&phone), "/api/logout", json!(null)).await;
    assert_eq!(r.status.as_u16(), 200, "{:?}", r.body);
    assert_eq!(r.data()["logged_out"], true);
    assert_eq!(status(&first, &phone, "/api/task_list").await, 401);
    eventually(
        5,
        "the other instance refuses the logged-out token",
        || async { (status(&second, &phone, "/api/auth/verify").await == 401).then_some(()) },
    )
    .await;
    assert_eq!(status(&first, &laptop, "/api/task_list").await, 200);
    assert_eq!(status(&second, &laptop, "/api/task_list").await, 200);
    first
        .post(Some(&phone), "/api/logout", json!(null))
        .await
        .expect(401, Some("unauthorized"));
}

#[tokio::test]
async fn a_password_change_revokes_older_tokens_and_answers_a_fresh_one() {
    let app = TestApp::spawn().await;
    let (org, _) = app.tenant("车行").await;
    app.user(org, "op", Role::Operator).await;
    let (old, other) = (app.login("op").await, app.login("op").await);
    app.post(
        Some(&old),
        "/api/me/password",
        json!({"current_password": "password123", "new_password": "password123"}),
    )
    .await
    .expect(400, Some("invalid_request"));
    let r = app
        .post(
            Some(&old),
            "/api/me/password",
            json!({"current_password": "password123", "new_password": "a-better-one"}),
        )
        .await
        .expect(200, None);
    let fresh = r.data()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(r.data()["password_change_required"], false);
    for t in [&old, &other] {
        assert_eq!(status(&app, t, "/api/task_list").await, 401);
    }
    assert_eq!(status(&app, &fresh, "/api/task_list").await, 200);
    app.post(
        None,
        "/api/login",
        json!({"username": "op", "password": "password123"}),
    )
    .await
    .expect(401, Some("invalid_credentials"));
    app.login_with("op", "a-better-one").await;
}

#[tokio::test]
async fn wrong_current_passwords_are_throttled_like_logins() {
    let app = TestApp::spawn().await;
    let (org, _) = app.tenant("车行").await;
    app.user(org, "op", Role::Operator).await;
    let token = app.login("op").await;
    let wrong = json!({"current_password": "not-it", "new_password": "a-better-one"});
    for _ in 0..5 {
        app.post(Some(&token), "/api/me/password", wrong.clone())
            .await
            .expect(400, Some("wrong_password"));
    }
    let r = app
        .post(
            Some(&token),
            "/api/me/password",
            json!({"current_password": "password123", "new_password": "a-better-one"}),
        )
        .await
        .expect(429, Some("too_many_attempts"));
    assert!(r.headers.get("retry-after").is_some());
    // the same budget of guesses as the login's
    app.post(
        None,
        "/api/login",
        json!({"username": "op", "password": "password123"}),
    )
    .await
    .expect(429, Some("too_many_attempts"));
    // and nothing changed
    assert_eq!(status(&app, &token, "/api/task_list").await, 200);
}

#[tokio::test]
async fn a_reset_password_must_be_changed_before_anything_else() {
    let app = TestApp::spawn().await;
    let (org, admin) = app.tenant("车行").await;
    let op = app.user(org, "forgetful", Role::Operator).await;
    let before = app.login("forgetful").await;
    let r = app
        .post(
            Some(&admin),
            "/api/users/reset-password",
            json!({"user_id": op}),
        )
        .await
        .expect(200, None);
    let temporary = r.data()["temporary_password"].as_str().unwrap().to_owned();
    assert_eq!(temporary.chars().count(), 14);
    assert_eq!(r.data()["user"]["password_change_required"], true);
    assert_eq!(status(&app, &before, "/api/task_list").await, 401);

    let login = app
        .post(
            None,
            "/api/login",
            json!({"username": "forgetful", "password": temporary}),
        )
        .await
        .expect(200, None);
    assert_eq!(login.data()["password_change_required"], true);
    let pending = login.data()["access_token"].as_str().unwrap().to_owned();
    for path in ["/api/task_list", "/api/leads", "/api/organizations"] {
        app.get(Some(&pending), path)
            .await
            .expect(403, Some("password_change_required"));
    }
    let verify = app
        .get(Some(&pending), "/api/auth/verify")
        .await
        .expect(200, None);
    assert_eq!(verify.data()["password_change_required"], true);
    let changed = app
        .post(
            Some(&pending),
            "/api/me/password",
            json!({"current_password": temporary, "new_password": "my-own-password"}),
        )
        .await
        .expect(200, None);
    let fresh = changed.data()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(status(&app, &pending, "/api/task_list").await, 401);
    assert_eq!(status(&app, &fresh, "/api/task_list").await, 200);
    let again = app
        .post(
            None,
            "/api/login",
            json!({"username": "forgetful", "password": "my-own-password"}),
        )
        .await
        .expect(200, None);
    assert_eq!(again.data()["password_change_required"], false);
}

#[tokio::test]
async fn operators_get_403_on_every_admin_endpoint() {
    let app = TestApp::spawn().await;
    let (org, _) = app.tenant("车行").await;
    let op = app.user(org, "op", Role::Operator).await;
    let token = app.login("op").await;
    app.get(Some(&token), "/api/users")
        .await
        .expect(403, Some("forbidden"));
    for (path, body) in [
        (
            "/api/users",
            json!({"org_id": org, "username": "new-op", "role": "operator", "password": "password123"}),
        ),
        ("/api/users/update", json!({"user_id": op, "role": "admin"})),
        ("/api/users/disable", json!({"user_id": op})),
        ("/api/users/enable", json!({"user_id": op})),
        ("/api/users/reset-password", json!({"user_id": op})),
        (
            "/api/organizations",
            json!({"name": "新店", "parent_id": org}),
        ),
    ] {
        app.post(Some(&token), path, body)
            .await
            .expect(403, Some("forbidden"));
    }
    let me = app
        .get(Some(&token), "/api/auth/verify")
        .await
        .expect(200, None);
    assert_eq!(me.data()["user"]["role"], "operator", "still an operator");
}

#[tokio::test]
async fn admins_create_child_organisations_with_names_unique_among_siblings() {
    let app = TestApp::spawn().await;
    let t = tree(&app).await;
    let r = app
        .post(
            Some(&t.child_admin),
            "/api/organizations",
            json!({"name": "  二号店  ", "parent_id": t.child}),
        )
        .await
        .expect(200, None);
    assert_eq!(r.data()["name"], "二号店");
    assert_eq!(r.data()["parent_id"], t.child);
    let new = r.data()["id"].as_i64().unwrap();
    let tree_now = app
        .get(Some(&t.child_admin), "/api/organizations")
        .await
        .expect(200, None);
    assert_eq!(tree_now.data()["items"][0]["children"][0]["id"], new);
    // the new organisation is in the creator's scope at once
    app.post(
        Some(&t.child_admin),
        "/api/users",
        json!({"org_id": new, "username": "store2", "role": "admin", "password": "password123"}),
    )
    .await
    .expect(200, None);
    app.post(
        Some(&t.child_admin),
        "/api/organizations",
        json!({"name": "二号店", "parent_id": t.child}),
    )
    .await
    .expect(409, Some("org_name_taken"));
    // the same name under another parent is another organisation
    app.post(
        Some(&t.parent_admin),
        "/api/organizations",
        json!({"name": "二号店", "parent_id": t.parent}),
    )
    .await
    .expect(200, None);
    app.post(
        Some(&t.child_admin),
        "/api/organizations",
        json!({"name": "越权", "parent_id": t.parent}),
    )
    .await
    .expect(404, Some("not_found"));
    app.post(
        Some(&t.child_admin),
        "/api/organizations",
        json!({"name": " ", "parent_id": t.child}),
    )
    .await
    .expect(400, Some("invalid_request"));
}

#[tokio::test]
async fn no_response_carries_a_password_hash() {
    let app = TestApp::spawn().await;
    let t = tree(&app).await;
    let created = app
        .post(
            Some(&t.parent_admin),
            "/api/users",
            json!({"org_id": t.child, "username": "op1", "role": "operator", "password": "first-password"}),
        )
        .await
        .expect(200, None);
    let id = created.data()["id"].as_i64().unwrap();
    let mut bodies = vec![created.body.clone()];
    bodies.push(app.get(Some(&t.parent_admin), "/api/users").await.body);
    for path in [
        "/api/users/disable",
        "/api/users/enable",
        "/api/users/reset-password",
    ] {
        bodies.push(
            app.post(Some(&t.parent_admin), path, json!({"user_id": id}))
                .await
                .body,
        );
    }
    bodies.push(
        app.post(
            None,
            "/api/login",
            json!({"username": "boss", "password": "password123"}),
        )
        .await
        .body,
    );
    for body in bodies {
        let text = body.to_string();
        assert!(
            !text.contains("$argon2") && !text.contains("password_hash"),
            "{text}"
        );
    }
}

#[tokio::test]
async fn an_organisation_created_on_one_instance_is_in_the_scopes_of_every_other_within_a_second() {
    let first = TestApp::spawn().await;
    let second = first.another_instance().await;
    let (org, admin) = first.tenant("集团").await;
    // the other instance has the group's scope cached
    assert_eq!(status(&second, &admin, "/api/task_list").await, 200);
    let shop = first
        .post(
            Some(&admin),
            "/api/organizations",
            json!({"name": "一号店", "parent_id": org}),
        )
        .await
        .expect(200, None)
        .data()["id"]
        .as_i64()
        .unwrap();
    // the group's admin creates a user in the new shop through the other instance
    let body =
        json!({"org_id": shop, "username": "shop1", "role": "operator", "password": "password123"});
    eventually(5, "the other instance sees the new shop", || async {
        let r = second.post(Some(&admin), "/api/users", body.clone()).await;
        (r.status == 200).then_some(())
    })
    .await;
}
