//! The simulator's state: job groups, jobs, progression, counters, and the actions.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDateTime, Timelike, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::sign::{signature, string_to_sign};
use crate::{FaultUpdate, SimConfig, SimStats};

/// How long a `SignatureNonce` is remembered, and how many at most.
const NONCE_TTL: Duration = Duration::from_secs(15 * 60);
const NONCE_CAP: usize = 200_000;
const UNREACHABLE: [&str; 5] = ["3", "7", "8", "9", "11"];
const INTENTS: [&str; 4] = ["A", "B", "C", "D"];

/// An error answer of the wire protocol.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }
    fn bad(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(400, code, message)
    }
    fn invalid(message: impl Into<String>) -> Self {
        Self::bad("InvalidParameter", message)
    }
}

/// The payload fields of a successful answer.
pub(crate) type Payload = Map<String, Value>;

/// What the fault stage decided for a wire request.
pub(crate) enum Admission {
    Throttled,
    Failed,
    Proceed(Duration),
}

/// Ids unique across restarts: process start (ms) + a process-wide counter.
fn next_id(prefix: &str) -> String {
    static START: OnceLock<i64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(1);
    let start = *START.get_or_init(|| Utc::now().timestamp_millis());
    format!(
        "{prefix}-{start}-{}",
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

fn request_id(rng: &mut StdRng) -> String {
    let a: u128 = rng.gen_range(0..u128::MAX);
    let h = format!("{a:032X}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Scheduling,
    Executing,
    Succeeded,
    Paused,
    Failed,
    Cancelled,
}

impl Status {
    const ALL: [Status; 6] = [
        Status::Scheduling,
        Status::Executing,
        Status::Succeeded,
        Status::Paused,
        Status::Failed,
        Status::Cancelled,
    ];
    fn as_str(self) -> &'static str {
        match self {
            Status::Scheduling => "Scheduling",
            Status::Executing => "Executing",
            Status::Succeeded => "Succeeded",
            Status::Paused => "Paused",
            Status::Failed => "Failed",
            Status::Cancelled => "Cancelled",
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Contact {
    #[serde(default)]
    phone_number: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    honorific: Option<String>,
    #[serde(default)]
    reference_id: Option<String>,
}

#[derive(Debug, Deserialize)]
struct JobIn {
    #[serde(default)]
    contacts: Vec<Contact>,
    #[serde(default)]
    extras: Vec<Value>,
}

struct Task {
    call_time_ms: i64,
    duration_ms: u64,
    answered: bool,
    status: &'static str,
    end_reason: Option<&'static str>,
    intent: Option<&'static str>,
}

struct Job {
    id: String,
    group: usize,
    status: Status,
    contacts: Vec<Contact>,
    extras: Vec<Value>,
    started: Option<Instant>,
    task: Option<Task>,
}

struct Group {
    id: String,
    name: String,
    script_id: String,
    creation_ms: i64,
    strategy: Value,
    /// `[begin, end)` minutes of the day; empty = always.
    windows: Vec<(u32, u32)>,
    paused: bool,
    cancelled: bool,
    jobs: Vec<usize>,
    /// Jobs waiting to be called, in creation order (entries no longer Scheduling are skipped).
    queue: VecDeque<usize>,
    refs: HashSet<String>,
}

impl Group {
    fn in_window(&self, minute: u32) -> bool {
        self.windows.is_empty()
            || self.windows.iter().any(|&(b, e)| {
                if b <= e {
                    b <= minute && minute < e
                } else {
                    minute >= b || minute < e
                }
            })
    }
}

struct State {
    cfg: SimConfig,
    requests: u64,
    faults: u64,
    duplicates: u64,
    groups: Vec<Group>,
    group_idx: HashMap<String, usize>,
    jobs: Vec<Job>,
    job_idx: HashMap<String, usize>,
    executing: VecDeque<usize>,
    outcomes: StdRng,
    fault_rng: StdRng,
    nonces: HashSet<String>,
    nonce_order: VecDeque<(Instant, String)>,
    window: (Instant, u32),
    round_robin: usize,
}

impl State {
    fn new(cfg: SimConfig) -> Self {
        Self {
            outcomes: StdRng::seed_from_u64(cfg.seed),
            fault_rng: StdRng::seed_from_u64(cfg.seed ^ 0x5eed_fa17),
            cfg,
            requests: 0,
            faults: 0,
            duplicates: 0,
            groups: Vec::new(),
            group_idx: HashMap::new(),
            jobs: Vec::new(),
            job_idx: HashMap::new(),
            executing: VecDeque::new(),
            nonces: HashSet::new(),
            nonce_order: VecDeque::new(),
            window: (Instant::now(), 0),
            round_robin: 0,
        }
    }

    fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.fault_rng.gen_range(0.0..1.0) < p
    }

    // ---- progression ----

    fn tick(&mut self, now: Instant, wall: DateTime<Utc>) {
        let call = Duration::from_millis(self.cfg.call_ms);
        while let Some(&j) = self.executing.front() {
            match self.jobs[j].started {
                Some(t) if t + call > now => break,
                _ => {
                    self.executing.pop_front();
                    self.finish(j);
                }
            }
        }
        let n = self.groups.len();
        if n == 0 {
            return;
        }
        let local = wall.with_timezone(&self.cfg.tz);
        let minute = local.hour() * 60 + local.minute();
        let eligible: Vec<usize> = (0..n)
            .map(|k| (self.round_robin + k) % n)
            .filter(|&g| {
                let g = &self.groups[g];
                !g.paused && !g.cancelled && !g.queue.is_empty() && g.in_window(minute)
            })
            .collect();
        self.round_robin = (self.round_robin + 1) % n;
        let wall_ms = wall.timestamp_millis();
        let mut progressed = true;
        while progressed && self.executing.len() < self.cfg.concurrency {
            progressed = false;
            for &g in &eligible {
                if self.executing.len() >= self.cfg.concurrency {
                    break;
                }
                while let Some(j) = self.groups[g].queue.pop_front() {
                    if self.jobs[j].status == Status::Scheduling {
                        let job = &mut self.jobs[j];
                        job.status = Status::Executing;
                        job.started = Some(now);
                        job.task = Some(Task {
                            call_time_ms: wall_ms,
                            duration_ms: 0,
                            answered: false,
                            status: "0",
                            end_reason: None,
                            intent: None,
                        });
                        self.executing.push_back(j);
                        progressed = true;
                        break;
                    }
                }
            }
        }
    }

    /// Ends the call of job `j`: one outcome draw, in the order calls finish.
    fn finish(&mut self, j: usize) {
        let rng = &mut self.outcomes;
        let roll = rng.gen_range(0..100u32);
        let (status, end_reason) = match roll {
            0..=44 => ("1", "Finished"),
            45..=74 => ("2", "NoAnswer"),
            75..=84 => ("4", "Busy"),
            85..=94 => (
                UNREACHABLE[rng.gen_range(0..UNREACHABLE.len())],
                "Unreachable",
            ),
            _ => ("6", "Failed"),
        };
        let answered = status == "1";
        let (duration_ms, intent) = if answered {
            (
                rng.gen_range(20_000..=180_000u64),
                Some(INTENTS[rng.gen_range(0..INTENTS.len())]),
            )
        } else {
            (0, None)
        };
        let job = &mut self.jobs[j];
        job.status = if status == "6" {
            Status::Failed
        } else {
            Status::Succeeded
        };
        if let Some(t) = job.task.as_mut() {
            t.status = status;
            t.answered = answered;
            t.duration_ms = duration_ms;
            t.end_reason = Some(end_reason);
            t.intent = intent;
        }
    }

    // ---- wire protocol ----

    fn admit(&mut self, now: Instant) -> Admission {
        self.requests += 1;
        if let Some(qps) = self.cfg.throttle_qps {
            if now.duration_since(self.window.0) >= Duration::from_secs(1) {
                self.window = (now, 0);
            }
            self.window.1 += 1;
            if self.window.1 > qps {
                self.faults += 1;
                return Admission::Throttled;
            }
        }
        if self.chance(self.cfg.fail_rate) {
            self.faults += 1;
            return Admission::Failed;
        }
        Admission::Proceed(Duration::from_millis(self.cfg.latency_ms))
    }

    fn verify(
        &mut self,
        method: &str,
        raw: &[(String, String)],
        now: Instant,
    ) -> Result<(), ApiError> {
        let p = Params(raw);
        for k in [
            "Action",
            "Version",
            "AccessKeyId",
            "SignatureMethod",
            "SignatureVersion",
            "SignatureNonce",
            "Timestamp",
            "Signature",
        ] {
            p.req(k)?;
        }
        if p.get("AccessKeyId") != Some(self.cfg.app_key.as_str()) {
            return Err(ApiError::bad(
                "InvalidAccessKeyId.NotFound",
                "Specified access key is not found.",
            ));
        }
        if p.get("SignatureMethod") != Some("HMAC-SHA1") {
            return Err(ApiError::invalid("SignatureMethod must be HMAC-SHA1."));
        }
        if p.get("SignatureVersion") != Some("1.0") {
            return Err(ApiError::invalid("SignatureVersion must be 1.0."));
        }
        if p.get("Version") != Some("2019-12-26") {
            return Err(ApiError::bad(
                "InvalidVersion",
                "Specified parameter Version is not valid (expected 2019-12-26).",
            ));
        }
        let ts = p.get("Timestamp").unwrap_or_default();
        if NaiveDateTime::parse_from_str(ts, "%Y-%m-%dT%H:%M:%SZ").is_err() {
            return Err(ApiError::bad(
                "InvalidTimeStamp.Format",
                "Timestamp must be YYYY-MM-DDThh:mm:ssZ (UTC).",
            ));
        }
        let expected = signature(method, raw, &self.cfg.app_secret);
        if p.get("Signature") != Some(expected.as_str()) {
            return Err(ApiError::bad(
                "SignatureDoesNotMatch",
                format!(
                    "Specified signature is not matched with our calculation. server string to sign is:{}",
                    string_to_sign(method, raw)
                ),
            ));
        }
        while let Some((t, _)) = self.nonce_order.front() {
            if now.duration_since(*t) < NONCE_TTL && self.nonce_order.len() < NONCE_CAP {
                break;
            }
            if let Some((_, n)) = self.nonce_order.pop_front() {
                self.nonces.remove(&n);
            }
        }
        let nonce = p.get("SignatureNonce").unwrap_or_default().to_owned();
        if !self.nonces.insert(nonce.clone()) {
            return Err(ApiError::bad(
                "SignatureNonceUsed",
                "Specified signature nonce was used already.",
            ));
        }
        self.nonce_order.push_back((now, nonce));
        Ok(())
    }

    fn dispatch(&mut self, p: Params<'_>, wall: DateTime<Utc>) -> Result<Payload, ApiError> {
        match p.get("Action").unwrap_or_default() {
            "CreateJobGroup" => self.create_group(p, wall),
            "AssignJobs" => self.assign(p),
            a @ ("SuspendJobs" | "ResumeJobs" | "CancelJobs") => self.control(a, p),
            "QueryJobsWithResult" => self.query(p),
            "DescribeJobGroup" => self.describe(p),
            other => Err(ApiError::bad(
                "InvalidAction.NotFound",
                format!("Specified api {other} is not found."),
            )),
        }
    }

    fn group_of(&self, p: &Params<'_>) -> Result<usize, ApiError> {
        let id = p.req("JobGroupId")?;
        self.group_idx.get(id).copied().ok_or_else(|| {
            ApiError::bad(
                "JobGroupNotExists",
                format!("Job group {id} does not exist."),
            )
        })
    }

    fn group_json(&self, g: usize) -> Value {
        let gr = &self.groups[g];
        let has = |s: Status| gr.jobs.iter().any(|&j| self.jobs[j].status == s);
        let status = if gr.cancelled {
            "Cancelled"
        } else if gr.paused {
            "Paused"
        } else if has(Status::Executing) {
            "Executing"
        } else if !gr.jobs.is_empty() && !has(Status::Scheduling) && !has(Status::Paused) {
            "Completed"
        } else {
            "Scheduling"
        };
        json!({
            "JobGroupId": gr.id,
            "JobGroupName": gr.name,
            "ScriptId": gr.script_id,
            "Status": status,
            "CreationTime": gr.creation_ms,
            "Strategy": gr.strategy,
        })
    }

    fn create_group(&mut self, p: Params<'_>, wall: DateTime<Utc>) -> Result<Payload, ApiError> {
        let name = p.req("JobGroupName")?.to_owned();
        let script_id = p.req("ScriptId")?.to_owned();
        let (strategy, windows) = match p.get("StrategyJson").filter(|s| !s.trim().is_empty()) {
            None => (Value::Null, Vec::new()),
            Some(s) => parse_strategy(s)?,
        };
        let g = self.groups.len();
        let id = next_id("jg");
        self.group_idx.insert(id.clone(), g);
        self.groups.push(Group {
            id,
            name,
            script_id,
            creation_ms: wall.timestamp_millis(),
            strategy,
            windows,
            paused: false,
            cancelled: false,
            jobs: Vec::new(),
            queue: VecDeque::new(),
            refs: HashSet::new(),
        });
        Ok(payload([("JobGroup", self.group_json(g))]))
    }

    fn assign(&mut self, p: Params<'_>) -> Result<Payload, ApiError> {
        let g = self.group_of(&p)?;
        let items = p.indexed("JobsJson")?;
        if items.is_empty() || items.len() > 99 {
            return Err(ApiError::invalid(format!(
                "JobsJson.N: between 1 and 99 jobs per request, got {}.",
                items.len()
            )));
        }
        let mut parsed = Vec::with_capacity(items.len());
        for (n, s) in items {
            let job: JobIn = serde_json::from_str(s)
                .map_err(|e| ApiError::invalid(format!("JobsJson.{n} is not valid: {e}")))?;
            if job.contacts.is_empty() || job.contacts.iter().any(|c| c.phone_number.is_empty()) {
                return Err(ApiError::invalid(format!(
                    "JobsJson.{n}: contacts with a phoneNumber are required."
                )));
            }
            parsed.push(job);
        }
        let status = if self.groups[g].cancelled {
            Status::Cancelled
        } else if self.groups[g].paused {
            Status::Paused
        } else {
            Status::Scheduling
        };
        let mut ids = Vec::with_capacity(parsed.len());
        for job in parsed {
            let j = self.jobs.len();
            let id = next_id("job");
            let group = &mut self.groups[g];
            if let Some(r) = job.contacts[0]
                .reference_id
                .as_ref()
                .filter(|r| !r.is_empty())
                && !group.refs.insert(r.clone())
            {
                self.duplicates += 1;
            }
            group.jobs.push(j);
            if status == Status::Scheduling {
                group.queue.push_back(j);
            }
            self.job_idx.insert(id.clone(), j);
            self.jobs.push(Job {
                id: id.clone(),
                group: g,
                status,
                contacts: job.contacts,
                extras: job.extras,
                started: None,
                task: None,
            });
            ids.push(Value::String(id));
        }
        Ok(payload([
            ("JobGroupId", Value::String(self.groups[g].id.clone())),
            ("JobsId", Value::Array(ids)),
        ]))
    }

    fn control(&mut self, action: &str, p: Params<'_>) -> Result<Payload, ApiError> {
        let g = self.group_of(&p)?;
        let listed = p.indexed("JobId")?;
        let all = p.get("All").is_some_and(|v| v.eq_ignore_ascii_case("true")) || listed.is_empty();
        let targets: Vec<usize> = if all {
            self.groups[g].jobs.clone()
        } else {
            listed
                .iter()
                .map(|(_, id)| match self.job_idx.get(*id) {
                    Some(&j) if self.jobs[j].group == g => Ok(j),
                    _ => Err(ApiError::bad(
                        "JobNotExists",
                        format!("Job {id} does not exist in this group."),
                    )),
                })
                .collect::<Result<_, _>>()?
        };
        let (from, to): (&[Status], Status) = match action {
            "SuspendJobs" => (&[Status::Scheduling], Status::Paused),
            "ResumeJobs" => (&[Status::Paused], Status::Scheduling),
            _ => (&[Status::Scheduling, Status::Paused], Status::Cancelled),
        };
        let group = &mut self.groups[g];
        if all {
            match action {
                "SuspendJobs" => group.paused = !group.cancelled,
                "ResumeJobs" => group.paused = false,
                _ => group.cancelled = true,
            }
        }
        if to == Status::Scheduling && group.cancelled {
            return Ok(Payload::new());
        }
        for j in targets {
            if from.contains(&self.jobs[j].status) {
                self.jobs[j].status = to;
            }
        }
        let group = &mut self.groups[g];
        group.queue = group
            .jobs
            .iter()
            .copied()
            .filter(|&j| self.jobs[j].status == Status::Scheduling)
            .collect();
        Ok(Payload::new())
    }

    fn job_json(&self, j: usize) -> Value {
        let job = &self.jobs[j];
        let contact = job.contacts.first().cloned().unwrap_or_default();
        let contact_json = |c: &Contact| {
            json!({
                "ReferenceId": c.reference_id,
                "PhoneNumber": c.phone_number,
                "Name": c.name,
                "Honorific": c.honorific,
            })
        };
        let latest = job.task.as_ref().map(|t| {
            json!({
                "CallTime": t.call_time_ms,
                "CallDuration": t.duration_ms,
                "HasAnswered": t.answered,
                "Status": t.status,
                "TaskEndReason": t.end_reason,
                "TagHits": t.intent.map(|i| vec![json!({"TagGroup": "意向等级", "TagName": i})]).unwrap_or_default(),
                "Contact": contact_json(&contact),
            })
        });
        json!({
            "Id": job.id,
            "JobGroupId": self.groups[job.group].id,
            "Status": job.status.as_str(),
            "ReferenceId": contact.reference_id,
            "JobFailureReason": (job.status == Status::Failed).then_some("CallFailed"),
            "Contacts": job.contacts.iter().map(contact_json).collect::<Vec<_>>(),
            "Extras": job.extras,
            "LatestTask": latest,
        })
    }

    fn query(&self, p: Params<'_>) -> Result<Payload, ApiError> {
        let g = self.group_of(&p)?;
        let page = p.num("PageNumber", 1)?;
        let size = p.num("PageSize", 10)?;
        if page == 0 {
            return Err(ApiError::invalid("PageNumber starts at 1."));
        }
        if size == 0 || size > 100 {
            return Err(ApiError::invalid("PageSize must be between 1 and 100."));
        }
        let filter = p.get("JobStatusFilter").filter(|f| !f.is_empty());
        let matching: Vec<usize> = self.groups[g]
            .jobs
            .iter()
            .copied()
            .filter(|&j| filter.is_none_or(|f| self.jobs[j].status.as_str() == f))
            .collect();
        let list: Vec<Value> = matching
            .iter()
            .skip((page - 1).saturating_mul(size))
            .take(size)
            .map(|&j| self.job_json(j))
            .collect();
        Ok(payload([(
            "Jobs",
            json!({
                "List": list,
                "PageNumber": page,
                "PageSize": size,
                "RowCount": matching.len(),
                "TotalCount": matching.len(),
            }),
        )]))
    }

    fn describe(&self, p: Params<'_>) -> Result<Payload, ApiError> {
        let g = self.group_of(&p)?;
        let mut count: HashMap<&str, u64> = HashMap::new();
        let mut not_answered = 0u64;
        for &j in &self.groups[g].jobs {
            let job = &self.jobs[j];
            *count.entry(job.status.as_str()).or_default() += 1;
            if matches!(job.status, Status::Succeeded | Status::Failed)
                && job.task.as_ref().is_some_and(|t| !t.answered)
            {
                not_answered += 1;
            }
        }
        let c = |s: &str| count.get(s).copied().unwrap_or(0);
        let mut group = self.group_json(g);
        group["Progress"] = json!({
            "TotalJobs": self.groups[g].jobs.len(),
            "TotalCompleted": c("Succeeded") + c("Failed"),
            "Executing": c("Executing"),
            "Scheduling": c("Scheduling"),
            "Paused": c("Paused"),
            "Failed": c("Failed"),
            "Cancelled": c("Cancelled"),
            "TotalNotAnswered": not_answered,
        });
        Ok(payload([("JobGroup", group)]))
    }
}

fn payload<const N: usize>(fields: [(&str, Value); N]) -> Payload {
    fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

fn parse_hm(v: Option<&Value>) -> Result<u32, ApiError> {
    let bad = || ApiError::invalid("StrategyJson: workingTime needs beginTime/endTime as HH:MM.");
    let s = v.and_then(Value::as_str).ok_or_else(bad)?;
    let mut parts = s.split(':').map(|x| x.parse::<u32>().map_err(|_| bad()));
    let h = parts.next().ok_or_else(bad)??;
    let m = parts.next().ok_or_else(bad)??;
    let total = h * 60 + m;
    if m >= 60 || total > 24 * 60 {
        return Err(bad());
    }
    Ok(total)
}

fn parse_strategy(s: &str) -> Result<(Value, Vec<(u32, u32)>), ApiError> {
    let v: Value = serde_json::from_str(s)
        .map_err(|e| ApiError::invalid(format!("StrategyJson is not valid JSON: {e}")))?;
    let mut windows = Vec::new();
    match v.get("workingTime") {
        None | Some(Value::Null) => {}
        Some(Value::Array(ws)) => {
            for w in ws {
                windows.push((parse_hm(w.get("beginTime"))?, parse_hm(w.get("endTime"))?));
            }
        }
        Some(_) => {
            return Err(ApiError::invalid(
                "StrategyJson: workingTime must be a list.",
            ));
        }
    }
    Ok((v, windows))
}

/// The request parameters (the last one wins when a name repeats).
#[derive(Clone, Copy)]
struct Params<'a>(&'a [(String, String)]);

impl<'a> Params<'a> {
    fn get(&self, k: &str) -> Option<&'a str> {
        self.0
            .iter()
            .rev()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }
    fn req(&self, k: &str) -> Result<&'a str, ApiError> {
        self.get(k).filter(|v| !v.is_empty()).ok_or_else(|| {
            ApiError::bad(
                "MissingParameter",
                format!("{k} is mandatory for this action."),
            )
        })
    }
    fn num(&self, k: &str, default: usize) -> Result<usize, ApiError> {
        match self.get(k).filter(|v| !v.is_empty()) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| ApiError::invalid(format!("{k} must be a number."))),
        }
    }
    /// `Prefix.N` parameters sorted by N.
    fn indexed(&self, prefix: &str) -> Result<Vec<(u32, &'a str)>, ApiError> {
        let mut out = Vec::new();
        for (k, v) in self.0 {
            if let Some(n) = k.strip_prefix(prefix).and_then(|r| r.strip_prefix('.')) {
                let n: u32 = n
                    .parse()
                    .map_err(|_| ApiError::invalid(format!("{k}: the suffix must be a number.")))?;
                out.push((n, v.as_str()));
            }
        }
        out.sort_by_key(|(n, _)| *n);
        out.dedup_by_key(|(n, _)| *n);
        Ok(out)
    }
}

/// The simulated platform. All state sits behind one mutex (never held across an await); share
/// it as `Arc<Simulator>` between [`crate::serve`], [`crate::start_clock`] and tests.
pub struct Simulator {
    state: Mutex<State>,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("stats", &self.stats())
            .finish()
    }
}

impl Simulator {
    /// A simulator with no job groups. Spawns nothing: jobs progress only when
    /// [`crate::start_clock`] (or [`Simulator::tick`]) drives them.
    pub fn new(cfg: SimConfig) -> Arc<Simulator> {
        Arc::new(Simulator {
            state: Mutex::new(State::new(cfg)),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The counters (same content as `GET /sim/stats`).
    pub fn stats(&self) -> SimStats {
        let s = self.lock();
        let mut by: BTreeMap<String, u64> = Status::ALL
            .iter()
            .map(|st| (st.as_str().to_owned(), 0))
            .collect();
        for j in &s.jobs {
            *by.entry(j.status.as_str().to_owned()).or_default() += 1;
        }
        SimStats {
            requests: s.requests,
            faults_injected: s.faults,
            jobs_total: s.jobs.len() as u64,
            jobs_by_status: by,
            duplicate_reference_ids: s.duplicates,
        }
    }

    /// Forgets all groups, jobs, nonces and counters and re-seeds the outcome draws (same as
    /// `POST /sim/reset`). The current knobs stay; ids are never reused.
    pub fn reset(&self) {
        let mut s = self.lock();
        let cfg = s.cfg.clone();
        *s = State::new(cfg);
    }

    /// Changes fault knobs at run time (also `POST /sim/faults`).
    pub fn set_faults(&self, f: FaultUpdate) {
        let mut s = self.lock();
        let c = &mut s.cfg;
        if let Some(v) = f.fail_rate {
            c.fail_rate = v.clamp(0.0, 1.0);
        }
        if let Some(v) = f.timeout_rate {
            c.timeout_rate = v.clamp(0.0, 1.0);
        }
        if let Some(v) = f.timeout_delay_ms {
            c.timeout_delay_ms = v;
        }
        if let Some(v) = f.latency_ms {
            c.latency_ms = v;
        }
        if let Some(v) = f.throttle_qps {
            c.throttle_qps = v.filter(|&q| q > 0);
        }
        if let Some(v) = f.call_ms {
            c.call_ms = v;
        }
        if let Some(v) = f.concurrency {
            c.concurrency = v;
        }
    }

    /// The current knobs.
    pub fn config(&self) -> SimConfig {
        self.lock().cfg.clone()
    }

    /// Advances jobs once, at the current time: finishes calls that lasted `call_ms`, then starts
    /// Scheduling jobs of active groups inside their windows up to `concurrency`.
    /// [`crate::start_clock`] calls this every 25 ms.
    pub fn tick(&self) {
        self.lock().tick(Instant::now(), Utc::now());
    }

    /// Counts a wire request and applies throttling and fail_rate.
    pub(crate) fn admit(&self) -> Admission {
        self.lock().admit(Instant::now())
    }

    /// Verifies and performs a wire request; also returns the stall of an injected timeout.
    pub(crate) fn handle(
        &self,
        method: &str,
        params: &[(String, String)],
    ) -> (String, Result<Payload, ApiError>, Option<Duration>) {
        let mut guard = self.lock();
        let s = &mut *guard;
        let rid = request_id(&mut s.fault_rng);
        let result = s
            .verify(method, params, Instant::now())
            .and_then(|()| s.dispatch(Params(params), Utc::now()));
        let rate = s.cfg.timeout_rate;
        let stall = if s.chance(rate) {
            s.faults += 1;
            Some(Duration::from_millis(s.cfg.timeout_delay_ms))
        } else {
            None
        };
        (rid, result, stall)
    }

    /// A fresh request id (for answers made before [`Simulator::handle`]).
    pub(crate) fn request_id(&self) -> String {
        request_id(&mut self.lock().fault_rng)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn outcomes(seed: u64) -> Vec<(String, &'static str)> {
        let mut s = State::new(SimConfig {
            seed,
            call_ms: 10,
            concurrency: 3,
            ..SimConfig::default()
        });
        let wall = Utc::now();
        let p =
            [("JobGroupName", "g"), ("ScriptId", "s")].map(|(a, b)| (a.to_owned(), b.to_owned()));
        s.create_group(Params(&p), wall).unwrap();
        let gid = s.groups[0].id.clone();
        let mut p = vec![("JobGroupId".to_owned(), gid)];
        for i in 1..=20 {
            p.push((
                format!("JobsJson.{i}"),
                format!(r#"{{"contacts":[{{"phoneNumber":"1{i}","referenceId":"r{i}"}}]}}"#),
            ));
        }
        s.assign(Params(&p)).unwrap();
        let t0 = Instant::now();
        for k in 0..40 {
            s.tick(t0 + Duration::from_millis(10 * k), wall);
        }
        s.jobs
            .iter()
            .map(|j| {
                (
                    j.status.as_str().to_owned(),
                    j.task.as_ref().map_or("-", |t| t.status),
                )
            })
            .collect()
    }

    #[test]
    fn outcomes_are_deterministic_under_a_seed() {
        let a = outcomes(7);
        assert_eq!(a, outcomes(7));
        assert!(a.iter().all(|(s, _)| s == "Succeeded" || s == "Failed"));
    }

    #[test]
    fn windows_wrap_midnight() {
        let (_, w) =
            parse_strategy(r#"{"workingTime":[{"beginTime":"22:00","endTime":"02:00"}]}"#).unwrap();
        let g = Group {
            id: String::new(),
            name: String::new(),
            script_id: String::new(),
            creation_ms: 0,
            strategy: Value::Null,
            windows: w,
            paused: false,
            cancelled: false,
            jobs: vec![],
            queue: VecDeque::new(),
            refs: HashSet::new(),
        };
        assert!(g.in_window(23 * 60) && g.in_window(60) && !g.in_window(12 * 60));
        assert!(parse_strategy(r#"{"workingTime":[{"beginTime":"8","endTime":"x"}]}"#).is_err());
    }
}
