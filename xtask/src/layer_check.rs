//! `cargo xtask layer-check`: what can be checked in the two layers without bitbake.
//!
//! - every `file://` source a recipe, append or include names exists where bitbake's
//!   FILESPATH would look for it;
//! - every patch carries a valid `Upstream-Status:`;
//! - the kernel recipe: SRC_URI, as its assignments and includes resolve, holds every
//!   crate of linux-tinyrust-crates.inc (and that list is what the lock files give), the
//!   rinet sources place-in-tree.sh reads and the kernel metadata; the kernel's own
//!   do_configure is the one that runs; rinet is placed in the tree between do_patch and
//!   do_kernel_configme by the shared script; every machine has its BSP description
//!   (`tinyrust-kmeta/<machine>-tiny.scc`) and every patch and fragment it names exists;
//!   no layer variable names a directory outside the layer. (The patches, fragments, Rust
//!   target and flags are not compared with the host tool's: there is one copy of each,
//!   which both read.)
//! - each machine's `WKS_FILE` exists in a layer's `files/wic/`;
//! - the glue's C ABI is one: every Rust entry point `rinet.h` declares is a `#[no_mangle]`
//!   function of `rinet/src/ffi.rs` (or the allocator's, in `rinet-kernel/src/lib.rs`), and
//!   the Makefile keeps exactly those through its
//!   `--gc-sections` link (a missing one links in no kernel but the one that calls it).
//!
//! The parser understands the subset of BitBake syntax the layers use: assignments with
//! `=`, `?=`, `??=`, `:=`, `+=`, `.=`, `=+`, `:append`/`:prepend` and overrides, values in
//! double quotes, backslash continuations and comments.

use crate::util::fs;
use anyhow::{anyhow, bail, Result};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::kernel::{self, Arch, Kmeta};
use crate::util::root_dir;

const LAYERS: &[&str] = &["meta-tinyrust", "meta-tinyrust-distro"];
const KERNEL_RECIPE: &str = "meta-tinyrust/recipes-kernel/linux/linux-tinyrust_6.12.bb";
const GLUE_MAKEFILE: &str = "rinet-kernel/glue/Makefile";
const ARCHES: [Arch; 3] = [Arch::X86_64, Arch::Galileo, Arch::Stm32];

/// One BitBake assignment: `VAR:override1:override2 op "value"`.
#[derive(Debug, PartialEq)]
struct Assignment {
    var: String,
    overrides: Vec<String>,
    op: &'static str,
    value: String,
}

/// Lines with continuations joined and comments dropped.
fn logical_lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        if cur.is_empty() && trimmed.starts_with('#') {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(head) => {
                cur.push_str(head);
                cur.push(' ');
            }
            None => {
                cur.push_str(line);
                out.push(std::mem::take(&mut cur));
            }
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn parse_assignments(text: &str) -> Vec<Assignment> {
    // Longest operators first: "??=" before "?=" before "=".
    const OPS: [&str; 7] = ["??=", "?=", ":=", "+=", ".=", "=+", "="];
    let mut out = Vec::new();
    for line in logical_lines(text) {
        let line = line.trim();
        let Some(lhs_end) = line.find(|c: char| c.is_whitespace() || c == '=') else {
            continue;
        };
        let lhs = &line[..lhs_end];
        if lhs.is_empty()
            || !lhs
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_:-[].${}".contains(c))
        {
            continue;
        }
        let rest = line[lhs_end..].trim_start();
        let Some(op) = OPS.iter().find(|op| rest.starts_with(**op)) else {
            continue;
        };
        let value = rest[op.len()..].trim();
        let Some(value) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) else {
            continue;
        };
        let mut parts = lhs.split(':');
        let var = parts.next().unwrap_or_default().to_string();
        out.push(Assignment {
            var,
            overrides: parts.map(str::to_string).collect(),
            op,
            value: value.to_string(),
        });
    }
    out
}

/// The value of `var` for `machine`: a `VAR:<machine>` assignment, else the last plain
/// one that is not a weak default (`?=`, `??=`), else the weak default. (Enough for the
/// layers' per-machine tables.)
fn value_for(assigns: &[Assignment], var: &str, machine: &str) -> Option<String> {
    let named = |overrides: &[&str], weak: bool| {
        assigns
            .iter()
            .rev()
            .find(|a| a.var == var && a.overrides == overrides && a.op.starts_with('?') == weak)
    };
    named(&[machine], false)
        .or_else(|| named(&[], false))
        .or_else(|| named(&[], true))
        .map(|a| a.value.clone())
}

/// The `file://` names of every SRC_URI assignment, without parameters; names built
/// from expressions (`${...}`) are left to the checks that know their values.
fn file_uris(assigns: &[Assignment]) -> Vec<String> {
    assigns
        .iter()
        .filter(|a| a.var == "SRC_URI" && !a.overrides.iter().any(|o| o.contains('[')))
        .flat_map(|a| {
            a.value
                .split_whitespace()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .filter_map(|u| {
            let name = u.strip_prefix("file://")?;
            let name = name.split(';').next().unwrap_or_default();
            (!name.contains("${")).then(|| name.to_string())
        })
        .collect()
}

/// Where bitbake's default FILESPATH looks for a recipe's `file://` sources, with the
/// file's own FILESEXTRAPATHS in front.
fn search_dirs(recipe: &Path, assigns: &[Assignment]) -> Vec<PathBuf> {
    let dir = recipe.parent().unwrap_or(Path::new("."));
    let stem = recipe
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    let (bpn, pv) = stem.split_once('_').unwrap_or((stem, ""));
    let mut dirs: Vec<PathBuf> = assigns
        .iter()
        .filter(|a| a.var == "FILESEXTRAPATHS")
        .flat_map(|a| {
            a.value
                .split(':')
                .filter(|p| !p.is_empty())
                .map(|p| PathBuf::from(p.replace("${THISDIR}", &dir.to_string_lossy())))
                .collect::<Vec<_>>()
        })
        .collect();
    if !pv.is_empty() && pv != "%" {
        dirs.push(dir.join(format!("{bpn}-{pv}")));
    }
    dirs.push(dir.join(bpn));
    dirs.push(dir.join("files"));
    dirs
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for p in fs::read_dir(dir)? {
        if p.is_dir() {
            walk(&p, out)?;
        } else {
            out.push(p);
        }
    }
    Ok(())
}

fn read(p: &Path) -> Result<String> {
    fs::read_to_string(p)
}

/// Upstream-Status values oe-core's patch QA accepts; the ones that need a reason in
/// brackets say so.
fn upstream_status_ok(patch: &str) -> Result<()> {
    const PLAIN: [&str; 4] = ["Pending", "Accepted", "Backport", "Inactive-Upstream"];
    const WITH_REASON: [&str; 3] = ["Submitted", "Denied", "Inappropriate"];
    let Some(line) = patch
        .lines()
        .find_map(|l| l.strip_prefix("Upstream-Status:"))
    else {
        bail!("no Upstream-Status: line");
    };
    let v = line.trim();
    let word = v.split([' ', '[']).next().unwrap_or_default();
    if PLAIN.contains(&word) {
        Ok(())
    } else if WITH_REASON.contains(&word) {
        match (v.find('['), v.rfind(']')) {
            (Some(a), Some(b)) if b > a + 1 => Ok(()),
            _ => Err(anyhow!("Upstream-Status: {word} needs a [reason]")),
        }
    } else {
        Err(anyhow!("Upstream-Status: unknown value {v:?}"))
    }
}

struct Report {
    errors: Vec<String>,
    checked: usize,
}

impl Report {
    fn expect(&mut self, ok: bool, what: impl FnOnce() -> String) {
        self.checked += 1;
        if !ok {
            self.errors.push(what());
        }
    }
}

fn check_sources(root: &Path, r: &mut Report) -> Result<()> {
    let mut files = Vec::new();
    for layer in LAYERS {
        walk(&root.join(layer), &mut files)?;
    }
    files.sort();
    for f in &files {
        let name = f.to_string_lossy();
        let rel = f.strip_prefix(root).unwrap_or(f).display().to_string();
        if name.ends_with(".bb") || name.ends_with(".bbappend") || name.ends_with(".inc") {
            let assigns = parse_assignments(&read(f)?);
            let dirs = search_dirs(f, &assigns);
            for uri in file_uris(&assigns) {
                r.expect(dirs.iter().any(|d| d.join(&uri).exists()), || {
                    format!("{rel}: file://{uri} is in none of its FILESPATH directories")
                });
            }
        }
        if name.ends_with(".patch") || name.ends_with(".diff") {
            let status = upstream_status_ok(&read(f)?);
            r.expect(status.is_ok(), || {
                format!(
                    "{rel}: {}",
                    status.err().map(|e| format!("{e:#}")).unwrap_or_default()
                )
            });
        }
    }
    Ok(())
}

/// The assignments of a recipe with the files it `require`s or `include`s from its own
/// directory inlined where they stand, as bitbake reads them.
fn assignments_in_order(path: &Path) -> Result<Vec<Assignment>> {
    let mut out = Vec::new();
    for line in logical_lines(&read(path)?) {
        let l = line.trim();
        let inc = l
            .strip_prefix("require ")
            .or_else(|| l.strip_prefix("include "));
        match inc.map(|f| path.with_file_name(f.trim())) {
            Some(f) if f.exists() => out.extend(assignments_in_order(&f)?),
            Some(_) => {}
            None => out.extend(parse_assignments(l)),
        }
    }
    Ok(out)
}

/// SRC_URI as the assignments leave it: `=` replaces, `+=`/`=+` and `:append`/`:prepend`
/// add (appends apply last), weak defaults only where nothing else is set.
fn src_uri(assigns: &[Assignment]) -> Vec<String> {
    let mut value: Vec<String> = Vec::new();
    let mut appended: Vec<String> = Vec::new();
    let words = |v: &str| v.split_whitespace().map(str::to_string).collect::<Vec<_>>();
    for a in assigns.iter().filter(|a| a.var == "SRC_URI") {
        match (a.op, a.overrides.as_slice()) {
            (_, [o]) if o.starts_with('[') => {}
            ("=" | ":=", []) => value = words(&a.value),
            ("+=" | ".=", []) => value.extend(words(&a.value)),
            ("=+", []) => value.splice(0..0, words(&a.value)).for_each(drop),
            ("?=" | "??=", []) if value.is_empty() => value = words(&a.value),
            ("=", [o]) if o == "append" || o == "prepend" => appended.extend(words(&a.value)),
            _ => {}
        }
    }
    value.extend(appended);
    value
}

/// What rinet-kernel/place-in-tree.sh reads, which the recipe must fetch.
const RINET_SOURCES: &[&str] = &[
    "LICENSE",
    "rinet/Cargo.toml",
    "rinet/src",
    "rinet-kernel/Cargo.toml",
    "rinet-kernel/Cargo.lock",
    "rinet-kernel/src",
    "rinet-kernel/glue",
    "rinet-kernel/place-in-tree.sh",
    "rinet-kernel/patches",
];

fn check_kernel(root: &Path, r: &mut Report) -> Result<()> {
    let recipe_path = root.join(KERNEL_RECIPE);
    let text = read(&recipe_path)?;
    let assigns = assignments_in_order(&recipe_path)?;
    let uris = src_uri(&assigns);
    let has = |u: &str| uris.iter().any(|x| x.split(';').next() == Some(u));
    // The crates cargo builds offline: all of them, and still there after SRC_URI's own
    // assignment.
    let crates_inc = read(&root.join(crate::kernel_rust::CRATES_INC))?;
    let crates = crate::kernel_rust::recipe_crates(&crates_inc)?;
    r.expect(crates.iter().any(|c| c.name == "smoltcp"), || {
        format!("{}: no smoltcp crate", crate::kernel_rust::CRATES_INC)
    });
    for c in &crates {
        let u = format!("crate://crates.io/{}/{}", c.name, c.version);
        r.expect(has(&u), || {
            format!("{KERNEL_RECIPE}: SRC_URI as resolved lacks {u}")
        });
    }
    let current = crate::yocto::check_crates_inc();
    r.expect(current.is_ok(), || {
        current.err().map(|e| format!("{e:#}")).unwrap_or_default()
    });
    // rinet's sources and the kernel metadata through SRC_URI (in the task signatures).
    for s in RINET_SOURCES {
        r.expect(has(&format!("file://{s}")), || {
            format!("{KERNEL_RECIPE}: SRC_URI lacks file://{s}, which place-in-tree.sh reads")
        });
    }
    r.expect(
        uris.iter()
            .any(|u| u.starts_with("file://tinyrust-kmeta;") && u.contains("type=kmeta")),
        || format!("{KERNEL_RECIPE}: SRC_URI lacks file://tinyrust-kmeta;type=kmeta"),
    );
    // The kernel's do_configure runs: no class that defines one is inherited after the
    // kernel classes.
    let inherits: Vec<&str> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("inherit "))
        .flat_map(str::split_whitespace)
        .collect();
    let kernel_at = inherits.iter().position(|c| *c == "kernel-yocto");
    let cargo_at = inherits.iter().position(|c| c.starts_with("cargo"));
    r.expect(
        kernel_at.is_some() && cargo_at.is_none_or(|c| Some(c) < kernel_at),
        || format!("{KERNEL_RECIPE}: inherits {inherits:?}: kernel-yocto must come after any cargo class, or do_configure is cargo's"),
    );
    let requires_linux_yocto = text
        .lines()
        .any(|l| l.trim_start().starts_with("require") && l.contains("linux-yocto.inc"));
    r.expect(!requires_linux_yocto, || {
        format!("{KERNEL_RECIPE}: linux-yocto.inc adds kernel-cache features (KERNEL_FEATURES) that this kernel's metadata does not have")
    });
    // The branch is the recipe's: kernel-yocto's own `KBRANCH ?= "master"` wins over a
    // weak assignment that comes after the inherit.
    let line_of = |needle: &str| {
        text.lines()
            .position(|l| l.trim_start().starts_with(needle))
    };
    let (kbranch_at, inherit_at) = (line_of("KBRANCH"), line_of("inherit kernel"));
    r.expect(
        kbranch_at.is_some() && inherit_at.is_some() && kbranch_at < inherit_at,
        || format!("{KERNEL_RECIPE}: KBRANCH must be set before `inherit kernel-yocto` (it sets KBRANCH ?= \"master\")"),
    );
    // rinet is placed in the tree by the shared script, before the configuration.
    r.expect(
        text.contains("addtask rinet_place after do_patch before do_kernel_configme")
            && text.contains("rinet-kernel/place-in-tree.sh ${S} ${CARGO_VENDORING_DIRECTORY}"),
        || format!("{KERNEL_RECIPE}: rinet must be placed by place-in-tree.sh (with the vendored crates it patches) after do_patch and before do_kernel_configme"),
    );
    // One BSP description per machine, whose every patch and fragment exists.
    let ktype = value_for(&assigns, "LINUX_KERNEL_TYPE", "").unwrap_or_default();
    for arch in ARCHES {
        let Some(machine) = arch.machine() else {
            continue;
        };
        let scc_name = format!("{machine}-{ktype}.scc");
        let scc = read(&kernel::layer_files().join(&scc_name)).unwrap_or_default();
        let defines = |k: &str, v: &str| {
            scc.lines()
                .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["define", k, v])
        };
        r.expect(
            defines("KMACHINE", machine) && defines("KTYPE", &ktype),
            || format!("tinyrust-kmeta/{scc_name}: no BSP description of {machine}/{ktype}"),
        );
        match arch.kmeta() {
            Ok(entries) => {
                for e in entries {
                    let (Kmeta::Patch(f) | Kmeta::Kconf(f)) = e;
                    r.expect(kernel::layer_files().join(&f).exists(), || {
                        format!("tinyrust-kmeta/{scc_name}: {f} does not exist")
                    });
                }
            }
            Err(e) => r.expect(false, || format!("{e:#}")),
        }
    }
    // No path of the checkout in any variable: the layers are found where they lie.
    for conf in [
        "meta-tinyrust/conf/layer.conf",
        "meta-tinyrust-distro/conf/layer.conf",
    ] {
        let t = read(&root.join(conf))?;
        r.expect(!t.contains("'..'") && !t.contains("LAYERDIR}/.."), || {
            format!("{conf}: a variable names a directory outside the layer")
        });
    }
    Ok(())
}

/// The image as the distro means it: the distro picks an init manager (without one
/// DISTRO_FEATURES gains systemd); no recipe's weak default overrides a weak default of
/// the distro (a recipe is parsed after it, so its `??=` wins: the image got busybox httpd
/// where the distro asks for nostromo); a recipe built with the machine's flash addresses
/// is packaged per machine (a kernel recipe is, by kernel.bbclass).
fn check_distro_and_machine_recipes(root: &Path, r: &mut Report) -> Result<()> {
    let distro_path = "meta-tinyrust-distro/conf/distro/tinyrust.conf";
    let distro = parse_assignments(&read(&root.join(distro_path))?);
    r.expect(value_for(&distro, "INIT_MANAGER", "").is_some(), || {
        format!("{distro_path}: no INIT_MANAGER (DISTRO_FEATURES resolves with systemd)")
    });
    let weak: BTreeSet<&str> = distro
        .iter()
        .filter(|a| a.op == "??=" && a.overrides.is_empty())
        .map(|a| a.var.as_str())
        .collect();
    let mut files = Vec::new();
    for layer in LAYERS {
        walk(&root.join(layer), &mut files)?;
    }
    for f in files
        .iter()
        .filter(|f| f.extension().is_some_and(|x| x == "bb" || x == "bbappend"))
    {
        let rel = f.strip_prefix(root).unwrap_or(f).display().to_string();
        let text = read(f)?;
        let assigns = parse_assignments(&text);
        for a in assigns.iter().filter(|a| a.op.starts_with('?')) {
            r.expect(!weak.contains(a.var.as_str()), || {
                format!(
                    "{rel}: {} {} overrides the distro's weak default",
                    a.var, a.op
                )
            });
        }
        // kernel.bbclass packages a kernel per machine itself.
        let kernel = text.lines().any(|l| {
            l.strip_prefix("inherit ")
                .is_some_and(|classes| classes.split_whitespace().any(|c| c == "kernel"))
        });
        if text.contains("${TINYRUST_FLASH_") && !kernel {
            r.expect(
                value_for(&assigns, "PACKAGE_ARCH", "").as_deref() == Some("${MACHINE_ARCH}"),
                || format!("{rel}: uses the machine's flash addresses, so PACKAGE_ARCH = \"${{MACHINE_ARCH}}\""),
            );
        }
    }
    Ok(())
}

/// The names of the Rust entry points in `text`: `rinet_*` followed by `(` (C prototypes)
/// or preceded by `extern "C" fn ` (Rust), without the glue's own `rinet_c_*` callbacks.
fn entry_points(text: &str, rust: bool) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (at, _) in text.match_indices("rinet_") {
        let name: String = text[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let after = text[at + name.len()..].trim_start();
        let declared = if rust {
            text[..at].ends_with("extern \"C\" fn ")
        } else {
            after.starts_with('(')
        };
        if declared && !name.starts_with("rinet_c_") {
            names.insert(name);
        }
    }
    names
}

/// The names the Makefile keeps: `rinet_exports` and the optional parts'
/// `rinet_exports-$(CONFIG_...)`, whatever the configuration.
fn makefile_exports(text: &str) -> BTreeSet<String> {
    logical_lines(text)
        .iter()
        .filter_map(|l| {
            let (var, names) = l.split_once(['=', ':', '+'])?;
            let var = var.trim();
            (var == "rinet_exports" || var.starts_with("rinet_exports-$(")).then_some(names)
        })
        .flat_map(|names| names.trim_start_matches(['=', ':', '+']).split_whitespace())
        .filter(|name| !name.starts_with('$'))
        .map(str::to_string)
        .collect()
}

fn check_glue_abi(root: &Path, r: &mut Report) -> Result<()> {
    // The C ABI, and the allocator's gauge that the kernel crate adds to it.
    let mut rust = entry_points(&read(&root.join("rinet/src/ffi.rs"))?, true);
    rust.extend(entry_points(
        &read(&root.join("rinet-kernel/src/lib.rs"))?,
        true,
    ));
    let header = entry_points(&read(&root.join("rinet-kernel/glue/rinet.h"))?, false);
    let kept = makefile_exports(&read(&root.join(GLUE_MAKEFILE))?);
    r.expect(header.len() > 20, || {
        format!("rinet.h: only {} entry points found", header.len())
    });
    for name in header.difference(&rust) {
        r.expect(false, || {
            format!("rinet.h declares {name}, rinet/src/ffi.rs and rinet-kernel/src/lib.rs have no such function")
        });
    }
    for name in header.symmetric_difference(&kept) {
        r.expect(false, || {
            format!("{GLUE_MAKEFILE}: rinet_exports and rinet.h differ on {name}")
        });
    }
    Ok(())
}

pub fn check() -> Result<()> {
    let root = root_dir();
    let mut r = Report {
        errors: Vec::new(),
        checked: 0,
    };
    check_sources(&root, &mut r)?;
    check_kernel(&root, &mut r)?;
    check_distro_and_machine_recipes(&root, &mut r)?;
    check_glue_abi(&root, &mut r)?;
    if r.errors.is_empty() {
        println!("layer-check: {} checks passed", r.checked);
        Ok(())
    } else {
        Err(anyhow!(
            "layer-check: {} of {} checks failed:\n  {}",
            r.errors.len(),
            r.checked,
            r.errors.join("\n  ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECIPE: &str = r#"# a comment with SRC_URI = "file://nope"
SRC_URI = "git://example.org/x.git;branch=main \
           file://a.patch;striplevel=2 \
           file://${MACHINE}.cfg \
"
SRC_URI:append:tinyrust = " file://b.cfg"
SRC_URI[sha256sum] = "abc"
FILESEXTRAPATHS:prepend := "${THISDIR}/extra:"
X ??= "weak"
X:galileo = "strong"
"#;

    #[test]
    fn assignments_with_continuations_overrides_and_operators() {
        let a = parse_assignments(RECIPE);
        let vars: Vec<(&str, &str)> = a.iter().map(|a| (a.var.as_str(), a.op)).collect();
        assert_eq!(
            vars,
            [
                ("SRC_URI", "="),
                ("SRC_URI", "="),
                ("SRC_URI[sha256sum]", "="),
                ("FILESEXTRAPATHS", ":="),
                ("X", "??="),
                ("X", "="),
            ]
        );
        assert_eq!(a[1].overrides, ["append", "tinyrust"]);
        assert_eq!(value_for(&a, "X", "galileo").as_deref(), Some("strong"));
        assert_eq!(
            value_for(&a, "X", "stm32f429-disco").as_deref(),
            Some("weak")
        );
    }

    #[test]
    fn file_uris_drop_parameters_expressions_and_checksums() {
        let a = parse_assignments(RECIPE);
        assert_eq!(file_uris(&a), ["a.patch", "b.cfg"]);
        let dirs = search_dirs(Path::new("/l/recipes-x/foo/foo_1.0.bb"), &a);
        assert_eq!(
            dirs,
            [
                PathBuf::from("/l/recipes-x/foo/extra"),
                PathBuf::from("/l/recipes-x/foo/foo-1.0"),
                PathBuf::from("/l/recipes-x/foo/foo"),
                PathBuf::from("/l/recipes-x/foo/files"),
            ]
        );
    }

    #[test]
    fn upstream_status_values() {
        assert!(upstream_status_ok("Subject: x\nUpstream-Status: Pending\n").is_ok());
        assert!(upstream_status_ok("Upstream-Status: Inappropriate [oe specific]\n").is_ok());
        assert!(upstream_status_ok("Upstream-Status: Inappropriate\n").is_err());
        assert!(upstream_status_ok("Upstream-Status: Maybe\n").is_err());
        assert!(upstream_status_ok("Subject: x\n").is_err());
    }

    #[test]
    fn entry_points_from_rust_c_and_makefile() {
        let rust = "#[no_mangle]\npub unsafe extern \"C\" fn rinet_a(x: u32) {}\nfn rinet_b() {}\n";
        let c = "int rinet_a(struct rinet_stack *st);\nvoid *rinet_c_alloc(size_t n);\n";
        let mk = "x := 1\nrinet_exports := rinet_a \\\n\trinet_z\n\
                  rinet_exports-$(CONFIG_X) += rinet_y\nrinet_exports += $(rinet_exports-y)\n";
        let one = |n: &str| BTreeSet::from([n.to_string()]);
        assert_eq!(entry_points(rust, true), one("rinet_a"));
        assert_eq!(entry_points(c, false), one("rinet_a"));
        assert_eq!(
            makefile_exports(mk),
            BTreeSet::from(["rinet_a", "rinet_y", "rinet_z"].map(str::to_string))
        );
    }
}
