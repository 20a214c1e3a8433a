//! Which endpoints may be called (against server-side request forgery): `https` only, and no
//! address of this machine, of a private network, link-local (cloud metadata lives there),
//! shared, multicast or unspecified, unless the host is listed in `WEBHOOK_ALLOW_HOSTS` (a
//! test's receiver on 127.0.0.1, a CRM inside the dealer's network). The sender checks the
//! addresses a name resolves to when it connects, so a name cannot be pointed elsewhere later.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Hosts allowed whatever their scheme and address (`WEBHOOK_ALLOW_HOSTS`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowHosts(Vec<String>);

impl AllowHosts {
    /// From a comma-separated list of host names and addresses.
    pub fn parse(list: &str) -> Self {
        AllowHosts(
            list.split(',')
                .map(|h| h.trim().trim_matches(['[', ']']).to_ascii_lowercase())
                .filter(|h| !h.is_empty())
                .collect(),
        )
    }

    /// Whether `host` is listed.
    pub fn contains(&self, host: &str) -> bool {
        let host = host.trim_matches(['[', ']']).to_ascii_lowercase();
        self.0.contains(&host)
    }
}

/// Why an address may not be called, or `None` when it may.
pub fn refused_address(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => refused_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => refused_v4(v4),
            None => refused_v6(v6),
        },
    }
}

fn refused_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        Some("a loopback address")
    } else if ip.is_private() {
        Some("a private address")
    } else if ip.is_link_local() {
        Some("a link-local address (cloud metadata)")
    } else if a == 100 && (64..128).contains(&b) {
        Some("a shared (carrier-grade NAT) address")
    } else if ip.is_unspecified() || ip.is_broadcast() || ip.is_multicast() || a == 0 || a >= 240 {
        Some("not a unicast internet address")
    } else {
        None
    }
}

fn refused_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    if ip.is_loopback() {
        Some("a loopback address")
    } else if ip.is_unspecified() || ip.is_multicast() {
        Some("not a unicast internet address")
    } else if first & 0xfe00 == 0xfc00 {
        Some("a private (unique local) address")
    } else if first & 0xffc0 == 0xfe80 {
        Some("a link-local address")
    } else {
        None
    }
}

/// The scheme and host of a URL a webhook may be registered with, or why not: it must be an
/// absolute `https` URL (or `http` for an allowed host), with a host, no user name or password,
/// at most 2,000 characters, and its host, when an address, must be callable.
pub fn check_url(url: &str, allow: &AllowHosts) -> Result<Target, String> {
    if url.chars().count() > 2000 {
        return Err("URL longer than 2,000 characters".into());
    }
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| "not an absolute URL".to_owned())?;
    let scheme = scheme.to_ascii_lowercase();
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err("a URL with a user name or password".into());
    }
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default().to_owned(),
        None => authority
            .rsplit_once(':')
            .map_or(authority, |(h, _)| h)
            .to_owned(),
    };
    if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("a URL without a valid host".into());
    }
    let allowed = allow.contains(&host);
    match scheme.as_str() {
        "https" => {}
        "http" if allowed => {}
        "http" => return Err("only https URLs (http only for WEBHOOK_ALLOW_HOSTS)".into()),
        _ => return Err(format!("scheme `{scheme}` (only https)")),
    }
    if !allowed {
        if host.eq_ignore_ascii_case("localhost")
            || host.to_ascii_lowercase().ends_with(".localhost")
        {
            return Err("localhost".into());
        }
        if let Ok(ip) = host.parse::<IpAddr>()
            && let Some(why) = refused_address(ip)
        {
            return Err(format!("{ip} is {why}"));
        }
    }
    Ok(Target { host, allowed })
}

/// A URL's host, as checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The host (a name, or an address without brackets).
    pub host: String,
    /// Whether it is in `WEBHOOK_ALLOW_HOSTS` (its addresses are not checked).
    pub allowed: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_loopback_link_local_and_metadata_addresses_are_refused() {
        for bad in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(refused_address(bad.parse().unwrap()).is_some(), "{bad}");
        }
        for good in ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"] {
            assert!(refused_address(good.parse().unwrap()).is_none(), "{good}");
        }
    }

    #[test]
    fn only_https_urls_of_callable_hosts_unless_allowed() {
        let none = AllowHosts::default();
        assert!(check_url("https://crm.example.com/hooks?x=1", &none).is_ok());
        for bad in [
            "http://crm.example.com/",
            "ftp://crm.example.com/",
            "crm.example.com",
            "https://user:pw@crm.example.com/",
            "https://127.0.0.1:8443/",
            "https://[::1]/",
            "https://169.254.169.254/latest/meta-data",
            "https://localhost/",
            "https:///nohost",
        ] {
            assert!(check_url(bad, &none).is_err(), "{bad}");
        }
        let tests = AllowHosts::parse("127.0.0.1, Receiver.Local");
        assert!(check_url("http://127.0.0.1:9000/hook", &tests).is_ok());
        assert!(
            check_url("http://receiver.local/hook", &tests)
                .unwrap()
                .allowed
        );
        assert!(check_url("http://10.0.0.1/hook", &tests).is_err());
    }
}
