//! The kernel path: Debian's linux-source-6.12, our patch series and the rinet glue, the
//! config fragments of the BSP layer, and a build cached under ~/.cache/meta-tinyrust.
//! The same patches and fragments are what the Yocto recipe uses.

use crate::util::fs;
use anyhow::{anyhow, Context, Result};
use std::path::{Path, PathBuf};

use crate::util::{cache_dir, hash_files, root_dir, run};

/// Which network stack the kernel carries.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Net {
    Rinet,
    /// rinet without its optional parts (raw sockets, rtnetlink, most of /proc/net):
    /// what picoTCP's port offered, for the size comparison.
    RinetMinimal,
    /// Linux's own IPv4 stack: the comparison kernel.
    Inet,
    /// Size baseline: network core and drivers, no TCP/IP.
    CoreOnly,
    /// Size baseline: no networking at all.
    Off,
}

impl Net {
    pub fn name(self) -> &'static str {
        match self {
            Net::Rinet => "rinet",
            Net::RinetMinimal => "rinet-minimal",
            Net::Inet => "inet",
            Net::CoreOnly => "noinet",
            Net::Off => "nonet",
        }
    }

    pub fn is_rinet(self) -> bool {
        matches!(self, Net::Rinet | Net::RinetMinimal)
    }

    /// The fragments that put this stack in a machine's configuration, in place of
    /// `net-rinet.cfg` (the one the BSP descriptions name).
    pub fn fragments(self) -> &'static [&'static str] {
        match self {
            Net::Rinet => &["net-rinet.cfg"],
            Net::RinetMinimal => &["net-rinet.cfg", "rinet-minimal.cfg"],
            Net::Inet => &["net-inet.cfg"],
            Net::CoreOnly => &["net-noinet.cfg"],
            Net::Off => &["net-none.cfg"],
        }
    }
}

/// The kernel's architecture and board family.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Arch {
    /// x86_64 for QEMU: the default image and the benchmarks.
    X86_64,
    /// Intel Galileo (Quark X1000, i586), tested in QEMU with an e1000 added.
    Galileo,
    /// STM32F429 discovery (Cortex-M4, no MMU): an XIP kernel for the board's flash.
    Stm32,
    /// QEMU's mps2-an386 (Cortex-M4, no MMU, LAN9118 Ethernet): the ARMv7-M rinet kernel
    /// where it can run here, with the STM32F429 image's user space.
    Mps2,
}

impl Arch {
    pub fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Galileo => "galileo",
            Arch::Stm32 => "stm32f429",
            Arch::Mps2 => "mps2-an386",
        }
    }

    /// The kernel's `ARCH=`.
    pub fn make_arch(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Galileo => "i386",
            Arch::Stm32 | Arch::Mps2 => "arm",
        }
    }

    /// The BSP machine that builds this kernel with the kernel recipe (none for the
    /// QEMU-only ARMv7-M kernel).
    pub fn machine(self) -> Option<&'static str> {
        match self {
            Arch::X86_64 => Some("qemux86-64-tinyrust"),
            Arch::Galileo => Some("galileo"),
            Arch::Stm32 => Some("stm32f429-disco"),
            Arch::Mps2 => None,
        }
    }

    /// The kernel's patches and fragments, in the order kernel-yocto applies and merges
    /// them: the machine's BSP description in the layer's kernel metadata
    /// (`tinyrust-kmeta/<machine>-tiny.scc`), which the kernel recipe uses too. The
    /// QEMU-only ARMv7-M kernel is the rinet kernel with the MPS2 SoC in place of the
    /// STM32F429 and the STM32F429's trimming, so that it differs from the board's only in
    /// the SoC, its drivers and running from RAM.
    pub fn kmeta(self) -> Result<Vec<Kmeta>> {
        match self.machine() {
            Some(m) => scc_entries(&format!("{m}-tiny.scc")),
            None => {
                let mut e = scc_entries("tinyrust.scc")?;
                e.extend(["mps2-an386.cfg", "tiny-trim.cfg"].map(|f| Kmeta::Kconf(f.into())));
                Ok(e)
            }
        }
    }

    /// What only the host tool's QEMU guest needs on top of the board's fragments: the
    /// Galileo kernel gets QEMU's e1000, and 32-bit time_t syscalls for Debian's i386
    /// busybox.
    pub fn qemu_fragments(self) -> &'static [&'static str] {
        match self {
            Arch::Galileo => &["qemu-x86.cfg", "i386-compat-time.cfg"],
            Arch::X86_64 | Arch::Stm32 | Arch::Mps2 => &[],
        }
    }

    /// The make target and where the build leaves it.
    pub fn image(self) -> (&'static str, &'static str) {
        match self {
            Arch::X86_64 | Arch::Galileo => ("bzImage", "arch/x86/boot/bzImage"),
            Arch::Stm32 => ("xipImage", "arch/arm/boot/xipImage"),
            Arch::Mps2 => ("Image", "arch/arm/boot/Image"),
        }
    }

    /// `CROSS_COMPILE=` for the kernel build (Debian's cross compiler for ARM).
    fn cross_compile(self) -> Option<&'static str> {
        match self {
            Arch::Stm32 | Arch::Mps2 => Some("arm-linux-gnueabi-"),
            _ => None,
        }
    }

    /// The binutils prefix for inspecting the build.
    pub fn tool_prefix(self) -> &'static str {
        self.cross_compile().unwrap_or("")
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Spec {
    pub arch: Arch,
    pub net: Net,
    pub debug: bool,
    /// A fragment left out, to measure what it saves (the size table).
    pub omit: Option<&'static str>,
}

impl Spec {
    pub fn rinet(arch: Arch) -> Spec {
        Spec {
            arch,
            net: Net::Rinet,
            debug: false,
            omit: None,
        }
    }

    pub fn name(&self) -> String {
        format!(
            "{}-{}{}{}",
            self.arch.name(),
            self.net.name(),
            if self.debug { "-debug" } else { "" },
            self.omit
                .map(|f| format!("-without-{}", f.trim_end_matches(".cfg")))
                .unwrap_or_default()
        )
    }

    /// The fragments in merge order: the machine's, with this kernel's network fragment in
    /// the place of rinet's (and none of rinet's options for another stack), then what
    /// only QEMU needs, then the debug options.
    pub fn fragments(&self) -> Result<Vec<String>> {
        let net = Net::Rinet.fragments()[0];
        let mut f: Vec<String> = Vec::new();
        for e in self.arch.kmeta()? {
            match e {
                Kmeta::Kconf(c) if c == net => {
                    f.extend(self.net.fragments().iter().map(|s| s.to_string()))
                }
                // rinet's options (rinet-offload.cfg) with another stack in its place.
                Kmeta::Kconf(c) if c.starts_with("rinet-") && !self.net.is_rinet() => {}
                Kmeta::Kconf(c) => f.push(c),
                Kmeta::Patch(_) => {}
            }
        }
        f.extend(self.arch.qemu_fragments().iter().map(|s| s.to_string()));
        if self.debug {
            f.push("debug.cfg".into());
        }
        f.retain(|frag| Some(frag.as_str()) != self.omit);
        Ok(f)
    }
}

/// The layer's kernel metadata (kernel-yocto's "kmeta"): the BSP descriptions, patches
/// and configuration fragments, one copy for the recipe and the host tool.
pub fn layer_files() -> PathBuf {
    root_dir().join("meta-tinyrust/recipes-kernel/linux/linux-tinyrust/tinyrust-kmeta")
}

/// One element of a kernel metadata description (`.scc`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kmeta {
    Patch(String),
    Kconf(String),
}

/// The patches and fragments of `file` and the files it includes, in order, as
/// kern-tools' scc expands them: `include` (from the kmeta directory), `patch`, `kconf
/// <class> <file>`; `define` and comments carry nothing for the build.
pub fn scc_entries(file: &str) -> Result<Vec<Kmeta>> {
    let path = layer_files().join(file);
    let text = fs::read_to_string(&path)?;
    parse_scc(&text, &mut |inc| scc_entries(inc)).with_context(|| path.display().to_string())
}

fn parse_scc(
    text: &str,
    include: &mut dyn FnMut(&str) -> Result<Vec<Kmeta>>,
) -> Result<Vec<Kmeta>> {
    let mut out = Vec::new();
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            [] => {}
            [w, ..] if w.starts_with('#') => {}
            ["define", ..] => {}
            ["include", f] => out.extend(include(f)?),
            ["patch", f] => out.push(Kmeta::Patch(f.to_string())),
            ["kconf", "hardware" | "non-hardware", f] => out.push(Kmeta::Kconf(f.to_string())),
            _ => return Err(anyhow!("unknown line {line:?}")),
        }
    }
    Ok(out)
}

/// The patch series every rinet kernel takes, in order.
pub fn patches() -> Result<Vec<PathBuf>> {
    Ok(scc_entries("tinyrust.scc")?
        .into_iter()
        .filter_map(|e| match e {
            Kmeta::Patch(p) => Some(layer_files().join(p)),
            Kmeta::Kconf(_) => None,
        })
        .collect())
}

const TARBALL: &str = "/usr/src/linux-source-6.12.tar.xz";

/// How many leading patches of the series the tree's stamp says are applied, if the
/// stamp names a (shorter) prefix of the series.
fn applied_prefix(stamp: Option<&str>, patches: &[PathBuf]) -> Result<Option<usize>> {
    let Some(stamp) = stamp else {
        return Ok(None);
    };
    for k in 1..patches.len() {
        if hash_files(&patches[..k])? == stamp {
            return Ok(Some(k));
        }
    }
    Ok(None)
}

/// The patched source tree (created once per patch series), with the glue refreshed.
pub fn source_tree() -> Result<PathBuf> {
    let cache = cache_dir();
    let tree = cache.join("linux-6.12-rinet");
    let patches = patches()?;
    let want = hash_files(&patches)?;
    let stamp = tree.join(".meta-tinyrust-patches");
    let have = std::fs::read_to_string(&stamp).ok();
    if have.as_deref() == Some(want.as_str()) {
        // Up to date.
    } else if let Some(applied) = applied_prefix(have.as_deref(), &patches)? {
        // Patches were only appended to the series: apply the new ones in place, so
        // make rebuilds just what they touch instead of every kernel from scratch.
        for p in &patches[applied..] {
            let p = p.to_string_lossy().into_owned();
            run("patch", &["-p1", "-N", "-i", &p], &tree, &[])?;
        }
        fs::write(&stamp, &want)?;
    } else {
        if !Path::new(TARBALL).exists() {
            run(
                "apt-get",
                &["install", "-y", "-q", "linux-source-6.12"],
                Path::new("."),
                &[],
            )?;
        }
        let _ = std::fs::remove_dir_all(&tree);
        fs::create_dir_all(&tree)?;
        let t = tree.to_string_lossy().into_owned();
        run(
            "tar",
            &["xf", TARBALL, "-C", &t, "--strip-components=1"],
            Path::new("."),
            &[],
        )?;
        for p in &patches {
            let p = p.to_string_lossy().into_owned();
            run("patch", &["-p1", "-N", "-i", &p], &tree, &[])?;
        }
        fs::write(&stamp, &want)?;
    }
    // The glue and the crates go into the tree as the kernel recipe puts them there, by
    // the same script (it copies only what changed: mtimes drive make and cargo).
    let place = root_dir().join("rinet-kernel/place-in-tree.sh");
    let crates = crate::kernel_rust::vendored_cargo_home()?.join("bitbake");
    run(
        "sh",
        &[
            &place.to_string_lossy(),
            &tree.to_string_lossy(),
            &crates.to_string_lossy(),
        ],
        Path::new("."),
        &[],
    )?;
    Ok(tree)
}

/// Configure and build; returns the build directory (the image is at `arch.image().1`).
pub fn build(spec: Spec) -> Result<PathBuf> {
    let tree = source_tree()?;
    let out = cache_dir().join("build").join(spec.name());
    seed_build_dir(spec, &out)?;
    fs::create_dir_all(&out)?;
    let o = format!("O={}", out.display());
    let arch = format!("ARCH={}", spec.arch.make_arch());
    let frags: Vec<PathBuf> = spec
        .fragments()?
        .iter()
        .map(|f| layer_files().join(f))
        .collect();
    // The method is part of the stamp: a configuration made another way is made again.
    let want = format!("allnoconfig {}", hash_files(&frags)?);
    let stamp = out.join(".meta-tinyrust-config");
    // The Rust toolchain and vendored crates the kernel recipe gives the same Makefile.
    let rust_env = crate::kernel_rust::make_env()?;
    let mut env = vec![
        ("KBUILD_BUILD_TIMESTAMP", "2026-01-01"),
        ("KBUILD_BUILD_USER", "meta-tinyrust"),
        ("KBUILD_BUILD_HOST", "build"),
    ];
    if let Some(cross) = spec.arch.cross_compile() {
        env.push(("CROSS_COMPILE", cross));
    }
    env.extend(rust_env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(want.as_str()) {
        // As kernel-yocto's do_kernel_configme with KCONFIG_MODE "--allnoconfig": the
        // fragments merged in order, then `allnoconfig` with them as KCONFIG_ALLCONFIG.
        let mut args = vec![
            "-n".to_string(),
            "-O".to_string(),
            out.display().to_string(),
        ];
        args.extend(frags.iter().map(|f| f.display().to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut merge_env = env.clone();
        merge_env.push(("ARCH", spec.arch.make_arch()));
        run("scripts/kconfig/merge_config.sh", &args, &tree, &merge_env)?;
        match check_config(&out.join(".config"), &frags) {
            // The size table's kernel without networking cannot have the board's network
            // drivers its machine fragments ask for (they need CONFIG_NET): said, not fatal.
            Err(e) if spec.net == Net::Off => {
                eprintln!("note: {e:#}\n(dropped with CONFIG_NET in {})", spec.name())
            }
            r => r?,
        }
        fs::write(&stamp, &want)?;
    }
    let jobs = format!(
        "-j{}",
        std::thread::available_parallelism().map_or(2, |n| n.get())
    );
    let mut make = vec![
        o.as_str(),
        arch.as_str(),
        jobs.as_str(),
        spec.arch.image().0,
    ];
    if spec.arch == Arch::Galileo {
        // Quark X1000 errata: the LOCK prefix must not be emitted (as meta-intel did);
        // the assembler drops it from C, inline asm and .S files alike.
        make.extend([
            "KCFLAGS=-Wa,-momit-lock-prefix=yes",
            "KAFLAGS=-Wa,-momit-lock-prefix=yes",
        ]);
    }
    // make says what it builds, not how far it is: the objects written since it started,
    // against the objects the previous build of this directory left. A first build has
    // nothing to compare with (only the count is said); a rebuild ends early, well short
    // of the estimate, when it has little to do.
    let since = std::time::SystemTime::now();
    let previous = Some(objects(&out, None)).filter(|&n| n > 0);
    crate::progress::watched(
        &format!("kernel {}", spec.name()),
        "objects",
        previous,
        || objects(&out, Some(since)),
        || run("make", &make, &tree, &env),
    )?;
    check_no_build_paths(&out.join("vmlinux"))?;
    Ok(out)
}

/// The object files (`*.o`) under `dir`, or only those written since `since`. Symbolic
/// links are not followed: the build directory's `source` points at the whole tree.
fn objects(dir: &Path, since: Option<std::time::SystemTime>) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut n = 0;
    for e in entries.flatten() {
        let Ok(kind) = e.file_type() else { continue };
        let path = e.path();
        if kind.is_dir() {
            n += objects(&path, since);
        } else if kind.is_file() && path.extension().is_some_and(|x| x == "o") {
            let new_enough = match since {
                None => true,
                Some(t) => e
                    .metadata()
                    .and_then(|m| m.modified())
                    .is_ok_and(|m| m >= t),
            };
            n += u64::from(new_enough);
        }
    }
    n
}

/// The kernel must not name the machine that built it: neither this checkout nor the home
/// directory (cargo's registry, rustup's sources), which panic locations in the Rust
/// objects would carry without `-Ztrim-paths`. Linux's own C has none (Kbuild maps
/// `__FILE__` to relative paths).
fn check_no_build_paths(vmlinux: &Path) -> Result<()> {
    let image = fs::read(vmlinux)?;
    let mut needles = vec![root_dir().display().to_string()];
    if let Some(home) = std::env::var_os("HOME").filter(|h| h.len() > 1) {
        needles.push(format!("{}/", home.to_string_lossy()));
    }
    match needles.iter().find(|n| contains(&image, n.as_bytes())) {
        Some(n) => Err(anyhow!(
            "{} holds the build path {n:?} (strings -a | grep -F it)",
            vmlinux.display()
        )),
        None => Ok(()),
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// A new variant of an architecture starts as a copy of that architecture's rinet build:
/// make then rebuilds only what the configuration change touches.
fn seed_build_dir(spec: Spec, out: &Path) -> Result<()> {
    let seed = cache_dir()
        .join("build")
        .join(Spec::rinet(spec.arch).name());
    if out.exists() || out == seed || !seed.join("vmlinux").exists() {
        return Ok(());
    }
    let tmp = out.with_extension("seeding");
    let _ = std::fs::remove_dir_all(&tmp);
    run(
        "cp",
        &[
            "-a",
            &seed.display().to_string(),
            &tmp.display().to_string(),
        ],
        Path::new("."),
        &[],
    )?;
    // The copied stamp must not claim the seed's configuration.
    let _ = std::fs::remove_file(tmp.join(".meta-tinyrust-config"));
    fs::rename(&tmp, out)
}

/// Every symbol a fragment asks for must be in the final .config as asked (a later
/// fragment overrides an earlier one, as merge_config.sh does).
fn check_config(config: &Path, frags: &[PathBuf]) -> Result<()> {
    let have = fs::read_to_string(config)?;
    let mut want: Vec<(String, String)> = Vec::new();
    for f in frags {
        for line in fs::read_to_string(f)?.lines() {
            let line = line.trim();
            let sym = if let Some(sym) = line
                .strip_prefix("# ")
                .and_then(|l| l.strip_suffix(" is not set"))
            {
                sym.to_string()
            } else if line.starts_with("CONFIG_") {
                line.split('=').next().unwrap_or_default().to_string()
            } else {
                continue;
            };
            want.retain(|(s, _)| *s != sym);
            want.push((sym, line.to_string()));
        }
    }
    let mut bad = Vec::new();
    for (sym, line) in want {
        let set = have.lines().any(|l| l.starts_with(&format!("{sym}=")));
        let ok = if line.starts_with('#') {
            !set
        } else {
            have.lines().any(|l| l == line)
        };
        if !ok {
            bad.push(line);
        }
    }
    if bad.is_empty() {
        Ok(())
    } else {
        Err(anyhow!(
            "config fragments not honoured:\n  {}",
            bad.join("\n  ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_are_counted_below_the_directory_but_not_through_links() {
        let dir = std::env::temp_dir().join(format!("xtask-objects-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("net/rinet")).unwrap();
        for f in [
            "init.o",
            "net/rinet/rinet.o",
            "net/rinet/rinet.c",
            "vmlinux",
        ] {
            fs::write(dir.join(f), "").unwrap();
        }
        std::os::unix::fs::symlink(dir.join("net"), dir.join("source")).unwrap();
        assert_eq!(objects(&dir, None), 2);
        let later = std::time::SystemTime::now() + std::time::Duration::from_secs(60);
        assert_eq!(objects(&dir, Some(later)), 0);
        assert_eq!(objects(&dir.join("missing"), None), 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_image_naming_the_checkout_is_refused() {
        let dir = std::env::temp_dir().join(format!("xtask-paths-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let clean = dir.join("clean");
        let named = dir.join("named");
        std::fs::write(&clean, b"\0rinet-0.1.0/src/stack.rs\0").unwrap();
        let mut bytes = b"\0\x7fELF".to_vec();
        bytes.extend_from_slice(
            root_dir()
                .join("rinet/src/stack.rs")
                .to_string_lossy()
                .as_bytes(),
        );
        std::fs::write(&named, bytes).unwrap();
        assert!(check_no_build_paths(&clean).is_ok());
        assert!(check_no_build_paths(&named).is_err());
        assert!(check_no_build_paths(&dir.join("missing")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
