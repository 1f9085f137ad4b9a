//! The guest suites, run on the kernels asked for with one summary (`run_all_and`); the
//! ARMv7-M kernel's is `mps2`'s. On an x86 kernel: boot the guest in QEMU (TCG) with the
//! test initramfs, run the busybox checks inside it, and fetch pages, CGI output and a
//! 16 MiB file from the host through QEMU's user-mode network forwarded to a loopback
//! port; then the guest on a TAP device in a network namespace, and (on x86_64) on a lossy
//! link. The bad-input program also runs on the Linux INET guest.

use crate::util::fs;
use crate::util::CommandExt;
use anyhow::{anyhow, bail, Context, Result};
use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::image;
use crate::kernel::{self, Arch, Spec};
use crate::progress::Steps;
use crate::qemu::{curl, free_port, kernel_complaints, tail, Guest, Results, SNMP_CGI, STATIC_NET};
use crate::util::{cache_dir, output};

fn sha256(p: &Path) -> Result<String> {
    let out = output("sha256sum", &[&p.to_string_lossy()], Path::new("."), &[])?;
    Ok(out
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string())
}

/// The bad-input program (xtask/guest/badinput.c), static, so it runs on busybox's bare
/// initramfs, built for `arch` in `work`.
fn badinput_binary(arch: Arch, work: &Path) -> Result<Vec<u8>> {
    let bad = work.join("badinput");
    let src = crate::util::root_dir().join("xtask/guest/badinput.c");
    let (b, s) = (
        bad.to_string_lossy().into_owned(),
        src.to_string_lossy().into_owned(),
    );
    let mut cc = vec!["-static", "-Os", "-Wall", "-o", &b, &s];
    if arch == Arch::Galileo {
        // The x86 asm/ headers serve -m32 too (gcc-multilib would add this path).
        cc.extend([
            "-m32",
            "-march=i586",
            "-idirafter",
            "/usr/include/x86_64-linux-gnu",
        ]);
    }
    crate::util::run("gcc", &cc, Path::new("."), &[])?;
    fs::read(&bad)
}

/// Record the in-guest verdicts of `console`: "<PREFIX><name> PASS" or
/// "<PREFIX><name> FAIL <detail>", each prefix with its tag.
fn record_verdicts(console: &str, prefixes: &[(&str, &str)], res: &mut Results) {
    for &(prefix, tag) in prefixes {
        for l in console.lines().filter_map(|l| l.strip_prefix(prefix)) {
            let mut it = l.splitn(3, ' ');
            let (name, verdict, detail) = (
                it.next().unwrap_or("?"),
                it.next().unwrap_or("?"),
                it.next().unwrap_or(""),
            );
            res.record(
                &format!("{tag}-{name}"),
                if verdict == "PASS" {
                    Ok(())
                } else {
                    Err(anyhow!("{detail}"))
                },
            );
        }
    }
}

/// The bad-input program on the Linux INET guest of `arch` (same QEMU and image; only the
/// network fragment differs): every expected errno must be Linux's own answer. Then the
/// TAP suite's SYN flood against the same guest, for comparison with rinet's.
pub fn badinput_on_inet(arch: Arch) -> Result<Results> {
    let spec = Spec {
        net: kernel::Net::Inet,
        ..Spec::rinet(arch)
    };
    let build = kernel::build(spec)?;
    let work = cache_dir().join("guest").join(spec.name());
    fs::create_dir_all(&work)?;
    let bad = badinput_binary(arch, &work)?;
    let initrd = image::build(
        arch,
        &work.join("initramfs.cpio.gz"),
        vec![
            image::rc_local(include_bytes!("../guest/rc.inet-badinput")),
            image::file("bin/badinput", 0o755, bad),
        ],
    )?;
    let g = Guest::boot(
        arch,
        &build.join("arch/x86/boot/bzImage"),
        &initrd,
        STATIC_NET,
        1,
        work.join("console.log"),
    )?;
    g.wait_for("GUEST-TESTS-DONE", Duration::from_secs(400))?;
    let console = g.console();
    drop(g);
    let mut res = Results::default();
    record_verdicts(&console, &[("BADINPUT ", "inet-bad-input")], &mut res);
    res.record(
        "inet-bad-input-ran",
        if console.contains("BADINPUT-DONE") {
            Ok(())
        } else {
            Err(anyhow!("no BADINPUT-DONE on the console"))
        },
    );
    // The rinet suite's SYN flood against Linux's own stack, on a TAP as there.
    if let Err(e) = suite_tap(spec, &build, &mut res) {
        res.record("inet-tap-suite", Err(e));
    }
    Ok(res)
}

/// The guest suite on one kernel.
pub fn suite(spec: Spec) -> Result<Results> {
    if spec.arch == Arch::Mps2 {
        return crate::mps2::suite();
    }
    let build = kernel::build(spec)?;
    let work = cache_dir().join("guest").join(spec.name());
    fs::create_dir_all(&work)?;
    // A 16 MiB file the guest downloads from a host server on loopback (slirp maps the
    // guest's 10.0.2.2 to the host's 127.0.0.1).
    let big = work.join("big.bin");
    if !big.exists() {
        let data: Vec<u8> = (0..16u32 << 20)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        fs::write(&big, data)?;
    }
    let big_sha = sha256(&big)?;
    let host_port = free_port()?;
    let mut server = Command::new("python3")
        .args([
            "-m",
            "http.server",
            &host_port.to_string(),
            "--bind",
            "127.0.0.1",
            "--directory",
            &work.to_string_lossy(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn_ctx()?;
    // RINET_GUEST_RC replaces the in-guest script (for debugging a guest by hand).
    let rc = match std::env::var_os("RINET_GUEST_RC") {
        Some(p) => fs::read(&p)?,
        None => include_bytes!("../guest/rc.test").to_vec(),
    };
    let bad = badinput_binary(spec.arch, &work)?;
    let initrd = image::build(
        spec.arch,
        &work.join("initramfs.cpio.gz"),
        vec![
            image::rc_local(&rc),
            image::file("bin/badinput", 0o755, bad),
            image::cgi("uid", include_bytes!("../guest/uid.cgi")),
            image::cgi("host-done", include_bytes!("../guest/host-done.cgi")),
        ],
    )?;
    let append = format!("{STATIC_NET} test.hostport={host_port} test.sha={big_sha}");
    let smp = vcpus(spec);
    let started = Instant::now();
    // The link is recorded: a request that goes wrong can be followed packet by packet.
    let pcap = work.join("link.pcap");
    let guest = Guest::boot_on(
        spec.arch,
        &build.join("arch/x86/boot/bzImage"),
        &initrd,
        &append,
        smp,
        work.join("console.log"),
        free_port()?,
        Some(&pcap),
    );
    let r = guest.and_then(|g| run_checks(&g, started, spec, &pcap).map(|res| (g, res)));
    let _ = server.kill();
    let _ = server.wait();
    let (g, mut res) = r?;
    drop(g);
    if spec.arch == Arch::Galileo {
        for (name, outcome) in crate::abi::galileo_checks(&build) {
            res.record(&name, outcome);
        }
    }
    if let Err(e) = suite_tap(spec, &build, &mut res) {
        res.record("tap-namespace-suite", Err(e));
    }
    // Once, on the x86_64 kernel: about a quarter of an hour.
    if spec.arch == Arch::X86_64 && !spec.debug {
        if let Err(e) = suite_lossy(spec, &build, &mut res) {
            res.record("lossy-link-suite", Err(e));
        }
    }
    Ok(res)
}

/// The debug kernel runs on two CPUs, so that the stack's lock meets real concurrency.
fn vcpus(spec: Spec) -> u32 {
    if spec.debug {
        2
    } else {
        1
    }
}

fn run_checks(g: &Guest, started: Instant, spec: Spec, pcap: &Path) -> Result<Results> {
    let mut res = Results::default();
    let boot_timeout = Duration::from_secs(if spec.debug { 300 } else { 120 });
    g.wait_for("tinyrust: httpd on port 80", boot_timeout)?;
    let base = format!("http://127.0.0.1:{}", g.http_port);
    // The kernel must run on every CPU QEMU was given, or the SMP checks check nothing.
    if vcpus(spec) > 1 {
        let want = format!("smp: Brought up 1 node, {} CPUs", vcpus(spec));
        res.record(
            "guest-uses-all-cpus",
            if g.console().contains(&want) {
                Ok(())
            } else {
                Err(anyhow!("console lacks {want:?}"))
            },
        );
    }
    // First page: time from QEMU start.
    let t0 = Instant::now();
    let mut page = Err(anyhow!("no page"));
    while t0.elapsed() < Duration::from_secs(30) {
        page = curl(&["-f", &format!("{base}/")]);
        if page.is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    println!(
        "{}: first HTTP 200 {:.2} s after QEMU start",
        spec.name(),
        started.elapsed().as_secs_f64()
    );
    res.record(
        "host-fetches-index",
        page.and_then(|p| {
            if p.contains("tinyrust") {
                Ok(())
            } else {
                Err(anyhow!(p))
            }
        }),
    );
    res.record(
        "host-fetches-cgi",
        curl(&["-f", &format!("{base}/cgi-bin/hello.cgi")]).and_then(|p| {
            if p.contains("Hello from CGI") {
                Ok(())
            } else {
                Err(anyhow!(p))
            }
        }),
    );
    let want = g.wait_for_sha("GUEST-BIGSHA ", Duration::from_secs(60))?;
    let dl = cache_dir()
        .join("guest")
        .join(spec.name())
        .join("from-guest.bin");
    // The guest's checks (a DHCP renewal among them) run meanwhile.
    res.record(
        "host-downloads-16mib",
        curl(&[
            "-f",
            "-o",
            &dl.to_string_lossy(),
            &format!("{base}/big.bin"),
        ])
        .and_then(|_| sha256(&dl))
        .and_then(|got| {
            if got == want {
                Ok(())
            } else {
                Err(anyhow!("sha256 {got} != {want}"))
            }
        }),
    );
    // 50 concurrent clients x 20 requests each.
    let url = format!("{base}/index.html");
    let mut args = vec![
        "--parallel",
        "--parallel-max",
        "50",
        "-w",
        "%{http_code} %{time_total}s port %{local_port} %{errormsg}\\n",
    ];
    for _ in 0..1000 {
        args.extend_from_slice(&["-o", "/dev/null", &url]);
    }
    res.record(
        "host-50x20-concurrent",
        curl(&args).and_then(|out| {
            let failed: Vec<&str> = out.lines().filter(|l| !l.starts_with("200 ")).collect();
            if failed.is_empty() {
                Ok(())
            } else {
                Err(anyhow!(
                    "{}/1000 succeeded; failed: {}{}",
                    1000 - failed.len(),
                    failed.join("; "),
                    link_trace(pcap, &failed)
                ))
            }
        }),
    );
    // Tell the guest the host is done, so that its idle check measures an idle stack.
    let _ = curl(&[
        "-f",
        "-o",
        "/dev/null",
        &format!("{base}/cgi-bin/host-done"),
    ]);
    g.wait_for("GUEST-TESTS-DONE", Duration::from_secs(600))?;
    let console = g.console();
    record_verdicts(
        &console,
        &[("GUEST-TEST ", "in-guest"), ("BADINPUT ", "bad-input")],
        &mut res,
    );
    if let Some(l) = g
        .console()
        .lines()
        .find(|l| l.starts_with("GUEST-IDLE-TIMER-FIRES"))
    {
        println!("{}: {l}", spec.name());
    }
    let complaints = kernel_complaints(&g.console());
    res.record(
        "kernel-log-clean",
        if complaints.is_empty() {
            Ok(())
        } else {
            Err(anyhow!(complaints.join(" | ")))
        },
    );
    Ok(res)
}

/// The guest link's packets of the failed requests: curl's lines name their local port,
/// which QEMU's user network keeps as the source port on the guest's side.
fn link_trace(pcap: &Path, failed: &[&str]) -> String {
    let ports: Vec<&str> = failed
        .iter()
        .filter_map(|l| l.split_whitespace().skip_while(|w| *w != "port").nth(1))
        .collect();
    if ports.is_empty() {
        return String::new();
    }
    let filter = ports
        .iter()
        .map(|p| format!("tcp port {p}"))
        .collect::<Vec<_>>()
        .join(" or ");
    let p = pcap.to_string_lossy();
    match output(
        "tcpdump",
        &["-nn", "-tt", "-r", &p, &filter],
        Path::new("."),
        &[],
    ) {
        Ok(trace) => format!(
            "\nthe guest link for port(s) {} ({p}):\n{}",
            ports.join(", "),
            tail(&trace, 60)
        ),
        Err(e) => format!("\n(no packet trace: {e:#})"),
    }
}

/// [`run_all_and`] as a command of its own: its suites are all its steps.
pub fn run_all(specs: &[Spec], inet_badinput: &[Arch]) -> Result<()> {
    let mut steps = Steps::new(specs.len() + inet_badinput.len());
    run_all_and(specs, inet_badinput, &mut steps)?;
    steps.finish();
    Ok(())
}

/// The guest suites of `specs`, then the bad-input program on the INET guest of each of
/// `inet_badinput`, with one summary; each suite is one of `steps`.
pub fn run_all_and(specs: &[Spec], inet_badinput: &[Arch], steps: &mut Steps) -> Result<()> {
    let mut total = Results::default();
    let mut add = |kernel: &str, r: Results| {
        total.passed += r.passed;
        total
            .failed
            .extend(r.failed.iter().map(|name| format!("{name} ({kernel})")));
    };
    for &spec in specs {
        steps.step(format!("guest suite on the {} kernel", spec.name()));
        add(&spec.name(), suite(spec)?);
    }
    for &arch in inet_badinput {
        let kernel = format!("{}-inet", arch.name());
        steps.step(format!("bad-input program on the {kernel} kernel"));
        add(&kernel, badinput_on_inet(arch)?);
    }
    println!(
        "guest: {} passed, {} failed",
        total.passed,
        total.failed.len()
    );
    if total.failed.is_empty() {
        Ok(())
    } else {
        Err(anyhow!("guest tests failed: {}", total.failed.join(", ")))
    }
}

/// A network namespace the test made, with the TAP `qtap0` at 10.88.0.1/24 on the host
/// side, and the processes started in it; all go when it is dropped (SIGTERM first, so
/// that a process can report on its way out).
struct TapLab {
    ns: String,
    children: Vec<Child>,
}

impl TapLab {
    fn new(prefix: &str) -> Result<TapLab> {
        let ns = format!("{prefix}-{}", std::process::id());
        let sh = |args: &[&str]| output("ip", args, Path::new("."), &[]);
        let _ = sh(&["netns", "del", &ns]);
        sh(&["netns", "add", &ns])?;
        let lab = TapLab {
            ns,
            children: Vec::new(),
        };
        lab.run(&["ip", "link", "set", "lo", "up"])?;
        lab.run(&["ip", "tuntap", "add", "dev", "qtap0", "mode", "tap"])?;
        lab.run(&["ip", "addr", "add", "10.88.0.1/24", "dev", "qtap0"])?;
        lab.run(&["ip", "link", "set", "qtap0", "up"])?;
        Ok(lab)
    }

    fn run(&self, args: &[&str]) -> Result<String> {
        in_ns(&self.ns, args)
    }
}

/// Run a command in network namespace `ns`; its stdout.
fn in_ns(ns: &str, args: &[&str]) -> Result<String> {
    let mut full = vec!["netns", "exec", ns];
    full.extend_from_slice(args);
    output("ip", &full, Path::new("."), &[])
}

/// The guest's /proc/net/snmp and MemFree, from its snmp CGI, seen from namespace `ns`.
fn guest_snmp(ns: &str, ip: &str) -> Result<String> {
    in_ns(
        ns,
        &[
            "curl",
            "-sSf",
            "-m",
            "10",
            &format!("http://{ip}/cgi-bin/snmp"),
        ],
    )
}

impl Drop for TapLab {
    fn drop(&mut self) {
        for c in &mut self.children {
            // SAFETY: kill(2) on our own child.
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            let _ = c.wait();
        }
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
    }
}

/// The guest on a TAP device in a network namespace this test makes: udhcpd (busybox) on
/// the host side leases the address, the guest pings the host side, the host pings the
/// guest and fetches its page and a 4 MiB file through 8 KiB TCP buffers while the lease
/// renews; then what an attacker on the link tries. On the INET kernel only the SYN flood,
/// for comparison.
fn suite_tap(spec: Spec, build: &Path, res: &mut Results) -> Result<()> {
    let work = cache_dir()
        .join("guest")
        .join(format!("{}-tap", spec.name()));
    fs::create_dir_all(&work)?;
    let mut cleanup = TapLab::new("rinet-guest")?;
    let ns = cleanup.ns.clone();
    let nsx = |args: &[&str]| in_ns(&ns, args);
    let conf = work.join("udhcpd.conf");
    let leases = work.join("udhcpd.leases");
    fs::write(&leases, b"")?;
    fs::write(
        &conf,
        format!(
            "start 10.88.0.100\nend 10.88.0.110\ninterface qtap0\noption subnet 255.255.255.0\noption router 10.88.0.1\noption lease {DHCP_LEASE_S}\nlease_file {}\npidfile {}\n",
            leases.display(),
            work.join("udhcpd.pid").display()
        ),
    )?;
    let dhcpd = Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns,
            "busybox",
            "udhcpd",
            "-f",
            &conf.to_string_lossy(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn_ctx()?;
    cleanup.children.push(dhcpd);
    let initrd = image::build(
        spec.arch,
        &work.join("initramfs.cpio.gz"),
        vec![
            image::rc_local(include_bytes!("../guest/rc.tap")),
            image::cgi("snmp", SNMP_CGI),
        ],
    )?;
    let g = Guest::launch(
        spec.arch,
        &["ip", "netns", "exec", &ns],
        &build.join("arch/x86/boot/bzImage"),
        &initrd,
        // Also the boot parameter that sizes the TCP buffers: 8 KiB, what the 8 MiB board
        // gets from its RAM (the first boot sizes them from RAM: 64 KiB).
        "tinyrust.net=dhcp rinet.tcp_buf=8192",
        vcpus(spec),
        work.join("console.log"),
        "tap,id=n0,ifname=qtap0,script=no,downscript=no",
        0,
        None,
    )?;
    let lease = g
        .wait_for("tinyrust: lease ", Duration::from_secs(120))
        .and_then(|_| {
            g.console()
                .lines()
                .find_map(|l| {
                    l.strip_prefix("tinyrust: lease ")
                        .and_then(|r| r.split('/').next())
                        .map(str::to_string)
                })
                .context("no lease line")
        });
    res.record(
        "tap-udhcpc-lease-from-udhcpd",
        match &lease {
            Ok(_) => Ok(()),
            Err(e) => Err(anyhow!("{e:#}")),
        },
    );
    let ip = lease?;
    g.wait_for("tinyrust: httpd on port 80", Duration::from_secs(60))?;
    if spec.net == kernel::Net::Inet {
        // Linux's own stack under the rinet guest's SYN flood, for comparison (printed
        // beside rinet's line). Only what Linux must do is checked: the flood ran and the
        // page is served after it; during it, Linux's clients have taken over 1 s here
        // (its SYN cookies answer, but the guest's one vCPU is busy answering 2,000 SYNs
        // a second).
        let r = syn_flood(&ns, &ip).and_then(|f| {
            println!(
                "guest flood (Linux INET): clients {:?} ms (the last after the flood), MemFree {} -> {} KiB; misses: {}",
                f.client_ms,
                f.mem_free_before,
                f.mem_free_least,
                if f.fails.is_empty() { "none".into() } else { f.fails.join("; ") }
            );
            let after: Vec<&String> = f
                .fails
                .iter()
                .filter(|m| m.starts_with("after the flood") || m.starts_with("hping3"))
                .collect();
            if after.is_empty() {
                Ok(())
            } else {
                Err(anyhow!("{after:?}"))
            }
        });
        res.record("tap-inet-syn-flood-ran-and-recovered", r);
        drop(g);
        return Ok(());
    }
    let want = "rinet: AF_INET provided by the rinet stack, 8 KiB TCP buffers";
    res.record(
        "tap-tcp-buf-boot-parameter",
        if g.console().contains(want) {
            Ok(())
        } else {
            Err(anyhow!("console lacks {want:?}"))
        },
    );
    res.record(
        "tap-host-pings-guest",
        nsx(&["ping", "-c", "3", "-W", "3", &ip]).map(|_| ()),
    );
    res.record(
        "tap-host-fetches-page",
        nsx(&[
            "curl",
            "-sSf",
            "-m",
            "30",
            &format!("http://{ip}/cgi-bin/hello.cgi"),
        ])
        .and_then(|p| {
            if p.contains("Hello from CGI") {
                Ok(())
            } else {
                Err(anyhow!(p))
            }
        }),
    );
    // 4 MiB through the 8 KiB buffers, checked end to end.
    let want_sha = g.wait_for_sha("GUEST-TAP-SHA ", Duration::from_secs(60))?;
    res.record(
        "tap-host-downloads-4m-sha",
        nsx(&[
            "sh",
            "-c",
            &format!("curl -sSf -m 120 http://{ip}/tap4m.bin | sha256sum"),
        ])
        .and_then(|out| {
            if out.starts_with(&want_sha) {
                Ok(())
            } else {
                Err(anyhow!("guest sha {want_sha:?}, host got {out:?}"))
            }
        }),
    );
    g.wait_for("GUEST-TAP-DONE", Duration::from_secs(60))?;
    res.record(
        "tap-dhcp-renewals-during-transfer",
        renewals_during_transfer(&g, &nsx, &ip, &want_sha),
    );
    tap_attacks(&ns, &ip, &work, res);
    let console = g.console();
    for l in console.lines().filter_map(|l| l.strip_prefix("GUEST-TAP ")) {
        let (name, verdict) = l.split_once(' ').unwrap_or((l, ""));
        res.record(
            &format!("tap-guest-{name}"),
            if verdict == "PASS" {
                Ok(())
            } else {
                Err(anyhow!("{l}"))
            },
        );
    }
    drop(g);
    Ok(())
}

/// How long each direction of the lossy-link transfer may take.
const LOSSY_TIMEOUT: Duration = Duration::from_secs(1800);
/// The faults `rinet-host relay` injects on the lossy link, each way.
const LOSSY: [&str; 8] = [
    "--loss",
    "10",
    "--reorder",
    "5",
    "--duplicate",
    "5",
    "--corrupt",
    "5",
];

/// `cargo xtask guest-test --lossy`: only the lossy-link transfer, on the rinet kernel.
pub fn lossy_only(arch: Arch) -> Result<()> {
    let spec = Spec::rinet(arch);
    let build = kernel::build(spec)?;
    let mut res = Results::default();
    suite_lossy(spec, &build, &mut res)?;
    if res.failed.is_empty() {
        Ok(())
    } else {
        Err(anyhow!("failed: {}", res.failed.join(", ")))
    }
}

/// Loss on the guest's own link, as netem would make it (this host's kernel has none): the
/// guest's frames go through `rinet-host relay` (QEMU's `-netdev socket,udp=`) to a TAP,
/// with 10% loss, 5% reordering, 5% duplication and 5% corruption each way. 16 MiB go each
/// way at once, checked by sha256: the guest's own file to the host (curl), and the
/// host's to the guest (busybox wget from a Python server in the namespace).
fn suite_lossy(spec: Spec, build: &Path, res: &mut Results) -> Result<()> {
    let work = cache_dir()
        .join("guest")
        .join(format!("{}-lossy", spec.name()));
    fs::create_dir_all(&work)?;
    let mut cleanup = TapLab::new("rinet-lossy")?;
    let ns = cleanup.ns.clone();
    let nsx = |args: &[&str]| in_ns(&ns, args);
    // More ARP attempts than Linux's three: at these rates a connect would otherwise
    // fail now and then for want of the guest's MAC.
    for k in ["mcast_solicit", "ucast_solicit"] {
        nsx(&["sysctl", "-q", &format!("net.ipv4.neigh.qtap0.{k}=10")])?;
    }
    let up = work.join("up.bin");
    let data: Vec<u8> = (0..16u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    fs::write(&up, &data)?;
    let up_sha = sha256(&up)?;
    let host = crate::bench::host_binary()?;
    let relay = Command::new("ip")
        .args(["netns", "exec", &ns])
        .arg(&host)
        .args([
            "relay",
            "--tap",
            "qtap0",
            "--udp",
            "127.0.0.1:10001",
            "--qemu",
            "127.0.0.1:10002",
        ])
        .args(LOSSY)
        .stdout(fs::create(work.join("relay.log"))?)
        .stderr(Stdio::null())
        .spawn_ctx()?;
    cleanup.children.push(relay);
    let server = Command::new("ip")
        .args(["netns", "exec", &ns, "python3", "-m", "http.server", "8000"])
        .args([
            "--bind",
            "10.88.0.1",
            "--directory",
            &work.to_string_lossy(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn_ctx()?;
    cleanup.children.push(server);
    let initrd = image::build(
        spec.arch,
        &work.join("initramfs.cpio.gz"),
        vec![image::rc_local(include_bytes!("../guest/rc.lossy"))],
    )?;
    let g = Guest::launch(
        spec.arch,
        &["ip", "netns", "exec", &ns],
        &build.join("arch/x86/boot/bzImage"),
        &initrd,
        "tinyrust.net=static tinyrust.ip=10.88.0.2 tinyrust.mask=255.255.255.0 tinyrust.gw=10.88.0.1",
        vcpus(spec),
        work.join("console.log"),
        "socket,id=n0,udp=127.0.0.1:10001,localaddr=127.0.0.1:10002",
        0,
        None,
    )?;
    let want = g.wait_for_sha("GUEST-LOSSY-SHA ", Duration::from_secs(180))?;
    // Both directions at once; each bounded by LOSSY_TIMEOUT. (About 15 minutes for the
    // guest's 16 MiB on a loaded 2-core host: rinet sends with smoltcp's go-back-N and a
    // 1 s minimum RTO; Linux's 16 MiB to the guest take about a minute.)
    let started = Instant::now();
    let dl = work.join("from-guest.bin");
    let limit = LOSSY_TIMEOUT.as_secs().to_string();
    let mut curl = Command::new("ip")
        .args(["netns", "exec", &ns, "curl", "-sSf", "-m", &limit, "-o"])
        .arg(&dl)
        .arg("http://10.88.0.2/lossy16m.bin")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn_ctx()?;
    let (mut down, mut up) = (None, None);
    while (down.is_none() || up.is_none())
        && started.elapsed() < LOSSY_TIMEOUT + Duration::from_secs(30)
    {
        if down.is_none() {
            if let Some(st) = curl.try_wait().context("waiting for curl")? {
                let mut err = String::new();
                if let Some(mut e) = curl.stderr.take() {
                    let _ = e.read_to_string(&mut err);
                }
                down = Some((st, err, started.elapsed().as_secs()));
            }
        }
        if up.is_none() {
            if let Ok(sha) = g.wait_for_sha("GUEST-LOSSY-UP ", Duration::ZERO) {
                up = Some((sha, started.elapsed().as_secs()));
            }
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let _ = curl.kill();
    let down_s = down.as_ref().map_or("-".to_string(), |d| d.2.to_string());
    let up_s = up.as_ref().map_or("-".to_string(), |u| u.1.to_string());
    let down = match down {
        Some((st, _, _)) if st.success() => sha256(&dl).and_then(|got| {
            if got == want {
                Ok(())
            } else {
                Err(anyhow!("sha256 {got} != {want}"))
            }
        }),
        Some((st, err, _)) => Err(anyhow!("curl: {st}: {}", err.trim())),
        None => Err(anyhow!("no end within {} s", LOSSY_TIMEOUT.as_secs())),
    };
    let up_got = up
        .map(|u| u.0)
        .with_context(|| format!("the guest got nothing within {} s", LOSSY_TIMEOUT.as_secs()));
    drop(g);
    drop(cleanup);
    let injected = std::fs::read_to_string(work.join("relay.log")).unwrap_or_default();
    println!(
        "{}: 16 MiB each way at 10% loss, 5% reordering, duplication, corruption: guest to host {down_s} s, host to guest {up_s} s; {}",
        spec.name(),
        injected.trim()
    );
    res.record("lossy-link-16mib-guest-to-host", down);
    res.record(
        "lossy-link-16mib-host-to-guest",
        up_got.and_then(|got| {
            if got == up_sha {
                Ok(())
            } else {
                Err(anyhow!("guest got sha256 {got}, sent {up_sha}"))
            }
        }),
    );
    let drops = injected
        .split_whitespace()
        .skip_while(|w| *w != "injected-drops")
        .nth(1)
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(0);
    res.record(
        "lossy-link-faults-were-injected",
        if drops > 1000 {
            Ok(())
        } else {
            Err(anyhow!("relay: {injected:?}"))
        },
    );
    Ok(())
}

/// The lease udhcpd gives in the TAP suite: udhcpc's shortest (it treats less as 30 s),
/// so that it renews every 15 s.
const DHCP_LEASE_S: u32 = 30;

/// The DHCP client stays running and renews: a 4 MiB download slowed to 64 s spans four
/// renewals; it must arrive intact, with at least three renewals and no new lease (a
/// lost address) meanwhile.
fn renewals_during_transfer(
    g: &Guest,
    nsx: &dyn Fn(&[&str]) -> Result<String>,
    ip: &str,
    want_sha: &str,
) -> Result<()> {
    let count = |pat: &str| g.console().matches(pat).count();
    let (renewed0, leases0) = (count("tinyrust: lease renewed "), count("tinyrust: lease "));
    let started = Instant::now();
    let out = nsx(&[
        "sh",
        "-c",
        &format!("curl -sSf -m 120 --limit-rate 64K http://{ip}/tap4m.bin | sha256sum"),
    ])?;
    let renewed = count("tinyrust: lease renewed ") - renewed0;
    let new_leases = count("tinyrust: lease ") - leases0 - renewed;
    println!(
        "tap: {renewed} lease renewals during a {:.0} s transfer",
        started.elapsed().as_secs_f64()
    );
    if !out.starts_with(want_sha) {
        Err(anyhow!("guest sha {want_sha:?}, host got {out:?}"))
    } else if renewed < 3 || new_leases > 0 {
        Err(anyhow!(
            "{renewed} renewals and {new_leases} new leases in {:?} with {DHCP_LEASE_S} s leases",
            started.elapsed()
        ))
    } else {
        Ok(())
    }
}

/// A counter from /proc/net/snmp text (a header line, then a value line, per `group`), or
/// "MemFree".
fn snmp_value(text: &str, group: &str, name: &str) -> Option<u64> {
    if group == "MemFree" {
        return text
            .lines()
            .find_map(|l| l.strip_prefix("MemFree ")?.trim().parse().ok());
    }
    let prefix = format!("{group}:");
    let mut rows = text.lines().filter(|l| l.starts_with(&prefix));
    let (names, values) = (rows.next()?, rows.next()?);
    let at = names.split_whitespace().position(|n| n == name)?;
    values.split_whitespace().nth(at)?.parse().ok()
}

/// What a SYN flood did to the guest's clients and memory.
struct Flood {
    /// Failures: a client that got no page, or not within 1 s, or hping3 failing.
    fails: Vec<String>,
    /// How long each client took: 300, 700 and 1100 ms into the flood, and after it.
    client_ms: Vec<u128>,
    mem_free_before: u64,
    /// The least MemFree seen during and after the flood.
    mem_free_least: u64,
    /// /proc/net/snmp (and MemFree) after the flood.
    after: String,
}

/// 3,000 SYNs from random sources at one per 500 us (hping3) at the guest `ip` on the TAP
/// in namespace `ns`, while clients fetch its page; the same for rinet and Linux INET.
fn syn_flood(ns: &str, ip: &str) -> Result<Flood> {
    let nsx = |args: &[&str]| in_ns(ns, args);
    let snmp = || guest_snmp(ns, ip);
    let mem_free_before = snmp_value(&snmp()?, "MemFree", "").context("no MemFree")?;
    let mut flood = Command::new("ip")
        .args([
            "netns", "exec", ns, "timeout", "60", "hping3", "-q", "-S", "-p", "80",
        ])
        .args(["--rand-source", "-i", "u500", "-c", "3000", ip])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn_ctx()?;
    let start = Instant::now();
    let page = format!("http://{ip}/");
    let mut fails = Vec::new();
    let mut client_ms = Vec::new();
    let mut client = |when: String, fails: &mut Vec<String>| {
        let t = Instant::now();
        let r = nsx(&["curl", "-sSf", "-o", "/dev/null", "-m", "1", &page]);
        client_ms.push(t.elapsed().as_millis());
        match r {
            Err(e) => fails.push(format!("{when}: {e:#}")),
            Ok(_) if t.elapsed() >= Duration::from_secs(1) => {
                fails.push(format!("{when}: took {:?}", t.elapsed()))
            }
            Ok(_) => {}
        }
    };
    for at_ms in [300u64, 700, 1100] {
        std::thread::sleep(Duration::from_millis(at_ms).saturating_sub(start.elapsed()));
        client(format!("{at_ms} ms into the flood"), &mut fails);
    }
    let during = snmp().context("counters during the flood")?;
    let done = flood.wait().context("waiting for hping3")?;
    client("after the flood".into(), &mut fails);
    if !done.success() {
        fails.push(format!("hping3: {done}"));
    }
    let after = snmp()?;
    let mem_free_least = [&during, &after]
        .map(|t| snmp_value(t, "MemFree", "").unwrap_or(0))
        .into_iter()
        .min()
        .unwrap_or(0);
    Ok(Flood {
        fails,
        client_ms,
        mem_free_before,
        mem_free_least,
        after,
    })
}

/// The drop counters martians.py expects its frames to move: its `expect` line.
fn martians_expected(out: &str) -> Result<Vec<(String, u64)>> {
    let line = out
        .lines()
        .find_map(|l| l.strip_prefix("expect "))
        .with_context(|| format!("no expect line from martians.py: {out}"))?;
    line.split_whitespace()
        .map(|kv| {
            let (k, v) = kv
                .split_once('=')
                .with_context(|| format!("bad expect entry {kv:?}"))?;
            Ok((
                k.to_string(),
                v.parse().with_context(|| format!("bad count in {kv:?}"))?,
            ))
        })
        .collect()
}

/// What an attacker on the guest's link tries (issue #20), from the host side of the TAP
/// in namespace `ns`, against the guest at `ip` (8 KiB TCP buffers): martian frames, echo
/// requests with a code and datagrams to a closed port, then a SYN flood from random
/// sources while clients fetch the page. The scripts are rinet-host's interop tests' own.
fn tap_attacks(ns: &str, ip: &str, work: &Path, res: &mut Results) {
    let nsx = |args: &[&str]| in_ns(ns, args);
    let snmp = || guest_snmp(ns, ip);
    let write = |name: &str, text: &str| {
        let p = work.join(name);
        fs::write(&p, text).map(|_| p)
    };
    // Martians first, while the guest is quiet: nothing may answer them.
    let martians = write(
        "martians.py",
        include_str!("../../rinet-host/tests/martians.py"),
    );
    let before = snmp();
    let r = (|| {
        let py = martians?;
        let neigh = nsx(&["ip", "neigh", "show", ip])?;
        let mac = neigh
            .split_whitespace()
            .skip_while(|w| *w != "lladdr")
            .nth(1)
            .with_context(|| format!("no MAC for the guest in {neigh:?}"))?;
        let out = nsx(&[
            "python3",
            &py.to_string_lossy(),
            "qtap0",
            mac,
            ip,
            "10.88.0.1",
        ])?;
        // The control is answered (an ARP request first, if the guest forgot the host).
        let control = out.contains("control answered") && !out.contains("control answered 0\n");
        if !out.contains("martians answered 0\n") || !control {
            bail!(out);
        }
        let (b, a) = (before?, snmp()?);
        // The script says which counter each of its frames must move.
        let want = martians_expected(&out)?;
        for (name, n) in want {
            let name = name.as_str();
            let v =
                |t: &str| snmp_value(t, "RinetDrops", name).with_context(|| format!("no {name}"));
            if v(&a)? - v(&b)? != n {
                bail!("{name}: {} then {}, want {n} more", v(&b)?, v(&a)?);
            }
        }
        Ok(())
    })();
    res.record("tap-martians-dropped-unanswered-counted", r);
    // Echo requests of any code are answered with that code; a closed UDP port refuses,
    // and NoPorts counts it.
    let codes = write("codes.py", include_str!("../../rinet-host/tests/codes.py"));
    let r = (|| {
        let b = snmp()?;
        let out = nsx(&["python3", &codes?.to_string_lossy(), ip])?;
        let want =
            "reply 0 9 0 True\nreply 0 0 0 True\nreply 0 255 0 True\nrefused\nrefused\nrefused\n";
        if out != want {
            bail!(out);
        }
        let a = snmp()?;
        let moved = |g: &str, n: &str| -> Result<u64> {
            let v = |t: &str| snmp_value(t, g, n).with_context(|| format!("no {g} {n}"));
            Ok(v(&a)? - v(&b)?)
        };
        match (moved("Udp", "NoPorts")?, moved("Icmp", "InMsgs")?) {
            (3, 3) => Ok(()),
            m => Err(anyhow!(
                "NoPorts and Icmp InMsgs moved by {m:?}, want (3, 3)"
            )),
        }
    })();
    res.record("tap-echo-codes-and-udp-noports", r);
    // hping3: 3,000 SYNs from random sources at one per 500 us; clients must get the page
    // within 1 s during the flood and after it, and the flood may hold no more memory than
    // the SYN queue's 16 connections of 2 x 8 KiB (1 MiB allowed for the rest of the
    // guest's churn).
    let r = syn_flood(ns, ip).and_then(|f| {
        let mut fails = f.fails;
        let evicted = snmp_value(&f.after, "Rinet", "SynQueueEvictions").unwrap_or(0);
        if evicted < 1000 {
            fails.push(format!("only {evicted} SYN queue evictions"));
        }
        if f.mem_free_before.saturating_sub(f.mem_free_least) > 16 * 16 + 1024 {
            fails.push(format!(
                "MemFree {} KiB before the flood, {} during/after",
                f.mem_free_before, f.mem_free_least
            ));
        }
        println!(
            "guest flood (rinet): clients {:?} ms, {evicted} evictions, MemFree {} -> {} KiB",
            f.client_ms, f.mem_free_before, f.mem_free_least
        );
        if fails.is_empty() {
            Ok(())
        } else {
            Err(anyhow!(fails.join("; ")))
        }
    });
    res.record("tap-syn-flood-clients-within-1s", r);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snmp_values_by_group_and_name() {
        // As the glue prints them (af_rinet.c), then the CGI's MemFree line.
        let text = "Udp: InDatagrams NoPorts InErrors OutDatagrams\nUdp: 4 3 0 9\n\
                    Rinet: RxDrops ListenOverflows TimerFires SynQueueEvictions\n\
                    Rinet: 12 0 37 2701\n\
                    RinetDrops: Truncated MartianSrcLoopback ArpMartian\n\
                    RinetDrops: 0 3 1\nMemFree 201344\n";
        assert_eq!(snmp_value(text, "Udp", "NoPorts"), Some(3));
        assert_eq!(snmp_value(text, "Rinet", "SynQueueEvictions"), Some(2701));
        assert_eq!(
            snmp_value(text, "RinetDrops", "MartianSrcLoopback"),
            Some(3)
        );
        assert_eq!(snmp_value(text, "RinetDrops", "ArpMartian"), Some(1));
        assert_eq!(snmp_value(text, "MemFree", ""), Some(201_344));
        assert_eq!(snmp_value(text, "Udp", "IgnoredMulti"), None);
        assert_eq!(snmp_value(text, "Icmp", "InMsgs"), None);
    }
}
