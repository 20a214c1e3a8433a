//! The platform account's request budget: every request (and every retry) of every caller
//! waits for a slot of the account's rate, and callers are served in priority order.
//!
//! - **Classes**, highest first: [`Class::Control`] (start, suspend, resume, stop, cancel),
//!   [`Class::Dispatch`] (assigning jobs, reconciling), [`Class::Sync`] (the monitor's result
//!   pages), [`Class::Runs`] (query execution runs). A process serves its waiting requests one
//!   slot at a time, always the highest class first.
//! - **The sync share**: while leads wait to be sent (a dispatch request was made in the last
//!   [`DEMAND_WINDOW`] or two slots, whichever is longer, on any instance), sync and runs
//!   together get at most [`SYNC_SHARE`] of the slots; otherwise they may use all of them. The
//!   share is applied when a reader's slot is reserved, counted from the last reader's slot: a
//!   reader never waits out the share of a dispatch that has ended meanwhile.
//! - **The rate**: with `PLATFORM_MAX_QPS` it is that, fixed. Without it the budget finds the
//!   account's limit itself, growing only while every slot is taken:
//!   - it starts at [`START_RATE`] and grows by half of itself a second (slow start) until the
//!     first throttling answer. That answer's ceiling is what the platform accepted: the slots
//!     given in the second before the refused request left (kept while slow start lasts); the
//!     rate goes back to it, or further if undoing a second of growth (dividing by 1.5) is less;
//!   - each later throttling answer cuts it to [`CUT`] of itself (at most one cut a second);
//!   - every later throttling answer remembers the rate it came at (the ceiling; one that came
//!     while the rate was still under 95% of the ceiling, a little less than its rate, since the
//!     ceiling was too high): below 95% of it the rate comes back by [`RECOVER_PER_SECOND`] of
//!     itself a second (about two seconds from a cut), from there to 5% above it probes by
//!     [`PROBE_PER_SECOND`] (about 25 s to the ceiling), and beyond that, the limit having
//!     grown, it grows by [`RAISE_PER_SECOND`].
//!
//!   So it runs at 95–100% of the limit and meets a throttling answer about every half minute:
//!   under 1% of the requests from 4 a second up. A flat 1% a second after each cut would spend
//!   15 s back from 85%.
//! - **Where the slots come from**: a [`SlotSource`]: the account's row in PostgreSQL, shared by
//!   every instance (`crate::pg_budget`), or memory ([`LocalSlots`], one process). The rules
//!   are [`BucketState::reserve`] and [`BucketState::throttled`] in both cases.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::{mpsc, oneshot};

/// Who asks for a slot; declared in priority order (highest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Class {
    /// Start, suspend, resume, stop, cancel: what an operator waits for.
    Control,
    /// Assigning jobs and reconciling batches: what keeps calls flowing.
    Dispatch,
    /// The monitor's reading of results.
    Sync,
    /// Query execution runs.
    Runs,
}

impl Class {
    /// Every class, highest priority first.
    pub const ALL: [Class; 4] = [Class::Control, Class::Dispatch, Class::Sync, Class::Runs];

    /// Whether the class reads results (held to the sync share while leads wait).
    fn reads_results(self) -> bool {
        matches!(self, Class::Sync | Class::Runs)
    }
}

/// Share of the slots that reading results may take while leads wait to be sent.
pub const SYNC_SHARE: f64 = 0.1;
/// How long after a dispatch request leads count as waiting, at least (at a slow rate: two
/// slots).
pub const DEMAND_WINDOW: TimeDelta = TimeDelta::seconds(1);
/// The discovered rate's start, requests per second.
pub const START_RATE: f64 = 2.0;
/// The discovered rate never goes below this, requests per second.
pub const MIN_RATE: f64 = 0.5;
/// Growth of the discovered rate per second during slow start, as a share of itself.
pub const SLOW_START_PER_SECOND: f64 = 0.5;
/// Growth of the discovered rate per second, as a share of itself, beyond 5% above the ceiling
/// (or with none).
pub const RAISE_PER_SECOND: f64 = 0.01;
/// Growth of the discovered rate per second, as a share of itself, below 95% of the ceiling.
pub const RECOVER_PER_SECOND: f64 = 0.1;
/// Growth of the discovered rate per second, as a share of itself, from 95% of the ceiling to
/// 5% above it.
pub const PROBE_PER_SECOND: f64 = 0.002;
/// What a throttling answer leaves of the discovered rate.
pub const CUT: f64 = 0.85;
/// Below this share of the ceiling the discovered rate comes back fast; from there to as far
/// above the ceiling it probes slowly.
pub const NEAR_CEILING: f64 = 0.95;
/// The ceiling a throttling answer under [`NEAR_CEILING`] of the ceiling leaves, as a share of
/// the rate it came at (CUBIC's fast convergence: halfway between the rate and its cut). 0.97
/// here, with [`NEAR_CEILING`] at 0.97, met 12–14 throttling answers on the faulty benchmark
/// instead of 5.
pub const LOWERED_CEILING: f64 = (1.0 + CUT) / 2.0;
/// The least a reader whose share is not due waits before it asks again.
const NOT_DUE_PAUSE: std::time::Duration = std::time::Duration::from_millis(10);
/// Room in a second's worth of slots for requests that leave a little after their slot (an
/// assignment writes to the database after its wait; timers lag): the slots of `rate` requests
/// span this much more than a second, so that one sent up to 20 ms late never makes one more in
/// a second than the rate allows, where the platform counts a second from its first request.
/// With 1 ms between slots instead, a request 3 ms late was enough at 2 a second.
const SLACK: f64 = 0.02;

/// How long slow start keeps the slots it gave: a throttling answer that comes later than this
/// less a second after its request left is not counted against them.
pub const HISTORY: TimeDelta = TimeDelta::seconds(3);

/// How the account's rate is set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RateMode {
    /// `PLATFORM_MAX_QPS`: this many requests per second, fixed.
    Fixed(f64),
    /// Found by the budget itself (additive increase, multiplicative decrease).
    Discovered,
}

/// The state of an account's budget: what [`SlotSource`]s keep, in memory or in PostgreSQL.
#[derive(Debug, Clone, PartialEq)]
pub struct BucketState {
    /// Requests per second now.
    pub rate: f64,
    /// Whether the discovered rate is still doubling (no throttling answer yet).
    pub slow_start: bool,
    /// The discovered rate when the last throttling answer came (0 before any).
    pub ceiling: f64,
    /// The earliest time of the next slot.
    pub next_free: DateTime<Utc>,
    /// The last slot given to a request that reads results.
    pub last_read: DateTime<Utc>,
    /// Leads count as waiting until then.
    pub dispatch_demand_until: DateTime<Utc>,
    /// The last cut of the rate.
    pub last_cut: DateTime<Utc>,
    /// Slots handed out.
    pub reserved: i64,
    /// Throttling answers reported.
    pub throttled: i64,
    /// The slots given during slow start in the last [`HISTORY`], oldest first (empty after
    /// it).
    pub recent: Vec<DateTime<Utc>>,
}

impl BucketState {
    /// A new account's budget.
    pub fn new(now: DateTime<Utc>) -> Self {
        let past = now - TimeDelta::seconds(60);
        Self {
            rate: START_RATE,
            slow_start: true,
            ceiling: 0.0,
            next_free: now,
            last_read: past,
            dispatch_demand_until: past,
            last_cut: past,
            reserved: 0,
            throttled: 0,
            recent: Vec::new(),
        }
    }

    /// The rate in force: a fixed one, or the discovered one kept here (a fixed rate is never
    /// written into the state, so instances configured differently do not disturb each other's
    /// discovery).
    fn rate_in(&self, mode: RateMode) -> f64 {
        match mode {
            RateMode::Fixed(qps) => qps,
            RateMode::Discovered => self.rate,
        }
        .max(MIN_RATE)
    }

    /// The earliest slot a request that reads results may have at `now`: while leads wait, one
    /// share's spacing after the last reader's slot; else any.
    fn next_read(&self, now: DateTime<Utc>, mode: RateMode) -> DateTime<Utc> {
        if self.dispatch_demand_until <= now {
            return now;
        }
        let micros = self.interval(mode).num_microseconds().unwrap_or(i64::MAX) as f64 / SYNC_SHARE;
        self.last_read + TimeDelta::microseconds(micros as i64)
    }

    /// When a reader asking after `now` may get a slot: at its share's spacing, or when the
    /// demand ends, if that comes first (unless dispatch asks again meanwhile).
    pub fn reads_from(&self, now: DateTime<Utc>, mode: RateMode) -> DateTime<Utc> {
        self.next_read(now, mode)
            .min(self.dispatch_demand_until.max(now))
    }

    fn interval(&self, mode: RateMode) -> TimeDelta {
        let micros = (1_000_000.0 * (1.0 + SLACK) / self.rate_in(mode)) as i64;
        TimeDelta::microseconds(micros)
    }

    /// Reserve the next slot for `class` at `now`: the time it may be sent. `None` for a
    /// reader whose share is not due by the next slot: nothing is reserved (a reserved slot far
    /// ahead would hold every later one, a dispatcher's too); it asks again from
    /// [`BucketState::reads_from`].
    pub fn reserve(
        &mut self,
        class: Class,
        now: DateTime<Utc>,
        mode: RateMode,
    ) -> Option<DateTime<Utc>> {
        let interval = self.interval(mode);
        if class == Class::Dispatch {
            self.dispatch_demand_until = now + DEMAND_WINDOW.max(interval * 2);
        }
        let slot = self.next_free.max(now);
        if class.reads_results() {
            if self.next_read(now, mode) > slot {
                return None;
            }
            self.last_read = slot;
        }
        self.next_free = slot + interval;
        if mode == RateMode::Discovered && self.slow_start {
            self.recent.retain(|s| *s > now - HISTORY);
            self.recent.push(slot);
        }
        if mode == RateMode::Discovered && slot > now {
            // a share of itself a second is that much a slot: the rate is the slots a second.
            // Coming back fast stops at the probing zone: a step of it is 5% of the rate at 2 a
            // second, and one past 95% of the ceiling went straight to the limit
            let near = self.ceiling * NEAR_CEILING;
            let grown = self.rate + self.growth();
            self.rate = if !self.slow_start && self.rate < near {
                grown.min(near)
            } else {
                grown
            };
        }
        self.reserved += 1;
        Some(slot)
    }

    /// The discovered rate's growth per second now, as a share of itself.
    fn growth(&self) -> f64 {
        if self.slow_start {
            SLOW_START_PER_SECOND
        } else if self.rate < self.ceiling * NEAR_CEILING {
            RECOVER_PER_SECOND
        } else if self.rate < self.ceiling * (2.0 - NEAR_CEILING) {
            PROBE_PER_SECOND
        } else {
            RAISE_PER_SECOND
        }
    }

    /// The requests slow start let out in the second before one that left at `sent`, that one
    /// not counted: what the platform accepted before it refused. `None` when the slots kept do
    /// not reach back that far.
    fn accepted_before(&self, now: DateTime<Utc>, sent: DateTime<Utc>) -> Option<f64> {
        let from = sent - TimeDelta::seconds(1);
        if from < now - HISTORY {
            return None;
        }
        let n = self
            .recent
            .iter()
            .filter(|s| **s > from && **s <= sent)
            .count();
        Some((n.saturating_sub(1) as f64).max(MIN_RATE))
    }

    /// The platform refused, for its rate, a request that left `sent_ago` before `now`.
    pub fn throttled(&mut self, now: DateTime<Utc>, mode: RateMode, sent_ago: TimeDelta) {
        self.throttled += 1;
        self.cut(now, mode, sent_ago);
        tracing::debug!(
            rate = self.rate,
            ceiling = self.ceiling,
            "throttling answer"
        );
    }

    /// What a throttling answer does to a discovered rate: at most one cut a second.
    fn cut(&mut self, now: DateTime<Utc>, mode: RateMode, sent_ago: TimeDelta) {
        if mode != RateMode::Discovered || now - self.last_cut < TimeDelta::seconds(1) {
            return;
        }
        let came_at = self.rate;
        (self.rate, self.ceiling) = if self.slow_start {
            // the rate at the answer is up to half above the limit and has grown since the
            // request left; what the platform accepted in the second before it is the limit.
            // Undoing a second of growth may go lower (the answer came late): that, then
            let undone = (came_at / (1.0 + SLOW_START_PER_SECOND)).max(MIN_RATE);
            match self.accepted_before(now, now - sent_ago) {
                Some(accepted) => (undone.min(accepted), accepted),
                None => (undone, undone),
            }
        } else {
            // the rate it came at; or, while the rate was still coming back fast (the ceiling
            // was too high, or the limit fell), less: it may have gone past the limit by then.
            // Probing just under the ceiling is not that: the probe found the limit
            let ceiling = if came_at < self.ceiling * NEAR_CEILING {
                came_at * LOWERED_CEILING
            } else {
                came_at
            };
            ((came_at * CUT).max(MIN_RATE), ceiling)
        };
        self.slow_start = false;
        self.recent.clear();
        self.last_cut = now;
        // the slots already promised stand; the next ones follow the new rate
        self.next_free = self.next_free.max(now) + self.interval(mode);
    }
}

/// A time span as chrono's (saturating: spans this long do not happen here).
pub fn delta(d: std::time::Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

/// What asking for a slot gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Reservation {
    /// How long from now until the request may be sent; `None` when nothing was reserved (a
    /// reader whose share is not due).
    pub wait: Option<std::time::Duration>,
    /// How long from now until a result-reading request may get a slot of its share.
    pub reads_after: std::time::Duration,
}

impl Reservation {
    /// What [`BucketState::reserve`] gave (`slot`) at `now`, with the state after it.
    pub fn of(
        slot: Option<DateTime<Utc>>,
        state: &BucketState,
        now: DateTime<Utc>,
        mode: RateMode,
    ) -> Self {
        Reservation {
            wait: slot.map(|s| (s - now).to_std().unwrap_or_default()),
            reads_after: (state.reads_from(now, mode) - now)
                .to_std()
                .unwrap_or_default(),
        }
    }
}

/// Where slots come from.
#[async_trait]
pub trait SlotSource: Send + Sync + 'static {
    /// Reserve the next slot for `class`.
    async fn reserve(&self, class: Class) -> Reservation;
    /// The platform refused, for its rate, a request that left `sent_ago`.
    async fn throttled(&self, sent_ago: std::time::Duration);
}

/// Slots of one process, in memory.
pub struct LocalSlots {
    mode: RateMode,
    state: Mutex<BucketState>,
}

impl LocalSlots {
    /// A budget of its own for this process.
    pub fn new(mode: RateMode) -> Self {
        Self {
            mode,
            state: Mutex::new(BucketState::new(Utc::now())),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BucketState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The rate now, requests per second.
    pub fn rate(&self) -> f64 {
        self.lock().rate
    }
}

#[async_trait]
impl SlotSource for LocalSlots {
    async fn reserve(&self, class: Class) -> Reservation {
        let now = Utc::now();
        let mut state = self.lock();
        let slot = state.reserve(class, now, self.mode);
        Reservation::of(slot, &state, now, self.mode)
    }

    async fn throttled(&self, sent_ago: std::time::Duration) {
        self.lock()
            .throttled(Utc::now(), self.mode, delta(sent_ago));
    }
}

/// A request waiting for its slot.
struct Waiter {
    class: Class,
    granted: oneshot::Sender<()>,
}

/// The budget of a process: its waiting requests, served in priority order from a
/// [`SlotSource`].
pub struct Budget {
    source: Arc<dyn SlotSource>,
    waiters: mpsc::UnboundedSender<Waiter>,
    inbox: Mutex<Option<mpsc::UnboundedReceiver<Waiter>>>,
}

impl std::fmt::Debug for Budget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Budget").finish_non_exhaustive()
    }
}

impl Budget {
    /// A budget over `source`. Its scheduler starts with the first request (on the runtime of
    /// that request).
    pub fn new(source: Arc<dyn SlotSource>) -> Arc<Self> {
        let (tx, rx) = mpsc::unbounded_channel();
        Arc::new(Self {
            source,
            waiters: tx,
            inbox: Mutex::new(Some(rx)),
        })
    }

    /// Wait for a slot of `class`.
    pub async fn acquire(&self, class: Class) {
        let inbox = self.inbox.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(rx) = inbox {
            tokio::spawn(schedule(self.source.clone(), rx));
        }
        let (granted, wait) = oneshot::channel();
        if self.waiters.send(Waiter { class, granted }).is_err() {
            return; // the scheduler is gone (runtime shutting down): do not hold the caller
        }
        let _ = wait.await; // a dropped sender means the same
    }

    /// The platform refused, for its rate, a request that left `sent_ago`.
    pub async fn throttled(&self, sent_ago: std::time::Duration) {
        self.source.throttled(sent_ago).await;
    }
}

/// Waiting requests by class, highest first.
#[derive(Default)]
struct Queues([VecDeque<oneshot::Sender<()>>; 4]);

impl Queues {
    fn push(&mut self, w: Waiter) {
        if let Some(q) = self.0.get_mut(w.class as usize) {
            q.push_back(w.granted);
        }
    }

    /// The highest class with a live waiter.
    fn top(&mut self) -> Option<Class> {
        Class::ALL.into_iter().find(|c| {
            let q = self.0.get_mut(*c as usize);
            q.is_some_and(|q| {
                q.retain(|s| !s.is_closed());
                !q.is_empty()
            })
        })
    }

    /// Grant a slot reserved for `reserved`: to a control request if one waits (they go first),
    /// else to a waiter of the class it was reserved for (a slot of the reads' share is theirs:
    /// dispatch does not take it), else to the highest waiter.
    fn grant(&mut self, reserved: Class) -> bool {
        let order = [Class::Control, reserved]
            .into_iter()
            .chain(Class::ALL.into_iter().filter(|c| *c != reserved));
        for class in order {
            while let Some(s) = self.0.get_mut(class as usize).and_then(VecDeque::pop_front) {
                if s.send(()).is_ok() {
                    return true;
                }
            }
        }
        false
    }
}

/// Serve waiters one slot at a time: reserve a slot for the highest waiting class, sleep until
/// it, and give it as [`Queues::grant`] says (a control request that arrives meanwhile takes
/// any slot; a slot reserved for reading results goes to a reader).
/// A result-reading waiter whose share is used up is not given a slot far ahead (which would push
/// every later slot behind it): the scheduler waits until its share allows one, serving any
/// higher waiter that comes meanwhile.
async fn schedule(source: Arc<dyn SlotSource>, mut rx: mpsc::UnboundedReceiver<Waiter>) {
    let mut queues = Queues::default();
    let mut reads_at = tokio::time::Instant::now();
    loop {
        while let Ok(w) = rx.try_recv() {
            queues.push(w);
        }
        let Some(class) = queues.top() else {
            match rx.recv().await {
                Some(w) => {
                    queues.push(w);
                    continue;
                }
                None => return,
            }
        };
        if class.reads_results() && tokio::time::Instant::now() < reads_at {
            tokio::select! {
                _ = tokio::time::sleep_until(reads_at) => {}
                w = rx.recv() => match w {
                    Some(w) => queues.push(w),
                    None => return,
                },
            }
            continue;
        }
        let r = source.reserve(class).await;
        let Some(wait) = r.wait else {
            // a reader's share is not due: it waits for `reads_at` (never less than a moment,
            // whatever the clocks say), the others do not
            reads_at = tokio::time::Instant::now() + r.reads_after.max(NOT_DUE_PAUSE);
            continue;
        };
        reads_at = tokio::time::Instant::now() + r.reads_after;
        tokio::time::sleep(wait).await;
        while let Ok(w) = rx.try_recv() {
            queues.push(w);
        }
        queues.grant(class);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH + TimeDelta::milliseconds(ms)
    }

    #[test]
    fn a_fixed_rate_spaces_slots_and_never_grows() {
        let mode = RateMode::Fixed(10.0);
        let mut b = BucketState::new(at(0));
        let slots: Vec<i64> = (0..5)
            .map(|_| (b.reserve(Class::Dispatch, at(0), mode).unwrap() - at(0)).num_milliseconds())
            .collect();
        // 102 ms: a tenth of a second and its share of the slack
        assert_eq!(slots, vec![0, 102, 204, 306, 408]);
        b.throttled(at(0), mode, TimeDelta::zero());
        assert_eq!(b.rate_in(mode), 10.0);
        assert_eq!(
            b.rate, START_RATE,
            "a fixed rate leaves the discovered one alone"
        );
    }

    #[test]
    fn sync_takes_at_most_its_share_while_leads_wait() {
        let mode = RateMode::Fixed(10.0);
        let mut b = BucketState::new(at(0));
        // a dispatcher asking for every slot, and a reader asking too each time
        let mut reads = 0;
        for i in 0..200 {
            let now = at(i * 102);
            b.reserve(Class::Dispatch, now, mode).unwrap();
            if b.reserve(Class::Sync, now, mode).is_some() {
                reads += 1;
            }
        }
        // 223 slots were given, one in ten of them to the reader
        assert_eq!(reads, 23);
        assert_eq!(b.reserved, 223);
        // no dispatch for longer than the window: sync may take every slot
        let later = at(100_000);
        let a = b.reserve(Class::Sync, later, mode).unwrap();
        let c = b.reserve(Class::Sync, later, mode).unwrap();
        assert_eq!((c - a).num_milliseconds(), 102);
    }

    #[test]
    fn a_reader_does_not_wait_out_the_share_of_a_dispatch_that_ended() {
        let mode = RateMode::Fixed(2.0);
        let mut b = BucketState::new(at(0));
        b.reserve(Class::Dispatch, at(0), mode).unwrap();
        let first = b.reserve(Class::Sync, at(0), mode);
        assert_eq!(first, Some(at(510)));
        // while dispatch asks, the next reader is not due until a share's spacing later: nothing
        // is reserved for it, so no later slot is held behind it
        let r = b.reserve(Class::Sync, at(0), mode);
        assert_eq!(r, None);
        assert_eq!(b.next_free, at(1020), "nothing reserved");
        let r = Reservation::of(r, &b, at(0), mode);
        assert_eq!(r.reads_after.as_millis(), 1020, "until the demand ends");
        // dispatch asked nothing for two slots: the next reader is served at once
        assert_eq!(b.reserve(Class::Sync, at(1500), mode), Some(at(1500)));
    }

    #[test]
    fn a_discovered_rate_grows_fast_then_cuts_comes_back_fast_and_probes_slowly() {
        let mode = RateMode::Discovered;
        let mut b = BucketState::new(at(0));
        // saturated: every reservation but the first waits
        for _ in 0..11 {
            b.reserve(Class::Dispatch, at(0), mode).unwrap();
        }
        assert_eq!(b.rate, START_RATE + 10.0 * SLOW_START_PER_SECOND);
        // an answer too late to be counted against the slots kept
        b.throttled(at(3000), mode, TimeDelta::seconds(3));
        let undone = (START_RATE + 10.0 * SLOW_START_PER_SECOND) / 1.5;
        assert!(
            (b.rate - undone).abs() < 1e-9,
            "slow start's last second undone"
        );
        assert!(!b.slow_start);
        assert!(b.recent.is_empty(), "slow start's slots are let go");
        assert_eq!(b.ceiling, b.rate, "slow start's overshoot is not a ceiling");
        let before = b.rate;
        b.throttled(at(3500), mode, TimeDelta::zero()); // within a second of the cut
        assert_eq!(b.rate, before);
        b.throttled(at(4100), mode, TimeDelta::zero());
        assert!((b.rate - before * CUT).abs() < 1e-9);
        assert_eq!(b.ceiling, before, "the rate the throttling answer came at");
        // back to 95% of that fast: a tenth of itself a second is 0.1 a slot
        let mut slots = 0;
        while b.rate < NEAR_CEILING * before {
            b.reserve(Class::Dispatch, at(2600), mode).unwrap();
            slots += 1;
        }
        assert_eq!(
            slots,
            ((NEAR_CEILING - CUT) * before / RECOVER_PER_SECOND).ceil() as i32
        );
        assert_eq!(b.rate, NEAR_CEILING * before, "no fast step past 95% of it");
        // then slowly past the ceiling
        let near = b.rate;
        for _ in 0..10 {
            b.reserve(Class::Dispatch, at(2600), mode).unwrap();
        }
        assert!((b.rate - (near + 10.0 * PROBE_PER_SECOND)).abs() < 1e-9);
        // and once well past it (the limit grew), by a hundredth of itself a second
        b.rate = before * 1.06;
        for _ in 0..10 {
            b.reserve(Class::Dispatch, at(2600), mode).unwrap();
        }
        assert!((b.rate - (before * 1.06 + 10.0 * RAISE_PER_SECOND)).abs() < 1e-9);
        // a throttling answer below the ceiling: the ceiling was too high, the next one is
        // below the rate the answer came at
        b.ceiling = 10.0;
        b.rate = 8.0;
        b.throttled(at(10_000), mode, TimeDelta::zero());
        assert!((b.ceiling - 8.0 * LOWERED_CEILING).abs() < 1e-9);
        // one while probing just under the ceiling: the probe found the limit there
        b.ceiling = 10.0;
        b.rate = 9.99;
        b.throttled(at(20_000), mode, TimeDelta::zero());
        assert_eq!(b.ceiling, 9.99);
    }

    /// How a platform counts its second.
    #[derive(Clone, Copy)]
    enum Second {
        /// From the first request after the last second ended (as the simulator does).
        Fixed,
        /// The second before each request.
        Sliding,
    }

    /// Slow start against a platform that refuses more than `limit` requests in a second,
    /// every slot taken: the state after the first refusal's answer, which comes `answer_ms`
    /// after the refused request left while the scheduler goes on reserving slots.
    fn first_refusal(second: Second, limit: usize, answer_ms: i64) -> BucketState {
        let mode = RateMode::Discovered;
        let mut b = BucketState::new(at(0));
        let (mut now, mut sent) = (at(0), Vec::new());
        let mut window = None::<(DateTime<Utc>, usize)>;
        loop {
            let slot = b.reserve(Class::Dispatch, now, mode).unwrap();
            sent.push(slot);
            let (start, n) = match (second, window) {
                (Second::Fixed, Some((start, n))) if slot - start < TimeDelta::seconds(1) => {
                    (start, n + 1)
                }
                (Second::Fixed, _) => (slot, 1),
                (Second::Sliding, _) => {
                    let from = slot - TimeDelta::seconds(1);
                    (from, sent.iter().filter(|s| **s > from).count())
                }
            };
            window = Some((start, n));
            if n > limit {
                let answer = slot + TimeDelta::milliseconds(answer_ms);
                let mut t = slot;
                while b.next_free <= answer {
                    t = b.reserve(Class::Dispatch, t, mode).unwrap();
                }
                b.throttled(answer, mode, answer - slot);
                return b;
            }
            now = slot;
        }
    }

    #[test]
    fn slow_starts_first_refusal_takes_what_the_platform_accepted_as_the_ceiling() {
        for limit in [2, 3, 5, 20, 50] {
            for answer_ms in [5, 80, 400] {
                let seen = |second| {
                    let b = first_refusal(second, limit, answer_ms);
                    assert!(!b.slow_start);
                    assert!(b.recent.is_empty());
                    assert!(b.rate <= b.ceiling, "never above what was accepted");
                    b.ceiling
                };
                // a platform that counts the second before each request: exactly its limit
                assert_eq!(seen(Second::Sliding), limit as f64);
                // one that counts from a first request: its limit, or a little more when its
                // second began after the oldest of them (a later answer brings it down)
                let fixed = seen(Second::Fixed);
                assert!(
                    fixed >= limit as f64 && fixed <= limit as f64 * 1.1 + 1.0,
                    "limit {limit}, answer after {answer_ms} ms: ceiling {fixed}"
                );
            }
        }
        // at 2 a second: slots at 0, 510, 1020, 1428 and 1768 ms, the last refused (the third
        // of its second); by its answer the rate has grown to 4, whose undone second (2.67)
        // would be refused again
        let b = first_refusal(Second::Fixed, 2, 80);
        assert_eq!((b.ceiling, b.rate), (2.0, 2.0));
    }

    #[test]
    fn an_idle_account_does_not_grow() {
        let mode = RateMode::Discovered;
        let mut b = BucketState::new(at(0));
        for i in 0..50 {
            // one request every two seconds: never waits for its slot
            b.reserve(Class::Sync, at(i * 2000), mode).unwrap();
        }
        assert_eq!(b.rate, START_RATE);
    }

    #[tokio::test]
    async fn control_goes_before_waiting_sync_and_dispatch() {
        let budget = Budget::new(Arc::new(LocalSlots::new(RateMode::Fixed(20.0))));
        budget.acquire(Class::Runs).await; // starts the scheduler, takes the first slot
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for class in [Class::Sync, Class::Dispatch, Class::Control] {
            let (b, o) = (budget.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                b.acquire(class).await;
                o.lock().unwrap_or_else(|p| p.into_inner()).push(class);
            }));
            tokio::task::yield_now().await;
        }
        for t in tasks {
            let _ = t.await;
        }
        let order = order.lock().unwrap_or_else(|p| p.into_inner()).clone();
        assert_eq!(order.first(), Some(&Class::Control), "{order:?}");
        assert_eq!(order.last(), Some(&Class::Sync), "{order:?}");
    }

    /// A budget on tokio's clock, so that a test can run it in paused (virtual) time.
    struct VirtualSlots {
        mode: RateMode,
        start: tokio::time::Instant,
        state: Mutex<BucketState>,
    }

    impl VirtualSlots {
        fn now(&self) -> DateTime<Utc> {
            let ms = self.start.elapsed().as_millis() as i64;
            DateTime::<Utc>::UNIX_EPOCH + TimeDelta::milliseconds(ms)
        }
    }

    #[async_trait]
    impl SlotSource for VirtualSlots {
        async fn reserve(&self, class: Class) -> Reservation {
            let now = self.now();
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            let slot = state.reserve(class, now, self.mode);
            Reservation::of(slot, &state, now, self.mode)
        }
        async fn throttled(&self, _: std::time::Duration) {}
    }

    /// A dispatcher that works a while between its requests, beside a monitor that always has a
    /// result read waiting: the reads take their share and no more, and the dispatcher is not
    /// held behind a read slot reserved far ahead.
    #[tokio::test(start_paused = true)]
    async fn a_waiting_reader_does_not_hold_the_dispatcher_behind_its_share() {
        let source = Arc::new(VirtualSlots {
            mode: RateMode::Fixed(20.0),
            start: tokio::time::Instant::now(),
            state: Mutex::new(BucketState::new(DateTime::<Utc>::UNIX_EPOCH)),
        });
        let budget = Budget::new(source);
        let reads = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let reader = {
            let (b, reads) = (budget.clone(), reads.clone());
            tokio::spawn(async move {
                loop {
                    b.acquire(Class::Sync).await;
                    reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
            })
        };
        let start = tokio::time::Instant::now();
        for _ in 0..200 {
            budget.acquire(Class::Dispatch).await;
            // claiming and recording a batch in the database
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let secs = start.elapsed().as_secs_f64();
        reader.abort();
        let dispatch_rate = 200.0 / secs;
        let read_rate = reads.load(std::sync::atomic::Ordering::SeqCst) as f64 / secs;
        // 20 a second: the dispatcher's own pace allows it all but its 20 ms of work per slot
        assert!(
            dispatch_rate >= 0.85 * 20.0,
            "dispatch {dispatch_rate:.1}/s"
        );
        assert!(
            read_rate <= SYNC_SHARE * 20.0 + 0.5,
            "reads {read_rate:.1}/s"
        );
        assert!(read_rate > 0.0, "reads get their share");
    }
}
