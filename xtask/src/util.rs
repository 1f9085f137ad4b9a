//! Running commands, finding the repository.

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn root_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the repo")
        .to_path_buf()
}

/// Run a command, inheriting output; error if it fails.
pub fn run(prog: &str, args: &[&str], dir: &Path, env: &[(&str, &str)]) -> Result<(), String> {
    eprintln!("+ {prog} {}", args.join(" "));
    let status = Command::new(prog)
        .args(args)
        .current_dir(dir)
        .envs(env.iter().copied())
        .status()
        .map_err(|e| format!("{prog}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{prog} {} failed ({status})", args.join(" ")))
    }
}

pub fn cargo(args: &[&str], dir: &Path) -> Result<(), String> {
    run("cargo", args, dir, &[])
}

/// Run a command and capture its stdout.
pub fn output(
    prog: &str,
    args: &[&str],
    dir: &Path,
    env: &[(&str, &str)],
) -> Result<String, String> {
    let out = Command::new(prog)
        .args(args)
        .current_dir(dir)
        .envs(env.iter().copied())
        .output()
        .map_err(|e| format!("{prog}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{prog} {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

pub fn is_root() -> bool {
    output("id", &["-u"], Path::new("."), &[]).is_ok_and(|s| s.trim() == "0")
}

/// Write `value` as pretty JSON to `path` (the reports' data beside their Markdown).
pub fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<(), String> {
    let mut text = serde_json::to_string_pretty(value).map_err(|e| e.to_string())?;
    text.push('\n');
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Read back what [`write_json`] wrote.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}
