//! The layout of every struct this crate shares with the C glue, for the glue's build to
//! check. Each size and field offset, as the Rust compiler laid it out for the target, is
//! an absolute symbol of the object: `rinet_abi_size_<struct>` and
//! `rinet_abi_offset_<struct>__<field>`, the struct named as in rinet.h without its
//! `rinet_` prefix. The glue's Makefile turns them into static assertions compiled against
//! rinet.h (rinet-kernel/glue/rinet_layout.c), so a field moved, resized or renamed on one
//! side fails the kernel build on every target. Absolute symbols take no byte of the image.

macro_rules! layout {
    ($($c:ident: $t:ty { $($f:ident),+ $(,)? })+) => {$(
        core::arch::global_asm!(
            concat!(
                ".globl rinet_abi_size_", stringify!($c),
                "\n.set rinet_abi_size_", stringify!($c), ", {}"
            ),
            const core::mem::size_of::<$t>(),
        );
        $(core::arch::global_asm!(
            concat!(
                ".globl rinet_abi_offset_", stringify!($c), "__", stringify!($f),
                "\n.set rinet_abi_offset_", stringify!($c), "__", stringify!($f), ", {}"
            ),
            const core::mem::offset_of!($t, $f),
        );)+
    )+};
}

layout! {
    ops: super::RinetOps {
        ctx, now_us, transmit, transmit_tcp, lend_frame, transmit_lent, free_lent, wake, error,
        set_timer, seed,
    }
    config: super::RinetConfig { tcp_rx_buf, tcp_tx_buf, udp_buf, max_sockets }
    sock_settings: super::RinetSockSettings {
        reuseaddr, keepalive, broadcast, linger_on, linger_s, rcvbuf, sndbuf, bound_if,
    }
    sock_info: super::RinetSockInfo {
        id, proto, state, local_port, local, remote, remote_port, pad, tx_queue, rx_queue,
    }
    route_info: super::RinetRouteInfo { ifindex, dest, gateway, mask, flags, metric }
    neigh_info: super::RinetNeighInfo { ifindex, ip, mac, flags }
    snmp: crate::stats::Mib {
        ip_in_receives, ip_in_hdr_errors, ip_in_delivers, ip_out_requests, ip_reasm_fails,
        icmp_in_msgs, icmp_out_msgs, tcp_active_opens, tcp_passive_opens, tcp_attempt_fails,
        tcp_estab_resets, tcp_curr_estab, tcp_in_segs, tcp_out_segs, tcp_retrans_segs,
        tcp_in_errs, tcp_out_rsts, udp_in_datagrams, udp_in_errors, udp_out_datagrams,
        rx_drops, tcp_listen_overflows, ip_in_addr_errors, ip_out_no_routes,
        syn_queue_evictions, tcp_in_csum_errors, udp_no_ports, udp_in_csum_errors,
        icmp_in_errors, icmp_in_csum_errors, drops,
    }
}
