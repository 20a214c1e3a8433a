//! The demo data of the embedded default's first start: an organisation tree, an admin with a
//! random password, a few hundred realistic leads, and call tasks in the states an operator
//! meets (see [`seed_tasks`]).

use adapters::db::{DbPool, conn};
use adapters::pg_auth::PgUsers;
use adapters::schema::{service_settings, users};
use adapters::security::Argon2Hasher;
use auth::{NewUser, UserRepository};
use chrono::{Duration, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use kernel::{OrgScope, Role};
use leads::LeadFilterInput;
use leads::LeadInput;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tasks::CreateTaskRequest;

use crate::state::AppState;

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "林", "罗", "高",
];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "强", "磊", "洋", "艳", "勇", "军", "杰", "娟", "涛", "明", "超",
    "秀英", "晓东", "海燕", "建华", "志强", "丽华", "文博", "子涵",
];
const SOURCES: &[&str] = &["汽车之家", "懂车帝", "易车", "官网", "抖音", "到店", "车展"];
const MODELS: &[&str] = &[
    "凯美瑞",
    "卡罗拉",
    "RAV4荣放",
    "汉兰达",
    "雷凌",
    "亚洲龙",
    "威兰达",
    "bZ4X",
];
const STATUSES: &[&str] = &[
    "未跟进",
    "未跟进",
    "未跟进",
    "跟进中",
    "跟进中",
    "已邀约",
    "已到店",
    "战败",
];
const LEVELS: &[&str] = &["H", "A", "A", "B", "B", "B", "C", "C", "N"];
const OWNERS: &[&str] = &["李顾问", "王顾问", "赵顾问", "陈顾问"];

/// Whether the demo was seeded already, or users exist (then it is never seeded).
async fn already_set_up(pool: &DbPool) -> anyhow::Result<bool> {
    let mut c = conn(pool).await?;
    let seeded: Option<String> = service_settings::table
        .filter(service_settings::key.eq("demo_seeded"))
        .select(service_settings::value)
        .first(&mut c)
        .await
        .optional()?;
    let users: i64 = users::table.count().get_result(&mut c).await?;
    Ok(seeded.is_some() || users > 0)
}

const PREFIXES: &[&str] = &[
    "138", "139", "135", "136", "150", "158", "186", "188", "177", "199",
];

/// One of `from`, at random.
fn pick<'a>(rng: &mut StdRng, from: &[&'a str]) -> &'a str {
    from.get(rng.gen_range(0..from.len()))
        .copied()
        .unwrap_or_default()
}

/// Generate `n` demo lead rows (deterministic for a seed).
pub fn demo_leads(n: usize, seed: u64) -> Vec<LeadInput> {
    let mut rng = StdRng::seed_from_u64(seed);
    let now = Utc::now();
    (0..n)
        .map(|i| {
            let name = format!("{}{}", pick(&mut rng, SURNAMES), pick(&mut rng, GIVEN));
            let prefix = pick(&mut rng, PREFIXES);
            let phone = format!("{prefix}{:08}", rng.gen_range(0..100_000_000u32));
            let created = now - Duration::minutes(rng.gen_range(0..60 * 24 * 60));
            LeadInput {
                external_id: Some(format!("DEMO-{:05}", i + 1)),
                customer_name: Some(name),
                phone: Some(phone),
                level: Some(pick(&mut rng, LEVELS).into()),
                source: Some(pick(&mut rng, SOURCES).into()),
                vehicle_model: Some(pick(&mut rng, MODELS).into()),
                status: Some(pick(&mut rng, STATUSES).into()),
                owner_name: Some(pick(&mut rng, OWNERS).into()),
                create_time: Some(created.to_rfc3339()),
                do_not_call: Some(rng.gen_bool(0.03)),
            }
        })
        .collect()
}

/// Seed the demo unless users already exist. Returns the admin's login when it seeded.
pub async fn seed_demo(
    state: &AppState,
    pool: &DbPool,
    hasher: &Argon2Hasher,
) -> anyhow::Result<Option<(String, String)>> {
    if already_set_up(pool).await? {
        return Ok(None);
    }
    let root = state.orgs.create("演示汽车销售服务有限公司", None).await?;
    let dcc = state.orgs.create("DCC 数字客户中心", Some(root.id)).await?;
    let password = crate::boot::random_password();
    let hash = hasher.hash_blocking(&password)?;
    let users_repo = PgUsers::new(pool.clone());
    let mut audit = audit::Entry::cli(audit::Action::UserCreate, Some(root.id));
    audit.actor.name = "demo".into();
    let admin = users_repo
        .create(
            NewUser {
                username: "admin".into(),
                display_name: "演示管理员".into(),
                role: Role::Admin,
                org_id: root.id,
                password_hash: hash,
            },
            Some(audit),
        )
        .await?;
    // the demo's admin acts
    let caller = kernel::Caller {
        user_id: admin.id,
        username: admin.username.clone(),
        org_id: root.id,
        role: Role::Admin,
        scope: OrgScope::new(root.id, [dcc.id]),
        origin: kernel::Origin::default(),
    };
    let rows = demo_leads(300, 20251129);
    let (a, b) = rows.split_at(200);
    state
        .leads
        .import(&caller, Some(root.id), a.iter().cloned().map(Ok).collect())
        .await?;
    state
        .leads
        .import(&caller, Some(dcc.id), b.iter().cloned().map(Ok).collect())
        .await?;
    seed_tasks(state, &caller).await?;
    let mut c = conn(pool).await?;
    diesel::insert_into(service_settings::table)
        .values((
            service_settings::key.eq("demo_seeded"),
            service_settings::value.eq(Utc::now().to_rfc3339()),
        ))
        .on_conflict_do_nothing()
        .execute(&mut c)
        .await?;
    Ok(Some(("admin".into(), password)))
}

/// The demo's call tasks, each over leads of its own intent level and with a script: "H/A",
/// "B" and "C". With the built-in simulator "B" is started (the simulator calls its leads and
/// results come in) and "C" started and paused; with a real platform all three stay created (no
/// demo lead is ever dialled).
pub async fn seed_tasks(state: &AppState, caller: &kernel::Caller) -> anyhow::Result<()> {
    let simulated = state.platform_simulated;
    let plan: &[(&str, &str, &str, bool, bool)] = &[
        // name, level, script, start, pause
        (
            "H/A 级意向客户首呼",
            "H,A",
            "demo-script-first-call",
            false,
            false,
        ),
        (
            "B 级客户回访",
            "B",
            "demo-script-follow-up",
            simulated,
            false,
        ),
        (
            "C 级客户激活",
            "C",
            "demo-script-reactivate",
            simulated,
            simulated,
        ),
    ];
    for &(name, levels, script, start, pause) in plan {
        let created = state
            .tasks
            .create(
                caller,
                CreateTaskRequest {
                    task_name: name.into(),
                    script_id: script.into(),
                    size_desc: None,
                    filters: Some(LeadFilterInput {
                        levels: Some(levels.split(',').map(str::to_owned).collect()),
                        ..Default::default()
                    }),
                    scene_id: None,
                },
            )
            .await?;
        let id = created.task.id;
        if start {
            state.execution.lifecycle.start(caller, id).await?;
        }
        if pause {
            state.execution.lifecycle.suspend(caller, id).await?;
        }
    }
    Ok(())
}
