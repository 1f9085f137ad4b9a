//! The project's host tool: `cargo xtask <command>`. `cargo xtask --help` lists the
//! commands and `cargo xtask <command> --help` their flags; both come from [`Cmd`] below,
//! and a test checks that README.md names every command.

mod abi;
mod bench;
mod demo;
mod deps;
mod fuzz;
mod guest;
mod image;
mod kbench;
mod kernel;
mod kernel_rust;
mod layer_check;
mod mps2;
mod nommu_busybox;
mod progress;
mod qemu;
mod size;
mod size_concern;
mod size_gate;
mod size_source;
mod size_table;
mod util;
mod yocto;

use anyhow::{anyhow, bail, Result};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use progress::Steps;
use util::{cargo, root_dir};

fn test() -> Result<()> {
    // The guest suites, last, so that their summary closes the log: the kernels in QEMU
    // (x86_64, then the Galileo kernel on an i586 CPU model, with its cmov/LOCK and regparm
    // ABI checks, then the x86_64 debug kernel on 2 CPUs, where any lockdep,
    // sleep-in-atomic, slab or BUG/WARNING report fails the suite, then the ARMv7-M kernel
    // without MMU on QEMU's mps2-an386 with the Thumb-2 busybox, in the full profile and
    // the minimal one, rinet-minimal.cfg). The bad-input program
    // also runs on the x86_64 INET guest, where each expectation must be what Linux's own
    // IPv4 stack answers.
    let guest_kernels = [
        kernel::Spec::rinet(kernel::Arch::X86_64),
        kernel::Spec::rinet(kernel::Arch::Galileo),
        kernel::Spec {
            debug: true,
            ..kernel::Spec::rinet(kernel::Arch::X86_64)
        },
        kernel::Spec::rinet(kernel::Arch::Mps2),
        kernel::Spec {
            net: kernel::Net::RinetMinimal,
            ..kernel::Spec::rinet(kernel::Arch::Mps2)
        },
    ];
    let inet_badinput = [kernel::Arch::X86_64];
    // The nine steps below before the guest suites, then one per suite.
    let mut steps = Steps::new(9 + guest_kernels.len() + inet_badinput.len());
    steps.step("installing what the tests need");
    deps::ensure(true)?;
    let root = root_dir();
    steps.step("formatting and clippy");
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
    // rinet as the ARMv7-M kernels build it: without offload (the workspace has it:
    // rinet-host asks for `offload-host`), and the minimal profile (CONFIG_RINET_RAW=n
    // builds rinet without its `raw` feature).
    for profile in [&[][..], &["--no-default-features"][..]] {
        let mut args = vec!["clippy", "-p", "rinet", "--all-targets"];
        args.extend_from_slice(profile);
        args.extend_from_slice(&["--features", "ffi", "--", "-D", "warnings"]);
        cargo(&args, &root)?;
    }
    for dir in ["rinet-kernel", "tools/size-probe", "rinet/fuzz"] {
        cargo(&["fmt", "--", "--check"], &root.join(dir))?;
    }
    steps.step("oelint over the layers' recipes");
    yocto::oelint()?;
    steps.step("layer checks");
    layer_check::check()?;
    steps.step("task checks");
    yocto::task_check()?;
    steps.step("fuzzing, 30 s per target");
    fuzz::run_all(30, fuzz::Sanitizer::Address)?;
    steps.step("unit, back-to-back and interop tests");
    // With smoltcp as the kernels build it (rinet-kernel/patches): the back-to-back and
    // interop tests run the TCP the kernels run. A plain `cargo test` builds crates.io's.
    kernel_rust::cargo_as_kernels(&["test", "--workspace", "--features", "rinet/ffi"])?;
    kernel_rust::cargo_as_kernels(&["test", "-p", "rinet", "--no-default-features"])?;
    // The workspace's tests build rinet with offload (rinet-host asks for it): every TCP
    // transfer between two stacks goes through the software segmentation and checksums a
    // device without offload gets. Here without, as the ARMv7-M kernels build it, and
    // against crates.io's smoltcp, as a plain `cargo test` builds it.
    cargo(&["test", "-p", "rinet", "--features", "ffi"], &root)?;
    // The STM32F429 board kernel (ARMv7-M, XIP): it builds and fits the board's flash.
    steps.step("the STM32F429 kernel: build, flash fit, size gates");
    let stm32_rinet_objects = size_table::check_stm32()?;
    // The size gates against the committed reports' JSON: rinet's objects in that kernel,
    // and the code-size budget's figure on thumbv7em. Their verdict waits until the guest
    // suites have run, so that a size regression does not hide the functional results.
    let size_gates: Vec<String> = [
        size_table::check_rinet_objects(stm32_rinet_objects),
        size::check_own_layer(),
    ]
    .into_iter()
    .filter_map(Result::err)
    .map(|e| format!("{e:#}"))
    .collect();
    for e in &size_gates {
        eprintln!("size gate failed (reported again at the end): {e}");
    }
    // The demo's QEMU goes when the tool is stopped by a signal to its PID; the demo on
    // the mps2-an386 serves the image's page and CGI first (about 45 s for the four boots).
    steps.step("demo checks (stopped by signals; mps2 serves)");
    let demo_checks = demo::demo_signal_checks()?;
    if !demo_checks.failed.is_empty() {
        bail!("demo checks failed: {}", demo_checks.failed.join(", "));
    }
    guest::run_all_and(&guest_kernels, &inet_badinput, &mut steps)?;
    steps.finish();
    if size_gates.is_empty() {
        Ok(())
    } else {
        Err(anyhow!("size gate failed:\n{}", size_gates.join("\n")))
    }
}

/// meta-tinyrust's host tool: builds, boots, tests and measures the rinet kernels and
/// their images, without Yocto.
#[derive(Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Build the rinet kernel and the busybox image, boot them in QEMU and serve the
    /// guest's pages on http://127.0.0.1:8080/ of this host.
    Demo {
        /// rinet in user space on a TAP device in a network namespace instead.
        #[arg(long, conflicts_with_all = ["arch", "port"])]
        user: bool,
        /// The guest: x86_64, or mps2 for the STM32F429's kernel configuration (ARMv7-M,
        /// no MMU) on QEMU's mps2-an386.
        #[arg(long, value_enum, default_value_t = ArchArg::X86_64)]
        arch: ArchArg,
        /// The host's loopback port the guest's port 80 is forwarded to.
        #[arg(long, default_value_t = 8080)]
        port: u16,
        /// Stop after this many seconds (0: until interrupted).
        #[arg(long, default_value_t = 0)]
        seconds: u64,
    },
    /// Everything CI runs (installs what it needs first).
    Test,
    /// The guest suite on one kernel in QEMU.
    GuestTest {
        #[arg(long, value_enum, default_value_t = ArchArg::X86_64)]
        arch: ArchArg,
        /// The x86_64 debug kernel (lockdep, slab debugging, 2 CPUs).
        #[arg(long, conflicts_with = "inet")]
        debug: bool,
        /// The bad-input program on the Linux INET guest instead.
        #[arg(long)]
        inet: bool,
        /// Only the transfer over the lossy link (16 MiB each way at 10% loss).
        #[arg(long, conflicts_with_all = ["inet", "debug"])]
        lossy: bool,
        /// rinet's minimal profile (rinet-minimal.cfg); mps2 only.
        #[arg(long, conflicts_with_all = ["inet", "debug", "lossy"])]
        minimal: bool,
    },
    /// Build a kernel and print its build directory.
    Kernel {
        #[arg(long, value_enum, default_value_t = ArchArg::X86_64)]
        arch: ArchArg,
        /// Linux's own IPv4 stack instead of rinet.
        #[arg(long)]
        inet: bool,
        /// rinet's minimal profile (rinet-minimal.cfg: no raw sockets, rtnetlink or most of
        /// /proc/net).
        #[arg(long, conflicts_with = "inet")]
        minimal: bool,
        /// The debug configuration.
        #[arg(long)]
        debug: bool,
    },
    /// The size report (docs/size-report.md and .json) for thumbv7em, i586 and x86_64.
    Size {
        /// Only the test command's gate: thumbv7em's own-layer code against
        /// docs/size-report.json (two staticlib builds; writes nothing).
        #[arg(long)]
        check: bool,
    },
    /// The kernel size table (docs/kernel-size.md and .json): INET, no TCP/IP, no NET and
    /// rinet (full and minimal profile) kernels for x86_64, the Galileo and the STM32F429.
    SizeTable,
    /// rinet on TAP against a Linux-socket server, side by side, as ratios.
    Bench,
    /// The rinet kernel against the Linux INET kernel in QEMU, side by side.
    Kbench,
    /// The demo's QEMU goes when the tool gets SIGINT, SIGTERM or SIGHUP; the mps2 demo
    /// serves the image's page and CGI.
    DemoChecks,
    /// The coverage-guided fuzzers, their committed corpora first.
    Fuzz {
        /// Seconds of fuzzing per target.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        /// Build without AddressSanitizer: about four times the executions per second,
        /// for long campaigns (replay what they find without this flag afterwards).
        #[arg(long)]
        no_sanitizer: bool,
    },
    /// Install the apt packages, the kernel's Rust toolchain and its components.
    Deps,
    /// Regenerate the kernel recipe's crate list (linux-tinyrust-crates.inc).
    YoctoCrates,
    /// Lay out the kernel recipe's crates as bitbake's crate fetcher does; print where.
    Vendor,
    /// oelint-adv over every recipe, append and include of both layers.
    Oelint,
    /// What can be checked of the layers without bitbake.
    LayerCheck,
    /// The Galileo kernel's ABI checks (no cmov, no LOCK prefix, regparm).
    GalileoChecks,
    /// The STM32F429 kernel builds and fits the board's flash, and rinet's objects in it
    /// are within 1% of docs/kernel-size.json.
    Stm32Checks,
    /// Build the ARMv7-M busybox (the distro layer's configuration) and print its path.
    NommuBusybox,
    /// Run cargo in the workspace with smoltcp as the kernels build it (with
    /// rinet-kernel/patches), as the test command runs the host's tests; for example
    /// `cargo xtask cargo-as-kernels test -p rinet --features ffi`.
    CargoAsKernels {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
        args: Vec<String>,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ArchArg {
    #[value(name = "x86_64")]
    X86_64,
    Galileo,
    Stm32f429,
    /// The STM32F429's configuration on QEMU's mps2-an386.
    Mps2,
}

impl From<ArchArg> for kernel::Arch {
    fn from(a: ArchArg) -> kernel::Arch {
        match a {
            ArchArg::X86_64 => kernel::Arch::X86_64,
            ArchArg::Galileo => kernel::Arch::Galileo,
            ArchArg::Stm32f429 => kernel::Arch::Stm32,
            ArchArg::Mps2 => kernel::Arch::Mps2,
        }
    }
}

fn run_cmd(cmd: Cmd) -> Result<()> {
    let print = |d: std::path::PathBuf| println!("{}", d.display());
    match cmd {
        Cmd::Demo {
            user: true,
            seconds,
            ..
        } => bench::demo(seconds),
        Cmd::Demo {
            user: false,
            arch,
            seconds,
            port,
        } => demo::demo(arch.into(), seconds, port),
        Cmd::Test => test(),
        Cmd::Size { check: false } => size::report(),
        Cmd::Size { check: true } => deps::ensure(true).and_then(|()| size::check_own_layer()),
        Cmd::SizeTable => size_table::report(),
        Cmd::Bench => bench::bench(),
        Cmd::Kbench => kbench::kbench(),
        Cmd::Fuzz {
            seconds,
            no_sanitizer,
        } => {
            let sanitizer = if no_sanitizer {
                fuzz::Sanitizer::None
            } else {
                fuzz::Sanitizer::Address
            };
            fuzz::run_all(seconds, sanitizer).map(|_| ())
        }
        Cmd::Deps => deps::ensure(true),
        Cmd::DemoChecks => demo::demo_signal_checks().and_then(|r| {
            if r.failed.is_empty() {
                Ok(())
            } else {
                Err(anyhow!("demo checks failed: {}", r.failed.join(", ")))
            }
        }),
        Cmd::YoctoCrates => yocto::crates_inc(),
        Cmd::Vendor => kernel_rust::vendored_cargo_home().map(print),
        Cmd::Oelint => yocto::oelint(),
        Cmd::LayerCheck => layer_check::check(),
        Cmd::GalileoChecks => abi::check_galileo(),
        Cmd::Stm32Checks => size_table::check_stm32().and_then(size_table::check_rinet_objects),
        Cmd::NommuBusybox => nommu_busybox::build().map(print),
        Cmd::CargoAsKernels { args } => {
            kernel_rust::cargo_as_kernels(&args.iter().map(String::as_str).collect::<Vec<_>>())
        }
        Cmd::GuestTest {
            arch, inet: true, ..
        } => guest::run_all(&[], &[arch.into()]),
        Cmd::GuestTest {
            arch, lossy: true, ..
        } => guest::lossy_only(arch.into()),
        Cmd::GuestTest {
            arch: ArchArg::Mps2,
            minimal: true,
            ..
        } => guest::run_all(
            &[kernel::Spec {
                net: kernel::Net::RinetMinimal,
                ..kernel::Spec::rinet(kernel::Arch::Mps2)
            }],
            &[],
        ),
        Cmd::GuestTest { minimal: true, .. } => {
            bail!("--minimal: the minimal profile's suite runs on mps2 only (--arch mps2)")
        }
        Cmd::GuestTest { arch, debug, .. } => guest::run_all(
            &[kernel::Spec {
                arch: arch.into(),
                net: kernel::Net::Rinet,
                debug,
                omit: None,
            }],
            &[],
        ),
        Cmd::Kernel {
            arch,
            inet,
            minimal,
            debug,
        } => kernel::build(kernel::Spec {
            arch: arch.into(),
            net: match (inet, minimal) {
                (true, _) => kernel::Net::Inet,
                (_, true) => kernel::Net::RinetMinimal,
                _ => kernel::Net::Rinet,
            },
            debug,
            omit: None,
        })
        .map(print),
    }
}

fn main() -> ExitCode {
    let r = run_cmd(Cli::parse().cmd);
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    /// README.md names every command the tool has (the list comes from [`Cmd`]).
    #[test]
    fn readme_names_every_command() {
        let readme = std::fs::read_to_string(root_dir().join("README.md")).unwrap();
        let missing: Vec<String> = Cli::command()
            .get_subcommands()
            .map(|c| c.get_name().to_string())
            .filter(|n| !readme.contains(&format!("cargo xtask {n}")))
            .collect();
        assert!(missing.is_empty(), "README.md lacks: {missing:?}");
    }

    #[test]
    fn unknown_flags_are_errors() {
        assert!(Cli::try_parse_from(["cargo xtask", "guest-test", "--arhc", "galileo"]).is_err());
        assert!(Cli::try_parse_from(["cargo xtask", "fuzz", "--seconds", "x"]).is_err());
        assert!(Cli::try_parse_from(["cargo xtask", "guest-test", "--arch", "galileo"]).is_ok());
        assert!(Cli::try_parse_from(["cargo xtask", "demo", "--arch", "mps2"]).is_ok());
        assert!(Cli::try_parse_from(["cargo xtask", "demo", "--user", "--arch", "mps2"]).is_err());
    }
}
