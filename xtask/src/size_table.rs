//! The kernel size table (`cargo xtask size-table`, writes `docs/kernel-size.md` and
//! `docs/kernel-size.svg`): for x86_64, the Galileo (i386) and the STM32F429, the kernel
//! with Linux's IPv4, with network core and drivers but no TCP/IP, without networking,
//! and with rinet; rinet's own share split into smoltcp, rinet's Rust code, core/alloc,
//! compiler builtins and the C glue; and the STM32F429 xipImage against its flash budget.
//! Every figure is measured on kernels this command builds (cached like the others).

use crate::util::fs;
use anyhow::{anyhow, bail, Context, Result};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::kernel::{self, Arch, Net, Spec};
use crate::progress::{count, Steps};
use crate::util::{cache_dir, output, read_json, root_dir, write_json};

/// Flash left for the XIP image (kernel + bundled initramfs) on the STM32F429 disco: from
/// the address the kernel is linked at (CONFIG_XIP_PHYS_ADDR of the machine's kernel
/// fragment) to the end of the flash (TINYRUST_FLASH_END of the machine configuration),
/// the two files the layers build and flash from.
pub fn stm32_flash_budget() -> Result<u64> {
    let value = |path: &Path, key: &str| -> Result<u64> {
        let text = fs::read_to_string(path)?;
        text.lines()
            .find_map(|l| {
                let (k, v) = l.split_once('=')?;
                (k.trim() == key).then(|| v.trim().trim_matches('"').to_string())
            })
            .and_then(|v| u64::from_str_radix(v.strip_prefix("0x")?, 16).ok())
            .with_context(|| format!("{}: no hexadecimal {key}", path.display()))
    };
    let start = value(
        &kernel::layer_files().join("stm32f429-disco.cfg"),
        "CONFIG_XIP_PHYS_ADDR",
    )?;
    let end = value(
        &root_dir().join("meta-tinyrust/conf/machine/stm32f429-disco.conf"),
        "TINYRUST_FLASH_END",
    )?;
    end.checked_sub(start)
        .with_context(|| format!("the flash ends at {end:#x}, before the kernel at {start:#x}"))
}

/// picoTCP's cost in the uClinux kernel it was ported to (FOSDEM 2015).
const PICOTCP_BYTES: u64 = 41_696;

const NETS: [Net; 5] = [
    Net::Inet,
    Net::CoreOnly,
    Net::Off,
    Net::Rinet,
    Net::RinetMinimal,
];

/// What one vmlinux and its boot image measure.
#[derive(Clone, Copy, Default, Serialize, Deserialize)]
pub struct Measure {
    pub text: u64,
    pub data: u64,
    pub bss: u64,
    /// text + data without the x86_64 2 MiB alignment holes (see `text_padding`).
    pub loaded: u64,
    /// text + data of every object linked into vmlinux (`vmlinux.a`): free of the
    /// linker's page and section alignment, so small differences show exactly.
    pub objects: u64,
    pub image: u64,
}

/// The text, data and bss columns of one line of `size` (Berkeley format) output.
fn size_columns(line: &str) -> Vec<u64> {
    line.split_whitespace()
        .take(3)
        .filter_map(|n| n.parse().ok())
        .collect()
}

/// text + data of `file` (relative to `dir`) by `size`; `total` reads the `-t` total line
/// (for an archive).
fn text_data(arch: Arch, dir: &Path, file: &str, total: bool) -> Result<u64> {
    let size = format!("{}size", arch.tool_prefix());
    let args: &[&str] = if total { &["-t", file] } else { &[file] };
    let out = output(&size, args, dir, &[])?;
    let line = if total {
        out.lines().last()
    } else {
        out.lines().nth(1)
    };
    Ok(size_columns(line.unwrap_or_default()).iter().take(2).sum())
}

pub fn measure(arch: Arch, build: &Path) -> Result<Measure> {
    let size = format!("{}size", arch.tool_prefix());
    let out = output(&size, &["vmlinux"], build, &[])?;
    let [text, data, bss] = size_columns(out.lines().nth(1).unwrap_or_default())[..] else {
        bail!("{size} vmlinux: unexpected output {out:?}");
    };
    let padding = if arch == Arch::X86_64 {
        text_padding(build)?
    } else {
        0
    };
    let image = fs::metadata(build.join(arch.image().1))?.len();
    Ok(Measure {
        text,
        data,
        bss,
        loaded: text + data - padding,
        objects: dir_size(arch, build, ".")?,
        image,
    })
}

/// x86_64 pads `.text` to 2 MiB boundaries (entry text, end of text), which makes `size`
/// move in 2 MiB steps. The used part is what the text symbols cover, counting gaps of
/// at most 4 KiB between them as alignment.
fn text_padding(build: &Path) -> Result<u64> {
    let syms = output("nm", &["-n", "-S", "vmlinux"], build, &[])?;
    let mut text: Vec<(u64, u64)> = Vec::new();
    let (mut stext, mut etext) = (0, 0);
    for l in syms.lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        let (addr, size, kind, name) = match f[..] {
            [a, s, k, n] => (a, Some(s), k, n),
            [a, k, n] => (a, None, k, n),
            _ => continue,
        };
        let Ok(addr) = u64::from_str_radix(addr, 16) else {
            continue;
        };
        match name {
            "_stext" => stext = addr,
            "_etext" => etext = addr,
            _ => {}
        }
        if matches!(kind, "T" | "t" | "W" | "w") {
            let size = size.and_then(|s| u64::from_str_radix(s, 16).ok());
            text.push((addr, size.unwrap_or(0)));
        }
    }
    text.retain(|&(a, _)| a >= stext && a < etext);
    let mut used = 0;
    for (i, &(addr, size)) in text.iter().enumerate() {
        let next = text.get(i + 1).map_or(etext, |n| n.0);
        let gap = next - addr;
        used += if gap <= 4096 { gap } else { size };
    }
    let section = output("readelf", &["-SW", "vmlinux"], build, &[])?;
    let text_size = section
        .lines()
        .find(|l| l.contains(" .text "))
        .and_then(|l| {
            let f: Vec<&str> = l.split(']').nth(1)?.split_whitespace().collect();
            u64::from_str_radix(f.get(4)?, 16).ok()
        })
        .context("vmlinux has no .text section")?;
    Ok(text_size.saturating_sub(used))
}

/// C helpers the glue Makefile links into rinet_rust.o (`rinet_helpers-y`).
const GLUE_HELPERS: &[&str] = &["rinet_divdi3.o", "rinet_aeabi.o", "rinet_exidx.o"];

/// rinet's bytes in the kernel, from the objects of net/rinet/ (text+data of each).
#[derive(Default, Serialize, Deserialize)]
pub struct Share {
    /// Component of the Rust object (from its symbols) -> text+rodata+data.
    pub rust: BTreeMap<String, u64>,
    pub rust_total: u64,
    /// The C objects: the glue's (`af_rinet.o`, ...) and the helpers of this architecture.
    pub glue_objects: Vec<String>,
    pub glue: u64,
    /// rust_total + glue: the table's "rinet objects", and what `cargo xtask test` gates
    /// on the STM32F429.
    pub total: u64,
}

fn rinet_share(arch: Arch, build: &Path) -> Result<Share> {
    let dir = build.join("net/rinet");
    let nm = format!("{}nm", arch.tool_prefix());
    let text_data = |obj: &str| text_data(arch, &dir, obj, false);
    let mut share = Share {
        rust_total: text_data("rinet_rust.o")?,
        ..Share::default()
    };
    // The glue's own objects: the members of net/rinet's built-in archive (what the kernel
    // links; a build directory can hold objects of an option since turned off), but the
    // Rust object; the helpers linked into that one come below.
    let members = output("ar", &["t", "built-in.a"], &dir, &[])?;
    let c_objects: Vec<String> = members
        .lines()
        .map(|m| m.rsplit('/').next().unwrap_or(m).to_string())
        .filter(|n| n != "rinet_rust.o")
        .collect();
    for obj in c_objects {
        share.glue += text_data(&obj)?;
        share.glue_objects.push(obj);
    }
    // The C helpers linked into rinet_rust.o (see the Makefile) are glue, not Rust.
    let mut helper_names: Vec<String> = Vec::new();
    for helper in GLUE_HELPERS {
        if !dir.join(helper).exists() {
            continue;
        }
        let bytes = text_data(helper)?;
        share.glue_objects.push(helper.to_string());
        share.glue += bytes;
        share.rust_total = share.rust_total.saturating_sub(bytes);
        let defined = output(&nm, &["--defined-only", helper], &dir, &[])?;
        helper_names.extend(
            defined
                .lines()
                .filter_map(|l| l.split_whitespace().nth(2).map(str::to_string)),
        );
    }
    let syms = output(&nm, &["-S", "-C", "rinet_rust.o"], &dir, &[])?;
    let mut counted = 0;
    for l in syms.lines() {
        let mut it = l.splitn(4, ' ');
        let (Some(_), Some(sz), Some(kind), Some(name)) =
            (it.next(), it.next(), it.next(), it.next())
        else {
            continue;
        };
        if !matches!(kind, "T" | "t" | "W" | "w" | "R" | "r" | "D" | "d") {
            continue;
        }
        let Ok(n) = u64::from_str_radix(sz, 16) else {
            continue;
        };
        if helper_names.iter().any(|h| h == name) {
            continue;
        }
        counted += n;
        *share
            .rust
            .entry(crate::size::component(name, &[]).to_string())
            .or_default() += n;
    }
    // Literal pools, padding and unnamed constants have no symbol.
    *share.rust.entry("unattributed".to_string()).or_default() +=
        share.rust_total.saturating_sub(counted);
    share.total = share.rust_total + share.glue;
    Ok(share)
}

/// Object-level sizes (text+data) of directories of the build, from their built-in.a.
fn dir_size(arch: Arch, build: &Path, dir: &str) -> Result<u64> {
    let a = if dir == "." {
        "vmlinux.a".to_string()
    } else {
        format!("{dir}/built-in.a")
    };
    if !build.join(&a).exists() {
        return Ok(0);
    }
    text_data(arch, build, &a, true)
}

fn signed(v: i64) -> String {
    if v < 0 {
        format!("−{}", count(v.unsigned_abs()))
    } else {
        format!("+{}", count(v as u64))
    }
}

fn label(net: Net) -> &'static str {
    match net {
        Net::Inet => "Linux INET (IPv4 only)",
        Net::CoreOnly => "no TCP/IP, net core + drivers",
        Net::Off => "no NET",
        Net::Rinet => "**rinet**",
        Net::RinetMinimal => "rinet, minimal (`rinet-minimal.cfg`)",
    }
}

/// The kernel size table as data: `docs/kernel-size.md` and `.svg` are rendered from it,
/// `docs/kernel-size.json` is it.
#[derive(Serialize, Deserialize)]
pub struct KernelSizeReport {
    pub rustc: String,
    pub gcc: String,
    pub targets: Vec<ArchSizes>,
}

#[derive(Serialize, Deserialize)]
pub struct ArchSizes {
    /// `Arch::name()`: "x86_64", "galileo", "stm32f429".
    pub arch: String,
    pub title: String,
    /// The boot image: "bzImage" or "xipImage".
    pub image: String,
    /// Keyed by `Net::name()`: "inet", "noinet", "nonet", "rinet", "rinet-minimal".
    pub kernels: BTreeMap<String, Measure>,
    /// text+data of the rinet kernel minus the no-TCP/IP kernel: rinet's cost.
    pub rinet_cost: i64,
    /// The same for the minimal profile (`rinet-minimal.cfg`: picoTCP's features).
    #[serde(default)]
    pub rinet_minimal_cost: i64,
    pub rinet_objects: Share,
    #[serde(default)]
    pub rinet_minimal_objects: Share,
    /// What each trimming fragment changes in the rinet kernel (with it minus without it).
    pub fragments: Vec<FragmentEffect>,
    /// The STM32F429 only.
    pub flash: Option<FlashBudget>,
}

impl ArchSizes {
    fn kernel(&self, net: Net) -> Measure {
        self.kernels.get(net.name()).copied().unwrap_or_default()
    }
}

#[derive(Serialize, Deserialize)]
pub struct FragmentEffect {
    pub fragment: String,
    pub text_data: i64,
    pub objects: i64,
    pub image: i64,
}

/// The STM32F429 xipImage and initramfs against the flash, and where the kernel's bytes go.
#[derive(Serialize, Deserialize)]
pub struct FlashBudget {
    pub budget: u64,
    /// Gzipped cpio, and the stripped busybox in it.
    pub initramfs: u64,
    pub busybox: u64,
    /// Object-level text+data by part of the kernel.
    pub parts: Vec<Part>,
}

#[derive(Serialize, Deserialize)]
pub struct Part {
    pub name: String,
    pub bytes: u64,
}

const JSON: &str = "docs/kernel-size.json";

fn measure_arch(arch: Arch, steps: &mut Steps) -> Result<ArchSizes> {
    let mut kernels = BTreeMap::new();
    let mut rinet_build = std::path::PathBuf::new();
    let mut minimal_build = std::path::PathBuf::new();
    for net in NETS {
        let spec = Spec {
            arch,
            net,
            debug: false,
            omit: None,
        };
        steps.step(format!("building and measuring the {} kernel", spec.name()));
        let build = kernel::build(spec)?;
        kernels.insert(net.name().to_string(), measure(arch, &build)?);
        match net {
            Net::Rinet => rinet_build = build,
            Net::RinetMinimal => minimal_build = build,
            _ => {}
        }
    }
    let loaded = |net: Net| kernels[net.name()].loaded as i64;
    let rinet = kernels[Net::Rinet.name()];
    Ok(ArchSizes {
        arch: arch.name().to_string(),
        title: match arch {
            Arch::X86_64 => "x86_64 (QEMU: e1000 + virtio-net)",
            Arch::Galileo => "Galileo, i386 (Quark X1000: stmmac-pci; e1000 for QEMU)",
            Arch::Stm32 => "STM32F429 discovery, ARMv7-M XIP (USB CDC-ECM gadget)",
            Arch::Mps2 => "QEMU mps2-an386, ARMv7-M (LAN9118)",
        }
        .to_string(),
        image: arch.image().0.to_string(),
        rinet_cost: loaded(Net::Rinet) - loaded(Net::CoreOnly),
        rinet_minimal_cost: loaded(Net::RinetMinimal) - loaded(Net::CoreOnly),
        rinet_objects: rinet_share(arch, &rinet_build)?,
        rinet_minimal_objects: rinet_share(arch, &minimal_build)?,
        fragments: fragment_effects(arch, rinet, steps)?,
        flash: if arch == Arch::Stm32 {
            Some(flash_budget(&rinet_build)?)
        } else {
            None
        },
        kernels,
    })
}

pub fn report() -> Result<()> {
    let ch = crate::kernel_rust::ensure_toolchain()?;
    let rustc = output(
        "rustup",
        &["run", &ch, "rustc", "--version"],
        &root_dir(),
        &[],
    )?;
    let gcc = output("gcc", &["-dumpfullversion"], &root_dir(), &[])?;
    let archs = [Arch::X86_64, Arch::Galileo, Arch::Stm32];
    // One step per kernel: the network variants and the kernels without a trimming fragment.
    let mut kernels = 0;
    for arch in archs {
        kernels += NETS.len() + trimming_fragments(arch)?.len();
    }
    let mut steps = Steps::new(kernels);
    let report = KernelSizeReport {
        rustc: rustc.trim().to_string(),
        gcc: gcc.trim().to_string(),
        targets: archs
            .into_iter()
            .map(|arch| measure_arch(arch, &mut steps))
            .collect::<Result<_, _>>()?,
    };
    steps.finish();
    let md = markdown(&report);
    let docs = root_dir().join("docs");
    fs::write(docs.join("kernel-size.md"), &md)?;
    fs::write(docs.join("kernel-size.svg"), svg(&report))?;
    write_json(&root_dir().join(JSON), &report)?;
    print!("{md}");
    eprintln!("wrote docs/kernel-size.md, docs/kernel-size.svg and {JSON}");
    Ok(())
}

fn markdown(report: &KernelSizeReport) -> String {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# Kernel size table\n\nProduced by `cargo xtask size-table` on Debian's linux-source-6.12 with this \
         repository's patch and fragments ({}, gcc {}). Each kernel is configured as the kernel recipe configures it \
         (`allnoconfig` with the machine's BSP description in `tinyrust-kmeta/`: `tiny-base.cfg`, `size.cfg`, `proc-min.cfg`, one network fragment, the machine's fragments): \
         `net-inet.cfg` (Linux IPv4 only), `net-noinet.cfg` (network core, packet, unix and the \
         drivers, no TCP/IP), `net-none.cfg` (no networking, no network drivers) or \
         `net-rinet.cfg`. \"objects\" is the text plus data of every object linked into \
         vmlinux (`size -t vmlinux.a`), free of link-time alignment. \"text+data\" is `size`'s text plus data (on ARM text includes rodata \
         and the unwind tables); on x86_64 the 2 MiB alignment holes in `.text` are left out. \
         The image is what the boot loader loads: `bzImage` (xz) on x86, `xipImage` \
         (uncompressed, executed in place) on the STM32F429. No initramfs is bundled in these \
         images.\n",
        report.rustc, report.gcc
    );
    let mut summary = String::new();
    for a in &report.targets {
        arch_markdown(&mut md, a);
        let d = |x: Net, y: Net, f: fn(&Measure) -> u64| {
            f(&a.kernel(x)) as i64 - f(&a.kernel(y)) as i64
        };
        let _ = writeln!(
            summary,
            "| {} | {} | {} | {} | {} | {} |",
            a.arch,
            signed(a.rinet_cost),
            signed(a.rinet_minimal_cost),
            signed(a.rinet_minimal_cost - PICOTCP_BYTES as i64),
            signed(d(Net::Rinet, Net::Inet, |m| m.loaded)),
            signed(d(Net::Rinet, Net::Inet, |m| m.image)),
        );
    }
    let _ = writeln!(
        md,
        "## Summary\n\npicoTCP's cost in its uClinux kernel (2015) was {} bytes.\n\n\
         | target | rinet's cost (text+data) | minimal profile's cost | minimal against picoTCP's {} B | rinet instead of INET (text+data) | image |\n\
         |---|---:|---:|---:|---:|---:|\n{summary}\n![kernel sizes](kernel-size.svg)",
        count(PICOTCP_BYTES),
        count(PICOTCP_BYTES),
    );
    md
}

fn arch_markdown(md: &mut String, a: &ArchSizes) {
    let img = &a.image;
    let _ = writeln!(
        md,
        "## {}\n\n| kernel | text | data | bss | text+data | objects | {img} |\n|---|---:|---:|---:|---:|---:|---:|",
        a.title
    );
    for net in NETS {
        let v = a.kernel(net);
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} |",
            label(net),
            count(v.text),
            count(v.data),
            count(v.bss),
            count(v.loaded),
            count(v.objects),
            count(v.image)
        );
    }
    let d =
        |x: Net, y: Net, f: fn(&Measure) -> u64| f(&a.kernel(x)) as i64 - f(&a.kernel(y)) as i64;
    let row = |label: &str, x: Net, y: Net, bold: bool| {
        let (o, c) = if bold { ("**", "**") } else { ("", "") };
        format!(
            "| {label} | {o}{}{c} | {} | {} |\n",
            signed(d(x, y, |m| m.loaded)),
            signed(d(x, y, |m| m.objects)),
            signed(d(x, y, |m| m.image))
        )
    };
    let _ = writeln!(
        md,
        "\n| difference | text+data | objects | {img} |\n|---|---:|---:|---:|\n{}{}{}{}{}",
        row(
            "Linux INET's cost (INET − no TCP/IP)",
            Net::Inet,
            Net::CoreOnly,
            false
        ),
        row(
            "**rinet's cost** (rinet − no TCP/IP)",
            Net::Rinet,
            Net::CoreOnly,
            true
        ),
        row(
            "rinet's cost, minimal profile (rinet-minimal − no TCP/IP)",
            Net::RinetMinimal,
            Net::CoreOnly,
            false
        ),
        row(
            "rinet instead of INET (rinet − INET)",
            Net::Rinet,
            Net::Inet,
            true
        ),
        row(
            "network core + drivers (no TCP/IP − no NET)",
            Net::CoreOnly,
            Net::Off,
            false
        ),
    );
    let (full, min) = (&a.rinet_objects, &a.rinet_minimal_objects);
    let _ = writeln!(
        md,
        "rinet's objects in this kernel, full and minimal profile (text+rodata+data; the Rust \
         object's split is by symbol after LTO, so smoltcp code inlined into rinet's functions \
         counts as rinet):\n\n\
         | part | full | minimal |\n|---|---:|---:|"
    );
    let parts: std::collections::BTreeSet<&String> =
        full.rust.keys().chain(min.rust.keys()).collect();
    for part in parts {
        let bytes = |s: &Share| count(s.rust.get(part).copied().unwrap_or(0));
        let _ = writeln!(md, "| Rust: {part} | {} | {} |", bytes(full), bytes(min));
    }
    let glue_objects: Vec<String> = full.glue_objects.iter().map(|o| format!("`{o}`")).collect();
    let _ = writeln!(
        md,
        "| Rust object total (`rinet_rust.o`) | {} | {} |\n| C glue ({}) | {} | {} |\n\
         | **rinet objects** | **{}** | **{}** |\n\
         | kernel growth not in those objects (rinet's cost minus its objects: core hooks, \
         alignment) | {} | {} |\n",
        count(full.rust_total),
        count(min.rust_total),
        glue_objects.join(", "),
        count(full.glue),
        count(min.glue),
        count(full.total),
        count(min.total),
        signed(a.rinet_cost - full.total as i64),
        signed(a.rinet_minimal_cost - min.total as i64),
    );
    let _ = writeln!(
        md,
        "What the trimming fragments save on this rinet kernel (measured by building it \
         without the fragment; text+data moves in page steps on x86, the objects column does \
         not):\n\n| fragment | text+data | objects | {img} |\n|---|---:|---:|---:|"
    );
    for f in &a.fragments {
        let _ = writeln!(
            md,
            "| `{}` | {} | {} | {} |",
            f.fragment,
            signed(f.text_data),
            signed(f.objects),
            signed(f.image),
        );
    }
    md.push('\n');
    if let Some(flash) = &a.flash {
        flash_markdown(md, flash, a.kernel(Net::Rinet).image);
    }
}

/// The trimming fragments whose saving the table shows for `arch`'s rinet kernel.
fn trimming_fragments(arch: Arch) -> Result<Vec<&'static str>> {
    let mut frags = vec!["proc-min.cfg"];
    if Spec::rinet(arch)
        .fragments()?
        .iter()
        .any(|f| f == "tiny-trim.cfg")
    {
        frags.push("tiny-trim.cfg");
    }
    Ok(frags)
}

/// What each trimming fragment saves on the rinet kernel, measured by building without it.
fn fragment_effects(arch: Arch, full: Measure, steps: &mut Steps) -> Result<Vec<FragmentEffect>> {
    let mut effects = Vec::new();
    for frag in trimming_fragments(arch)? {
        let spec = Spec {
            omit: Some(frag),
            ..Spec::rinet(arch)
        };
        steps.step(format!("building and measuring the {} kernel", spec.name()));
        let without = measure(arch, &kernel::build(spec)?)?;
        effects.push(FragmentEffect {
            fragment: frag.to_string(),
            text_data: full.loaded as i64 - without.loaded as i64,
            objects: full.objects as i64 - without.objects as i64,
            image: full.image as i64 - without.image as i64,
        });
    }
    Ok(effects)
}

/// The image's initramfs for the STM32F429 (gzipped cpio) and its busybox, in bytes.
fn stm32_initramfs() -> Result<(u64, u64)> {
    let out = cache_dir().join("stm32f429-initramfs.cpio.gz");
    let cpio = crate::image::build(Arch::Stm32, &out, Vec::new())?;
    let busybox = crate::nommu_busybox::build()?;
    let len = |p: &Path| fs::metadata(p).map(|m| m.len());
    Ok((len(&cpio)?, len(&busybox)?))
}

/// The STM32F429 image against the flash, and where its bytes go (object level).
fn flash_budget(build: &Path) -> Result<FlashBudget> {
    let arch = Arch::Stm32;
    let (initramfs, busybox) = stm32_initramfs()?;
    let net_all = dir_size(arch, build, "net")?;
    let rinet_dir = dir_size(arch, build, "net/rinet")?;
    let usb = dir_size(arch, build, "drivers/usb")?;
    let netdev = dir_size(arch, build, "drivers/net")?;
    let mut parts = vec![
        (
            "net core, netlink, packet, unix (net/ minus rinet)",
            net_all - rinet_dir,
        ),
        ("rinet (net/rinet)", rinet_dir),
        ("USB device controller + gadget Ethernet (drivers/usb)", usb),
        ("network device core (drivers/net)", netdev),
    ];
    for dir in ["kernel", "mm", "fs", "lib", "drivers", "arch/arm", "init"] {
        let mut s = dir_size(arch, build, dir)?;
        if dir == "drivers" {
            s -= usb + netdev;
        }
        parts.push((dir, s));
    }
    Ok(FlashBudget {
        budget: stm32_flash_budget()?,
        initramfs,
        busybox,
        parts: parts
            .into_iter()
            .map(|(name, bytes)| Part {
                name: name.to_string(),
                bytes,
            })
            .collect(),
    })
}

fn flash_markdown(md: &mut String, flash: &FlashBudget, xip_image: u64) {
    let objects: u64 = flash.parts.iter().map(|p| p.bytes).sum();
    let headroom = flash.budget as i64 - xip_image as i64 - flash.initramfs as i64;
    let _ = writeln!(
        md,
        "### The STM32F429 flash budget\n\n\
         The xipImage (kernel text, rodata and initial data, with the initramfs bundled in it) \
         must fit {} bytes of flash: from the kernel's address (CONFIG_XIP_PHYS_ADDR, after \
         afboot-stm32 and the device tree) to the end of the 2 MiB flash. The initramfs is the image's own (`/init`, network \
         config, udhcpc hook, page, CGI) with the device's busybox: the distro layer's \
         configuration (`meta-tinyrust-distro/recipes-core/busybox/busybox/`: tinyrust.cfg and \
         nommu.cfg on allnoconfig, as the layer's busybox append builds it), Thumb-2 for \
         ARMv7-M, a static PIE on musl with the layer's M-profile patch (see \
         `xtask/src/nommu_busybox.rs`; it runs on the ARMv7-M kernel in QEMU).\n\n\
         | | bytes |\n|---|---:|\n\
         | xipImage with rinet (no initramfs) | {} |\n\
         | initramfs, gzipped cpio (busybox stripped: {} B) | {} |\n\
         | together | {} |\n| budget | {} |\n| **{}** | **{}** |\n\n\
         Where the kernel's bytes go (object level, text+data of each directory's `built-in.a`; \
         the link adds alignment and linker-generated tables):\n\n| part | bytes |\n|---|---:|",
        count(flash.budget),
        count(xip_image),
        count(flash.busybox),
        count(flash.initramfs),
        count(xip_image + flash.initramfs),
        count(flash.budget),
        if headroom >= 0 {
            "headroom"
        } else {
            "overflow"
        },
        count(headroom.unsigned_abs()),
    );
    for p in &flash.parts {
        let _ = writeln!(md, "| {} | {} |", p.name, count(p.bytes));
    }
    let _ = writeln!(
        md,
        "| all objects | {} |\n| xipImage − objects (linker tables, alignment, unwind index) | {} |\n",
        count(objects),
        signed(xip_image as i64 - objects as i64)
    );
}

/// A grouped bar chart of text+data per target and kernel, as a small SVG.
fn svg(report: &KernelSizeReport) -> String {
    // Per target, one bar per kernel in NETS order.
    let chart: Vec<(&str, Vec<u64>)> = report
        .targets
        .iter()
        .map(|a| {
            let bars = NETS.iter().map(|&net| a.kernel(net).loaded).collect();
            (a.arch.as_str(), bars)
        })
        .collect();
    let max = chart
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .max()
        .unwrap_or(1)
        .max(1);
    let colors = ["#c0504d", "#9bbb59", "#bfbfbf", "#4f81bd", "#8eb4e3"];
    let (bar, gap, group_gap, height, left, top) = (36u64, 6u64, 40u64, 300u64, 70u64, 30u64);
    let group_w = NETS.len() as u64 * (bar + gap) - gap;
    let width = left + chart.len() as u64 * (group_w + group_gap) + 200;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{}\" \
         font-family=\"sans-serif\" font-size=\"12\">\n\
         <text x=\"{left}\" y=\"18\" font-size=\"14\">Kernel text+data (bytes), Linux 6.12</text>\n",
        top + height + 50
    );
    let mb = 1_000_000u64;
    let mut tick = 0;
    while tick <= max {
        let y = top + height - tick * height / max;
        let _ = writeln!(
            s,
            "<line x1=\"{}\" x2=\"{}\" y1=\"{y}\" y2=\"{y}\" stroke=\"#ddd\"/>\
             <text x=\"{}\" y=\"{}\" text-anchor=\"end\">{:.1} MB</text>",
            left - 4,
            width - 200,
            left - 8,
            y + 4,
            tick as f64 / mb as f64
        );
        tick += mb / 2;
    }
    for (g, (name, values)) in chart.iter().enumerate() {
        let x0 = left + g as u64 * (group_w + group_gap) + group_gap / 2;
        for (i, v) in values.iter().enumerate() {
            let h = v * height / max;
            let x = x0 + i as u64 * (bar + gap);
            let _ = writeln!(
                s,
                "<rect x=\"{x}\" y=\"{}\" width=\"{bar}\" height=\"{h}\" fill=\"{}\"/>\
                 <text x=\"{}\" y=\"{}\" font-size=\"9\" text-anchor=\"middle\">{}</text>",
                top + height - h,
                colors[i],
                x + bar / 2,
                top + height - h - 3,
                v / 1000
            );
        }
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{name}</text>",
            x0 + group_w / 2,
            top + height + 18
        );
    }
    let lx = width - 190;
    for (i, net) in NETS.iter().enumerate() {
        let y = top + 10 + i as u64 * 20;
        let _ = writeln!(
            s,
            "<rect x=\"{lx}\" y=\"{y}\" width=\"12\" height=\"12\" fill=\"{}\"/>\
             <text x=\"{}\" y=\"{}\">{}</text>",
            colors[i],
            lx + 18,
            y + 10,
            label(*net).trim_matches('*')
        );
    }
    let _ = writeln!(
        s,
        "<text x=\"{left}\" y=\"{}\" font-size=\"10\">bar labels in kB; \
         `cargo xtask size-table`</text>\n</svg>",
        top + height + 40
    );
    s
}

/// The test command's STM32F429 step: the board kernel builds with rinet for ARMv7-M and
/// its xipImage fits the flash. Returns rinet's objects in it, for `check_rinet_objects`.
pub fn check_stm32() -> Result<u64> {
    let spec = Spec::rinet(Arch::Stm32);
    let build = kernel::build(spec)?;
    let m = measure(Arch::Stm32, &build)?;
    let share = rinet_share(Arch::Stm32, &build)?;
    let (initramfs, _) = stm32_initramfs()?;
    let total = m.image + initramfs;
    let budget = stm32_flash_budget()?;
    println!(
        "stm32f429 check: xipImage {} B + initramfs {} B = {} B of {} B flash ({} B {}); \
         rinet objects {} B (Rust {} B, C glue {} B)",
        count(m.image),
        count(initramfs),
        count(total),
        count(budget),
        count(budget.abs_diff(total)),
        if total <= budget { "free" } else { "over" },
        count(share.total),
        count(share.rust_total),
        count(share.glue),
    );
    if total > budget {
        bail!("the STM32F429 image does not fit its flash");
    }
    check_rust_unwind_entry(&build)?;
    Ok(share.total)
}

/// The size gate on rinet in the STM32F429 kernel: its objects (text+data of rinet_rust.o
/// and the C glue, the table's "rinet objects" row, measured by the same `rinet_share`)
/// against the committed docs/kernel-size.json. Not the table's "rinet's cost" (the rinet
/// kernel minus the no-TCP/IP kernel): that needs a second kernel build, which the test
/// command does not otherwise make. The objects are that cost less the core hooks and
/// link alignment (−432 B of 60,348 in the table of 2026-12-03), and follow rinet's code
/// byte for byte where the linked kernel moves in alignment steps.
pub fn check_rinet_objects(current: u64) -> Result<()> {
    let committed: KernelSizeReport = read_json(&root_dir().join(JSON))?;
    let baseline = committed
        .targets
        .iter()
        .find(|a| a.arch == Arch::Stm32.name())
        .with_context(|| format!("{JSON}: no {}", Arch::Stm32.name()))?
        .rinet_objects
        .total;
    let line = crate::size_gate::check(
        "stm32f429 rinet objects in the kernel (text+data)",
        baseline,
        current,
        &format!(
            "`cargo xtask size-table` (builds the table's kernels), then commit {JSON}, \
             docs/kernel-size.md and docs/kernel-size.svg"
        ),
    )?;
    println!("size gate: {line}");
    Ok(())
}

/// The Rust code must be covered by the single EXIDX_CANTUNWIND entry of rinet_exidx.S
/// (rinet.lds drops the per-function ones): without it, the entry before the Rust code
/// would describe the Rust frames, and the unwinder would walk them with a C helper's rules.
fn check_rust_unwind_entry(build: &Path) -> Result<()> {
    let prefix = Arch::Stm32.tool_prefix();
    let symbols = output(&format!("{prefix}nm"), &["vmlinux"], build, &[])?;
    // By address: readelf names an entry after any symbol there, and the first Rust
    // function may start exactly at the zero-sized marker.
    let addr = symbols
        .lines()
        .find_map(|l| {
            let mut it = l.split_whitespace();
            let (a, _, name) = (it.next()?, it.next()?, it.next()?);
            (name == "rinet_rust_begin").then(|| u64::from_str_radix(a, 16).ok())?
        })
        .context("vmlinux has no rinet_rust_begin")?;
    let index = output(&format!("{prefix}readelf"), &["-u", "vmlinux"], build, &[])?;
    let at = format!("{addr:#x} <");
    let entry = index.lines().find(|l| l.starts_with(&at));
    match entry {
        Some(l) if l.contains("cantunwind") => {
            println!("stm32f429 check: the Rust code has one unwind entry: {l}");
            Ok(())
        }
        Some(l) => Err(anyhow!(
            "rinet_rust_begin's unwind entry is not CANTUNWIND: {l}"
        )),
        None => Err(anyhow!(
            "vmlinux's unwind index has no entry at rinet_rust_begin ({addr:#x})"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The gate's baseline is there, and the committed figures agree with each other (a
    /// baseline edited by hand alone would not).
    #[test]
    fn the_committed_json_holds_the_stm32_gate_figure() {
        let r: KernelSizeReport = read_json(&root_dir().join(JSON)).unwrap();
        let stm32 = r.targets.iter().find(|a| a.arch == "stm32f429").unwrap();
        let objects = &stm32.rinet_objects;
        assert!(objects.total > 0);
        assert_eq!(objects.total, objects.rust_total + objects.glue);
        let loaded = |net: Net| stm32.kernel(net).loaded as i64;
        assert_eq!(stm32.rinet_cost, loaded(Net::Rinet) - loaded(Net::CoreOnly));
    }

    #[test]
    fn stm32_flash_budget_is_the_kernel_slot_of_the_2_mib_flash() {
        let budget = stm32_flash_budget().unwrap();
        // Behind afboot-stm32 and the device tree, inside the 2 MiB.
        assert!(budget > 1 << 20 && budget < 2 << 20, "{budget}");
    }
}
