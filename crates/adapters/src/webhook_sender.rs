//! [`HttpSender`]: webhook POSTs over reqwest: 5 s timeout, no redirect followed, at most 1 KB
//! of an answer kept, and every address a host resolves to checked when connecting (a name that
//! points at a private or loopback address is refused then, not only at registration).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use webhooks::target::{AllowHosts, check_url, refused_address};
use webhooks::{Answer, SendError, Sender};

/// A POST's limit.
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// How much of an answer is kept.
const KEEP: usize = 1024;

/// Why an address was refused (found in a failed request's causes).
#[derive(Debug)]
struct RefusedAddress(String);

impl std::fmt::Display for RefusedAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RefusedAddress {}

/// Resolves with the system and keeps only callable addresses (allowed hosts: all).
struct CheckedResolver {
    allow: AllowHosts,
}

/// The addresses of `host`, or why none may be called.
async fn callable(
    host: &str,
    allow: &AllowHosts,
) -> Result<Vec<SocketAddr>, Box<dyn std::error::Error + Send + Sync>> {
    let addrs: Vec<SocketAddr> = tokio::time::timeout(TIMEOUT, tokio::net::lookup_host((host, 0)))
        .await
        .map_err(|_| format!("resolving {host} timed out"))??
        .collect();
    if allow.contains(host) {
        return Ok(addrs);
    }
    let mut why = None;
    let ok: Vec<SocketAddr> = addrs
        .into_iter()
        .filter(|a| match refused_address(a.ip()) {
            Some(reason) => {
                why = Some(format!("{host} resolves to {} ({reason})", a.ip()));
                false
            }
            None => true,
        })
        .collect();
    match (ok.is_empty(), why) {
        (true, Some(why)) => Err(Box::new(RefusedAddress(why))),
        _ => Ok(ok),
    }
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow = self.allow.clone();
        Box::pin(async move {
            let addrs = callable(name.as_str(), &allow).await?;
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// [`Sender`] over HTTP.
#[derive(Clone)]
pub struct HttpSender {
    client: reqwest::Client,
    allow: AllowHosts,
}

impl HttpSender {
    /// A sender that calls hosts of `allow` whatever their address.
    pub fn new(allow: AllowHosts) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(CheckedResolver {
                allow: allow.clone(),
            }))
            .pool_max_idle_per_host(32)
            .build()?;
        Ok(Self { client, allow })
    }
}

fn refused_in(e: &reqwest::Error) -> Option<String> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if let Some(r) = c.downcast_ref::<RefusedAddress>() {
            return Some(r.0.clone());
        }
        cause = c.source();
    }
    None
}

#[async_trait]
impl Sender for HttpSender {
    async fn check_host(&self, host: &str) -> Result<(), String> {
        match callable(host, &self.allow).await {
            Err(e) if e.downcast_ref::<RefusedAddress>().is_some() => Err(e.to_string()),
            // a name that does not resolve now may later; its addresses are checked then
            _ => Ok(()),
        }
    }

    async fn post(
        &self,
        url: &str,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    ) -> Result<Answer, SendError> {
        // an address in the URL itself is not resolved: check it here
        check_url(url, &self.allow).map_err(SendError::Refused)?;
        let mut req = self.client.post(url).body(body);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        let mut res = req.send().await.map_err(|e| match refused_in(&e) {
            Some(why) => SendError::Refused(why),
            None => SendError::Transport(transport(&e)),
        })?;
        let status = res.status().as_u16();
        let mut kept = Vec::new();
        // read at most what is kept; the rest is dropped with the connection
        while kept.len() < KEEP {
            match res.chunk().await {
                Ok(Some(chunk)) => kept.extend_from_slice(&chunk),
                Ok(None) => break,
                // the status came: a body cut short does not change the answer
                Err(_) => break,
            }
        }
        kept.truncate(KEEP);
        Ok(Answer {
            status,
            body: String::from_utf8_lossy(&kept).into_owned(),
        })
    }
}

/// A transport failure in a few words.
fn transport(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "could not connect".to_owned()
    } else {
        let mut s = e.to_string();
        let mut cause = std::error::Error::source(e);
        while let Some(c) = cause {
            s = format!("{s}: {c}");
            cause = c.source();
        }
        s
    }
}
