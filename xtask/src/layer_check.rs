//! `cargo xtask layer-check`: what can be checked in the two layers without bitbake.
//!
//! - every `file://` source a recipe, append or include names exists where bitbake's
//!   FILESPATH would look for it;
//! - every patch carries a valid `Upstream-Status:`, and the kernel recipe applies the
//!   patches of `series` (the host tool's list), in the same order;
//! - each machine's kernel fragments are the host tool's for that board, and the recipe's
//!   fragment order gives the same merged configuration as the host tool's;
//! - the recipe builds the Rust staticlib for each machine with the target, rustc flags
//!   and cargo profile of rinet-kernel/glue/Makefile and of the size report;
//! - each machine's `WKS_FILE` exists in a layer's `files/wic/`;
//! - the glue's C ABI is one: every Rust entry point `rinet.h` declares is a `#[no_mangle]`
//!   function of `rinet/src/ffi.rs`, and the Makefile keeps exactly those through its
//!   `--gc-sections` link (a missing one links in no kernel but the one that calls it).
//!
//! The parser understands the subset of BitBake syntax the layers use: assignments with
//! `=`, `?=`, `??=`, `:=`, `+=`, `.=`, `=+`, `:append`/`:prepend` and overrides, values in
//! double quotes, backslash continuations and comments.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::kernel::{self, Arch, Net};
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

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    for e in std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let p = e.map_err(|e| e.to_string())?.path();
        if p.is_dir() {
            walk(&p, out)?;
        } else {
            out.push(p);
        }
    }
    Ok(())
}

fn read(p: &Path) -> Result<String, String> {
    std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))
}

/// Upstream-Status values oe-core's patch QA accepts; the ones that need a reason in
/// brackets say so.
fn upstream_status_ok(patch: &str) -> Result<(), String> {
    const PLAIN: [&str; 4] = ["Pending", "Accepted", "Backport", "Inactive-Upstream"];
    const WITH_REASON: [&str; 3] = ["Submitted", "Denied", "Inappropriate"];
    let Some(line) = patch
        .lines()
        .find_map(|l| l.strip_prefix("Upstream-Status:"))
    else {
        return Err("no Upstream-Status: line".into());
    };
    let v = line.trim();
    let word = v.split([' ', '[']).next().unwrap_or_default();
    if PLAIN.contains(&word) {
        Ok(())
    } else if WITH_REASON.contains(&word) {
        match (v.find('['), v.rfind(']')) {
            (Some(a), Some(b)) if b > a + 1 => Ok(()),
            _ => Err(format!("Upstream-Status: {word} needs a [reason]")),
        }
    } else {
        Err(format!("Upstream-Status: unknown value {v:?}"))
    }
}

/// The configuration a list of fragments gives when merged in order (last one wins):
/// symbol -> value, with "n" for "is not set".
fn merged_config(dir: &Path, fragments: &[&str]) -> Result<BTreeMap<String, String>, String> {
    let mut cfg = BTreeMap::new();
    for f in fragments {
        for line in read(&dir.join(f))?.lines() {
            let line = line.trim();
            if let Some(sym) = line
                .strip_prefix("# ")
                .and_then(|l| l.strip_suffix(" is not set"))
            {
                cfg.insert(sym.to_string(), "n".to_string());
            } else if let Some((sym, val)) = line.split_once('=') {
                if sym.starts_with("CONFIG_") {
                    cfg.insert(sym.to_string(), val.to_string());
                }
            }
        }
    }
    Ok(cfg)
}

/// The Makefile's `rinet_target`, `rinet_rustflags` and `rinet_profile` per architecture,
/// from its `ifeq ($(CONFIG_...),y)` blocks.
fn makefile_table(text: &str) -> BTreeMap<&'static str, BTreeMap<String, String>> {
    let mut table: BTreeMap<&'static str, BTreeMap<String, String>> = BTreeMap::new();
    let mut defaults = BTreeMap::new();
    let mut arch: Option<&'static str> = None;
    for line in text.lines() {
        let l = line.trim();
        let cond = l.strip_prefix("else ").unwrap_or(l);
        if let Some(c) = cond.strip_prefix("ifeq ($(") {
            arch = match c.split(')').next() {
                Some("CONFIG_X86_64") => Some("x86_64"),
                Some("CONFIG_X86_32") => Some("galileo"),
                Some("CONFIG_CPU_V7M") => Some("stm32f429"),
                _ => None,
            };
            continue;
        }
        if l == "endif" {
            arch = None;
            continue;
        }
        let Some((k, v)) = l.split_once(":=") else {
            continue;
        };
        let k = k.trim();
        if !matches!(k, "rinet_target" | "rinet_rustflags" | "rinet_profile") {
            continue;
        }
        match arch {
            Some(a) => {
                table
                    .entry(a)
                    .or_default()
                    .insert(k.to_string(), v.trim().to_string());
            }
            None => {
                defaults.insert(k.to_string(), v.trim().to_string());
            }
        }
    }
    for per_arch in table.values_mut() {
        for (k, v) in &defaults {
            per_arch.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    table
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

fn check_sources(root: &Path, r: &mut Report) -> Result<(), String> {
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
                format!("{rel}: {}", status.err().unwrap_or_default())
            });
        }
    }
    Ok(())
}

fn check_kernel(root: &Path, r: &mut Report) -> Result<(), String> {
    let recipe = parse_assignments(&read(&root.join(KERNEL_RECIPE))?);
    let uris = file_uris(&recipe);
    let series: Vec<String> = read(&kernel::layer_files().join("series"))?
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    let patches: Vec<String> = uris
        .iter()
        .filter(|u| u.ends_with(".patch"))
        .cloned()
        .collect();
    r.expect(patches == series, || {
        format!("{KERNEL_RECIPE}: applies {patches:?}, the host tool's series is {series:?}")
    });
    let recipe_common: Vec<&str> = uris
        .iter()
        .filter(|u| u.ends_with(".cfg"))
        .map(String::as_str)
        .collect();
    let mut host_common = kernel::COMMON_FRAGMENTS.to_vec();
    host_common.push(Net::Rinet.fragment());
    r.expect(recipe_common == host_common, || {
        format!("{KERNEL_RECIPE}: fragments {recipe_common:?}, the host tool's are {host_common:?}")
    });
    let compatible = value_for(&recipe, "COMPATIBLE_MACHINE", "").unwrap_or_default();
    let makefile = makefile_table(&read(&root.join(GLUE_MAKEFILE))?);
    for arch in ARCHES {
        let Some(machine) = arch.machine() else {
            continue;
        };
        let conf_path = root.join(format!("meta-tinyrust/conf/machine/{machine}.conf"));
        let conf = parse_assignments(&read(&conf_path)?);
        let machine_frags = value_for(&conf, "TINYRUST_KERNEL_FRAGMENTS", "").unwrap_or_default();
        let machine_frags: Vec<&str> = machine_frags.split_whitespace().collect();
        r.expect(machine_frags == arch.board_fragments(), || {
            format!(
                "{machine}.conf: TINYRUST_KERNEL_FRAGMENTS {machine_frags:?}, the host tool builds \
                 {} with {:?}",
                arch.name(),
                arch.board_fragments()
            )
        });
        // The recipe applies its own fragments, then the machine's; the host tool the
        // common ones, the board's, then the network one. Same result or a bug.
        let mut recipe_order = recipe_common.clone();
        recipe_order.extend(&machine_frags);
        let mut host_order = kernel::COMMON_FRAGMENTS.to_vec();
        host_order.extend(arch.board_fragments());
        host_order.push(Net::Rinet.fragment());
        let dir = kernel::layer_files();
        let (a, b) = (
            merged_config(&dir, &recipe_order)?,
            merged_config(&dir, &host_order)?,
        );
        let differing: BTreeSet<&String> = a
            .keys()
            .chain(b.keys())
            .filter(|k| a.get(*k) != b.get(*k))
            .collect();
        r.expect(differing.is_empty(), || {
            format!("{machine}: the recipe's fragments, in its order, configure {differing:?} otherwise")
        });
        r.expect(compatible.contains(machine), || {
            format!("{KERNEL_RECIPE}: COMPATIBLE_MACHINE {compatible:?} lacks {machine}")
        });
        // The Rust build: recipe, Makefile and size report agree.
        let rust = |var: &str| value_for(&recipe, var, machine).unwrap_or_default();
        let (target, flags, profile) = (
            rust("TINYRUST_RUST_TARGET"),
            rust("TINYRUST_RUSTFLAGS"),
            rust("TINYRUST_CARGO_PROFILE"),
        );
        let mk = makefile.get(arch.name()).cloned().unwrap_or_default();
        let mk_get = |k: &str| mk.get(k).cloned().unwrap_or_default();
        let want = (
            mk_get("rinet_target"),
            mk_get("rinet_rustflags"),
            mk_get("rinet_profile"),
        );
        r.expect(
            (&target, &flags, &profile) == (&want.0, &want.1, &want.2),
            || {
                format!(
                    "{machine}: the recipe builds Rust as {:?}, {GLUE_MAKEFILE} as {want:?}",
                    (&target, &flags, &profile)
                )
            },
        );
        let report = crate::size::kernel_build(&target);
        r.expect(report == Some((want.1.as_str(), want.2.as_str())), || {
            format!(
                "{machine}: the size report builds {target} as {report:?}, the kernel as {want:?}"
            )
        });
        // The wic layout, where the machine names one.
        if let Some(wks) = value_for(&conf, "WKS_FILE", "") {
            let found = LAYERS
                .iter()
                .any(|l| root.join(l).join("files/wic").join(&wks).exists());
            r.expect(found, || {
                format!("{machine}.conf: WKS_FILE {wks} is in no layer's files/wic/")
            });
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

/// The names of the Makefile's `rinet_exports` list.
fn makefile_exports(text: &str) -> BTreeSet<String> {
    logical_lines(text)
        .iter()
        .find_map(|l| {
            l.trim()
                .strip_prefix("rinet_exports :=")
                .map(str::to_string)
        })
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

fn check_glue_abi(root: &Path, r: &mut Report) -> Result<(), String> {
    let rust = entry_points(&read(&root.join("rinet/src/ffi.rs"))?, true);
    let header = entry_points(&read(&root.join("rinet-kernel/glue/rinet.h"))?, false);
    let kept = makefile_exports(&read(&root.join(GLUE_MAKEFILE))?);
    r.expect(header.len() > 20, || {
        format!("rinet.h: only {} entry points found", header.len())
    });
    for name in header.difference(&rust) {
        r.expect(false, || {
            format!("rinet.h declares {name}, rinet/src/ffi.rs has no such function")
        });
    }
    for name in header.symmetric_difference(&kept) {
        r.expect(false, || {
            format!("{GLUE_MAKEFILE}: rinet_exports and rinet.h differ on {name}")
        });
    }
    Ok(())
}

pub fn check() -> Result<(), String> {
    let root = root_dir();
    let mut r = Report {
        errors: Vec::new(),
        checked: 0,
    };
    check_sources(&root, &mut r)?;
    check_kernel(&root, &mut r)?;
    check_glue_abi(&root, &mut r)?;
    if r.errors.is_empty() {
        println!("layer-check: {} checks passed", r.checked);
        Ok(())
    } else {
        Err(format!(
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
    fn makefile_table_per_arch_with_defaults() {
        let mk = "rinet_profile := release\n\
                  ifeq ($(CONFIG_X86_64),y)\nrinet_target := x86_64-unknown-none\n\
                  else ifeq ($(CONFIG_CPU_V7M),y)\nrinet_target := thumbv7em-none-eabi\n\
                  rinet_rustflags :=\nrinet_profile := release-z\nendif\n";
        let t = makefile_table(mk);
        assert_eq!(t["x86_64"]["rinet_profile"], "release");
        assert_eq!(t["stm32f429"]["rinet_profile"], "release-z");
        assert_eq!(t["stm32f429"]["rinet_rustflags"], "");
    }

    #[test]
    fn entry_points_from_rust_c_and_makefile() {
        let rust = "#[no_mangle]\npub unsafe extern \"C\" fn rinet_a(x: u32) {}\nfn rinet_b() {}\n";
        let c = "int rinet_a(struct rinet_stack *st);\nvoid *rinet_c_alloc(size_t n);\n";
        let mk = "x := 1\nrinet_exports := rinet_a \\\n\trinet_z\n";
        let one = |n: &str| BTreeSet::from([n.to_string()]);
        assert_eq!(entry_points(rust, true), one("rinet_a"));
        assert_eq!(entry_points(c, false), one("rinet_a"));
        assert_eq!(
            makefile_exports(mk),
            BTreeSet::from(["rinet_a".to_string(), "rinet_z".to_string()])
        );
    }
}
