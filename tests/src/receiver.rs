//! A webhook receiver for the tests: a bare HTTP/1.1 server that records every request and
//! fails on purpose (500s, requests taken then the connection dropped without an answer,
//! answers slower than the sender's timeout), in shares the test chooses.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    /// Header names (lower case) and values.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// What the receiver did with it.
    pub answer: Answered,
}

impl Received {
    /// A header's value ("" when absent).
    pub fn header(&self, name: &str) -> String {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// What the receiver answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answered {
    /// 204.
    Ok,
    /// 500.
    Error,
    /// The connection closed without an answer (the request was taken).
    Dropped,
    /// An answer slower than the sender waits.
    Slow,
}

/// Shares (0..1) of requests answered each wrong way.
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    /// 500.
    pub error: f64,
    /// Taken, then the connection dropped.
    pub dropped: f64,
    /// Answered after `slow`.
    pub slow: f64,
}

/// A running receiver.
#[derive(Clone)]
pub struct Receiver {
    /// `http://127.0.0.1:port/hook`.
    pub url: String,
    /// Every request so far.
    pub received: Arc<Mutex<Vec<Received>>>,
    faults: Arc<Mutex<Faults>>,
}

impl Receiver {
    /// Start one on a free port.
    pub async fn start(faults: Faults) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let r = Receiver {
            url,
            received: Arc::default(),
            faults: Arc::new(Mutex::new(faults)),
        };
        let me = r.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let me = me.clone();
                tokio::spawn(async move { me.serve(socket).await });
            }
        });
        r
    }

    /// Change the faults from now on.
    pub fn set_faults(&self, faults: Faults) {
        *self.faults.lock().unwrap() = faults;
    }

    /// Every request so far.
    pub fn all(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    async fn serve(&self, mut socket: TcpStream) {
        let Some((headers, body)) = read_request(&mut socket).await else {
            return;
        };
        let faults = *self.faults.lock().unwrap();
        let roll: f64 = rand::random();
        let answer = if roll < faults.error {
            Answered::Error
        } else if roll < faults.error + faults.dropped {
            Answered::Dropped
        } else if roll < faults.error + faults.dropped + faults.slow {
            Answered::Slow
        } else {
            Answered::Ok
        };
        self.received.lock().unwrap().push(Received {
            headers,
            body,
            answer,
        });
        let reply: &[u8] = match answer {
            Answered::Ok => b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            Answered::Error => b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\nConnection: close\r\n\r\noops",
            Answered::Dropped => return,
            Answered::Slow => {
                tokio::time::sleep(Duration::from_secs(6)).await;
                b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            }
        };
        let _ = socket.write_all(reply).await;
        let _ = socket.shutdown().await;
    }
}

/// Read one request: its headers and a body of `content-length` bytes.
async fn read_request(socket: &mut TcpStream) -> Option<(Vec<(String, String)>, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let headers: Vec<(String, String)> = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    Some((headers, body))
}
