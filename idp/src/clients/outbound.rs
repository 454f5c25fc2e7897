//! Where requests to URLs a registrant chose may go (server-side request
//! forgery): the registry documents (`jwks_uri`, `sector_identifier_uri`)
//! and back-channel logout. Never the provider's own machine (loopback,
//! unspecified), never the cloud metadata service (link-local), and never an
//! internal network (RFC 1918, shared address space RFC 6598, unique local
//! RFC 4193) — whether the URL names the address, a host name resolves to it,
//! or it hides behind IPv4-mapped or NAT64 (RFC 6052) IPv6 — unless the
//! operator's allow-list (`SESAME_OUTBOUND_ALLOW`) names it. A provider on
//! loopback (development, tests) may call loopback.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use crate::config::{Config, IpNet};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Connection, request and the whole body.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// Why an address is not called unless allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    Unspecified,
    Loopback,
    /// Link-local, where cloud metadata services answer.
    LinkLocal,
    /// RFC 1918 (10/8, 172.16/12, 192.168/16).
    Private,
    /// RFC 6598 carrier-grade NAT, 100.64/10.
    SharedAddressSpace,
    /// RFC 4193, fc00::/7.
    UniqueLocal,
    /// Broadcast and multicast: never one server.
    Broadcast,
    /// RFC 8215 local-use NAT64 prefix (64:ff9b:1::/48): its mapping is the
    /// network's own, so the IPv4 address behind it cannot be judged.
    LocalNat64,
}

/// The IPv4 address an IPv6 address stands for: IPv4-mapped (`::ffff:a.b.c.d`)
/// or the well-known NAT64 prefix (`64:ff9b::/96`, RFC 6052).
fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(v4);
    }
    let s = v6.segments();
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [a, b] = s[6].to_be_bytes();
        let [c, d] = s[7].to_be_bytes();
        return Some(Ipv4Addr::new(a, b, c, d));
    }
    None
}

/// Why `ip` is refused by default, or `None` for an ordinary public address.
pub fn classify(ip: IpAddr) -> Option<Refused> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => classify_v4(v4),
            None => classify_v6(v6),
        },
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<Refused> {
    let [a, b, ..] = ip.octets();
    if ip.is_unspecified() || a == 0 {
        // 0.0.0.0/8: "this network"; Linux connects 0.x to the local host.
        Some(Refused::Unspecified)
    } else if ip.is_loopback() {
        Some(Refused::Loopback)
    } else if ip.is_link_local() {
        Some(Refused::LinkLocal)
    } else if ip.is_private() {
        Some(Refused::Private)
    } else if a == 100 && (b & 0xc0) == 64 {
        Some(Refused::SharedAddressSpace)
    } else if ip.is_broadcast() || ip.is_multicast() {
        Some(Refused::Broadcast)
    } else {
        None
    }
}

fn classify_v6(ip: Ipv6Addr) -> Option<Refused> {
    let s = ip.segments();
    if ip.is_unspecified() {
        Some(Refused::Unspecified)
    } else if ip.is_loopback() {
        Some(Refused::Loopback)
    } else if s[0] & 0xffc0 == 0xfe80 {
        Some(Refused::LinkLocal)
    } else if s[0] & 0xfe00 == 0xfc00 {
        Some(Refused::UniqueLocal)
    } else if ip.is_multicast() {
        Some(Refused::Broadcast)
    } else if s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1 {
        Some(Refused::LocalNat64)
    } else {
        None
    }
}

/// A range of `SESAME_OUTBOUND_ALLOW`, written as its network: no host bits
/// set (`10.20.0.0/16`, not `10.20.1.1/16`, which is likely a typo).
pub fn network(value: &str) -> Result<IpNet, String> {
    let net = IpNet::parse(value)?;
    let lowest = match net.addr {
        IpAddr::V4(v4) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(net.prefix)).unwrap_or(0);
            IpAddr::V4((u32::from(v4) & mask).into())
        }
        IpAddr::V6(v6) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(net.prefix)).unwrap_or(0);
            IpAddr::V6((u128::from(v6) & mask).into())
        }
    };
    if lowest != net.addr {
        return Err(format!("{value:?} has host bits set; write the network ({lowest}/{})", net.prefix));
    }
    Ok(net)
}

/// Which addresses outbound requests to registrant-chosen URLs may reach.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboundPolicy {
    /// The provider itself runs on loopback: loopback is its own test bench.
    pub allow_loopback: bool,
    /// The operator's exceptions (`SESAME_OUTBOUND_ALLOW`).
    pub allowed: Vec<IpNet>,
}

impl OutboundPolicy {
    pub fn of(config: &Config) -> Self {
        Self { allow_loopback: config.issuer_is_loopback(), allowed: config.outbound_allow.clone() }
    }

    /// Whether a request may go to `ip`.
    pub fn permits(&self, ip: IpAddr) -> bool {
        match classify(ip) {
            None => true,
            Some(Refused::Loopback) if self.allow_loopback => true,
            Some(_) => {
                let v4 = match ip {
                    IpAddr::V6(v6) => embedded_v4(v6).map(IpAddr::V4),
                    IpAddr::V4(_) => None,
                };
                self.allowed.iter().any(|net| net.contains(ip) || v4.is_some_and(|v4| net.contains(v4)))
            }
        }
    }

    /// Whether `url` names (as a literal) an address this policy refuses;
    /// host names are checked when they resolve ([`Self::client`]).
    pub fn refuses_literal(&self, url: &url::Url) -> bool {
        match url.host() {
            Some(url::Host::Ipv4(v4)) => !self.permits(IpAddr::V4(v4)),
            Some(url::Host::Ipv6(v6)) => !self.permits(IpAddr::V6(v6)),
            _ => false,
        }
    }

    /// The HTTP client for URLs clients registered: no redirects, short
    /// timeouts, and host names resolved to permitted addresses only.
    pub fn client(&self) -> reqwest::Result<reqwest::Client> {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(TIMEOUT)
            .dns_resolver(Arc::new(GuardedResolver { policy: self.clone() }))
            .build()
    }
}

/// Resolves host names, keeping only addresses the policy permits.
struct GuardedResolver {
    policy: OutboundPolicy,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let found = tokio::net::lookup_host((name.as_str(), 0)).await?;
            let allowed: Vec<SocketAddr> = found.filter(|a| policy.permits(a.ip())).collect();
            if allowed.is_empty() {
                return Err("the host resolves only to addresses the provider does not call".into());
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn every_refused_range_is_classified_at_its_edges() {
        use Refused::*;
        for (address, class) in [
            ("0.0.0.0", Unspecified),
            ("0.255.255.255", Unspecified),
            ("::", Unspecified),
            ("127.0.0.1", Loopback),
            ("127.255.255.254", Loopback),
            ("::1", Loopback),
            ("169.254.0.0", LinkLocal),
            ("169.254.169.254", LinkLocal),
            ("169.254.255.255", LinkLocal),
            ("fe80::1", LinkLocal),
            ("febf:ffff::1", LinkLocal),
            ("10.0.0.0", Private),
            ("10.255.255.255", Private),
            ("172.16.0.0", Private),
            ("172.31.255.255", Private),
            ("192.168.0.0", Private),
            ("192.168.255.255", Private),
            ("100.64.0.0", SharedAddressSpace),
            ("100.127.255.255", SharedAddressSpace),
            ("fc00::", UniqueLocal),
            ("fd00::2", UniqueLocal),
            ("fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", UniqueLocal),
            ("255.255.255.255", Broadcast),
            ("224.0.0.1", Broadcast),
            ("239.255.255.255", Broadcast),
            ("ff02::1", Broadcast),
            ("64:ff9b:1::a00:1", LocalNat64),
            ("64:ff9b:1:ffff::1", LocalNat64),
        ] {
            assert_eq!(classify(ip(address)), Some(class), "{address}");
        }
    }

    #[test]
    fn neighbours_of_refused_ranges_are_public() {
        for address in [
            "1.0.0.0",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "126.255.255.255",
            "128.0.0.0",
            "169.253.255.255",
            "169.255.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.167.255.255",
            "192.169.0.0",
            "223.255.255.255",
            "192.0.2.10",
            "2001:db8::1",
            "2a01:e0a::1",
            "fbff:ffff::1",
            "fe00::1",
            "fec0::1",
            "::2",
            "64:ff9b::808:808",
            "64:ff9b:2::1",
        ] {
            assert_eq!(classify(ip(address)), None, "{address}");
        }
    }

    #[test]
    fn ipv4_behind_ipv6_is_judged_as_ipv4() {
        use Refused::*;
        for (address, class) in [
            ("::ffff:127.0.0.1", Loopback),
            ("::ffff:10.1.2.3", Private),
            ("::ffff:169.254.169.254", LinkLocal),
            ("64:ff9b::7f00:1", Loopback),
            ("64:ff9b::a01:203", Private),
            ("64:ff9b::ac10:1", Private),
            ("64:ff9b::c0a8:101", Private),
            ("64:ff9b::6440:1", SharedAddressSpace),
            ("64:ff9b::a9fe:a9fe", LinkLocal),
            ("64:ff9b::", Unspecified),
        ] {
            assert_eq!(classify(ip(address)), Some(class), "{address}");
        }
        assert_eq!(classify(ip("::ffff:192.0.2.1")), None);
    }

    #[test]
    fn the_allow_list_opens_only_what_it_names() {
        let strict = OutboundPolicy::default();
        assert!(strict.permits(ip("192.0.2.10")));
        assert!(!strict.permits(ip("10.1.2.3")));
        assert!(!strict.permits(ip("127.0.0.1")));

        let on_loopback = OutboundPolicy { allow_loopback: true, allowed: vec![] };
        assert!(on_loopback.permits(ip("127.0.0.1")) && on_loopback.permits(ip("::1")));
        assert!(on_loopback.permits(ip("::ffff:127.0.0.1")));
        assert!(!on_loopback.permits(ip("10.1.2.3")), "loopback development opens loopback only");
        assert!(!on_loopback.permits(ip("169.254.169.254")));

        let allowed = ["10.20.0.0/16", "fd12:3456::/32"].map(|n| IpNet::parse(n).unwrap()).to_vec();
        let operator = OutboundPolicy { allow_loopback: false, allowed };
        assert!(operator.permits(ip("10.20.3.4")));
        assert!(operator.permits(ip("::ffff:10.20.3.4")));
        assert!(operator.permits(ip("64:ff9b::a14:304")), "NAT64 of an allowed IPv4 address");
        assert!(operator.permits(ip("fd12:3456::1")));
        assert!(!operator.permits(ip("10.21.0.1")));
        assert!(!operator.permits(ip("fd12:3457::1")));
        assert!(!operator.permits(ip("127.0.0.1")));
        assert!(operator.permits(ip("192.0.2.10")));
    }

    #[test]
    fn literal_addresses_in_urls_are_judged_before_any_connection() {
        let strict = OutboundPolicy::default();
        for url in [
            "https://10.0.0.1/jwks",
            "https://[fd00::1]/jwks",
            "https://[64:ff9b::a00:1]/jwks",
            "https://[::ffff:192.168.1.1]/x",
            "https://100.100.100.100/x",
            "https://169.254.169.254/latest/meta-data",
            "https://0x7f000001/x",
            "https://2130706433/x",
            "https://017700000001/x",
        ] {
            assert!(strict.refuses_literal(&url::Url::parse(url).unwrap()), "{url}");
        }
        assert!(!strict.refuses_literal(&url::Url::parse("https://mairie.example.fr/jwks").unwrap()));
        assert!(!strict.refuses_literal(&url::Url::parse("https://192.0.2.1/jwks").unwrap()));
    }
}
