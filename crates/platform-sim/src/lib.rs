//! A simulator of the outbound-call platform (Alibaba Cloud OutboundBot RPC style, API version
//! 2019-12-26), so that the whole service runs on one machine with no vendor account and tests
//! and benchmarks can inject faults. Its protocol is described in docs/platform.md.
//!
//! It speaks the wire protocol at `/` (POST form body or GET query string, signature v1
//! verified, `SignatureNonce` replay rejected), progresses jobs over time
//! (Scheduling → Executing → Succeeded/Failed) honouring each job group's `workingTime` windows,
//! draws call outcomes deterministically from a seed, never de-duplicates by `referenceId` (but
//! counts duplicates), and injects faults (latency, HTTP 500, throttling, "done but timed out").
//! `GET /sim/stats`, `POST /sim/reset`, `GET|POST /sim/faults` are never faulted or counted.
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! use platform_sim::{SimConfig, Simulator, serve, start_clock};
//! let sim = Simulator::new(SimConfig { call_ms: 50, ..SimConfig::default() });
//! let _clock = start_clock(sim.clone());
//! let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
//! let addr = listener.local_addr()?;
//! tokio::spawn(serve(sim.clone(), listener, 1)?);
//! println!("platform at http://{addr}/, stats: {:?}", sim.stats());
//! # Ok(()) }
//! ```

mod http;
mod sign;
mod state;

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

pub use http::serve;
pub use sign::{percent_encode, signature, string_to_sign};
pub use state::Simulator;

/// The simulator's knobs. Every field has a default (see [`SimConfig::default`]).
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The `AccessKeyId` requests must carry (default `"sim-key"`).
    pub app_key: String,
    /// The secret signatures are made with (default `"sim-secret"`).
    pub app_secret: String,
    /// Seed of the call-outcome draws (default 42).
    pub seed: u64,
    /// How long one call takes, Executing → final, in ms (default 3000).
    pub call_ms: u64,
    /// Most jobs Executing at once over all groups (default 50).
    pub concurrency: usize,
    /// Added to every wire-protocol response, in ms (default 0).
    pub latency_ms: u64,
    /// Share of wire requests answered HTTP 500 without doing anything (default 0.0).
    pub fail_rate: f64,
    /// Share of wire requests that do the work, then stall `timeout_delay_ms` before answering
    /// (default 0.0).
    pub timeout_rate: f64,
    /// The stall of a timed-out request, in ms (default 30000).
    pub timeout_delay_ms: u64,
    /// Above this many wire requests in one second, answer HTTP 429 `Throttling` (default off).
    pub throttle_qps: Option<u32>,
    /// Time zone of the strategies' `workingTime` windows (default Asia/Shanghai).
    pub tz: chrono_tz::Tz,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            app_key: "sim-key".into(),
            app_secret: "sim-secret".into(),
            seed: 42,
            call_ms: 3000,
            concurrency: 50,
            latency_ms: 0,
            fail_rate: 0.0,
            timeout_rate: 0.0,
            timeout_delay_ms: 30_000,
            throttle_qps: None,
            tz: chrono_tz::Asia::Shanghai,
        }
    }
}

fn env_var(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

fn env_parse<T: FromStr>(name: &str, default: T) -> Result<T, String> {
    match env_var(name) {
        None => Ok(default),
        Some(v) => v.parse().map_err(|_| format!("{name}: cannot parse {v:?}")),
    }
}

fn env_rate(name: &str) -> Result<f64, String> {
    let v: f64 = env_parse(name, 0.0)?;
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{name}: must be between 0 and 1, got {v}"))
    }
}

impl SimConfig {
    /// Reads `SIM_APP_KEY` (falls back to `PLATFORM_APP_KEY`), `SIM_APP_SECRET` (falls back to
    /// `PLATFORM_APP_SECRET`), `SIM_SEED`, `SIM_CALL_MS`, `SIM_CONCURRENCY`, `SIM_LATENCY_MS`,
    /// `SIM_FAIL_RATE`, `SIM_TIMEOUT_RATE`, `SIM_TIMEOUT_DELAY_MS`, `SIM_THROTTLE_QPS` (0 = off)
    /// and `TZ` (an IANA name, a leading `:` is ignored). Unset or empty means the default; an
    /// unparsable value is an `Err` naming the variable.
    pub fn from_env() -> Result<SimConfig, String> {
        let d = SimConfig::default();
        let tz = match env_var("TZ") {
            None => d.tz,
            Some(v) => v
                .trim_start_matches(':')
                .parse()
                .map_err(|_| format!("TZ: unknown time zone {v:?}"))?,
        };
        let qps: u32 = env_parse("SIM_THROTTLE_QPS", 0)?;
        Ok(SimConfig {
            app_key: env_var("SIM_APP_KEY")
                .or_else(|| env_var("PLATFORM_APP_KEY"))
                .unwrap_or(d.app_key),
            app_secret: env_var("SIM_APP_SECRET")
                .or_else(|| env_var("PLATFORM_APP_SECRET"))
                .unwrap_or(d.app_secret),
            seed: env_parse("SIM_SEED", d.seed)?,
            call_ms: env_parse("SIM_CALL_MS", d.call_ms)?,
            concurrency: env_parse("SIM_CONCURRENCY", d.concurrency)?,
            latency_ms: env_parse("SIM_LATENCY_MS", d.latency_ms)?,
            fail_rate: env_rate("SIM_FAIL_RATE")?,
            timeout_rate: env_rate("SIM_TIMEOUT_RATE")?,
            timeout_delay_ms: env_parse("SIM_TIMEOUT_DELAY_MS", d.timeout_delay_ms)?,
            throttle_qps: (qps > 0).then_some(qps),
            tz,
        })
    }
}

/// A run-time change of the fault knobs (body of `POST /sim/faults`): absent fields are left
/// unchanged; `throttle_qps: null` turns throttling off. Rates are clamped to 0..=1.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct FaultUpdate {
    /// New [`SimConfig::fail_rate`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_rate: Option<f64>,
    /// New [`SimConfig::timeout_rate`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_rate: Option<f64>,
    /// New [`SimConfig::timeout_delay_ms`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_delay_ms: Option<u64>,
    /// New [`SimConfig::latency_ms`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    /// `Some(None)` turns throttling off, `Some(Some(n))` sets the limit, `None` keeps it.
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub throttle_qps: Option<Option<u32>>,
    /// New [`SimConfig::call_ms`] (applies to calls in progress too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_ms: Option<u64>,
    /// New [`SimConfig::concurrency`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<usize>,
}

fn double_option<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<u32>>, D::Error> {
    Option::<u32>::deserialize(d).map(Some)
}

/// The simulator's counters (`GET /sim/stats`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SimStats {
    /// Wire-protocol requests received (all of them, faulted or not).
    pub requests: u64,
    /// Faults injected: throttled, failed (500) and timed-out requests.
    pub faults_injected: u64,
    /// Requests refused for the rate (`throttle_qps`), also counted in `faults_injected`.
    pub throttled: u64,
    /// The most requests received within any one second (a sliding window).
    pub peak_requests_per_second: u64,
    /// Requests admitted (neither throttled nor failed with a 500), by `Action`.
    pub requests_by_action: BTreeMap<String, u64>,
    /// Jobs created.
    pub jobs_total: u64,
    /// Jobs by `Status` string (`Scheduling`, `Executing`, `Succeeded`, `Paused`, `Failed`,
    /// `Cancelled`; all keys always present).
    pub jobs_by_status: BTreeMap<String, u64>,
    /// Jobs created with a `referenceId` already seen in the same job group.
    pub duplicate_reference_ids: u64,
}

/// Spawns the tokio task that advances jobs (a tick every 25 ms). The task ends by itself once
/// the simulator is dropped; abort the handle to stop it earlier.
pub fn start_clock(sim: Arc<Simulator>) -> tokio::task::JoinHandle<()> {
    let weak = Arc::downgrade(&sim);
    drop(sim);
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_millis(25));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            every.tick().await;
            match weak.upgrade() {
                Some(sim) => sim.tick(),
                None => break,
            }
        }
    })
}
