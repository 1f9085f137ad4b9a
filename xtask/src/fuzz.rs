//! `cargo xtask fuzz`: rinet's coverage-guided fuzzers (`rinet/fuzz`, cargo-fuzz with
//! libFuzzer): `rx_frame` (frames into a stack with live sockets of every kind) and
//! `socket_calls` (socket calls through the C ABI interleaved with the peer's segments,
//! frames and time). Each run first replays the corpus committed in `rinet/fuzz/corpus`,
//! then mutates for the time given; what it finds new goes to a scratch corpus under the
//! cache, a crash to `artifacts/` there. Both need a nightly toolchain (sanitizer
//! coverage), pinned here, and cargo-fuzz; both are installed when missing.
//!
//! The fuzzers link smoltcp as the kernels do, with the recipe's build-time patches
//! (`kernel_rust::patched_crates`): cargo reads the patch from a configuration file in a
//! directory under the cache, which is where cargo-fuzz runs.

use crate::util::fs;
use crate::util::CommandExt;
use anyhow::{bail, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{cache_dir, output, root_dir, run};

/// The nightly the fuzzers build with (a fixed one: a new nightly can break the build).
const NIGHTLY: &str = "nightly-2026-05-20";
const CARGO_FUZZ: &str = "0.13.2";
pub const TARGETS: [&str; 2] = ["rx_frame", "socket_calls"];

fn ensure_tools() -> Result<()> {
    let here = Path::new(".");
    let toolchains = output("rustup", &["toolchain", "list"], here, &[])?;
    if !toolchains.lines().any(|l| l.starts_with(NIGHTLY)) {
        run(
            "rustup",
            &["toolchain", "install", NIGHTLY, "--profile", "minimal"],
            here,
            &[],
        )?;
    }
    let have = output("cargo", &["fuzz", "--version"], here, &[]).unwrap_or_default();
    if !have.contains(CARGO_FUZZ) {
        run(
            "cargo",
            &["install", "cargo-fuzz", "--version", CARGO_FUZZ, "--locked"],
            here,
            &[],
        )?;
    }
    Ok(())
}

/// What one target's run did.
pub struct Outcome {
    pub target: &'static str,
    pub executions: u64,
    pub seconds: u64,
}

/// Which sanitizer the fuzzers are built with.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Sanitizer {
    /// AddressSanitizer: catches a bad access in the C ABI's unsafe code.
    Address,
    /// None: about four times the executions per second, for long campaigns; replay
    /// what they find with `Address` afterwards.
    None,
}

/// A directory whose `.cargo/config.toml` puts the kernels' patched crates in the
/// place of crates.io's (cargo reads configuration from where it runs, not from the
/// manifest's directory).
fn as_kernels_dir(work: &Path) -> Result<PathBuf> {
    let dir = work.join("as-kernels");
    let mut config =
        String::from("# Written by cargo xtask fuzz: the kernels' crates.\n[patch.crates-io]\n");
    for (name, path) in crate::kernel_rust::patched_crates()? {
        config.push_str(&format!("{name} = {{ path = \"{}\" }}\n", path.display()));
    }
    fs::create_dir_all(dir.join(".cargo"))?;
    fs::write(dir.join(".cargo/config.toml"), config)?;
    Ok(dir)
}

/// Replay each target's committed corpus, then fuzz it for `seconds`; fails on a crash.
pub fn run_all(seconds: u64, sanitizer: Sanitizer) -> Result<Vec<Outcome>> {
    ensure_tools()?;
    let dir = root_dir().join("rinet/fuzz");
    let work = cache_dir().join("fuzz");
    let toolchain = format!("+{NIGHTLY}");
    let cwd = as_kernels_dir(&work)?;
    // cargo records the patched crate in the lock file as a path: put it back.
    let lock = dir.join("Cargo.lock");
    let saved = fs::read(&lock)?;
    let r = fuzz_each(&dir, &work, &cwd, &toolchain, seconds, sanitizer);
    fs::write(&lock, saved)?;
    r
}

fn fuzz_each(
    dir: &Path,
    work: &Path,
    cwd: &Path,
    toolchain: &str,
    seconds: u64,
    sanitizer: Sanitizer,
) -> Result<Vec<Outcome>> {
    let target_dir = work.join("target");
    let fuzz_dir = dir.to_string_lossy();
    let sanitizer = match sanitizer {
        Sanitizer::Address => "address",
        Sanitizer::None => "none",
    };
    let mut outcomes = Vec::new();
    for target in TARGETS {
        let scratch = work.join("corpus").join(target);
        let artifacts = work.join("artifacts").join(target);
        for d in [&scratch, &artifacts] {
            fs::create_dir_all(d)?;
        }
        let committed: PathBuf = dir.join("corpus").join(target);
        let prefix = format!("-artifact_prefix={}/", artifacts.display());
        let time = format!("-max_total_time={seconds}");
        let args = [
            toolchain,
            "fuzz",
            "run",
            "--fuzz-dir",
            &fuzz_dir,
            "-O",
            "-a",
            "-s",
            sanitizer,
            target,
            &scratch.to_string_lossy(),
            &committed.to_string_lossy(),
            "--",
            &time,
            &prefix,
            "-print_final_stats=1",
        ];
        eprintln!("+ cargo {}", args.join(" "));
        let out = Command::new("cargo")
            .args(args)
            .current_dir(cwd)
            .env("CARGO_TARGET_DIR", &target_dir)
            .output_ctx()?;
        let log = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            let tail: Vec<&str> = log.lines().rev().take(60).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            bail!(
                "fuzz target {target} failed (artifacts in {}):\n{}",
                artifacts.display(),
                tail.join("\n")
            );
        }
        let stat = |name: &str| {
            log.lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(0)
        };
        let o = Outcome {
            target,
            executions: stat("stat::number_of_executed_units:"),
            seconds,
        };
        println!(
            "fuzz: {} {} executions in {} s, no crash (committed corpus replayed first)",
            o.target, o.executions, o.seconds
        );
        outcomes.push(o);
    }
    Ok(outcomes)
}
