//! Helpers shared by the adapter tests: a fresh database per test, organisations, users, leads
//! and tasks built through the repositories themselves, and a few direct writes that simulate
//! what other parts of the system would have done.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use adapters::db::{DbPool, conn, make_pool};
use adapters::pg_auth::{PgOrgs, PgUsers};
use adapters::pg_leads::PgLeads;
use adapters::pg_tasks::PgTasks;
use adapters::schema::{call_tasks, dcc_leads, leads_task_list};
use auth::{NewUser, UserRepository};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use kernel::{OrgId, OrgScope, Role, TaskId, UserId};
use leads::{ImportCounts, LeadFilter, LeadFilterInput, LeadInput, LeadRepository, NewLead};
use org::OrgRepository;
use tasks::{CreatedTask, NewTask, TaskRepository};
use testkit::TestDb;

pub const TZ: Tz = chrono_tz::Asia::Shanghai;

/// A fresh migrated database and a pool over it (keep the `TestDb` alive for the test).
pub async fn setup() -> (TestDb, DbPool) {
    let db = TestDb::new().await.unwrap();
    let pool = make_pool(&db.url, &Default::default()).unwrap();
    (db, pool)
}

/// Create an organisation.
pub async fn org(pool: &DbPool, name: &str, parent: Option<OrgId>) -> OrgId {
    PgOrgs::new(pool.clone())
        .create(name, parent, audit_entry())
        .await
        .unwrap()
        .id
}

/// Create an operator in `org` (the hash is not checked by these tests).
pub async fn user(pool: &DbPool, org: OrgId, username: &str) -> UserId {
    PgUsers::new(pool.clone())
        .create(
            NewUser {
                username: username.into(),
                display_name: username.into(),
                role: Role::Operator,
                org_id: org,
                password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"
                    .into(),
            },
            None,
        )
        .await
        .unwrap()
        .id
}

/// The scope of `org` resolved through the real organisation tree.
pub async fn scope_of(pool: &DbPool, org: OrgId) -> OrgScope {
    let orgs = PgOrgs::new(pool.clone()).subtree(org).await.unwrap();
    OrgScope::new(org, orgs.into_iter().map(|o| o.id))
}

/// A mainland mobile number from a small integer.
pub fn phone(i: usize) -> String {
    format!("138{i:08}")
}

/// A lead row with name and phone.
pub fn lead(phone: &str, name: &str) -> LeadInput {
    LeadInput {
        phone: Some(phone.into()),
        customer_name: Some(name.into()),
        ..Default::default()
    }
}

/// Validate rows as the service would (index = position).
pub fn rows(inputs: Vec<LeadInput>) -> Vec<(usize, NewLead)> {
    inputs
        .into_iter()
        .enumerate()
        .map(|(i, r)| (i, r.validate(TZ).unwrap()))
        .collect()
}

/// Import rows into `org`.
pub async fn import(pool: &DbPool, org: OrgId, inputs: Vec<LeadInput>) -> ImportCounts {
    PgLeads::new(pool.clone())
        .import(org, rows(inputs), audit_entry())
        .await
        .unwrap()
}

/// Import `n` leads with phones `phone(start..start+n)`.
pub async fn import_n(pool: &DbPool, org: OrgId, start: usize, n: usize) {
    let inputs = (start..start + n)
        .map(|i| lead(&phone(i), &format!("客户{i}")))
        .collect();
    let c = import(pool, org, inputs).await;
    assert_eq!(c.inserted, n as i64);
}

/// A validated filter from JSON.
pub fn filter(json: serde_json::Value) -> LeadFilter {
    serde_json::from_value::<LeadFilterInput>(json)
        .unwrap()
        .validate(TZ)
        .unwrap()
}

/// A task to create, owned by `org_id`.
pub fn new_task(name: &str, org_id: OrgId, created_by: UserId) -> NewTask {
    NewTask {
        org_id,
        task_name: name.into(),
        script_id: "script-1".into(),
        size_desc: "全部线索".into(),
        filters: LeadFilterInput::default(),
        created_by,
    }
}

/// An audit entry for the repository methods that write one (by the CLI).
pub fn audit_entry() -> audit::Entry {
    audit::Entry::cli(audit::Action::TaskCreate, None)
}

/// Create a task from `f` in `scope`, owned by the scope's root.
pub async fn create_task(
    pool: &DbPool,
    scope: &OrgScope,
    f: &LeadFilter,
    name: &str,
    by: UserId,
) -> Option<CreatedTask> {
    PgTasks::new(pool.clone())
        .create_from_filter(scope, f, new_task(name, scope.root(), by), audit_entry())
        .await
        .unwrap()
}

/// Set a task's state code directly (simulates what the execution side would have done).
pub async fn set_task_type(pool: &DbPool, task: TaskId, code: i16) {
    let mut c = conn(pool).await.unwrap();
    diesel::update(call_tasks::table.find(task.0))
        .set(call_tasks::task_type.eq(code))
        .execute(&mut c)
        .await
        .unwrap();
}

/// Number of tasks stored.
pub async fn task_rows(pool: &DbPool) -> i64 {
    let mut c = conn(pool).await.unwrap();
    call_tasks::table.count().get_result(&mut c).await.unwrap()
}

/// (task lead id, lead id, phone, call_status) of a task, by id.
pub async fn task_leads(pool: &DbPool, task: TaskId) -> Vec<(i64, i64, String, String)> {
    let mut c = conn(pool).await.unwrap();
    leads_task_list::table
        .filter(leads_task_list::task_id.eq(task.0))
        .select((
            leads_task_list::id,
            leads_task_list::lead_id,
            leads_task_list::phone,
            leads_task_list::call_status,
        ))
        .order(leads_task_list::id)
        .load(&mut c)
        .await
        .unwrap()
}

/// Phones of a task's leads, sorted.
pub async fn task_phones(pool: &DbPool, task: TaskId) -> Vec<String> {
    let mut p: Vec<String> = task_leads(pool, task)
        .await
        .into_iter()
        .map(|r| r.2)
        .collect();
    p.sort();
    p
}

/// Lead id of the lead with this phone and external id in `org`.
pub async fn lead_id(pool: &DbPool, org: OrgId, phone: &str, external_id: Option<&str>) -> i64 {
    let mut c = conn(pool).await.unwrap();
    let mut q = dcc_leads::table
        .filter(dcc_leads::org_id.eq(org.0))
        .filter(dcc_leads::phone.eq(phone.to_owned()))
        .select(dcc_leads::id)
        .into_boxed();
    q = match external_id {
        Some(e) => q.filter(dcc_leads::external_id.eq(e.to_owned())),
        None => q.filter(dcc_leads::external_id.is_null()),
    };
    q.first(&mut c).await.unwrap()
}

/// (call_count, last_call_time) of a lead.
pub async fn lead_calls(pool: &DbPool, id: i64) -> (i32, Option<DateTime<Utc>>) {
    let mut c = conn(pool).await.unwrap();
    dcc_leads::table
        .find(id)
        .select((dcc_leads::call_count, dcc_leads::last_call_time))
        .first(&mut c)
        .await
        .unwrap()
}

/// Set a lead's call history directly (what applied results would have written).
pub async fn set_lead_calls(
    pool: &DbPool,
    id: i64,
    call_count: i32,
    last_call_time: Option<DateTime<Utc>>,
) {
    let mut c = conn(pool).await.unwrap();
    diesel::update(dcc_leads::table.find(id))
        .set((
            dcc_leads::call_count.eq(call_count),
            dcc_leads::last_call_time.eq(last_call_time),
        ))
        .execute(&mut c)
        .await
        .unwrap();
}

/// A time in Beijing time.
pub fn at(s: &str) -> DateTime<Utc> {
    kernel::parse_time(s, TZ).unwrap()
}

/// Poll (with a deadline) until `n` backends of this database wait for a lock.
pub async fn wait_for_lock_waiters(pool: &DbPool, n: i64) {
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let mut c = conn(pool).await.unwrap();
        let got: N = diesel::sql_query(
            "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .get_result(&mut c)
        .await
        .unwrap();
        if got.n >= n {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "fewer than {n} backends ever waited for a lock"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
