//! Accounts in the browser: an admin onboards an operator, who logs in with it; a reset
//! password is changed on the forced page before anything else; operators never see the admin
//! pages.

use kernel::Role;

use crate::harness::{Browser, Setup};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_creates_an_operator_who_logs_in_and_sees_no_admin_pages() {
    let s = Setup::new().await;
    let (org, _) = s.app.tenant("dealer").await;
    s.app.org("二号店", Some(org)).await;

    let b = Browser::start(&s.served.base).await;
    b.open("/login?next=/users").await;
    b.log_in("dealer-admin", "password123").await;
    assert_eq!(b.path().await, "/users");
    b.wait_text(20, "#users tbody", |t| t.contains("dealer-admin"))
        .await;
    b.fill("#new-username", "xiaowang").await;
    b.fill("#new-display-name", "小王").await;
    b.fill("#new-password", "first-password").await;
    b.click("#user-create button[type=submit]").await;
    b.wait_text(20, "#users .flash", |t| t.contains("已创建用户 xiaowang"))
        .await;
    b.wait_text(20, "#users tbody", |t| {
        t.contains("xiaowang") && t.contains("启用")
    })
    .await;
    // the form emptied itself for the next one
    assert_eq!(
        b.js("return document.querySelector('#new-username').value;")
            .await,
        ""
    );

    b.click("header .who button").await;
    b.wait_for("#login-form").await;
    b.log_in("xiaowang", "first-password").await;
    assert_eq!(b.path().await, "/");
    let nav = b.text("header nav").await;
    assert!(nav.contains("外呼任务") && nav.contains("账号"), "{nav}");
    assert!(
        !nav.contains("用户") && !nav.contains("组织"),
        "admin links shown to an operator: {nav}"
    );
    b.open("/users").await;
    b.wait_text(20, "main h1", |t| t == "403").await;
    b.open("/organizations").await;
    b.wait_text(20, "main h1", |t| t == "403").await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_password_is_shown_once_and_changed_before_anything_else() {
    let s = Setup::new().await;
    let (org, _) = s.app.tenant("dealer").await;
    let op = s.app.user(org, "forgetful", Role::Operator).await;

    let b = Browser::start(&s.served.base).await;
    b.open("/login?next=/users").await;
    b.log_in("dealer-admin", "password123").await;
    b.click(&format!("#user-{op} .actions button:last-child"))
        .await;
    b.wait_for("#temporary-password").await;
    let temporary = b
        .js("return document.querySelector('#temporary-password').value;")
        .await
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(temporary.chars().count(), 14);
    b.wait_text(20, &format!("#user-{op}"), |t| t.contains("待改密码"))
        .await;

    b.click("header .who button").await;
    b.wait_for("#login-form").await;
    b.log_in("forgetful", &temporary).await;
    assert_eq!(b.path().await, "/account", "sent to change the password");
    b.wait_text(20, "main .flash.error", |t| t.contains("重置"))
        .await;
    // nothing else opens until it is changed
    b.open("/").await;
    assert_eq!(b.path().await, "/account");
    b.fill("#current_password", &temporary).await;
    b.fill("#new_password", "my-own-password").await;
    b.fill("#confirm_password", "my-own-password").await;
    b.click("#password-form button[type=submit]").await;
    crate::harness::eventually_path(&b, "/").await;
    b.wait_for("#task-rows").await;
    b.close().await;

    s.app.login_with("forgetful", "my-own-password").await;
}
