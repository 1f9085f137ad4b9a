//! Receive-path fuzzer: mutated frames into a stack that has live sockets of every kind.
//!
//! Seeds are real frames: those Linux sent to rinet (tests/corpus) and those two rinet
//! stacks exchange in a scripted session. Half of the mutants get their checksums fixed
//! up so they get past the classifier into the protocol engine. The run is bounded by
//! `RINET_FUZZ_SECONDS` (default 3) and by an iteration cap; any panic fails the test,
//! and afterwards both stacks must still carry a connection.
//!
//! This is a coverage-blind mutation fuzzer that runs on the stable toolchain inside
//! `cargo test`; the coverage-guided ones (cargo-fuzz, nightly) are in `rinet/fuzz` and run
//! under `cargo xtask fuzz`.

mod common;

use std::time::{Duration, Instant};

use common::*;
use rinet::socket::*;
use rinet::wire::{csum_add, csum_fold};
use rinet::{Errno, Ipv4};

/// A session between two stacks, recording every frame on the wire.
fn scripted_frames() -> Vec<Vec<u8>> {
    let mut net = Net::new();
    let seen = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let rec = seen.clone();
    net.fault = Box::new(move |_, f| {
        rec.borrow_mut().push(f.to_vec());
        true
    });
    let l = net.b.socket(SOCK_STREAM, 0).unwrap();
    net.b.bind(l, ep(Ipv4::ANY, 80)).unwrap();
    net.b.listen(l, 4).unwrap();
    let c = net.a.socket(SOCK_STREAM, 0).unwrap();
    let _ = net.a.connect(c, ep(B_IP, 80));
    net.pump();
    let (s, _) = net.b.accept(l).unwrap();
    net.a.send(c, &pattern(3000, 1), None).unwrap();
    net.pump();
    let u = net.a.socket(SOCK_DGRAM, 0).unwrap();
    net.a.send(u, b"udp", Some(ep(B_IP, 7))).unwrap();
    // An echo request from a raw socket, where there are raw sockets (the `raw` feature).
    if let Ok(r) = net.a.socket(SOCK_RAW, IPPROTO_ICMP.into()) {
        let mut icmp = vec![8, 0, 0, 0, 0, 1, 0, 1, 1, 2, 3, 4];
        let sum = csum_fold(csum_add(0, &icmp));
        icmp[2..4].copy_from_slice(&sum.to_be_bytes());
        net.a.send(r, &icmp, Some(ep(B_IP, 0))).unwrap();
    }
    net.pump();
    net.a.close(c).unwrap();
    net.b.close(s).unwrap();
    net.pump();
    let v = seen.borrow().clone();
    v
}

fn corpus() -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut v: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .expect("corpus directory")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "bin"))
        .filter_map(|e| std::fs::read(e.path()).ok())
        .collect();
    assert!(v.len() >= 10, "corpus of real Linux frames is missing");
    v.extend(scripted_frames());
    v
}

/// Re-address Linux's frames to stack b and fix checksums, so they reach the engine.
fn fix_up(f: &mut [u8]) {
    if f.len() < 34 || f[12..14] != [8, 0] {
        return;
    }
    let ihl = usize::from(f[14] & 0xf) * 4;
    if ihl < 20 || f.len() < 14 + ihl {
        return;
    }
    f[10 + 14..12 + 14].copy_from_slice(&[0, 0]);
    let sum = csum_fold(csum_add(0, &f[14..14 + ihl]));
    f[24..26].copy_from_slice(&sum.to_be_bytes());
    let total = usize::from(u16::from_be_bytes([f[16], f[17]]));
    let end = (14 + total).min(f.len());
    if end <= 14 + ihl {
        return;
    }
    let proto = f[23];
    let l4 = 14 + ihl;
    let sum_at = match proto {
        6 => 16,
        17 => 6,
        1 => 2,
        _ => return,
    };
    if end < l4 + sum_at + 2 {
        return;
    }
    f[l4 + sum_at..l4 + sum_at + 2].copy_from_slice(&[0, 0]);
    let mut acc = csum_add(0, &f[l4..end]);
    if proto != 1 {
        acc = csum_add(acc, &f[26..34]);
        acc += u32::from(proto) + (end - l4) as u32;
    }
    let sum = csum_fold(acc);
    f[l4 + sum_at..l4 + sum_at + 2].copy_from_slice(&sum.to_be_bytes());
}

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut f = seed.to_vec();
    for _ in 0..=rng.index(4) {
        let n = f.len();
        match rng.index(7) {
            0 if n > 0 => {
                let i = rng.index(n);
                f[i] ^= 1 << rng.index(8);
            }
            1 if n > 0 => {
                let i = rng.index(n);
                f[i] = [0, 0xff, 0x7f, 0x80, 1, 0x40][rng.index(6)];
            }
            2 => f.truncate(rng.index(n + 1)),
            3 => {
                let extra = rng.index(64);
                f.extend((0..extra).map(|_| rng.next() as u8));
            }
            4 if n > 4 => {
                // Length and offset fields live in the first 64 bytes.
                let i = rng.index(n.min(64) - 1);
                let v = (rng.next() as u16).to_be_bytes();
                f[i..i + 2].copy_from_slice(&v);
            }
            5 if n > 8 => {
                let (a, b) = (rng.index(n), rng.index(n));
                f.swap(a, b);
            }
            _ => {}
        }
    }
    f
}

#[test]
fn mutated_frames_never_panic_and_the_stack_survives() {
    let seconds: u64 = std::env::var("RINET_FUZZ_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let seeds = corpus();
    let mut rng = Rng(0x5eed_1234_abcd_0001 ^ seconds);
    let start = Instant::now();
    let mut iterations = 0u64;
    let mut net = Net::new();
    let setup = |net: &mut Net| {
        // Live sockets of every kind on b, so every demultiplexer has work.
        let l = net.b.socket(SOCK_STREAM, 0).unwrap();
        net.b.bind(l, ep(Ipv4::ANY, 80)).unwrap();
        net.b.listen(l, 4).unwrap();
        let u = net.b.socket(SOCK_DGRAM, 0).unwrap();
        net.b.bind(u, ep(Ipv4::ANY, 7)).unwrap();
        // Only with the `raw` feature (without it, EPROTONOSUPPORT).
        let _raw = net.b.socket(SOCK_RAW, IPPROTO_ICMP.into());
        let c = net.a.socket(SOCK_STREAM, 0).unwrap();
        let _ = net.a.connect(c, ep(B_IP, 80));
        net.pump();
    };
    setup(&mut net);
    let limit = Duration::from_secs(seconds);
    while start.elapsed() < limit && iterations < 50_000_000 {
        let seed = &seeds[rng.index(seeds.len())];
        let mut f = mutate(&mut rng, seed);
        if rng.index(2) == 0 {
            if f.len() >= 34 && f[12..14] == [8, 0] {
                f[0..6].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
                f[30..34].copy_from_slice(&B_IP.0);
            }
            fix_up(&mut f);
        }
        net.b.receive(IF, &f);
        iterations += 1;
        if iterations.is_multiple_of(512) {
            net.step(50_000);
        }
        if iterations.is_multiple_of(200_000) {
            net = Net::new();
            setup(&mut net);
        }
    }
    // The stacks still work: a fresh connection carries data both ways.
    net.pump();
    let l = net.b.socket(SOCK_STREAM, 0).unwrap();
    net.b.bind(l, ep(Ipv4::ANY, 8080)).unwrap();
    net.b.listen(l, 4).unwrap();
    let c = net.a.socket(SOCK_STREAM, 0).unwrap();
    assert_eq!(net.a.connect(c, ep(B_IP, 8080)), Err(Errno::EINPROGRESS));
    // A fuzzed ARP frame may have poisoned the neighbour cache; entries expire after 60 s.
    let t0 = net.now();
    net.run_until(200_000_000, |n| n.a.poll_mask(c) & POLLOUT != 0);
    let heal_s = (net.now() - t0) as f64 / 1e6;
    let (s, _) = net.b.accept(l).unwrap();
    net.a.send(c, b"still alive", None).unwrap();
    net.pump();
    let mut buf = [0u8; 32];
    assert_eq!(net.b.recv(s, &mut buf, 0).unwrap().len, 11);
    let drops = net.b.stats().total_drops();
    println!(
        "fuzz: {iterations} frames in {:.1} s from {} seeds; b dropped {drops} in the last round; \
         a new connection took {heal_s:.1} s of simulated time",
        start.elapsed().as_secs_f64(),
        seeds.len()
    );
    assert!(iterations > 1000);
}
