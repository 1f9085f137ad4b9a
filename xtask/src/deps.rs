//! Install what the project needs on a fresh Debian/Ubuntu machine.

use std::path::Path;

use crate::util::{is_root, output, run};

/// Debian packages the tests, the demo and the size report use.
const APT: &[&str] = &[
    "curl",
    "iputils-ping",
    "iproute2",
    "python3",
    "socat",
    "wrk",
    "gcc",
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
    "busybox-static",
];

const TARGETS: &[&str] = &[
    "thumbv7em-none-eabi",
    "x86_64-unknown-none",
    "i586-unknown-linux-gnu",
];

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

pub fn ensure(rust_targets: bool) -> Result<(), String> {
    let missing = missing_packages();
    if !missing.is_empty() {
        let sudo: &[&str] = if is_root() { &[] } else { &["sudo"] };
        let mut update: Vec<&str> = sudo.to_vec();
        update.extend(["apt-get", "update", "-q"]);
        run(update[0], &update[1..], Path::new("."), &[])?;
        let mut install: Vec<&str> = sudo.to_vec();
        install.extend([
            "env",
            "DEBIAN_FRONTEND=noninteractive",
            "apt-get",
            "install",
            "-y",
            "-q",
        ]);
        install.extend(missing.iter());
        run(install[0], &install[1..], Path::new("."), &[])?;
    }
    if rust_targets {
        let installed = output(
            "rustup",
            &["target", "list", "--installed"],
            Path::new("."),
            &[],
        )?;
        for t in TARGETS {
            if !installed.lines().any(|l| l.trim() == *t) {
                run("rustup", &["target", "add", t], Path::new("."), &[])?;
            }
        }
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
