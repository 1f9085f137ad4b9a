//! The Rust side of every kernel build, as the Yocto kernel recipe provides it: the Rust
//! version openembedded-core ships (rinet-kernel/rust-toolchain.toml), and the crates
//! vendored from the recipe's own `crate://` list (linux-tinyrust-crates.inc) the way
//! bitbake's crate fetcher and oe-core's cargo_common lay them out, so that cargo builds
//! offline and `--frozen`. The kernel tree's Kbuild then runs cargo, for the host tool as
//! for the recipe (rinet-kernel/glue/Makefile).
//!
//! What stands in for what the recipe has: rustup's `rust-src` of the same version for
//! the library sources of oe-core's rustc tarball.

use crate::util::fs;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

use crate::util::{cache_dir, output, root_dir, run};

pub const TOOLCHAIN_FILE: &str = "rinet-kernel/rust-toolchain.toml";
pub const CRATES_INC: &str = "meta-tinyrust/recipes-kernel/linux/linux-tinyrust-crates.inc";

/// The Rust version the kernel staticlib is built with.
pub fn toolchain() -> Result<String> {
    let path = root_dir().join(TOOLCHAIN_FILE);
    let text = fs::read_to_string(&path)?;
    channel(&text).with_context(|| format!("{}: no `channel = \"...\"`", path.display()))
}

fn channel(toml: &str) -> Option<String> {
    toml.lines().find_map(|l| {
        let v = l.trim().strip_prefix("channel")?.trim().strip_prefix('=')?;
        Some(v.trim().trim_matches('"').to_string())
    })
}

/// The sysroot of toolchain `ch` (where rust-src puts the library sources).
fn sysroot_of(ch: &str) -> Result<PathBuf> {
    let s = output(
        "rustup",
        &["run", ch, "rustc", "--print", "sysroot"],
        Path::new("."),
        &[],
    )?;
    Ok(PathBuf::from(s.trim()))
}

/// Installs the toolchain with its library sources (what -Zbuild-std compiles) and
/// rustfmt (the toolchain file makes it the one `cargo fmt` runs in rinet-kernel/).
pub fn ensure_toolchain() -> Result<String> {
    let ch = toolchain()?;
    let complete = sysroot_of(&ch).is_ok_and(|s| {
        s.join("lib/rustlib/src/rust/library/Cargo.lock").exists() && s.join("bin/rustfmt").exists()
    });
    if !complete {
        run(
            "rustup",
            &[
                "toolchain",
                "install",
                &ch,
                "--profile",
                "minimal",
                "--component",
                "rust-src",
                "--component",
                "rustfmt",
            ],
            Path::new("."),
            &[],
        )?;
    }
    Ok(ch)
}

/// The kernel toolchain's sysroot, installed if missing.
pub fn sysroot() -> Result<PathBuf> {
    sysroot_of(&ensure_toolchain()?)
}

/// The library sources' Cargo.lock of the kernel toolchain (the std workspace that
/// -Zbuild-std resolves).
pub fn library_lock() -> Result<PathBuf> {
    Ok(sysroot()?.join("lib/rustlib/src/rust/library/Cargo.lock"))
}

/// One `crate://crates.io/NAME/VERSION` source of the recipe, with its sha256.
#[derive(Debug, PartialEq, Eq)]
pub struct Crate {
    pub name: String,
    pub version: String,
    pub sha256: String,
}

/// The crates of linux-tinyrust-crates.inc: every `crate://` URL and the
/// `SRC_URI[NAME-VERSION.sha256sum]` that goes with it (an URL without one is an error,
/// as it is for bitbake's fetcher).
pub fn recipe_crates(inc: &str) -> Result<Vec<Crate>> {
    let mut out = Vec::new();
    for word in inc.split_whitespace() {
        let Some(rest) = word.trim_matches('"').strip_prefix("crate://crates.io/") else {
            continue;
        };
        let Some((name, version)) = rest.split_once('/') else {
            bail!("crate URL without a version: {word}");
        };
        let key = format!("SRC_URI[{name}-{version}.sha256sum]");
        let sha256 = inc
            .lines()
            .find_map(|l| {
                l.trim()
                    .strip_prefix(&key)?
                    .trim()
                    .strip_prefix('=')
                    .map(|v| v.trim().trim_matches('"').to_string())
            })
            .with_context(|| format!("{CRATES_INC}: no {key}"))?;
        out.push(Crate {
            name: name.to_string(),
            version: version.to_string(),
            sha256,
        });
    }
    Ok(out)
}

fn sha256(path: &Path) -> Result<String> {
    let p = path.to_string_lossy().into_owned();
    let out = output("sha256sum", &[&p], Path::new("."), &[])?;
    Ok(out
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string())
}

/// The cargo home the kernel build uses: the recipe's crates unpacked as bitbake's crate
/// fetcher unpacks them (`NAME-VERSION/` with a `.cargo-checksum.json` that holds the
/// package's sha256) and a `config.toml` that replaces crates.io with that directory, as
/// cargo_common_do_configure writes it. Downloads are checked against the recipe's sha256.
pub fn vendored_cargo_home() -> Result<PathBuf> {
    let inc_path = root_dir().join(CRATES_INC);
    let inc = fs::read_to_string(&inc_path)?;
    let crates = recipe_crates(&inc)?;
    let downloads = cache_dir().join("downloads");
    let home = cache_dir().join("cargo-home");
    let vendor = home.join("bitbake");
    fs::create_dir_all(&downloads)?;
    fs::create_dir_all(&vendor)?;
    let mut wanted = Vec::new();
    for c in &crates {
        let dir_name = format!("{}-{}", c.name, c.version);
        wanted.push(dir_name.clone());
        let unpacked = vendor.join(&dir_name);
        let checksum_file = unpacked.join(".cargo-checksum.json");
        let checksum_json = format!("{{\"files\":{{}},\"package\":\"{}\"}}", c.sha256);
        if std::fs::read_to_string(&checksum_file).ok().as_deref() == Some(checksum_json.as_str()) {
            continue;
        }
        let file = downloads.join(format!("{dir_name}.crate"));
        if !file.exists() || sha256(&file)? != c.sha256 {
            let url = format!(
                "https://static.crates.io/crates/{}/{dir_name}.crate",
                c.name
            );
            let tmp = file.with_extension("part");
            let t = tmp.to_string_lossy().into_owned();
            run(
                "curl",
                &["-fsSL", "--retry", "3", "-o", &t, &url],
                Path::new("."),
                &[],
            )?;
            let got = sha256(&tmp)?;
            if got != c.sha256 {
                let _ = std::fs::remove_file(&tmp);
                bail!("{url}: sha256 {got}, but {CRATES_INC} says {}", c.sha256);
            }
            fs::rename(&tmp, &file)?;
        }
        let _ = std::fs::remove_dir_all(&unpacked);
        let f = file.to_string_lossy().into_owned();
        let v = vendor.to_string_lossy().into_owned();
        run("tar", &["xzf", &f, "-C", &v], Path::new("."), &[])?;
        fs::write(&checksum_file, checksum_json)?;
    }
    // Only what the recipe lists: a crate left over from an older list must not satisfy
    // the build here when the recipe would not have it.
    for p in fs::read_dir(&vendor)? {
        let name = p
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        if !wanted.contains(&name) {
            fs::remove_dir_all(&p)?;
        }
    }
    let config = format!(
        "# As oe-core's cargo_common_do_configure writes it: crates.io replaced by the\n\
         # crates the recipe lists, nothing fetched.\n\
         [source.bitbake]\ndirectory = \"{}\"\n\n\
         [source.crates-io]\nreplace-with = \"bitbake\"\nlocal-registry = \"/nonexistent\"\n\n\
         [net]\noffline = true\n",
        vendor.display()
    );
    fs::write(home.join("config.toml"), config)?;
    Ok(home)
}

/// Where rinet's patches to crates live: one directory per crate, `NAME-VERSION/`, whose
/// `.patch` files `place-in-tree.sh` applies, in name order, to the vendored crate that
/// the kernels build (the recipe's and the host tool's alike).
pub const CRATE_PATCHES: &str = "rinet-kernel/patches";

/// Each patched crate (name, directory) as the kernels build it: the recipe's crate,
/// checked against its sha256, unpacked afresh into a directory named after the patch
/// set, with the patches applied. For the host's tests, so that they run the smoltcp the
/// kernels run (see `cargo_as_kernels`).
pub fn patched_crates() -> Result<Vec<(String, PathBuf)>> {
    let home = vendored_cargo_home()?;
    let mut out = Vec::new();
    let mut dirs: Vec<PathBuf> = fs::read_dir(root_dir().join(CRATE_PATCHES))?
        .into_iter()
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    for dir in dirs {
        let crate_dir = dir
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let Some((name, _)) = crate_dir.rsplit_once('-') else {
            bail!("{}: not NAME-VERSION", dir.display());
        };
        let mut patches: Vec<PathBuf> = fs::read_dir(&dir)?
            .into_iter()
            .filter(|p| p.extension().is_some_and(|x| x == "patch"))
            .collect();
        patches.sort();
        let id = crate::util::hash_files(&patches)?;
        let base = cache_dir().join("patched-crates").join(&id);
        let unpacked = base.join(&crate_dir);
        let done = base.join(format!("{crate_dir}.applied"));
        if !done.exists() {
            let _ = std::fs::remove_dir_all(&base);
            fs::create_dir_all(&base)?;
            let file = cache_dir()
                .join("downloads")
                .join(format!("{crate_dir}.crate"));
            if !home.join("bitbake").join(&crate_dir).exists() || !file.exists() {
                bail!("{crate_dir}: patched, but not among the recipe's crates ({CRATES_INC})");
            }
            let (f, b) = (file.to_string_lossy(), base.to_string_lossy());
            run("tar", &["xzf", &f, "-C", &b], Path::new("."), &[])?;
            for p in &patches {
                let p = p.to_string_lossy();
                let u = unpacked.to_string_lossy();
                run(
                    "patch",
                    &["-d", &u, "-p1", "-N", "-s", "-i", &p],
                    Path::new("."),
                    &[],
                )?;
            }
            fs::write(&done, "")?;
        }
        out.push((name.to_string(), unpacked));
    }
    Ok(out)
}

/// `cargo ARGS` in the workspace with the patched crates of `patched_crates` in the
/// place of crates.io's, as the kernels have them, and RINET_KERNEL_SMOLTCP set in the
/// environment. cargo records a patched crate in Cargo.lock as a path dependency; the
/// lock file is put back afterwards.
pub fn cargo_as_kernels(args: &[&str]) -> Result<()> {
    let root = root_dir();
    let lock = root.join("Cargo.lock");
    let saved = fs::read(&lock)?;
    // Before the subcommand: cargo's own options, never the test binary's.
    let mut full = Vec::new();
    for (name, dir) in patched_crates()? {
        full.push("--config".to_string());
        full.push(format!("patch.crates-io.{name}.path=\"{}\"", dir.display()));
    }
    full.extend(args.iter().map(|a| a.to_string()));
    let refs: Vec<&str> = full.iter().map(String::as_str).collect();
    // Tests that hold the patched TCP to tighter bounds look for this.
    let r = run("cargo", &refs, &root, &[("RINET_KERNEL_SMOLTCP", "1")]);
    fs::write(&lock, saved)?;
    r
}

/// The environment in which `make` builds a rinet kernel: what the kernel recipe gives
/// the same Makefile (rinet-kernel/glue/Makefile reads RINET_CARGO_FLAGS; cargo and rustc
/// are rustup's proxies, held to the pinned version).
pub fn make_env() -> Result<Vec<(String, String)>> {
    let ch = ensure_toolchain()?;
    let home = vendored_cargo_home()?;
    Ok(vec![
        ("RUSTUP_TOOLCHAIN".into(), ch),
        ("CARGO_HOME".into(), home.display().to_string()),
        ("RINET_CARGO_FLAGS".into(), "--frozen".into()),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_channel_is_read_from_the_toolchain_file() {
        assert_eq!(
            channel("[toolchain]\nchannel = \"1.94.1\"\nprofile = \"minimal\"\n").as_deref(),
            Some("1.94.1")
        );
        assert_eq!(channel("[toolchain]\n"), None);
        assert!(toolchain().is_ok());
    }

    #[test]
    fn recipe_crates_need_their_checksums() {
        let inc = "SRC_URI += \"crate://crates.io/managed/0.8.0 \\\n    crate://crates.io/libc/0.2.1\"\n\
                   SRC_URI[managed-0.8.0.sha256sum] = \"aa\"\nSRC_URI[libc-0.2.1.sha256sum] = \"bb\"\n";
        let c = recipe_crates(inc).unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c[1].name, "libc");
        assert_eq!(c[1].sha256, "bb");
        let missing = "SRC_URI += \"crate://crates.io/managed/0.8.0\"\n";
        assert!(recipe_crates(missing).is_err());
    }

    #[test]
    fn the_committed_crate_list_parses() {
        let inc = std::fs::read_to_string(root_dir().join(CRATES_INC)).unwrap();
        let c = recipe_crates(&inc).unwrap();
        assert!(c.iter().any(|c| c.name == "smoltcp"));
    }
}
