//! Install what the project needs on a fresh Debian/Ubuntu machine.

use crate::util::fs;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

use crate::util::{cache_dir, is_root, output, run};

/// Debian packages the tests, the demo and the size report use.
const APT: &[&str] = &[
    "curl",
    "iputils-ping",
    "iproute2",
    "python3",
    "python3-venv",
    "socat",
    "wrk",
    // The SYN flood of the interop tests.
    "hping3",
    // Reads the guest suite's link recording when a request fails.
    "tcpdump",
    "gcc",
    // -m32 static programs for the Galileo (i386) guest. Not gcc-multilib: on Debian it
    // conflicts with the ARM cross compiler; these two do not.
    "libc6-dev-i386",
    "lib32gcc-12-dev",
    "binutils",
    "gcc-arm-linux-gnueabi",
    "binutils-arm-linux-gnueabi",
    // The kernel path: Debian's kernel source, its build dependencies, QEMU, busybox.
    "linux-source-6.12",
    "make",
    "flex",
    "bison",
    "bc",
    "libelf-dev",
    "libssl-dev",
    "xz-utils",
    "patch",
    "qemu-system-x86",
    // The ARMv7-M kernel on QEMU's mps2-an386; fdtput for its device tree.
    "qemu-system-arm",
    "device-tree-compiler",
    "busybox-static",
];

/// How long apt waits for another apt's dpkg lock before giving up.
const DPKG_LOCK_WAIT_S: u32 = 600;

fn dpkg_lock_opt() -> String {
    format!("DPkg::Lock::Timeout={DPKG_LOCK_WAIT_S}")
}

fn missing_packages() -> Vec<&'static str> {
    APT.iter()
        .copied()
        .filter(|p| {
            output(
                "dpkg-query",
                &["-W", "-f=${Status}", p],
                Path::new("."),
                &[],
            )
            .map_or(true, |s| !s.contains("install ok installed"))
        })
        .collect()
}

/// Some machine images carry a newer qemu-utils (from backports) than the archive's
/// qemu-system packages; those declare `Breaks` on it and apt refuses the install. When
/// QEMU is about to be installed next to such a qemu-utils, pin qemu-utils to the
/// version the archive's qemu-system-common comes with (`qemu-utils=<version>`).
fn qemu_utils_matching_archive(missing: &[&str]) -> Option<String> {
    if !missing.iter().any(|p| p.starts_with("qemu-system")) {
        return None;
    }
    let here = Path::new(".");
    let installed = output(
        "dpkg-query",
        &["-W", "-f=${Version}", "qemu-utils"],
        here,
        &[],
    )
    .ok()?;
    let policy = output("apt-cache", &["policy", "qemu-system-common"], here, &[]).ok()?;
    let candidate = policy
        .lines()
        .find_map(|l| l.trim().strip_prefix("Candidate:"))?
        .trim()
        .to_string();
    (!installed.trim().is_empty() && candidate != "(none)" && installed.trim() != candidate)
        .then(|| format!("qemu-utils={candidate}"))
}

pub fn ensure(rust_targets: bool) -> Result<()> {
    let missing = missing_packages();
    if !missing.is_empty() {
        let sudo: &[&str] = if is_root() { &[] } else { &["sudo"] };
        // Another apt (unattended-upgrades on a fresh machine) may hold the dpkg lock:
        // wait for it, bounded, rather than fail at once.
        eprintln!(
            "deps: installing {} (waiting up to {DPKG_LOCK_WAIT_S} s for the dpkg lock if another apt holds it)",
            missing.join(" ")
        );
        let lock = dpkg_lock_opt();
        let mut update: Vec<&str> = sudo.to_vec();
        update.extend(["apt-get", "-o", &lock, "update", "-q"]);
        // A mirror in the middle of a sync fails one index now and then; the install
        // below says clearly if something it needs is really unavailable.
        if let Err(e) = run(update[0], &update[1..], Path::new("."), &[]) {
            eprintln!("deps: apt-get update reported a problem, going on: {e:#}");
        }
        let mut install: Vec<&str> = sudo.to_vec();
        install.extend([
            "env",
            "DEBIAN_FRONTEND=noninteractive",
            "apt-get",
            "-o",
            &lock,
            "install",
            "-y",
            "-q",
        ]);
        install.extend(missing.iter());
        let qemu_utils = qemu_utils_matching_archive(&missing);
        if let Some(pin) = &qemu_utils {
            install.extend(["--allow-downgrades", pin.as_str()]);
        }
        run(install[0], &install[1..], Path::new("."), &[])?;
    }
    if rust_targets {
        // The kernel's Rust (rinet-kernel/rust-toolchain.toml) with its library sources:
        // -Zbuild-std builds core and alloc for every kernel target, so no target's
        // prebuilt library is needed.
        crate::kernel_rust::ensure_toolchain()?;
        let comps = output(
            "rustup",
            &["component", "list", "--installed"],
            Path::new("."),
            &[],
        )?;
        for c in ["rust-src", "rustfmt", "clippy"] {
            if !comps.lines().any(|l| l.starts_with(c)) {
                run("rustup", &["component", "add", c], Path::new("."), &[])?;
            }
        }
    }
    Ok(())
}

/// Debian's i386 busybox-static for the Galileo guest, unpacked (not installed: it would
/// replace the host's) under the cache.
pub fn i386_busybox() -> Result<PathBuf> {
    let dir = cache_dir().join("i386-busybox");
    foreign_package("i386", "busybox-static", &dir)?;
    Ok(dir.join("bin/busybox"))
}

/// Download a package of a foreign architecture and unpack it under `dir` (once), adding
/// the architecture to dpkg if needed. Nothing is installed on the host.
pub fn foreign_package(arch: &str, package: &str, dir: &Path) -> Result<()> {
    let done = dir.join(".unpacked");
    if done.exists() {
        return Ok(());
    }
    let sudo: &[&str] = if is_root() { &[] } else { &["sudo"] };
    let sh = |args: &[&str]| {
        let mut full: Vec<&str> = sudo.to_vec();
        full.extend_from_slice(args);
        run(full[0], &full[1..], Path::new("."), &[])
    };
    let foreign = output(
        "dpkg",
        &["--print-foreign-architectures"],
        Path::new("."),
        &[],
    )?;
    if !foreign.lines().any(|l| l.trim() == arch) {
        sh(&["dpkg", "--add-architecture", arch])?;
        if let Err(e) = sh(&["apt-get", "-o", &dpkg_lock_opt(), "update", "-q"]) {
            eprintln!("deps: apt-get update reported a problem, going on: {e:#}");
        }
    }
    let dl = dir.join("deb");
    let _ = std::fs::remove_dir_all(&dl);
    fs::create_dir_all(&dl)?;
    let full = format!("{package}:{arch}");
    if run("apt-get", &["download", &full], &dl, &[]).is_err() {
        sh(&["apt-get", "-o", &dpkg_lock_opt(), "update", "-q"])?;
        run("apt-get", &["download", &full], &dl, &[])?;
    }
    let deb = std::fs::read_dir(&dl)
        .with_context(|| format!("listing {}", dl.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "deb"))
        .with_context(|| format!("apt-get download {full} produced no .deb"))?;
    let (d, x) = (
        deb.to_string_lossy().into_owned(),
        dir.to_string_lossy().into_owned(),
    );
    run("dpkg-deb", &["-x", &d, &x], Path::new("."), &[])?;
    fs::write(&done, &d)
}
