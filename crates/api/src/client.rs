//! Who the client is behind a load balancer: with `TRUSTED_PROXIES` set, a request from one of
//! those addresses names its client in `X-Forwarded-For`; the client is the right-most address
//! there that is not itself a trusted proxy (every proxy appends the address it saw, so only
//! the part added by trusted hops can be believed). From anyone else the header is ignored:
//! a client cannot choose its own address for the login throttle, the logs or the audit trail.

use std::net::IpAddr;
use std::str::FromStr;

use actix_web::http::header::HeaderMap;
use ipnet::IpNet;

/// The proxies whose `X-Forwarded-For` is believed (addresses or CIDR blocks).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

/// A request's id for log correlation, set by the HTTP layer (a request extension).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The client address of a request, resolved once by the HTTP layer (a request extension).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

impl TrustedProxies {
    /// `TRUSTED_PROXIES`: comma-separated addresses (`10.0.0.5`) and blocks (`10.0.0.0/8`,
    /// `fd00::/8`); empty: none.
    pub fn parse(s: &str) -> Result<Self, String> {
        s.split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| {
                IpNet::from_str(p)
                    .or_else(|_| IpAddr::from_str(p).map(IpNet::from))
                    .map_err(|_| format!("`{p}` is neither an address nor a CIDR block"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    /// Whether `addr` is a trusted proxy.
    pub fn trusts(&self, addr: IpAddr) -> bool {
        let addr = canonical(addr);
        self.0.iter().any(|net| net.contains(&addr))
    }

    /// The client of a request that came from `peer` with `headers`.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return peer;
        }
        // every X-Forwarded-For header, in order, as one list; read from the right
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            match IpAddr::from_str(hop) {
                Ok(addr) => {
                    client = canonical(addr);
                    if !self.trusts(client) {
                        return client;
                    }
                }
                // what a trusted hop wrote is unreadable: the last hop we believe is the client
                Err(_) => return client,
            }
        }
        client
    }
}

/// IPv4 addresses seen through an IPv6 socket (`::ffff:a.b.c.d`) as IPv4.
fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append(
                HeaderName::from_static("x-forwarded-for"),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_header_is_believed_only_from_a_trusted_proxy() {
        let trusted = TrustedProxies::parse("10.0.0.0/8, 192.168.1.5").unwrap();
        let h = headers(&["198.51.100.7"]);
        assert_eq!(trusted.client(ip("10.1.2.3"), &h), ip("198.51.100.7"));
        assert_eq!(trusted.client(ip("192.168.1.5"), &h), ip("198.51.100.7"));
        assert_eq!(
            trusted.client(ip("203.0.113.9"), &h),
            ip("203.0.113.9"),
            "spoofed"
        );
        assert_eq!(
            TrustedProxies::default().client(ip("10.1.2.3"), &h),
            ip("10.1.2.3")
        );
    }

    #[test]
    fn the_client_is_the_right_most_address_not_a_trusted_proxy() {
        let trusted = TrustedProxies::parse("10.0.0.0/8").unwrap();
        // the client made up the first entry; the proxies appended the rest
        let h = headers(&["1.1.1.1, 198.51.100.7", "10.0.0.2"]);
        assert_eq!(trusted.client(ip("10.0.0.1"), &h), ip("198.51.100.7"));
        // only proxies: the left-most is the client
        let h = headers(&["10.0.0.3, 10.0.0.2"]);
        assert_eq!(trusted.client(ip("10.0.0.1"), &h), ip("10.0.0.3"));
        // no header: the proxy itself
        assert_eq!(
            trusted.client(ip("10.0.0.1"), &headers(&[])),
            ip("10.0.0.1")
        );
        // garbage written after a trusted hop: the last believed hop
        let h = headers(&["198.51.100.7, garbage, 10.0.0.2"]);
        assert_eq!(trusted.client(ip("10.0.0.1"), &h), ip("10.0.0.2"));
        // IPv4 seen through IPv6
        assert_eq!(
            trusted.client(ip("::ffff:10.0.0.1"), &headers(&["::ffff:198.51.100.7"])),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn a_list_that_is_not_addresses_is_refused() {
        assert!(TrustedProxies::parse("10.0.0.0/8, proxy.local").is_err());
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert_eq!(
            TrustedProxies::parse(" ").unwrap(),
            TrustedProxies::default()
        );
    }
}
