//! The client against a local stub of the platform: signing, retries, throttling, ambiguity,
//! parsing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use actix_web::http::StatusCode;
use actix_web::{App, HttpResponse, HttpServer, web};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tasks::platform::{CallWindow, SendBy};

const SECRET: &str = "sim-secret";

#[test]
fn signature_matches_documented_example() {
    let params: Vec<(String, String)> = [
        ("AccessKeyId", "testid"),
        ("Action", "DescribeRegions"),
        ("Format", "XML"),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureNonce", "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"),
        ("SignatureVersion", "1.0"),
        ("Timestamp", "2016-02-23T12:46:24Z"),
        ("Version", "2014-05-26"),
    ]
    .iter()
    .rev() // order must not matter
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(
        sign("GET", &params, "testsecret"),
        "OLeaidS1JvxuMvnyHOwuJ+uX5qY="
    );
}

#[test]
fn percent_encoding_is_rfc3986() {
    assert_eq!(percent_encode("aZ09-_.~"), "aZ09-_.~");
    assert_eq!(percent_encode("a b*c+d/e=&"), "a%20b%2Ac%2Bd%2Fe%3D%26");
    assert_eq!(percent_encode("意"), "%E6%84%8F");
}

#[test]
fn backoff_is_capped() {
    let s = PlatformSettings {
        backoff_base: Duration::from_millis(100),
        backoff_max: Duration::from_millis(300),
        ..Default::default()
    };
    for attempt in [0, 1, 5, 40] {
        for _ in 0..50 {
            assert!(backoff(&s, attempt) <= Duration::from_millis(300));
        }
    }
    assert!(backoff(&s, 0) <= Duration::from_millis(100));
}

#[test]
fn settings_debug_hides_secret() {
    let s = PlatformSettings {
        app_secret: "very-secret".into(),
        ..Default::default()
    };
    assert!(!format!("{s:?}").contains("very-secret"));
    let platform = HttpPlatform::new(s).unwrap();
    assert!(!format!("{platform:?}").contains("very-secret"));
}

#[test]
fn masks_phone_numbers_in_messages() {
    assert_eq!(
        mask_digits("bad number 13812345678 here"),
        "bad number 138****78 here"
    );
    assert_eq!(mask_digits("page 12"), "page 12");
}

#[test]
fn not_found_mapping() {
    assert!(is_not_found(Action::DescribeJobGroup, "JobGroupNotExists"));
    assert!(is_not_found(Action::AssignJobs, "JobGroup.NotFound"));
    assert!(is_not_found(Action::SuspendJobs, "NotExists"));
    assert!(!is_not_found(Action::CreateJobGroup, "ScriptNotExists"));
    assert!(!is_not_found(Action::AssignJobs, "InstanceNotExists"));
    assert!(!is_not_found(Action::DescribeJobGroup, "InvalidParameter"));
}

// ---- fake platform ----

struct Reply {
    status: u16,
    body: String,
    delay: Duration,
}

fn ok(payload: Value) -> Reply {
    let mut body = json!({"RequestId": "req", "Success": true, "Code": "OK", "Message": "", "HttpStatusCode": 200});
    if let (Some(b), Some(extra)) = (body.as_object_mut(), payload.as_object()) {
        b.extend(extra.clone());
    }
    Reply {
        status: 200,
        body: body.to_string(),
        delay: Duration::ZERO,
    }
}

fn fail(status: u16, code: &str) -> Reply {
    let body = json!({"RequestId": "req", "Success": false, "Code": code, "Message": "msg", "HttpStatusCode": status});
    Reply {
        status,
        body: body.to_string(),
        delay: Duration::ZERO,
    }
}

type Script = Arc<dyn Fn(usize, &HashMap<String, String>) -> Reply + Send + Sync>;

#[derive(Clone)]
struct Fake {
    script: Script,
    requests: Arc<AtomicUsize>,
    bad_signatures: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<HashMap<String, String>>>>,
}

impl Fake {
    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
    fn seen(&self) -> Vec<HashMap<String, String>> {
        self.seen.lock().unwrap().clone()
    }
}

async fn handle(fake: web::Data<Fake>, form: web::Form<Vec<(String, String)>>) -> HttpResponse {
    let n = fake.requests.fetch_add(1, Ordering::SeqCst);
    let pairs = form.into_inner();
    let mut unsigned = Vec::new();
    let mut signature = None;
    for (k, v) in &pairs {
        if k == "Signature" {
            signature = Some(v.clone());
        } else {
            unsigned.push((k.clone(), v.clone()));
        }
    }
    if signature.as_deref() != Some(sign("POST", &unsigned, SECRET).as_str()) {
        fake.bad_signatures.fetch_add(1, Ordering::SeqCst);
        let body =
            json!({"Success": false, "Code": "SignatureDoesNotMatch", "Message": "bad signature"});
        return HttpResponse::BadRequest()
            .content_type("application/json")
            .body(body.to_string());
    }
    let map: HashMap<String, String> = pairs.into_iter().collect();
    fake.seen.lock().unwrap().push(map.clone());
    let reply = (fake.script)(n, &map);
    if !reply.delay.is_zero() {
        actix_web::rt::time::sleep(reply.delay).await;
    }
    HttpResponse::build(StatusCode::from_u16(reply.status).unwrap())
        .content_type("application/json")
        .body(reply.body)
}

fn start(
    script: impl Fn(usize, &HashMap<String, String>) -> Reply + Send + Sync + 'static,
) -> (Fake, String) {
    let fake = Fake {
        script: Arc::new(script),
        requests: Arc::default(),
        bad_signatures: Arc::default(),
        seen: Arc::default(),
    };
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let data = web::Data::new(fake.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(web::FormConfig::default().limit(1 << 20))
            .route("/", web::post().to(handle))
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(0)
    .listen(listener)
    .unwrap()
    .run();
    actix_web::rt::spawn(server);
    (fake, format!("http://{addr}"))
}

fn platform(base_url: &str, max_retries: u32, request_timeout: Duration) -> HttpPlatform {
    HttpPlatform::new(PlatformSettings {
        base_url: base_url.to_owned(),
        max_retries,
        request_timeout,
        backoff_base: Duration::from_millis(1),
        backoff_max: Duration::from_millis(1),
        ..Default::default()
    })
    .unwrap()
}

/// A send-by moment no test reaches.
fn far_off() -> std::sync::Arc<SendBy> {
    std::sync::Arc::new(SendBy(
        tokio::time::Instant::now() + std::time::Duration::from_secs(3600),
    ))
}

fn contact(i: usize) -> Contact {
    Contact {
        phone: format!("1380000{i:04}"),
        name: format!("张三 {i}"),
        honorific: i.is_multiple_of(2).then(|| "先生".to_owned()),
        reference_id: format!("ref-{i}"),
        extras: vec![("city".into(), "杭州 & 上海*".into())],
    }
}

fn strategy() -> Strategy {
    Strategy {
        working_time: vec![CallWindow {
            begin: "08:00".into(),
            end: "21:00".into(),
        }],
        max_attempts_per_day: 3,
        min_attempt_interval_minutes: 10,
    }
}

fn progress_payload() -> Value {
    json!({"JobGroup": {"JobGroupId": "jg-1", "Status": "Executing", "Progress": {
        "TotalJobs": 10, "TotalCompleted": 4, "Executing": 2, "Scheduling": 3, "Paused": 0,
        "Failed": 1, "Cancelled": 0, "TotalNotAnswered": "2"}}})
}

fn expected_progress() -> GroupProgress {
    GroupProgress {
        total: 10,
        completed: 4,
        executing: 2,
        scheduling: 3,
        paused: 0,
        failed: 1,
        cancelled: 0,
        not_answered: 2,
    }
}

#[actix_web::test]
async fn create_job_group_is_signed_and_parsed() {
    let (fake, url) = start(|_, p| {
        assert_eq!(p["Action"], "CreateJobGroup");
        ok(json!({"JobGroup": {"JobGroupId": "jg-42", "Status": "Draft"}}))
    });
    let id = platform(&url, 2, Duration::from_secs(5))
        .create_job_group("任务 A*1~+&=", "script-9", &strategy())
        .await
        .unwrap();
    assert_eq!(id, "jg-42");
    assert_eq!(fake.bad_signatures.load(Ordering::SeqCst), 0);
    let seen = fake.seen();
    assert_eq!(seen.len(), 1);
    let p = &seen[0];
    assert_eq!(p["Version"], "2019-12-26");
    assert_eq!(p["Format"], "JSON");
    assert_eq!(p["AccessKeyId"], "sim-key");
    assert_eq!(p["SignatureMethod"], "HMAC-SHA1");
    assert_eq!(p["SignatureVersion"], "1.0");
    assert_eq!(p["InstanceId"], "sim");
    assert_eq!(p["JobGroupName"], "任务 A*1~+&=");
    assert_eq!(p["ScriptId"], "script-9");
    assert!(uuid::Uuid::parse_str(&p["SignatureNonce"]).is_ok());
    assert!(chrono::NaiveDateTime::parse_from_str(&p["Timestamp"], "%Y-%m-%dT%H:%M:%SZ").is_ok());
    let strategy: Value = serde_json::from_str(&p["StrategyJson"]).unwrap();
    assert_eq!(
        strategy,
        json!({"workingTime": [{"beginTime": "08:00", "endTime": "21:00"}], "maxAttemptsPerDay": 3, "minAttemptInterval": 10})
    );
}

#[actix_web::test]
async fn assign_jobs_zips_ids_with_references() {
    let (fake, url) = start(|_, p| {
        assert_eq!(p["Action"], "AssignJobs");
        ok(json!({"JobGroupId": "jg-1", "JobsId": ["job-a", "job-b", "job-c"]}))
    });
    let assigned = platform(&url, 2, Duration::from_secs(5))
        .assign_jobs("jg-1", (0..3).map(contact).collect(), far_off())
        .await
        .unwrap();
    let pairs: Vec<(&str, &str)> = assigned
        .iter()
        .map(|a| (a.reference_id.as_str(), a.job_id.as_str()))
        .collect();
    assert_eq!(
        pairs,
        [("ref-0", "job-a"), ("ref-1", "job-b"), ("ref-2", "job-c")]
    );
    assert_eq!(fake.bad_signatures.load(Ordering::SeqCst), 0);
    let p = &fake.seen()[0];
    assert_eq!(p["JobGroupId"], "jg-1");
    assert!(!p.contains_key("JobsJson.4"));
    let job: Value = serde_json::from_str(&p["JobsJson.1"]).unwrap();
    assert_eq!(
        job,
        json!({"contacts": [{"phoneNumber": "13800000000", "name": "张三 0", "honorific": "先生", "referenceId": "ref-0"}],
               "extras": [{"key": "city", "value": "杭州 & 上海*"}]})
    );
    let job2: Value = serde_json::from_str(&p["JobsJson.2"]).unwrap();
    assert_eq!(job2["contacts"][0]["referenceId"], "ref-1");
    assert_eq!(job2["contacts"][0]["honorific"], "");
}

#[actix_web::test]
async fn assign_jobs_batch_limits_are_checked_locally() {
    let (fake, url) = start(|_, _| ok(json!({"JobsId": []})));
    let platform = platform(&url, 2, Duration::from_secs(5));
    let err = platform
        .assign_jobs("jg-1", vec![], far_off())
        .await
        .unwrap_err();
    assert!(matches!(err, PlatformError::Rejected { .. }));
    let err = platform
        .assign_jobs("jg-1", (0..100).map(contact).collect(), far_off())
        .await
        .unwrap_err();
    assert!(matches!(err, PlatformError::Rejected { .. }));
    assert_eq!(fake.requests(), 0);
    // 99 is fine as far as the client is concerned (the fake answers a wrong count)
    let err = platform
        .assign_jobs("jg-1", (0..99).map(contact).collect(), far_off())
        .await
        .unwrap_err();
    assert!(matches!(err, PlatformError::Unclear(_)));
    assert_eq!(fake.requests(), 1);
}

#[actix_web::test]
async fn assign_jobs_id_count_mismatch_is_unclear() {
    let (_fake, url) = start(|_, _| ok(json!({"JobsId": ["only-one"]})));
    let err = platform(&url, 2, Duration::from_secs(5))
        .assign_jobs("jg-1", (0..2).map(contact).collect(), far_off())
        .await
        .unwrap_err();
    assert!(matches!(err, PlatformError::Unclear(_)), "{err:?}");
}

#[actix_web::test]
async fn throttling_is_retried_then_succeeds() {
    let (fake, url) = start(|n, _| {
        if n < 2 {
            fail(400, "Throttling.User")
        } else {
            ok(progress_payload())
        }
    });
    let progress = platform(&url, 5, Duration::from_secs(5))
        .describe_job_group("jg-1")
        .await
        .unwrap();
    assert_eq!(progress, expected_progress());
    assert_eq!(fake.requests(), 3);
    let nonces: HashSet<String> = fake
        .seen()
        .iter()
        .map(|p| p["SignatureNonce"].clone())
        .collect();
    assert_eq!(nonces.len(), 3, "a fresh nonce per attempt");
    assert_eq!(fake.bad_signatures.load(Ordering::SeqCst), 0);

    // throttling is safe to retry for non-idempotent actions too (nothing was done)
    let (fake, url) = start(|n, _| {
        if n < 2 {
            fail(429, "Throttling")
        } else {
            ok(json!({"JobGroup": {"JobGroupId": "jg-7"}}))
        }
    });
    let id = platform(&url, 5, Duration::from_secs(5))
        .create_job_group("t", "s", &strategy())
        .await
        .unwrap();
    assert_eq!(id, "jg-7");
    assert_eq!(fake.requests(), 3);
}

#[actix_web::test]
async fn an_assignment_whose_send_by_has_passed_is_not_sent() {
    let (fake, url) = start(|_, _| ok(json!({"JobsId": ["j-1"]})));
    let err = platform(&url, 3, Duration::from_secs(5))
        .assign_jobs(
            "jg-1",
            vec![contact(1)],
            std::sync::Arc::new(SendBy(tokio::time::Instant::now())),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, PlatformError::Busy(why) if why.contains("lease")),
        "{err:?}"
    );
    assert_eq!(fake.requests(), 0, "nothing reached the platform");
}

#[actix_web::test]
async fn throttling_exhausted_is_busy() {
    let (fake, url) = start(|_, _| fail(400, "Throttling"));
    let err = platform(&url, 3, Duration::from_secs(5))
        .assign_jobs("jg-1", vec![contact(1)], far_off())
        .await
        .unwrap_err();
    assert_eq!(err, PlatformError::Busy("throttled".into()));
    assert_eq!(fake.requests(), 4);
}

#[actix_web::test]
async fn server_errors_are_unclear_for_assign_and_retried_for_describe() {
    let (fake, url) = start(|_, _| fail(500, "InternalError"));
    let platform = platform(&url, 3, Duration::from_secs(5));
    let err = platform
        .assign_jobs("jg-1", vec![contact(1)], far_off())
        .await
        .unwrap_err();
    assert!(matches!(err, PlatformError::Unclear(_)), "{err:?}");
    assert_eq!(fake.requests(), 1);

    let (fake, url) = start(|_, _| Reply {
        status: 503,
        body: "oops".into(),
        delay: Duration::ZERO,
    });
    let platform = super::tests::platform(&url, 3, Duration::from_secs(5));
    let err = platform.describe_job_group("jg-1").await.unwrap_err();
    assert!(matches!(err, PlatformError::Busy(_)), "{err:?}");
    assert_eq!(fake.requests(), 4);
    let err = platform
        .create_job_group("t", "s", &strategy())
        .await
        .unwrap_err();
    assert!(matches!(err, PlatformError::Ambiguous(_)), "{err:?}");
    assert_eq!(fake.requests(), 5);
    let err = platform.cancel_jobs("jg-1").await.unwrap_err();
    assert!(matches!(err, PlatformError::Busy(_)), "{err:?}");
    assert_eq!(fake.requests(), 9);
}

#[actix_web::test]
async fn timeout_after_sending_is_ambiguous_for_assign() {
    let (fake, url) = start(|n, _| {
        let mut reply =
            ok(json!({"JobsId": ["job-1"], "JobGroup": {"Progress": {"TotalJobs": 1}}}));
        if n == 0 {
            reply.delay = Duration::from_secs(2);
        }
        reply
    });
    let platform = platform(&url, 3, Duration::from_millis(200));
    let err = platform
        .assign_jobs("jg-1", vec![contact(1)], far_off())
        .await
        .unwrap_err();
    assert!(matches!(err, PlatformError::Ambiguous(_)), "{err:?}");
    assert_eq!(fake.requests(), 1);

    // an idempotent read is retried after a timeout
    let (fake, url) = start(|n, _| {
        let mut reply = ok(progress_payload());
        if n == 0 {
            reply.delay = Duration::from_secs(2);
        }
        reply
    });
    let platform = super::tests::platform(&url, 3, Duration::from_millis(200));
    assert_eq!(
        platform.describe_job_group("jg-1").await.unwrap(),
        expected_progress()
    );
    assert_eq!(fake.requests(), 2);
}

#[actix_web::test]
async fn connection_refused_is_retried_then_unavailable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let platform = platform(&format!("http://{addr}"), 2, Duration::from_secs(2));
    let err = platform
        .assign_jobs("jg-1", vec![contact(1)], far_off())
        .await
        .unwrap_err();
    assert!(matches!(err, PlatformError::Unavailable(_)), "{err:?}");
}

#[actix_web::test]
async fn rejections_and_not_found() {
    let (fake, url) = start(|_, p| match p["Action"].as_str() {
        "DescribeJobGroup" => fail(404, "JobGroupNotExists"),
        "SuspendJobs" => fail(400, "InvalidParameter"),
        _ => fail(400, "ScriptNotExists"),
    });
    let platform = platform(&url, 3, Duration::from_secs(5));
    assert_eq!(
        platform.describe_job_group("jg-x").await.unwrap_err(),
        PlatformError::NotFound
    );
    assert_eq!(
        platform.suspend_jobs("jg-1").await.unwrap_err(),
        PlatformError::Rejected {
            code: "InvalidParameter".into(),
            message: "msg".into()
        }
    );
    assert!(matches!(
        platform.create_job_group("t", "nope", &strategy()).await.unwrap_err(),
        PlatformError::Rejected { code, .. } if code == "ScriptNotExists"
    ));
    assert_eq!(fake.requests(), 3, "rejections are not retried");
    assert_eq!(fake.bad_signatures.load(Ordering::SeqCst), 0);
}

#[actix_web::test]
async fn wrong_secret_is_rejected() {
    let (fake, url) = start(|_, _| ok(json!({})));
    let platform = HttpPlatform::new(PlatformSettings {
        base_url: url,
        app_secret: "wrong".into(),
        backoff_base: Duration::from_millis(1),
        ..Default::default()
    })
    .unwrap();
    let err = platform.resume_jobs("jg-1").await.unwrap_err();
    assert!(matches!(err, PlatformError::Rejected { code, .. } if code == "SignatureDoesNotMatch"));
    assert_eq!(fake.bad_signatures.load(Ordering::SeqCst), 1);
}

#[actix_web::test]
async fn malformed_success_body() {
    let (_fake, url) = start(|_, _| Reply {
        status: 200,
        body: "{not json".into(),
        delay: Duration::ZERO,
    });
    let platform = platform(&url, 2, Duration::from_secs(5));
    let err = platform
        .assign_jobs("jg-1", vec![contact(1)], far_off())
        .await
        .unwrap_err();
    assert!(matches!(err, PlatformError::Unclear(_)), "{err:?}");
    let err = platform.describe_job_group("jg-1").await.unwrap_err();
    assert!(matches!(err, PlatformError::Unavailable(_)), "{err:?}");
}

#[actix_web::test]
async fn query_job_results_parsing() {
    let (fake, url) = start(|_, p| {
        assert_eq!(p["Action"], "QueryJobsWithResult");
        assert_eq!(p["PageNumber"], "2");
        assert_eq!(p["PageSize"], "50");
        ok(
            json!({"Jobs": {"PageNumber": 2, "PageSize": 50, "RowCount": "57", "List": [
                {"Id": "job-1", "Status": "Succeeded", "JobFailureReason": null, "LatestTask": {
                    "CallTime": 1_700_000_000_000_i64, "CallDuration": 35_000, "HasAnswered": true, "Status": "1",
                    "TaskEndReason": "HangUpByClient",
                    "TagHits": [{"TagName": "A", "TagGroup": "意向等级"}],
                    "Contact": {"ReferenceId": "ref-1", "PhoneNumber": "13800000001"}}},
                {"Id": "job-2", "Status": "Failed", "LatestTask": {
                    "CallTime": "1700000100000", "CallDuration": null, "HasAnswered": false, "Status": 2,
                    "TagHits": [], "Contact": {"ReferenceId": "ref-2"}}},
                {"Id": "job-3", "Status": "Scheduling", "LatestTask": null,
                    "Contacts": [{"ReferenceId": "ref-3", "PhoneNumber": "13800000003"}]},
                {"Id": "job-4", "Status": "Whatever", "LatestTask": {"CallTime": null, "Status": "Executing"},
                    "Contact": {"ReferenceId": "ref-4"}},
                {"Id": "job-5"}
            ]}}),
        )
    });
    let page = platform(&url, 2, Duration::from_secs(5))
        .query_job_results("jg-1", 2, 50)
        .await
        .unwrap();
    assert_eq!(fake.requests(), 1);
    assert_eq!((page.page, page.page_size, page.total), (2, 50, 57));
    assert_eq!(page.items.len(), 5);

    let a = &page.items[0];
    assert_eq!(a.job_id, "job-1");
    assert_eq!(a.reference_id, "ref-1");
    assert_eq!(a.job_status, JobStatus::Succeeded);
    assert_eq!(a.call_status, Some(1));
    assert!(a.has_answered);
    assert_eq!(
        a.call_time,
        DateTime::from_timestamp_millis(1_700_000_000_000)
    );
    assert_eq!(a.call_duration_ms, Some(35_000));
    assert_eq!(a.end_reason.as_deref(), Some("HangUpByClient"));
    assert_eq!(
        a.tags,
        vec![TagHit {
            group: "意向等级".into(),
            name: "A".into()
        }]
    );
    assert_eq!(a.attempts, 1);

    let b = &page.items[1];
    assert_eq!(
        (b.reference_id.as_str(), b.job_status, b.call_status),
        ("ref-2", JobStatus::Failed, Some(2))
    );
    assert_eq!(
        b.call_time,
        DateTime::from_timestamp_millis(1_700_000_100_000)
    );
    assert_eq!(
        (b.call_duration_ms, b.has_answered, b.attempts),
        (None, false, 1)
    );
    assert!(b.tags.is_empty());

    let c = &page.items[2];
    assert_eq!(
        (c.reference_id.as_str(), c.job_status, c.call_status),
        ("ref-3", JobStatus::Scheduling, None)
    );
    assert_eq!((c.call_time, c.attempts), (None, 0));

    let d = &page.items[3];
    assert_eq!(
        (d.reference_id.as_str(), d.job_status, d.call_status),
        ("ref-4", JobStatus::Scheduling, Some(0))
    );
    assert_eq!(d.attempts, 0);

    let e = &page.items[4];
    assert_eq!(
        (e.job_id.as_str(), e.reference_id.as_str(), e.attempts),
        ("job-5", "", 0)
    );
}

#[actix_web::test]
async fn group_wide_commands_send_all() {
    let (fake, url) = start(|_, _| ok(json!({})));
    let platform = platform(&url, 2, Duration::from_secs(5));
    platform.suspend_jobs("jg-1").await.unwrap();
    platform.resume_jobs("jg-1").await.unwrap();
    platform.cancel_jobs("jg-1").await.unwrap();
    let actions: Vec<(String, String, String)> = fake
        .seen()
        .iter()
        .map(|p| {
            (
                p["Action"].clone(),
                p["JobGroupId"].clone(),
                p["All"].clone(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            ("SuspendJobs".into(), "jg-1".into(), "true".into()),
            ("ResumeJobs".into(), "jg-1".into(), "true".into()),
            ("CancelJobs".into(), "jg-1".into(), "true".into()),
        ]
    );
}
