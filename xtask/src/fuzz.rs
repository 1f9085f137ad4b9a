//! `cargo xtask fuzz`: rinet's coverage-guided fuzzers (`rinet/fuzz`, cargo-fuzz with
//! libFuzzer): `rx_frame` (frames into a stack with live sockets of every kind) and
//! `socket_calls` (socket calls through the C ABI interleaved with the peer's segments,
//! frames and time). Each run first replays the corpus committed in `rinet/fuzz/corpus`,
//! then mutates for the time given; what it finds new goes to a scratch corpus under the
//! cache, a crash to `artifacts/` there. Both need a nightly toolchain (sanitizer
//! coverage), pinned here, and cargo-fuzz; both are installed when missing.

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

/// Replay each target's committed corpus, then fuzz it for `seconds`; fails on a crash.
pub fn run_all(seconds: u64) -> Result<Vec<Outcome>> {
    ensure_tools()?;
    let dir = root_dir().join("rinet/fuzz");
    let work = cache_dir().join("fuzz");
    let target_dir = work.join("target");
    let toolchain = format!("+{NIGHTLY}");
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
            toolchain.as_str(),
            "fuzz",
            "run",
            "-O",
            "-a",
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
            .current_dir(&dir)
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
