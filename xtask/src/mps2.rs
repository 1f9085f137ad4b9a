//! The ARMv7-M rinet kernel running: QEMU's mps2-an386 (a Cortex-M4 without MMU, as on
//! the STM32F429, with a LAN9118 Ethernet controller) boots the kernel built from the
//! STM32F429's fragments with the board's SoC swapped for the MPS2 (`mps2-an386.cfg`), and
//! the STM32F429 image's own initramfs: its /init, its Thumb-2 busybox (static PIE on
//! musl), DHCP from QEMU, busybox httpd. The host fetches pages and CGI output through
//! QEMU's user-mode network forwarded to a loopback port.
//!
//! `cargo xtask test` runs this suite after the x86 kernels' (see `guest::run_all_and`);
//! `cargo xtask guest-test --arch mps2` runs it alone, and `cargo xtask demo --arch mps2`
//! boots the same kernel and image to serve their pages on a loopback port.
//!
//! QEMU starts an M-profile core from the vector table at address 0; a few instructions
//! of our own there play the boot loader: switch the console UART on, then enter the
//! kernel as Linux's ARM boot protocol asks (r0 = 0, r1 = ~0, r2 = the device tree). The
//! device tree (the kernel's mps2-an385.dts: AN385 and AN386 differ only in the core)
//! gets the command line and the initramfs' place in /chosen, as a boot loader does, and
//! the two properties QEMU's LAN9118 model needs.

use crate::util::fs;
use anyhow::{anyhow, bail, Context, Result};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::image;
use crate::kernel::{self, Arch, Net, Spec};
use crate::qemu::{self, Guest, Results};
use crate::util::{cache_dir, output, run};

/// The PSRAM the kernel runs from, and where QEMU's loader puts each part in it.
const RAM: u32 = 0x2100_0000;
const KERNEL_AT: u32 = RAM + 0x8000;
const INITRD_AT: u32 = RAM + 0xc0_0000;
const DTB_AT: u32 = RAM + 0xf0_0000;

/// The boot code at address 0: initial stack pointer, reset vector, then the reset code.
fn boot_stub_source() -> String {
    format!(
        "\t.syntax unified\n\
         \t.thumb\n\
         \t.section .vectors, \"a\"\n\
         \t.word 0x20002000\n\
         \t.word reset\n\
         \t.text\n\
         \t.thumb_func\n\
         reset:\n\
         \t/* UART0 as a boot loader leaves it: a baud divider, transmit and receive on. */\n\
         \tldr r3, =0x40004000\n\
         \tmovs r0, #16\n\
         \tstr r0, [r3, #0x10]\n\
         \tmovs r0, #3\n\
         \tstr r0, [r3, #0x08]\n\
         \t/* Linux's ARM entry: r0 = 0, r1 = ~0 (no machine number: device tree), r2 = dtb. */\n\
         \tmovs r0, #0\n\
         \tmov r1, #0xffffffff\n\
         \tldr r2, ={DTB_AT:#x}\n\
         \tldr r3, ={entry:#x}\n\
         \tbx r3\n\
         \t.ltorg\n",
        entry = KERNEL_AT | 1,
    )
}

/// What QEMU needs besides the kernel image: the boot stub and the device tree.
pub struct BootFiles {
    pub stub: PathBuf,
    pub dtb: PathBuf,
}

/// Everything the guest boots from: the kernel image, the initramfs, the boot files.
pub struct Boot {
    pub image: PathBuf,
    pub initrd: PathBuf,
    pub files: BootFiles,
}

impl Boot {
    /// Boot it on QEMU's mps2-an386, each part where the boot stub and the device tree
    /// expect it; the guest's port 80 appears on 127.0.0.1:http_port.
    pub fn start(&self, log: PathBuf, http_port: u16) -> Result<Guest> {
        Guest::boot_mps2(
            &self.files.stub,
            &[
                (&self.image, KERNEL_AT),
                (&self.initrd, INITRD_AT),
                (&self.files.dtb, DTB_AT),
            ],
            log,
            http_port,
        )
    }
}

/// The kernel command line. The network comes by DHCP from QEMU, as the image does by
/// default.
const APPEND: &str = "console=ttyMPS0";

/// How long the guest may take from QEMU's start to "tinyrust: up" on the console.
pub const UP_WITHIN: Duration = Duration::from_secs(180);

/// The rinet kernel (`net`: its profile) of the STM32F429's configuration on the MPS2
/// (built, or brought up to date), the image's initramfs plus `extra` in `work`, and the
/// boot files for them: one way to make the guest, for the guest suite and the demo.
pub fn prepare(work: &Path, net: Net, extra: Vec<image::Entry>) -> Result<Boot> {
    let build = kernel::build(Spec {
        net,
        ..Spec::rinet(Arch::Mps2)
    })?;
    fs::create_dir_all(work)?;
    let initrd = image::build(Arch::Mps2, &work.join("initramfs.cpio.gz"), extra)?;
    let files = boot_files(&build, &initrd, APPEND)?;
    Ok(Boot {
        image: build.join(Arch::Mps2.image().1),
        initrd,
        files,
    })
}

/// The boot stub and a device tree that names `initrd` (to be loaded at `INITRD_AT`)
/// and the command line `append`, written next to `initrd` (the kernel's build directory,
/// `build`, only makes the device tree).
fn boot_files(build: &Path, initrd: &Path, append: &str) -> Result<BootFiles> {
    let dir = initrd.parent().unwrap_or(Path::new("."));
    let tree = kernel::source_tree()?;
    let o = format!("O={}", build.display());
    run(
        "make",
        &[
            &o,
            "ARCH=arm",
            "CROSS_COMPILE=arm-linux-gnueabi-",
            "arm/mps2-an385.dtb",
        ],
        &tree,
        &[],
    )?;
    let dtb = dir.join("tinyrust-mps2.dtb");
    std::fs::copy(build.join("arch/arm/boot/dts/arm/mps2-an385.dtb"), &dtb)
        .with_context(|| format!("copying the dtb to {}", dtb.display()))?;
    let len = fs::metadata(initrd)?.len();
    if u64::from(INITRD_AT) + len > u64::from(DTB_AT) {
        bail!(
            "{}: {len} bytes do not fit between the initramfs and the device tree",
            initrd.display()
        );
    }
    let d = dtb.to_string_lossy().into_owned();
    let (start, end) = (
        format!("{INITRD_AT:#x}"),
        format!("{:#x}", u64::from(INITRD_AT) + len),
    );
    let here = Path::new(".");
    // QEMU's LAN9118 is wired for 32-bit accesses and drives its interrupt line
    // push-pull, active high; the kernel's device tree (written for the FPGA board) says
    // neither, and the driver would read garbage and see an interrupt storm.
    let eth = "/smb/ethernet@0,0";
    for (kind, node, prop, value) in [
        ("s", "/chosen", "bootargs", append),
        ("x", "/chosen", "linux,initrd-start", &start),
        ("x", "/chosen", "linux,initrd-end", &end),
        ("u", eth, "reg-io-width", "4"),
        ("s", eth, "smsc,irq-push-pull", ""),
    ] {
        run("fdtput", &["-t", kind, &d, node, prop, value], here, &[])?;
    }
    let src = dir.join("tinyrust-mps2-boot.S");
    fs::write(&src, boot_stub_source())?;
    let obj = dir.join("tinyrust-mps2-boot.o");
    let stub = dir.join("tinyrust-mps2-boot.elf");
    let (s, ob, st) = (
        src.to_string_lossy().into_owned(),
        obj.to_string_lossy().into_owned(),
        stub.to_string_lossy().into_owned(),
    );
    run(
        "arm-linux-gnueabi-as",
        &["-mthumb", "-march=armv7-m", &s, "-o", &ob],
        here,
        &[],
    )?;
    run(
        "arm-linux-gnueabi-ld",
        &[
            "--section-start=.vectors=0",
            "-Ttext=0x40",
            "-e",
            "0x41",
            &ob,
            "-o",
            &st,
        ],
        here,
        &[],
    )?;
    Ok(BootFiles { stub, dtb })
}

/// The ARMv7-M guest suite: boot with DHCP, pages and CGI from the host, ping from the
/// guest, a burst of requests, a quiet timer when idle, a clean kernel log. On the
/// minimal profile (`Net::RinetMinimal`) the checks that need a part it leaves out are
/// skipped by name, and the guest must show that the part is out.
pub fn suite(net: Net) -> Result<Results> {
    let minimal = net == Net::RinetMinimal;
    let spec = Spec {
        net,
        ..Spec::rinet(Arch::Mps2)
    };
    let work = cache_dir().join("guest").join(spec.name());
    let boot = prepare(
        &work,
        net,
        vec![
            image::cgi("probe", include_bytes!("../guest/mps2-probe.cgi")),
            // Raw ICMP needs root (CAP_NET_RAW), which CGI no longer has: the image's
            // rc.local pings, on the console.
            image::rc_local(include_bytes!("../guest/rc.mps2")),
        ],
    )?;
    let mut res = Results::default();
    let started = Instant::now();
    let g = boot.start(work.join("console.log"), qemu::free_port()?)?;
    let up = g.wait_for("tinyrust: up", UP_WITHIN);
    let booted = up.is_ok();
    res.record("mps2-boots-to-httpd", up);
    if booted {
        println!(
            "mps2: QEMU start to user space up: {:.1} s",
            started.elapsed().as_secs_f64()
        );
        let console = g.console();
        res.record(
            "mps2-dhcp-lease",
            if console.contains("inet addr:10.0.2.15") {
                Ok(())
            } else {
                Err(anyhow!("eth0 has no 10.0.2.15 from QEMU's DHCP"))
            },
        );
        let base = format!("http://127.0.0.1:{}", g.http_port);
        let index = fs::read_to_string(image::base_file("index.html"))?;
        res.record(
            "mps2-static-page",
            qemu::curl(&[&format!("{base}/")]).and_then(|p| {
                if p == index {
                    Ok(())
                } else {
                    Err(anyhow!("page differs: {p:?}"))
                }
            }),
        );
        res.record(
            "mps2-cgi",
            qemu::curl(&[&format!("{base}/cgi-bin/hello.cgi")]).and_then(|p| {
                if p.contains("Hello from CGI on Linux") && p.contains("REMOTE_ADDR=10.0.2.2") {
                    Ok(())
                } else {
                    Err(anyhow!("CGI output: {p:?}"))
                }
            }),
        );
        let probe = |what: &str| qemu::curl(&[&format!("{base}/cgi-bin/probe?{what}")]);
        if let Ok(mem) = probe("mem") {
            if let Some(kb) = meminfo_kb(&mem, "MemFree:") {
                println!("mps2: MemFree after boot: {kb} kB");
            }
        }
        let pinged = g.wait_for("MPS2-PING-DONE", Duration::from_secs(30));
        let console = g.console();
        let (ping_check, ping_wants) = if minimal {
            // No raw ICMP socket: busybox ping says why it cannot start.
            ("mps2-minimal-ping-refused", "Protocol not supported")
        } else {
            ("mps2-guest-pings-host", "10.0.2.2 is alive")
        };
        res.record(
            ping_check,
            pinged.and_then(|_| {
                if console.contains(ping_wants) {
                    Ok(())
                } else {
                    Err(anyhow!("no {ping_wants:?}: {}", qemu::tail(&console, 5)))
                }
            }),
        );
        if minimal {
            res.skip(
                "mps2-guest-pings-host",
                "no raw sockets (CONFIG_RINET_RAW=n)",
            );
        }
        res.record(
            "mps2-proc-net-files",
            proc_net_files(&console).and_then(|files| {
                let want: &[&str] = if minimal {
                    &["route"]
                } else {
                    &["arp", "raw", "route", "snmp", "tcp", "udp"]
                };
                let ipv4 = ["arp", "raw", "route", "snmp", "tcp", "udp"];
                let have: Vec<&str> = ipv4.into_iter().filter(|f| files.contains(f)).collect();
                if have == want {
                    Ok(())
                } else {
                    Err(anyhow!(
                        "/proc/net has {have:?} of rinet's files, not {want:?}"
                    ))
                }
            }),
        );
        // CGI runs as www-data (busybox httpd -u, after binding port 80).
        res.record(
            "mps2-cgi-runs-as-www-data",
            probe("uid").and_then(|out| match out.lines().find(|l| l.starts_with("Uid:")) {
                Some(l) if l.split_whitespace().skip(1).all(|u| u == "33") => Ok(()),
                l => Err(anyhow!("CGI status: {l:?}")),
            }),
        );
        res.record("mps2-100-requests", requests(&base, 100));
        res.record("mps2-10x10-concurrent", concurrent(&base, 10, 10));
        // Every connection so far leaves TIME-WAIT within 10 s; after that nothing but
        // the probe's own idle connection is open.
        if minimal {
            res.skip(
                "mps2-idle-timer-quiet",
                "reads /proc/net/tcp and snmp (CONFIG_RINET_PROC_NET=n)",
            );
        } else {
            std::thread::sleep(Duration::from_secs(12));
            res.record(
                "mps2-idle-timer-quiet",
                probe("idle").and_then(|out| {
                    let (before, after) = out.split_once("---").context("no second sample")?;
                    let fires = timer_fires(after)
                        .zip(timer_fires(before))
                        .map(|(b, a)| b.saturating_sub(a))
                        .with_context(|| format!("no Rinet line in {out:?}"))?;
                    println!("mps2: GUEST-IDLE-TIMER-FIRES {fires} in 10 s");
                    if fires == 0 {
                        Ok(())
                    } else {
                        Err(anyhow!("the timer fired {fires} times while idle:\n{out}"))
                    }
                }),
            );
        }
    }
    let complaints = qemu::kernel_complaints(&g.console());
    res.record(
        "mps2-kernel-log-clean",
        if complaints.is_empty() {
            Ok(())
        } else {
            Err(anyhow!(complaints.join("\n")))
        },
    );
    drop(g);
    Ok(res)
}

/// The files of /proc/net as rc.mps2 lists them on the console (`MPS2-PROC-NET a b ...`).
fn proc_net_files(console: &str) -> Result<Vec<&str>> {
    console
        .lines()
        .find_map(|l| l.trim_end().strip_prefix("MPS2-PROC-NET"))
        .map(|l| l.split_whitespace().collect())
        .context("no MPS2-PROC-NET line on the console")
}

/// The stack timer's fire count from `/proc/net/snmp` (`Rinet:` values, third column).
fn timer_fires(snmp: &str) -> Option<u64> {
    snmp.lines()
        .filter_map(|l| l.strip_prefix("Rinet:"))
        .find_map(|v| v.split_whitespace().nth(2)?.parse().ok())
}

/// A `/proc/meminfo` value in kB.
fn meminfo_kb(meminfo: &str, key: &str) -> Option<u64> {
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix(key)?.split_whitespace().next()?.parse().ok())
}

/// `n` requests one after the other, each on a new connection: all must be 200.
fn requests(base: &str, n: u32) -> Result<()> {
    let url = format!("{base}/");
    let mut args = vec!["-o", "/dev/null", "-w", "%{http_code}\n"];
    for _ in 0..n {
        args.push(&url);
    }
    let codes = qemu::curl(&args)?;
    let ok = codes.lines().filter(|c| *c == "200").count() as u32;
    if ok == n {
        Ok(())
    } else {
        Err(anyhow!("{ok} of {n} answered 200: {codes:?}"))
    }
}

/// `clients` curl processes at once, `each` requests apiece.
fn concurrent(base: &str, clients: u32, each: u32) -> Result<()> {
    let url = format!("{base}/");
    let script = format!(
        "for c in $(seq {clients}); do (for r in $(seq {each}); do \
         curl -s --max-time 60 -o /dev/null -w '%{{http_code}}\\n' {url}; done) & done; wait"
    );
    let codes = output("sh", &["-c", &script], Path::new("."), &[])?;
    let ok = codes.lines().filter(|c| *c == "200").count() as u32;
    let want = clients * each;
    if ok == want {
        Ok(())
    } else {
        Err(anyhow!("{ok} of {want} answered 200"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_probe_output() {
        let snmp = "Udp: InDatagrams NoPorts\nUdp: 4 0\nRinet: RxDrops ListenOverflows TimerFires\nRinet: 0 1 37\n";
        assert_eq!(timer_fires(snmp), Some(37));
        assert_eq!(
            timer_fires("Rinet: RxDrops ListenOverflows TimerFires\n"),
            None
        );
        let mem = "MemTotal:          14736 kB\nMemFree:            9120 kB\n";
        assert_eq!(meminfo_kb(mem, "MemFree:"), Some(9120));
        assert_eq!(meminfo_kb(mem, "Cached:"), None);
    }
}
