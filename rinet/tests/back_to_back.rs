//! Socket semantics, proven between two rinet stacks wired back to back in memory.

mod common;

use common::*;
use rinet::socket::opts::*;
use rinet::socket::*;
use rinet::wire::DropReason;
use rinet::{Errno, Ipv4, SocketId, Stack};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

const SEC: u64 = 1_000_000;

/// The system allocator, counting what this thread allocates of a connection's buffer
/// size or more (the flood test asserts a flood allocates none; tests run in parallel
/// threads, so the count is per thread).
struct CountingAlloc;

const LARGE: usize = 16 * 1024;

thread_local! {
    static LARGE_ALLOCS: Cell<u64> = const { Cell::new(0) };
}

fn count(layout: Layout) {
    if layout.size() >= LARGE {
        let _ = LARGE_ALLOCS.try_with(|c| c.set(c.get() + 1));
    }
}

fn large_allocs() -> u64 {
    LARGE_ALLOCS.with(Cell::get)
}

// SAFETY: every call is passed on to the system allocator unchanged.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout);
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout);
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if let Ok(to) = Layout::from_size_align(new_size, layout.align()) {
            count(to);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// Change SOL_SOCKET settings, as the kernel glue does after net/core took an option.
fn set(s: &mut Stack<SimPlatform>, id: SocketId, f: impl FnOnce(&mut SocketSettings)) {
    let mut o = s.settings(id).unwrap();
    f(&mut o);
    s.set_settings(id, o).unwrap();
}

fn listener(s: &mut Stack<SimPlatform>, port: u16, backlog: i32) -> SocketId {
    let l = s.socket(SOCK_STREAM, 0).unwrap();
    set(s, l, |o| o.reuseaddr = true);
    s.bind(l, ep(Ipv4::ANY, port)).unwrap();
    s.listen(l, backlog).unwrap();
    l
}

/// SO_ERROR, as `getsockopt(2)` returns it (and clears it).
fn so_error(s: &mut Stack<SimPlatform>, id: SocketId) -> i32 {
    s.take_error(id).unwrap().map_or(0, |e| e.0)
}

/// a connects to b:port; returns (client on a, server on b).
fn connected(net: &mut Net, port: u16) -> (SocketId, SocketId) {
    let l = listener(&mut net.b, port, 4);
    let c = net.a.socket(SOCK_STREAM, 0).unwrap();
    assert_eq!(net.a.connect(c, ep(B_IP, port)), Err(Errno::EINPROGRESS));
    net.run_until(5 * SEC, |n| n.a.poll_mask(c) & POLLOUT != 0);
    let (srv, peer) = net.b.accept(l).unwrap();
    assert_eq!(peer.addr, A_IP);
    net.b.close(l).unwrap();
    (c, srv)
}

/// Send all of `data` from `from` to `to` through the simulated wire, reading as it goes.
fn transfer(net: &mut Net, a_to_b: bool, from: SocketId, to: SocketId, data: &[u8]) -> Vec<u8> {
    let mut sent = 0;
    let mut got = Vec::new();
    let mut buf = vec![0u8; 8192];
    let end = net.now() + 600 * SEC;
    while got.len() < data.len() {
        assert!(
            net.now() < end,
            "transfer stalled at {} of {}",
            got.len(),
            data.len()
        );
        let (tx, rx) = if a_to_b {
            (&mut net.a, &mut net.b)
        } else {
            (&mut net.b, &mut net.a)
        };
        if sent < data.len() {
            match tx.send(from, &data[sent..], None) {
                Ok(n) => sent += n,
                Err(Errno::EAGAIN) => {}
                Err(e) => panic!("send: {e:?}"),
            }
        }
        loop {
            match rx.recv(to, &mut buf, 0) {
                Ok(r) if r.len > 0 => got.extend_from_slice(&buf[..r.len]),
                Ok(_) => panic!("early EOF"),
                Err(Errno::EAGAIN) => break,
                Err(e) => panic!("recv: {e:?}"),
            }
        }
        net.step(10_000);
    }
    got
}

/// With offload, the engine builds segments of many MSS: a device with TSO gets them
/// whole with their segment size, and a device without gets them cut and summed by the
/// stack. Either way the wire carries MSS-sized frames with sound checksums (the
/// receiver verifies them) and the data arrives intact, with loss; built in the stack's
/// buffer or in frames the host lent, each of which goes back to the host.
#[cfg(feature = "offload")]
#[test]
fn offloaded_segments_reach_the_wire_cut_to_the_mss() {
    for (tso, lend) in [(true, false), (false, false), (true, true), (false, true)] {
        // A receive window larger than the device's limit, so that the device's limit or
        // the congestion window, not the window, ends most segments.
        let mut net = Net::with_config(rinet::Config {
            tcp_rx_buf: 256 * 1024,
            tcp_tx_buf: 256 * 1024,
            ..rinet::Config::default()
        });
        net.b.platform().tso.set(tso);
        net.b.platform().lend.set(lend);
        let (c, s) = connected(&mut net, 80);
        let wire_max = std::rc::Rc::new(std::cell::Cell::new(0));
        let seen = wire_max.clone();
        let mut n = 0u32;
        net.fault = Box::new(move |a_to_b, f| {
            if !a_to_b {
                seen.set(seen.get().max(f.len()));
            }
            n += 1;
            !n.is_multiple_of(97)
        });
        let data: Vec<u8> = (0..1_000_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
        assert!(transfer(&mut net, false, s, c, &data) == data, "tso {tso}");
        assert!(
            wire_max.get() <= 1514,
            "a frame of {} bytes",
            wire_max.get()
        );
        let frames = net.b.platform().tso_frames.borrow().clone();
        if tso {
            let big: Vec<_> = frames.iter().filter(|&&(len, ..)| len > 1514).collect();
            assert!(
                big.len() > 10,
                "few segments for the device to cut: {big:?}"
            );
            assert!(big
                .iter()
                .all(|&&(len, mss, _)| mss > 1000 && len <= rinet::engine::OFFLOAD_MAX + 14));
            // With the kernels' smoltcp (patch 0005), a segment the device's limit ends
            // is cut at its last MSS boundary, as Linux's tcp_mss_split_point cuts it:
            // none within one MSS of the limit ends in a short piece.
            if std::env::var_os("RINET_KERNEL_SMOLTCP").is_some() {
                let limit = rinet::engine::OFFLOAD_MAX - 40;
                let ragged: Vec<_> = big
                    .iter()
                    .filter(|&&&(_, mss, payload)| {
                        let mss = usize::from(mss);
                        payload + mss > limit && payload % mss != 0
                    })
                    .collect();
                assert!(
                    ragged.is_empty(),
                    "device-limited, not on an MSS: {ragged:?}"
                );
            }
        } else {
            assert!(frames.is_empty());
        }
        let host = net.b.platform();
        assert_eq!(host.lent_out.get(), 0, "lent frames not given back");
        assert_eq!(
            host.lent_sent.get() > 0,
            lend && tso,
            "tso {tso} lend {lend}"
        );
    }
}

#[test]
fn connect_accept_and_exchange_data() {
    let mut net = Net::new();
    let (c, s) = connected(&mut net, 80);
    let local = net.a.local_endpoint(c).unwrap();
    assert_eq!(local.addr, A_IP);
    assert!((EPHEMERAL_FIRST..=EPHEMERAL_LAST).contains(&local.port));
    assert_eq!(net.a.remote_endpoint(c).unwrap(), ep(B_IP, 80));
    assert_eq!(net.b.remote_endpoint(s).unwrap(), local);
    let up = pattern(100_000, 1);
    assert_eq!(transfer(&mut net, true, c, s, &up), up);
    let down = pattern(70_000, 7);
    assert_eq!(transfer(&mut net, false, s, c, &down), down);
    assert_eq!(net.a.stats().mib.tcp_active_opens, 1);
    assert_eq!(net.b.stats().mib.tcp_passive_opens, 1);
    assert_eq!(net.a.stats().mib.tcp_retrans_segs, 0);
}

/// The segments of one receive batch (a NAPI poll's frames) get one acknowledgment, sent
/// when the stack runs after the batch, and the data is readable then.
#[test]
fn a_receive_batch_is_acknowledged_once() {
    let mut net = Net::new();
    let (c, s) = connected(&mut net, 80);
    let data = pattern(4 * 1460, 3);
    assert_eq!(net.a.send(c, &data, None), Ok(data.len()));
    let segments = net.take_sent(true);
    assert!(segments.len() >= 2, "{} segments", segments.len());
    let field = |f: &[u8], at: usize| u32::from_be_bytes(f[at..at + 4].try_into().unwrap());
    // Ethernet 14 + IPv4 20: the TCP sequence number at 38, the acknowledgment at 42.
    let payload: usize = segments.iter().map(|f| f.len() - 14 - 20 - 20).sum();
    for f in &segments {
        net.b.receive_batched(IF, f);
    }
    assert!(
        net.take_sent(false).is_empty(),
        "nothing goes out before the run"
    );
    net.b.run();
    let acks = net.take_sent(false);
    assert_eq!(acks.len(), 1, "one acknowledgment for the batch");
    assert_eq!(
        field(&acks[0], 42),
        field(&segments[0], 38).wrapping_add(payload as u32)
    );
    let mut buf = vec![0u8; 8192];
    assert_eq!(net.b.recv(s, &mut buf, 0).unwrap().len, payload);
    assert_eq!(buf[..payload], data[..payload]);
}

#[test]
fn closed_port_refuses_with_rst() {
    let mut net = Net::new();
    let c = net.a.socket(SOCK_STREAM, 0).unwrap();
    assert_eq!(net.a.connect(c, ep(B_IP, 81)), Err(Errno::EINPROGRESS));
    net.run_until(SEC, |n| n.a.poll_mask(c) & POLLERR != 0);
    assert_eq!(so_error(&mut net.a, c), Errno::ECONNREFUSED.0);
    assert!(net.b.stats().mib.tcp_out_rsts >= 1);
    assert_eq!(net.a.stats().mib.tcp_attempt_fails, 1);
    // The error is reported once; a fresh attempt is possible afterwards.
    assert_eq!(so_error(&mut net.a, c), 0);
}

#[test]
fn connect_reports_refusal_on_second_call() {
    let mut net = Net::new();
    let c = net.a.socket(SOCK_STREAM, 0).unwrap();
    assert_eq!(net.a.connect(c, ep(B_IP, 81)), Err(Errno::EINPROGRESS));
    assert_eq!(net.a.connect(c, ep(B_IP, 81)), Err(Errno::EALREADY));
    net.run_until(SEC, |n| n.a.poll_mask(c) & POLLERR != 0);
    assert_eq!(net.a.connect(c, ep(B_IP, 81)), Err(Errno::ECONNREFUSED));
}

/// `n` clients of `a` connecting to b:80 at once.
fn connect_many(net: &mut Net, n: usize) -> Vec<SocketId> {
    let clients: Vec<SocketId> = (0..n)
        .map(|_| net.a.socket(SOCK_STREAM, 0).unwrap())
        .collect();
    for &c in &clients {
        assert_eq!(net.a.connect(c, ep(B_IP, 80)), Err(Errno::EINPROGRESS));
    }
    clients
}

fn connected_count(net: &mut Net, clients: &[SocketId]) -> usize {
    clients
        .iter()
        .filter(|&&c| net.a.poll_mask(c) & POLLOUT != 0)
        .count()
}

/// What `/proc/net/tcp` shows of a listener: (accept queue, backlog).
fn accept_queue(s: &mut Stack<SimPlatform>, l: SocketId) -> (u32, u32) {
    let i = (0..)
        .map_while(|k| s.socket_info(k))
        .find(|i| i.id == l)
        .unwrap();
    (i.rx_queue, i.tx_queue)
}

#[test]
fn backlog_queues_in_order_and_drops_overflow_syns() {
    let mut net = Net::new();
    let l = listener(&mut net.b, 80, 2);
    // backlog 2: Linux queues backlog + 1 connections for accept().
    let first = connect_many(&mut net, 3);
    net.pump();
    assert_eq!(connected_count(&mut net, &first), 3);
    assert_eq!(accept_queue(&mut net.b, l), (3, 2));
    // With the accept queue full, further SYNs are dropped, not reset: the peers retry.
    let late = connect_many(&mut net, 5);
    net.pump();
    assert_eq!(connected_count(&mut net, &late), 0);
    assert!(late.iter().all(|&c| net.a.poll_mask(c) & POLLERR == 0));
    assert_eq!(net.b.stats().dropped(DropReason::ListenOverflow), 5);
    assert_eq!(net.b.stats().mib.tcp_listen_overflows, 5);
    assert_eq!(net.b.stats().mib.tcp_out_rsts, 0);
    // accept() returns them in the order they connected; the others get in as it drains.
    let clients: Vec<SocketId> = first.iter().chain(&late).copied().collect();
    let ports: Vec<u16> = clients
        .iter()
        .map(|&c| net.a.local_endpoint(c).unwrap().port)
        .collect();
    let mut accepted = Vec::new();
    net.run_until(60 * SEC, |n| {
        while let Ok((_, peer)) = n.b.accept(l) {
            accepted.push(peer.port);
        }
        accepted.len() == 8
    });
    assert_eq!(&accepted[..3], &ports[..3]);
    let mut sorted = accepted.clone();
    sorted.sort();
    let mut want = ports.clone();
    want.sort();
    assert_eq!(sorted, want);
    assert!(clients.iter().all(|&c| net.a.poll_mask(c) & POLLOUT != 0));
}

#[test]
fn a_burst_beyond_the_backlog_completes_its_handshakes() {
    // The SYN queue is apart from the accept queue: SYNs that arrive while the accept
    // queue has room all open connections (Linux answers those beyond its SYN queue with
    // cookies); those that complete while it is full wait for room, in order.
    let mut net = Net::new();
    let l = listener(&mut net.b, 80, 2);
    let clients = connect_many(&mut net, 8);
    net.pump();
    assert_eq!(connected_count(&mut net, &clients), 8);
    assert_eq!(accept_queue(&mut net.b, l), (3, 2));
    assert_eq!(net.b.stats().total_drops(), 0);
    let ports: Vec<u16> = clients
        .iter()
        .map(|&c| net.a.local_endpoint(c).unwrap().port)
        .collect();
    let mut accepted = Vec::new();
    while let Ok((_, peer)) = net.b.accept(l) {
        accepted.push(peer.port);
    }
    assert_eq!(accepted, ports);
    assert_eq!(net.b.stats().mib.tcp_passive_opens, 8);
}

/// A SYN to b:`port` from `src:sport`, as a flood forges it.
fn forged_syn(src: Ipv4, sport: u16, port: u16, flags: u8, seq: u32) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 0x66, 8, 0];
    let seg = rinet::wire::tcp_segment(ep(src, sport), ep(B_IP, port), (seq, 0), flags, 8192);
    f.extend_from_slice(&seg);
    f
}

/// A source address outside the test's subnet (and no martian), as `hping3 --rand-source`
/// makes them.
fn random_source(rng: &mut Rng) -> Ipv4 {
    let x = rng.next();
    Ipv4::new(
        20 + (x % 100) as u8,
        (x >> 8) as u8,
        (x >> 16) as u8,
        1 + (x >> 24) as u8 % 250,
    )
}

#[test]
fn syn_flood_does_not_lock_out_a_client() {
    let mut net = Net::new();
    // b routes everything through a (the flood's sources are off-link, as on the Internet).
    net.b
        .add_route(rinet::route::Route {
            dest: Ipv4::ANY,
            prefix: 0,
            gateway: A_IP,
            ifindex: IF,
            metric: 0,
            connected: false,
        })
        .unwrap();
    let l = listener(&mut net.b, 80, 9);
    let mut rng = Rng(7);
    let base = net.b.engine_socket_count();
    let mut client = None;
    let mut connected_at = None;
    let mut allocs_from = 0;
    // 3000 forged SYNs at 2000 per second; a real client connects 0.5 s into the flood.
    for i in 0..3000u32 {
        if i == 1100 {
            allocs_from = large_allocs();
        }
        let src = random_source(&mut rng);
        net.b.receive(
            IF,
            &forged_syn(src, 1024 + i as u16, 80, 0x02, rng.next() as u32),
        );
        if i == 1000 {
            let c = net.a.socket(SOCK_STREAM, 0).unwrap();
            assert_eq!(net.a.connect(c, ep(B_IP, 80)), Err(Errno::EINPROGRESS));
            client = Some((c, net.now()));
        }
        net.advance(500);
        if let (Some((c, t0)), None) = (client, connected_at) {
            if net.a.poll_mask(c) & POLLOUT != 0 {
                connected_at = Some(net.now() - t0);
            }
        }
        // The SYN queue bounds what the flood holds: beside the listening sockets and the
        // accept queue, 16 connections.
        let queued = accept_queue(&mut net.b, l).0 as usize;
        let max = base + queued + rinet::socket::SYN_QUEUE_MAX;
        assert!(net.b.engine_socket_count() <= max, "after SYN {i}");
    }
    // Once the client is in, the flood's evictions reuse the evicted connections' buffers.
    assert_eq!(
        large_allocs() - allocs_from,
        0,
        "buffers allocated during the flood"
    );
    let took = connected_at.expect("the client never connected during the flood");
    assert!(took < SEC, "connected after {took} us");
    let (s, _) = net.b.accept(l).unwrap();
    let (c, _) = client.unwrap();
    net.a.send(c, b"GET / HTTP/1.0\r\n\r\n", None).unwrap();
    net.pump();
    let mut buf = [0u8; 64];
    assert_eq!(net.b.recv(s, &mut buf, 0).unwrap().len, 18);
    // The queue filled after 16 SYNs; the next ones were dropped for 100 ms (200 of them),
    // then each took the place of the oldest.
    let dropped = net.b.stats().dropped(DropReason::SynQueueFull);
    assert!((195..=205).contains(&dropped), "{dropped}");
    assert_eq!(net.b.stats().mib.syn_queue_evictions, 3000 - 16 - dropped);
    assert_eq!(net.b.stats().mib.tcp_passive_opens, 1);
}

#[test]
fn a_full_syn_queue_of_young_connections_drops_the_new_syn() {
    let mut net = Net::new();
    listener(&mut net.b, 80, 64);
    let max = rinet::socket::SYN_QUEUE_MAX;
    let mut rng = Rng(3);
    // All at the same instant: none is old enough to give way.
    for i in 0..max + 5 {
        let src = random_source(&mut rng);
        net.b
            .receive(IF, &forged_syn(src, 2000 + i as u16, 80, 0x02, 1));
    }
    assert_eq!(net.b.stats().dropped(DropReason::SynQueueFull), 5);
    assert_eq!(net.b.stats().mib.syn_queue_evictions, 0);
    // A client whose SYN came then is not reset: it retries and gets in.
    let c = net.a.socket(SOCK_STREAM, 0).unwrap();
    assert_eq!(net.a.connect(c, ep(B_IP, 80)), Err(Errno::EINPROGRESS));
    net.pump();
    assert_eq!(net.a.poll_mask(c) & (POLLOUT | POLLERR), 0);
    net.run_until(5 * SEC, |n| n.a.poll_mask(c) & POLLOUT != 0);
    assert_eq!(net.b.stats().mib.syn_queue_evictions, 1);
}

#[test]
fn the_syn_queue_forgets_a_removed_interface() {
    let mut net = Net::new();
    let l = listener(&mut net.b, 80, 4);
    let idle = net.b.engine_socket_count();
    let mut rng = Rng(5);
    for i in 0..rinet::socket::SYN_QUEUE_MAX {
        let src = random_source(&mut rng);
        net.b
            .receive(IF, &forged_syn(src, 3000 + i as u16, 80, 0x02, 1));
    }
    assert_eq!(
        net.b.engine_socket_count(),
        idle + rinet::socket::SYN_QUEUE_MAX
    );
    net.b.remove_link(IF).unwrap();
    // The half-open connections on the interface's address went with it; the one
    // listening socket stays, and the queue has room again.
    assert_eq!(net.b.engine_socket_count(), idle);
    assert_eq!(net.b.accept(l), Err(Errno::EAGAIN));
    let c = net.b.socket(SOCK_STREAM, 0).unwrap();
    assert_eq!(
        net.b.connect(c, ep(Ipv4::LOCALHOST, 80)),
        Err(Errno::EINPROGRESS)
    );
    assert!(net.b.poll_mask(c) & POLLOUT != 0);
    assert!(net.b.accept(l).is_ok());
}

#[test]
fn a_reset_half_open_connection_never_reaches_accept() {
    // smoltcp sends a half-open socket that gets a reset back to LISTEN.
    let mut net = Net::new();
    let l = listener(&mut net.b, 80, 4);
    let src = Ipv4::new(10, 0, 0, 77);
    net.b.receive(IF, &forged_syn(src, 5555, 80, 0x02, 1000));
    net.b.receive(IF, &forged_syn(src, 5555, 80, 0x04, 1001));
    net.pump();
    assert_eq!(net.b.accept(l), Err(Errno::EAGAIN));
    assert_eq!(net.b.poll_mask(l) & POLLIN, 0);
    let (c, _) = connected(&mut net, 81);
    assert!(net.a.poll_mask(c) & POLLOUT != 0);
}

#[test]
fn bind_conflicts_and_reuseaddr() {
    let mut net = Net::new();
    let s = &mut net.a;
    let x = s.socket(SOCK_STREAM, 0).unwrap();
    let y = s.socket(SOCK_STREAM, 0).unwrap();
    s.bind(x, ep(Ipv4::ANY, 8080)).unwrap();
    assert_eq!(s.bind(y, ep(A_IP, 8080)), Err(Errno::EADDRINUSE));
    assert_eq!(s.bind(x, ep(Ipv4::ANY, 8081)), Err(Errno::EINVAL));
    assert_eq!(
        s.bind(y, ep(Ipv4::new(10, 9, 9, 9), 1)),
        Err(Errno::EADDRNOTAVAIL)
    );
    // Both with SO_REUSEADDR and neither listening: allowed; then only one may listen.
    let p = s.socket(SOCK_STREAM, 0).unwrap();
    let q = s.socket(SOCK_STREAM, 0).unwrap();
    for k in [p, q] {
        set(s, k, |o| o.reuseaddr = true);
        s.bind(k, ep(Ipv4::ANY, 9000)).unwrap();
    }
    s.listen(p, 5).unwrap();
    assert_eq!(s.listen(q, 5), Err(Errno::EADDRINUSE));
    // UDP and TCP port spaces are separate.
    let u = s.socket(SOCK_DGRAM, 0).unwrap();
    s.bind(u, ep(Ipv4::ANY, 8080)).unwrap();
    // Port 0 picks an ephemeral port.
    let e = s.socket(SOCK_STREAM, 0).unwrap();
    s.bind(e, ep(Ipv4::ANY, 0)).unwrap();
    let port = s.local_endpoint(e).unwrap().port;
    assert!((EPHEMERAL_FIRST..=EPHEMERAL_LAST).contains(&port));
}

#[test]
fn half_close_both_ways() {
    let mut net = Net::new();
    let (c, s) = connected(&mut net, 80);
    net.a.send(c, b"request", None).unwrap();
    net.a.shutdown(c, SHUT_WR).unwrap();
    assert_eq!(net.a.send(c, b"more", None), Err(Errno::EPIPE));
    let mut buf = [0u8; 64];
    net.run_until(SEC, |n| n.b.poll_mask(s) & POLLRDHUP != 0);
    assert_eq!(net.b.recv(s, &mut buf, 0).unwrap().len, 7);
    assert_eq!(
        net.b.recv(s, &mut buf, 0).unwrap().len,
        0,
        "EOF after the peer's FIN"
    );
    // The other direction still works.
    net.b.send(s, b"response", None).unwrap();
    net.run_until(SEC, |n| n.a.poll_mask(c) & POLLIN != 0);
    assert_eq!(net.a.recv(c, &mut buf, 0).unwrap().len, 8);
    net.b.close(s).unwrap();
    net.run_until(SEC, |n| n.a.poll_mask(c) & POLLHUP != 0);
    assert_eq!(net.a.recv(c, &mut buf, 0).unwrap().len, 0);
    net.a.close(c).unwrap();
    net.advance(120 * SEC);
    assert_eq!(
        net.a.orphan_count() + net.b.orphan_count(),
        0,
        "TIME-WAIT ends"
    );
}

/// Linux's SHUT_RD discards nothing: data queued or arriving afterwards is read, and an
/// empty queue then reads as end of stream (not EAGAIN). BSD would discard.
#[test]
fn shut_rd_keeps_data_readable_then_reads_eof() {
    let mut net = Net::new();
    let (c, s) = connected(&mut net, 80);
    net.b.send(s, b"queued", None).unwrap();
    net.pump();
    net.a.shutdown(c, SHUT_RD).unwrap();
    net.b.send(s, b"+late", None).unwrap();
    net.run_until(SEC, |n| n.a.bytes_readable(c).unwrap() == 11);
    assert_eq!(net.a.bytes_readable(c).unwrap(), 11);
    let rdhup = POLLIN | POLLRDNORM | POLLRDHUP;
    assert_eq!(net.a.poll_mask(c), rdhup | POLLOUT | POLLWRNORM);
    let mut buf = [0u8; 16];
    let n = net.a.recv(c, &mut buf, 0).unwrap().len;
    assert_eq!(&buf[..n], b"queued+late");
    assert_eq!(net.a.recv(c, &mut buf, 0).unwrap().len, 0);
    // The same for datagrams.
    let u = net.a.socket(SOCK_DGRAM, 0).unwrap();
    net.a.bind(u, ep(A_IP, 53)).unwrap();
    net.a.connect(u, ep(B_IP, 53)).unwrap();
    let v = net.b.socket(SOCK_DGRAM, 0).unwrap();
    net.b.bind(v, ep(B_IP, 53)).unwrap();
    net.b.send(v, b"dgram", Some(ep(A_IP, 53))).unwrap();
    net.pump();
    net.a.shutdown(u, SHUT_RD).unwrap();
    assert_eq!(net.a.recv(u, &mut buf, 0).unwrap().len, 5);
    assert_eq!(net.a.recv(u, &mut buf, 0).unwrap().len, 0);
}

#[test]
fn close_with_unread_data_resets() {
    let mut net = Net::new();
    let (c, s) = connected(&mut net, 80);
    net.b.send(s, b"unread", None).unwrap();
    net.pump();
    assert_eq!(net.a.bytes_readable(c).unwrap(), 6);
    net.a.close(c).unwrap();
    net.run_until(SEC, |n| n.b.poll_mask(s) & POLLERR != 0);
    let mut buf = [0u8; 8];
    assert_eq!(net.b.recv(s, &mut buf, 0), Err(Errno::ECONNRESET));
    assert_eq!(net.b.recv(s, &mut buf, 0).unwrap().len, 0);
    assert!(net.a.stats().mib.tcp_out_rsts >= 1);
    assert_eq!(net.b.send(s, b"x", None), Err(Errno::EPIPE));
}

#[test]
fn linger_zero_resets() {
    let mut net = Net::new();
    let (c, s) = connected(&mut net, 80);
    set(&mut net.a, c, |o| o.linger = Some(0));
    net.a.close(c).unwrap();
    net.run_until(SEC, |n| n.b.poll_mask(s) & POLLERR != 0);
    assert_eq!(net.b.take_error(s).unwrap(), Some(Errno::ECONNRESET));
}

#[test]
fn simultaneous_close() {
    let mut net = Net::new();
    let (c, s) = connected(&mut net, 80);
    net.a.shutdown(c, SHUT_WR).unwrap();
    net.b.shutdown(s, SHUT_WR).unwrap();
    net.pump();
    net.a.close(c).unwrap();
    net.b.close(s).unwrap();
    net.advance(120 * SEC);
    assert_eq!(net.a.orphan_count(), 0);
    assert_eq!(net.b.orphan_count(), 0);
    assert_eq!(
        net.a.stats().mib.tcp_out_rsts + net.b.stats().mib.tcp_out_rsts,
        0
    );
}

#[test]
fn time_wait_reuse_with_reuseaddr() {
    let mut net = Net::new();
    let (c, s) = connected(&mut net, 80);
    // The server closes first: its side goes to TIME-WAIT.
    net.b.close(s).unwrap();
    net.pump();
    net.a.close(c).unwrap();
    net.pump();
    assert_eq!(net.b.orphan_count(), 1, "server connection in TIME-WAIT");
    let plain = net.b.socket(SOCK_STREAM, 0).unwrap();
    assert_eq!(net.b.bind(plain, ep(Ipv4::ANY, 80)), Err(Errno::EADDRINUSE));
    // With SO_REUSEADDR the server restarts at once and serves a new connection.
    let (c2, s2) = connected(&mut net, 80);
    net.a.send(c2, b"again", None).unwrap();
    net.pump();
    let mut buf = [0u8; 8];
    assert_eq!(net.b.recv(s2, &mut buf, 0).unwrap().len, 5);
}

#[test]
fn zero_window_then_resume() {
    let mut net = Net::new();
    let (c, s) = connected(&mut net, 80);
    let data = pattern(200_000, 3);
    // Fill both buffers: the receiver reads nothing, the window closes.
    let sent = send_until_full(&mut net, c, &data);
    assert!(sent < data.len());
    assert_eq!(
        net.a.poll_mask(c) & POLLOUT,
        0,
        "not writable with a full window"
    );
    // Zero-window probes keep the connection alive for a long while.
    net.advance(30 * SEC);
    assert_eq!(net.a.poll_mask(c) & POLLERR, 0);
    let got = transfer_rest(&mut net, c, s, &data, sent);
    assert_eq!(got, data);
}

/// POLLOUT as Linux's `sk_stream_is_writeable`: only with at most two thirds of the send
/// buffer queued, although a send fits as soon as any byte does.
#[test]
fn writable_only_with_a_third_of_the_send_buffer_free() {
    let mut net = Net::new();
    let (c, s) = connected(&mut net, 80);
    let data = pattern(200_000, 5);
    let sent = send_until_full(&mut net, c, &data);
    assert_eq!(net.a.poll_mask(c) & POLLOUT, 0, "not writable when full");
    // The reader takes 2 KiB: that much leaves the send buffer, which stays nearly full.
    let mut buf = vec![0u8; 2048];
    let r = net.b.recv(s, &mut buf, 0).expect("data waiting");
    assert_eq!(r.len, 2048);
    for _ in 0..20 {
        net.step(10_000);
    }
    assert_eq!(
        net.a.poll_mask(c) & POLLOUT,
        0,
        "a few KiB free is not writable"
    );
    let n = net.a.send(c, &data[sent..], None).expect("a send fits");
    assert!(n > 0);
    // The reader drains everything: the send buffer empties and the writer wakes.
    let mut big = vec![0u8; 8192];
    let mut received = 2048;
    for _ in 0..200 {
        while let Ok(r) = net.b.recv(s, &mut big, 0) {
            received += r.len;
        }
        net.step(10_000);
        if net.a.poll_mask(c) & POLLOUT != 0 {
            break;
        }
    }
    assert_ne!(net.a.poll_mask(c) & POLLOUT, 0, "writable once drained");
    assert!(received > 2048);
}

/// Send from `data` until the send buffer is full (the peer reads nothing); bytes sent.
fn send_until_full(net: &mut Net, c: SocketId, data: &[u8]) -> usize {
    let mut sent = 0;
    for _ in 0..100 {
        match net.a.send(c, &data[sent..], None) {
            Ok(n) => sent += n,
            Err(Errno::EAGAIN) => break,
            Err(e) => panic!("{e:?}"),
        }
        net.step(10_000);
    }
    sent
}

fn transfer_rest(net: &mut Net, c: SocketId, s: SocketId, data: &[u8], mut sent: usize) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = vec![0u8; 4096];
    while got.len() < data.len() {
        if sent < data.len() {
            if let Ok(n) = net.a.send(c, &data[sent..], None) {
                sent += n;
            }
        }
        while let Ok(r) = net.b.recv(s, &mut buf, 0) {
            assert!(r.len > 0);
            got.extend_from_slice(&buf[..r.len]);
        }
        net.step(10_000);
    }
    got
}

/// Several losses in one window, and lost retransmissions: 2 MB at 10% random loss both
/// ways. With smoltcp as the kernels build it (`cargo xtask cargo-as-kernels`, which sets
/// RINET_KERNEL_SMOLTCP: NewReno's partial ACKs and a 200 ms minimum RTO, patches 0003
/// and 0004) it takes about 3 s of simulated time; crates.io's smoltcp waits out a 1 s
/// retransmission timeout for every loss after the first in a window (about 100 s).
#[test]
fn loss_recovery_repairs_several_losses_in_a_window() {
    let kernels = std::env::var_os("RINET_KERNEL_SMOLTCP").is_some();
    if cfg!(feature = "offload") && !kernels {
        // crates.io's smoltcp times an offloaded segment's RTT by its last piece, so at
        // 10% loss it takes no sample and backs off to 60 s (what patch 0002 fixes): the
        // transfer stalls. Only the kernels' smoltcp is held to this with offload.
        println!(
            "skipped: offload on crates.io's smoltcp (run it with cargo xtask cargo-as-kernels)"
        );
        return;
    }
    for seed in [1, 2, 3] {
        let mut net = Net::new();
        let (c, s) = connected(&mut net, 80);
        let mut rng = Rng(seed * 7919 + 13);
        net.fault = Box::new(move |_, _| rng.below(100) >= 10);
        let data = pattern(2_000_000, 3);
        let start = net.now();
        assert_eq!(transfer(&mut net, true, c, s, &data), data);
        let took = net.now() - start;
        let bound = if kernels { 10 * SEC } else { 300 * SEC };
        assert!(
            took < bound,
            "seed {seed}: {} ms of simulated time (kernels' smoltcp: {kernels})",
            took / 1000
        );
        assert!(net.dropped > 0);
    }
}

#[test]
fn retransmission_after_loss_and_reordering() {
    let mut net = Net::new();
    let (c, s) = connected(&mut net, 80);
    let mut n = 0u32;
    net.fault = Box::new(move |a_to_b, f| {
        n += 1;
        // Drop every 7th data-sized frame from a to b.
        !(a_to_b && f.len() > 200 && n.is_multiple_of(7))
    });
    let data = pattern(300_000, 9);
    assert_eq!(transfer(&mut net, true, c, s, &data), data);
    assert!(net.dropped > 0);
    assert!(
        net.a.stats().mib.tcp_retrans_segs > 0,
        "retransmissions are counted"
    );
}

#[test]
fn udp_datagrams_both_ways() {
    let mut net = Net::new();
    let ub = net.b.socket(SOCK_DGRAM, 0).unwrap();
    net.b.bind(ub, ep(Ipv4::ANY, 7)).unwrap();
    let ua = net.a.socket(SOCK_DGRAM, 0).unwrap();
    assert_eq!(net.a.send(ua, b"x", None), Err(Errno::EDESTADDRREQ));
    net.a.send(ua, b"hello", Some(ep(B_IP, 7))).unwrap();
    net.pump();
    let mut buf = [0u8; 3];
    let r = net.b.recv(ub, &mut buf, MSG_PEEK).unwrap();
    assert_eq!(
        (r.len, r.full_len),
        (3, 5),
        "truncated peek reports the full length"
    );
    let r = net.b.recv(ub, &mut buf, 0).unwrap();
    assert_eq!(&buf, b"hel");
    let from = r.from.unwrap();
    assert_eq!(from.addr, A_IP);
    assert_eq!(
        net.b.recv(ub, &mut buf, 0),
        Err(Errno::EAGAIN),
        "rest of datagram discarded"
    );
    net.b.send(ub, b"back", Some(from)).unwrap();
    net.pump();
    let mut big = [0u8; 16];
    assert_eq!(net.a.recv(ua, &mut big, 0).unwrap().len, 4);
    // Too big for the MTU without fragmentation.
    assert_eq!(
        net.a.send(ua, &[0u8; 1600], Some(ep(B_IP, 7))),
        Err(Errno::EMSGSIZE)
    );
    // Broadcast needs SO_BROADCAST.
    assert_eq!(
        net.a.send(ua, b"b", Some(ep(Ipv4::new(10, 0, 0, 255), 7))),
        Err(Errno::EACCES)
    );
}

#[test]
fn connected_udp_hears_only_its_peer() {
    let mut net = Net::new();
    let ub = net.b.socket(SOCK_DGRAM, 0).unwrap();
    net.b.bind(ub, ep(Ipv4::ANY, 7)).unwrap();
    net.b.connect(ub, ep(A_IP, 5000)).unwrap();
    let stranger = net.a.socket(SOCK_DGRAM, 0).unwrap();
    net.a.bind(stranger, ep(Ipv4::ANY, 5001)).unwrap();
    let peer = net.a.socket(SOCK_DGRAM, 0).unwrap();
    net.a.bind(peer, ep(Ipv4::ANY, 5000)).unwrap();
    net.a.send(stranger, b"no", Some(ep(B_IP, 7))).unwrap();
    net.a.send(peer, b"yes", Some(ep(B_IP, 7))).unwrap();
    net.pump();
    let mut buf = [0u8; 8];
    let r = net.b.recv(ub, &mut buf, 0).unwrap();
    assert_eq!(&buf[..r.len], b"yes");
    assert_eq!(net.b.recv(ub, &mut buf, 0), Err(Errno::EAGAIN));
}

/// The minimal profile (CONFIG_RINET_RAW=n): no raw ICMP socket, but the IPPROTO_RAW socket
/// udhcpc opens for its ioctls still opens.
#[test]
#[cfg(not(feature = "raw"))]
fn without_raw_sockets_icmp_is_refused_and_ipproto_raw_still_opens() {
    let mut net = Net::new();
    assert_eq!(
        net.a.socket(SOCK_RAW, IPPROTO_ICMP.into()),
        Err(Errno::EPROTONOSUPPORT)
    );
    assert!(net.a.socket(SOCK_RAW, IPPROTO_RAW.into()).is_ok());
}

#[test]
#[cfg_attr(
    not(feature = "raw"),
    ignore = "needs raw ICMP sockets (the raw feature)"
)]
fn raw_icmp_ping() {
    let mut net = Net::new();
    let r = net.a.socket(SOCK_RAW, IPPROTO_ICMP.into()).unwrap();
    // Echo request: type 8, id 0x1234, seq 1, payload "ping".
    let mut icmp = vec![8, 0, 0, 0, 0x12, 0x34, 0, 1, b'p', b'i', b'n', b'g'];
    let sum = rinet::wire::csum_fold(rinet::wire::csum_add(0, &icmp));
    icmp[2..4].copy_from_slice(&sum.to_be_bytes());
    net.a.send(r, &icmp, Some(ep(B_IP, 0))).unwrap();
    net.run_until(SEC, |n| n.a.poll_mask(r) & POLLIN != 0);
    let mut buf = [0u8; 128];
    let got = net.a.recv(r, &mut buf, 0).unwrap();
    assert_eq!(got.from.unwrap().addr, B_IP);
    assert_eq!(got.len, 20 + icmp.len(), "raw sockets see the IP header");
    assert_eq!(buf[20], 0, "echo reply");
    assert_eq!(&buf[24..26], &[0x12, 0x34]);
}

#[test]
fn loopback_and_own_address() {
    let mut net = Net::new();
    let a = &mut net.a;
    let l = a.socket(SOCK_STREAM, 0).unwrap();
    a.bind(l, ep(Ipv4::ANY, 7)).unwrap();
    a.listen(l, 8).unwrap();
    for dst in [Ipv4::LOCALHOST, Ipv4::new(127, 1, 2, 3), A_IP, Ipv4::ANY] {
        let c = a.socket(SOCK_STREAM, 0).unwrap();
        match a.connect(c, ep(dst, 7)) {
            Ok(()) | Err(Errno::EINPROGRESS) => {}
            Err(e) => panic!("{dst:?}: {e:?}"),
        }
        let (s, _) = a.accept(l).expect("loopback connection completes at once");
        // Large enough to be built in a frame the host lends (with offload).
        let data = pattern(3000, 3);
        assert_eq!(a.send(c, &data, None).unwrap(), data.len());
        let mut buf = [0u8; 4096];
        let mut got = Vec::new();
        for _ in 0..8 {
            match a.recv(s, &mut buf, 0) {
                Ok(r) if r.len > 0 => got.extend_from_slice(&buf[..r.len]),
                _ => break,
            }
        }
        assert!(got == data, "{dst:?}: {} bytes back", got.len());
        a.close(c).unwrap();
        a.close(s).unwrap();
    }
    net.pump();
    assert_eq!(net.delivered, 0, "loopback traffic never reaches the wire");
}

/// A datagram sent or connected to 0.0.0.0 goes to this host (127.0.0.1, or the socket's
/// own address when bound to one), as Linux routes it; never to 0.0.0.0 on the wire (the
/// socket-call fuzzer found smoltcp asserting on it).
#[test]
fn datagram_to_any_address_means_this_host() {
    let mut net = Net::new();
    let a = &mut net.a;
    let rx = a.socket(SOCK_DGRAM, 0).unwrap();
    a.bind(rx, ep(Ipv4::ANY, 9000)).unwrap();
    let tx = a.socket(SOCK_DGRAM, 0).unwrap();
    a.send(tx, b"sendto", Some(ep(Ipv4::ANY, 9000))).unwrap();
    a.connect(tx, ep(Ipv4::ANY, 9000)).unwrap();
    a.send(tx, b"connected", None).unwrap();
    let bound = a.socket(SOCK_DGRAM, 0).unwrap();
    a.bind(bound, ep(A_IP, 0)).unwrap();
    a.send(bound, b"bound", Some(ep(Ipv4::ANY, 9000))).unwrap();
    let mut buf = [0u8; 16];
    for (want, from) in [
        (&b"sendto"[..], Ipv4::LOCALHOST),
        (b"connected", Ipv4::LOCALHOST),
        (b"bound", A_IP),
    ] {
        let r = a.recv(rx, &mut buf, 0).unwrap();
        assert_eq!(&buf[..r.len], want);
        assert_eq!(r.from.map(|e| e.addr), Some(from));
    }
    net.pump();
    assert_eq!(net.delivered, 0, "nothing reaches the wire");
}

#[test]
fn errors_match_linux() {
    let mut net = Net::new();
    let s = &mut net.a;
    assert_eq!(s.socket(5, 0), Err(Errno::ESOCKTNOSUPPORT));
    assert_eq!(
        s.socket(SOCK_STREAM, IPPROTO_UDP.into()),
        Err(Errno::EPROTONOSUPPORT)
    );
    assert_eq!(s.socket(SOCK_RAW, 0), Err(Errno::EPROTONOSUPPORT));
    assert_eq!(
        s.socket(SOCK_RAW, IPPROTO_TCP.into()),
        Err(Errno::EPROTONOSUPPORT)
    );
    let raw = s
        .socket(SOCK_RAW, IPPROTO_RAW.into())
        .expect("udhcpc opens one for ioctls");
    assert_eq!(
        s.send(raw, &[0x45; 20], Some(ep(B_IP, 0))),
        Err(Errno::EOPNOTSUPP)
    );
    assert_eq!(
        s.socket(SOCK_DGRAM, IPPROTO_ICMP.into()),
        Err(Errno::EACCES)
    );
    let t = s.socket(SOCK_STREAM, 0).unwrap();
    assert_eq!(s.send(t, b"x", None), Err(Errno::EPIPE));
    let mut buf = [0u8; 4];
    assert_eq!(s.recv(t, &mut buf, 0), Err(Errno::ENOTCONN));
    assert_eq!(s.remote_endpoint(t), Err(Errno::ENOTCONN));
    assert_eq!(s.accept(t), Err(Errno::EINVAL));
    assert_eq!(s.shutdown(t, SHUT_RDWR), Err(Errno::ENOTCONN));
    assert_eq!(s.shutdown(t, 7), Err(Errno::EINVAL));
    assert_eq!(
        s.setsockopt(t, SOL_SOCKET, 999, &[0; 4]),
        Err(Errno::ENOPROTOOPT)
    );
    assert_eq!(
        s.setsockopt(t, 99, TCP_NODELAY, &[0; 4]),
        Err(Errno::ENOPROTOOPT)
    );
    assert_eq!(
        s.setsockopt(t, SOL_TCP, TCP_NODELAY, &[0; 2]),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        s.setsockopt(t, SOL_TCP, TCP_KEEPCNT, &0i32.to_ne_bytes()),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        s.getsockopt(t, SOL_SOCKET, 999, &mut buf),
        Err(Errno::ENOPROTOOPT)
    );
    assert_eq!(
        s.connect(t, ep(Ipv4::new(192, 0, 2, 1), 80)),
        Err(Errno::ENETUNREACH)
    );
    let u = s.socket(SOCK_DGRAM, 0).unwrap();
    assert_eq!(s.listen(u, 1), Err(Errno::EOPNOTSUPP));
    assert_eq!(
        s.setsockopt(u, SOL_TCP, TCP_NODELAY, &1i32.to_ne_bytes()),
        Err(Errno::ENOPROTOOPT)
    );
    s.close(t).unwrap();
    assert_eq!(s.close(t), Err(Errno::EBADF), "stale handle");
    assert_eq!(s.poll_mask(t), POLLNVAL);
}

#[test]
fn options_round_trip() {
    let mut net = Net::new();
    let s = &mut net.a;
    let t = s.socket(SOCK_STREAM, 0).unwrap();
    // As net/core hands them over: SO_RCVBUF 4096 became 8192; too small is raised.
    set(s, t, |o| {
        o.rcvbuf = 8192;
        o.sndbuf = 100;
        o.keepalive = true;
    });
    let o = s.settings(t).unwrap();
    assert_eq!((o.rcvbuf, o.sndbuf, o.keepalive), (8192, 2048, true));
    let mut v = [0u8; 4];
    s.setsockopt(t, SOL_TCP, TCP_NODELAY, &1i32.to_ne_bytes())
        .unwrap();
    s.getsockopt(t, SOL_TCP, TCP_NODELAY, &mut v).unwrap();
    assert_eq!(i32::from_ne_bytes(v), 1);
    s.setsockopt(t, SOL_IP, IP_TTL, &7i32.to_ne_bytes())
        .unwrap();
    s.getsockopt(t, SOL_IP, IP_TTL, &mut v).unwrap();
    assert_eq!(i32::from_ne_bytes(v), 7);
}

/// The platform hears of every change of the pending error (the kernel mirrors it into
/// `sk_err`, where net/core's SO_ERROR reads it), including its being taken.
#[test]
fn the_platform_follows_the_pending_error() {
    let mut net = Net::new();
    let c = net.a.socket(SOCK_STREAM, 0).unwrap();
    // Nobody listens on B's port 9: B answers RST.
    assert_eq!(net.a.connect(c, ep(B_IP, 9)), Err(Errno::EINPROGRESS));
    net.pump();
    assert_eq!(net.a.platform().error_of(c), Some(Errno::ECONNREFUSED));
    assert_eq!(net.a.take_error(c).unwrap(), Some(Errno::ECONNREFUSED));
    assert_eq!(net.a.platform().error_of(c), None);
    assert_eq!(net.a.poll_mask(c) & POLLERR, 0);
    // Returned by connect instead: the platform hears of that too.
    assert_eq!(net.a.connect(c, ep(B_IP, 9)), Err(Errno::EINPROGRESS));
    net.pump();
    assert_eq!(net.a.platform().error_of(c), Some(Errno::ECONNREFUSED));
    assert_eq!(net.a.connect(c, ep(B_IP, 9)), Err(Errno::ECONNREFUSED));
    assert_eq!(net.a.platform().error_of(c), None);
}

#[test]
fn dead_neighbour_fails_without_blocking_others() {
    let mut net = Net::new();
    let (c, s) = connected(&mut net, 80);
    let dead = net.a.socket(SOCK_STREAM, 0).unwrap();
    assert_eq!(
        net.a.connect(dead, ep(Ipv4::new(10, 0, 0, 99), 80)),
        Err(Errno::EINPROGRESS)
    );
    let data = pattern(200_000, 5);
    let start = net.now();
    assert_eq!(transfer(&mut net, true, c, s, &data), data);
    net.run_until(10 * SEC, |n| n.a.poll_mask(dead) & POLLERR != 0);
    assert_eq!(net.a.take_error(dead).unwrap(), Some(Errno::EHOSTUNREACH));
    assert!(net.now() - start >= 3 * SEC);
}

#[test]
fn vanished_peer_times_out() {
    let mut net = Net::new();
    let (c, _s) = connected(&mut net, 80);
    net.fault = Box::new(|_, _| false);
    net.a.send(c, b"into the void", None).unwrap();
    net.run_until(300 * SEC, |n| n.a.poll_mask(c) & POLLERR != 0);
    assert_eq!(net.a.take_error(c).unwrap(), Some(Errno::ETIMEDOUT));
    assert!(net.a.stats().mib.tcp_retrans_segs > 0);
}

/// An Ethernet frame to b carrying an IPv4 packet from `src` to `dst`.
fn ip_frame(src: Ipv4, dst: Ipv4, proto: u8, l4: &[u8]) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 0x66, 8, 0];
    f.extend_from_slice(&rinet::wire::ipv4_header(src, dst, proto, 64, l4.len()));
    f.extend_from_slice(l4);
    f
}

/// An ICMP message of type `ty` and code `code` with a payload, checksum filled in.
fn icmp(ty: u8, code: u8, rest: &[u8]) -> Vec<u8> {
    let mut m = vec![ty, code, 0, 0];
    m.extend_from_slice(rest);
    let sum = rinet::wire::csum_fold(rinet::wire::csum_add(0, &m));
    m[2..4].copy_from_slice(&sum.to_be_bytes());
    m
}

/// A UDP datagram (checksum 0: not computed).
fn udp(sport: u16, dport: u16, data: &[u8]) -> Vec<u8> {
    let mut d = sport.to_be_bytes().to_vec();
    d.extend_from_slice(&dport.to_be_bytes());
    d.extend_from_slice(&(8 + data.len() as u16).to_be_bytes());
    d.extend_from_slice(&[0, 0]);
    d.extend_from_slice(data);
    d
}

/// An ARP request from `sender` (MAC 02:..:66) for `target`, to b.
fn arp_request(sender: Ipv4, target: Ipv4) -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&[2, 0, 0, 0, 0, 0x66, 8, 6, 0, 1, 8, 0, 6, 4, 0, 1]);
    f.extend_from_slice(&[2, 0, 0, 0, 0, 0x66]);
    f.extend_from_slice(&sender.0);
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&target.0);
    f
}

/// Frames b sent so far (ARP and IPv4).
fn sent_by(s: &Stack<SimPlatform>) -> u64 {
    s.stats().arp_out + s.stats().mib.ip_out_requests
}

#[test]
fn martians_are_dropped_unanswered_and_counted() {
    use DropReason::*;
    let mut net = Net::new();
    listener(&mut net.b, 80, 4);
    let u = net.b.socket(SOCK_DGRAM, 0).unwrap();
    net.b.bind(u, ep(Ipv4::ANY, 67)).unwrap();
    let cases = [
        (Ipv4::LOCALHOST, B_IP, MartianSrcLoopback),
        (Ipv4::new(127, 9, 9, 9), B_IP, MartianSrcLoopback),
        (B_IP, B_IP, MartianSrcLocal),
        (Ipv4::ANY, B_IP, MartianSrcZero),
        (Ipv4::new(0, 1, 2, 3), B_IP, MartianSrcZero),
        (Ipv4::BROADCAST, B_IP, MartianSrcBroadcast),
        (Ipv4::new(224, 0, 0, 1), B_IP, MartianSrcMulticast),
        (Ipv4::new(239, 1, 2, 3), B_IP, MartianSrcMulticast),
        (Ipv4::new(240, 0, 0, 1), B_IP, MartianSrcClassE),
        (A_IP, Ipv4::ANY, MartianDstZero),
        (A_IP, Ipv4::LOCALHOST, MartianDstLoopback),
    ];
    let echo = icmp(8, 0, &[0, 1, 0, 1, b'x']);
    for (src, dst, why) in cases {
        let (before, sent) = (net.b.stats().dropped(why), sent_by(&net.b));
        let syn = rinet::wire::tcp_segment(ep(src, 4000), ep(dst, 80), (9, 0), 0x02, 512);
        net.b.receive(IF, &ip_frame(src, dst, 6, &syn[20..]));
        net.b.receive(IF, &ip_frame(src, dst, 1, &echo));
        net.b
            .receive(IF, &ip_frame(src, dst, 17, &udp(68, 9, b"x")));
        net.b
            .receive(IF, &ip_frame(src, dst, 17, &udp(68, 67, b"x")));
        assert_eq!(net.b.stats().dropped(why), before + 4, "{src:?} -> {dst:?}");
        assert_eq!(sent_by(&net.b), sent, "{src:?} -> {dst:?} was answered");
    }
    assert_eq!(net.b.recv(u, &mut [0; 8], 0), Err(Errno::EAGAIN));
    // ARP: "who-has B tell B" from another host, and martian senders or targets: neither
    // answered nor learned.
    let arps = [
        (B_IP, B_IP, ArpSenderLocal),
        (B_IP, A_IP, ArpSenderLocal),
        (Ipv4::LOCALHOST, B_IP, ArpSenderLocal),
        (Ipv4::new(127, 1, 1, 1), B_IP, ArpSenderLocal),
        (Ipv4::new(240, 1, 1, 1), B_IP, ArpMartian),
        (Ipv4::new(224, 0, 0, 9), B_IP, ArpMartian),
        (Ipv4::BROADCAST, B_IP, ArpMartian),
        (Ipv4::new(0, 0, 0, 7), B_IP, ArpMartian),
        (Ipv4::new(10, 0, 0, 9), Ipv4::LOCALHOST, ArpMartian),
    ];
    for (sender, target, why) in arps {
        let (before, sent) = (net.b.stats().dropped(why), sent_by(&net.b));
        net.b.receive(IF, &arp_request(sender, target));
        assert_eq!(net.b.stats().dropped(why), before + 1, "ARP {sender:?}");
        assert_eq!(sent_by(&net.b), sent, "ARP from {sender:?} was answered");
    }
    assert_eq!(net.b.neighbors().count(), 0);
    // A DHCP client's request (from 0.0.0.0 to the limited broadcast) is no martian.
    let drops = net.b.stats().total_drops();
    let dhcp = udp(68, 67, b"discover");
    net.b
        .receive(IF, &ip_frame(Ipv4::ANY, Ipv4::BROADCAST, 17, &dhcp));
    assert_eq!(net.b.stats().total_drops(), drops);
    let mut buf = [0u8; 16];
    let got = net.b.recv(u, &mut buf, 0).unwrap();
    assert_eq!(&buf[..got.len], b"discover");
    assert_eq!(got.from, Some(ep(Ipv4::ANY, 68)));
    // The same requests from a real neighbour are answered.
    let sent = sent_by(&net.b);
    net.b
        .receive(IF, &arp_request(Ipv4::new(10, 0, 0, 9), B_IP));
    net.b
        .receive(IF, &ip_frame(Ipv4::new(10, 0, 0, 9), B_IP, 1, &echo));
    assert_eq!(sent_by(&net.b), sent + 2);
    assert_eq!(net.b.stats().total_drops(), drops);
}

#[test]
#[cfg_attr(
    not(feature = "raw"),
    ignore = "needs raw ICMP sockets (the raw feature)"
)]
fn echo_with_any_code_is_answered_keeping_the_code() {
    let mut net = Net::new();
    let r = net.a.socket(SOCK_RAW, IPPROTO_ICMP.into()).unwrap();
    let lo = net.b.socket(SOCK_RAW, IPPROTO_ICMP.into()).unwrap();
    let mut buf = [0u8; 128];
    for code in [0u8, 1, 9, 255] {
        // From a to b over the wire, then from b to itself over loopback.
        let req = icmp(8, code, &[0x12, 0x34, 0, code, b'p', b'i', b'n', b'g']);
        net.a.send(r, &req, Some(ep(B_IP, 0))).unwrap();
        net.run_until(SEC, |n| n.a.poll_mask(r) & POLLIN != 0);
        let got = net.a.recv(r, &mut buf, 0).unwrap();
        assert_eq!(got.from.unwrap().addr, B_IP);
        assert_eq!(got.len, 20 + req.len());
        assert_eq!(
            &buf[20..22],
            &[0, code],
            "reply of type 0, the request's code"
        );
        assert_eq!(&buf[24..got.len], &req[4..]);
        assert_eq!(
            rinet::wire::csum_fold(rinet::wire::csum_add(0, &buf[20..got.len])),
            0
        );
        // b's raw socket saw the request; b pings itself the same way.
        while net.b.recv(lo, &mut buf, 0).is_ok() {}
        net.b.send(lo, &req, Some(ep(Ipv4::LOCALHOST, 0))).unwrap();
        net.pump();
        let mut types = Vec::new();
        while let Ok(got) = net.b.recv(lo, &mut buf, 0) {
            assert_eq!(got.from.unwrap().addr, Ipv4::LOCALHOST);
            types.push((buf[20], buf[21]));
        }
        assert_eq!(types, [(8, code), (0, code)], "loopback request and reply");
    }
    assert_eq!(net.b.stats().total_drops(), 0);
    // Not to a broadcast address (Linux ignores broadcast echoes).
    let sent = sent_by(&net.b);
    let bcast = Ipv4::new(10, 0, 0, 255);
    net.b
        .receive(IF, &ip_frame(A_IP, bcast, 1, &icmp(8, 3, &[0, 1, 0, 1])));
    assert_eq!(sent_by(&net.b), sent);
}

#[test]
fn udp_counters_move_as_linux_counts_them() {
    let mut net = Net::new();
    let ua = net.a.socket(SOCK_DGRAM, 0).unwrap();
    let ub = net.b.socket(SOCK_DGRAM, 0).unwrap();
    net.b.bind(ub, ep(Ipv4::ANY, 7)).unwrap();
    // Two datagrams for a port with no socket: a port unreachable each, NoPorts each.
    for _ in 0..2 {
        net.a.send(ua, b"nobody", Some(ep(B_IP, 9))).unwrap();
        net.pump();
    }
    let m = &net.b.stats().mib;
    assert_eq!(
        (m.udp_no_ports, m.udp_in_datagrams, m.udp_in_errors),
        (2, 0, 0)
    );
    assert_eq!(net.b.stats().mib.icmp_out_msgs, 2);
    // To the subnet's broadcast: no unreachable, and no NoPorts (Linux: IgnoredMulti).
    set(&mut net.a, ua, |o| o.broadcast = true);
    net.a
        .send(ua, b"all", Some(ep(Ipv4::new(10, 0, 0, 255), 9)))
        .unwrap();
    net.pump();
    assert_eq!(net.b.stats().mib.udp_no_ports, 2);
    // A datagram counts in when the socket reads it (Linux's udp_recvmsg), not before.
    net.a.send(ua, b"hi", Some(ep(B_IP, 7))).unwrap();
    net.pump();
    assert_eq!(net.b.stats().mib.udp_in_datagrams, 0);
    let mut buf = [0u8; 8];
    net.b.recv(ub, &mut buf, MSG_PEEK).unwrap();
    assert_eq!(net.b.stats().mib.udp_in_datagrams, 0);
    net.b.recv(ub, &mut buf, 0).unwrap();
    assert_eq!(net.b.stats().mib.udp_in_datagrams, 1);
    // A bad checksum and a bad length: InErrors, and InCsumErrors for the first.
    let mut bad = udp(5000, 7, b"data");
    bad[6..8].copy_from_slice(&[0x12, 0x34]);
    net.b.receive(IF, &ip_frame(A_IP, B_IP, 17, &bad));
    let mut short = udp(5000, 7, b"data");
    short[4..6].copy_from_slice(&40u16.to_be_bytes());
    net.b.receive(IF, &ip_frame(A_IP, B_IP, 17, &short));
    net.b.receive(IF, &ip_frame(A_IP, B_IP, 17, &[0, 7, 0, 7]));
    let m = &net.b.stats().mib;
    assert_eq!((m.udp_in_errors, m.udp_in_csum_errors), (3, 1));
    assert_eq!(m.udp_no_ports, 2);
}

#[test]
fn tcp_and_icmp_errors_are_counted_as_linux_counts_them() {
    let mut net = Net::new();
    let seg = rinet::wire::tcp_segment(ep(A_IP, 4000), ep(B_IP, 80), (1, 0), 0x02, 512);
    let mut bad_sum = seg[20..].to_vec();
    bad_sum[14] ^= 1;
    let mut bad_off = seg[20..].to_vec();
    bad_off[12] = 4 << 4;
    let segs = net.b.stats().mib.tcp_in_segs;
    net.b.receive(IF, &ip_frame(A_IP, B_IP, 6, &bad_sum));
    net.b.receive(IF, &ip_frame(A_IP, B_IP, 6, &bad_off));
    let m = &net.b.stats().mib;
    assert_eq!((m.tcp_in_errs, m.tcp_in_csum_errors), (2, 1));
    assert_eq!(m.tcp_in_segs, segs + 2);
    let mut echo = icmp(8, 0, &[0, 1, 0, 1]);
    echo[7] ^= 1;
    net.b.receive(IF, &ip_frame(A_IP, B_IP, 1, &echo));
    net.b
        .receive(IF, &ip_frame(A_IP, B_IP, 1, &[8, 0, 0xf7, 0xff]));
    let m = &net.b.stats().mib;
    assert_eq!(
        (m.icmp_in_msgs, m.icmp_in_errors, m.icmp_in_csum_errors),
        (2, 2, 1)
    );
    assert_eq!(
        net.b.stats().mib.tcp_out_rsts + net.b.stats().mib.icmp_out_msgs,
        0
    );
}

#[test]
fn malformed_frames_are_dropped_and_counted() {
    let mut net = Net::new();
    let before = net.b.stats().total_drops();
    let frames: Vec<Vec<u8>> = vec![
        vec![],
        vec![0; 5],
        vec![0xff; 14],
        {
            let mut f = vec![0u8; 34];
            f[12] = 8; // IPv4 with a garbage header
            f[14] = 0x4f;
            f
        },
        {
            let mut f = vec![0u8; 60];
            f[12] = 8;
            f[13] = 6; // ARP, wrong sizes
            f
        },
    ];
    for f in &frames {
        let mut f = f.clone();
        // For b's link address (a frame for another host is not looked into).
        if let Some(dst) = f.get_mut(..6) {
            dst.copy_from_slice(&B_MAC);
        }
        net.b.receive(IF, &f);
    }
    assert_eq!(net.b.stats().total_drops() - before, frames.len() as u64);
    let mut other = frames[4].clone();
    other[..6].copy_from_slice(&[2, 0, 0, 0, 0, 0x77]);
    net.b.receive(IF, &other);
    assert_eq!(net.b.stats().total_drops() - before, frames.len() as u64);
    assert_eq!(
        net.b.stats().other_host,
        1,
        "another host's frame, dropped and counted"
    );
    assert!(net.b.stats().dropped(DropReason::Truncated) >= 2);
}

#[test]
fn idle_stack_arms_no_timer() {
    let mut net = Net::new();
    let (c, s) = connected(&mut net, 80);
    net.a.close(c).unwrap();
    net.b.close(s).unwrap();
    net.advance(200 * SEC);
    assert_eq!(net.a_timer(), None);
    assert_eq!(net.b_timer(), None);
    // A listener alone needs no timer either.
    let _l = listener(&mut net.b, 80, 4);
    net.pump();
    assert_eq!(net.b_timer(), None);
}

#[test]
fn wakeups_report_mask_changes() {
    let mut net = Net::new();
    let l = listener(&mut net.b, 80, 4);
    let c = net.a.socket(SOCK_STREAM, 0).unwrap();
    let _ = net.a.connect(c, ep(B_IP, 80));
    net.pump();
    // The listener became readable and the client writable: both were woken.
    assert!(net.b.platform().woke(l, POLLIN));
    assert!(net.a.platform().woke(c, POLLOUT));
}

/// Every datagram that lands in an emptied socket wakes its reader, however the socket
/// was emptied: a reader that drained it with recv(2) and went to sleep without polling
/// (epoll in edge-triggered mode does exactly that) must not sleep through the next one.
#[test]
fn a_drained_socket_wakes_for_the_next_datagram() {
    let mut net = Net::new();
    let ub = net.b.socket(SOCK_DGRAM, 0).unwrap();
    net.b.bind(ub, ep(Ipv4::ANY, 7)).unwrap();
    let ua = net.a.socket(SOCK_DGRAM, 0).unwrap();
    let mut buf = [0u8; 16];
    for round in 0..3 {
        net.b.platform().wakes.borrow_mut().clear();
        net.a.send(ua, b"ping", Some(ep(B_IP, 7))).unwrap();
        net.pump();
        let woken = net.b.platform().woke(ub, POLLIN);
        assert!(woken, "round {round}: the reader was not woken");
        assert_eq!(net.b.recv(ub, &mut buf, 0).unwrap().len, 4);
        assert_eq!(net.b.recv(ub, &mut buf, 0), Err(Errno::EAGAIN));
    }
}

/// The same for a pending error: once SO_ERROR has taken it, the next one wakes again
/// (a refused connect(2), then the same socket refused again).
#[test]
fn a_taken_error_wakes_again_for_the_next() {
    let mut net = Net::new();
    let c = net.a.socket(SOCK_STREAM, 0).unwrap();
    for round in 0..3 {
        net.a.platform().wakes.borrow_mut().clear();
        // Nobody listens on B's port 9: B answers RST.
        assert_eq!(net.a.connect(c, ep(B_IP, 9)), Err(Errno::EINPROGRESS));
        net.pump();
        let woken = net.a.platform().woke(c, POLLERR);
        assert!(woken, "round {round}: the error did not wake the socket");
        assert_eq!(so_error(&mut net.a, c), Errno::ECONNREFUSED.0);
    }
}

#[test]
fn interfaces_routes_and_addresses() {
    let mut net = Net::new();
    let s = &mut net.a;
    let gw = Ipv4::new(10, 0, 0, 254);
    let route = |dest, prefix, gateway| rinet::route::Route {
        dest,
        prefix,
        gateway,
        ifindex: IF,
        metric: 0,
        connected: false,
    };
    s.add_route(route(Ipv4::ANY, 0, gw)).unwrap();
    assert_eq!(s.add_route(route(Ipv4::ANY, 0, gw)), Err(Errno::EEXIST));
    assert_eq!(
        s.add_route(route(Ipv4::ANY, 0, Ipv4::new(192, 0, 2, 1))),
        Err(Errno::ENETUNREACH)
    );
    assert!(s.routes().any(|r| r.gateway == gw));
    let t = s.socket(SOCK_STREAM, 0).unwrap();
    assert_eq!(
        s.connect(t, ep(Ipv4::new(192, 0, 2, 1), 80)),
        Err(Errno::EINPROGRESS)
    );
    s.delete_route(Ipv4::ANY, 0, None, None).unwrap();
    assert_eq!(s.delete_route(Ipv4::ANY, 0, None, None), Err(Errno::ESRCH));
    s.set_up(IF, false).unwrap();
    assert!(s.routes().all(|r| r.ifindex != IF));
    let u = s.socket(SOCK_DGRAM, 0).unwrap();
    assert_eq!(s.send(u, b"x", Some(ep(B_IP, 7))), Err(Errno::ENETUNREACH));
    assert_eq!(
        s.add_ethernet(IF, [2, 0, 0, 0, 0, 9], 1500),
        Err(Errno::EEXIST)
    );
    assert_eq!(
        s.add_ethernet(3, [1, 0, 0, 0, 0, 9], 1500),
        Err(Errno::EINVAL),
        "multicast MAC"
    );
    s.remove_link(IF).unwrap();
    assert!(s.netif(IF).is_none());
}

#[test]
fn many_connections_at_once() {
    let mut net = Net::new();
    let l = listener(&mut net.b, 80, 16);
    let clients: Vec<SocketId> = (0..64)
        .map(|_| net.a.socket(SOCK_STREAM, 0).unwrap())
        .collect();
    for &c in &clients {
        let _ = net.a.connect(c, ep(B_IP, 80));
    }
    let mut servers = Vec::new();
    net.run_until(120 * SEC, |n| {
        while let Ok((s, _)) = n.b.accept(l) {
            servers.push(s);
        }
        servers.len() == 64
    });
    for (i, &c) in clients.iter().enumerate() {
        net.a.send(c, &[i as u8; 10], None).unwrap();
    }
    net.pump();
    let mut total = 0;
    let mut buf = [0u8; 32];
    for &s in &servers {
        total += net.b.recv(s, &mut buf, 0).unwrap().len;
    }
    assert_eq!(total, 640);
}

#[test]
fn peek_then_consume_across_the_ring_wrap() {
    // The kernel glue reads streams with MSG_PEEK and then consumes what reached user
    // space; the receive ring wraps many times over a long transfer.
    let mut net = Net::new();
    let (c, s) = connected(&mut net, 80);
    let data = pattern(500_000, 11);
    let mut sent = 0;
    let mut got = Vec::new();
    let mut buf = vec![0u8; 7000];
    while got.len() < data.len() {
        if sent < data.len() {
            if let Ok(n) = net.a.send(c, &data[sent..], None) {
                sent += n;
            }
        }
        // One short read per step: the ring never drains, so reads straddle its end.
        if let Ok(r) = net.b.recv(s, &mut buf, MSG_PEEK) {
            let take = r.len.min(3001);
            got.extend_from_slice(&buf[..take]);
            assert_eq!(net.b.consume(s, take).unwrap(), take);
        }
        net.step(1_000);
    }
    assert_eq!(got, data);
}

/// udhcpc's renew runs `ifconfig eth0 0.0.0.0` and then sets the same address again: a
/// connection over that address pauses meanwhile and then carries on, as on Linux.
#[test]
fn transfer_survives_address_removed_and_restored() {
    let mut net = Net::new();
    let (c, s) = connected(&mut net, 80);
    let data = pattern(256 * 1024, 7);
    assert_eq!(
        transfer(&mut net, false, s, c, &data[..64 * 1024]),
        &data[..64 * 1024]
    );
    net.b.set_addr(IF, None).unwrap();
    let queued = net.b.send(s, &data[64 * 1024..96 * 1024], None).unwrap();
    net.advance(SEC / 2);
    assert_eq!(
        net.b.poll_mask(s) & (POLLERR | POLLHUP),
        0,
        "server connection died"
    );
    assert_eq!(
        net.a.poll_mask(c) & (POLLERR | POLLHUP),
        0,
        "client connection died"
    );
    net.b
        .set_addr(
            IF,
            Some(rinet::Cidr {
                addr: B_IP,
                prefix: 24,
            }),
        )
        .unwrap();
    let rest = &data[64 * 1024 + queued..];
    let mut got = vec![0u8; queued];
    net.run_until(10 * SEC, |n| {
        n.a.recv(c, &mut got, MSG_PEEK)
            .is_ok_and(|r| r.len == queued)
    });
    let _ = net.a.recv(c, &mut got, 0).unwrap();
    assert_eq!(got, &data[64 * 1024..64 * 1024 + queued]);
    assert_eq!(transfer(&mut net, false, s, c, rest), rest);
    net.b.close(s).unwrap();
    net.a.close(c).unwrap();
    net.advance(70 * SEC);
    assert_eq!(
        (net.a_timer(), net.b_timer()),
        (None, None),
        "both stacks idle"
    );
}

/// DHCP hands out a different address: a connection on the old one cannot resume. It
/// sends nothing from the stale address, times out like Linux's, and then the old address
/// is released (the stack goes idle).
#[test]
fn connection_on_a_replaced_address_times_out() {
    let mut net = Net::new();
    let (c, s) = connected(&mut net, 80);
    let new_ip = Ipv4([10, 0, 0, 99]);
    net.b
        .set_addr(
            IF,
            Some(rinet::Cidr {
                addr: new_ip,
                prefix: 24,
            }),
        )
        .unwrap();
    assert_eq!(net.b.send(s, b"lost", None), Ok(4));
    net.advance(SEC);
    assert!(net.b.stats().mib.ip_out_no_routes > 0);
    assert_eq!(
        net.a.poll_mask(c) & POLLIN,
        0,
        "nothing may arrive from the old address"
    );
    net.advance(130 * SEC);
    let mut buf = [0u8; 8];
    assert_eq!(net.b.recv(s, &mut buf, 0).err(), Some(Errno::ETIMEDOUT));
    net.b.close(s).unwrap();
    net.a.close(c).unwrap();
    net.advance(70 * SEC);
    assert_eq!(net.b_timer(), None, "the stack must go idle");
}

/// A connect whose SYN meets a DHCP renewal (the address goes away before the SYN leaves
/// and comes back): the SYN is retransmitted and the connection completes.
#[test]
fn connect_during_address_renewal_completes() {
    let mut net = Net::new();
    let l = listener(&mut net.b, 80, 4);
    let c = net.a.socket(SOCK_STREAM, 0).unwrap();
    assert_eq!(net.a.connect(c, ep(B_IP, 80)), Err(Errno::EINPROGRESS));
    net.a.set_addr(IF, None).unwrap();
    net.advance(SEC / 2);
    net.a
        .set_addr(
            IF,
            Some(rinet::Cidr {
                addr: A_IP,
                prefix: 24,
            }),
        )
        .unwrap();
    assert!(
        net.a_timer().is_some(),
        "a SYN is pending: the timer must be armed"
    );
    net.run_until(10 * SEC, |n| n.a.poll_mask(c) & (POLLOUT | POLLERR) != 0);
    assert_eq!(net.a.poll_mask(c) & POLLERR, 0);
    assert!(net.b.accept(l).is_ok());
}

/// What udhcpc's script does to the interface on a renewal: first `ifconfig eth0 0.0.0.0`;
/// then, with the lease, `ifconfig eth0 IP netmask M` (the classful /8 first, then the
/// mask) and the default route again.
fn renewal_deconfig(s: &mut Stack<SimPlatform>) {
    s.set_addr(IF, None).unwrap();
}

fn renewal_bound(s: &mut Stack<SimPlatform>, ip: Ipv4, gw: Ipv4) {
    for prefix in [8, 24] {
        s.set_addr(IF, Some(rinet::Cidr { addr: ip, prefix }))
            .unwrap();
    }
    while s.delete_route(Ipv4::ANY, 0, None, Some(IF)).is_ok() {}
    add_default_route(s, gw);
}

fn add_default_route(s: &mut Stack<SimPlatform>, gw: Ipv4) {
    s.add_route(rinet::route::Route {
        dest: Ipv4::ANY,
        prefix: 0,
        gateway: gw,
        ifindex: IF,
        metric: 0,
        connected: false,
    })
    .unwrap();
}

/// One transfer of `len` bytes while one side renews its lease at random moments (every
/// 0-1 s, each renewal taking 0-300 ms) and after each renewal the receiver stops reading
/// for up to a second, so windows close and reopen across renewals.
fn transfer_across_renewals(seed: u64, len: usize, a_sends: bool, sender_renews: bool) {
    let mut net = Net::new();
    add_default_route(&mut net.a, B_IP);
    add_default_route(&mut net.b, A_IP);
    let (c, s) = connected(&mut net, 80);
    let (from, to) = if a_sends { (c, s) } else { (s, c) };
    let renewer_is_a = a_sends == sender_renews;
    let (ip, gw) = if renewer_is_a {
        (A_IP, B_IP)
    } else {
        (B_IP, A_IP)
    };
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let data = pattern(len, seed as u8);
    let (mut sent, mut got) = (0, 0);
    let mut buf = vec![0u8; 8192];
    let end = net.now() + 300 * SEC;
    let mut next_renewal = net.now() + rng.below(SEC);
    let mut bound_at = None;
    let mut reader_resumes = 0;
    while got < len {
        let now = net.now();
        assert!(
            now < end,
            "seed {seed}: stalled at {got} of {len} bytes (a sends: {a_sends}, sender renews: {sender_renews})"
        );
        let renewer = if renewer_is_a { &mut net.a } else { &mut net.b };
        match bound_at {
            None if now >= next_renewal => {
                renewal_deconfig(renewer);
                bound_at = Some(now + 1 + rng.below(300_000));
            }
            Some(t) if now >= t => {
                renewal_bound(renewer, ip, gw);
                bound_at = None;
                next_renewal = now + rng.below(SEC);
                reader_resumes = now + rng.below(SEC);
            }
            _ => {}
        }
        let (tx, rx) = if a_sends {
            (&mut net.a, &mut net.b)
        } else {
            (&mut net.b, &mut net.a)
        };
        if sent < len {
            let chunk = (sent + 1 + rng.below(20_000) as usize).min(len);
            match tx.send(from, &data[sent..chunk], None) {
                Ok(n) => sent += n,
                Err(Errno::EAGAIN) => {}
                Err(e) => panic!("seed {seed}: send: {e:?}"),
            }
        }
        if now >= reader_resumes {
            loop {
                match rx.recv(to, &mut buf, 0) {
                    Ok(r) if r.len > 0 => {
                        assert_eq!(buf[..r.len], data[got..got + r.len], "seed {seed}");
                        got += r.len;
                    }
                    Err(Errno::EAGAIN) => break,
                    other => panic!("seed {seed}: recv: {other:?}"),
                }
            }
        }
        net.step(1 + rng.below(20_000));
    }
}

/// DHCP renewals during transfers, on either side and in either direction, again and
/// again: every transfer completes. (Each address change used to flush the engine's
/// neighbour cache, so the ACK answering a retransmission was lost to ARP and, with
/// renewals faster than the backed-off retransmissions, the transfer stalled for good.)
#[test]
fn transfers_survive_repeated_renewals() {
    for seed in 0..SEEDS {
        for (a_sends, sender_renews) in [(true, true), (true, false), (false, true), (false, false)]
        {
            transfer_across_renewals(seed, 1 << 20, a_sends, sender_renews);
        }
    }
}

const SEEDS: u64 = 64;

/// An established connection with nothing to send lives on however long it stays idle
/// (as on Linux without keepalive), and an idle stack arms no timer for it.
#[test]
fn idle_connection_lives_on() {
    let mut net = Net::new();
    let (c, s) = connected(&mut net, 80);
    assert_eq!(transfer(&mut net, true, c, s, b"ping"), b"ping");
    assert_eq!(transfer(&mut net, false, s, c, b"pong"), b"pong");
    net.advance(SEC);
    assert_eq!(
        (net.a_timer(), net.b_timer()),
        (None, None),
        "idle: no timer"
    );
    net.advance(3600 * SEC);
    assert_eq!(net.a.poll_mask(c) & (POLLERR | POLLHUP), 0);
    assert_eq!(net.b.poll_mask(s) & (POLLERR | POLLHUP), 0);
    assert_eq!(
        transfer(&mut net, true, c, s, b"an hour later"),
        b"an hour later"
    );
}

const A_MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];
const B_MAC: [u8; 6] = [2, 0, 0, 0, 0, 2];

/// SO_KEEPALIVE as on Linux, set on an established connection right after `accept` (as
/// busybox httpd does): no probe until the peer has been silent for TCP_KEEPIDLE, an
/// answered probe starts that wait again, unanswered ones follow every TCP_KEEPINTVL,
/// and TCP_KEEPCNT of them reset the connection with ETIMEDOUT. The wait is longer than
/// the engine's give-up time for unanswered data, which must not end the connection.
#[test]
fn keepalive_probes_after_keepidle_as_linux() {
    use std::cell::Cell;
    use std::rc::Rc;
    let (idle, intvl, cnt) = (300, 5, 3);
    let mut net = Net::new();
    // Static entries: the only frames on the wire are probes and their answers.
    net.a.neigh_set(0, B_IP, Some(B_MAC), true).unwrap();
    net.b.neigh_set(0, A_IP, Some(A_MAC), true).unwrap();
    let (c, s) = connected(&mut net, 80);
    for (name, v) in [
        (TCP_KEEPIDLE, idle),
        (TCP_KEEPINTVL, intvl),
        (TCP_KEEPCNT, cnt),
    ] {
        let v = (v as i32).to_ne_bytes();
        net.b.setsockopt(s, SOL_TCP, name, &v).unwrap();
    }
    let (probes, peer_up) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(true)));
    let (seen, up) = (probes.clone(), peer_up.clone());
    net.fault = Box::new(move |a_to_b, _| {
        if !a_to_b {
            seen.set(seen.get() + 1);
        }
        !a_to_b || up.get()
    });
    set(&mut net.b, s, |o| o.keepalive = true);
    assert_eq!(transfer(&mut net, true, c, s, b"GET /"), b"GET /");
    probes.set(0);

    net.advance((idle - 1) * SEC);
    assert_eq!(probes.get(), 0, "no probe before TCP_KEEPIDLE");
    net.advance(2 * SEC);
    assert_eq!(probes.get(), 1, "the first probe after TCP_KEEPIDLE");
    net.advance((idle - 2) * SEC);
    assert_eq!(probes.get(), 1, "an answered probe: TCP_KEEPIDLE again");

    peer_up.set(false);
    net.advance(2 * SEC);
    assert_eq!(probes.get(), 2);
    net.advance((cnt * intvl - 2) * SEC);
    assert_eq!(probes.get(), 1 + cnt, "unanswered: every TCP_KEEPINTVL");
    assert_eq!(so_error(&mut net.b, s), 0);
    net.advance(2 * SEC);
    assert_eq!(so_error(&mut net.b, s), Errno::ETIMEDOUT.0);
}

/// Counts the ARP requests a sends (`net.fault` records them; nothing is dropped).
fn count_arp_requests_from_a(net: &mut Net) -> std::rc::Rc<std::cell::Cell<u32>> {
    let n = std::rc::Rc::new(std::cell::Cell::new(0));
    let seen = n.clone();
    net.fault = Box::new(move |a_to_b, f| {
        if a_to_b && f.len() >= 22 && f[12..14] == [8, 6] && f[20..22] == [0, 1] {
            seen.set(seen.get() + 1);
        }
        true
    });
    n
}

/// `arp -s`: a static entry is used at once (no ARP request), outlives the engine's own
/// cache lifetime, is not replaced by what the wire says, and `arp -d` removes it, with
/// Linux's errors for what ARP cannot do.
#[test]
fn static_arp_entries() {
    use rinet::neigh::{ATF_COM, ATF_PERM};
    let mut net = Net::new();
    let requests = count_arp_requests_from_a(&mut net);
    net.a.neigh_set(0, B_IP, Some(B_MAC), true).unwrap();
    let n = net.a.neigh_get(IF, B_IP).unwrap();
    assert_eq!((n.mac, n.flags()), (B_MAC, ATF_COM | ATF_PERM));
    let (c, s) = connected(&mut net, 80);
    assert_eq!(transfer(&mut net, true, c, s, b"hello"), b"hello");
    assert_eq!(requests.get(), 0, "a static entry needs no ARP request");

    // Two minutes idle: the engine's own entry would have expired after one.
    net.advance(120 * SEC);
    assert_eq!(transfer(&mut net, true, c, s, b"again"), b"again");
    assert_eq!(
        requests.get(),
        0,
        "the static entry outlives the engine cache"
    );

    // Someone on the wire claims B's address: the static entry stands.
    let liar = wire_arp_reply([2, 0, 0, 0, 0, 0x66], B_IP, A_MAC, A_IP);
    net.a.receive(IF, &liar);
    assert_eq!(net.a.neigh_get(IF, B_IP).unwrap().mac, B_MAC);
    assert_eq!(transfer(&mut net, true, c, s, b"still b"), b"still b");

    // Errors, as Linux gives them.
    let off_link = Ipv4::new(192, 168, 9, 9);
    let mac = Some([2, 0, 0, 0, 0, 9]);
    assert_eq!(
        net.a.neigh_set(0, off_link, mac, true),
        Err(Errno::ENETUNREACH)
    );
    assert_eq!(net.a.neigh_set(0, A_IP, mac, true), Err(Errno::EINVAL));
    assert_eq!(net.a.neigh_set(99, B_IP, mac, true), Err(Errno::ENODEV));
    assert_eq!(net.a.neigh_set(1, B_IP, mac, true), Err(Errno::EINVAL));
    let unknown = Ipv4::new(10, 0, 0, 77);
    assert_eq!(
        net.a.neigh_set(IF, unknown, None, false),
        Err(Errno::EINVAL)
    );
    assert_eq!(net.a.neigh_get(IF, unknown).err(), Some(Errno::ENXIO));
    assert_eq!(net.a.neigh_delete(0, unknown), Err(Errno::ENXIO));

    // Without ATF_COM an existing entry just stops being permanent.
    net.a.neigh_set(IF, B_IP, None, false).unwrap();
    assert_eq!(net.a.neigh_get(IF, B_IP).unwrap().flags(), ATF_COM);

    // `arp -d`: gone from the table and from the engine, so the next packet asks ARP.
    net.a.neigh_delete(0, B_IP).unwrap();
    assert_eq!(net.a.neigh_get(IF, B_IP).err(), Some(Errno::ENXIO));
    assert_eq!(transfer(&mut net, true, c, s, b"after -d"), b"after -d");
    assert_eq!(requests.get(), 1, "after a delete, ARP asks again");
}

fn wire_arp_reply(from_mac: [u8; 6], from: Ipv4, to_mac: [u8; 6], to: Ipv4) -> Vec<u8> {
    rinet::wire::arp_frame(rinet::wire::ARP_OP_REPLY, (from_mac, from), (to_mac, to)).to_vec()
}

/// Closed connections still finishing are listed (for /proc/net/tcp), as Linux lists its
/// TIME-WAIT and FIN-WAIT sockets, until they are gone.
#[test]
fn closing_connections_are_listed_until_gone() {
    let mut net = Net::new();
    let (c, s) = connected(&mut net, 80);
    net.a.close(c).unwrap();
    net.b.close(s).unwrap();
    net.pump();
    let listed = |st: &mut rinet::Stack<SimPlatform>| {
        (0..)
            .map_while(|i| st.socket_info(i))
            .filter(|i| i.proto == 6)
            .map(|i| i.state)
            .collect::<Vec<u8>>()
    };
    // The active closer waits in TIME-WAIT (6).
    assert_eq!(listed(&mut net.a), vec![6]);
    net.advance(70 * SEC);
    assert_eq!(listed(&mut net.a), Vec::<u8>::new());
    assert_eq!(listed(&mut net.b), Vec::<u8>::new());
}

/// a gets a second interface, IF2 (192.168.5.1/24, up), whose frames are only recorded.
fn with_second_interface(net: &mut Net) {
    net.a.add_ethernet(IF2, [2, 0, 0, 0, 0, 9], 1500).unwrap();
    net.a
        .set_addr(
            IF2,
            Some(rinet::Cidr {
                addr: Ipv4::new(192, 168, 5, 1),
                prefix: 24,
            }),
        )
        .unwrap();
    net.a.set_up(IF2, true).unwrap();
}

fn bind_to_if(s: &mut Stack<SimPlatform>, id: SocketId, ifindex: u32) {
    set(s, id, |o| o.bound_if = ifindex);
}

#[test]
fn socket_bound_to_an_interface_sends_only_through_it() {
    let mut net = Net::new();
    with_second_interface(&mut net);
    let ub = net.b.socket(SOCK_DGRAM, 0).unwrap();
    net.b.bind(ub, ep(Ipv4::ANY, 7)).unwrap();
    let u = net.a.socket(SOCK_DGRAM, 0).unwrap();
    bind_to_if(&mut net.a, u, IF2);
    // B's address is routed through IF only: not reachable for this socket.
    assert_eq!(
        net.a.send(u, b"bound", Some(ep(B_IP, 7))),
        Err(Errno::ENETUNREACH)
    );
    // Limited broadcast (no route needed, SO_BROADCAST set) leaves on IF2...
    set(&mut net.a, u, |o| o.broadcast = true);
    net.a
        .send(u, b"bcast", Some(ep(Ipv4::new(255, 255, 255, 255), 67)))
        .unwrap();
    // ...and a neighbour on IF2's subnet is asked for there (an ARP request).
    net.a
        .send(u, b"bound", Some(ep(Ipv4::new(192, 168, 5, 7), 7)))
        .unwrap();
    net.pump();
    let mut buf = [0u8; 8];
    assert_eq!(net.b.recv(ub, &mut buf, 0), Err(Errno::EAGAIN));
    let other = net.a.platform().other.borrow().clone();
    let ether_type = |f: &Vec<u8>| [f[12], f[13]];
    assert!(
        other
            .iter()
            .any(|(i, f)| *i == IF2 && ether_type(f) == [0x08, 0x06]),
        "no ARP request on IF2"
    );
    assert!(
        other
            .iter()
            .any(|(i, f)| *i == IF2 && f[..6] == [0xff; 6] && ether_type(f) == [0x08, 0x00]),
        "no broadcast datagram on IF2"
    );
    // Unbound again, the datagram takes the route.
    bind_to_if(&mut net.a, u, 0);
    net.a.send(u, b"routed", Some(ep(B_IP, 7))).unwrap();
    net.pump();
    assert_eq!(net.b.recv(ub, &mut buf, 0).unwrap().len, 6);
}

#[test]
fn listener_bound_to_an_interface_ignores_the_others() {
    let mut net = Net::new();
    with_second_interface(&mut net);
    let l = listener(&mut net.a, 80, 4);
    bind_to_if(&mut net.a, l, IF2);
    let c = net.b.socket(SOCK_STREAM, 0).unwrap();
    assert_eq!(net.b.connect(c, ep(A_IP, 80)), Err(Errno::EINPROGRESS));
    net.run_until(SEC, |n| n.b.poll_mask(c) & POLLERR != 0);
    assert_eq!(so_error(&mut net.b, c), Errno::ECONNREFUSED.0);
    // Bound to the interface the SYN arrives on, the listener answers.
    bind_to_if(&mut net.a, l, IF);
    let c = net.b.socket(SOCK_STREAM, 0).unwrap();
    assert_eq!(net.b.connect(c, ep(A_IP, 80)), Err(Errno::EINPROGRESS));
    net.run_until(5 * SEC, |n| n.b.poll_mask(c) & POLLOUT != 0);
    assert!(net.a.accept(l).is_ok());
}

/// accept() with the socket table full fails and leaves the connection queued, as Linux's
/// accept leaves it when no file can be allocated: the peer is not reset and a later
/// accept() returns it.
#[test]
fn accept_with_full_table_keeps_connection_queued() {
    let mut net = Net::with_config(rinet::Config {
        max_sockets: 2,
        ..rinet::Config::default()
    });
    let l = listener(&mut net.b, 80, 4);
    let filler = net.b.socket(SOCK_DGRAM, 0).unwrap();
    let c = net.a.socket(SOCK_STREAM, 0).unwrap();
    assert_eq!(net.a.connect(c, ep(B_IP, 80)), Err(Errno::EINPROGRESS));
    net.run_until(5 * SEC, |n| n.a.poll_mask(c) & POLLOUT != 0);
    net.run_until(SEC, |n| n.b.poll_mask(l) & POLLIN != 0);
    assert_eq!(net.b.accept(l).map(|_| ()), Err(Errno::ENOBUFS));
    net.step(SEC);
    assert_eq!(net.b.poll_mask(l) & POLLIN, POLLIN, "still queued");
    assert_eq!(
        net.a.poll_mask(c) & (POLLERR | POLLHUP),
        0,
        "peer not reset"
    );
    net.b.close(filler).unwrap();
    let (srv, _) = net.b.accept(l).unwrap();
    let got = transfer(&mut net, true, c, srv, &pattern(4096, 7));
    assert_eq!(got, pattern(4096, 7));
}

fn tcp_flags(f: &[u8]) -> Option<u8> {
    if f.len() < 34 || f[12..14] != [8, 0] || f[23] != 6 {
        return None;
    }
    let tcp = 14 + usize::from(f[14] & 0xf) * 4;
    f.get(tcp + 13).copied()
}

/// A SYN that comes again (its SYN-ACK was lost) gets the same SYN-ACK again at once, as
/// from Linux, rather than only when the engine's own timer fires (1 s, then backing off
/// apart from the peer's); at most once per half second; another SYN gets nothing.
#[test]
fn a_retransmitted_syn_gets_its_syn_ack_again_at_once() {
    let mut net = Net::new();
    let l = listener(&mut net.b, 80, 4);
    // A first connection, so that both sides know each other's MAC address.
    let c = net.a.socket(SOCK_STREAM, 0).unwrap();
    assert_eq!(net.a.connect(c, ep(B_IP, 80)), Err(Errno::EINPROGRESS));
    net.run_until(SEC, |n| n.a.poll_mask(c) & POLLOUT != 0);
    net.b.accept(l).unwrap();
    let seen = std::rc::Rc::new(std::cell::RefCell::new(Vec::<Vec<u8>>::new()));
    let log = seen.clone();
    net.fault = Box::new(move |a_to_b, f| {
        if !a_to_b && tcp_flags(f) == Some(0x12) {
            log.borrow_mut().push(f[14..].to_vec());
            return false;
        }
        true
    });
    let syn = forged_syn(A_IP, 5000, 80, 0x02, 1234);
    net.b.receive(IF, &syn);
    net.pump();
    assert_eq!(seen.borrow().len(), 1);
    net.advance(300_000);
    assert_eq!(seen.borrow().len(), 1, "the engine's timer is not due yet");
    net.b.receive(IF, &syn);
    net.pump();
    assert_eq!(
        seen.borrow().len(),
        2,
        "the SYN came again: its SYN-ACK at once"
    );
    assert_eq!(seen.borrow()[1], seen.borrow()[0]);
    net.advance(100_000);
    net.b.receive(IF, &syn);
    net.pump();
    net.b.receive(IF, &forged_syn(A_IP, 5000, 80, 0x02, 999));
    net.pump();
    assert_eq!(
        seen.borrow().len(),
        2,
        "within half a second, or another SYN"
    );
    assert_eq!(net.b.stats().dropped(DropReason::DuplicateSyn), 3);
    // Half a second after the last, still before the engine's own timer (1 s).
    net.advance(450_000);
    net.b.receive(IF, &syn);
    net.pump();
    assert_eq!(seen.borrow().len(), 3);
}

/// A retransmitted SYN (its SYN-ACK was lost) belongs to the connection already being
/// set up, not to a fresh listening socket that happens to come first in the engine: one
/// connection results, with no reset, and accept() returns it once.
#[test]
fn retransmitted_syn_joins_its_connection() {
    let mut net = Net::new();
    // A socket that comes and goes before the listener's first engine socket, so that
    // the listener's refill lands in front of the connection in progress.
    let early = net.b.socket(SOCK_STREAM, 0).unwrap();
    assert_eq!(net.b.connect(early, ep(A_IP, 9)), Err(Errno::EINPROGRESS));
    let l = listener(&mut net.b, 80, 4);
    net.run_until(5 * SEC, |n| n.b.poll_mask(early) & POLLERR != 0);
    assert_eq!(so_error(&mut net.b, early), Errno::ECONNREFUSED.0);
    let mut lost = false;
    net.fault = Box::new(move |a_to_b, f| {
        let syn_ack = tcp_flags(f) == Some(0x12);
        if !a_to_b && syn_ack && !lost {
            lost = true;
            return false;
        }
        true
    });
    let c = net.a.socket(SOCK_STREAM, 0).unwrap();
    assert_eq!(net.a.connect(c, ep(B_IP, 80)), Err(Errno::EINPROGRESS));
    net.run_until(20 * SEC, |n| n.a.poll_mask(c) & POLLOUT != 0);
    assert_eq!(net.dropped, 1, "the first SYN-ACK was lost");
    assert!(net.b.stats().dropped(DropReason::DuplicateSyn) >= 1);
    let (s, _) = net.b.accept(l).unwrap();
    let data = pattern(20_000, 3);
    assert_eq!(transfer(&mut net, true, c, s, &data), data);
    net.step(60 * SEC);
    assert_eq!(net.b.accept(l).map(|_| ()), Err(Errno::EAGAIN));
    assert_eq!(so_error(&mut net.a, c), 0);
    assert_eq!(
        net.a.stats().mib.tcp_estab_resets + net.b.stats().mib.tcp_estab_resets,
        0
    );
}

/// The server closed first and keeps the connection in TIME-WAIT; the client opens the very
/// same four-tuple again at once. As on Linux, the SYN ends the TIME-WAIT and the new
/// connection is served.
#[test]
fn same_four_tuple_right_after_time_wait() {
    let mut net = Net::new();
    let l = listener(&mut net.b, 80, 4);
    let c = net.a.socket(SOCK_STREAM, 0).unwrap();
    assert_eq!(net.a.connect(c, ep(B_IP, 80)), Err(Errno::EINPROGRESS));
    net.run_until(5 * SEC, |n| n.a.poll_mask(c) & POLLOUT != 0);
    let port = net.a.local_endpoint(c).unwrap().port;
    let (s, _) = net.b.accept(l).unwrap();
    net.b.close(s).unwrap();
    net.pump();
    net.a.close(c).unwrap();
    net.pump();
    assert_eq!(net.b.orphan_count(), 1, "server side in TIME-WAIT");
    let c2 = net.a.socket(SOCK_STREAM, 0).unwrap();
    set(&mut net.a, c2, |o| o.reuseaddr = true);
    net.a.bind(c2, ep(A_IP, port)).unwrap();
    assert_eq!(net.a.connect(c2, ep(B_IP, 80)), Err(Errno::EINPROGRESS));
    net.run_until(SEC, |n| n.a.poll_mask(c2) & POLLOUT != 0);
    assert_eq!(so_error(&mut net.a, c2), 0);
    let (s2, peer) = net.b.accept(l).unwrap();
    assert_eq!(peer, ep(A_IP, port));
    let data = pattern(10_000, 5);
    assert_eq!(transfer(&mut net, true, c2, s2, &data), data);
}

/// Some drivers (smsc911x) set their hardware address only after registering, and users
/// change address and MTU: from then on every frame and every ARP message carries the new
/// address, and new connections offer the MSS of the new MTU.
#[test]
fn link_address_and_mtu_changes_reach_the_wire() {
    const NEW_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0x11];
    let mut net = Net::new();
    net.a.set_link(IF, NEW_MAC, 1000).unwrap();
    let sent = std::rc::Rc::new(std::cell::RefCell::new(Vec::<Vec<u8>>::new()));
    let record = sent.clone();
    net.fault = Box::new(move |a_to_b, f| {
        if a_to_b {
            record.borrow_mut().push(f.to_vec());
        }
        true
    });
    let (c, s) = connected(&mut net, 8080);
    let data = pattern(20_000, 7);
    assert_eq!(transfer(&mut net, true, c, s, &data), data);

    let sent = sent.borrow();
    assert!(sent.iter().all(|f| f[6..12] == NEW_MAC), "source address");
    let arp: Vec<_> = sent.iter().filter(|f| f[12..14] == [8, 6]).collect();
    assert!(!arp.is_empty(), "a had to resolve b");
    assert!(
        arp.iter().all(|f| f[22..28] == NEW_MAC),
        "ARP sender address"
    );
    let syn = sent
        .iter()
        .find(|f| f[12..14] == [8, 0] && f[23] == 6 && f[34 + 13] & 0x02 != 0)
        .expect("a sent a SYN");
    assert_eq!(&syn[54..56], &[2, 4], "MSS is the first option");
    assert_eq!(u16::from_be_bytes([syn[56], syn[57]]), 1000 - 40);
    drop(sent);

    // A new MTU remakes the engine's interface: the open connection carries on.
    net.a.set_link(IF, NEW_MAC, 1500).unwrap();
    let more = pattern(20_000, 8);
    assert_eq!(transfer(&mut net, true, c, s, &more), more);
    assert_eq!(transfer(&mut net, false, s, c, &more), more);

    assert_eq!(
        net.a.set_link(1, NEW_MAC, 1500),
        Err(Errno::EINVAL),
        "loopback"
    );
    assert_eq!(net.a.set_link(99, NEW_MAC, 1500), Err(Errno::ENODEV));
    assert_eq!(
        net.a.set_link(IF, [1, 0, 0, 0, 0, 1], 1500),
        Err(Errno::EINVAL),
        "multicast address"
    );
}

/// TIME-WAIT keeps the four-tuple, not the connection: the engine socket and its buffers
/// go once the last ACK is out. If that ACK is lost, the peer's FIN is still answered, so
/// the peer closes cleanly (no reset); and the port stays taken until TIME-WAIT ends.
#[test]
fn time_wait_keeps_the_tuple_and_answers_a_lost_last_ack() {
    let mut net = Net::new();
    let (c, s) = connected(&mut net, 80);
    let baseline = net.a.engine_socket_count() - 1;
    net.a.close(c).unwrap();
    net.pump();
    assert_eq!(net.b.recv(s, &mut [0u8; 8], 0).unwrap().len, 0, "a's FIN");
    // Lose a's ACK of b's FIN (a's only segment with ACK and nothing else after it).
    let lost = std::rc::Rc::new(std::cell::Cell::new(0u32));
    let seen = lost.clone();
    net.fault = Box::new(move |a_to_b, f| {
        let pure_ack = f.len() == 54 && f[12..14] == [8, 0] && f[47] == 0x10;
        if a_to_b && pure_ack && seen.get() == 0 {
            seen.set(1);
            return false;
        }
        true
    });
    net.b.close(s).unwrap();
    net.pump();
    assert_eq!(lost.get(), 1, "a's last ACK was lost");
    let acks_before = net.a.stats().mib.tcp_out_segs;
    // a's engine drops the connection at the next pass; b retransmits its FIN.
    net.advance(SEC);
    assert_eq!(
        net.a.engine_socket_count(),
        baseline,
        "no engine socket in TIME-WAIT"
    );
    assert_eq!(net.a.orphan_count(), 1, "TIME-WAIT still listed");
    let state = (0..).map_while(|i| net.a.socket_info(i)).map(|i| i.state);
    assert_eq!(state.collect::<Vec<u8>>(), vec![6]);
    let port = (0..)
        .map_while(|i| net.a.socket_info(i))
        .map(|i| i.local.port)
        .next()
        .unwrap();
    let again = net.a.socket(SOCK_STREAM, 0).unwrap();
    assert_eq!(
        net.a.bind(again, ep(Ipv4::ANY, port)),
        Err(Errno::EADDRINUSE)
    );
    net.run_until(10 * SEC, |n| n.b.orphan_count() == 0);
    assert!(
        net.a.stats().mib.tcp_out_segs > acks_before,
        "a acknowledged the FIN again"
    );
    assert_eq!(
        net.a.stats().mib.tcp_out_rsts + net.b.stats().mib.tcp_out_rsts,
        0
    );
    net.advance(11 * SEC);
    assert_eq!(net.a.orphan_count(), 0, "TIME-WAIT over");
    assert_eq!(net.a.bind(again, ep(Ipv4::ANY, port)), Ok(()));
    assert_eq!(net.a_timer(), None, "nothing left to time");
}

/// Data that reaches a connection after its owner closed it has no reader: it is reset,
/// as Linux does, and the peer (in CLOSE-WAIT) fails its next send with EPIPE; its poll
/// mask then reads both directions shut, as Linux's tcp_poll.
#[test]
fn data_after_close_resets_and_the_peer_meets_epipe() {
    let mut net = Net::new();
    let (c, s) = connected(&mut net, 80);
    net.b.close(s).unwrap();
    net.pump();
    let rdhup = POLLIN | POLLRDNORM | POLLRDHUP;
    assert_eq!(net.a.poll_mask(c), rdhup | POLLOUT | POLLWRNORM);
    assert_eq!(net.a.send(c, b"late", None), Ok(4));
    net.pump();
    let all = rdhup | POLLOUT | POLLWRNORM | POLLHUP | POLLERR;
    assert_eq!(net.a.poll_mask(c), all);
    assert_eq!(net.a.send(c, b"x", None), Err(Errno::EPIPE));
    let mut buf = [0u8; 4];
    assert_eq!(net.a.recv(c, &mut buf, 0).map(|r| r.len), Ok(0));
    assert_eq!(
        net.b.orphan_count(),
        0,
        "the reset ended the closed side too"
    );
}

/// Shut both ways: POLLHUP, and still POLLOUT (Linux keeps a stream shut for sending
/// writable, so that a writer meets EPIPE rather than sleeping).
#[test]
fn shut_both_ways_reads_as_hang_up_and_stays_writable() {
    let mut net = Net::new();
    let (c, s) = connected(&mut net, 80);
    net.a.shutdown(c, SHUT_WR).unwrap();
    net.b.shutdown(s, SHUT_WR).unwrap();
    net.pump();
    let want = POLLIN | POLLRDNORM | POLLRDHUP | POLLOUT | POLLWRNORM | POLLHUP;
    assert_eq!(net.a.poll_mask(c), want);
    assert_eq!(net.b.poll_mask(s), want);
    let u = net.a.socket(SOCK_DGRAM, 0).unwrap();
    assert_eq!(net.a.poll_mask(u), POLLOUT | POLLWRNORM | POLLWRBAND);
}

/// A connected UDP socket hears of the peer's ICMP port unreachable: ECONNREFUSED on the
/// next call, as Linux reports it.
#[test]
fn udp_port_unreachable_refuses_a_connected_socket() {
    let mut net = Net::new();
    let u = net.a.socket(SOCK_DGRAM, 0).unwrap();
    net.a.connect(u, ep(B_IP, 9)).unwrap();
    assert_eq!(net.a.send(u, b"anyone?", None), Ok(7));
    net.pump();
    assert_ne!(net.a.poll_mask(u) & POLLERR, 0);
    let mut buf = [0u8; 8];
    assert_eq!(net.a.recv(u, &mut buf, 0), Err(Errno::ECONNREFUSED));
    assert_eq!(
        net.a.recv(u, &mut buf, 0),
        Err(Errno::EAGAIN),
        "reported once"
    );
    // An unconnected socket is not told (Linux without IP_RECVERR).
    let v = net.a.socket(SOCK_DGRAM, 0).unwrap();
    assert_eq!(net.a.send(v, b"x", Some(ep(B_IP, 9))), Ok(1));
    net.pump();
    assert_eq!(net.a.take_error(v).unwrap(), None);
}

/// An ICMP error from B about `syn` (an IPv4 packet), as a router or host would send it.
fn icmp_error_frame(ty: u8, code: u8, syn: &[u8]) -> Vec<u8> {
    use rinet::wire::{csum_add, csum_fold, ipv4_header, ETHERTYPE_IPV4, IPPROTO_ICMP};
    let mut icmp = vec![ty, code, 0, 0, 0, 0, 0, 0];
    icmp.extend_from_slice(&syn[..28]);
    let c = csum_fold(csum_add(0, &icmp));
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
    f.extend_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
    f.extend_from_slice(&ipv4_header(B_IP, A_IP, IPPROTO_ICMP, 64, icmp.len()));
    f.extend_from_slice(&icmp);
    f
}

/// A hard ICMP error quoting our SYN fails the connect at once (EHOSTUNREACH here), as
/// Linux's tcp_v4_err does in SYN-SENT; one quoting another sequence number is ignored.
#[test]
fn icmp_error_about_the_syn_fails_the_connect() {
    let mut net = Net::new();
    let syns = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let seen = syns.clone();
    // A's TCP never reaches B (ARP does): as if a router on the way gave up.
    net.fault = Box::new(move |a_to_b, f: &[u8]| {
        let tcp = f.len() >= 54 && f[12..14] == [8, 0] && f[23] == 6;
        if a_to_b && tcp && f[47] & 0x12 == 0x02 {
            seen.borrow_mut().push(f[14..].to_vec());
        }
        !(a_to_b && tcp)
    });
    let c = net.a.socket(SOCK_STREAM, 0).unwrap();
    assert_eq!(net.a.connect(c, ep(B_IP, 80)), Err(Errno::EINPROGRESS));
    net.pump();
    let syn = syns.borrow().first().cloned().expect("a SYN left");
    let mut wrong = syn.clone();
    wrong[24] ^= 0x80; // another sequence number
    net.a.receive(IF, &icmp_error_frame(3, 1, &wrong));
    assert_eq!(net.a.poll_mask(c) & POLLERR, 0, "a blind error is ignored");
    net.a.receive(IF, &icmp_error_frame(11, 0, &syn));
    assert_eq!(
        net.a.poll_mask(c) & POLLERR,
        0,
        "time exceeded is a soft error"
    );
    net.a.receive(IF, &icmp_error_frame(3, 1, &syn));
    assert_ne!(net.a.poll_mask(c) & POLLERR, 0);
    assert_eq!(so_error(&mut net.a, c), Errno::EHOSTUNREACH.0);
    assert_eq!(net.a.engine_socket_count(), 0);
}

/// Source addresses as Linux chooses and checks them: a connected datagram socket reports
/// its route's source; a loopback source never leaves through another interface (EINVAL);
/// a socket bound to its subnet's broadcast address hears broadcasts there.
#[test]
fn source_addresses_and_broadcast_binds() {
    let mut net = Net::new();
    let u = net.a.socket(SOCK_DGRAM, 0).unwrap();
    net.a.connect(u, ep(B_IP, 53)).unwrap();
    let me = net.a.local_endpoint(u).unwrap();
    assert_eq!(me.addr, A_IP);
    assert_ne!(me.port, 0);
    let lo = net.a.socket(SOCK_DGRAM, 0).unwrap();
    net.a.bind(lo, ep(Ipv4::LOCALHOST, 0)).unwrap();
    assert_eq!(net.a.send(lo, b"x", Some(ep(B_IP, 53))), Err(Errno::EINVAL));
    let t = net.a.socket(SOCK_STREAM, 0).unwrap();
    net.a.bind(t, ep(Ipv4::LOCALHOST, 0)).unwrap();
    assert_eq!(net.a.connect(t, ep(B_IP, 80)), Err(Errno::EINVAL));
    let subnet_bcast = Ipv4::new(10, 0, 0, 255);
    let b = net.b.socket(SOCK_DGRAM, 0).unwrap();
    net.b.bind(b, ep(subnet_bcast, 67)).unwrap();
    let s = net.a.socket(SOCK_DGRAM, 0).unwrap();
    set(&mut net.a, s, |o| o.broadcast = true);
    assert_eq!(net.a.send(s, b"hello", Some(ep(subnet_bcast, 67))), Ok(5));
    net.pump();
    let mut buf = [0u8; 8];
    let got = net.b.recv(b, &mut buf, 0).unwrap();
    assert_eq!((got.len, got.from.map(|f| f.addr)), (5, Some(A_IP)));
}

/// A TCP segment from a to b with a payload (checksum filled in), as a scanner forges it.
fn tcp_frame(
    src: rinet::Endpoint,
    dst: rinet::Endpoint,
    (seq, ack): (u32, u32),
    flags: u8,
    data: &[u8],
) -> Vec<u8> {
    let mut l4 = rinet::wire::tcp_segment(src, dst, (seq, ack), flags, 8192)[20..].to_vec();
    l4[16..18].copy_from_slice(&[0, 0]);
    l4.extend_from_slice(data);
    let mut pseudo = src.addr.0.to_vec();
    pseudo.extend_from_slice(&dst.addr.0);
    pseudo.extend_from_slice(&[0, 6]);
    pseudo.extend_from_slice(&(l4.len() as u16).to_be_bytes());
    let sum = rinet::wire::csum_fold(rinet::wire::csum_add(
        rinet::wire::csum_add(0, &pseudo),
        &l4,
    ));
    l4[16..18].copy_from_slice(&sum.to_be_bytes());
    ip_frame(src.addr, dst.addr, 6, &l4)
}

/// (seq, ack) of a TCP frame.
fn tcp_seq_ack(f: &[u8]) -> (u32, u32) {
    let tcp = 14 + usize::from(f[14] & 0xf) * 4;
    let n = |at: usize| u32::from_be_bytes([f[at], f[at + 1], f[at + 2], f[at + 3]]);
    (n(tcp + 4), n(tcp + 8))
}

/// Issue 20, item 4: a scanner's peer sent FIN, then data past its FIN, then URG, then a
/// reset, while the server (having replied and closed) waited in LAST-ACK with its reply
/// unacknowledged; in a sweep it stayed there for minutes. A reset at the sequence number
/// the server expects ends LAST-ACK at once, and so does one elsewhere in the window
/// (smoltcp accepts any in-window reset; Linux would answer a challenge ACK, RFC 5961).
/// A reset outside the window (here at the FIN's own sequence number, which the FIN
/// consumed) is ignored, as on Linux: the connection is then left to its retransmissions,
/// which give up after the stack's give-up time. Bounded, and the port serves other
/// clients meanwhile.
#[test]
fn last_ack_after_fin_data_urg_and_reset_is_bounded() {
    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Reset {
        AtRcvNxt,
        InWindow,
        BeforeWindow,
    }
    for reset in [Reset::AtRcvNxt, Reset::InWindow, Reset::BeforeWindow] {
        let mut net = Net::new();
        let l = listener(&mut net.b, 80, 4);
        let c = net.a.socket(SOCK_STREAM, 0).unwrap();
        assert_eq!(net.a.connect(c, ep(B_IP, 80)), Err(Errno::EINPROGRESS));
        net.run_until(5 * SEC, |n| n.a.poll_mask(c) & POLLOUT != 0);
        let (s, _) = net.b.accept(l).unwrap();
        let client = net.a.local_endpoint(c).unwrap();
        let server = ep(B_IP, 80);
        // The client's FIN is the last thing a's own stack says on this connection: the
        // scanner forges the rest.
        let fin = std::rc::Rc::new(std::cell::RefCell::new(None::<Vec<u8>>));
        let seen = fin.clone();
        net.fault = Box::new(move |a_to_b, f| {
            if !a_to_b {
                return true;
            }
            let mut seen = seen.borrow_mut();
            if seen.is_none() && tcp_flags(f).is_some_and(|fl| fl & 0x01 != 0) {
                *seen = Some(f.to_vec());
                return true;
            }
            seen.is_none()
        });
        net.a.shutdown(c, SHUT_WR).unwrap();
        net.run_until(SEC, |_| fin.borrow().is_some());
        let (fin_seq, ack) = tcp_seq_ack(fin.borrow().as_ref().unwrap());
        net.pump();
        // The server answers 395 bytes and closes: LAST-ACK, the reply unacknowledged.
        assert_eq!(net.b.send(s, &pattern(395, 1), None), Ok(395));
        net.b.close(s).unwrap();
        net.pump();
        assert_eq!(net.b.orphan_count(), 1);
        let rcv_nxt = fin_seq.wrapping_add(1);
        let junk = pattern(100, 2);
        let forge =
            |seq: u32, flags: u8, data: &[u8]| tcp_frame(client, server, (seq, ack), flags, data);
        net.b.receive(IF, &forge(rcv_nxt, 0x18, &junk));
        net.b.receive(IF, &forge(rcv_nxt + 100, 0x38, &junk[..1]));
        let rst_seq = match reset {
            Reset::AtRcvNxt => rcv_nxt,
            Reset::InWindow => rcv_nxt + 101,
            Reset::BeforeWindow => fin_seq,
        };
        net.b
            .receive(IF, &tcp_frame(client, server, (rst_seq, 0), 0x04, &[]));
        net.pump();
        if reset != Reset::BeforeWindow {
            assert_eq!(
                net.b.orphan_count(),
                0,
                "{reset:?}: the reset ends LAST-ACK"
            );
            continue;
        }
        assert_eq!(
            net.b.orphan_count(),
            1,
            "a reset outside the window is ignored"
        );
        // The scanner never answers: nothing from its four-tuple reaches b any more.
        net.fault = Box::new(move |a_to_b, f| {
            !(a_to_b && f.len() > 37 && f[34..36] == client.port.to_be_bytes())
        });
        // Meanwhile the port serves a new client.
        let start = net.now();
        let c2 = net.a.socket(SOCK_STREAM, 0).unwrap();
        assert_eq!(net.a.connect(c2, ep(B_IP, 80)), Err(Errno::EINPROGRESS));
        net.run_until(5 * SEC, |n| n.a.poll_mask(c2) & POLLOUT != 0);
        let (s2, _) = net.b.accept(l).unwrap();
        let data = pattern(1000, 3);
        assert_eq!(transfer(&mut net, true, c2, s2, &data), data);
        assert_eq!(net.b.orphan_count(), 1, "still in LAST-ACK");
        // The server's retransmissions give up.
        net.run_until(300 * SEC, |n| n.b.orphan_count() == 0);
        let held = (net.now() - start) / SEC;
        assert_eq!(net.b.orphan_count(), 0, "LAST-ACK given up");
        assert!(held <= 130, "LAST-ACK held {held} s");
        println!("LAST-ACK after a reset outside the window ended after {held} s");
    }
}

/// An orphan in FIN-WAIT-2 (closed here, the peer's FIN never comes) ends after Linux's
/// tcp_fin_timeout, 60 s, on an idle stack too: the stack's own timer fires for it. (It
/// fired at exactly 60 s and found "not more than 60 s": the orphan then waited for some
/// other event, forever on an idle stack. Found by the socket-call fuzzer.)
#[test]
fn orphan_in_fin_wait_2_ends_after_fin_timeout_when_idle() {
    let mut net = Net::new();
    let (c, _s) = connected(&mut net, 80);
    net.a.close(c).unwrap();
    net.pump();
    assert_eq!(net.a.orphan_count(), 1);
    let info = net.a.socket_info(0).unwrap();
    assert_eq!(info.state, 5, "FIN-WAIT-2");
    let start = net.now();
    net.run_until(120 * SEC, |n| n.a.orphan_count() == 0);
    let took = (net.now() - start) / SEC;
    assert_eq!(net.a.orphan_count(), 0, "still there after {took} s");
    assert!((60..=61).contains(&took), "ended after {took} s");
    assert_eq!(net.a.engine_socket_count(), 0);
}

/// An idle connection closed while its peer has gone silent: the FIN is retransmitted,
/// then given up on after the stack's give-up time, as for any orphan with something
/// unacknowledged. (An idle connection runs with the give-up time off, and the orphan kept
/// it off: it retransmitted its FIN every minute, forever. Found by the socket-call fuzzer.)
#[test]
fn orphan_of_an_idle_connection_gives_up_its_fin() {
    let mut net = Net::new();
    let (c, _s) = connected(&mut net, 80);
    for _ in 0..10 {
        net.step(SEC);
    }
    // The peer is gone: nothing it would send arrives.
    net.fault = Box::new(|a_to_b, _| a_to_b);
    net.a.close(c).unwrap();
    let start = net.now();
    net.run_until(600 * SEC, |n| n.a.orphan_count() == 0);
    let took = (net.now() - start) / SEC;
    assert_eq!(
        net.a.orphan_count(),
        0,
        "still retransmitting its FIN after {took} s"
    );
    assert!(took <= 130, "gave up after {took} s");
    assert_eq!(net.a.engine_socket_count(), 0);
}

/// shutdown(SHUT_RD) on a listener resets the connections nobody accepted, as close()
/// does: their peers learn it at once. (They were dropped without a word, and the peer,
/// here on the same stack, sat in FIN-WAIT-2. Found by the socket-call fuzzer.)
#[test]
fn listener_shut_rd_resets_unaccepted_connections() {
    let mut net = Net::new();
    let l = listener(&mut net.b, 80, 4);
    let c = net.a.socket(SOCK_STREAM, 0).unwrap();
    assert_eq!(net.a.connect(c, ep(B_IP, 80)), Err(Errno::EINPROGRESS));
    net.run_until(5 * SEC, |n| n.a.poll_mask(c) & POLLOUT != 0);
    net.b.shutdown(l, SHUT_RD).unwrap();
    net.run_until(5 * SEC, |n| n.a.poll_mask(c) & POLLERR != 0);
    assert_eq!(so_error(&mut net.a, c), Errno::ECONNRESET.0);
    net.run_until(5 * SEC, |n| n.b.orphan_count() == 0);
    assert_eq!(net.b.orphan_count(), 0);
    assert_eq!(net.b.engine_socket_count(), 0);
}

/// ARP is rinet's: a datagram to a neighbour that never answers waits while three requests
/// go out a second apart, then is dropped and counted; one that answers gets what waited,
/// in order.
#[test]
fn arp_asks_three_times_then_gives_up_and_delivers_what_waited_on_an_answer() {
    let mut net = Net::new();
    let silent = Ipv4::new(10, 0, 0, 9);
    let u = net.a.socket(SOCK_DGRAM, 0).unwrap();
    net.a.send(u, b"lost", Some(ep(silent, 7))).unwrap();
    net.pump();
    net.advance(5 * SEC);
    assert_eq!(net.a.stats().unresolved, 1);
    assert_eq!(net.a.stats().arp_out, 3, "three requests, then nothing");
    assert_eq!(net.a_timer(), None, "ARP arms no timer once it gave up");
    // b answers: two datagrams that waited leave in order.
    let ub = net.b.socket(SOCK_DGRAM, 0).unwrap();
    net.b.bind(ub, ep(Ipv4::ANY, 7)).unwrap();
    net.a.send(u, b"one", Some(ep(B_IP, 7))).unwrap();
    net.a.send(u, b"two", Some(ep(B_IP, 7))).unwrap();
    net.pump();
    let mut buf = [0u8; 8];
    for want in [&b"one"[..], b"two"] {
        let n = net.b.recv(ub, &mut buf, 0).unwrap().len;
        assert_eq!(&buf[..n], want);
    }
}

/// Only packets for this host reach the engine: another unicast address is dropped and
/// counted (Linux without forwarding: InAddrErrors); an echo request to a broadcast
/// address is not answered (icmp_echo_ignore_broadcasts).
#[test]
fn packets_not_for_this_host_and_broadcast_pings_get_no_answer() {
    let mut net = Net::new();
    let errors = net.b.stats().mib.ip_in_addr_errors;
    let echo = icmp(8, 0, &[0, 1, 0, 1]);
    net.b
        .receive(IF, &ip_frame(A_IP, Ipv4::new(10, 0, 0, 77), 1, &echo));
    assert_eq!(net.b.stats().mib.ip_in_addr_errors, errors + 1);
    net.b
        .receive(IF, &ip_frame(A_IP, Ipv4::new(10, 0, 0, 255), 1, &echo));
    net.b
        .receive(IF, &ip_frame(A_IP, Ipv4::new(255, 255, 255, 255), 1, &echo));
    assert_eq!(net.b.stats().mib.icmp_out_msgs, 0, "no echo reply");
    net.b.receive(IF, &ip_frame(A_IP, B_IP, 1, &echo));
    assert_eq!(
        net.b.stats().mib.icmp_out_msgs,
        1,
        "its own address answers"
    );
}

/// A datagram socket bound to another device (SO_BINDTODEVICE) does not get what arrives
/// on this one, though one engine socket serves every device.
#[test]
fn datagram_socket_bound_to_another_interface_hears_nothing_from_this_one() {
    let mut net = Net::new();
    with_second_interface(&mut net);
    let u = net.a.socket(SOCK_DGRAM, 0).unwrap();
    net.a.bind(u, ep(Ipv4::ANY, 9)).unwrap();
    bind_to_if(&mut net.a, u, IF2);
    let s = net.b.socket(SOCK_DGRAM, 0).unwrap();
    net.b.send(s, b"x", Some(ep(A_IP, 9))).unwrap();
    net.pump();
    let mut buf = [0u8; 4];
    assert_eq!(net.a.recv(u, &mut buf, 0), Err(Errno::EAGAIN));
    bind_to_if(&mut net.a, u, IF);
    net.b.send(s, b"y", Some(ep(A_IP, 9))).unwrap();
    net.pump();
    assert_eq!(net.a.recv(u, &mut buf, 0).unwrap().len, 1);
}

/// A packet leaves by its destination's route, whatever device its source address is on
/// (Linux): a socket bound to A_IP (on IF) that connects to a host on IF2's subnet sends
/// its SYN's ARP request on IF2.
#[test]
fn a_packet_leaves_by_its_destinations_route_not_its_source_addresss_device() {
    let mut net = Net::new();
    with_second_interface(&mut net);
    // A default route through IF: IF2's subnet is still more specific.
    net.a
        .add_route(rinet::route::Route {
            dest: Ipv4::ANY,
            prefix: 0,
            gateway: B_IP,
            ifindex: IF,
            metric: 0,
            connected: false,
        })
        .unwrap();
    let c = net.a.socket(SOCK_STREAM, 0).unwrap();
    net.a.bind(c, ep(A_IP, 0)).unwrap();
    let far = Ipv4::new(192, 168, 5, 7);
    assert_eq!(net.a.connect(c, ep(far, 80)), Err(Errno::EINPROGRESS));
    net.pump();
    let other = net.a.platform().other.borrow().clone();
    let asked_on_if2 = other
        .iter()
        .any(|(i, f)| *i == IF2 && f[12..14] == [8, 6] && f[38..42] == far.0);
    assert!(asked_on_if2, "no ARP request for {far:?} on IF2");
}

/// ARP from a broadcast or multicast link address, or with an operation other than
/// request and reply, teaches nothing (smoltcp's rule, kept).
#[test]
fn arp_from_a_group_address_or_of_another_operation_is_dropped() {
    let mut net = Net::new();
    let bad = rinet::wire::DropReason::BadArp;
    let before = net.b.stats().dropped(bad);
    let peer = Ipv4::new(10, 0, 0, 9);
    let mut f = wire_arp_reply([0x01, 0, 0x5e, 0, 0, 1], peer, B_MAC, B_IP);
    net.b.receive(IF, &f);
    f = wire_arp_reply([2, 0, 0, 0, 0, 9], peer, B_MAC, B_IP);
    f[21] = 9; // operation 9
    net.b.receive(IF, &f);
    assert_eq!(net.b.stats().dropped(bad), before + 2);
    assert!(net.b.neigh_get(IF, peer).is_err(), "nothing learned");
    f[21] = 2;
    net.b.receive(IF, &f);
    assert!(
        net.b.neigh_get(IF, peer).is_ok(),
        "a sound reply for us is learned"
    );
}

/// Runs after a segment or a call leave out the established connections nothing touched
/// (issue #22: idle connections must not cost every run): an idle connection is still
/// woken by its peer's data and by its peer's FIN, keeps its keepalive timer, and one
/// whose peer vanished times out, while the others carry traffic.
#[test]
fn idle_connections_are_left_out_of_runs_but_woken_and_timed() {
    let mut net = Net::new();
    let l = listener(&mut net.b, 80, 16);
    let mut pairs = Vec::new();
    for _ in 0..12 {
        let c = net.a.socket(SOCK_STREAM, 0).unwrap();
        assert_eq!(net.a.connect(c, ep(B_IP, 80)), Err(Errno::EINPROGRESS));
        net.run_until(5 * SEC, |n| n.a.poll_mask(c) & POLLOUT != 0);
        let (s, _) = net.b.accept(l).unwrap();
        pairs.push((c, s));
    }
    let (busy_c, busy_s) = pairs[0];
    let (ka_c, ka_s) = pairs[3];
    let v = 60i32.to_ne_bytes();
    net.b.setsockopt(ka_s, SOL_TCP, TCP_KEEPIDLE, &v).unwrap();
    set(&mut net.b, ka_s, |o| o.keepalive = true);
    // Traffic on one connection, many runs on b; the others sit idle.
    for round in 0..20u8 {
        let data = pattern(3000, round);
        assert_eq!(transfer(&mut net, true, busy_c, busy_s, &data), data);
        assert_eq!(transfer(&mut net, false, busy_s, busy_c, &data), data);
        net.advance(SEC);
    }
    // Data for an idle connection wakes its socket.
    let (c5, s5) = pairs[5];
    net.b.platform().wakes.borrow_mut().clear();
    net.a.send(c5, b"late", None).unwrap();
    net.pump();
    assert!(net.b.platform().woke(s5, POLLIN));
    let mut buf = [0u8; 16];
    assert_eq!(net.b.recv(s5, &mut buf, 0).unwrap().len, 4);
    // So does its peer's FIN.
    let (c7, s7) = pairs[7];
    net.a.shutdown(c7, SHUT_WR).unwrap();
    net.pump();
    assert!(net.b.platform().woke(s7, POLLIN | POLLRDHUP));
    assert_eq!(net.b.recv(s7, &mut buf, 0).unwrap().len, 0);
    // The keepalive connection's peer goes; b probes, gives up, and tells its socket,
    // though nothing but its own timers touches it.
    net.fault = Box::new(|a_to_b, _| !a_to_b);
    net.advance(60 * SEC + 9 * 75 * SEC + 10 * SEC);
    assert_eq!(so_error(&mut net.b, ka_s), Errno::ETIMEDOUT.0);
    let _ = ka_c;
}

/// A read tells the peer of the opened window at once when the receive queue held half
/// the buffer or more (the sender may be held up); a small read from an emptier queue
/// sends nothing (the stack does not run for it: a run walks the engine's sockets).
#[test]
fn a_read_announces_the_window_only_when_it_matters() {
    let mut net = Net::new();
    let (c, s) = connected(&mut net, 80);
    // a fills b's receive buffer: a's data waits behind a zero window.
    let data = pattern(256 * 1024, 3);
    let mut sent = 0;
    for _ in 0..64 {
        sent += net.a.send(c, &data[sent..], None).unwrap_or(0);
        net.pump();
    }
    let queued = net.b.bytes_readable(s).unwrap();
    assert!(queued > 0 && sent > queued, "{queued} of {sent}");
    let before = net.a.bytes_unsent(c).unwrap();
    assert!(before > 0);
    // b reads half its queue: the window update goes out with no timer, and a sends.
    let mut buf = vec![0u8; queued / 2 + 1];
    let n = net.b.recv(s, &mut buf, 0).unwrap().len;
    assert_eq!(buf[..n], data[..n]);
    assert!(!net.take_sent(false).is_empty(), "no window update");
    let mut got = n;
    // Drain b; what a still sends arrives in order.
    let mut rest = Vec::new();
    for _ in 0..10_000 {
        if got == data.len() {
            break;
        }
        net.pump();
        net.advance(10_000);
        let k = net.b.recv(s, &mut buf, 0).map_or(0, |r| r.len);
        rest.extend_from_slice(&buf[..k]);
        got += k;
        sent += net.a.send(c, &data[sent..], None).unwrap_or(0);
    }
    assert_eq!(got, data.len());
    assert_eq!(rest[..], data[n..]);
    // A small request read from an almost empty queue: nothing to send for it.
    net.run_until(5 * SEC, |n| n.b.bytes_readable(s).unwrap_or(0) == 0);
    net.a.send(c, b"GET / HTTP/1.1\r\n\r\n", None).unwrap();
    net.pump();
    net.take_sent(false);
    assert_eq!(net.b.recv(s, &mut buf, 0).unwrap().len, 18);
    assert!(net.take_sent(false).is_empty(), "a run for a small read");
}
