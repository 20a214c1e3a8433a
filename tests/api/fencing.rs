//! Leases fence a stalled holder: an instance frozen past its lease (SIGSTOP) while it holds a
//! claimed batch wakes (SIGCONT) to find another instance working the task, and sends and writes
//! nothing more for it; the task ends with every lead sent once.
use std::process::Command;

use e2e::{ChildGuard, SimConfig, eventually, free_port, sim_stats, spawn_sim};
use serde_json::json;

use crate::restart::{setup_on, start_binary_leased};

fn signal(child: &std::process::Child, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig}");
}

async fn jobs(sim_url: &str) -> u64 {
    sim_stats(sim_url).await["jobs_total"].as_u64().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_frozen_past_its_lease_sends_and_writes_nothing_when_it_wakes() {
    let (_sim, sim_url) = spawn_sim(SimConfig {
        call_ms: 50,
        ..SimConfig::default()
    });
    let setup = setup_on(&sim_url).await;
    let (_, t) = setup.tenant("dealer").await;
    let n = 1200;
    let task = setup.task_with_leads(&t, n, "script-1").await;
    setup
        .post(Some(&t), "/api/start-call-task", json!({"task_id": task}))
        .await
        .expect(200, None);

    // 3 requests a second: the dispatcher spends most of its time holding a claimed batch
    // while it waits for the budget's next slot, where a freeze hurts most
    let frozen = ChildGuard(start_binary_leased(
        &setup.db.url,
        &sim_url,
        "frozen",
        free_port(),
        Some(3),
        6,
    ));
    eventually(60, "dispatch under way", || async {
        let j = jobs(&sim_url).await;
        (j >= 99 && j < n as u64).then_some(())
    })
    .await;
    signal(&frozen.0, "-STOP");
    let at_freeze = jobs(&sim_url).await;

    // the other instance takes the task once the lease is over, settles the frozen one's
    // batch and sends on
    let _other = ChildGuard(start_binary_leased(
        &setup.db.url,
        &sim_url,
        "other",
        free_port(),
        Some(3),
        6,
    ));
    eventually(90, "the other instance dispatching", || async {
        (jobs(&sim_url).await >= at_freeze + 2 * 99).then_some(())
    })
    .await;
    // without the fence the woken instance sends the batch it held, which the other one has
    // sent again by now: 99 duplicates (seen when the checks were taken out)
    signal(&frozen.0, "-CONT");

    let s = setup.wait_completed(&t, task, 180).await;
    assert_eq!(s["dispatched"], n);
    let stats = sim_stats(&sim_url).await;
    assert_eq!(stats["duplicate_reference_ids"], 0, "{stats}");
    assert_eq!(stats["jobs_total"], n, "{stats}");
}
