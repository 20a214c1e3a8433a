//! Webhook delivery: how fast the delivery loops empty an outbox into a local receiver that
//! answers at once, with `WEBHOOK_CONCURRENCY` = 16.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::Args;
use crate::env::{BenchEnv, sim};
use crate::scenarios::{Report, count};

/// Events delivered in the benchmark.
const EVENTS: i64 = 20_000;

/// A receiver that answers 204 at once to every request on kept-alive connections; counts them.
async fn receiver() -> anyhow::Result<(String, Arc<AtomicU64>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    let seen = Arc::new(AtomicU64::new(0));
    let counter = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut buf: Vec<u8> = Vec::new();
                let mut chunk = [0u8; 16384];
                loop {
                    // one request: headers, then content-length bytes
                    let head_end = loop {
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break Some(i);
                        }
                        match socket.read(&mut chunk).await {
                            Ok(0) | Err(_) => break None,
                            Ok(n) => buf.extend_from_slice(chunk.get(..n).unwrap_or_default()),
                        }
                    };
                    let Some(head_end) = head_end else { return };
                    let head = String::from_utf8_lossy(buf.get(..head_end).unwrap_or_default())
                        .to_ascii_lowercase();
                    let length: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    while buf.len() < head_end + 4 + length {
                        match socket.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(chunk.get(..n).unwrap_or_default()),
                        }
                    }
                    buf.drain(..head_end + 4 + length);
                    counter.fetch_add(1, Ordering::Relaxed);
                    if socket
                        .write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    Ok((url, seen))
}

/// The delivery benchmark.
pub async fn webhooks(env: &BenchEnv, _args: &Args, report: &mut Report) -> anyhow::Result<()> {
    let (_sim, sim_url) = sim(platform_sim::SimConfig::default())?;
    let (url, seen) = receiver().await?;
    let server = env
        .server(
            &sim_url,
            &[
                ("MONITOR_INTERVAL_SECS", "3600".into()),
                ("WEBHOOK_ALLOW_HOSTS", "127.0.0.1".into()),
                ("WEBHOOK_CONCURRENCY", "16".into()),
            ],
        )
        .await?;
    let org = env.tenant("webhooks").await?;
    let hook = count(env, &format!(
        "INSERT INTO webhooks (org_id, url, events, secret) VALUES ({org}, '{url}', '{{lead.call_finished}}', 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw') RETURNING id AS n"
    ))
    .await?;
    println!("webhooks: {EVENTS} events to {url}");
    let t0 = Instant::now();
    env.sql(&format!(
        "INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, payload) \
         SELECT {hook}, 'msg_bench_' || g, 'lead.call_finished', jsonb_build_object('type', 'lead.call_finished', \
           'timestamp', '2025-11-10T01:30:00.000Z', 'data', jsonb_build_object('task_id', 1, 'lead_id', g, \
           'phone', '138****5678', 'call_status', 'connected', 'attempts', 1, 'duration_seconds', 42, \
           'intent_level', 'A', 'intent_tags', '[\"试驾\"]'::jsonb, 'summary', '客户有意向，约周末到店', \
           'follow_suggestion', '三天内回访', 'time', '2025-11-10T01:29:00.000Z')) \
         FROM generate_series(1, {EVENTS}) AS g"
    ))
    .await?;
    let delivered = loop {
        let done = count(
            env,
            &format!("SELECT count(*) AS n FROM webhook_deliveries WHERE webhook_id = {hook} AND status = 'succeeded'"),
        )
        .await?;
        if done >= EVENTS {
            break t0.elapsed().as_secs_f64();
        }
        anyhow::ensure!(
            t0.elapsed() < Duration::from_secs(300),
            "only {done} of {EVENTS} delivered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let rate = EVENTS as f64 / delivered;
    let requests = seen.load(Ordering::Relaxed);
    println!(
        "webhooks: {EVENTS} delivered in {delivered:.2} s = {rate:.0}/s ({requests} requests)"
    );
    drop(server);
    report.sections.push(format!(
        "## Webhook delivery\n\n{EVENTS} `lead.call_finished` deliveries put in the outbox of one endpoint at once, \
         delivered by one instance (`WEBHOOK_CONCURRENCY=16`: at most 16 in flight, each one's room claimed again as soon as it ends) to a local \
         receiver that answers 204 at once on kept-alive connections; timed from the insert until the last is recorded \
         `succeeded`. Each delivery: signed (HMAC-SHA256), POSTed, its outcome written back. Target: at least 1,000 \
         events/s.\n\n\
         | events | time (s) | events/s | requests the receiver saw | target |\n|---:|---:|---:|---:|---|\n\
         | {EVENTS} | {delivered:.2} | {rate:.0} | {requests} | ≥ 1,000/s {} |\n",
        if rate >= 1000.0 { "✅" } else { "❌" }
    ));
    Ok(())
}
