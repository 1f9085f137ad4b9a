//! The test initramfs: Debian's busybox-static (the i386 build for Galileo; for the
//! ARMv7-M kernels a Thumb-2 build, see `nommu_busybox`), the image's /init and web content from
//! the distro layer (one copy, shared with the Yocto image), plus whatever a test adds.
//! Written as a newc cpio by hand so no file needs to be owned by root on the host.

use crate::util::fs;
use anyhow::Result;
use std::path::{Path, PathBuf};

use crate::kernel::Arch;
use crate::util::{root_dir, run};

pub struct Entry {
    pub path: String,
    pub mode: u32,
    pub data: Vec<u8>,
}

pub fn file(path: &str, mode: u32, data: Vec<u8>) -> Entry {
    Entry {
        path: path.trim_start_matches('/').to_string(),
        mode: 0o100000 | mode,
        data,
    }
}

fn dir(path: &str) -> Entry {
    Entry {
        path: path.trim_start_matches('/').to_string(),
        mode: 0o040755,
        data: Vec::new(),
    }
}

fn symlink(path: &str, target: &str) -> Entry {
    Entry {
        path: path.trim_start_matches('/').to_string(),
        mode: 0o120777,
        data: target.as_bytes().to_vec(),
    }
}

fn pad4(out: &mut Vec<u8>) {
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
}

fn cpio(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    let trailer = Entry {
        path: "TRAILER!!!".into(),
        mode: 0,
        data: Vec::new(),
    };
    for (ino, e) in entries.iter().chain(std::iter::once(&trailer)).enumerate() {
        let name_len = e.path.len() + 1;
        let nlink = if e.mode & 0o170000 == 0o040000 { 2 } else { 1 };
        let fields = [
            ino as u32 + 1,
            e.mode,
            0,
            0,
            nlink,
            0,
            e.data.len() as u32,
            0,
            0,
            0,
            0,
            name_len as u32,
            0,
        ];
        out.extend_from_slice(b"070701");
        for f in fields {
            out.extend_from_slice(format!("{f:08x}").as_bytes());
        }
        out.extend_from_slice(e.path.as_bytes());
        out.push(0);
        pad4(&mut out);
        out.extend_from_slice(&e.data);
        pad4(&mut out);
    }
    out
}

fn read(p: &Path) -> Result<Vec<u8>> {
    fs::read(p)
}

/// The script the image runs as its last step, once the guest has its address
/// (rc.ready in the distro layer runs /etc/tinyrust/rc.local).
pub fn rc_local(script: &[u8]) -> Entry {
    file("etc/tinyrust/rc.local", 0o755, script.to_vec())
}

/// A CGI program that busybox httpd serves as /cgi-bin/`name`.
pub fn cgi(name: &str, script: &[u8]) -> Entry {
    file(&format!("www/cgi-bin/{name}"), 0o755, script.to_vec())
}

/// A file of the image's base (tinyrust-base in the distro layer): /init, the scripts, the
/// page and the CGI.
pub fn base_file(name: &str) -> PathBuf {
    root_dir()
        .join("meta-tinyrust-distro/recipes-core/tinyrust-base/files")
        .join(name)
}

/// The base image plus `extra`, gzipped, at `out`.
pub fn build(arch: Arch, out: &Path, extra: Vec<Entry>) -> Result<PathBuf> {
    let busybox = match arch {
        Arch::X86_64 => {
            let b = PathBuf::from("/bin/busybox");
            if !b.exists() {
                run(
                    "apt-get",
                    &["install", "-y", "-q", "busybox-static"],
                    Path::new("."),
                    &[],
                )?;
            }
            b
        }
        Arch::Galileo => crate::deps::i386_busybox()?,
        // Thumb-2, static PIE on musl: runs on the ARMv7-M kernels (see nommu_busybox).
        Arch::Stm32 | Arch::Mps2 => crate::nommu_busybox::build()?,
    };
    let busybox = busybox.as_path();
    let mut entries = vec![];
    for d in [
        "bin",
        "sbin",
        "usr",
        "usr/bin",
        "usr/sbin",
        "etc",
        "etc/tinyrust",
        "www",
        "www/cgi-bin",
        "proc",
        "sys",
        "dev",
        "run",
    ] {
        entries.push(dir(d));
    }
    // Writable by all, sticky, as base-files makes it: CGI runs as www-data.
    entries.push(Entry {
        path: "tmp".into(),
        mode: 0o041777,
        data: Vec::new(),
    });
    entries.push(file("bin/busybox", 0o755, read(busybox)?));
    entries.push(symlink("bin/sh", "busybox"));
    // What tinyrust-base, busybox-inittab and base-passwd install in the Yocto image.
    for (path, mode, name) in [
        ("init", 0o755, "init"),
        ("etc/tinyrust/rcS", 0o755, "rcS"),
        ("etc/tinyrust/rc.ready", 0o755, "rc.ready"),
        ("etc/tinyrust/dhcp-client", 0o755, "dhcp-client"),
        ("etc/tinyrust/web-server", 0o755, "web-server"),
        ("etc/tinyrust/network.conf", 0o644, "network.conf"),
        ("etc/tinyrust/udhcpc.script", 0o755, "udhcpc.script"),
        ("www/index.html", 0o644, "index.html"),
        ("www/cgi-bin/hello.cgi", 0o755, "hello.cgi"),
    ] {
        entries.push(file(path, mode, read(&base_file(name))?));
    }
    let inittab =
        root_dir().join("meta-tinyrust-distro/recipes-core/busybox/busybox-inittab/inittab");
    entries.push(file("etc/inittab", 0o644, read(&inittab)?));
    // base-passwd's entries for the two users the image runs as (same ids).
    entries.push(file(
        "etc/passwd",
        0o644,
        b"root::0:0:root:/root:/bin/sh\nwww-data:*:33:33:www-data:/var/www:/bin/false\n".to_vec(),
    ));
    entries.push(file(
        "etc/group",
        0o644,
        b"root:*:0:\nwww-data:*:33:\n".to_vec(),
    ));
    entries.extend(extra);
    let raw = out.with_extension("");
    fs::write(&raw, cpio(&entries))?;
    let r = raw.to_string_lossy().into_owned();
    run("gzip", &["-f", "-6", &r], Path::new("."), &[])?;
    Ok(out.to_path_buf())
}
