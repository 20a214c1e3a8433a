//! The delivery worker: claim due deliveries (never another worker's), POST each signed, record
//! what came of it; as soon as one attempt ends its room is claimed again, so an endpoint slow
//! to answer takes only its own share of the attempts in flight. At least once: a worker that dies holding deliveries leaves them
//! due again when their lease ends, and a receiver that took an event but whose answer was lost
//! gets it again, with the same `webhook-id`.

use std::sync::Arc;
use std::time::Duration;

use std::collections::HashMap;

use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use kernel::{Clock, DeliveryId, RepoError, WebhookId};

use crate::schedule::wait_after;
use crate::{DueDelivery, Outcome, SendError, Sender, WebhookRepository, sign};

/// Settings of the delivery worker.
#[derive(Debug, Clone)]
pub struct DeliverySettings {
    /// This instance's worker id (for the claims).
    pub worker_id: String,
    /// Most attempts in flight at once (per instance).
    pub batch: i64,
    /// Most attempts of one endpoint in flight at once (per instance).
    pub per_endpoint: i64,
    /// How long a claim holds (longer than a POST's timeout).
    pub lease: Duration,
    /// The retry schedule's scale (1.0; tests shorten it).
    pub retry_scale: f64,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        Self {
            worker_id: "worker".into(),
            batch: 64,
            per_endpoint: 16,
            lease: Duration::from_secs(30),
            retry_scale: 1.0,
        }
    }
}

/// Sends due deliveries.
#[derive(Clone)]
pub struct Deliverer {
    repo: Arc<dyn WebhookRepository>,
    sender: Arc<dyn Sender>,
    clock: Arc<dyn Clock>,
    settings: DeliverySettings,
}

impl Deliverer {
    /// Wire the worker.
    pub fn new(
        repo: Arc<dyn WebhookRepository>,
        sender: Arc<dyn Sender>,
        clock: Arc<dyn Clock>,
        settings: DeliverySettings,
    ) -> Self {
        Self {
            repo,
            sender,
            clock,
            settings,
        }
    }

    /// Deliver until nothing is due: up to `batch` attempts in flight, at most `per_endpoint`
    /// of one endpoint; each time attempts end, they are recorded (in one statement) and their
    /// room is claimed again. How many attempts were made.
    pub async fn drain(&self) -> Result<usize, RepoError> {
        type Attempt<'a> = futures::future::BoxFuture<'a, (DeliveryId, WebhookId, Outcome)>;
        let s = &self.settings;
        let mut inflight: FuturesUnordered<Attempt<'_>> = FuturesUnordered::new();
        let mut busy: HashMap<WebhookId, i64> = HashMap::new();
        let mut attempted = 0;
        loop {
            let room = s.batch - i64::try_from(inflight.len()).unwrap_or(i64::MAX);
            if room > 0 {
                let held: Vec<(WebhookId, i64)> = busy.iter().map(|(w, n)| (*w, *n)).collect();
                let due = self
                    .repo
                    .claim_due(&s.worker_id, room, s.per_endpoint, &held, s.lease)
                    .await?;
                for d in due {
                    *busy.entry(d.webhook_id).or_default() += 1;
                    inflight.push(Box::pin(async move {
                        let outcome = self.attempt(&d).await;
                        (d.id, d.webhook_id, outcome)
                    }));
                }
            }
            let Some(first) = inflight.next().await else {
                return Ok(attempted);
            };
            let mut ended = vec![first];
            while let Some(Some(more)) = inflight.next().now_or_never() {
                ended.push(more);
            }
            attempted += ended.len();
            let mut outcomes = Vec::with_capacity(ended.len());
            for (id, webhook, outcome) in ended {
                if let Some(n) = busy.get_mut(&webhook) {
                    *n -= 1;
                    if *n <= 0 {
                        busy.remove(&webhook);
                    }
                }
                outcomes.push((id, outcome));
            }
            // if this fails the claims run out and the deliveries are due again: at least once
            self.repo.record(&s.worker_id, &outcomes).await?;
        }
    }

    /// POST one delivery and say what came of it.
    pub async fn attempt(&self, d: &DueDelivery) -> Outcome {
        let body = d.body.clone().into_bytes();
        let timestamp = self.clock.now().timestamp();
        let headers = vec![
            ("content-type".to_owned(), "application/json".to_owned()),
            ("user-agent".to_owned(), "outbound-webhooks/1".to_owned()),
            ("webhook-id".to_owned(), d.event_id.clone()),
            ("webhook-timestamp".to_owned(), timestamp.to_string()),
            (
                "webhook-signature".to_owned(),
                sign::header(&d.secrets, &d.event_id, timestamp, &body),
            ),
        ];
        match self.sender.post(&d.url, headers, body).await {
            Ok(a) if (200..300).contains(&a.status) => Outcome::Delivered {
                status: a.status,
                response: a.body,
            },
            Ok(a) => self.failed(d, Some(a.status), format!("HTTP {}", a.status), a.body),
            Err(SendError::Refused(why)) => Outcome::Failed {
                status: None,
                error: format!("refused target: {why}"),
                response: String::new(),
                retry_at: None,
            },
            Err(SendError::Transport(why)) => self.failed(d, None, why, String::new()),
        }
    }

    fn failed(
        &self,
        d: &DueDelivery,
        status: Option<u16>,
        error: String,
        response: String,
    ) -> Outcome {
        use rand::Rng;
        let jitter = rand::thread_rng().gen_range(-1.0..=1.0);
        let retry_at = wait_after(d.attempts + 1, self.settings.retry_scale, jitter)
            .map(|wait| self.clock.now() + wait);
        Outcome::Failed {
            status,
            error,
            response,
            retry_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Answer, MockSender, MockWebhookRepository};
    use kernel::MockClock;

    fn due(attempts: i32) -> DueDelivery {
        DueDelivery {
            id: DeliveryId(1),
            webhook_id: WebhookId(2),
            url: "https://crm.example.com/hook".into(),
            secrets: vec![sign::new_secret()],
            event_id: "msg_1".into(),
            body: "null".into(),
            attempts,
        }
    }

    fn deliverer(sender: MockSender) -> Deliverer {
        let mut clock = MockClock::new();
        clock.expect_now().returning(chrono::Utc::now);
        Deliverer::new(
            Arc::new(MockWebhookRepository::new()),
            Arc::new(sender),
            Arc::new(clock),
            DeliverySettings::default(),
        )
    }

    #[tokio::test]
    async fn a_signed_post_answered_2xx_is_delivered_and_anything_else_retried_or_failed() {
        let d = due(0);
        let secret = d.secrets[0].clone();
        let mut sender = MockSender::new();
        sender
            .expect_post()
            .times(1)
            .returning(move |_, headers, body| {
                let h = |n: &str| {
                    headers
                        .iter()
                        .find(|(k, _)| k == n)
                        .map(|(_, v)| v.clone())
                        .unwrap_or_default()
                };
                let ts: i64 = h("webhook-timestamp").parse().unwrap_or(0);
                let ok = sign::verify(
                    &secret,
                    &h("webhook-id"),
                    ts,
                    &body,
                    &h("webhook-signature"),
                );
                Ok(Answer {
                    status: if ok { 204 } else { 401 },
                    body: String::new(),
                })
            });
        assert!(matches!(
            deliverer(sender).attempt(&d).await,
            Outcome::Delivered { status: 204, .. }
        ));

        let mut sender = MockSender::new();
        sender.expect_post().returning(|_, _, _| {
            Ok(Answer {
                status: 500,
                body: "oops".into(),
            })
        });
        let w = deliverer(sender);
        assert!(matches!(
            w.attempt(&due(0)).await,
            Outcome::Failed {
                retry_at: Some(_),
                status: Some(500),
                ..
            }
        ));
        assert!(
            matches!(
                w.attempt(&due(7)).await,
                Outcome::Failed { retry_at: None, .. }
            ),
            "the eighth failure is the last"
        );

        let mut sender = MockSender::new();
        sender
            .expect_post()
            .returning(|_, _, _| Err(SendError::Refused("10.0.0.1 is a private address".into())));
        assert!(matches!(
            deliverer(sender).attempt(&due(0)).await,
            Outcome::Failed { retry_at: None, .. }
        ));
    }
}
