//! `cargo xtask kbench`: the rinet guest against the Linux INET guest in QEMU, same
//! settings: boot time, free memory, download speed, requests per second and kernel
//! sizes, written to docs/kernel-bench.md and .json.

use crate::util::fs;
use anyhow::{bail, Context, Result};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::image;
use crate::kernel::{self, Arch, Spec};
use crate::qemu::{curl, guest_snmp, snmp_value, tail, Guest, SNMP_CGI, STATIC_NET};
use crate::util::{cache_dir, output};

/// The kernel benchmark as data: docs/kernel-bench.md is rendered from it,
/// docs/kernel-bench.json is it.
#[derive(serde::Serialize)]
struct KernelBench {
    rinet: KernelNumbers,
    inet: KernelNumbers,
}

#[derive(serde::Serialize)]
struct KernelNumbers {
    /// QEMU start to the first HTTP 200.
    first_200_s: f64,
    /// MemFree after boot.
    memfree_kb: u64,
    /// 64 MiB download, median of ROUNDS.
    mbit_s: f64,
    /// Guest CPU seconds (busy: all but idle and iowait) per MiB of those downloads,
    /// median of ROUNDS: less disturbed by the host's load than Mbit/s.
    cpu_s_per_mib: f64,
    /// The small page with wrk, 4 connections for 5 s, median of ROUNDS.
    req_s: f64,
    /// The same with IDLE_CONNECTIONS more connections open to the guest, idle.
    req_s_idle: f64,
    /// rinet: received frames per list the driver handed over (a NAPI poll's) during the
    /// downloads; one per list means batched receive had nothing to batch.
    rx_frames_per_batch: Option<f64>,
    /// rinet: TCP segments per frame handed to the device to segment (TSO) during the
    /// downloads.
    tx_segs_per_offload: Option<f64>,
    vmlinux: Vmlinux,
    bzimage: u64,
}

/// vmlinux sizes: text as the sum of text symbols (x86_64 pads `.text` to 2 MiB, so the
/// section size hides real differences), and the `.rodata`, `.data`, `.bss` sections.
#[derive(serde::Serialize)]
struct Vmlinux {
    text: u64,
    rodata: u64,
    data: u64,
    bss: u64,
}

fn extents(vmlinux: &Path) -> Result<Vmlinux> {
    let v = vmlinux.to_string_lossy();
    let out = output("size", &["-A", &v], Path::new("."), &[])?;
    let get = |name: &str| -> u64 {
        out.lines()
            .find_map(|l| {
                let mut it = l.split_whitespace();
                (it.next() == Some(name))
                    .then(|| it.next().and_then(|v| v.parse().ok()))
                    .flatten()
            })
            .unwrap_or(0)
    };
    let syms = output("nm", &["-S", &v], Path::new("."), &[])?;
    let text = syms
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let (_, size, kind) = (it.next()?, it.next()?, it.next()?);
            matches!(kind, "t" | "T")
                .then(|| u64::from_str_radix(size, 16).ok())
                .flatten()
        })
        .sum();
    Ok(Vmlinux {
        text,
        rodata: get(".rodata"),
        data: get(".data"),
        bss: get(".bss"),
    })
}

/// One guest, booted and serving, with what was read from it before the downloads.
struct Booted {
    build: std::path::PathBuf,
    guest: Guest,
    base: String,
    first_200_s: f64,
    memfree_kb: u64,
    batches_before: Option<(u64, u64)>,
    offloads_before: Option<(u64, u64)>,
}

fn boot(spec: Spec) -> Result<Booted> {
    let build = kernel::build(spec)?;
    let work = cache_dir().join("kbench").join(spec.name());
    fs::create_dir_all(&work)?;
    let initrd = image::build(
        spec.arch,
        &work.join("initramfs.cpio.gz"),
        vec![
            image::rc_local(include_bytes!("../guest/rc.kbench")),
            image::cgi("snmp", SNMP_CGI),
            image::cgi("cpu", include_bytes!("../guest/cpu.cgi")),
        ],
    )?;
    let started = Instant::now();
    let guest = Guest::boot(
        spec.arch,
        &build.join("arch/x86/boot/bzImage"),
        &initrd,
        STATIC_NET,
        1,
        work.join("console.log"),
    )?;
    let base = format!("http://127.0.0.1:{}", guest.http_port);
    let first_200_s = loop {
        if curl(&["-f", "-m", "1", &format!("{base}/")]).is_ok() {
            break started.elapsed().as_secs_f64();
        }
        if started.elapsed() > Duration::from_secs(120) {
            bail!(
                "{}: no HTTP 200; console:\n{}",
                spec.name(),
                tail(&guest.console(), 30)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    guest.wait_for("GUEST-BENCH-READY", Duration::from_secs(120))?;
    let memfree_kb = guest
        .console()
        .lines()
        .find_map(|l| {
            l.strip_prefix("GUEST-MEMFREE ")
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0);
    Ok(Booted {
        batches_before: rinet_counters(&base, "RxBatches", "RxBatchFrames"),
        offloads_before: rinet_counters(&base, "TxOffloadFrames", "TxOffloadSegs"),
        build,
        guest,
        base,
        first_200_s,
        memfree_kb,
    })
}

/// One 64 MiB download: Mbit/s and the guest's busy CPU seconds per MiB.
fn download(base: &str) -> Result<(f64, f64)> {
    let busy_before = guest_busy_ticks(base)?;
    let out = curl(&[
        "-f",
        "-o",
        "/dev/null",
        "-w",
        "%{speed_download}",
        &format!("{base}/big64.bin"),
    ])?;
    let mbit_s = out
        .trim()
        .parse::<f64>()
        .with_context(|| format!("bad speed {out:?}"))?
        * 8.0
        / 1e6;
    let busy = guest_busy_ticks(base)?.saturating_sub(busy_before);
    Ok((mbit_s, busy as f64 / USER_HZ / 64.0))
}

/// Rounds of each paired measure: both guests run side by side and take turns, the order
/// swapped every round, so that a change in the host's load falls on both and the ratio
/// of medians holds across runs better than two guests measured minutes apart.
const ROUNDS: usize = 5;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Run `measure` ROUNDS times on each guest, taking turns: [rinet, INET], then
/// [INET, rinet], and so on.
fn take_turns<T>(
    guests: [&Booted; 2],
    mut measure: impl FnMut(&Booted) -> Result<T>,
) -> Result<[Vec<T>; 2]> {
    let mut out = [Vec::new(), Vec::new()];
    for round in 0..ROUNDS {
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for i in order {
            out[i].push(measure(guests[i])?);
        }
    }
    Ok(out)
}

fn numbers(
    b: &Booted,
    downloads: Vec<(f64, f64)>,
    req_s: Vec<f64>,
    req_s_idle: f64,
) -> Result<KernelNumbers> {
    let per = |before: Option<(u64, u64)>, names: (&str, &str)| {
        before
            .zip(rinet_counters(&b.base, names.0, names.1))
            .and_then(|((n0, m0), (n1, m1))| {
                let n = n1.checked_sub(n0).filter(|&n| n > 0)?;
                Some(m1.saturating_sub(m0) as f64 / n as f64)
            })
    };
    let (speeds, cpu): (Vec<f64>, Vec<f64>) = downloads.into_iter().unzip();
    Ok(KernelNumbers {
        first_200_s: b.first_200_s,
        memfree_kb: b.memfree_kb,
        mbit_s: median(speeds),
        cpu_s_per_mib: median(cpu),
        req_s: median(req_s),
        req_s_idle,
        rx_frames_per_batch: per(b.batches_before, ("RxBatches", "RxBatchFrames")),
        tx_segs_per_offload: per(b.offloads_before, ("TxOffloadFrames", "TxOffloadSegs")),
        vmlinux: extents(&b.build.join("vmlinux"))?,
        bzimage: fs::metadata(b.build.join("arch/x86/boot/bzImage"))?.len(),
    })
}

/// Idle connections open while the small page is measured a second time, here and in
/// the user-space bench: what a stack that walks every socket for each packet pays for
/// (busybox httpd's children wait for their request line).
pub(crate) const IDLE_CONNECTIONS: usize = 200;

/// Requests per second for the small page: wrk, 4 connections, 5 s.
fn small_page_rate(base: &str) -> Result<f64> {
    let wrk = output(
        "wrk",
        &["-t1", "-c4", "-d5s", &format!("{base}/index.html")],
        Path::new("."),
        &[],
    )?;
    wrk.lines()
        .find_map(|l| {
            l.strip_prefix("Requests/sec:")
                .and_then(|v| v.trim().parse().ok())
        })
        .with_context(|| format!("wrk: {wrk}"))
}

/// Open IDLE_CONNECTIONS connections to the guest, a few at a time (busybox httpd listens
/// with a backlog of 9 and forks a child per connection; slirp retries an overflowed SYN
/// only seconds later), each wave once the guest's TCP counts the last one established
/// (/proc/net/snmp's CurrEstab, through snmp.cgi). Within a wave, one every
/// CONNECT_GAP: slirp's host-side socket listens with a backlog of 1, and connections
/// opened at once overflow it, each then retried by the host a second or more later
/// (seen: 200 connections took 7 s this way, 13 to over 40 s at once). They close when
/// dropped; busybox httpd's children give up on a request line after 60 s, so the whole
/// must take less.
const CONNECT_GAP: Duration = Duration::from_millis(30);

fn idle_connections(base: &str, port: u16) -> Result<Vec<std::net::TcpStream>> {
    const WAVE: usize = 8;
    let started = Instant::now();
    let mut conns = Vec::new();
    while conns.len() < IDLE_CONNECTIONS {
        for _ in 0..WAVE.min(IDLE_CONNECTIONS - conns.len()) {
            conns.push(
                std::net::TcpStream::connect(("127.0.0.1", port))
                    .context("opening an idle connection")?,
            );
            std::thread::sleep(CONNECT_GAP);
        }
        loop {
            let snmp = guest_snmp(base)?;
            // The CGI's own connection is established too.
            if curr_estab(&snmp).is_some_and(|n| n as usize > conns.len()) {
                break;
            }
            if started.elapsed() > Duration::from_secs(40) {
                bail!(
                    "{} idle connections were not established within 40 s:\n{snmp}",
                    conns.len()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    Ok(conns)
}

/// Two of rinet's counters in /proc/net/snmp (None for INET, which has no such
/// counters, or when the guest does not answer).
fn rinet_counters(base: &str, a: &str, b: &str) -> Option<(u64, u64)> {
    let snmp = guest_snmp(base).ok()?;
    let get = |name| snmp_value(&snmp, "Rinet", name);
    get(a).zip(get(b))
}

/// CurrEstab of /proc/net/snmp's Tcp lines (names, then values).
fn curr_estab(snmp: &str) -> Option<u64> {
    snmp_value(snmp, "Tcp", "CurrEstab")
}

/// /proc/stat's clock ticks.
const USER_HZ: f64 = 100.0;

/// The guest's busy CPU time so far in USER_HZ ticks (/proc/stat's "cpu" line through
/// cpu.cgi: everything but idle and iowait).
fn guest_busy_ticks(base: &str) -> Result<u64> {
    let out = curl(&["-f", "-m", "10", &format!("{base}/cgi-bin/cpu")])?;
    busy_ticks(&out).with_context(|| format!("cpu.cgi: {out:?}"))
}

fn busy_ticks(stat: &str) -> Option<u64> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|v| v.parse().ok())
        .collect::<Option<_>>()?;
    let (idle, iowait) = (*ticks.get(3)?, ticks.get(4).copied().unwrap_or(0));
    Some(ticks.iter().sum::<u64>() - idle - iowait)
}

/// `cargo xtask kbench`: the rinet guest against the INET guest, same QEMU settings.
pub fn kbench() -> Result<()> {
    crate::deps::ensure(true)?;
    // Booted one after the other, so that each boot time is its own; measured side by side.
    let rinet = boot(Spec::rinet(Arch::X86_64))?;
    let inet = boot(Spec {
        arch: Arch::X86_64,
        net: kernel::Net::Inet,
        debug: false,
        omit: None,
    })?;
    let guests = [&rinet, &inet];
    let [r_down, l_down] = take_turns(guests, |b| download(&b.base))?;
    let [r_req, l_req] = take_turns(guests, |b| small_page_rate(&b.base))?;
    // One at a time: the idle connections of one guest must not be open while the other
    // is measured.
    let mut idle = Vec::new();
    for b in guests {
        let _idle = idle_connections(&b.base, b.guest.http_port)?;
        idle.push(small_page_rate(&b.base)?);
    }
    let report = KernelBench {
        rinet: numbers(&rinet, r_down, r_req, idle[0])?,
        inet: numbers(&inet, l_down, l_req, idle[1])?,
    };
    let md = kbench_markdown(&report);
    print!("{md}");
    let docs = crate::util::root_dir().join("docs");
    fs::write(docs.join("kernel-bench.md"), &md)?;
    crate::util::write_json(&docs.join("kernel-bench.json"), &report)
}

fn kbench_markdown(report: &KernelBench) -> String {
    let (r, l) = (&report.rinet, &report.inet);
    let mut md = String::from("# Kernel benchmark: rinet guest vs INET guest\n\n");
    md.push_str(&format!(
        "Produced by `cargo xtask kbench` in one run: the same tinyconfig-based x86_64 kernel \
         (only the network fragment differs: `net-rinet.cfg` vs `net-inet.cfg`), the same busybox \
         initramfs, `qemu-system-x86_64 -accel tcg -m 256M`, e1000 on QEMU user networking, the \
         host reaching busybox httpd through a hostfwd on 127.0.0.1. The two guests boot one \
         after the other, then run side by side and take turns for each paired measure \
         ({ROUNDS} rounds, the order swapped every round), so that the host's load falls on \
         both. TCG and slirp dominate the absolute numbers; compare the ratios.\n\n"
    ));
    md.push_str("| measure | rinet | INET | rinet / INET |\n|---|---:|---:|---:|\n");
    let row = |md: &mut String, name: &str, a: f64, b: f64, fmt: &dyn Fn(f64) -> String| {
        md.push_str(&format!(
            "| {name} | {} | {} | {:.3} |\n",
            fmt(a),
            fmt(b),
            a / b
        ));
    };
    let f0 = |v: f64| format!("{v:.0}");
    let f2 = |v: f64| format!("{v:.2}");
    row(
        &mut md,
        "QEMU start to first HTTP 200 (s)",
        r.first_200_s,
        l.first_200_s,
        &f2,
    );
    row(
        &mut md,
        "MemFree after boot (kB)",
        r.memfree_kb as f64,
        l.memfree_kb as f64,
        &f0,
    );
    row(
        &mut md,
        &format!("64 MiB download, median of {ROUNDS} (Mbit/s)"),
        r.mbit_s,
        l.mbit_s,
        &f0,
    );
    row(
        &mut md,
        &format!("guest CPU per MiB downloaded, median of {ROUNDS} (s)"),
        r.cpu_s_per_mib,
        l.cpu_s_per_mib,
        &|v: f64| format!("{v:.3}"),
    );
    row(
        &mut md,
        &format!("small page, wrk -c4 5 s, median of {ROUNDS} (requests/s)"),
        r.req_s,
        l.req_s,
        &f0,
    );
    row(
        &mut md,
        &format!("the same once, with {IDLE_CONNECTIONS} idle connections open (requests/s)"),
        r.req_s_idle,
        l.req_s_idle,
        &f0,
    );
    let (rv, lv) = (&r.vmlinux, &l.vmlinux);
    for (name, a, b) in [
        ("vmlinux text (sum of text symbols)", rv.text, lv.text),
        ("vmlinux .rodata", rv.rodata, lv.rodata),
        ("vmlinux .data", rv.data, lv.data),
        ("vmlinux .bss", rv.bss, lv.bss),
    ] {
        row(&mut md, name, a as f64, b as f64, &f0);
    }
    row(
        &mut md,
        "bzImage (bytes)",
        r.bzimage as f64,
        l.bzimage as f64,
        &f0,
    );
    let total = |n: &KernelNumbers| n.vmlinux.text + n.vmlinux.rodata + n.vmlinux.data;
    md.push_str(&format!(
        "\ntext + rodata + data: rinet {} B, INET {} B, saving {} B.\n",
        total(r),
        total(l),
        total(l) as i64 - total(r) as i64
    ));
    md.push_str(&format!(
        "\nSmall-page rate with {IDLE_CONNECTIONS} idle connections over the rate without: \
         rinet {:.3}, INET {:.3}.\n",
        r.req_s_idle / r.req_s,
        l.req_s_idle / l.req_s
    ));
    if let Some(n) = r.rx_frames_per_batch {
        md.push_str(&format!(
            "\nrinet received {n:.2} frames per list the driver handed over during the \
             downloads (one run of the stack per list).\n"
        ));
    }
    if let Some(n) = r.tx_segs_per_offload {
        md.push_str(&format!(
            "\nrinet handed the device {n:.2} TCP segments per frame to segment (TSO) \
             during the downloads.\n"
        ));
    }
    md
}

#[cfg(test)]
mod tests {
    use super::busy_ticks;

    #[test]
    fn busy_ticks_leave_out_idle_and_iowait() {
        let stat = "cpu  10 1 20 500 7 3 4 0 0 0\ncpu0 10 1 20 500 7 3 4 0 0 0\n";
        assert_eq!(busy_ticks(stat), Some(10 + 1 + 20 + 3 + 4));
        assert_eq!(busy_ticks("intr 5\n"), None);
        assert_eq!(busy_ticks("cpu  1 x 3\n"), None);
    }

    #[test]
    fn curr_estab_is_read_by_name() {
        let snmp = "Ip: Forwarding\nIp: 2\nTcp: RtoAlgorithm RtoMin CurrEstab InSegs\n\
                    Tcp: 1 200 203 9\nUdp: InDatagrams\nUdp: 4\n";
        assert_eq!(super::curr_estab(snmp), Some(203));
        assert_eq!(super::curr_estab("Tcp: CurrEstab\n"), None);
    }
}
