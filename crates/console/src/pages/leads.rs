//! `/leads`: importing a CSV file from the browser (the command line's rules and report), the
//! filtered lead list and the lead statistics.

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use api::ApiState;
use askama::Template;
use futures::TryStreamExt;
use kernel::{OrgId, PageRequest, mask_phone};
use leads::{CSV_FIELDS, CsvError, Lead, LeadFilterInput};

use crate::Console;
use crate::error::ConsoleError;
use crate::pages::filter_form::{FilterForm, field, pairs, read};
use crate::pages::{html, ok, text};
use crate::session::Session;
use crate::views::{Layout, count, time};

/// Leads a page of the list shows.
const PAGE: i64 = 20;
/// Rejected rows listed in an import report (the rest are counted).
const REJECTIONS_SHOWN: usize = 200;

#[derive(Template)]
#[template(path = "leads.html")]
struct LeadsPage {
    layout: Layout,
    cards: Vec<(&'static str, String)>,
    breakdowns: Vec<(&'static str, Vec<(String, String)>)>,
    orgs: Vec<(i64, String)>,
    form: FilterForm,
    rows: String,
    fields: String,
}

struct LeadRow {
    name: String,
    phone: String,
    level: String,
    source: String,
    vehicle_model: String,
    status: String,
    owner: String,
    created: String,
    calls: i32,
    do_not_call: bool,
}

impl LeadRow {
    fn of(l: &Lead, tz: chrono_tz::Tz) -> Self {
        LeadRow {
            name: l.customer_name.clone(),
            phone: mask_phone(&l.phone),
            level: l.level.clone(),
            source: l.source.clone(),
            vehicle_model: l.vehicle_model.clone(),
            status: l.status.clone(),
            owner: l.owner_name.clone(),
            created: time(l.create_time, tz),
            calls: l.call_count,
            do_not_call: l.do_not_call,
        }
    }
}

#[derive(Template)]
#[template(path = "lead_rows.html")]
struct LeadRows {
    rows: Vec<LeadRow>,
    total: String,
    page: i64,
    pages: i64,
    /// The filter's query, for the pager.
    query: String,
}

#[derive(Template)]
#[template(path = "import_report.html")]
struct ImportReport {
    inserted: String,
    updated: String,
    unchanged: String,
    rejected: String,
    lines: Vec<(u64, String)>,
    more: usize,
    error: Option<String>,
}

async fn lead_rows(
    state: &ApiState,
    session: &Session,
    raw_query: &str,
) -> Result<LeadRows, ConsoleError> {
    let p = pairs(raw_query)?;
    let input = read(&p)?;
    let page = match field(&p, "page") {
        None => 1,
        Some(n) => n
            .parse()
            .map_err(|_| ConsoleError::bad_input("页码须为整数"))?,
    };
    let found = state
        .leads
        .list(
            &session.caller.scope,
            &input,
            PageRequest::new(Some(page), Some(PAGE))?,
        )
        .await?;
    let query =
        serde_urlencoded::to_string(p.iter().filter(|(k, _)| k != "page").collect::<Vec<_>>())
            .unwrap_or_default();
    Ok(LeadRows {
        rows: found
            .items
            .iter()
            .map(|l| LeadRow::of(l, state.tz))
            .collect(),
        total: count(found.pagination.total),
        page,
        pages: found.pagination.total_pages,
        query,
    })
}

/// The leads page.
pub async fn page(
    state: web::Data<ApiState>,
    session: Session,
) -> Result<HttpResponse, ConsoleError> {
    let scope = &session.caller.scope;
    let stats = state.leads.statistics(scope).await?;
    let tree = state.orgs.tree(scope).await?;
    let mut orgs = Vec::new();
    let mut stack: Vec<(usize, &org::OrgNode)> = tree.iter().rev().map(|n| (0, n)).collect();
    while let Some((depth, n)) = stack.pop() {
        orgs.push((n.id.0, format!("{}{}", "　".repeat(depth), n.name)));
        stack.extend(n.children.iter().rev().map(|c| (depth + 1, c)));
    }
    let breakdown = |m: &std::collections::BTreeMap<String, i64>| {
        m.iter()
            .map(|(k, v)| {
                let k = if k.is_empty() {
                    "（空）".to_owned()
                } else {
                    k.clone()
                };
                (k, count(*v))
            })
            .collect::<Vec<_>>()
    };
    ok(LeadsPage {
        layout: Layout::of(&session, "leads"),
        cards: vec![
            ("线索", count(stats.total)),
            ("可外呼", count(stats.callable)),
            ("免打扰", count(stats.total - stats.callable)),
        ],
        breakdowns: vec![
            ("意向等级", breakdown(&stats.by_level)),
            ("来源", breakdown(&stats.by_source)),
            ("跟进状态", breakdown(&stats.by_status)),
        ],
        orgs,
        form: FilterForm::load(&state, &session, &LeadFilterInput::default(), None).await?,
        rows: text(lead_rows(&state, &session, "").await?)?,
        fields: CSV_FIELDS.join(", "),
    })
}

/// A page of the filtered list.
pub async fn rows(
    state: web::Data<ApiState>,
    session: Session,
    req: HttpRequest,
) -> Result<HttpResponse, ConsoleError> {
    ok(lead_rows(&state, &session, req.query_string()).await?)
}

impl ImportReport {
    fn refused(message: String) -> Self {
        ImportReport {
            inserted: String::new(),
            updated: String::new(),
            unchanged: String::new(),
            rejected: String::new(),
            lines: Vec::new(),
            more: 0,
            error: Some(message),
        }
    }
}

/// Import an uploaded CSV file into the chosen organisation; the report comes back.
pub async fn import(
    state: web::Data<ApiState>,
    console: web::Data<Console>,
    session: Session,
    mut form: Multipart,
) -> Result<HttpResponse, ConsoleError> {
    let limit = console.settings.upload_limit;
    let mut org = session.caller.org_id;
    let mut file: Option<web::Bytes> = None;
    let unreadable = |e: actix_multipart::MultipartError| {
        ConsoleError::bad_input(format!("上传的表单无法读取: {e}"))
    };
    while let Some(mut part) = form.try_next().await.map_err(unreadable)? {
        match part.name() {
            Some("org_id") => {
                let v = part
                    .bytes(64)
                    .await
                    .map_err(|_| ConsoleError::bad_input("组织无效"))?
                    .map_err(unreadable)?;
                let v = std::str::from_utf8(&v).unwrap_or_default().trim();
                if !v.is_empty() {
                    org = OrgId(v.parse().map_err(|_| ConsoleError::bad_input("组织无效"))?);
                }
            }
            Some("file") => {
                let bytes = part.bytes(limit).await.map_err(|_| {
                    ConsoleError::Api(api::ApiError::new(
                        api::ErrorCode::PayloadTooLarge,
                        format!("文件过大（最大 {} MB）", limit / 1024 / 1024),
                    ))
                })?;
                file = Some(bytes.map_err(unreadable)?);
            }
            _ => {}
        }
    }
    let Some(file) = file.filter(|f| !f.is_empty()) else {
        return html(
            StatusCode::BAD_REQUEST,
            ImportReport::refused("请选择一个 CSV 文件".to_owned()),
        );
    };
    let done = state
        .leads
        .import_csv(&session.caller, org, &file[..], |_| {})
        .await;
    match done {
        Ok(r) => ok(ImportReport {
            inserted: count(r.inserted),
            updated: count(r.updated),
            unchanged: count(r.unchanged),
            rejected: count(r.rejected.len() as i64),
            more: r.rejected.len().saturating_sub(REJECTIONS_SHOWN),
            lines: r.rejected.into_iter().take(REJECTIONS_SHOWN).collect(),
            error: None,
        }),
        Err(CsvError::Lead(e)) => {
            let e = api::ApiError::from(e);
            let what = (audit::Action::LeadImport, None);
            api::audit::record::refused(&state, &session.caller, what, &e).await;
            let e = ConsoleError::from(e);
            html(e.status(), ImportReport::refused(e.message()))
        }
        Err(e @ CsvError::UnknownColumns(_)) => {
            let what = (audit::Action::LeadImport, None);
            let refusal = api::ApiError::bad_request(e.to_string());
            api::audit::record::refused(&state, &session.caller, what, &refusal).await;
            html(
                StatusCode::BAD_REQUEST,
                ImportReport::refused(format!("{e}；可用的列：{}", CSV_FIELDS.join(", "))),
            )
        }
        Err(e) => html(
            StatusCode::BAD_REQUEST,
            ImportReport::refused(e.to_string()),
        ),
    }
}
