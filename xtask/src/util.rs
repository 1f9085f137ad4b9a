//! Running commands, finding the repository and the cache, file access whose errors name
//! the path.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};

use anyhow::{bail, Context, Result};

pub fn root_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the repo")
        .to_path_buf()
}

/// Where the tool keeps what it downloads and builds: `$XDG_CACHE_HOME/meta-tinyrust`, or
/// `~/.cache/meta-tinyrust`.
pub fn cache_dir() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    base.join("meta-tinyrust")
}

/// The command line as one string, and the directory it runs in, for error messages.
fn command_line(prog: &str, args: &[&str], dir: &Path) -> String {
    let mut s = prog.to_string();
    for a in args {
        s.push(' ');
        s.push_str(a);
    }
    format!("`{s}` in {}", dir.display())
}

/// A built [`Command`]'s line, and its directory if it sets one, for error messages.
fn described(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    match cmd.get_current_dir() {
        Some(d) => format!("`{s}` in {}", d.display()),
        None => format!("`{s}`"),
    }
}

/// `spawn` and `output` whose errors name the command line, for the commands the tool
/// builds itself (QEMU, servers, clients in a namespace).
pub trait CommandExt {
    fn spawn_ctx(&mut self) -> Result<Child>;
    fn output_ctx(&mut self) -> Result<Output>;
}

impl CommandExt for Command {
    fn spawn_ctx(&mut self) -> Result<Child> {
        self.spawn()
            .with_context(|| format!("starting {}", described(self)))
    }

    fn output_ctx(&mut self) -> Result<Output> {
        self.output()
            .with_context(|| format!("running {}", described(self)))
    }
}

/// Run a command, inheriting output; error if it fails.
pub fn run(prog: &str, args: &[&str], dir: &Path, env: &[(&str, &str)]) -> Result<()> {
    eprintln!("+ {prog} {}", args.join(" "));
    let status = Command::new(prog)
        .args(args)
        .current_dir(dir)
        .envs(env.iter().copied())
        .status()
        .with_context(|| format!("running {}", command_line(prog, args, dir)))?;
    if !status.success() {
        bail!("{} failed ({status})", command_line(prog, args, dir));
    }
    Ok(())
}

pub fn cargo(args: &[&str], dir: &Path) -> Result<()> {
    run("cargo", args, dir, &[])
}

/// Run a command and capture its stdout.
pub fn output(prog: &str, args: &[&str], dir: &Path, env: &[(&str, &str)]) -> Result<String> {
    let out = Command::new(prog)
        .args(args)
        .current_dir(dir)
        .envs(env.iter().copied())
        .output()
        .with_context(|| format!("running {}", command_line(prog, args, dir)))?;
    if !out.status.success() {
        bail!(
            "{} failed ({}): {}",
            command_line(prog, args, dir),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

pub fn is_root() -> bool {
    output("id", &["-u"], Path::new("."), &[]).is_ok_and(|s| s.trim() == "0")
}

/// Write `value` as pretty JSON to `path` (the reports' data beside their Markdown).
pub fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    let mut text = serde_json::to_string_pretty(value)
        .with_context(|| format!("serialising {}", path.display()))?;
    text.push('\n');
    fs::write(path, text)
}

/// Read back what [`write_json`] wrote.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = fs::read_to_string(path)?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

/// `std::fs` with errors that name the path.
pub mod fs {
    use std::path::Path;

    use anyhow::{Context, Result};

    pub fn read(p: impl AsRef<Path>) -> Result<Vec<u8>> {
        let p = p.as_ref();
        std::fs::read(p).with_context(|| format!("reading {}", p.display()))
    }

    pub fn read_to_string(p: impl AsRef<Path>) -> Result<String> {
        let p = p.as_ref();
        std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))
    }

    pub fn write(p: impl AsRef<Path>, data: impl AsRef<[u8]>) -> Result<()> {
        let p = p.as_ref();
        std::fs::write(p, data).with_context(|| format!("writing {}", p.display()))
    }

    pub fn create_dir_all(p: impl AsRef<Path>) -> Result<()> {
        let p = p.as_ref();
        std::fs::create_dir_all(p).with_context(|| format!("creating {}", p.display()))
    }

    pub fn remove_dir_all(p: impl AsRef<Path>) -> Result<()> {
        let p = p.as_ref();
        std::fs::remove_dir_all(p).with_context(|| format!("removing {}", p.display()))
    }

    pub fn rename(from: impl AsRef<Path>, to: impl AsRef<Path>) -> Result<()> {
        let (from, to) = (from.as_ref(), to.as_ref());
        std::fs::rename(from, to)
            .with_context(|| format!("renaming {} to {}", from.display(), to.display()))
    }

    pub fn metadata(p: impl AsRef<Path>) -> Result<std::fs::Metadata> {
        let p = p.as_ref();
        std::fs::metadata(p).with_context(|| format!("reading the metadata of {}", p.display()))
    }

    /// The paths of a directory's entries.
    pub fn read_dir(p: impl AsRef<Path>) -> Result<Vec<std::path::PathBuf>> {
        let p = p.as_ref();
        let mut out = Vec::new();
        for e in std::fs::read_dir(p).with_context(|| format!("listing {}", p.display()))? {
            out.push(
                e.with_context(|| format!("listing {}", p.display()))?
                    .path(),
            );
        }
        Ok(out)
    }

    pub fn create(p: impl AsRef<Path>) -> Result<std::fs::File> {
        let p = p.as_ref();
        std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))
    }
}

/// A short identity of the files' contents (not their paths).
pub fn hash_files(paths: &[PathBuf]) -> Result<String> {
    let mut args: Vec<&str> = vec![];
    let strs: Vec<String> = paths
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    args.extend(strs.iter().map(String::as_str));
    let out = output("sha256sum", &args, Path::new("."), &[])?;
    // Contents only: the same series from another checkout must not rebuild the tree.
    let sums: Vec<&str> = out
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    Ok(output_hash(&sums.join("\n")))
}

fn output_hash(text: &str) -> String {
    // FNV-1a over the listing: enough to notice a change.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    format!("{h:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_that_cannot_start_names_its_command_line() {
        let dir = std::env::temp_dir();
        let e = output("xtask-no-such-program", &["--flag", "arg"], &dir, &[]).unwrap_err();
        let msg = format!("{e:#}");
        assert!(
            msg.contains("`xtask-no-such-program --flag arg` in ")
                && msg.contains(&dir.display().to_string()),
            "{msg}"
        );
        let e = run("xtask-no-such-program", &["x"], &dir, &[]).unwrap_err();
        assert!(
            format!("{e:#}").contains("`xtask-no-such-program x`"),
            "{e:#}"
        );
    }

    #[test]
    fn a_command_that_fails_names_its_command_line_and_stderr() {
        let e = output("sh", &["-c", "echo oops >&2; exit 3"], Path::new("."), &[]).unwrap_err();
        let msg = format!("{e:#}");
        assert!(msg.contains("`sh -c echo oops >&2; exit 3`"), "{msg}");
        assert!(msg.contains("oops"), "{msg}");
    }

    #[test]
    fn a_built_command_that_cannot_start_names_its_command_line() {
        let e = Command::new("xtask-no-such-program")
            .args(["-x", "y"])
            .current_dir("/")
            .spawn_ctx()
            .unwrap_err();
        assert_eq!(
            format!("{e:#}").split(':').next().unwrap(),
            "starting `xtask-no-such-program -x y` in /"
        );
        let e = Command::new("xtask-no-such-program")
            .output_ctx()
            .unwrap_err();
        assert!(
            format!("{e:#}").starts_with("running `xtask-no-such-program`: "),
            "{e:#}"
        );
    }

    #[test]
    fn a_missing_file_names_its_path() {
        let p = std::env::temp_dir().join("xtask-no-such-dir/missing.json");
        let msg = format!("{:#}", fs::read_to_string(&p).unwrap_err());
        assert!(
            msg.starts_with(&format!("reading {}: ", p.display())),
            "{msg}"
        );
        let msg = format!("{:#}", read_json::<u32>(&p).unwrap_err());
        assert!(msg.contains(&p.display().to_string()), "{msg}");
        let msg = format!("{:#}", fs::write(&p, "x").unwrap_err());
        assert!(
            msg.starts_with(&format!("writing {}: ", p.display())),
            "{msg}"
        );
    }
}
