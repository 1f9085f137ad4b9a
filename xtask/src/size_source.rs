//! Code size by source file, from DWARF line tables.
//!
//! The symbol split of the size report cannot say whose code a function holds: after LTO a
//! rinet function is mostly smoltcp and core code inlined into it. Here every byte of
//! `.text` goes to the source file its line-table row names, except that code inlined from
//! core or alloc (Option::map, slice indexing, iterator adaptors) goes to the innermost
//! caller outside them, the code that asked for it. The build is the report's own build
//! with line tables added (`debug = "line-tables-only"`), which does not change code
//! generation beyond a few bytes of alignment; the totals are printed beside the report's
//! so the difference stays visible.

use anyhow::{anyhow, Context, Result};
use std::collections::BTreeMap;
use std::path::Path;

/// Bytes per source group, and per (group, function) for the groups of the stack itself.
#[derive(Default)]
pub struct BySource {
    pub groups: BTreeMap<String, u64>,
    pub functions: BTreeMap<(String, String), u64>,
    /// Bytes of `.text` the line tables cover (the C stub has none).
    pub covered: u64,
}

/// The group a source path belongs to: a rinet source file by its path in the repository,
/// or one of the libraries by name.
pub fn group(path: &str) -> String {
    const LIBRARIES: &[(&str, &str)] = &[
        ("/smoltcp-", "smoltcp"),
        ("/managed-", "smoltcp"),
        ("/byteorder-", "smoltcp"),
        ("/heapless-", "heapless"),
        ("/hash32-", "heapless"),
        ("/library/core/", "core/alloc"),
        ("/library/alloc/", "core/alloc"),
        ("/compiler-builtins", "compiler builtins"),
        ("/library/compiler_builtins", "compiler builtins"),
    ];
    if let Some((_, name)) = LIBRARIES.iter().find(|(pat, _)| path.contains(pat)) {
        return (*name).to_string();
    }
    for dir in ["rinet/src/", "rinet-kernel/src/", "tools/size-probe/src/"] {
        if let Some(i) = path.find(dir) {
            // "/build/x/rinet/src/socket/mod.rs" -> "rinet/src/socket/mod.rs", but not a
            // "rinet" that is the tail of a longer directory name.
            if i == 0 || path.as_bytes()[i - 1] == b'/' {
                return path[i..].to_string();
            }
        }
    }
    "other".to_string()
}

/// Attribute the code of the linked image `elf`.
pub fn attribute(elf: &Path) -> Result<BySource> {
    let loader = addr2line::Loader::new(elf).map_err(|e| anyhow!("{}: {e}", elf.display()))?;
    let mut out = BySource::default();
    let rows = loader
        .find_location_range(0, u64::MAX)
        .map_err(|e| anyhow!("reading {}: {e}", elf.display()))?;
    for (addr, len, _) in rows {
        let (file, function) = owner(&loader, addr)?;
        let g = group(&file);
        *out.groups.entry(g.clone()).or_default() += len;
        *out.functions.entry((g, function)).or_default() += len;
        out.covered += len;
    }
    Ok(out)
}

/// The source file and function that `addr`'s code belongs to: the innermost inlined frame,
/// or the first caller outside core/alloc when that frame is core or alloc code.
fn owner(loader: &addr2line::Loader, addr: u64) -> Result<(String, String)> {
    let mut frames = loader
        .find_frames(addr)
        .map_err(|e| anyhow!("{addr:#x}: {e}"))?;
    let mut first: Option<(String, String)> = None;
    while let Some(frame) = frames.next().with_context(|| format!("{addr:#x}"))? {
        let file = frame
            .location
            .as_ref()
            .and_then(|l| l.file)
            .unwrap_or("?")
            .to_string();
        let function = frame
            .function
            .as_ref()
            .and_then(|f| f.demangle().ok())
            .map(|n| short_name(&n))
            .unwrap_or_else(|| "?".to_string());
        if group(&file) != "core/alloc" {
            return Ok((file, function));
        }
        first.get_or_insert((file, function));
    }
    Ok(first.unwrap_or_else(|| ("?".to_string(), "?".to_string())))
}

/// A function's path without generic arguments and crate prefix, which say nothing here
/// (the kernel build has one platform): "<rinet::stack::Stack<P>>::run" -> "Stack::run",
/// "maintain_listener<rinet::ffi::FfiPlatform>" -> "maintain_listener".
fn short_name(name: &str) -> String {
    // "<Type as Trait>::f" and "<Type>::f": the type's path stands for the impl.
    let name = match name.strip_prefix('<') {
        Some(inner) => {
            let close = matching_close(inner).unwrap_or(inner.len());
            let ty = inner[..close].split(" as ").next().unwrap_or("");
            format!("{ty}{}", inner.get(close + 1..).unwrap_or(""))
        }
        None => name.to_string(),
    };
    let mut plain = String::new();
    let mut depth = 0usize;
    for c in name.chars() {
        match c {
            '<' => depth += 1,
            '>' => depth = depth.saturating_sub(1),
            _ if depth == 0 => plain.push(c),
            _ => {}
        }
    }
    let parts: Vec<&str> = plain.split("::").filter(|p| !p.is_empty()).collect();
    // The last type or module and the function: enough to find it with grep.
    parts[parts.len().saturating_sub(2)..].join("::")
}

/// Index of the '>' that closes an already opened '<' in `s`.
fn matching_close(s: &str) -> Option<usize> {
    let mut depth = 1usize;
    for (i, c) in s.char_indices() {
        match c {
            '<' => depth += 1,
            '>' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_by_library_and_repository_path() {
        assert_eq!(
            group("/build/.cargo/registry/src/x/smoltcp-0.12.0/src/socket/tcp.rs"),
            "smoltcp"
        );
        assert_eq!(
            group("/build/.rustup/toolchains/n/lib/rustlib/src/rust/library/core/src/option.rs"),
            "core/alloc"
        );
        assert_eq!(
            group("/build/checkout/rinet/src/socket/tcp.rs"),
            "rinet/src/socket/tcp.rs"
        );
        assert_eq!(
            group("/build/checkout/rinet-kernel/src/lib.rs"),
            "rinet-kernel/src/lib.rs"
        );
        assert_eq!(group("/build/notrinet/src/a.rs"), "other");
        assert_eq!(group("?"), "other");
    }

    #[test]
    fn short_names_drop_crate_and_generics() {
        assert_eq!(
            short_name("<rinet::stack::Stack<rinet::ffi::FfiPlatform>>::run"),
            "Stack::run"
        );
        assert_eq!(short_name("rinet::wire::parse_ipv4"), "wire::parse_ipv4");
        assert_eq!(short_name("run"), "run");
        assert_eq!(
            short_name("maintain_listener<rinet::ffi::FfiPlatform>"),
            "maintain_listener"
        );
        assert_eq!(
            short_name("<smoltcp::x::Socket as core::ops::Drop>::drop"),
            "Socket::drop"
        );
    }
}
