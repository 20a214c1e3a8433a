//! haproxy in front of instances of the binary, as the load-balancer test and the rolling
//! restart benchmark run it.

/// A configuration: `front` balances round robin over `backends` (servers `s0`, `s1`, …),
/// health-checking `GET /api/health/ready` every 500 ms (out after 2 failures, back after 2
/// passes); statistics at `http://127.0.0.1:{stats}/stats`. haproxy retries only failed
/// connections (its default `retry-on`), never a request an instance dropped, so the instances'
/// drain is what keeps the answers whole.
pub fn haproxy_config(front: u16, stats: u16, backends: &[u16]) -> String {
    let servers: String = backends
        .iter()
        .enumerate()
        .map(|(i, p)| format!("  server s{i} 127.0.0.1:{p} check\n"))
        .collect();
    format!(
        "global\n  maxconn 2000\n\
         defaults\n  mode http\n  timeout connect 2s\n  timeout client 30s\n  timeout server 30s\n\
         \x20 retries 3\n  option redispatch\n\
         frontend front\n  bind 127.0.0.1:{front}\n  option forwardfor\n  default_backend instances\n\
         backend instances\n  balance roundrobin\n  option httpchk GET /api/health/ready\n\
         \x20 http-check expect status 200\n  default-server inter 500ms fall 2 rise 2\n{servers}\
         listen stats\n  bind 127.0.0.1:{stats}\n  stats enable\n  stats uri /stats\n"
    )
}

/// Whether haproxy (statistics on port `stats`) has server `s{i}` up, from its CSV statistics.
pub async fn is_up(stats: u16, i: usize) -> bool {
    let Ok(r) = reqwest::get(format!("http://127.0.0.1:{stats}/stats;csv")).await else {
        return false;
    };
    let text = r.text().await.unwrap_or_default();
    let mut lines = text.lines();
    let header: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .trim_start_matches("# ")
        .split(',')
        .collect();
    let column = |name: &str| header.iter().position(|h| *h == name);
    let (Some(sv), Some(st)) = (column("svname"), column("status")) else {
        return false;
    };
    let name = format!("s{i}");
    lines.any(|l| {
        let f: Vec<&str> = l.split(',').collect();
        f.get(sv) == Some(&name.as_str()) && f.get(st) == Some(&"UP")
    })
}
