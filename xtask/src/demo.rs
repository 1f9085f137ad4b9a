//! `cargo xtask demo`: the rinet kernel and the busybox image in QEMU, serving the
//! guest's pages on a loopback port until the tool is stopped; and the checks that it
//! serves and that QEMU goes with the tool, whatever signal stops it.

use crate::util::fs;
use crate::util::CommandExt;
use anyhow::{anyhow, bail, Context, Result};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::image;
use crate::kernel::{self, Arch, Spec};
use crate::progress::Steps;
use crate::qemu::{curl, free_port, tail, Guest, Results};
use crate::util::cache_dir;

/// `cargo xtask demo`: the default image (rinet kernel, busybox, httpd with CGI, DHCP from
/// QEMU's user-mode network) serving on http://127.0.0.1:`port`/ (8080 unless asked),
/// on x86_64 or, as the STM32F429's kernel configuration without MMU, on QEMU's
/// mps2-an386 (the guest suite's kernel, image and QEMU command line: see `mps2`).
pub fn demo(arch: Arch, seconds: u64, port: u16) -> Result<()> {
    if !matches!(arch, Arch::X86_64 | Arch::Mps2) {
        bail!("the demo runs on x86_64 or mps2, not {}", arch.name());
    }
    // The mps2 demo prepares its kernel and image in one step.
    let mut steps = Steps::new(if arch == Arch::Mps2 { 4 } else { 5 });
    steps.step("installing what the demo needs");
    crate::deps::ensure(true)?;
    let spec = Spec::rinet(arch);
    let work = cache_dir().join("demo").join(spec.name());
    fs::create_dir_all(&work)?;
    let log = work.join("console.log");
    let port_free = || {
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            Ok(())
        } else {
            Err(anyhow!("127.0.0.1:{port} is in use"))
        }
    };
    // No files of its own: the image's page and CGI, as the boards' images have them.
    let (mut g, up_within, what) = if arch == Arch::Mps2 {
        steps.step(format!("building the {} kernel and its image", spec.name()));
        let boot = crate::mps2::prepare(&work, crate::kernel::Net::Rinet, Vec::new())?;
        steps.step("booting it in QEMU");
        port_free()?;
        (
            boot.start(log.clone(), port)?,
            crate::mps2::UP_WITHIN,
            "the STM32F429's kernel configuration, no MMU, on QEMU's mps2-an386",
        )
    } else {
        steps.step(format!("building the {} kernel", spec.name()));
        let build = kernel::build(spec)?;
        steps.step("building the busybox image");
        let initrd = image::build(arch, &work.join("initramfs.cpio.gz"), Vec::new())?;
        steps.step("booting it in QEMU");
        port_free()?;
        let g = Guest::boot_on(
            arch,
            &build.join("arch/x86/boot/bzImage"),
            &initrd,
            "",
            1,
            log.clone(),
            port,
            None,
        )?;
        (g, Duration::from_secs(120), "x86_64 in QEMU")
    };
    let started = Instant::now();
    g.wait_for("tinyrust: up", up_within)?;
    steps.step("waiting for the guest to serve");
    let base = format!("http://127.0.0.1:{port}");
    let mut up = false;
    while started.elapsed() < up_within + Duration::from_secs(30) {
        if curl(&["-f", "-m", "2", &format!("{base}/")]).is_ok() {
            up = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    if !up {
        bail!(
            "the guest does not answer; console:\n{}",
            tail(&g.console(), 30)
        );
    }
    println!(
        "rinet guest (Linux 6.12 without INET; {what}) serves {base}/ ({:.1} s after QEMU start)",
        started.elapsed().as_secs_f64()
    );
    // Serving lasts until the end: the time to here is the one worth printing.
    steps.finish();
    println!(
        "  pages: {base}/   CGI: {base}/cgi-bin/hello.cgi   console: {}",
        log.display()
    );
    if seconds > 0 {
        std::thread::sleep(Duration::from_secs(seconds));
    } else {
        println!("  Ctrl-C stops it.");
        g.wait();
    }
    Ok(())
}

/// `cargo xtask demo` stopped by SIGINT, SIGTERM or SIGHUP sent to the tool's PID (not to
/// its process group, as a terminal's Ctrl-C would): QEMU must go with it, the port must
/// close, and nothing may be left running. One boot per signal on x86_64, and one on the
/// mps2-an386 (`demo --arch mps2`, the STM32F429's kernel configuration without MMU),
/// stopped by SIGTERM; the page and the CGI must answer as the image has them first.
/// Each demo forwards a free port, so that a demo already on 8080 is neither asked nor
/// stopped.
pub fn demo_signal_checks() -> Result<Results> {
    let mut res = Results::default();
    for (arch, arg, name, sig) in [
        (Arch::X86_64, "x86_64", "SIGINT", libc::SIGINT),
        (Arch::X86_64, "x86_64", "SIGTERM", libc::SIGTERM),
        (Arch::X86_64, "x86_64", "SIGHUP", libc::SIGHUP),
        (Arch::Mps2, "mps2", "SIGTERM", libc::SIGTERM),
    ] {
        let check = match arch {
            Arch::X86_64 => format!("demo-stops-qemu-on-{name}"),
            _ => format!("demo-{}-serves-and-stops-on-{name}", arch.name()),
        };
        res.record(&check, demo_until_signal(arch, arg, name, sig));
    }
    Ok(res)
}

/// One `cargo xtask demo --arch arg`: it must serve the image's page and CGI, then go,
/// QEMU with it, on `sig`.
fn demo_until_signal(arch: Arch, arg: &str, name: &str, sig: i32) -> Result<()> {
    // Built first, so that the time allowed below is the boot's, not a kernel build's.
    kernel::build(Spec::rinet(arch))?;
    let index = fs::read_to_string(image::base_file("index.html"))?;
    let exe = std::env::current_exe().context("finding the running xtask")?;
    let port = free_port()?;
    let base = format!("http://127.0.0.1:{port}");
    let mut tool = Command::new(&exe)
        .args(["demo", "--arch", arg, "--port", &port.to_string()])
        .args(["--seconds", "600"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn_ctx()?;
    let started = Instant::now();
    let mut up = false;
    while started.elapsed() < Duration::from_secs(300) {
        if curl(&["-fs", "-m", "2", &format!("{base}/")]).is_ok() {
            up = true;
            break;
        }
        if let Ok(Some(st)) = tool.try_wait() {
            bail!("the demo ended before serving ({st})");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let served = if up {
        println!(
            "demo --arch {arg}: first page {:.1} s after the tool started",
            started.elapsed().as_secs_f64()
        );
        curl(&["-f", &format!("{base}/")])
            .and_then(|p| {
                if p == index {
                    Ok(())
                } else {
                    Err(anyhow!("the page is not the image's index.html: {p:?}"))
                }
            })
            .and_then(|()| curl(&["-f", &format!("{base}/cgi-bin/hello.cgi")]))
            .and_then(|p| {
                if p.contains("Hello from CGI on Linux") && p.contains("REMOTE_ADDR=10.0.2.2") {
                    Ok(())
                } else {
                    Err(anyhow!("CGI output: {p:?}"))
                }
            })
    } else {
        Err(anyhow!("the demo never served :{port} in 300 s"))
    };
    // Stopped either way, and QEMU must go with it.
    // SAFETY: kill(2) on our own child's PID.
    unsafe { libc::kill(tool.id() as i32, sig) };
    let _ = tool.wait();
    let gone = Instant::now();
    let stopped = loop {
        let port_free = TcpListener::bind(("127.0.0.1", port)).is_ok();
        if port_free && qemu_serving(port).is_empty() {
            break Ok(());
        }
        if gone.elapsed() > Duration::from_secs(5) {
            let left = qemu_serving(port);
            for pid in &left {
                // SAFETY: kill(2); cleaning up what the check found.
                unsafe { libc::kill(*pid, libc::SIGKILL) };
            }
            break Err(anyhow!(
                "5 s after {name}: port {port} still taken, QEMU left: {left:?}"
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    match (served, stopped) {
        (Err(a), Err(b)) => Err(anyhow!("{a:#}; {b:#}")),
        (r, Ok(())) | (Ok(()), r) => r,
    }
}

/// PIDs of QEMU processes forwarding 127.0.0.1:`port` (a demo's).
fn qemu_serving(port: u16) -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let fwd = format!("hostfwd=tcp:127.0.0.1:{port}-");
    dir.filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
                let c = String::from_utf8_lossy(&c);
                c.contains("qemu-system") && c.contains(&fwd)
            })
        })
        .collect()
}
