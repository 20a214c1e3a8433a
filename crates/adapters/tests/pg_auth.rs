//! PgOrgs and PgUsers against real PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::collections::BTreeSet;

use adapters::pg_auth::{PgOrgs, PgUsers};
use auth::{CreateUserError, NewUser, UserRepository};
use common::{audit_entry, setup};
use kernel::{OrgId, Role, UserId};
use org::{CreateOrgError, OrgRepository};

fn ids(orgs: &[org::Organization]) -> BTreeSet<OrgId> {
    orgs.iter().map(|o| o.id).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subtree_holds_the_org_and_its_descendants_only() {
    let (_db, pool) = setup().await;
    let orgs = PgOrgs::new(pool.clone());
    let root = orgs.create("集团", None, audit_entry()).await.unwrap();
    assert_eq!(root.parent_id, None);
    let east = orgs
        .create("华东区", Some(root.id), audit_entry())
        .await
        .unwrap();
    let west = orgs
        .create("华西区", Some(root.id), audit_entry())
        .await
        .unwrap();
    let shop = orgs
        .create("上海店", Some(east.id), audit_entry())
        .await
        .unwrap();
    let team = orgs
        .create("上海店一组", Some(shop.id), audit_entry())
        .await
        .unwrap();
    let other_root = orgs.create("另一集团", None, audit_entry()).await.unwrap();
    assert_eq!(shop.parent_id, Some(east.id));
    assert_eq!(shop.name, "上海店");

    let all = orgs.subtree(root.id).await.unwrap();
    assert_eq!(
        ids(&all),
        BTreeSet::from([root.id, east.id, west.id, shop.id, team.id])
    );

    let sub = orgs.subtree(east.id).await.unwrap();
    assert_eq!(
        ids(&sub),
        BTreeSet::from([east.id, shop.id, team.id]),
        "no parent, sibling or other tree"
    );
    let shop_row = sub.iter().find(|o| o.id == shop.id).unwrap();
    assert_eq!(
        (shop_row.name.as_str(), shop_row.parent_id),
        ("上海店", Some(east.id))
    );

    assert_eq!(
        ids(&orgs.subtree(team.id).await.unwrap()),
        BTreeSet::from([team.id])
    );
    assert_eq!(
        ids(&orgs.subtree(other_root.id).await.unwrap()),
        BTreeSet::from([other_root.id])
    );
    assert!(
        orgs.subtree(OrgId(other_root.id.0 + 1000))
            .await
            .unwrap()
            .is_empty(),
        "unknown org has an empty subtree"
    );

    let tree = org::build_tree(east.id, sub);
    assert_eq!(tree.len(), 1);
    assert_eq!(tree[0].children[0].id, shop.id);
    assert_eq!(tree[0].children[0].children[0].id, team.id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_under_a_missing_parent_is_parent_not_found() {
    let (_db, pool) = setup().await;
    let orgs = PgOrgs::new(pool.clone());
    let root = orgs.create("集团", None, audit_entry()).await.unwrap();
    let err = orgs
        .create("孤儿", Some(OrgId(root.id.0 + 999)), audit_entry())
        .await
        .unwrap_err();
    assert!(matches!(err, CreateOrgError::ParentNotFound), "{err:?}");
    assert_eq!(
        ids(&orgs.subtree(root.id).await.unwrap()),
        BTreeSet::from([root.id])
    );
}

fn new_user(username: &str, org_id: OrgId) -> NewUser {
    NewUser {
        username: username.into(),
        display_name: format!("{username} 显示名"),
        role: Role::Admin,
        org_id,
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$salt$hash".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_are_created_and_found_with_their_org_name() {
    let (_db, pool) = setup().await;
    let org = PgOrgs::new(pool.clone())
        .create("上海店", None, audit_entry())
        .await
        .unwrap();
    let users = PgUsers::new(pool.clone());
    let u = users.create(new_user("alice", org.id), None).await.unwrap();
    assert_eq!(u.username, "alice");
    assert_eq!(u.display_name, "alice 显示名");
    assert_eq!(u.role, Role::Admin);
    assert_eq!(u.org_id, org.id);
    assert_eq!(u.org_name, "上海店");

    let creds = users.find_credentials("alice").await.unwrap().unwrap();
    assert_eq!(creds.user, u);
    assert_eq!(
        creds.password_hash,
        "$argon2id$v=19$m=19456,t=2,p=1$salt$hash"
    );
    assert_eq!(users.find_by_id(u.id).await.unwrap(), Some(u.clone()));

    assert!(users.find_credentials("bob").await.unwrap().is_none());
    assert!(
        users.find_credentials("ALICE").await.unwrap().is_none(),
        "usernames match exactly"
    );
    assert!(
        users
            .find_by_id(UserId(u.id.0 + 1000))
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_username_is_taken_and_unknown_org_is_refused() {
    let (_db, pool) = setup().await;
    let orgs = PgOrgs::new(pool.clone());
    let a = orgs.create("A", None, audit_entry()).await.unwrap();
    let b = orgs.create("B", None, audit_entry()).await.unwrap();
    let users = PgUsers::new(pool.clone());
    let first = users.create(new_user("alice", a.id), None).await.unwrap();

    let err = users
        .create(new_user("alice", b.id), None)
        .await
        .unwrap_err();
    assert!(matches!(err, CreateUserError::UsernameTaken), "{err:?}");
    // the first user is untouched
    assert_eq!(
        users.find_credentials("alice").await.unwrap().unwrap().user,
        first
    );

    let err = users
        .create(new_user("carol", OrgId(b.id.0 + 1000)), None)
        .await
        .unwrap_err();
    assert!(matches!(err, CreateUserError::OrgNotFound), "{err:?}");
    assert!(users.find_credentials("carol").await.unwrap().is_none());
}
