//! A busybox for the STM32F429 image's size: busybox 1.35.0 (Debian's source tarball)
//! configured with the image's applets (`xtask/busybox/tinyrust-applets.config`: NOMMU,
//! hush, the network tools, httpd with CGI), compiled as Thumb-2 for ARMv7-M by Debian's
//! `arm-linux-gnueabi-gcc` and linked statically against Debian's armel musl.
//!
//! It measures what the image's busybox costs in flash; it does not run on the board:
//! musl's armel objects are ARMv5TE ARM code and the board needs FDPIC or flat binaries,
//! which no packaged toolchain here produces. The busybox part is the real Thumb-2 code;
//! the C library part is musl in ARM mode, a little larger than Thumb-2 musl would be.

use std::path::{Path, PathBuf};

use crate::kernel::cache_dir;
use crate::util::{output, root_dir, run};

const VERSION: &str = "1.35.0";
const TARBALL_URL: &str =
    "http://deb.debian.org/debian/pool/main/b/busybox/busybox_1.35.0.orig.tar.bz2";
const TARBALL_SHA256: &str = "faeeb244c35a348a334f4a59e44626ee870fb07b6884d68c10ae8bc19f83a694";

const CFLAGS: &str = "-mthumb -march=armv7-m -mfloat-abi=soft";

fn config_fragment() -> PathBuf {
    root_dir().join("xtask/busybox/tinyrust-applets.config")
}

/// The unpacked source, downloaded once and checked against its sha256.
fn source(cache: &Path) -> Result<PathBuf, String> {
    let src = cache.join(format!("busybox-{VERSION}"));
    if src.join("Makefile").exists() {
        return Ok(src);
    }
    let tarball = cache.join(format!("busybox_{VERSION}.orig.tar.bz2"));
    let t = tarball.to_string_lossy().into_owned();
    run("curl", &["-sSfL", "-o", &t, TARBALL_URL], cache, &[])?;
    let sum = output("sha256sum", &[&t], cache, &[])?;
    if sum.split_whitespace().next() != Some(TARBALL_SHA256) {
        let _ = std::fs::remove_file(&tarball);
        return Err(format!("{TARBALL_URL}: sha256 mismatch ({})", sum.trim()));
    }
    run("tar", &["xjf", &t], cache, &[])?;
    Ok(src)
}

/// A compiler wrapper: Debian's ARM cross gcc with musl's headers and start files instead
/// of glibc's, the kernel's UAPI headers from the cross libc, Thumb-2 for ARMv7-M.
fn write_cc(cache: &Path, musl: &Path) -> Result<PathBuf, String> {
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
    std::fs::create_dir_all(&uapi).map_err(|e| e.to_string())?;
    for d in ["linux", "asm", "asm-generic"] {
        let link = uapi.join(d);
        if !link.exists() {
            std::os::unix::fs::symlink(Path::new("/usr/arm-linux-gnueabi/include").join(d), &link)
                .map_err(|e| e.to_string())?;
        }
    }
    let inc = musl.join("usr/include/arm-linux-musleabi");
    let lib = musl.join("usr/lib/arm-linux-musleabi");
    let cc = cache.join("arm-musl-cc");
    let script = format!(
        "#!/bin/sh\n\
         # Compile and partial links: no start files or libraries.\n\
         for a in \"$@\"; do case \"$a\" in -c|-E|-S|-r|-Wl,-r)\n\
         exec arm-linux-gnueabi-gcc {CFLAGS} -nostdinc -isystem {inc} -isystem {uapi} -isystem {gi} \"$@\";;\n\
         esac; done\n\
         exec arm-linux-gnueabi-gcc {CFLAGS} -nostdinc -nostdlib -static {lib}/crt1.o {lib}/crti.o \
         \"$@\" {lib}/libc.a {libgcc} {lib}/crtn.o\n",
        inc = inc.display(),
        uapi = uapi.display(),
        gi = gcc_include.trim(),
        lib = lib.display(),
        libgcc = libgcc.trim(),
    );
    std::fs::write(&cc, script).map_err(|e| e.to_string())?;
    run("chmod", &["+x", &cc.to_string_lossy()], cache, &[])?;
    Ok(cc)
}

/// `make allnoconfig`, then the fragment's symbols replace what allnoconfig wrote (a
/// choice needs its other members switched off too), then every symbol is checked.
fn configure(src: &Path) -> Result<(), String> {
    run("make", &["allnoconfig"], src, &[])?;
    let frag = std::fs::read_to_string(config_fragment()).map_err(|e| e.to_string())?;
    let symbol = |l: &str| -> Option<String> {
        let l = l.trim();
        let s = l
            .strip_prefix("# ")
            .and_then(|r| r.strip_suffix(" is not set"))
            .unwrap_or(l);
        s.starts_with("CONFIG_")
            .then(|| s.split('=').next().unwrap_or_default().to_string())
    };
    let want: Vec<(String, String)> = frag
        .lines()
        .filter_map(|l| symbol(l).map(|s| (s, l.trim().to_string())))
        .collect();
    let config = src.join(".config");
    let old = std::fs::read_to_string(&config).map_err(|e| e.to_string())?;
    let mut lines: Vec<String> = old
        .lines()
        .filter(|l| symbol(l).is_none_or(|s| !want.iter().any(|(w, _)| *w == s)))
        .map(str::to_string)
        .collect();
    lines.extend(want.iter().map(|(_, l)| l.clone()));
    std::fs::write(&config, lines.join("\n") + "\n").map_err(|e| e.to_string())?;
    // Answer every new question with its default.
    run(
        "sh",
        &["-c", "yes '' | make oldconfig >/dev/null"],
        src,
        &[],
    )?;
    let now = std::fs::read_to_string(&config).map_err(|e| e.to_string())?;
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
        Err(format!("busybox config not honoured: {bad:?}"))
    }
}

/// Build (cached) and return the stripped binary.
pub fn build() -> Result<PathBuf, String> {
    let cache = cache_dir().join("busybox-armv7m");
    std::fs::create_dir_all(&cache).map_err(|e| e.to_string())?;
    let musl = cache.join("musl-armel");
    crate::deps::foreign_package("armel", "musl-dev", &musl)?;
    let src = source(&cache)?;
    let cc = write_cc(&cache, &musl)?;
    let frag = std::fs::read(config_fragment()).map_err(|e| e.to_string())?;
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
        std::fs::write(&stamp, frag).map_err(|e| e.to_string())?;
    }
    Ok(bin)
}
