//! Checks that only make sense on the Galileo (i586) kernel: nothing the Quark X1000 cannot
//! run (cmov, which it lacks; LOCK prefixes, which its errata forbid), and the i386 kernel
//! calling convention (`-mregparm=3`) on the Rust side.

use anyhow::{anyhow, Result};
use std::path::Path;
use std::process::Command;

use crate::util::CommandExt;
use crate::util::{output, root_dir};

/// `objdump -d` of `obj`: how many instructions start with each of `mnemonics`.
fn count_instructions(obj: &Path, mnemonics: &[&str]) -> Result<Vec<usize>> {
    let dis = output(
        "objdump",
        &["-d", "--no-show-raw-insn", &obj.to_string_lossy()],
        Path::new("."),
        &[],
    )?;
    let mut counts = vec![0; mnemonics.len()];
    for line in dis.lines() {
        // "  c0101234:\tcmovne %eax,%edx" → the mnemonic is the first word after the tab.
        let Some(insn) = line.split('\t').nth(1) else {
            continue;
        };
        let word = insn.split_whitespace().next().unwrap_or("");
        for (i, m) in mnemonics.iter().enumerate() {
            if word.starts_with(m) {
                counts[i] += 1;
            }
        }
    }
    Ok(counts)
}

/// The declarations in `header` (rinet.h) that take a 64-bit integer by value. rustc's
/// `-Zregparm=3` passes one on the stack where GCC's `-mregparm=3` passes it in edx:ecx
/// (rust-lang/rust#145694), so neither a Rust export nor a C callback may take one: the
/// probe cannot catch it, since the callee reads whatever the registers held, which can
/// be the right value by chance. `__udivdi3` and `__umoddi3` are exempt: LLVM, not
/// rustc, lowers their calls, in registers (the probe divides).
fn wide_arguments(header: &str) -> Vec<String> {
    let mut code = String::new();
    let mut rest = header;
    while let Some(start) = rest.find("/*") {
        code.push_str(&rest[..start]);
        rest = rest[start..]
            .find("*/")
            .map_or("", |end| &rest[start + end + 2..]);
    }
    code.push_str(rest);
    let mut bad = Vec::new();
    for decl in code.split(';') {
        let decl = decl.split_whitespace().collect::<Vec<_>>().join(" ");
        // The parameter list is the last parenthesised group of a declaration.
        let (Some(open), Some(close)) = (decl.rfind('('), decl.rfind(')')) else {
            continue;
        };
        if close < open || decl.contains("__udivdi3") || decl.contains("__umoddi3") {
            continue;
        }
        for param in decl[open + 1..close].split(',') {
            let words: Vec<&str> = param.split_whitespace().collect();
            let wide = words
                .iter()
                .any(|w| matches!(*w, "u64" | "s64" | "__u64" | "__s64" | "long long"))
                || param.contains("long long");
            if wide && !param.contains('*') {
                bad.push(decl.clone());
                break;
            }
        }
    }
    bad
}

/// The symbols of `nm -u` output that rustc calls with the stack convention on i586 even
/// under `-Zregparm=3`: `memcmp`, which an ordering comparison of byte slices or arrays
/// (`cmp`, `<`) lowers to through the `compare_bytes` intrinsic. LLVM's own library calls
/// (`bcmp` for `==`, `memcpy`, `memset`, `memmove`) pass their arguments in registers, as
/// the kernel's functions expect. Measured with rustc 1.94.1 on a four-function crate: the
/// `cmp` of two `[u8; 12]` pushed its three arguments; their `==` set eax, edx, ecx and
/// called `bcmp`. The probe cannot be trusted to find such a call: only the code path that
/// makes it would show it, and the kernel oopsed on the first one (issue 22, CI run 41).
fn stack_convention_calls(undefined: &str) -> Vec<String> {
    undefined
        .lines()
        .filter_map(|l| l.split_whitespace().last())
        .filter(|sym| *sym == "memcmp")
        .map(str::to_string)
        .collect()
}

/// Build the freestanding probe against the Galileo build's rinet object and run it.
fn run_probe(build: &Path, regparm: bool) -> Result<String> {
    let root = root_dir();
    let exe = build.join(if regparm {
        "abi-probe"
    } else {
        "abi-probe-wrong-abi"
    });
    let glue = format!("-I{}", root.join("rinet-kernel/glue").display());
    let stub = format!("-I{}", root.join("xtask/abi").display());
    let src = root.join("xtask/abi/regparm_probe.c");
    let obj = build.join("net/rinet/rinet_rust.o");
    let exe_s = exe.to_string_lossy().into_owned();
    let (src_s, obj_s) = (
        src.to_string_lossy().into_owned(),
        obj.to_string_lossy().into_owned(),
    );
    let mut args = vec![
        "-m32",
        "-march=i586",
        "-Os",
        "-ffreestanding",
        "-fno-builtin",
        "-fno-tree-loop-distribute-patterns",
        "-fno-pic",
        "-no-pie",
        "-nostdlib",
        "-static",
        &glue,
        &stub,
        "-o",
        &exe_s,
        &src_s,
        &obj_s,
    ];
    if regparm {
        args.extend(["-mregparm=3", "-freg-struct-return"]);
    }
    output("gcc", &args, Path::new("."), &[])?;
    let out = Command::new(&exe).output_ctx()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() && text.contains("ABI-PROBE PASS") {
        Ok(text)
    } else {
        Err(anyhow!("{} ({})", text.trim(), out.status))
    }
}

/// (check name, outcome) for the Galileo kernel in `build`.
pub fn galileo_checks(build: &Path) -> Vec<(String, Result<()>)> {
    let mut res = Vec::new();
    let vmlinux = build.join("vmlinux");
    res.push((
        "galileo-kernel-has-no-lock-or-cmov".to_string(),
        count_instructions(&vmlinux, &["lock", "cmov"]).and_then(|c| {
            if c == [0, 0] {
                Ok(())
            } else {
                Err(anyhow!("vmlinux: {} lock-prefixed, {} cmov", c[0], c[1]))
            }
        }),
    ));
    let rust = build.join("net/rinet/rinet_rust.o");
    res.push((
        "galileo-rinet-object-has-no-lock-or-cmov".to_string(),
        count_instructions(&rust, &["lock", "cmov"]).and_then(|c| {
            if c == [0, 0] {
                Ok(())
            } else {
                Err(anyhow!("{} lock-prefixed, {} cmov", c[0], c[1]))
            }
        }),
    ));
    res.push((
        "galileo-rinet-object-calls-no-memcmp".to_string(),
        output("nm", &["-u", &rust.to_string_lossy()], Path::new("."), &[]).and_then(|u| {
            match stack_convention_calls(&u).as_slice() {
                [] => Ok(()),
                bad => Err(anyhow!(
                    "rinet_rust.o calls {} with stack arguments against the kernel's \
                     -mregparm=3: an ordering comparison of bytes (cmp, <) in rinet; \
                     compare integers instead",
                    bad.join(", ")
                )),
            }
        }),
    ));
    res.push((
        "galileo-ffi-has-no-64-bit-arguments".to_string(),
        std::fs::read_to_string(root_dir().join("rinet-kernel/glue/rinet.h"))
            .map_err(Into::into)
            .and_then(|h| match wide_arguments(&h).as_slice() {
                [] => Ok(()),
                bad => Err(anyhow!("64-bit arguments by value: {}", bad.join("; "))),
            }),
    ));
    res.push((
        "galileo-rust-regparm-abi".to_string(),
        run_probe(build, true).map(|_| ()),
    ));
    // The control: the same probe with the default (stack) convention must fail, or the
    // probe proves nothing.
    res.push((
        "galileo-regparm-probe-detects-wrong-abi".to_string(),
        match run_probe(build, false) {
            Ok(_) => Err(anyhow!(
                "a stack-convention caller passed: the probe is blind"
            )),
            Err(_) => Ok(()),
        },
    ));
    res
}

/// Build the Galileo kernel and run the checks above (the test command's Galileo step).
pub fn check_galileo() -> Result<()> {
    use crate::kernel::{Arch, Spec};
    let build = crate::kernel::build(Spec::rinet(Arch::Galileo))?;
    let mut failed = 0;
    for (name, outcome) in galileo_checks(&build) {
        match outcome {
            Ok(()) => println!("galileo check {name} ... ok"),
            Err(e) => {
                failed += 1;
                println!("galileo check {name} ... FAILED: {e:#}");
            }
        }
    }
    if failed == 0 {
        Ok(())
    } else {
        Err(anyhow!("{failed} Galileo checks failed"))
    }
}

#[cfg(test)]
mod tests {
    use super::{stack_convention_calls, wide_arguments};

    #[test]
    fn memcmp_is_found_and_llvm_library_calls_are_not() {
        let nm =
            "         U bcmp\n         U memcmp\n         U memcpy\n         U rinet_c_alloc\n";
        assert_eq!(stack_convention_calls(nm), ["memcmp"]);
        assert!(stack_convention_calls("         U bcmp\n         U memset\n").is_empty());
    }

    #[test]
    fn a_64_bit_argument_by_value_is_found() {
        let h = "struct o { void (*set_timer)(void *ctx, u64 at); /* u64 x */ };\n\
                 u64 now(void *ctx);\nvoid arm(void *ctx,\n\tconst u64 *at);\n\
                 int f(long long x);\nu64 __udivdi3(u64 n, u64 d);";
        let bad = wide_arguments(h);
        assert_eq!(bad.len(), 2, "{bad:?}");
        assert!(bad[0].contains("set_timer") && bad[1].contains("int f"));
    }

    #[test]
    fn the_stack_header_has_none() {
        let h = std::fs::read_to_string(crate::util::root_dir().join("rinet-kernel/glue/rinet.h"))
            .unwrap();
        assert!(wide_arguments(&h).is_empty(), "{:?}", wide_arguments(&h));
    }
}
