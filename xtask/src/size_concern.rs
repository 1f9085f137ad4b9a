//! rinet's own code by what it is for, from the line tables' per-function bytes.
//!
//! The by-file table cannot answer the question the size budgets raise: how much of
//! rinet's own code is a socket layer (what lwIP's sockets.c, api_lib.c and api_msg.c do),
//! and how much is protocol work that lwIP's core does but smoltcp does not (neighbours,
//! routes between interfaces, TIME-WAIT without buffers). Most files hold one concern;
//! stack.rs, socket/mod.rs, socket/tcp.rs and wire.rs hold several, and their functions
//! are named below. A function not named goes by its file's default, so a new function
//! lands somewhere visible rather than nowhere.

use std::collections::BTreeMap;

/// Which of the three comparisons a concern belongs to.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Part {
    /// What lwIP's BSD socket layer does for lwIP's core.
    SocketLayer,
    /// What lwIP's core does and smoltcp does not, so rinet does it over smoltcp.
    CoreWork,
    /// What neither lwIP's socket layer nor its core does.
    Beyond,
}

impl Part {
    pub fn label(self) -> &'static str {
        match self {
            Part::SocketLayer => "socket layer (lwIP: sockets.c, api_lib.c, api_msg.c)",
            Part::CoreWork => "protocol work lwIP's core does and smoltcp does not",
            Part::Beyond => {
                "beyond lwIP (issue #20's SYN queue, /proc/net tables, SO_BINDTODEVICE)"
            }
        }
    }
}

type Rule = (&'static str, &'static [&'static str], &'static str, Part);

const CALLS: &str = "socket calls: state, errno, options, addresses";
const ACCEPT: &str = "listeners and accept queues";
const RUN: &str = "the run: poll masks, wake-ups, deadlines";
const ABI: &str = "C ABI (ffi.rs)";
const ENGINE: &str = "engine adapter (smoltcp sockets, device queues)";
const ARP: &str = "ARP, neighbours, Ethernet framing";
const ROUTES: &str = "interfaces, addresses, routes";
const CHECKS: &str = "received packets: header checks, martians, drop counters, ICMP errors";
const TX: &str = "transmit: next hop, loopback, counting";
const TIME_WAIT: &str = "TIME-WAIT without buffers";
const ORPHANS: &str = "orphans: closed connections finishing";
const SYN_QUEUE: &str = "SYN queue and eviction";
const PROC: &str = "/proc/net socket tables";
const BIND_DEV: &str = "SO_BINDTODEVICE";

/// Functions of the files that hold more than one concern. First match wins.
const FUNCTIONS: &[Rule] = &[
    (
        "rinet/src/socket/mod.rs",
        &["admit_syn", "note_heard", "note_sent"],
        SYN_QUEUE,
        Part::Beyond,
    ),
    (
        "rinet/src/socket/mod.rs",
        &[
            "reset_unaccepted",
            "listener_at",
            "rebind_engine_sockets",
            "refresh_bindings",
        ],
        ACCEPT,
        Part::SocketLayer,
    ),
    (
        "rinet/src/socket/mod.rs",
        &[
            "orphan",
            "reap_orphans",
            "forget_orphan",
            "forget_orphans_on",
        ],
        ORPHANS,
        Part::CoreWork,
    ),
    (
        "rinet/src/socket/mod.rs",
        &["socket_info", "orphan_info"],
        PROC,
        Part::Beyond,
    ),
    (
        "rinet/src/socket/mod.rs",
        &["bound_elsewhere", "device_of", "recount_bound_devices"],
        BIND_DEV,
        Part::Beyond,
    ),
    (
        "rinet/src/socket/mod.rs",
        &[
            "current_mask",
            "next_deadline",
            "needs_visit",
            "settled",
            "settled_conn",
            "forget_fallen",
            "tell_error",
            "run_for",
            "touch",
            "prune_visits",
            "slot_count",
            "id_at",
            "all",
            "iter",
        ],
        RUN,
        Part::SocketLayer,
    ),
    (
        "rinet/src/socket/mod.rs",
        &["forget_addr"],
        ROUTES,
        Part::CoreWork,
    ),
    (
        "rinet/src/socket/tcp.rs",
        &["maintain_listener", "accept", "listen"],
        ACCEPT,
        Part::SocketLayer,
    ),
    (
        "rinet/src/stack.rs",
        &[
            "arp_input",
            "send_held",
            "ask",
            "arp_timers",
            "neigh_dev",
            "neigh_set",
            "neigh_get",
            "neigh_delete",
            "frame",
            "hold",
            "rinet_neigh_set",
        ],
        ARP,
        Part::CoreWork,
    ),
    (
        "rinet/src/stack.rs",
        &[
            "add_link",
            "remove_link",
            "set_link",
            "sync_mtu",
            "sync_addrs",
            "set_addr",
            "add_connected_route",
            "add_route",
            "delete_route",
            "netif",
            "netif_mut",
            "add_ethernet",
            "next_hop",
            "is_local_addr",
            "is_broadcast_addr",
            "forget_addr",
            "set_up",
            "new",
        ],
        ROUTES,
        Part::CoreWork,
    ),
    (
        "rinet/src/stack.rs",
        &["syn_verdict", "classify_syn"],
        SYN_QUEUE,
        Part::Beyond,
    ),
    (
        "rinet/src/stack.rs",
        &[
            "accept_ip",
            "drop_malformed",
            "echo_reply",
            "receive",
            "receive_batched",
            "after_ingress",
        ],
        CHECKS,
        Part::CoreWork,
    ),
    (
        "rinet/src/stack.rs",
        &[
            "packet",
            "observe",
            "transmit",
            "send_ip",
            "split_egress",
            "with_egress",
            "lend",
            "give_back",
        ],
        TX,
        Part::CoreWork,
    ),
    (
        "rinet/src/stack.rs",
        &[
            "run_changed",
            "run",
            "poll",
            "report",
            "maintain",
            "maintain_socket",
            "for_each_socket",
            "for_each_changed_socket",
            "after_call",
            "after_transfer",
        ],
        RUN,
        Part::SocketLayer,
    ),
    (
        "rinet/src/wire.rs",
        &[
            "arp_frame",
            "parse_arp",
            "eth_header",
            "multicast_mac",
            "parse_ethernet",
        ],
        ARP,
        Part::CoreWork,
    ),
    ("rinet/src/wire.rs", &["tcp_segment"], TX, Part::CoreWork),
];

/// Whole files, and the default of the files above for the functions they do not name.
const FILES: &[(&str, &str, Part)] = &[
    ("rinet/src/engine/", ENGINE, Part::SocketLayer),
    ("rinet/src/ffi", ABI, Part::SocketLayer),
    ("rinet-kernel/src/", ABI, Part::SocketLayer),
    ("rinet/src/socket/time_wait.rs", TIME_WAIT, Part::CoreWork),
    ("rinet/src/socket/syn_ack.rs", SYN_QUEUE, Part::Beyond),
    ("rinet/src/socket/icmp.rs", CHECKS, Part::CoreWork),
    ("rinet/src/neigh.rs", ARP, Part::CoreWork),
    // Its one helper is used four times by neigh.rs and twice by route.rs.
    ("rinet/src/table.rs", ARP, Part::CoreWork),
    ("rinet/src/route.rs", ROUTES, Part::CoreWork),
    ("rinet/src/iface.rs", ROUTES, Part::CoreWork),
    ("rinet/src/offload.rs", TX, Part::CoreWork),
    ("rinet/src/stats.rs", CHECKS, Part::CoreWork),
    ("rinet/src/wire.rs", CHECKS, Part::CoreWork),
    ("rinet/", CALLS, Part::SocketLayer),
];

/// The concern of `function` in `source` (a group of `size_source::group`).
pub fn concern(source: &str, function: &str) -> (&'static str, Part) {
    FUNCTIONS
        .iter()
        .find(|(file, names, _, _)| *file == source && names.contains(&function))
        .map(|&(_, _, name, part)| (name, part))
        .or_else(|| {
            FILES
                .iter()
                .find(|(prefix, _, _)| source.starts_with(prefix))
                .map(|&(_, name, part)| (name, part))
        })
        .unwrap_or((CALLS, Part::SocketLayer))
}

/// Bytes per concern of rinet's own source files, largest first within each part.
pub fn split(functions: &BTreeMap<(String, String), u64>) -> Vec<(Part, &'static str, u64)> {
    let mut sums: BTreeMap<(Part, &'static str), u64> = BTreeMap::new();
    for ((source, function), bytes) in functions {
        if source.starts_with("rinet") {
            let (name, part) = concern(source, function);
            *sums.entry((part, name)).or_default() += bytes;
        }
    }
    let mut rows: Vec<_> = sums.into_iter().map(|((p, n), b)| (p, n, b)).collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0).then(b.2.cmp(&a.2)).then(a.1.cmp(b.1)));
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_functions_go_to_their_concern_and_others_to_their_files() {
        assert_eq!(concern("rinet/src/stack.rs", "arp_input").0, ARP);
        assert_eq!(
            concern("rinet/src/socket/mod.rs", "admit_syn").1,
            Part::Beyond
        );
        assert_eq!(concern("rinet/src/socket/tcp.rs", "accept").0, ACCEPT);
        assert_eq!(concern("rinet/src/socket/tcp.rs", "tcp_connect").0, CALLS);
        assert_eq!(concern("rinet/src/neigh.rs", "{closure#0}").0, ARP);
        assert_eq!(concern("rinet/src/engine/sockets.rs", "add").0, ENGINE);
        assert_eq!(concern("rinet/src/wire.rs", "parse_ipv4").0, CHECKS);
        assert_eq!(concern("rinet/src/wire.rs", "arp_frame").0, ARP);
    }

    #[test]
    fn split_sums_only_rinet_and_keeps_every_byte() {
        let mut f = BTreeMap::new();
        f.insert(
            ("rinet/src/neigh.rs".to_string(), "insert".to_string()),
            100,
        );
        f.insert(
            ("rinet/src/stack.rs".to_string(), "arp_input".to_string()),
            20,
        );
        f.insert(("rinet/src/stack.rs".to_string(), "bind".to_string()), 7);
        f.insert(("smoltcp".to_string(), "process".to_string()), 1000);
        let rows = split(&f);
        assert_eq!(rows.iter().map(|r| r.2).sum::<u64>(), 127);
        assert_eq!(rows[0], (Part::SocketLayer, CALLS, 7));
        assert_eq!(rows[1], (Part::CoreWork, ARP, 120));
    }
}
