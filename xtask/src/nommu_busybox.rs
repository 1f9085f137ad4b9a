//! The ARMv7-M user space: busybox 1.37.0 (Debian's source tarball, the same file as
//! oe-core wrynose's) with the device's configuration, the distro layer's own
//! (`meta-tinyrust-distro/recipes-core/busybox/busybox/`: tinyrust.cfg and nommu.cfg on
//! `make allnoconfig`, as its busybox append does), compiled as Thumb-2 for ARMv7-M by
//! Debian's `arm-linux-gnueabi-gcc` and linked as a static PIE against musl 1.2.5
//! (Debian's source tarball; oe-core wrynose has 1.2.6) built here the same way.
//!
//! A kernel without an MMU runs a static PIE through binfmt_elf_fdpic (any non-FDPIC ELF
//! it loads must be position independent), so this busybox runs on the STM32F429 kernel
//! and on its QEMU stand-in (`mps2`). musl needs one change for M-profile cores, the
//! distro layer's musl patch (the thread pointer comes from the kernel's get_tls call, as
//! there is no CP15).

use crate::util::fs;
use anyhow::{anyhow, bail, Context, Result};
use std::path::{Path, PathBuf};

use crate::util::{cache_dir, output, root_dir, run};

const VERSION: &str = "1.37.0";
const TARBALL_URL: &str =
    "http://deb.debian.org/debian/pool/main/b/busybox/busybox_1.37.0.orig.tar.bz2";
const TARBALL_SHA256: &str = "3311dff32e746499f4df0d5df04d7eb396382d7e108bb9250e7b519b837043a4";

const MUSL_VERSION: &str = "1.2.5";
const MUSL_URL: &str = "http://deb.debian.org/debian/pool/main/m/musl/musl_1.2.5.orig.tar.gz";
const MUSL_SHA256: &str = "a9a118bbe84d8764da0ea0d28b3ab3fae8477fc7e4085d90102b8596fc7c75e4";

const CFLAGS: &str = "-mthumb -march=armv7-m -mfloat-abi=soft";

/// The distro layer's busybox configuration for a machine without an MMU, in merge order
/// (a later fragment's value wins).
fn config_fragments() -> [PathBuf; 2] {
    let dir = root_dir().join("meta-tinyrust-distro/recipes-core/busybox/busybox");
    [dir.join("tinyrust.cfg"), dir.join("nommu.cfg")]
}

/// The distro layer's musl patch for M-profile cores.
fn musl_patch() -> PathBuf {
    root_dir().join(
        "meta-tinyrust-distro/recipes-core/musl/musl/0001-arm-read-the-thread-pointer-with-get_tls-on-M-profile.patch",
    )
}

fn read(path: &Path) -> Result<String> {
    fs::read_to_string(path)
}

/// `url` downloaded into `cache` once and checked against its sha256.
fn download(cache: &Path, url: &str, sha256: &str) -> Result<PathBuf> {
    let name = url.rsplit('/').next().unwrap_or("download");
    let tarball = cache.join(name);
    if tarball.exists() {
        return Ok(tarball);
    }
    let part = cache.join(format!("{name}.part"));
    let t = part.to_string_lossy().into_owned();
    run("curl", &["-sSfL", "-o", &t, url], cache, &[])?;
    let sum = output("sha256sum", &[&t], cache, &[])?;
    if sum.split_whitespace().next() != Some(sha256) {
        let _ = std::fs::remove_file(&part);
        bail!("{url}: sha256 mismatch ({})", sum.trim());
    }
    fs::rename(&part, &tarball)?;
    Ok(tarball)
}

/// The unpacked busybox source.
fn source(cache: &Path) -> Result<PathBuf> {
    let src = cache.join(format!("busybox-{VERSION}"));
    if src.join("Makefile").exists() {
        return Ok(src);
    }
    let t = download(cache, TARBALL_URL, TARBALL_SHA256)?;
    run("tar", &["xjf", &t.to_string_lossy()], cache, &[])?;
    Ok(src)
}

/// musl for ARMv7-M, installed under the cache (rebuilt when the patch or flags change).
fn musl(cache: &Path) -> Result<PathBuf> {
    let prefix = cache.join("musl-armv7m");
    let patch = musl_patch();
    let want = format!("{MUSL_VERSION} {CFLAGS}\n{}", read(&patch)?);
    let stamp = prefix.join(".tinyrust-build");
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(want.as_str()) {
        return Ok(prefix);
    }
    let tarball = download(cache, MUSL_URL, MUSL_SHA256)?;
    let src = cache.join(format!("musl-{MUSL_VERSION}"));
    let _ = std::fs::remove_dir_all(&src);
    let _ = std::fs::remove_dir_all(&prefix);
    run("tar", &["xzf", &tarball.to_string_lossy()], cache, &[])?;
    run("patch", &["-p1", "-i", &patch.to_string_lossy()], &src, &[])?;
    let cflags = format!("CFLAGS={CFLAGS} -Os -fomit-frame-pointer");
    let pfx = format!("--prefix={}", prefix.display());
    run(
        "./configure",
        &[
            "--target=arm-linux-musleabi",
            &pfx,
            "--disable-shared",
            "CC=arm-linux-gnueabi-gcc",
            "AR=arm-linux-gnueabi-ar",
            "RANLIB=arm-linux-gnueabi-ranlib",
            &cflags,
        ],
        &src,
        &[],
    )?;
    let jobs = format!(
        "-j{}",
        std::thread::available_parallelism().map_or(2, |n| n.get())
    );
    run("make", &[&jobs], &src, &[])?;
    run("make", &["install"], &src, &[])?;
    fs::write(&stamp, want)?;
    Ok(prefix)
}

/// A compiler wrapper: Debian's ARM cross gcc with musl's headers and start files instead
/// of glibc's, the kernel's UAPI headers from the cross libc, Thumb-2 for ARMv7-M, position
/// independent code linked as a static PIE (rcrt1.o relocates it at start-up).
fn write_cc(cache: &Path, musl: &Path) -> Result<PathBuf> {
    let gcc_include = output(
        "arm-linux-gnueabi-gcc",
        &["-print-file-name=include"],
        cache,
        &[],
    )?;
    let libgcc = output(
        "arm-linux-gnueabi-gcc",
        &["-print-libgcc-file-name"],
        cache,
        &[],
    )?;
    // Only linux/, asm/ and asm-generic/ of the cross sysroot: its libc headers are glibc's.
    let uapi = cache.join("uapi");
    fs::create_dir_all(&uapi)?;
    for d in ["linux", "asm", "asm-generic"] {
        let link = uapi.join(d);
        if !link.exists() {
            std::os::unix::fs::symlink(Path::new("/usr/arm-linux-gnueabi/include").join(d), &link)
                .with_context(|| format!("linking {}", link.display()))?;
        }
    }
    let inc = musl.join("include");
    let lib = musl.join("lib");
    let cc = cache.join("arm-musl-cc");
    // The cross gcc's start files and C library are glibc's: the wrapper names musl's
    // and links them as a static PIE itself (nommu.cfg's -static-pie agrees).
    let script = format!(
        "#!/bin/sh\n\
         # Compile and partial links: no start files or libraries.\n\
         for a in \"$@\"; do case \"$a\" in -c|-E|-S|-r|-Wl,-r)\n\
         exec arm-linux-gnueabi-gcc {CFLAGS} -fPIE -nostdinc -isystem {inc} -isystem {uapi} -isystem {gi} \"$@\";;\n\
         esac; done\n\
         exec arm-linux-gnueabi-gcc {CFLAGS} -fPIE -nostdinc -nostdlib -pie \
         -Wl,-Bstatic,--no-dynamic-linker,-z,text {lib}/rcrt1.o {lib}/crti.o \
         \"$@\" -Wl,--start-group {lib}/libc.a {libgcc} -Wl,--end-group {lib}/crtn.o\n",
        inc = inc.display(),
        uapi = uapi.display(),
        gi = gcc_include.trim(),
        lib = lib.display(),
        libgcc = libgcc.trim(),
    );
    fs::write(&cc, script)?;
    run("chmod", &["+x", &cc.to_string_lossy()], cache, &[])?;
    Ok(cc)
}

/// `make allnoconfig`, then the fragments' symbols replace what allnoconfig wrote, as
/// merge_config.sh -m does in the busybox append (a choice needs its other members
/// switched off too), then every symbol is checked.
fn configure(src: &Path) -> Result<()> {
    run("make", &["allnoconfig"], src, &[])?;
    let mut frag = String::new();
    for f in config_fragments() {
        frag.push_str(&read(&f)?);
    }
    let symbol = |l: &str| -> Option<String> {
        let l = l.trim();
        let s = l
            .strip_prefix("# ")
            .and_then(|r| r.strip_suffix(" is not set"))
            .unwrap_or(l);
        s.starts_with("CONFIG_")
            .then(|| s.split('=').next().unwrap_or_default().to_string())
    };
    // The last value of a symbol wins.
    let mut want: Vec<(String, String)> = Vec::new();
    for (s, l) in frag
        .lines()
        .filter_map(|l| symbol(l).map(|s| (s, l.trim().to_string())))
    {
        want.retain(|(w, _)| *w != s);
        want.push((s, l));
    }
    let config = src.join(".config");
    let old = fs::read_to_string(&config)?;
    let mut lines: Vec<String> = old
        .lines()
        .filter(|l| symbol(l).is_none_or(|s| !want.iter().any(|(w, _)| *w == s)))
        .map(str::to_string)
        .collect();
    lines.extend(want.iter().map(|(_, l)| l.clone()));
    fs::write(&config, lines.join("\n") + "\n")?;
    // Answer every new question with its default.
    run(
        "sh",
        &["-c", "yes '' | make oldconfig >/dev/null"],
        src,
        &[],
    )?;
    let now = fs::read_to_string(&config)?;
    let bad: Vec<&String> = want
        .iter()
        .filter(|(s, l)| {
            if l.starts_with('#') {
                now.lines().any(|c| c.starts_with(&format!("{s}=")))
            } else {
                !now.lines().any(|c| c == l)
            }
        })
        .map(|(_, l)| l)
        .collect();
    if bad.is_empty() {
        Ok(())
    } else {
        Err(anyhow!("busybox config not honoured: {bad:?}"))
    }
}

/// Build (cached) and return the stripped binary.
pub fn build() -> Result<PathBuf> {
    let cache = cache_dir().join("busybox-armv7m");
    fs::create_dir_all(&cache)?;
    let musl = musl(&cache)?;
    let src = source(&cache)?;
    let cc = write_cc(&cache, &musl)?;
    // The wrapper and the C library are part of what the binary is built from.
    let mut frag = Vec::new();
    for f in config_fragments() {
        frag.extend(read(&f)?.into_bytes());
    }
    frag.extend(fs::read(&cc)?);
    frag.extend(fs::read(musl.join(".tinyrust-build"))?);
    let stamp = src.join(".tinyrust-config");
    let bin = src.join("busybox");
    if std::fs::read(&stamp).ok() != Some(frag.clone()) || !bin.exists() {
        let _ = std::fs::remove_file(&stamp);
        run("make", &["clean"], &src, &[])?;
        configure(&src)?;
        let jobs = format!(
            "-j{}",
            std::thread::available_parallelism().map_or(2, |n| n.get())
        );
        let cc_arg = format!("CC={}", cc.display());
        run(
            "make",
            &[
                &jobs,
                &cc_arg,
                "CROSS_COMPILE=arm-linux-gnueabi-",
                "busybox",
            ],
            &src,
            &[],
        )?;
        fs::write(&stamp, frag)?;
    }
    Ok(bin)
}
