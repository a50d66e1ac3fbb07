//! Address rules shared by everything that connects where an administrator or a
//! client said (client `jwks_uri`, webhooks): which addresses are on the public
//! internet (catalogue RG-05, AD-72). Pure; the connecting is done elsewhere.

use std::net::{IpAddr, Ipv4Addr};

/// Whether an address is on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1])))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let seg = v6.segments();
            let embedded = |hi: u16, lo: u16| {
                Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8)
            };
            // NAT64 (RFC 6052 well-known prefix 64:ff9b::/96) and 6to4 (RFC 3056,
            // 2002::/16) carry an IPv4 address a gateway will connect to: judge that one.
            if seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                return is_public(IpAddr::V4(embedded(seg[6], seg[7])));
            }
            if seg[0] == 0x2002 {
                return is_public(IpAddr::V4(embedded(seg[1], seg[2])));
            }
            // The local-use NAT64 prefix (RFC 8215, 64:ff9b:1::/48) translates into
            // whatever network the operator chose: never public.
            if seg[..3] == [0x64, 0xff9b, 1] {
                return false;
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (seg[0] & 0xfe00) == 0xfc00
                || (seg[0] & 0xffc0) == 0xfe80)
        }
    }
}
