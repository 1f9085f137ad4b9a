//! The project's host tool: `cargo xtask <command>`.
//!
//! - `demo`  : build the rinet kernel and the busybox image, boot them in QEMU and serve
//!   the guest's pages on http://127.0.0.1:8080/ of this host.
//! - `demo --user`: rinet in user space on a TAP device in a network namespace instead.
//! - `test`  : everything CI runs (installs what it needs first).
//! - `size`  : the size report (docs/size-report.md) for thumbv7em, i586 and x86_64.
//! - `size-table`: the kernel size table (docs/kernel-size.md): INET, no TCP/IP, no NET
//!   and rinet kernels for x86_64, the Galileo and the STM32F429.
//! - `bench` : rinet on TAP against a Linux-socket server, side by side, as ratios.
//! - `fuzz`  : the coverage-guided fuzzers (rinet/fuzz: rx_frame, socket_calls), their
//!   committed corpora replayed, then `--seconds N` each (default 60); nightly and
//!   cargo-fuzz are installed when missing.
//! - `deps`  : install apt packages, the kernel's Rust toolchain and components.
//! - `vendor`: the kernel recipe's crates laid out as bitbake's crate fetcher does.

mod abi;
mod bench;
mod deps;
mod fuzz;
mod guest;
mod image;
mod kernel;
mod kernel_rust;
mod layer_check;
mod mps2;
mod nommu_busybox;
mod size;
mod size_source;
mod size_table;
mod util;
mod yocto;

use std::process::ExitCode;

use util::{cargo, root_dir};

fn usage() -> String {
    "usage: cargo xtask demo [--user] [--seconds N] | guest-test [--arch A] [--debug | --inet] | kernel [--arch A] [--inet] [--debug] | test | size | size-table | yocto-crates | oelint | layer-check | vendor | galileo-checks | stm32-checks | nommu-busybox | bench | kbench | demo-checks | fuzz [--seconds N] | deps".into()
}

fn seconds_arg(args: &[String], default: u64) -> Result<u64, String> {
    match args.iter().position(|a| a == "--seconds") {
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .ok_or("--seconds needs a number".into()),
        None => Ok(default),
    }
}

fn test() -> Result<(), String> {
    deps::ensure(true)?;
    let root = root_dir();
    cargo(&["fmt", "--all", "--", "--check"], &root)?;
    cargo(
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--features",
            "rinet/ffi",
            "--",
            "-D",
            "warnings",
        ],
        &root,
    )?;
    for dir in ["rinet-kernel", "tools/size-probe", "rinet/fuzz"] {
        cargo(&["fmt", "--", "--check"], &root.join(dir))?;
    }
    yocto::oelint()?;
    layer_check::check()?;
    yocto::task_check()?;
    fuzz(30)?;
    // Unit, back-to-back and interop tests.
    cargo(&["test", "--workspace", "--features", "rinet/ffi"], &root)?;
    // The STM32F429 board kernel (ARMv7-M, XIP): it builds and fits the board's flash.
    size_table::check_stm32()?;
    // The demo's QEMU goes when the tool is stopped by a signal to its PID.
    let demo = guest::demo_signal_checks()?;
    if !demo.failed.is_empty() {
        return Err(format!("demo checks failed: {}", demo.failed.join(", ")));
    }
    // Last, so its summary closes the log: the kernels in QEMU (x86_64, then the Galileo
    // kernel on an i586 CPU model, with its cmov/LOCK and regparm ABI checks, then the
    // x86_64 debug kernel on 2 CPUs, where any lockdep, sleep-in-atomic, slab or BUG/WARNING
    // report fails the suite, then the ARMv7-M kernel without MMU on QEMU's mps2-an386 with
    // the Thumb-2 busybox).
    // The bad-input program also runs on the x86_64 INET guest, where each expectation must
    // be what Linux's own IPv4 stack answers.
    guest::run_all_and(
        &[
            kernel::Spec::rinet(kernel::Arch::X86_64),
            kernel::Spec::rinet(kernel::Arch::Galileo),
            kernel::Spec {
                debug: true,
                ..kernel::Spec::rinet(kernel::Arch::X86_64)
            },
            kernel::Spec::rinet(kernel::Arch::Mps2),
        ],
        &[kernel::Arch::X86_64],
    )
}

/// `--arch galileo` selects the Galileo (i586) kernel; x86_64 otherwise.
fn arch_arg(args: &[String]) -> Result<kernel::Arch, String> {
    match args.iter().position(|a| a == "--arch") {
        None => Ok(kernel::Arch::X86_64),
        Some(i) => match args.get(i + 1).map(String::as_str) {
            Some("x86_64") => Ok(kernel::Arch::X86_64),
            Some("galileo") => Ok(kernel::Arch::Galileo),
            Some("stm32f429") => Ok(kernel::Arch::Stm32),
            Some("mps2") => Ok(kernel::Arch::Mps2),
            other => Err(format!(
                "--arch: x86_64, galileo, stm32f429 or mps2, not {other:?}"
            )),
        },
    }
}

/// The coverage-guided fuzzers for `seconds` each, after their committed corpora.
fn fuzz(seconds: u64) -> Result<(), String> {
    fuzz::run_all(seconds).map(|_| ())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let r = match args.first().map(String::as_str) {
        Some("demo") if args.iter().any(|a| a == "--user") => {
            seconds_arg(&args, 0).and_then(bench::demo)
        }
        Some("demo") => seconds_arg(&args, 0).and_then(guest::demo),
        Some("test") => test(),
        Some("size") => size::report(),
        Some("size-table") => size_table::report(),
        Some("bench") => bench::bench(),
        Some("fuzz") => seconds_arg(&args, 60).and_then(fuzz),
        Some("deps") => deps::ensure(true),
        Some("kbench") => guest::kbench(),
        Some("demo-checks") => guest::demo_signal_checks().and_then(|r| {
            if r.failed.is_empty() {
                Ok(())
            } else {
                Err(format!("demo checks failed: {}", r.failed.join(", ")))
            }
        }),
        Some("yocto-crates") => yocto::crates_inc(),
        Some("vendor") => kernel_rust::vendored_cargo_home().map(|d| println!("{}", d.display())),
        Some("oelint") => yocto::oelint(),
        Some("layer-check") => layer_check::check(),
        Some("galileo-checks") => abi::check_galileo(),
        Some("stm32-checks") => size_table::check_stm32(),
        Some("nommu-busybox") => nommu_busybox::build().map(|b| println!("{}", b.display())),
        Some("guest-test") if args.iter().any(|a| a == "--inet") => {
            arch_arg(&args).and_then(|arch| guest::run_all_and(&[], &[arch]))
        }
        Some("guest-test") => arch_arg(&args).and_then(|arch| {
            guest::run_all(&[kernel::Spec {
                arch,
                net: kernel::Net::Rinet,
                debug: args.iter().any(|a| a == "--debug"),
                omit: None,
            }])
        }),
        Some("kernel") => {
            let net = if args.iter().any(|a| a == "--inet") {
                kernel::Net::Inet
            } else {
                kernel::Net::Rinet
            };
            let debug = args.iter().any(|a| a == "--debug");
            arch_arg(&args)
                .and_then(|arch| {
                    kernel::build(kernel::Spec {
                        arch,
                        net,
                        debug,
                        omit: None,
                    })
                })
                .map(|d| println!("{}", d.display()))
        }
        _ => Err(usage()),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}
