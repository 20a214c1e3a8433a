//! The simulator over HTTP: signing, the job flow, duplicates, faults, windows, control.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{Timelike, Utc};
use platform_sim::{FaultUpdate, SimConfig, Simulator, serve, signature, start_clock};
use serde_json::{Value, json};

const ALWAYS: &str = r#"{"workingTime":[{"beginTime":"00:00","endTime":"24:00"}]}"#;

struct Sim {
    sim: Arc<Simulator>,
    base: String,
    http: reqwest::Client,
    secret: String,
}

async fn spawn(cfg: SimConfig) -> Sim {
    let secret = cfg.app_secret.clone();
    let sim = Simulator::new(SimConfig { call_ms: 50, ..cfg });
    start_clock(sim.clone());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(serve(sim.clone(), listener, 2).unwrap());
    Sim {
        sim,
        base,
        http: reqwest::Client::new(),
        secret,
    }
}

fn nonce() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        Utc::now().timestamp_nanos_opt().unwrap(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

impl Sim {
    fn signed(&self, method: &str, action: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut p: Vec<(String, String)> = [
            ("Action", action),
            ("Version", "2019-12-26"),
            ("Format", "JSON"),
            ("AccessKeyId", "sim-key"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureVersion", "1.0"),
            ("InstanceId", "inst-1"),
        ]
        .iter()
        .chain(extra)
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        p.push(("SignatureNonce".into(), nonce()));
        p.push((
            "Timestamp".into(),
            Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        ));
        let sig = signature(method, &p, &self.secret);
        p.push(("Signature".into(), sig));
        p
    }

    async fn send(&self, p: &[(String, String)]) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}/", self.base))
            .form(p)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }

    async fn call(&self, action: &str, extra: &[(&str, &str)]) -> (u16, Value) {
        self.send(&self.signed("POST", action, extra)).await
    }

    async fn ok(&self, action: &str, extra: &[(&str, &str)]) -> Value {
        let (status, v) = self.call(action, extra).await;
        assert_eq!(status, 200, "{action}: {v}");
        assert_eq!(v["Success"], true);
        assert_eq!(v["Code"], "OK");
        v
    }

    async fn group(&self, strategy: &str) -> String {
        let v = self
            .ok(
                "CreateJobGroup",
                &[
                    ("JobGroupName", "t"),
                    ("ScriptId", "s1"),
                    ("StrategyJson", strategy),
                ],
            )
            .await;
        assert_eq!(v["JobGroup"]["Status"], "Scheduling");
        v["JobGroup"]["JobGroupId"].as_str().unwrap().to_owned()
    }

    async fn assign(&self, gid: &str, refs: &[&str]) -> Vec<String> {
        let jobs: Vec<(String, String)> = refs
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let job = json!({"contacts":[{"phoneNumber": format!("1380000{i:04}"), "name":"n",
                    "honorific":"先生", "referenceId": r}], "extras":[{"key":"k","value":"v"}]});
                (format!("JobsJson.{}", i + 1), job.to_string())
            })
            .collect();
        let mut extra = vec![("JobGroupId", gid)];
        extra.extend(jobs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let v = self.ok("AssignJobs", &extra).await;
        v["JobsId"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap().to_owned())
            .collect()
    }

    async fn jobs(&self, gid: &str) -> Vec<Value> {
        let v = self
            .ok(
                "QueryJobsWithResult",
                &[
                    ("JobGroupId", gid),
                    ("PageNumber", "1"),
                    ("PageSize", "100"),
                ],
            )
            .await;
        v["Jobs"]["List"].as_array().unwrap().clone()
    }

    async fn progress(&self, gid: &str) -> Value {
        self.ok("DescribeJobGroup", &[("JobGroupId", gid)]).await["JobGroup"]["Progress"].clone()
    }

    /// Polls until every job of `gid` is in one of `states`.
    async fn wait_all(&self, gid: &str, states: &[&str]) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let jobs = self.jobs(gid).await;
            if jobs
                .iter()
                .all(|j| states.contains(&j["Status"].as_str().unwrap()))
            {
                return jobs;
            }
            assert!(
                Instant::now() < deadline,
                "jobs never reached {states:?}: {jobs:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

const FINAL: &[&str] = &["Succeeded", "Failed"];

#[tokio::test]
async fn bad_signature_unknown_key_and_reused_nonce_are_rejected() {
    let s = spawn(SimConfig::default()).await;
    let mut p = s.signed("POST", "DescribeJobGroup", &[("JobGroupId", "x")]);
    p.last_mut().unwrap().1 = "AAAA".into();
    let (status, v) = s.send(&p).await;
    assert_eq!(
        (status, v["Code"].as_str()),
        (400, Some("SignatureDoesNotMatch"))
    );
    assert_eq!(v["Success"], false);
    assert_eq!(v["HttpStatusCode"], 400);

    let p = s.signed("POST", "DescribeJobGroup", &[("JobGroupId", "x")]);
    let (_, v) = s.send(&p).await;
    assert_eq!(v["Code"], "JobGroupNotExists");
    let (_, v) = s.send(&p).await;
    assert_eq!(v["Code"], "SignatureNonceUsed");

    let mut p = s.signed("POST", "DescribeJobGroup", &[("AccessKeyId", "other")]);
    p.retain(|(k, _)| k != "Signature");
    let sig = signature("POST", &p, &s.secret);
    p.push(("Signature".into(), sig));
    assert_eq!(s.send(&p).await.1["Code"], "InvalidAccessKeyId.NotFound");

    let (_, v) = s.call("NoSuchAction", &[]).await;
    assert_eq!(v["Code"], "InvalidAction.NotFound");
    let (_, v) = s.call("CreateJobGroup", &[("ScriptId", "s")]).await;
    assert_eq!(v["Code"], "MissingParameter");

    // GET with a query string, signed with GET.
    let p = s.signed("GET", "DescribeJobGroup", &[("JobGroupId", "x y*")]);
    let r = s
        .http
        .get(format!("{}/", s.base))
        .query(&p)
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["Code"], "JobGroupNotExists", "{v}");
}

#[tokio::test]
async fn jobs_are_called_and_results_listed() {
    let s = spawn(SimConfig::default()).await;
    let gid = s.group(ALWAYS).await;
    let ids = s.assign(&gid, &["r1", "r2", "r3"]).await;
    assert_eq!(ids.len(), 3);
    let jobs = s.wait_all(&gid, FINAL).await;
    let listed: Vec<&str> = jobs.iter().map(|j| j["Id"].as_str().unwrap()).collect();
    assert_eq!(listed, ids.iter().map(String::as_str).collect::<Vec<_>>());
    let refs: Vec<&str> = jobs
        .iter()
        .map(|j| j["LatestTask"]["Contact"]["ReferenceId"].as_str().unwrap())
        .collect();
    assert_eq!(refs, ["r1", "r2", "r3"]);
    for j in &jobs {
        let t = &j["LatestTask"];
        assert!(t["CallTime"].is_i64());
        assert_ne!(t["Status"], "0");
        if t["HasAnswered"] == true {
            assert_eq!(t["Status"], "1");
            assert_eq!(t["TagHits"][0]["TagGroup"], "意向等级");
        }
    }
    let p = s.progress(&gid).await;
    assert_eq!(
        (p["TotalJobs"].as_u64(), p["TotalCompleted"].as_u64()),
        (Some(3), Some(3))
    );
    let st = s.sim.stats();
    assert_eq!(st.jobs_total, 3);
    assert_eq!(
        st.jobs_by_status["Succeeded"] + st.jobs_by_status["Failed"],
        3
    );
    assert_eq!(st.duplicate_reference_ids, 0);

    // Paging and the status filter.
    let v = s
        .ok(
            "QueryJobsWithResult",
            &[("JobGroupId", &gid), ("PageNumber", "2"), ("PageSize", "2")],
        )
        .await;
    assert_eq!(v["Jobs"]["RowCount"], 3);
    assert_eq!(v["Jobs"]["List"].as_array().unwrap().len(), 1);
    let (status, v) = s
        .call(
            "QueryJobsWithResult",
            &[("JobGroupId", &gid), ("PageSize", "101")],
        )
        .await;
    assert_eq!(
        (status, v["Code"].as_str()),
        (400, Some("InvalidParameter"))
    );
}

#[tokio::test]
async fn duplicate_reference_ids_are_kept_and_counted() {
    let s = spawn(SimConfig::default()).await;
    let gid = s.group(ALWAYS).await;
    s.assign(&gid, &["a", "b"]).await;
    let again = s.assign(&gid, &["a"]).await;
    assert_eq!(again.len(), 1);
    let st = s.sim.stats();
    assert_eq!((st.jobs_total, st.duplicate_reference_ids), (3, 1));
    let (status, v) = s.call("AssignJobs", &[("JobGroupId", &gid)]).await;
    assert_eq!(
        (status, v["Code"].as_str()),
        (400, Some("InvalidParameter"))
    );
    s.sim.reset();
    let st = s.sim.stats();
    assert_eq!(
        (st.jobs_total, st.duplicate_reference_ids, st.requests),
        (0, 0, 0)
    );
}

#[tokio::test]
async fn throttling_above_the_qps_limit() {
    let s = Arc::new(
        spawn(SimConfig {
            throttle_qps: Some(2),
            ..SimConfig::default()
        })
        .await,
    );
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { s.call("DescribeJobGroup", &[("JobGroupId", "x")]).await })
        })
        .collect();
    let mut throttled = 0;
    for t in tasks {
        let (status, v) = t.await.unwrap();
        if status == 429 {
            assert_eq!(v["Code"], "Throttling");
            throttled += 1;
        }
    }
    assert!(throttled > 0);
    let st = s.sim.stats();
    assert_eq!(st.requests, 10);
    assert_eq!(st.faults_injected, throttled);
    // /sim/* is never throttled.
    for _ in 0..5 {
        let r = s
            .http
            .get(format!("{}/sim/stats", s.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
    }
}

#[tokio::test]
async fn injected_500_does_nothing() {
    let s = spawn(SimConfig::default()).await;
    let gid = s.group(ALWAYS).await;
    let r = s
        .http
        .post(format!("{}/sim/faults", s.base))
        .json(&json!({"fail_rate": 1.0}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let p = s.signed(
        "POST",
        "AssignJobs",
        &[
            ("JobGroupId", &gid),
            (
                "JobsJson.1",
                r#"{"contacts":[{"phoneNumber":"1","referenceId":"r"}]}"#,
            ),
        ],
    );
    let (status, v) = s.send(&p).await;
    assert_eq!((status, v["Code"].as_str()), (500, Some("InternalError")));
    s.sim.set_faults(FaultUpdate {
        fail_rate: Some(0.0),
        ..FaultUpdate::default()
    });
    let st = s.sim.stats();
    assert_eq!((st.jobs_total, st.faults_injected), (0, 1));
    // Nothing was done, so the same nonce is still fresh.
    let (status, _) = s.send(&p).await;
    assert_eq!(status, 200);
    assert_eq!(s.sim.stats().jobs_total, 1);
}

#[tokio::test]
async fn timed_out_requests_still_do_the_work() {
    let s = spawn(SimConfig {
        timeout_delay_ms: 5_000,
        ..SimConfig::default()
    })
    .await;
    let gid = s.group(ALWAYS).await;
    s.sim.set_faults(FaultUpdate {
        timeout_rate: Some(1.0),
        ..FaultUpdate::default()
    });
    let p = s.signed(
        "POST",
        "AssignJobs",
        &[
            ("JobGroupId", &gid),
            (
                "JobsJson.1",
                r#"{"contacts":[{"phoneNumber":"1","referenceId":"r"}]}"#,
            ),
        ],
    );
    let r = s
        .http
        .post(format!("{}/", s.base))
        .form(&p)
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(r.is_err_and(|e| e.is_timeout()));
    let st = s.sim.stats();
    assert_eq!((st.jobs_total, st.faults_injected), (1, 1));
    s.sim.set_faults(FaultUpdate {
        timeout_rate: Some(0.0),
        ..FaultUpdate::default()
    });
    let jobs = s.jobs(&gid).await;
    assert_eq!(jobs[0]["ReferenceId"], "r");
}

#[tokio::test]
async fn no_calls_outside_the_working_time() {
    let s = spawn(SimConfig::default()).await;
    let now = Utc::now().with_timezone(&chrono_tz::Asia::Shanghai);
    let begin = (now.hour() * 60 + now.minute() + 720) % 1440;
    let end = begin + 1;
    let hm = |m: u32| format!("{:02}:{:02}", m / 60, m % 60);
    let closed = s
        .group(&json!({"workingTime":[{"beginTime": hm(begin), "endTime": hm(end)}], "maxAttemptsPerDay": 3}).to_string())
        .await;
    let open = s.group(ALWAYS).await;
    s.assign(&closed, &["c1", "c2"]).await;
    s.assign(&open, &["o1"]).await;
    s.wait_all(&open, FINAL).await;
    let jobs = s.jobs(&closed).await;
    assert!(
        jobs.iter()
            .all(|j| j["Status"] == "Scheduling" && j["LatestTask"].is_null()),
        "{jobs:?}"
    );
    assert_eq!(jobs[0]["ReferenceId"], "c1");
}

#[tokio::test]
async fn suspend_resume_and_cancel() {
    let s = spawn(SimConfig::default()).await;
    let gid = s.group(ALWAYS).await;
    s.ok("SuspendJobs", &[("JobGroupId", &gid), ("All", "true")])
        .await;
    s.assign(&gid, &["a", "b", "c"]).await;
    let p = s.progress(&gid).await;
    assert_eq!(p["Paused"], 3);
    let v = s.ok("DescribeJobGroup", &[("JobGroupId", &gid)]).await;
    assert_eq!(v["JobGroup"]["Status"], "Paused");

    // Time passes (another group completes) and the paused jobs stay paused.
    let other = s.group(ALWAYS).await;
    s.assign(&other, &["x"]).await;
    s.wait_all(&other, FINAL).await;
    assert_eq!(s.progress(&gid).await["Paused"], 3);

    s.ok("ResumeJobs", &[("JobGroupId", &gid), ("All", "true")])
        .await;
    s.wait_all(&gid, FINAL).await;

    let g2 = s.group(ALWAYS).await;
    s.ok("SuspendJobs", &[("JobGroupId", &g2)]).await;
    let ids = s.assign(&g2, &["p", "q"]).await;
    s.ok(
        "CancelJobs",
        &[("JobGroupId", &g2), ("All", "false"), ("JobId.1", &ids[0])],
    )
    .await;
    let jobs = s.jobs(&g2).await;
    assert_eq!(
        (jobs[0]["Status"].as_str(), jobs[1]["Status"].as_str()),
        (Some("Cancelled"), Some("Paused"))
    );
    s.ok("CancelJobs", &[("JobGroupId", &g2), ("All", "true")])
        .await;
    let p = s.progress(&g2).await;
    assert_eq!(
        (p["Cancelled"].as_u64(), p["TotalJobs"].as_u64()),
        (Some(2), Some(2))
    );
    s.ok("ResumeJobs", &[("JobGroupId", &g2)]).await;
    assert_eq!(s.progress(&g2).await["Cancelled"], 2);
    assert_eq!(s.sim.stats().jobs_by_status["Cancelled"], 2);
}
