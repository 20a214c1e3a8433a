//! Exports of a task's results: the CSV and the XLSX read back equal the API's rows, with every
//! kind of text a lead name can hold; masking; who may download what.
use std::collections::BTreeMap;

use calamine::{Data, Reader, Xlsx};
use e2e::TestApp;
use kernel::Role;
use serde_json::{Value, json};

const NAMES: [&str; 8] = [
    "王先生",
    "李,女士",
    "张 \"老\" 板",
    "赵\n换行",
    "=1+1",
    "@SUM(A1)",
    "-2 客户",
    "+86 客户",
];

/// What a spreadsheet shows for a name (OWASP's prefix on what it would run).
fn shown(name: &str) -> String {
    if name.starts_with(['=', '+', '-', '@']) {
        format!("'{name}")
    } else {
        name.to_owned()
    }
}

struct Done {
    app: TestApp,
    admin: String,
    op: String,
    task: i64,
    /// lead id → the API's row.
    rows: BTreeMap<i64, Value>,
}

async fn completed_task() -> Done {
    let app = TestApp::spawn().await;
    let (org, admin) = app.tenant("车行").await;
    app.user(org, "op", Role::Operator).await;
    let op = app.login("op").await;
    let leads: Vec<Value> = NAMES
        .iter()
        .enumerate()
        .map(|(i, n)| json!({"customer_name": n, "phone": format!("1380013{i:04}"), "level": "H", "source": "懂车帝", "vehicle_model": "凯美瑞, 2.0L"}))
        .collect();
    app.import(&admin, json!(leads)).await.expect(200, None);
    let task = app
        .post(
            Some(&admin),
            "/api/create-autoCall-tasks",
            json!({"task_name": "十一月/回访, 第1批", "script_id": "s"}),
        )
        .await
        .expect(200, None)
        .data()["task_id"]
        .as_i64()
        .unwrap();
    app.post(
        Some(&admin),
        "/api/start-call-task",
        json!({"task_id": task}),
    )
    .await
    .expect(200, None);
    app.wait_completed(&admin, task, 60).await;
    let page = app
        .post(
            Some(&admin),
            "/api/query-task-execution",
            json!({"task_id": task, "page_size": 100, "refresh": true}),
        )
        .await
        .expect(200, None);
    let rows = page.data()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["lead_id"].as_i64().unwrap(), r.clone()))
        .collect();
    Done {
        app,
        admin,
        op,
        task,
        rows,
    }
}

async fn download(app: &TestApp, token: &str, query: &str) -> reqwest::Response {
    app.client
        .get(format!("{}/api/export-task-results?{query}", app.base))
        .header("access-token", token)
        .send()
        .await
        .unwrap()
}

/// The cells of a row as text, as the API's row says they must be.
fn expected(api: &Value, name: &str) -> Vec<String> {
    let opt = |v: &Value| v.as_str().map(str::to_owned).unwrap_or_default();
    vec![
        api["lead_id"].to_string(),
        shown(name),
        opt(&api["phone"]),
        "H".into(),
        "懂车帝".into(),
        "凯美瑞, 2.0L".into(),
        api::words::call_status_name(
            tasks::call_status::CallStatus::parse(api["call_status"].as_str().unwrap()).unwrap(),
        )
        .to_owned(),
        api["attempts"].to_string(),
        opt(&api["last_call_time"]),
        api["duration_seconds"]
            .as_i64()
            .map(|d| d.to_string())
            .unwrap_or_default(),
        opt(&api["intent_level"]),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_csv_and_the_xlsx_read_back_equal_the_apis_rows() {
    let d = completed_task().await;
    assert_eq!(d.rows.len(), NAMES.len());
    let by_name: BTreeMap<String, String> = d
        .rows
        .values()
        .map(|r| {
            (
                r["customer_name"].as_str().unwrap().to_owned(),
                r["lead_id"].to_string(),
            )
        })
        .collect();

    let res = download(&d.app, &d.op, &format!("task_id={}", d.task)).await;
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    let disposition = res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(disposition.starts_with(&format!("attachment; filename=\"task-{}.csv\"", d.task)));
    // the task's name, percent-encoded, with its slash made harmless
    assert!(
        disposition.contains("filename*=UTF-8''%E5%8D%81%E4%B8%80%E6%9C%88_%E5%9B%9E%E8%AE%BF%2C%20%E7%AC%AC1%E6%89%B9.csv"),
        "{disposition}"
    );
    let body = res.bytes().await.unwrap();
    assert!(
        body.starts_with(b"\xEF\xBB\xBF"),
        "a byte-order mark for Excel"
    );
    let mut reader = csv::Reader::from_reader(&body[3..]);
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(header, tasks::execution::export::COLUMNS);
    let csv_rows: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect();
    assert_eq!(csv_rows.len(), NAMES.len());
    for name in NAMES {
        let row = csv_rows
            .iter()
            .find(|r| r[0] == by_name[name])
            .unwrap_or_else(|| panic!("{name} exported"));
        let api = &d.rows[&row[0].parse::<i64>().unwrap()];
        assert_eq!(row[..11], expected(api, name)[..], "{name}");
        assert!(row[2].contains("****"), "masked: {}", row[2]);
    }

    let res = download(&d.app, &d.op, &format!("task_id={}&format=xlsx", d.task)).await;
    assert_eq!(res.status().as_u16(), 200);
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains(".xlsx")
    );
    let body = res.bytes().await.unwrap().to_vec();
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(body)).unwrap();
    let sheet = book.worksheet_range("外呼结果").unwrap();
    let cells: Vec<Vec<String>> = sheet
        .rows()
        .map(|r| {
            r.iter()
                .map(|c| match c {
                    Data::Empty => String::new(),
                    Data::Float(f) => format!("{f}"),
                    Data::Int(i) => i.to_string(),
                    other => other.to_string(),
                })
                .collect()
        })
        .collect();
    assert_eq!(cells[0], tasks::execution::export::COLUMNS);
    assert_eq!(cells.len(), NAMES.len() + 1);
    for row in &cells[1..] {
        let api = &d.rows[&row[0].parse::<i64>().unwrap()];
        let name = api["customer_name"].as_str().unwrap();
        assert_eq!(row[..11], expected(api, name)[..], "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_phones_are_for_admins_and_other_organisations_tasks_are_not_found() {
    let d = completed_task().await;
    let res = download(&d.app, &d.op, &format!("task_id={}&unmasked=true", d.task)).await;
    assert_eq!(res.status().as_u16(), 403);
    let res = download(
        &d.app,
        &d.admin,
        &format!("task_id={}&unmasked=true", d.task),
    )
    .await;
    assert_eq!(res.status().as_u16(), 200);
    let text = res.text().await.unwrap();
    assert!(
        text.contains("13800130000") && !text.contains("138****0000"),
        "{text}"
    );

    let (_, stranger) = d.app.tenant("别家").await;
    let res = download(&d.app, &stranger, &format!("task_id={}", d.task)).await;
    assert_eq!(res.status().as_u16(), 404);
    let err: Value = res.json().await.unwrap();
    assert_eq!(err["error"], "not_found");
    for bad in ["format=pdf", "call_status=nonsense", "unmasked=maybe"] {
        let res = download(&d.app, &d.admin, &format!("task_id={}&{bad}", d.task)).await;
        assert_eq!(res.status().as_u16(), 400, "{bad}");
    }
    // a status filter exports only those leads
    let connected = d
        .rows
        .values()
        .filter(|r| r["call_status"] == "connected")
        .count();
    let res = download(
        &d.app,
        &d.op,
        &format!("task_id={}&call_status=connected", d.task),
    )
    .await;
    let body = res.bytes().await.unwrap();
    let n = csv::Reader::from_reader(&body[3..]).records().count();
    assert_eq!(n, connected);
}
