//! `rinet-host`: the rinet stack in user space on a TAP device.
//!
//! ```text
//! rinet-host serve  --tap T --addr A/P [--gw G] [--http-port 80] [--backlog 16]
//!                   [--docroot DIR] [--udp-echo PORT] [--seconds N] [--loss PCT] [--reorder PCT]
//!                   [--duplicate PCT] [--corrupt PCT]
//!                   [--tcp-buf BYTES] [--dump-rx DIR]
//! rinet-host fetch  --tap T --addr A/P --url http://IP[:PORT]/PATH [--timeout S] [faults]
//! rinet-host udp    --tap T --addr A/P --to IP:PORT [--count N]
//! rinet-host ping   --tap T --addr A/P --to IP [--count N]
//! rinet-host linux-serve --bind IP:PORT   (the same HTTP service on Linux sockets)
//! rinet-host relay  --tap T --udp IP:PORT --qemu IP:PORT [faults]
//!                   (a faulty link between a QEMU guest's `-netdev socket,udp=` and a TAP)
//! ```
//! `serve` prints `READY` once it listens and its counters when it stops (SIGTERM,
//! SIGINT or `--seconds`). The others print their result and exit non-zero on failure.

mod capi;
mod dgram;
mod faults;
mod http;
mod linux;
mod relay;
mod tap;

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use capi::Host;
use faults::Faults;
use rinet::{Cidr, Endpoint, Ipv4};

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

fn parse_ip(s: &str) -> Result<Ipv4, String> {
    let v: Vec<u8> = s
        .split('.')
        .map(|p| p.parse::<u8>())
        .collect::<Result<_, _>>()
        .map_err(|_| format!("bad address {s}"))?;
    <[u8; 4]>::try_from(v)
        .map(Ipv4)
        .map_err(|_| format!("bad address {s}"))
}

fn parse_cidr(s: &str) -> Result<Cidr, String> {
    let (a, p) = s
        .split_once('/')
        .ok_or(format!("want ADDR/PREFIX, got {s}"))?;
    let prefix: u8 = p.parse().map_err(|_| format!("bad prefix in {s}"))?;
    if prefix > 32 {
        return Err(format!("bad prefix in {s}"));
    }
    Ok(Cidr {
        addr: parse_ip(a)?,
        prefix,
    })
}

fn parse_ep(s: &str, default_port: u16) -> Result<Endpoint, String> {
    match s.split_once(':') {
        Some((a, p)) => Ok(Endpoint::new(
            parse_ip(a)?,
            p.parse().map_err(|_| format!("bad port in {s}"))?,
        )),
        None => Ok(Endpoint::new(parse_ip(s)?, default_port)),
    }
}

struct Args {
    cmd: String,
    kv: HashMap<String, String>,
}

impl Args {
    fn parse() -> Result<Args, String> {
        let mut it = std::env::args().skip(1);
        let cmd = it
            .next()
            .ok_or("usage: rinet-host serve|fetch|udp|ping --tap T --addr A/P ...")?;
        let mut kv = HashMap::new();
        while let Some(k) = it.next() {
            let k = k
                .strip_prefix("--")
                .ok_or(format!("unexpected argument {k}"))?
                .to_string();
            let v = it.next().ok_or(format!("--{k} needs a value"))?;
            kv.insert(k, v);
        }
        Ok(Args { cmd, kv })
    }
    fn get(&self, k: &str) -> Result<&str, String> {
        self.kv
            .get(k)
            .map(String::as_str)
            .ok_or(format!("--{k} is required"))
    }
    fn num<T: std::str::FromStr>(&self, k: &str, default: T) -> Result<T, String> {
        self.kv
            .get(k)
            .map_or(Ok(default), |v| v.parse().map_err(|_| format!("bad --{k}")))
    }
}

fn run() -> Result<(), String> {
    let args = Args::parse()?;
    if args.cmd == "linux-serve" {
        return linux::serve(args.get("bind")?, args.num("max-bytes", 64 << 20)?);
    }
    let faults = Faults {
        loss_pct: args.num("loss", 0)?,
        reorder_pct: args.num("reorder", 0)?,
        duplicate_pct: args.num("duplicate", 0)?,
        corrupt_pct: args.num("corrupt", 0)?,
    };
    if args.cmd == "relay" {
        let addr = |k: &str| -> Result<std::net::SocketAddr, String> {
            args.get(k)?.parse().map_err(|_| format!("bad --{k}"))
        };
        // SAFETY: installing a handler that only stores an atomic.
        unsafe {
            libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
            libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        }
        let i = relay::run(args.get("tap")?, addr("udp")?, addr("qemu")?, faults, &STOP)
            .map_err(|e| format!("relay: {e}"))?;
        println!(
            "relay: injected-drops {} injected-reorders {} injected-duplicates {} injected-corruptions {}",
            i.dropped, i.reordered, i.duplicated, i.corrupted
        );
        return Ok(());
    }
    let cidr = parse_cidr(args.get("addr")?)?;
    let gw = args.kv.get("gw").map(|g| parse_ip(g)).transpose()?;
    let mut h = Host::new(args.get("tap")?, cidr, gw, faults, args.num("tcp-buf", 0)?)
        .map_err(|e| format!("tap: {e}"))?;
    if let Some(d) = args.kv.get("dump-rx") {
        std::fs::create_dir_all(d).map_err(|e| format!("{d}: {e}"))?;
        h.dump = Some((d.into(), 64));
    }
    // SAFETY: installing a handler that only stores an atomic.
    unsafe {
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
    }
    match args.cmd.as_str() {
        "serve" => serve(&mut h, &args),
        "fetch" => {
            let url = args.get("url")?;
            let rest = url.strip_prefix("http://").ok_or("only http:// URLs")?;
            let (hostport, path) = rest
                .split_once('/')
                .map_or((rest, "/".to_string()), |(a, b)| (a, format!("/{b}")));
            let server = parse_ep(hostport, 80)?;
            // Give the peer's ARP a moment: the TAP link just came up.
            let f = http::fetch(&mut h, server, &path, args.num("timeout", 300)?)?;
            let i = h.faults_injected();
            println!(
                "status {} bytes {} sha256 {} seconds {:.3} mbit/s {:.1} retrans {} injected-drops {} injected-reorders {} injected-duplicates {} injected-corruptions {}",
                f.status,
                f.body_len,
                f.sha256,
                f.seconds,
                f.body_len as f64 * 8.0 / f.seconds / 1e6,
                h.stats().mib.tcp_retrans_segs,
                i.dropped,
                i.reordered,
                i.duplicated,
                i.corrupted,
            );
            if f.status == 200 {
                Ok(())
            } else {
                Err(format!("HTTP status {}", f.status))
            }
        }
        "udp" => {
            let to = parse_ep(args.get("to")?, 7)?;
            let count = args.num("count", 10)?;
            let ok = dgram::udp_echo_client(&mut h, to, count).map_err(|e| format!("{e:?}"))?;
            println!("udp echoed {ok}/{count}");
            if ok == count {
                Ok(())
            } else {
                Err("datagrams lost".into())
            }
        }
        "ping" => {
            let to = parse_ip(args.get("to")?)?;
            let count = args.num("count", 3)?;
            let got = dgram::ping(&mut h, to, count).map_err(|e| format!("{e:?}"))?;
            println!("{count} packets transmitted, {got} received");
            if got == count {
                Ok(())
            } else {
                Err("no reply".into())
            }
        }
        other => Err(format!("unknown command {other}")),
    }
}

fn serve(h: &mut Host, args: &Args) -> Result<(), String> {
    let port = args.num("http-port", 80u16)?;
    let backlog = args.num("backlog", 16i32)?;
    let docroot = args.kv.get("docroot").map(std::path::PathBuf::from);
    let mut web =
        http::Server::new(h, port, backlog, docroot).map_err(|e| format!("listen: {e:?}"))?;
    let mut echo = match args.kv.get("udp-echo") {
        Some(p) => Some(
            dgram::EchoServer::new(h, p.parse().map_err(|_| "bad --udp-echo")?)
                .map_err(|e| format!("udp: {e:?}"))?,
        ),
        None => None,
    };
    let seconds: u64 = args.num("seconds", 0)?;
    let end = (seconds > 0).then(|| h.now_us() + seconds * 1_000_000);
    println!(
        "READY http://{}:{port}/",
        dgram::fmt_ip(parse_cidr(args.get("addr")?)?.addr)
    );
    let mut most_sockets = 0;
    while !STOP.load(Ordering::Relaxed) && end.is_none_or(|e| h.now_us() < e) {
        let mut busy = web.step(h);
        if let Some(e) = echo.as_mut() {
            busy |= e.step(h);
        }
        h.pump(if busy { 0 } else { 100 });
        most_sockets = most_sockets.max(h.engine_sockets());
    }
    let s = h.stats();
    let m = &s.mib;
    println!(
        "served {} requests; udp echoed {}; tcp in {} out {} retrans {} rst {} listen-overflows {} syn-queue-evictions {}; rx drops {}; engine sockets at most {most_sockets}",
        web.requests,
        echo.map_or(0, |e| e.echoed),
        m.tcp_in_segs,
        m.tcp_out_segs,
        m.tcp_retrans_segs,
        m.tcp_out_rsts,
        m.tcp_listen_overflows,
        m.syn_queue_evictions,
        s.total_drops()
    );
    let by_reason: Vec<String> = (s.mib.drops.iter().zip(rinet::wire::DROP_NAMES))
        .filter(|(n, _)| **n > 0)
        .map(|(n, name)| format!("{}={n}", name.to_string_lossy()))
        .collect();
    println!("drops by reason: {}", by_reason.join(" "));
    println!(
        "connections served without a wakeup: {}",
        web.missed_wakeups
    );
    println!(
        "udp in {} no-ports {} in-errors {}; icmp in {} in-errors {} out {}",
        m.udp_in_datagrams,
        m.udp_no_ports,
        m.udp_in_errors,
        m.icmp_in_msgs,
        m.icmp_in_errors,
        m.icmp_out_msgs
    );
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rinet-host: {e}");
            ExitCode::FAILURE
        }
    }
}
