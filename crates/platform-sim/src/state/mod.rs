//! The simulator's state: job groups, jobs, progression, counters; the actions are in
//! [`actions`], the parameters of a request in [`params`].

#![allow(
    clippy::indexing_slicing,
    reason = "jobs and groups are arenas: their indices are made by pushing and never removed, and no index comes from a request (requests name ids, looked up in maps)"
)]

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDateTime, Timelike, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Deserialize;
use serde_json::{Map, Value};

mod actions;
mod params;

use crate::sign::{signature, string_to_sign};
use crate::{FaultUpdate, SimConfig, SimStats};
use params::Params;

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
    throttled: u64,
    /// Arrival times of the requests of the last second.
    last_second: VecDeque<Instant>,
    /// The most requests that arrived within one second.
    peak_per_second: u64,
    /// Requests admitted (neither throttled nor failed), by action.
    by_action: BTreeMap<String, u64>,
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
            throttled: 0,
            last_second: VecDeque::new(),
            peak_per_second: 0,
            by_action: BTreeMap::new(),
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
        while self
            .last_second
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
        {
            self.last_second.pop_front();
        }
        self.last_second.push_back(now);
        self.peak_per_second = self.peak_per_second.max(self.last_second.len() as u64);
        if let Some(qps) = self.cfg.throttle_qps {
            if now.duration_since(self.window.0) >= Duration::from_secs(1) {
                self.window = (now, 0);
            }
            self.window.1 += 1;
            if self.window.1 > qps {
                self.faults += 1;
                self.throttled += 1;
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
            throttled: s.throttled,
            peak_requests_per_second: s.peak_per_second,
            requests_by_action: s.by_action.clone(),
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
        let action = Params(params).get("Action").unwrap_or("?").to_owned();
        *s.by_action.entry(action).or_default() += 1;
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
    use super::actions::parse_strategy;
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
