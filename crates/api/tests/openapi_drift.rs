//! The OpenAPI document and the code agree:
//!
//! - the document lists exactly the routes `routes::ENDPOINTS` mounts (method and path),
//! - every operation but login and health requires the `access-token` scheme, and every
//!   operation documents its error responses,
//! - every `ErrorCode` is in the document,
//! - the DTOs the handlers answer with (and the error envelope, health) serialize to JSON that
//!   matches the documented schemas, field by field.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use actix_web::ResponseError;
use api::auth::dto::{LoginData, OrgNodeDto, VerifyData};
use api::envelope::{Items, Paged};
use api::execution::dto::{
    ExecutionPageDto, ExecutionRowDto, FollowRowDto, MonitorDto, RunDto, StartedDto,
    TaskStatisticsDto,
};
use api::health::dto::{CheckDto, ConfigCheckDto};
use api::leads::dto::{ImportResultDto, LeadDto, LeadStatisticsDto, PreviewDto};
use api::openapi::document;
use api::routes::ENDPOINTS;
use api::tasks::dto::{CreatedTaskDto, SceneDto, TaskDto, TaskStatsDto};
use api::{ApiError, ErrorCode};
use chrono::{TimeZone, Utc};
use kernel::{
    Entity, LeadId, OrgId, Page, PageRequest, Role, RunId, SceneId, TaskId, TaskLeadId, UserId,
};
use serde_json::{Value, json};
use tasks::call_status::CallStatus;
use tasks::execution::{ExecutionRow, MonitorStatus, Run, RunStatus, Started, TaskStatistics};
use tasks::{CallTask, CreatedTask, Scene, TaskState};
use testkit::schema::{response_schema, validate};

const TZ: chrono_tz::Tz = chrono_tz::Asia::Shanghai;
const METHODS: [&str; 8] = [
    "get", "post", "put", "delete", "patch", "head", "options", "trace",
];
const PUBLIC: [(&str, &str); 4] = [
    ("post", "/api/login"),
    ("get", "/api/health"),
    ("get", "/api/health/live"),
    ("get", "/api/health/ready"),
];
/// What a user who must change a reset password may still do (every other authenticated
/// operation answers 403 `password_change_required`).
const PENDING_ALLOWED: [(&str, &str); 3] = [
    ("post", "/api/me/password"),
    ("post", "/api/logout"),
    ("get", "/api/auth/verify"),
];

fn doc() -> Value {
    serde_json::to_value(document()).unwrap()
}

/// (method, path) → operation.
fn operations(doc: &Value) -> BTreeMap<(String, String), Value> {
    let mut out = BTreeMap::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if METHODS.contains(&method.as_str()) {
                out.insert((method.clone(), path.clone()), op.clone());
            }
        }
    }
    out
}

#[test]
fn openapi_lists_exactly_the_mounted_routes() {
    let mounted: Vec<(String, String)> = ENDPOINTS
        .iter()
        .map(|e| (e.method.as_str().to_lowercase(), e.full_path()))
        .collect();
    let mounted_set: BTreeSet<_> = mounted.iter().cloned().collect();
    assert_eq!(mounted.len(), mounted_set.len(), "a route is mounted twice");
    let documented: BTreeSet<_> = operations(&doc()).into_keys().collect();
    let undocumented: Vec<_> = mounted_set.difference(&documented).collect();
    let unmounted: Vec<_> = documented.difference(&mounted_set).collect();
    assert!(
        undocumented.is_empty(),
        "routes missing from the OpenAPI document: {undocumented:?}"
    );
    assert!(
        unmounted.is_empty(),
        "documented operations that are not mounted: {unmounted:?}"
    );
}

#[test]
fn openapi_is_3_1_with_the_access_token_scheme() {
    let doc = doc();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let scheme = &doc["components"]["securitySchemes"]["access_token"];
    assert_eq!(scheme["type"], "apiKey");
    assert_eq!(scheme["in"], "header");
    assert_eq!(scheme["name"], "access-token");
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer_token"]["scheme"],
        "bearer"
    );
}

#[test]
fn openapi_operations_declare_security_and_errors() {
    let doc = doc();
    let mut ids = BTreeSet::new();
    for ((method, path), op) in operations(&doc) {
        let id = op["operationId"].as_str().unwrap_or_default().to_owned();
        assert!(
            !id.is_empty() && ids.insert(id.clone()),
            "{method} {path}: operationId `{id}` missing or not unique"
        );
        let security = op
            .get("security")
            .and_then(|s| s.as_array())
            .cloned()
            .unwrap_or_default();
        let secured = security.iter().any(|r| r.get("access_token").is_some());
        let public = PUBLIC.contains(&(method.as_str(), path.as_str()));
        if public {
            assert!(
                security
                    .iter()
                    .all(|r| r.as_object().is_some_and(|o| o.is_empty())),
                "{method} {path} must be public"
            );
        } else {
            assert!(
                secured,
                "{method} {path} lacks the access_token security requirement"
            );
        }
        let statuses: Vec<u16> = op["responses"]
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.parse().unwrap())
            .collect();
        assert!(statuses.contains(&200), "{method} {path}: no 200 response");
        // a download answers a file; everything else the JSON envelope
        let download = op["responses"]["200"]["content"].get("text/csv").is_some();
        assert!(
            download || response_schema(&doc, &method, &path, 200).is_some(),
            "{method} {path}: 200 has no JSON schema"
        );
        assert!(
            statuses.iter().any(|s| *s >= 400),
            "{method} {path}: no error response"
        );
        if !public {
            assert!(
                statuses.contains(&401),
                "{method} {path}: authenticated but no 401"
            );
            let pending = PENDING_ALLOWED.contains(&(method.as_str(), path.as_str()));
            let codes_403 = response_schema(&doc, &method, &path, 403)
                .map(|s| s["allOf"][1]["properties"]["error"]["enum"].clone())
                .unwrap_or_default();
            assert_eq!(
                codes_403
                    .as_array()
                    .is_some_and(|c| c.iter().any(|c| c == "password_change_required")),
                !pending,
                "{method} {path}: 403 password_change_required documented wrongly"
            );
        }
        // liveness never touches the database (health documents its own 503)
        if !matches!(path.as_str(), "/api/health" | "/api/health/live") {
            assert!(
                statuses.contains(&503),
                "{method} {path}: reaches the database but no 503"
            );
        }
        if op.get("requestBody").is_some() {
            assert!(
                statuses.contains(&400) && statuses.contains(&413),
                "{method} {path}: a JSON body but no 400/413"
            );
        }
        if op.get("parameters").is_some() {
            assert!(
                statuses.contains(&400),
                "{method} {path}: query parameters but no 400"
            );
        }
        for status in statuses.iter().filter(|s| **s >= 400) {
            let schema = response_schema(&doc, &method, &path, *status)
                .unwrap_or_else(|| panic!("{method} {path}: {status} has no JSON schema"));
            assert!(!schema.is_null());
        }
    }
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            if let Some(Value::String(r)) = o.get("$ref") {
                out.push(r.clone());
            }
            o.values().for_each(|v| collect_refs(v, out));
        }
        Value::Array(a) => a.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

#[test]
fn openapi_refs_resolve() {
    let doc = doc();
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(!refs.is_empty());
    for r in refs {
        assert!(
            doc.pointer(r.trim_start_matches('#')).is_some(),
            "unresolved $ref {r}"
        );
    }
}

#[test]
fn openapi_knows_every_error_code() {
    let codes: BTreeSet<String> = ErrorCode::ALL
        .iter()
        .map(|c| c.as_str().to_owned())
        .collect();
    let doc = doc();
    let documented: BTreeSet<String> = doc["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    let missing: Vec<_> = codes.difference(&documented).collect();
    assert!(
        missing.is_empty() && codes.len() == documented.len(),
        "ErrorCode and its documented enum differ: {missing:?}"
    );
    // every response component only names documented codes
    for (name, response) in doc["components"]["responses"].as_object().unwrap() {
        let schema = &response["content"]["application/json"]["schema"];
        for code in schema["allOf"][1]["properties"]["error"]["enum"]
            .as_array()
            .unwrap()
        {
            assert!(
                documented.contains(code.as_str().unwrap()),
                "{name}: unknown code {code}"
            );
        }
        let example = &response["content"]["application/json"]["example"];
        let errors = validate(&doc, schema, example);
        assert!(
            errors.is_empty(),
            "example of {name} does not match its schema: {errors:?}"
        );
    }
}

// ----------------------------------------------------------------------------------------------
// The handlers' JSON against the schemas

fn to_json(dto: impl serde::Serialize) -> Value {
    serde_json::to_value(dto).unwrap()
}

fn success(data: Value) -> Value {
    json!({ "status": "success", "code": 200, "message": "成功", "data": data })
}

#[track_caller]
fn assert_matches(doc: &Value, method: &str, path: &str, status: u16, body: &Value) {
    let schema = response_schema(doc, method, path, status)
        .unwrap_or_else(|| panic!("no schema for {method} {path} {status}"));
    let errors = validate(doc, &schema, body);
    assert!(
        errors.is_empty(),
        "{method} {path} {status}: the JSON does not match the document:\n{}\nbody: {body}",
        errors.join("\n")
    );
}

#[track_caller]
fn assert_mismatch(doc: &Value, method: &str, path: &str, body: &Value) {
    let schema = response_schema(doc, method, path, 200).unwrap();
    assert!(
        !validate(doc, &schema, body).is_empty(),
        "{method} {path}: the check accepted a wrong body: {body}"
    );
}

fn time(h: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 11, 10, h, 0, 0).unwrap()
}

fn task(state: TaskState, started: bool) -> CallTask {
    CallTask {
        id: TaskId(7),
        org_id: OrgId(1),
        task_name: "双十一回访".into(),
        state,
        create_time: time(1),
        update_time: time(2),
        leads_count: 12,
        script_id: if started {
            "script-1".into()
        } else {
            String::new()
        },
        job_group_id: started.then(|| "jg-1".to_owned()),
        size_desc: "意向级别: H/A".into(),
        called_count: 3,
        connected_count: 1,
    }
}

fn lead(called: bool) -> leads::Lead {
    leads::Lead {
        id: LeadId(1),
        org_id: OrgId(1),
        customer_name: "张三".into(),
        phone: "13812345678".into(),
        level: "H".into(),
        source: "汽车之家".into(),
        vehicle_model: "凯美瑞".into(),
        status: "未跟进".into(),
        owner_name: "李四".into(),
        create_time: time(1),
        last_call_time: called.then(|| time(3)),
        call_count: i32::from(called),
        do_not_call: false,
        external_id: called.then(|| "ext-1".to_owned()),
    }
}

fn row(done: bool) -> ExecutionRow {
    ExecutionRow {
        id: TaskLeadId(1),
        lead_id: LeadId(2),
        customer_name: "张三".into(),
        phone: "13812345678".into(),
        call_status: if done {
            CallStatus::Connected
        } else {
            CallStatus::Pending
        },
        attempts: i32::from(done),
        last_call_time: done.then(|| time(3)),
        duration_seconds: done.then_some(42),
        intent_level: done.then(|| "A".to_owned()),
        job_id: done.then(|| "job-1".to_owned()),
        intent_tags: if done {
            vec!["有购车意向".into()]
        } else {
            vec![]
        },
        summary: done.then(|| "客户有意向".to_owned()),
        follow_suggestion: done.then(|| "三天内回访".to_owned()),
    }
}

fn page<T>(items: Vec<T>) -> Page<T> {
    let n = items.len() as i64;
    Page::new(items, PageRequest::new(Some(1), Some(20)).unwrap(), n)
}

fn user() -> auth::User {
    auth::User {
        id: UserId(3),
        username: "admin".into(),
        display_name: "管理员".into(),
        role: Role::Admin,
        org_id: OrgId(1),
        org_name: "总部".into(),
        enabled: true,
        password_change_required: false,
        created_at: time(9),
    }
}

fn body_of(resp: actix_web::HttpResponse) -> (u16, Value) {
    let status = resp.status().as_u16();
    let bytes = futures::executor::block_on(actix_web::body::to_bytes(resp.into_body())).unwrap();
    (status, serde_json::from_slice(&bytes).unwrap())
}

#[test]
fn openapi_schemas_match_auth_and_health_json() {
    let doc = doc();
    for db_ok in [true, false] {
        let resp = match api::health::health_answer(db_ok) {
            Ok(r) => r,
            Err(e) => e.error_response(),
        };
        let (status, body) = body_of(resp);
        assert_eq!(status, if db_ok { 200 } else { 503 });
        assert_matches(&doc, "get", "/api/health", status, &body);
    }
    let session = auth::Session {
        access_token: "t.o.k".into(),
        expires_in: 3600,
        user: user(),
    };
    assert_matches(
        &doc,
        "post",
        "/api/login",
        200,
        &success(to_json(LoginData::from(&session))),
    );
    assert_matches(
        &doc,
        "get",
        "/api/auth/verify",
        200,
        &success(to_json(VerifyData::new(&user(), 1_762_000_000, TZ))),
    );
    let tree = vec![org::OrgNode {
        id: OrgId(1),
        name: "总部".into(),
        parent_id: None,
        children: vec![org::OrgNode {
            id: OrgId(2),
            name: "门店".into(),
            parent_id: Some(OrgId(1)),
            children: vec![],
        }],
    }];
    assert_matches(
        &doc,
        "get",
        "/api/organizations",
        200,
        &success(to_json(Items::of(tree.clone(), OrgNodeDto::from))),
    );
    let child = tree[0].children[0].clone();
    assert_matches(
        &doc,
        "post",
        "/api/organizations",
        200,
        &success(to_json(OrgNodeDto::from(child))),
    );
}

#[test]
fn openapi_schemas_match_account_json() {
    use api::accounts::dto::{AccountDto, LogoutData, ResetPasswordData};
    let doc = doc();
    let pending = auth::User {
        password_change_required: true,
        enabled: false,
        ..user()
    };
    let account = to_json(AccountDto::new(&pending, TZ));
    assert_eq!(account["password_change_required"], true);
    assert!(account.get("password_hash").is_none());
    for (method, path) in [
        ("post", "/api/users"),
        ("post", "/api/users/update"),
        ("post", "/api/users/disable"),
        ("post", "/api/users/enable"),
    ] {
        assert_matches(&doc, method, path, 200, &success(account.clone()));
    }
    assert_matches(
        &doc,
        "get",
        "/api/users",
        200,
        &success(to_json(Paged::of(
            page(vec![user(), pending.clone()]),
            |u| AccountDto::new(&u, TZ),
        ))),
    );
    assert_matches(
        &doc,
        "post",
        "/api/users/reset-password",
        200,
        &success(to_json(ResetPasswordData {
            user: AccountDto::new(&pending, TZ),
            temporary_password: "Kq7mXwR2pTz9Hc".into(),
        })),
    );
    let session = auth::Session {
        access_token: "t.o.k".into(),
        expires_in: 3600,
        user: user(),
    };
    assert_matches(
        &doc,
        "post",
        "/api/me/password",
        200,
        &success(to_json(LoginData::from(&session))),
    );
    assert_matches(
        &doc,
        "post",
        "/api/logout",
        200,
        &success(to_json(LogoutData { logged_out: true })),
    );
}

#[test]
fn openapi_schemas_match_lead_json() {
    let doc = doc();
    let leads_page = Paged::of(page(vec![lead(false), lead(true)]), |l| LeadDto::new(l, TZ));
    assert_matches(
        &doc,
        "get",
        "/api/leads",
        200,
        &success(serde_json::to_value(&leads_page).unwrap()),
    );
    let empty = Paged::of(page(Vec::<leads::Lead>::new()), |l| LeadDto::new(l, TZ));
    assert_matches(
        &doc,
        "get",
        "/api/leads",
        200,
        &success(serde_json::to_value(&empty).unwrap()),
    );
    let counts = leads::ImportCounts {
        inserted: 2,
        updated: 1,
        unchanged: 0,
        rejected: vec![leads::ImportRejection {
            index: 3,
            error: "phone must be a mainland mobile number".into(),
        }],
    };
    assert_matches(
        &doc,
        "post",
        "/api/leads/import",
        200,
        &success(to_json(ImportResultDto::from(counts))),
    );
    let stats = leads::LeadStatistics {
        total: 3,
        callable: 2,
        by_level: [("H".to_owned(), 2)].into(),
        by_source: [("汽车之家".to_owned(), 3)].into(),
        by_status: [("未跟进".to_owned(), 3)].into(),
    };
    assert_matches(
        &doc,
        "get",
        "/api/leads/statistics",
        200,
        &success(to_json(LeadStatisticsDto::from(stats))),
    );
    let preview = leads::FilterPreview {
        matched: 5,
        deduplicated: 3,
        excluded_do_not_call: 1,
        excluded_in_active_tasks: 1,
    };
    assert_matches(
        &doc,
        "post",
        "/api/leads/preview",
        200,
        &success(to_json(PreviewDto::from(preview))),
    );

    // the check does catch drift: an undocumented field, a wrong type, a missing field
    let mut extra = to_json(LeadDto::new(lead(true), TZ));
    extra["secret"] = json!(1);
    assert_mismatch(
        &doc,
        "get",
        "/api/leads",
        &success(json!({ "items": [extra], "pagination": leads_page.pagination })),
    );
    let mut wrong = to_json(LeadDto::new(lead(true), TZ));
    wrong["call_count"] = json!("1");
    assert_mismatch(
        &doc,
        "get",
        "/api/leads",
        &success(json!({ "items": [wrong], "pagination": leads_page.pagination })),
    );
    let mut missing = to_json(LeadDto::new(lead(true), TZ));
    missing.as_object_mut().unwrap().remove("external_id");
    assert_mismatch(
        &doc,
        "get",
        "/api/leads",
        &success(json!({ "items": [missing], "pagination": leads_page.pagination })),
    );
}

#[test]
fn openapi_schemas_match_task_json() {
    let doc = doc();
    let created = CreatedTask {
        task: task(TaskState::Created, false),
        duplicates_removed: 2,
    };
    assert_matches(
        &doc,
        "post",
        "/api/create-autoCall-tasks",
        200,
        &success(to_json(CreatedTaskDto::new(created, TZ))),
    );
    let tasks = Paged::of(
        page(vec![
            task(TaskState::Created, false),
            task(TaskState::Running, true),
        ]),
        |t| TaskDto::new(t, TZ),
    );
    assert_matches(
        &doc,
        "get",
        "/api/task_list",
        200,
        &success(serde_json::to_value(&tasks).unwrap()),
    );
    assert_matches(
        &doc,
        "get",
        "/api/tasks",
        200,
        &success(json!({ "items": tasks.items })),
    );
    for path in [
        "/api/update-script-id",
        "/api/suspend-resume-task",
        "/api/stop-call-task",
    ] {
        for t in [
            task(TaskState::Created, false),
            task(TaskState::Stopped, true),
        ] {
            assert_matches(
                &doc,
                "post",
                path,
                200,
                &success(to_json(TaskDto::new(t, TZ))),
            );
        }
    }
    let stats = tasks::TaskStats {
        total_tasks: 2,
        by_type: (1..=5).map(|c| (c.to_string(), 0)).collect(),
        total_leads: 10,
        called: 4,
        connected: 1,
        connect_rate: 0.25,
    };
    assert_matches(
        &doc,
        "get",
        "/api/task-stats",
        200,
        &success(to_json(TaskStatsDto::from(stats))),
    );
    let filters: leads::LeadFilterInput =
        serde_json::from_value(json!({"levels": ["H"], "created_from": "2025-11-01"})).unwrap();
    let scenes: Vec<Value> = [filters, leads::LeadFilterInput::default()]
        .into_iter()
        .map(|filters| Scene {
            id: SceneId(1),
            org_id: OrgId(1),
            scene_name: "回访".into(),
            script_id: "script-1".into(),
            description: String::new(),
            filters,
            create_time: time(1),
        })
        .map(|s| to_json(SceneDto::new(s, TZ)))
        .collect();
    assert_matches(
        &doc,
        "post",
        "/api/create_scene",
        200,
        &success(scenes[0].clone()),
    );
    assert_matches(
        &doc,
        "get",
        "/api/scenes",
        200,
        &success(json!({ "items": scenes })),
    );
}

#[test]
fn openapi_schemas_match_execution_json() {
    let doc = doc();
    let started = Started {
        task_id: TaskId(7),
        job_group_id: "jg-1".into(),
        leads_total: 12,
    };
    assert_matches(
        &doc,
        "post",
        "/api/start-call-task",
        200,
        &success(to_json(StartedDto::from(started))),
    );

    let rows = page(vec![row(false), row(true)]);
    let exec_page = Paged::of(rows, |r| ExecutionRowDto::new(r, TZ));
    let summary: BTreeMap<String, i64> = CallStatus::ALL
        .iter()
        .map(|s| (s.as_str().to_owned(), 1))
        .collect();
    assert_matches(
        &doc,
        "post",
        "/api/query-task-execution",
        200,
        &success(to_json(ExecutionPageDto {
            items: exec_page.items,
            pagination: exec_page.pagination,
            summary,
        })),
    );
    // every call status the domain knows is documented
    for status in CallStatus::ALL {
        let mut r = row(true);
        r.call_status = status;
        let body = success(to_json(Paged::of(page(vec![r]), |r| {
            FollowRowDto::new(r, TZ)
        })));
        assert_matches(&doc, "get", "/api/get-leads-follow", 200, &body);
    }

    for (t, finished) in [
        (task(TaskState::Running, true), 3),
        (task(TaskState::Created, false), 0),
    ] {
        let s = TaskStatistics {
            leads_total: if finished > 0 { 12 } else { 0 },
            dispatched: 12,
            called: 4,
            connected: 1,
            avg_duration_seconds: 31.5,
            by_call_status: [("connected".to_owned(), 1)].into(),
            by_intent_level: [("A".to_owned(), 1)].into(),
            finished,
        };
        assert_matches(
            &doc,
            "get",
            "/api/task-statistics",
            200,
            &success(to_json(TaskStatisticsDto::new(&t, s))),
        );
    }

    for (status, total, processed) in [
        (RunStatus::Pending, 0, 0),
        (RunStatus::Running, 12, 5),
        (RunStatus::Succeeded, 12, 12),
        (RunStatus::Failed, 12, 3),
    ] {
        let run = Run {
            id: RunId(9),
            task_id: TaskId(7),
            status,
            total,
            processed,
            next_page: 1,
            started_at: (status != RunStatus::Pending).then(|| time(4)),
            finished_at: status.is_finished().then(|| time(5)),
            error: (status == RunStatus::Failed).then(|| "平台不可用".to_owned()),
        };
        for (method, path) in [
            ("post", "/api/start-query-execution-run"),
            ("get", "/api/get-query-execution-run"),
        ] {
            let body = success(to_json(RunDto::new(run.clone(), TZ)));
            assert_matches(&doc, method, path, 200, &body);
        }
    }

    for last_tick_at in [None, Some(time(6))] {
        let status = MonitorStatus {
            running: true,
            interval: Duration::from_secs(10),
            last_tick_at,
            last_error: last_tick_at.map(|_| "platform unavailable".to_owned()),
            tasks_watched: 2,
        };
        let body = success(to_json(MonitorDto::new(status, TZ)));
        assert_matches(&doc, "post", "/api/auto-task", 200, &body);
    }
    let checks = [
        ops::Check::Database(true),
        ops::Check::Migrations(None),
        ops::Check::PlatformConfigured(false),
        ops::Check::PlatformReachable(ops::PlatformReach::Rejected("Forbidden".into())),
        ops::Check::TokenSecret(40),
        ops::Check::Monitor(ops::MonitorState::Stale),
    ];
    let body = success(to_json(ConfigCheckDto {
        checks: checks.iter().map(CheckDto::from).collect(),
    }));
    assert_matches(&doc, "get", "/api/config-check", 200, &body);
}

#[test]
fn openapi_schemas_match_error_envelopes() {
    let doc = doc();
    let cases: Vec<(&str, &str, ApiError)> = vec![
        (
            "get",
            "/api/task_list",
            ApiError::from(kernel::PageError::PageSize),
        ),
        ("get", "/api/task_list", ApiError::unauthorized()),
        ("get", "/api/config-check", ApiError::forbidden()),
        (
            "post",
            "/api/stop-call-task",
            ApiError::from(tasks::TaskError::NotFound(Entity::Task)),
        ),
        (
            "post",
            "/api/stop-call-task",
            ApiError::from(tasks::TaskError::InvalidState(TaskState::Stopped)),
        ),
        (
            "post",
            "/api/login",
            ApiError::from(auth::LoginError::InvalidCredentials),
        ),
        (
            "post",
            "/api/login",
            ApiError::from(auth::LoginError::TooManyAttempts { retry_after: 60 }),
        ),
        ("post", "/api/login", ApiError::db_unavailable()),
        (
            "post",
            "/api/create-autoCall-tasks",
            ApiError::from(tasks::TaskError::NoMatchingLeads),
        ),
        (
            "post",
            "/api/start-call-task",
            ApiError::from(tasks::execution::ExecError::NotStartable(
                TaskState::Running,
            )),
        ),
        (
            "post",
            "/api/start-call-task",
            ApiError::from(tasks::execution::ExecError::ScriptNotSet),
        ),
        (
            "post",
            "/api/start-call-task",
            ApiError::from(tasks::execution::ExecError::Platform(
                tasks::PlatformError::NotFound,
            )),
        ),
        ("post", "/api/start-call-task", ApiError::db_unavailable()),
    ];
    for (method, path, err) in cases {
        let resp = err.error_response();
        if err.status().as_u16() == 429 {
            assert!(resp.headers().contains_key("retry-after"));
        }
        let (status, body) = body_of(resp);
        assert_matches(&doc, method, path, status, &body);
    }
    // a code that does not belong to the status is refused
    let wrong = json!({ "status": "error", "code": 409, "message": "x", "error": "not_found", "data": null });
    let schema = response_schema(&doc, "post", "/api/stop-call-task", 409).unwrap();
    assert!(!validate(&doc, &schema, &wrong).is_empty());
}
