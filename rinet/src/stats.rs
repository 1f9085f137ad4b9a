//! Counters, named after the SNMP MIB fields `/proc/net/snmp` prints.

use crate::wire::{DropReason, DROP_REASONS, IPPROTO_TCP, IPPROTO_UDP};

/// The counters `/proc/net/snmp` prints, in the layout of the glue's `struct rinet_snmp`
/// (rinet.h): the C ABI hands out a copy of this struct as it is, and the kernel build
/// checks that both sides lay it out alike (`ffi/layout.rs`).
#[repr(C)]
#[derive(Clone, Debug, Default)]
pub struct Mib {
    pub ip_in_receives: u64,
    pub ip_in_hdr_errors: u64,
    pub ip_in_delivers: u64,
    pub ip_out_requests: u64,
    pub ip_reasm_fails: u64,
    pub icmp_in_msgs: u64,
    pub icmp_out_msgs: u64,
    pub tcp_active_opens: u64,
    pub tcp_passive_opens: u64,
    pub tcp_attempt_fails: u64,
    pub tcp_estab_resets: u64,
    /// Connections in ESTABLISHED or CLOSE-WAIT; filled in when the counters are read.
    pub tcp_curr_estab: u64,
    pub tcp_in_segs: u64,
    pub tcp_out_segs: u64,
    pub tcp_retrans_segs: u64,
    pub tcp_in_errs: u64,
    pub tcp_out_rsts: u64,
    pub udp_in_datagrams: u64,
    pub udp_in_errors: u64,
    pub udp_out_datagrams: u64,
    /// Frames dropped by the receive classifier, all reasons.
    pub rx_drops: u64,
    pub tcp_listen_overflows: u64,
    pub ip_in_addr_errors: u64,
    /// Frames not sent because their source address is no longer ours.
    pub ip_out_no_routes: u64,
    /// Half-open connections evicted from the full SYN queue for a new SYN.
    pub syn_queue_evictions: u64,
    pub tcp_in_csum_errors: u64,
    /// Datagrams for a port no socket has (a port unreachable went back).
    pub udp_no_ports: u64,
    pub udp_in_csum_errors: u64,
    pub icmp_in_errors: u64,
    pub icmp_in_csum_errors: u64,
    /// Frames dropped by the receive classifier, by [`DropReason`].
    pub drops: [u64; DROP_REASONS],
}

#[derive(Clone, Debug, Default)]
pub struct Stats {
    pub mib: Mib,
    pub arp_in: u64,
    pub arp_out: u64,
    /// Frames for another host's link address (Linux's `rx_otherhost_dropped`).
    pub other_host: u64,
    /// Packets dropped because their next hop never answered ARP.
    pub unresolved: u64,
}

impl Stats {
    pub fn drop_frame(&mut self, why: DropReason) {
        let m = &mut self.mib;
        m.drops[why as usize] += 1;
        m.rx_drops += 1;
        match why {
            DropReason::BadIpHeader | DropReason::BadIpChecksum => m.ip_in_hdr_errors += 1,
            DropReason::Fragment => m.ip_reasm_fails += 1,
            DropReason::NotLocal => m.ip_in_addr_errors += 1,
            DropReason::ListenOverflow => m.tcp_listen_overflows += 1,
            _ => {}
        }
    }

    /// A segment, datagram or ICMP message with a bad header or checksum (`csum`) in a
    /// sound IP packet of protocol `proto`: Linux delivers it, and the protocol counts it
    /// as received and in error.
    pub fn l4_error(&mut self, proto: u8, csum: bool) {
        let m = &mut self.mib;
        let csum = u64::from(csum);
        m.ip_in_receives += 1;
        m.ip_in_delivers += 1;
        match proto {
            IPPROTO_TCP => {
                m.tcp_in_segs += 1;
                m.tcp_in_errs += 1;
                m.tcp_in_csum_errors += csum;
            }
            IPPROTO_UDP => {
                m.udp_in_errors += 1;
                m.udp_in_csum_errors += csum;
            }
            _ => {
                m.icmp_in_msgs += 1;
                m.icmp_in_errors += 1;
                m.icmp_in_csum_errors += csum;
            }
        }
    }

    pub fn dropped(&self, why: DropReason) -> u64 {
        self.mib.drops[why as usize]
    }

    pub fn total_drops(&self) -> u64 {
        self.mib.rx_drops
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_feed_mib_counters() {
        let mut s = Stats::default();
        s.drop_frame(DropReason::BadIpChecksum);
        s.drop_frame(DropReason::ListenOverflow);
        s.drop_frame(DropReason::Truncated);
        assert_eq!(s.mib.ip_in_hdr_errors, 1);
        assert_eq!(s.mib.tcp_listen_overflows, 1);
        assert_eq!(s.dropped(DropReason::Truncated), 1);
        assert_eq!(s.total_drops(), 3);
    }
}
