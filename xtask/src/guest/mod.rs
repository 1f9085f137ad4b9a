//! The guest suites, run on the kernels asked for with one summary (`run_all_and`); the
//! ARMv7-M kernel's is `mps2`'s. On an x86 kernel: boot the guest in QEMU (TCG) with the
//! test initramfs, run the busybox checks inside it, and fetch pages, CGI output and a
//! 16 MiB file from the host through QEMU's user-mode network forwarded to a loopback
//! port; then the guest on a TAP device in a network namespace, and (on x86_64) on a lossy
//! link. The bad-input program also runs on the Linux INET guest.

use crate::util::fs;
use crate::util::CommandExt;
use anyhow::{anyhow, Result};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::image;
use crate::kernel::{self, Arch, Spec};
use crate::progress::Steps;
use crate::qemu::{
    curl, free_port, kernel_complaints, sha256, tail, vcpus, Guest, Results, STATIC_NET,
};
use crate::util::{cache_dir, output};

mod lossy;
mod nic;
mod tap;

pub use lossy::lossy_only;
use lossy::suite_lossy;
use nic::suite_nic;
use tap::suite_tap;

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
            image::rc_local(include_bytes!("../../guest/rc.inet-badinput")),
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
        return crate::mps2::suite(spec.net);
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
        None => include_bytes!("../../guest/rc.test").to_vec(),
    };
    let bad = badinput_binary(spec.arch, &work)?;
    let initrd = image::build(
        spec.arch,
        &work.join("initramfs.cpio.gz"),
        vec![
            image::rc_local(&rc),
            image::file("bin/badinput", 0o755, bad),
            image::cgi("uid", include_bytes!("../../guest/uid.cgi")),
            image::cgi("host-done", include_bytes!("../../guest/host-done.cgi")),
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
    // The x86_64 kernel has virtio-net's driver; the Galileo's, for its board, does not.
    if spec.arch == Arch::X86_64 {
        if let Err(e) = suite_nic(spec, &build, &mut res) {
            res.record("nic-without-offload-suite", Err(e));
        }
    }
    // Once, on the x86_64 kernel: about a quarter of an hour.
    if spec.arch == Arch::X86_64 && !spec.debug {
        if let Err(e) = suite_lossy(spec, &build, &mut res) {
            res.record("lossy-link-suite", Err(e));
        }
    }
    Ok(res)
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
        total
            .skipped
            .extend(r.skipped.iter().map(|name| format!("{name} ({kernel})")));
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
        "guest: {} passed, {} failed, {} skipped{}",
        total.passed,
        total.failed.len(),
        total.skipped.len(),
        if total.skipped.is_empty() {
            String::new()
        } else {
            format!(" ({})", total.skipped.join(", "))
        }
    );
    if total.failed.is_empty() {
        Ok(())
    } else {
        Err(anyhow!("guest tests failed: {}", total.failed.join(", ")))
    }
}
