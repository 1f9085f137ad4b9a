//! The size report: rinet's kernel staticlib and a smoltcp-only probe with the same
//! features, each linked with `--gc-sections` against a tiny C stub standing in for the
//! kernel, for thumbv7em-none-eabi, i586 (kernel regparm ABI) and x86_64-unknown-none
//! (kernel code model). Sections come from `size -A`; the split into smoltcp, rinet,
//! core/alloc and compiler builtins from the symbol table (`nm -S -C`).

use crate::util::fs;
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::util::{output, read_json, root_dir, run, write_json};

struct Target {
    triple: &'static str,
    label: &'static str,
    /// The kernel's symbol for this architecture: the row of rinet-kernel/glue/rinet-rust.mk
    /// that gives the rustc flags (kernel ABI) and the cargo profile the kernel build uses.
    kconfig: &'static str,
    cc: &'static str,
    cflags: &'static [&'static str],
    ld: &'static str,
    ldflags: &'static [&'static str],
    tool_prefix: &'static str,
    /// C helpers the kernel glue links into the Rust object for this target
    /// (`rinet_helpers-y` in the Makefile); the stub provides the same.
    helpers: &'static str,
}

/// rinet-kernel/glue/rinet_aeabi.c: the EABI memory helpers on the kernel's mem*, and
/// 64-bit division on the kernel's `div64_u64_rem` (here a shift-and-subtract loop that
/// stands in for it; the report only links it, never runs it).
const AEABI_HELPERS: &str = "\
void stub_div64(unsigned long long *nr, unsigned long long d) { unsigned long long n = nr[0], q = 0, r = 0; int i; for (i = 0; i < 64; i++) { r = (r << 1) | (n >> 63); n <<= 1; q <<= 1; if (r >= d) { r -= d; q |= 1; } } nr[0] = q; nr[1] = r; }
void __aeabi_uldivmod(void) __attribute__((naked));
void __aeabi_uldivmod(void) { __asm__ volatile(\"push {r4, lr}\\n sub sp, sp, #16\\n strd r0, r1, [sp]\\n mov r0, sp\\n bl stub_div64\\n ldrd r0, r1, [sp]\\n ldrd r2, r3, [sp, #8]\\n add sp, sp, #16\\n pop {r4, pc}\\n\"); }
void __aeabi_memcpy(void *d, const void *s, size_t n) { memcpy(d, s, n); }
void __aeabi_memcpy4(void *d, const void *s, size_t n) { memcpy(d, s, n); }
void __aeabi_memcpy8(void *d, const void *s, size_t n) { memcpy(d, s, n); }
void __aeabi_memmove(void *d, const void *s, size_t n) { memmove(d, s, n); }
void __aeabi_memmove4(void *d, const void *s, size_t n) { memmove(d, s, n); }
void __aeabi_memmove8(void *d, const void *s, size_t n) { memmove(d, s, n); }
void __aeabi_memset(void *d, size_t n, int c) { memset(d, c, n); }
void __aeabi_memset4(void *d, size_t n, int c) { memset(d, c, n); }
void __aeabi_memset8(void *d, size_t n, int c) { memset(d, c, n); }
void __aeabi_memclr(void *d, size_t n) { memset(d, 0, n); }
void __aeabi_memclr4(void *d, size_t n) { memset(d, 0, n); }
void __aeabi_memclr8(void *d, size_t n) { memset(d, 0, n); }
";

const TARGETS: &[Target] = &[
    Target {
        triple: "thumbv7em-none-eabi",
        label: "STM32F429 (thumbv7em)",
        kconfig: "CONFIG_CPU_V7M",
        cc: "arm-linux-gnueabi-gcc",
        cflags: &[
            "-mthumb",
            "-march=armv7e-m",
            "-mfloat-abi=soft",
            "-mabi=aapcs-linux",
        ],
        ld: "arm-linux-gnueabi-ld",
        ldflags: &[],
        tool_prefix: "arm-linux-gnueabi-",
        helpers: AEABI_HELPERS,
    },
    Target {
        triple: "i586-unknown-linux-gnu",
        label: "Galileo (i586, regparm=3)",
        kconfig: "CONFIG_X86_32",
        cc: "gcc",
        cflags: &[
            "-m32",
            "-march=i586",
            "-mregparm=3",
            "-freg-struct-return",
            "-msoft-float",
            "-fno-pic",
        ],
        ld: "ld",
        ldflags: &["-m", "elf_i386"],
        tool_prefix: "",
        helpers: "",
    },
    Target {
        triple: "x86_64-unknown-none",
        label: "x86_64 (kernel code model)",
        kconfig: "CONFIG_X86_64",
        cc: "gcc",
        cflags: &["-mcmodel=kernel", "-mno-red-zone", "-fno-pic", "-mno-sse"],
        ld: "ld",
        ldflags: &[],
        tool_prefix: "",
        helpers: "",
    },
];

/// How the kernel builds rinet for a target: rustc flags and cargo profile.
pub struct KernelRust {
    pub rustflags: String,
    pub profile: String,
}

/// The kernel build's row for `t`, from the one table (rinet-kernel/glue/rinet-rust.mk).
fn kernel_rust(t: &Target) -> Result<KernelRust> {
    let mk = root_dir().join("rinet-kernel/glue");
    let row = output(
        "make",
        &[
            "-s",
            "-f",
            "rinet-rust.mk",
            &format!("{}=y", t.kconfig),
            "rinet-print-target",
        ],
        &mk,
        &[],
    )?;
    let mut cols = row.trim().split('|');
    let (triple, rustflags, profile) = (cols.next(), cols.next(), cols.next());
    if triple != Some(t.triple) {
        bail!(
            "rinet-rust.mk: {} builds {triple:?}, the report expects {}",
            t.kconfig,
            t.triple
        );
    }
    Ok(KernelRust {
        rustflags: rustflags.unwrap_or_default().to_string(),
        profile: profile.unwrap_or_default().to_string(),
    })
}

/// The environment of a report build: the kernel's Rust version, -Zbuild-std, and the
/// kernel build's flags, with the paths of this machine mapped away as the kernel build
/// maps them (panic location strings are part of the code size).
fn build_env(t: &Target, debug_var: Option<&str>) -> Result<Vec<(String, String)>> {
    let ch = crate::kernel_rust::ensure_toolchain()?;
    let sysroot = crate::kernel_rust::sysroot()?;
    let cargo_home = std::env::var("CARGO_HOME")
        .unwrap_or_else(|_| format!("{}/.cargo", std::env::var("HOME").unwrap_or_default()));
    let flags = format!(
        "{} --remap-path-prefix={}/= --remap-path-prefix={}/lib/rustlib/src/rust=/rustc/src \
         --remap-path-prefix={cargo_home}=/cargo",
        kernel_rust(t)?.rustflags,
        root_dir().display(),
        sysroot.display()
    );
    let mut env = vec![
        ("RUSTUP_TOOLCHAIN".to_string(), ch),
        ("RUSTC_BOOTSTRAP".to_string(), "1".to_string()),
        ("RUSTFLAGS".to_string(), flags),
    ];
    if let Some(v) = debug_var {
        env.push((v.to_string(), "line-tables-only".to_string()));
    }
    Ok(env)
}

struct Lib {
    dir: &'static str,
    name: &'static str,
    prefix: &'static str,
    /// Crate features: rinet's full profile, as the kernel's default configuration
    /// builds it (glue/Kconfig; the probe's smoltcp has the same smoltcp features).
    features: &'static str,
}

const RINET: Lib = Lib {
    dir: "rinet-kernel",
    name: "librinet_kernel.a",
    prefix: "rinet_",
    features: "raw",
};
const PROBE: Lib = Lib {
    dir: "tools/size-probe",
    name: "libsmoltcp_size_probe.a",
    prefix: "probe_",
    features: "",
};

fn build(t: &Target, lib: &Lib, profile: &str) -> Result<PathBuf> {
    build_in("kernel-libs", t, lib, profile, None)
}

/// The same build with DWARF line tables, in a target directory of its own so that the
/// report's builds stay as they are.
fn build_line_tables(t: &Target, lib: &Lib, profile: &str) -> Result<PathBuf> {
    let debug_var = format!(
        "CARGO_PROFILE_{}_DEBUG",
        profile.to_ascii_uppercase().replace('-', "_")
    );
    build_in("kernel-libs-line-tables", t, lib, profile, Some(&debug_var))
}

/// `lib` built for `t` with `profile` in target/`target_dir`; `debug_var` turns on line
/// tables. core and alloc are built from source with the library's profile, as the kernel
/// build does for every target (the prebuilt thumbv7em core is optimised for speed: 2.3 KB
/// more).
fn build_in(
    target_dir: &str,
    t: &Target,
    lib: &Lib,
    profile: &str,
    debug_var: Option<&str>,
) -> Result<PathBuf> {
    let dir = root_dir().join(lib.dir);
    let target_dir = root_dir().join("target").join(target_dir);
    let target_dir_s = target_dir.to_string_lossy().into_owned();
    let args = [
        "build",
        "--profile",
        profile,
        "--target",
        t.triple,
        "--features",
        lib.features,
        "-Zbuild-std=core,alloc",
        "--target-dir",
        &target_dir_s,
    ];
    let env = build_env(t, debug_var)?;
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    run("cargo", &args, &dir, &env)?;
    Ok(target_dir.join(t.triple).join(profile).join(lib.name))
}

/// A C file that keeps every exported entry point alive and plays the kernel's part.
fn stub_source(exports: &[String], helpers: &str) -> String {
    let mut s = String::from(
        "typedef unsigned long size_t;\n\
         static char heap[1 << 16]; static size_t used;\n\
         void *rinet_c_alloc(size_t n, size_t a) { used = (used + a - 1) & ~(a - 1); void *p = heap + used; used += n; return p; }\n\
         void rinet_c_free(void *p) { (void)p; }\n\
         void rinet_c_panic(const char *f, size_t n, unsigned l) { (void)f; (void)n; (void)l; for (;;) ; }\n\
         void probe_c_tx(const void *f, size_t n) { (void)f; (void)n; }\n\
         void *memcpy(void *d, const void *s, size_t n) { char *a = d; const char *b = s; while (n--) *a++ = *b++; return d; }\n\
         void *memmove(void *d, const void *s, size_t n) { return memcpy(d, s, n); }\n\
         void *memset(void *d, int c, size_t n) { char *a = d; while (n--) *a++ = (char)c; return d; }\n\
         int memcmp(const void *x, const void *y, size_t n) { const unsigned char *a = x, *b = y; for (; n; n--, a++, b++) if (*a != *b) return *a - *b; return 0; }\n\
         int bcmp(const void *x, const void *y, size_t n) { return memcmp(x, y, n); }\n",
    );
    s.push_str(helpers);
    for e in exports {
        let _ = writeln!(s, "extern void {e}(void);");
    }
    s.push_str("void * volatile stub_keep[] = {\n");
    for e in exports {
        let _ = writeln!(s, "  (void *){e},");
    }
    s.push_str("};\nvoid *stub_entry(unsigned i) { return stub_keep[i]; }\n");
    s
}

/// Bytes of one image or component by kind; "code" is text + rodata.
#[derive(Default, Clone, Serialize, Deserialize)]
pub struct Split {
    pub text: u64,
    pub rodata: u64,
    pub data: u64,
    pub bss: u64,
}

impl Split {
    fn add(&mut self, kind: char, n: u64) {
        match kind.to_ascii_lowercase() {
            't' | 'w' => self.text += n,
            'r' => self.rodata += n,
            'd' => self.data += n,
            'b' => self.bss += n,
            _ => {}
        }
    }
    fn code(&self) -> u64 {
        self.text + self.rodata
    }
}

pub(crate) fn component(name: &str, stub: &[&str]) -> &'static str {
    let n = name
        .trim_start_matches('<')
        .trim_start_matches('&')
        .trim_start_matches("dyn ");
    let first = n.split("::").next().unwrap_or("");
    match first {
        "smoltcp" | "managed" => "smoltcp",
        "rinet" | "rinet_kernel" | "heapless" => "rinet",
        "smoltcp_size_probe" => "probe glue",
        "core" | "alloc" => "core/alloc",
        "compiler_builtins" => "compiler builtins",
        _ if n.starts_with("rinet_c_")
            || n.starts_with("probe_c_")
            || n.starts_with("stub_")
            || stub.contains(&n) =>
        {
            "stub"
        }
        _ if n.starts_with("rinet_") => "rinet",
        _ if n.starts_with("probe_") => "probe glue",
        _ if n.starts_with("__") => "compiler builtins",
        _ => "other",
    }
}

struct Linked {
    sections: Split,
    parts: BTreeMap<&'static str, Split>,
    elf: PathBuf,
}

fn link(t: &Target, lib: &Lib, archive: &Path, work: &Path) -> Result<Linked> {
    let nm = format!("{}nm", t.tool_prefix);
    let syms = output(
        &nm,
        &["-g", "--defined-only", archive.to_str().unwrap_or_default()],
        work,
        &[],
    )?;
    let mut exports: Vec<String> = syms
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let (_, kind, name) = (it.next()?, it.next()?, it.next()?);
            (kind == "T" && name.starts_with(lib.prefix) && !name.starts_with("rinet_c_"))
                .then(|| name.to_string())
        })
        .collect();
    exports.sort();
    exports.dedup();
    let stub_c = work.join(format!("stub-{}.c", lib.prefix));
    fs::write(&stub_c, stub_source(&exports, t.helpers))?;
    let stub_o = work.join(format!("stub-{}.o", lib.prefix));
    let mut cc: Vec<&str> = t.cflags.to_vec();
    cc.extend([
        "-Os",
        "-ffreestanding",
        "-fno-builtin",
        "-ffunction-sections",
        "-fdata-sections",
        "-c",
    ]);
    let (c, o) = (
        stub_c.to_str().unwrap_or_default(),
        stub_o.to_str().unwrap_or_default(),
    );
    cc.extend([c, "-o", o]);
    run(t.cc, &cc, work, &[])?;
    let elf = work.join(format!(
        "{}-{}.elf",
        t.triple,
        lib.prefix.trim_end_matches('_')
    ));
    let map = elf.with_extension("map");
    let mut ld: Vec<&str> = t.ldflags.to_vec();
    let (e, m, a) = (
        elf.to_str().unwrap_or_default(),
        map.to_str().unwrap_or_default(),
        archive.to_str().unwrap_or_default(),
    );
    ld.extend([
        "--gc-sections",
        "-e",
        "stub_entry",
        "-o",
        e,
        "-Map",
        m,
        o,
        a,
    ]);
    run(t.ld, &ld, work, &[])?;
    // Sections of the linked image, minus the stub's own.
    let size = format!("{}size", t.tool_prefix);
    let mut sections = Split::default();
    for l in output(&size, &["-A", e], work, &[])?.lines() {
        let mut it = l.split_whitespace();
        let (Some(name), Some(bytes)) = (it.next(), it.next().and_then(|v| v.parse::<u64>().ok()))
        else {
            continue;
        };
        let kind = if name.starts_with(".text") {
            't'
        } else if name.starts_with(".rodata") || name.starts_with(".ARM.exidx") {
            'r'
        } else if name.starts_with(".data") || name.starts_with(".got") {
            'd'
        } else if name.starts_with(".bss") {
            'b'
        } else {
            continue;
        };
        sections.add(kind, bytes);
    }
    let mut stub_names = vec![
        "memcpy", "memmove", "memset", "memcmp", "bcmp", "heap", "used",
    ];
    // The helpers' names: "void NAME(...".
    stub_names.extend(
        t.helpers
            .lines()
            .filter_map(|l| l.strip_prefix("void ")?.split('(').next()),
    );
    let mut parts: BTreeMap<&'static str, Split> = BTreeMap::new();
    for l in output(&nm, &["-S", "-C", "--size-sort", e], work, &[])?.lines() {
        let mut it = l.splitn(4, ' ');
        let (Some(_), Some(sz), Some(kind), Some(name)) =
            (it.next(), it.next(), it.next(), it.next())
        else {
            continue;
        };
        let Ok(n) = u64::from_str_radix(sz, 16) else {
            continue;
        };
        let comp = component(name, &stub_names);
        parts
            .entry(comp)
            .or_default()
            .add(kind.chars().next().unwrap_or(' '), n);
    }
    // What the stub contributes is not part of the stack.
    if let Some(s) = parts.get("stub").cloned() {
        sections.text = sections.text.saturating_sub(s.text);
        sections.rodata = sections.rodata.saturating_sub(s.rodata);
        sections.data = sections.data.saturating_sub(s.data);
        sections.bss = sections.bss.saturating_sub(s.bss);
    }
    Ok(Linked {
        sections,
        parts,
        elf,
    })
}

/// The size report as data: `docs/size-report.md` is rendered from it and
/// `docs/size-report.json` is it.
#[derive(Serialize, Deserialize)]
pub struct SizeReport {
    pub rustc: String,
    pub targets: Vec<TargetSizes>,
}

#[derive(Serialize, Deserialize)]
pub struct TargetSizes {
    pub triple: String,
    pub label: String,
    /// The kernel build's rustc flags for this target.
    pub rustflags: String,
    /// The opt-level of the kernel build's profile: "z" or "s".
    pub kernel_opt: String,
    /// rinet's staticlib and smoltcp alone, at opt-level s and z.
    pub builds: Vec<Build>,
    /// rinet's staticlib at the kernel's opt-level by component, from symbols.
    pub rinet_components: BTreeMap<String, Split>,
    pub by_source: SourceSizes,
    pub summary: Summary,
}

/// One linked build, the stub's bytes subtracted.
#[derive(Serialize, Deserialize)]
pub struct Build {
    pub name: String,
    pub opt: String,
    pub sizes: Split,
}

/// The kernel-profile builds again with DWARF line tables, by source file.
#[derive(Serialize, Deserialize)]
pub struct SourceSizes {
    /// Largest in rinet first.
    pub rows: Vec<SourceRow>,
    pub covered_rinet: u64,
    pub covered_smoltcp_alone: u64,
    /// Text of the line-table builds, and of the report's own rinet build beside it: line
    /// tables move code by a few bytes of alignment, and this keeps that visible.
    pub text_rinet: u64,
    pub text_rinet_report: u64,
    pub text_smoltcp_alone: u64,
    /// rinet's 25 largest functions, inlined callees included (opt-level z targets only).
    pub largest_functions: Vec<Function>,
    /// rinet's own code by concern (opt-level z targets only; `size_concern`).
    #[serde(default)]
    pub by_concern: Vec<ConcernRow>,
}

#[derive(Serialize, Deserialize)]
pub struct ConcernRow {
    pub part: String,
    pub concern: String,
    pub bytes: u64,
}

#[derive(Serialize, Deserialize)]
pub struct SourceRow {
    pub source: String,
    pub rinet: u64,
    pub smoltcp_alone: u64,
}

#[derive(Serialize, Deserialize)]
pub struct Function {
    pub name: String,
    pub source: String,
    pub bytes: u64,
}

/// What rinet's own layer costs over smoltcp alone, at the kernel's opt-level.
#[derive(Serialize, Deserialize)]
pub struct Summary {
    pub rinet_code: u64,
    pub smoltcp_alone_code: u64,
    /// rinet code − smoltcp-alone code: the figure of the code-size budget (issue #2,
    /// docs/size-budget.md); `cargo xtask test` gates it for thumbv7em.
    pub own_layer: i64,
    /// Code in rinet's own source files, from the line tables.
    pub own_source_files: u64,
    pub rinet_data: u64,
    pub rinet_bss: u64,
}

const JSON: &str = "docs/size-report.json";
/// The target of the code-size budget, and of the test command's gate.
const BUDGET_TRIPLE: &str = "thumbv7em-none-eabi";

/// rinet's staticlib and the smoltcp-alone probe for `t` at `profile`, each linked against
/// the stub.
fn link_pair(t: &Target, profile: &str, work: &Path) -> Result<(Linked, Linked)> {
    let rinet = link(t, &RINET, &build(t, &RINET, profile)?, work)?;
    let alone = link(t, &PROBE, &build(t, &PROBE, profile)?, work)?;
    Ok((rinet, alone))
}

fn own_layer(rinet: &Split, alone: &Split) -> i64 {
    rinet.code() as i64 - alone.code() as i64
}

fn measure_target(t: &Target, work: &Path) -> Result<TargetSizes> {
    let kr = kernel_rust(t)?;
    let kernel_opt = if kr.profile == "release-z" { "z" } else { "s" };
    let mut builds = Vec::new();
    let mut at_kernel_opt = None;
    for (profile, opt) in [("release", "s"), ("release-z", "z")] {
        let (r, p) = link_pair(t, profile, work)?;
        for (name, l) in [("rinet (staticlib)", &r), ("smoltcp alone", &p)] {
            builds.push(Build {
                name: name.to_string(),
                opt: opt.to_string(),
                sizes: l.sections.clone(),
            });
        }
        if opt == kernel_opt {
            at_kernel_opt = Some((r, p));
        }
    }
    let (r, p) =
        at_kernel_opt.with_context(|| format!("{}: no build at opt {kernel_opt}", t.triple))?;
    let (by_source, own_source_files) = by_source(t, &kr.profile, work, r.sections.text)?;
    Ok(TargetSizes {
        triple: t.triple.to_string(),
        label: t.label.to_string(),
        rustflags: kr.rustflags,
        kernel_opt: kernel_opt.to_string(),
        builds,
        rinet_components: r
            .parts
            .iter()
            .filter(|(k, _)| **k != "stub")
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
        by_source,
        summary: Summary {
            rinet_code: r.sections.code(),
            smoltcp_alone_code: p.sections.code(),
            own_layer: own_layer(&r.sections, &p.sections),
            own_source_files,
            rinet_data: r.sections.data,
            rinet_bss: r.sections.bss,
        },
    })
}

/// The kernel-profile builds of rinet and of smoltcp alone, split by source file
/// (`size_source`), and the code in rinet's own source files.
fn by_source(
    t: &Target,
    profile: &str,
    work: &Path,
    report_text: u64,
) -> Result<(SourceSizes, u64)> {
    let work = work.join("line-tables");
    fs::create_dir_all(&work)?;
    let r = link(t, &RINET, &build_line_tables(t, &RINET, profile)?, &work)?;
    let p = link(t, &PROBE, &build_line_tables(t, &PROBE, profile)?, &work)?;
    let (rs, ps) = (
        crate::size_source::attribute(&r.elf)?,
        crate::size_source::attribute(&p.elf)?,
    );
    let row = |source: &String| SourceRow {
        source: source.clone(),
        rinet: rs.groups.get(source).copied().unwrap_or(0),
        smoltcp_alone: ps.groups.get(source).copied().unwrap_or(0),
    };
    let mut rows: Vec<SourceRow> = rs.groups.keys().map(row).collect();
    rows.extend(
        ps.groups
            .keys()
            .filter(|g| !rs.groups.contains_key(*g))
            .map(row),
    );
    rows.sort_by(|a, b| b.rinet.cmp(&a.rinet).then(a.source.cmp(&b.source)));
    let own = rows
        .iter()
        .filter(|r| r.source.starts_with("rinet"))
        .map(|r| r.rinet)
        .sum();
    let mut largest_functions = Vec::new();
    let mut by_concern = Vec::new();
    if profile == "release-z" {
        by_concern = crate::size_concern::split(&rs.functions)
            .into_iter()
            .map(|(part, concern, bytes)| ConcernRow {
                part: part.label().to_string(),
                concern: concern.to_string(),
                bytes,
            })
            .collect();
        let mut fns: Vec<(&(String, String), &u64)> = rs
            .functions
            .iter()
            .filter(|((g, _), _)| g.starts_with("rinet"))
            .collect();
        fns.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        largest_functions = fns
            .into_iter()
            .take(25)
            .map(|((source, name), bytes)| Function {
                name: name.clone(),
                source: source.clone(),
                bytes: *bytes,
            })
            .collect();
    }
    let sizes = SourceSizes {
        rows,
        covered_rinet: rs.covered,
        covered_smoltcp_alone: ps.covered,
        text_rinet: r.sections.text,
        text_rinet_report: report_text,
        text_smoltcp_alone: p.sections.text,
        largest_functions,
        by_concern,
    };
    Ok((sizes, own))
}

fn markdown(report: &SizeReport) -> String {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# rinet size report\n\nProduced by `cargo xtask size` ({}). Each staticlib is linked with \
         `--gc-sections` against a C stub that plays the kernel (allocator, panic hook, mem*) and keeps \
         every exported entry point alive; the stub's own bytes are subtracted. \"code\" = text + rodata. \
         The **smoltcp alone** column is `tools/size-probe`: the same smoltcp features and the smoltcp \
         calls rinet makes, behind a minimal C ABI, with no socket layer. The split by component comes \
         from the symbol table: after LTO, smoltcp code inlined into a rinet function counts as rinet. \
         The split by source file comes from DWARF line tables of the same build and does not \
         have that fault (`xtask/src/size_source.rs`).\n",
        report.rustc
    );
    for t in &report.targets {
        target_markdown(&mut md, t);
    }
    md.push_str(
        "\n## Summary: cost of rinet's own layer over smoltcp alone (at the opt-level the kernel build uses)\n\n\
         | target | opt | rinet code | smoltcp-alone code | rinet − smoltcp-alone (code) | rinet's own source files (text) | rinet data | rinet bss |\n|---|---|---:|---:|---:|---:|---:|---:|\n",
    );
    for t in &report.targets {
        let s = &t.summary;
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {:+} | {} | {} | {} |",
            t.triple,
            t.kernel_opt,
            s.rinet_code,
            s.smoltcp_alone_code,
            s.own_layer,
            s.own_source_files,
            s.rinet_data,
            s.rinet_bss
        );
    }
    md.push_str(
        "\nBudget (issue #2): rinet's own layer adds at most 8 KB of code on thumbv7em over smoltcp \
         alone. picoTCP's kernel port added 41,696 B to its uClinux kernel in total; the C glue \
         (issue #3) adds to the figures above.\n",
    );
    md
}

fn target_markdown(md: &mut String, t: &TargetSizes) {
    let _ = writeln!(md, "\n## {} — `{}`\n", t.label, t.triple);
    let flags = if t.rustflags.is_empty() {
        String::new()
    } else {
        format!(" and `{}`", t.rustflags)
    };
    let _ = writeln!(md, "Built with `-Zbuild-std=core,alloc`{flags}.\n");
    md.push_str(
        "| build | opt | text | rodata | data | bss | code |\n|---|---|---:|---:|---:|---:|---:|\n",
    );
    for b in &t.builds {
        let s = &b.sizes;
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | **{}** |",
            b.name,
            b.opt,
            s.text,
            s.rodata,
            s.data,
            s.bss,
            s.code()
        );
    }
    let _ = writeln!(
        md,
        "\nrinet staticlib (opt {}, as the kernel builds it) by component, from symbols:\n\n\
         | component | text | rodata | data | bss |\n|---|---:|---:|---:|---:|",
        t.kernel_opt
    );
    for (k, v) in &t.rinet_components {
        let _ = writeln!(
            md,
            "| {k} | {} | {} | {} | {} |",
            v.text, v.rodata, v.data, v.bss
        );
    }
    let s = &t.by_source;
    md.push_str(
        "\nThe same builds by source file, from DWARF line tables (code inlined from core/alloc \
         counts to the caller that asked for it; smoltcp code inlined into rinet counts as \
         smoltcp):\n\n| source | rinet | smoltcp alone |\n|---|---:|---:|\n",
    );
    for r in &s.rows {
        let _ = writeln!(md, "| {} | {} | {} |", r.source, r.rinet, r.smoltcp_alone);
    }
    let _ = writeln!(
        md,
        "| **covered by line tables** | **{}** | **{}** |\n| text of this build (of the report's build) \
         | {} ({}) | {} |\n\nrinet's own source files: **{} B** of code.",
        s.covered_rinet,
        s.covered_smoltcp_alone,
        s.text_rinet,
        s.text_rinet_report,
        s.text_smoltcp_alone,
        t.summary.own_source_files
    );
    concern_markdown(md, &s.by_concern);
    if !s.largest_functions.is_empty() {
        md.push_str("\nrinet's 25 largest functions here (inlined callees included):\n\n| function | source | bytes |\n|---|---|---:|\n");
        for f in &s.largest_functions {
            let _ = writeln!(md, "| `{}` | {} | {} |", f.name, f.source, f.bytes);
        }
    }
}

/// rinet's own code by concern, under the part each belongs to with the part's total (the
/// comparison with lwIP in docs/size-budget.md reads this table).
fn concern_markdown(md: &mut String, rows: &[ConcernRow]) {
    if rows.is_empty() {
        return;
    }
    md.push_str(
        "\nrinet's own source files by concern (`xtask/src/size_concern.rs` says which function \
         is which):\n\n| concern | bytes |\n|---|---:|\n",
    );
    let mut rest = rows;
    while let Some(first) = rest.first() {
        let n = rest.iter().take_while(|r| r.part == first.part).count();
        let sum: u64 = rest[..n].iter().map(|r| r.bytes).sum();
        let _ = writeln!(md, "| **{}** | **{sum}** |", first.part);
        for r in &rest[..n] {
            let _ = writeln!(md, "| {} | {} |", r.concern, r.bytes);
        }
        rest = &rest[n..];
    }
}

pub fn report() -> Result<()> {
    crate::deps::ensure(true)?;
    let work = root_dir().join("target").join("size-report");
    fs::create_dir_all(&work)?;
    let ch = crate::kernel_rust::ensure_toolchain()?;
    let rustc = output("rustup", &["run", &ch, "rustc", "--version"], &work, &[])?;
    let report = SizeReport {
        rustc: rustc.trim().to_string(),
        targets: TARGETS
            .iter()
            .map(|t| measure_target(t, &work))
            .collect::<Result<_, _>>()?,
    };
    let md = markdown(&report);
    fs::write(root_dir().join("docs/size-report.md"), &md)?;
    write_json(&root_dir().join(JSON), &report)?;
    print!("{md}");
    eprintln!("wrote docs/size-report.md and {JSON}");
    Ok(())
}

/// The test command's gate on the code-size budget's figure: rinet's own layer over
/// smoltcp alone on thumbv7em at the kernel's opt-level, built and linked as the report
/// does it (two staticlibs, without the report's line-table builds; no kernel), against the
/// committed docs/size-report.json.
pub fn check_own_layer() -> Result<()> {
    let t = TARGETS
        .iter()
        .find(|t| t.triple == BUDGET_TRIPLE)
        .context("no budget target")?;
    let committed: SizeReport = read_json(&root_dir().join(JSON))?;
    let baseline = committed
        .targets
        .iter()
        .find(|c| c.triple == t.triple)
        .with_context(|| format!("{JSON}: no {}", t.triple))?
        .summary
        .own_layer;
    let work = root_dir().join("target").join("size-report");
    fs::create_dir_all(&work)?;
    let (r, p) = link_pair(t, &kernel_rust(t)?.profile, &work)?;
    let current = own_layer(&r.sections, &p.sections);
    let bytes = |v: i64| {
        u64::try_from(v).with_context(|| format!("rinet's code is below smoltcp alone's ({v} B)"))
    };
    let line = crate::size_gate::check(
        &format!("{} rinet's own layer over smoltcp alone (code)", t.triple),
        bytes(baseline)?,
        bytes(current)?,
        &format!("`cargo xtask size`, then commit {JSON} and docs/size-report.md"),
    )?;
    println!("size gate: {line}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed Markdown is what the committed JSON renders to: the two are one
    /// report, and the gate's baseline is the figure the Markdown shows.
    #[test]
    fn the_committed_json_renders_to_the_committed_markdown() {
        let report: SizeReport = read_json(&root_dir().join(JSON)).unwrap();
        let md = std::fs::read_to_string(root_dir().join("docs/size-report.md")).unwrap();
        assert!(
            markdown(&report) == md,
            "{JSON} does not render to docs/size-report.md: run `cargo xtask size`"
        );
        assert!(report.targets.iter().any(|t| t.triple == BUDGET_TRIPLE));
    }
}
