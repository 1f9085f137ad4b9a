#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Level (a) of the kernel recipe's checks (issue 18): with a checkout of bitbake 2.18 and
# one of openembedded-core wrynose, both given by path, ask bitbake what the recipe
# linux-tinyrust is for each machine, then run the recipe's own task code, as `bitbake -e`
# expands it, against staged sources, in bitbake's task order. Nothing is fetched: run it
# before every change of the layers, on a host without network access to the Yocto git
# servers.
#
# usage: tools/yocto-task-check.sh OE_CORE_DIR BITBAKE_DIR [BUILD_DIR]
#
#   OE_CORE_DIR   a checkout of openembedded-core, branch wrynose
#   BITBAKE_DIR   a checkout of bitbake, branch 2.18
#   BUILD_DIR     the bitbake build directory to create or use (default:
#                 ~/yocto-task-check/build of the user bitbake runs as). conf/auto.conf gets
#                 BB_NO_NETWORK = "1" and DISTRO = "tinyrust"; conf/bblayers.conf gets the two
#                 layers of this repository (found relative to this script). Results, logs
#                 and the staged trees go to BUILD_DIR/yocto-task-check/.
#
# Environment (optional):
#   AFBOOT_STM32_DIR a checkout of afboot-stm32 (github.com/mcoquelin-stm32/afboot-stm32, holding
#                    the recipe's SRCREV). With it, the recipe's patches are applied and the boot
#                    loader is built as do_compile builds it (Debian's arm-none-eabi- in the place
#                    of OE's cross compiler), and its size and kernel address are checked against
#                    the machine's flash map; without it a SKIP line says so.
#   HOST_BUSYBOX_DIR the host tool's ARMv7-M busybox tree, built and configured
#                    (`dirname "$(cargo xtask nommu-busybox)"`). With it, busybox's do_configure
#                    runs as bitbake -e expands it, per machine, on a copy of that source with
#                    oe-core's busybox patches, and on the STM32F429 the .config it writes must
#                    be the host tool's (the busybox that boots on mps2-an386) but for the
#                    compiler flags; without it a SKIP line says so.
#   KERN_TOOLS_DIR   a checkout of yocto-kernel-tools (kern-tools: spp, scc, kgit,
#                    merge_config.sh, symbol_why.py). With it, do_kernel_metadata,
#                    do_kernel_configme and kernel-yocto's configuration audit run as the
#                    recipe expands them; without it a SKIP line says so and the fragments
#                    are merged by the kernel's own merge_config.sh in .scc order.
#   MACHINES         machines to check (default: qemux86-64-tinyrust galileo stm32f429-disco
#                    stm32f4-throwaway). stm32f4-throwaway is a board added as docs/yocto.md
#                    tells vendors to: a layer of its own (written under BUILD_DIR) with a
#                    machine file on the stm32f4 SoC-family include and a kmeta append, and
#                    nothing else; every check of the STM32F429 runs on it too.
#   TASK_CHECK_USER  the unprivileged user bitbake runs as when started as root (default
#                    tinybb; created if missing: bitbake refuses to run as root)
#   LINUX_SOURCE     the kernel tree standing in for linux-yocto (default Debian's
#                    /usr/src/linux-source-6.12.tar.xz; as root, installed with apt-get when
#                    missing)
#   SKIP_SIGNATURES=1  skip `bitbake -S none` (task signatures; a few minutes per machine)
#   SKIP_REPLAY=1      only the `bitbake -e` assertions
#   REUSE_DUMPS=1      reuse the `bitbake -e` dumps of the previous run (to iterate on the replay)
#
# Output: one PASS/FAIL/SKIP line per assertion; the exit status is 1 if any FAIL.
#
# What is stood in for (a networked build host shows the rest): the linux-yocto tree is
# Debian's linux-source-6.12 (not a git repository: kgit-s2q's `git am` of the patch queue is
# replaced by `patch -p1` in the same order); OE's cross compilers are Debian's (wrappers
# named as OE's); crate:// sources are not fetched, so nothing here builds the staticlib
# (CI builds it from the same crate list); no kernel is compiled.
# shellcheck disable=SC2016 # sh -c 'script' _ args: expanded by the inner shell
set -euo pipefail

prog=$(basename "$0")
usage() {
	echo "usage: $prog OE_CORE_DIR BITBAKE_DIR [BUILD_DIR]" >&2
	exit 2
}
die() {
	echo "$prog: $*" >&2
	exit 2
}
if [ $# -lt 2 ] || [ $# -gt 3 ]; then usage; fi

self=$(readlink -f "$0")
repo=$(cd "$(dirname "$self")/.." && pwd -P)
oecore=$(readlink -f "$1")
bitbake_dir=$(readlink -f "$2")
build=${3:+$(readlink -m "$3")}
[ -f "$oecore/oe-init-build-env" ] || die "$oecore is not an openembedded-core checkout (no oe-init-build-env)"
[ -x "$bitbake_dir/bin/bitbake" ] || die "$bitbake_dir is not a bitbake checkout (no bin/bitbake)"
[ -f "$repo/meta-tinyrust/conf/layer.conf" ] || die "$repo/meta-tinyrust/conf/layer.conf missing"
kern_tools=${KERN_TOOLS_DIR:+$(readlink -f "$KERN_TOOLS_DIR")}
afboot_dir=${AFBOOT_STM32_DIR:+$(readlink -f "$AFBOOT_STM32_DIR")}
host_busybox=${HOST_BUSYBOX_DIR:+$(readlink -f "$HOST_BUSYBOX_DIR")}
linux_source=${LINUX_SOURCE:-/usr/src/linux-source-6.12.tar.xz}
machines=${MACHINES:-qemux86-64-tinyrust galileo stm32f429-disco stm32f4-throwaway}
clean_path=/usr/local/bin:/usr/bin:/bin

# --- 1. As root: an unprivileged user, host packages for the replay; then re-run as that
# user. As anyone else: re-run with a clean environment (a passed-through environment
# makes bitbake re-parse everything on every call).
rerun_clean() { # USER HOME [runner...]
	local u=$1 h=$2
	shift 2
	exec "$@" env -i HOME="$h" USER="$u" LOGNAME="$u" PATH="$clean_path" \
		LANG=en_US.UTF-8 LC_ALL=en_US.UTF-8 TASK_CHECK_CLEAN=1 \
		KERN_TOOLS_DIR="$kern_tools" AFBOOT_STM32_DIR="$afboot_dir" HOST_BUSYBOX_DIR="$host_busybox" MACHINES="$machines" LINUX_SOURCE="$linux_source" \
		SKIP_SIGNATURES="${SKIP_SIGNATURES:-}" SKIP_REPLAY="${SKIP_REPLAY:-}" REUSE_DUMPS="${REUSE_DUMPS:-}" \
		bash "$self" "$oecore" "$bitbake_dir" ${build:+"$build"}
}
if [ "$(id -u)" = 0 ]; then
	bbuser=${TASK_CHECK_USER:-tinybb}
	id "$bbuser" >/dev/null 2>&1 || useradd -m -s /bin/bash "$bbuser"
	bbhome=$(getent passwd "$bbuser" | cut -d: -f6)
	# bitbake's sanity check wants every HOSTTOOLS program even to parse: the packages the
	# Yocto manual lists for Debian hosts, where their command is missing
	pkgs=
	for t in gawk:gawk wget:wget diffstat:diffstat unzip:unzip makeinfo:texinfo chrpath:chrpath \
		socat:socat cpio:cpio zstd:zstd lz4:lz4 file:file g++:g++ make:make patch:patch; do
		command -v "${t%%:*}" >/dev/null || pkgs="$pkgs ${t#*:}"
	done
	if [ -n "$pkgs" ]; then
		echo "$prog: apt-get install$pkgs (for bitbake's HOSTTOOLS)" >&2
		# shellcheck disable=SC2086 # a list of package names
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=600 $pkgs >&2
	fi
	if [ -z "${SKIP_REPLAY:-}" ]; then
		pkgs=
		[ -f "$linux_source" ] || [ -n "${LINUX_SOURCE:-}" ] || pkgs="$pkgs linux-source-6.12"
		command -v arm-linux-gnueabi-gcc >/dev/null || pkgs="$pkgs gcc-arm-linux-gnueabi"
		[ -z "${AFBOOT_STM32_DIR:-}" ] || command -v arm-none-eabi-gcc >/dev/null || pkgs="$pkgs gcc-arm-none-eabi"
		for t in flex bison bc make patch; do command -v $t >/dev/null || pkgs="$pkgs $t"; done
		if [ -n "$pkgs" ]; then
			echo "$prog: apt-get install$pkgs" >&2
			# shellcheck disable=SC2086 # a list of package names
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=600 $pkgs >&2
		fi
	fi
	# bitbake sets LC_ALL=en_US.UTF-8 and exits if the locale is missing (bb.utils)
	if ! locale -a 2>/dev/null | grep -qix 'en_US.utf-\?8'; then
		echo "$prog: generating the en_US.UTF-8 locale bitbake needs" >&2
		command -v locale-gen >/dev/null ||
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=600 locales >&2
		sed -i 's/^# *\(en_US.UTF-8 UTF-8\)/\1/' /etc/locale.gen
		grep -qx 'en_US.UTF-8 UTF-8' /etc/locale.gen || echo 'en_US.UTF-8 UTF-8' >>/etc/locale.gen
		locale-gen >&2
	fi
	if [ -n "$build" ] && [ ! -e "$build" ]; then
		mkdir -p "$build"
		chown "$bbuser": "$build"
	fi
	# OE runs git in the layers (METADATA_REVISION); they belong to another user
	if ! runuser -u "$bbuser" -- git config --global --get-all safe.directory 2>/dev/null | grep -qx '\*'; then
		runuser -u "$bbuser" -- git config --global --add safe.directory '*'
	fi
	# the host tool's busybox tree lies in root's cache: a copy the unprivileged user can read
	if [ -n "$host_busybox" ] && ! runuser -u "$bbuser" -- test -r "$host_busybox/.config"; then
		copy=$bbhome/yocto-task-check-host-busybox
		rm -rf "$copy"
		mkdir -p "$copy"
		(cd "$host_busybox" && tar -cf - --exclude='*.o' --exclude='*.a' .) | tar -xf - -C "$copy"
		chown -R "$bbuser": "$copy"
		host_busybox=$copy
	fi
	for p in "$repo/meta-tinyrust/conf/layer.conf" "$oecore/meta/conf/layer.conf" "$bitbake_dir/bin/bitbake"; do
		runuser -u "$bbuser" -- test -r "$p" || die "$bbuser cannot read $p (chmod -R o+rX its checkout)"
	done
	rerun_clean "$bbuser" "$bbhome" runuser -u "$bbuser" --
fi
if [ -z "${TASK_CHECK_CLEAN:-}" ]; then
	rerun_clean "$(id -un)" "$HOME"
fi

# --- 2. The build directory.
build=${build:-$HOME/yocto-task-check/build}
out=$build/yocto-task-check
mkdir -p "$build/conf" "$out"
: >"$out/summary.txt"
# dumps of an earlier run would stand in for a failed `bitbake -e` of this one
[ -n "${REUSE_DUMPS:-}" ] || rm -f "$out"/env-*.txt
npass=0
nfail=0
say() { echo "$*" | tee -a "$out/summary.txt"; }
pass() { say "PASS $*"; npass=$((npass + 1)); }
fail() { say "FAIL $*"; nfail=$((nfail + 1)); }
skip() { say "SKIP $*"; }
# check DESCRIPTION DETAIL-ON-FAILURE COMMAND...
check() {
	local what=$1 detail=$2
	shift 2
	if "$@"; then pass "$what"; else fail "$what${detail:+ ($detail)}"; fi
}

say "# yocto-task-check: repo $repo, oe-core $oecore ($(git -C "$oecore" describe --all --always 2>/dev/null || echo ?)), bitbake $bitbake_dir ($(git -C "$bitbake_dir" describe --all --always 2>/dev/null || echo ?)), build $build"

(
	set +u
	# shellcheck disable=SC1091 # oe-core's
	. "$oecore/oe-init-build-env" "$build" "$bitbake_dir" >/dev/null
)
auto=$build/conf/auto.conf
touch "$auto"
# a later assignment in the file wins over an earlier one
grep -qxE 'BB_NO_NETWORK *= *"1"' "$auto" || echo 'BB_NO_NETWORK = "1"' >>"$auto"
grep -qxE 'DISTRO *= *"tinyrust"' "$auto" || echo 'DISTRO = "tinyrust"' >>"$auto"
bbl=$build/conf/bblayers.conf
grep -qF "$oecore/meta" "$bbl" || die "$bbl does not list $oecore/meta (a build directory of another openembedded-core?)"
for layer in meta-tinyrust meta-tinyrust-distro; do
	if ! grep -qE "(^|[[:space:]\"])$repo/$layer([[:space:]\"]|\$)" "$bbl"; then
		if grep -qE "/$layer([[:space:]\"]|\$)" "$bbl"; then
			die "$bbl lists another checkout's $layer; use another BUILD_DIR"
		fi
		echo "BBLAYERS += \"$repo/$layer\"" >>"$bbl"
	fi
done

# A board added the way docs/yocto.md says, in a layer of its own: a machine file on the
# SoC-family include and a kernel-metadata append (its BSP description and fragment, the
# STM32F429's fragment under its own name). Listed in bblayers.conf only when checked.
throwaway=$out/meta-throwaway
case " $machines " in *" stm32f4-throwaway "*) throwaway_on=1 ;; *) throwaway_on= ;; esac
if [ -n "$throwaway_on" ]; then
	rm -rf "$throwaway"
	tk=$throwaway/recipes-kernel/linux/linux-tinyrust/throwaway-kmeta
	mkdir -p "$throwaway/conf/machine" "$tk"
	cat >"$throwaway/conf/layer.conf" <<'LAYER'
BBPATH .= ":${LAYERDIR}"
BBFILES += "${LAYERDIR}/recipes-*/*/*.bbappend"
BBFILE_COLLECTIONS += "throwaway"
BBFILE_PATTERN_throwaway = "^${LAYERDIR}/"
BBFILE_PRIORITY_throwaway = "6"
LAYERDEPENDS_throwaway = "core tinyrust-bsp"
LAYERSERIES_COMPAT_throwaway = "wrynose"
LAYERDIR_throwaway := "${LAYERDIR}"
LAYER
	cat >"$throwaway/conf/machine/stm32f4-throwaway.conf" <<'MACHINE'
#@TYPE: Machine
#@NAME: A throwaway STM32F4 board (yocto-task-check)
require conf/machine/include/stm32f4.inc
KERNEL_DEVICETREE = "st/stm32f469-disco.dtb"
SERIAL_CONSOLES = "115200;ttySTM0"
TINYRUST_FLASH_AFBOOT_ADDR = "0x08000000"
TINYRUST_FLASH_DTB_ADDR = "0x08004000"
TINYRUST_FLASH_KERNEL_ADDR = "${@tinyrust.kmeta.kconfig_value(d, '${LAYERDIR_throwaway}/recipes-kernel/linux/linux-tinyrust/throwaway-kmeta/stm32f4-throwaway.cfg', 'CONFIG_XIP_PHYS_ADDR')}"
TINYRUST_FLASH_END = "0x08200000"
TINYRUST_AFBOOT_BOARD = "stm32f469i-disco"
TINYRUST_OPENOCD_BOARD = "board/stm32f469discovery.cfg"
MACHINE
	cat >"$throwaway/recipes-kernel/linux/linux-tinyrust_%.bbappend" <<'APPEND'
FILESEXTRAPATHS:prepend:stm32f4-throwaway := "${THISDIR}/linux-tinyrust:"
SRC_URI:append:stm32f4-throwaway = " file://throwaway-kmeta;type=kmeta;destsuffix=throwaway-kmeta"
APPEND
	cat >"$tk/stm32f4-throwaway-tiny.scc" <<'SCC'
define KMACHINE stm32f4-throwaway
define KTYPE tiny
define KARCH arm
define KMETA_EXTERNAL_BSP t

include tinyrust.scc
kconf hardware stm32f4-throwaway.cfg
kconf hardware tiny-trim.cfg
SCC
	cp "$repo/meta-tinyrust/recipes-kernel/linux/linux-tinyrust/tinyrust-kmeta/stm32f429-disco.cfg" \
		"$tk/stm32f4-throwaway.cfg"
	grep -qF "$throwaway" "$bbl" || echo "BBLAYERS += \"$throwaway\"" >>"$bbl"
else
	sed -i "\|$throwaway|d" "$bbl"
fi

# bitbake ARGS... with MACHINE=$MACHINE, serialised with other users of the build dir
bb() {
	(
		set +u
		# shellcheck disable=SC1091
		. "$oecore/oe-init-build-env" "$build" "$bitbake_dir" >/dev/null
		set -u
		flock "$build/bbenv.lock" bitbake "$@"
	)
}
# bitbake -e RECIPE > FILE (progress lines before the dump, which starts with "#", go to LOG)
bb_env() { # RECIPE FILE LOG
	bb -e "$1" 2>"$3" | awk -v lf="$3" 'd { print; next } /^#$/ { d = 1; print; next } { print >> lf }' >"$2"
	[ "${PIPESTATUS[0]}" = 0 ] && [ -s "$2" ]
}

# --- helpers reading bitbake -e output, parsing .scc files, staging sources
py=$out/bbenv.py
cat >"$py" <<'PYEOF'
import ast, os, re, shlex, subprocess, sys

def closed(buf):
    """A value ends at an unescaped '"' (bitbake escapes '"', '`' and '$' with a backslash)."""
    if not buf.endswith('"'):
        return False
    return (len(buf) - 1 - len(buf[:-1].rstrip("\\"))) % 2 == 0

def load(path):
    """Final values and shell functions of a `bitbake -e` dump."""
    vals, exported, funcs = {}, set(), {}
    lines = open(path, encoding="utf-8", errors="replace").read().split("\n")
    var = re.compile(r'^(export )?([A-Za-z0-9_][^\s="#()]*)="(.*)$')
    fn = re.compile(r'^([A-Za-z_][A-Za-z0-9_]*)\(\) \{$')
    i = 0
    while i < len(lines):
        line = lines[i]
        m = var.match(line)
        if m:
            buf = m.group(3)
            while not closed(buf):
                i += 1
                if i >= len(lines):
                    break
                buf += "\n" + lines[i]
            raw = buf[:-1]
            val = raw.replace(" \\\n", "\n").replace('\\"', '"').replace("\\`", "`").replace("\\$", "$")
            vals[m.group(2)] = val
            if m.group(1):
                exported.add(m.group(2))
        else:
            m = fn.match(line)
            if m:
                body = []
                i += 1
                while i < len(lines) and not (lines[i] == "}" and (i + 1 >= len(lines) or lines[i + 1] == "")):
                    body.append(lines[i])
                    i += 1
                funcs[m.group(1)] = "\n".join(body)
        i += 1
    return vals, exported, funcs

def task_deps(vals):
    return ast.literal_eval(vals.get("_task_deps", "{}"))

def file_urls(vals):
    for u in vals.get("SRC_URI", "").split():
        if u.startswith("file://"):
            parts = u[len("file://"):].split(";")
            parm = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
            yield parts[0], parm

def scc_expand(kmeta, machine, ktype):
    """The BSP description for MACHINE/KTYPE and what it includes, in order, across every
    kernel-metadata directory under KMETA (a vendor's layer adds its own beside the
    layer's): a name is looked up beside the file that names it, then in each of them."""
    sccs = []
    for root, _, files in os.walk(kmeta):
        sccs += [os.path.join(root, f) for f in files if f.endswith(".scc")]
    dirs = sorted({os.path.dirname(p) for p in sccs})
    def find(base, name):
        for d in [base] + dirs:
            if os.path.exists(os.path.join(d, name)):
                return os.path.join(d, name)
        return os.path.join(base, name)
    def defines(p):
        d = {}
        for l in open(p):
            m = re.match(r"\s*define\s+(\S+)\s+(\S+)\s*$", l)
            if m:
                d[m.group(1)] = m.group(2)
        return d
    bsp = [p for p in sorted(sccs) if defines(p).get("KMACHINE") == machine and defines(p).get("KTYPE") == ktype]
    if len(bsp) != 1:
        print("nobsp %d" % len(bsp))
        return
    print("bsp " + bsp[0])
    def walk(p):
        base = os.path.dirname(p)
        for l in open(p):
            w = l.split("#", 1)[0].split()
            if not w:
                continue
            if w[0] == "include":
                walk(find(base, w[1]))
            elif w[0] == "patch":
                print("patch " + find(base, w[1]))
            elif w[0] == "kconf":
                print("kconf " + find(base, w[2]))
    walk(bsp[0])

def fragcheck(config, frags):
    """Values the fragments ask for (the last one wins) that the .config does not have."""
    want = {}
    for f in frags:
        for l in open(f):
            m = re.match(r"^(CONFIG_[A-Za-z0-9_]+)=(.*)$", l.strip()) or re.match(r"^# (CONFIG_[A-Za-z0-9_]+) is not set$", l.strip())
            if m:
                want[m.group(1)] = (m.group(2) if m.lastindex == 2 else "n", os.path.basename(f))
    have = {}
    for l in open(config):
        m = re.match(r"^(CONFIG_[A-Za-z0-9_]+)=(.*)$", l.strip()) or re.match(r"^# (CONFIG_[A-Za-z0-9_]+) is not set$", l.strip())
        if m:
            have[m.group(1)] = m.group(2) if m.lastindex == 2 else "n"
    bad = 0
    for k, (v, f) in sorted(want.items()):
        got = have.get(k, "n")
        if got != v:
            print("%s=%s (%s) -> %s" % (k, v, f, "not set" if got == "n" else got))
            bad += 1
    print("checked %d %d" % (len(want), bad), file=sys.stderr)

cmd, args = sys.argv[1], sys.argv[2:]
if cmd == "get":                       # get ENV VAR
    vals, _, _ = load(args[0])
    if args[1] not in vals:
        sys.exit(3)
    print(vals[args[1]])
elif cmd == "func":                    # func ENV NAME
    _, _, funcs = load(args[0])
    if args[1] not in funcs:
        sys.exit(3)
    print(funcs[args[1]])
elif cmd == "taskdeps":                # taskdeps ENV TASK: the task's [depends] flag
    td = task_deps(load(args[0])[0])
    print(td.get("depends", {}).get(args[1], ""))
elif cmd == "parents":                 # parents ENV TASK
    td = task_deps(load(args[0])[0])
    if args[1] not in td.get("tasks", []):
        sys.exit(3)
    print("\n".join(td["parents"].get(args[1], [])))
elif cmd == "runfile":                 # runfile ENV FROM TO PATH CWD FUNC [ARG]: a task's run file
    vals, exported, funcs = load(args[0])
    frm, to, path, cwd, func = args[1:6]
    o = ["#!/bin/sh", "# %s, from %s (%s -> %s)" % (func, args[0], frm, to), "set -e"]
    for k in sorted(exported):
        if re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", k) and k not in ("PATH", "HOME", "SHELL", "LOGNAME", "USER", "PWD", "TERM"):
            o.append("export %s=%s" % (k, shlex.quote(vals[k])))
    o.append("export PATH=" + shlex.quote(path))
    for k in sorted(funcs):
        o.append("%s() {\n%s\n}" % (k, funcs[k]))
    o.append("mkdir -p '%s'" % cwd)
    o.append("cd '%s'" % cwd)
    o.append(" ".join([func] + args[6:]))
    print("\n".join(o).replace(frm, to))
elif cmd == "stage":                   # stage ENV UNPACKDIR: file:// sources as do_unpack lays them out
    vals, _, _ = load(args[0])
    filespath = vals["FILESPATH"].split(":")
    n = 0
    for path, parm in file_urls(vals):
        local = next((os.path.join(d, path) for d in filespath if os.path.exists(os.path.join(d, path))), None)
        if not local:
            print("not found in FILESPATH: file://" + path)
            sys.exit(1)
        unpackdir = os.path.join(args[1], parm.get("subdir", ""))
        urlpath = path.rstrip("/").lstrip("/")
        destdir = urlpath.rsplit("/", 1)[0] + "/" if "/" in urlpath else "."
        os.makedirs(os.path.join(unpackdir, destdir), exist_ok=True)
        subprocess.check_call(["cp", "--force", "--preserve=timestamps", "--no-dereference",
                               "--recursive", "-H", local, destdir], cwd=unpackdir)
        n += 1
    print(n)
elif cmd == "sigfiles":                # sigfiles ENV DUMPSIGS: checksummed files vs the file:// sources
    import hashlib
    md5 = lambda p: hashlib.md5(open(p, "rb").read()).hexdigest()
    vals, _, _ = load(args[0])
    filespath = vals["FILESPATH"].split(":")
    src = set()
    for path, parm in file_urls(vals):
        local = next((os.path.join(d, path) for d in filespath if os.path.exists(os.path.join(d, path))), None)
        if local and os.path.isdir(local) and not os.path.islink(local):
            for root, _, files in os.walk(local):
                for f in files:
                    src.add(("./" + os.path.relpath(os.path.join(root, f), local), md5(os.path.join(root, f))))
        elif local:
            src.add((os.path.basename(local), md5(local)))
    # files oe-core's own classes add to a task's checksums (SBOM generator, license list)
    core = {md5(f) for f in (e.rsplit(":", 1)[0] for e in vals.get("SPDX3_DEP_FILES", "").split()) if os.path.isfile(f)}
    task, fetch, others = None, None, []
    for line in open(args[1], encoding="utf-8", errors="replace"):
        if line.startswith("=== "):
            task = line[4:].strip()
        elif line.startswith("This task depends on the checksums of files: "):
            got = {tuple(e) for e in ast.literal_eval(line.split(": ", 1)[1])}
            if task == "do_fetch":
                fetch = got
            # A source directory a FILESEXTRAPATHS entry holds is checksummed whole by
            # kernel-yocto, its files named from that entry ("./<dir>/<file>"): the same
            # file as the source's "./<file>".
            inside = lambda n, c: any(c == sc and n.endswith(sn[1:]) for sn, sc in src)
            others += ["%s:%s" % (task, n) for n, c in sorted(got - src)
                       if c not in core and not inside(n, c)]
    print("%d %s" % (len(src), "same" if fetch == src else "differs(%s)" % " ".join(
        sorted(n for n, _ in (fetch or set()) ^ src))[:300]))
    print(" ".join(others[:10]) + (" ... (%d)" % len(others) if len(others) > 10 else ""))
elif cmd == "licchk":                  # licchk ENV FROM TO: LIC_FILES_CHKSUM against the staged S
    import hashlib
    vals, _, _ = load(args[0])
    s = vals["S"].replace(args[1], args[2])
    for u in vals.get("LIC_FILES_CHKSUM", "").split():
        parts = u[len("file://"):].split(";")
        parm = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
        path = os.path.join(s, parts[0].replace(args[1], args[2]))
        try:
            lines = open(path, "rb").read().splitlines(True)
        except OSError as e:
            print("%s: %s" % (parts[0], e.strerror))
            continue
        b, e = int(parm.get("beginline", 1)), int(parm.get("endline", 0) or len(lines))
        md5 = hashlib.md5(b"".join(lines[b - 1:e])).hexdigest()
        if md5 != parm.get("md5"):
            print("%s: md5 %s, LIC_FILES_CHKSUM says %s" % (os.path.basename(parts[0]), md5, parm.get("md5")))
elif cmd == "scc":                     # scc KMETA_DIR MACHINE KTYPE
    scc_expand(*args)
elif cmd == "fragcheck":               # fragcheck .config FRAGMENT...
    fragcheck(args[0], args[1:])
PYEOF

# get ENV VAR: a variable's final value ("" when unset)
get() { python3 "$py" get "$1" "$2" || true; }
# apply_patches ENV SRC UNPACKDIR LOG: the .patch and .diff files of ENV's SRC_URI, in order,
# with patch -p1 (do_patch's stand-in); on failure prints the one that does not apply
apply_patches() {
	local u f
	for u in $(get "$1" SRC_URI); do
		case $u in file://*.patch | file://*.diff) ;; *) continue ;; esac
		f=${u#file://}
		f=${f%%;*}
		patch -p1 -s -d "$2" <"$3/$f" >>"$4" 2>&1 || {
			echo "$f"
			return 1
		}
	done
}
has_word() { # WORD LIST...
	local w=$1
	shift
	case " $* " in *" $w "*) return 0 ;; esac
	return 1
}

expected_imagetype() {
	case $1 in
	qemux86-64-tinyrust | galileo) echo bzImage ;;
	stm32*) echo xipImage ;;
	*) echo "?" ;;
	esac
}
expected_rust_target() {
	case $1 in
	qemux86-64-tinyrust) echo x86_64-unknown-none ;;
	galileo) echo i586-unknown-linux-gnu ;;
	stm32*) echo thumbv7em-none-eabi ;;
	*) echo "?" ;;
	esac
}

recipe=$repo/meta-tinyrust/recipes-kernel/linux/linux-tinyrust_6.12.bb
crates_inc=$repo/meta-tinyrust/recipes-kernel/linux/linux-tinyrust-crates.inc
crates=$(grep -o 'crate://[^ "\\]*' "$crates_inc" | LC_ALL=C sort -u)
ncrates=$(echo "$crates" | wc -l)
recipe_kbranch=$(sed -n 's/^KBRANCH *?*= *"\(.*\)"$/\1/p' "$recipe" | tail -1)
rinet_sources="file://LICENSE file://rinet/Cargo.toml file://rinet/src file://rinet-kernel/Cargo.toml
	file://rinet-kernel/Cargo.lock file://rinet-kernel/src file://rinet-kernel/glue file://rinet-kernel/place-in-tree.sh
	file://rinet-kernel/patches"

# --- 3. `bitbake -e` assertions, per machine
first=
for m in $machines; do
	env_file=$out/env-linux-tinyrust.$m.txt
	log=$out/bitbake-e.$m.log
	if [ -n "${REUSE_DUMPS:-}" ] && [ -s "$env_file" ]; then
		: # the previous run's
	elif ! MACHINE=$m bb_env linux-tinyrust "$env_file" "$log"; then
		fail "[$m] bitbake -e linux-tinyrust ($(grep -m3 -E '^(ERROR|FATAL)' "$log" | tr '\n' ' ' | cut -c1-400); log $log)"
		continue
	fi
	pass "[$m] bitbake -e linux-tinyrust parses"
	first=${first:-$m}
	g() { get "$env_file" "$1"; }

	src_uri=$(g SRC_URI)
	src_words=$(echo "$src_uri" | tr -s ' \t\n' '\n')
	missing=$(echo "$crates" | grep -vxF -f <(echo "$src_words") || true)
	check "[$m] SRC_URI holds all $ncrates crate:// URLs of linux-tinyrust-crates.inc" \
		"missing $(echo "$missing" | wc -l): $(echo "$missing" | head -3 | tr '\n' ' ')" test -z "$missing"
	kmeta_url=$(echo "$src_words" | grep -E '^file://tinyrust-kmeta;(.*;)?type=kmeta(;|$)' || true)
	check "[$m] SRC_URI holds file://tinyrust-kmeta;type=kmeta" "" test -n "$kmeta_url"
	missing=
	for s in $rinet_sources; do
		echo "$src_words" | sed 's/;.*//' | grep -qxF "$s" || missing="$missing $s"
	done
	check "[$m] SRC_URI holds the file:// rinet sources ($(echo "$rinet_sources" | wc -w))" "missing:$missing" test -z "$missing"
	kbranch=$(g KBRANCH)
	git_branch=$(echo "$src_words" | grep -m1 '^git://git.yoctoproject.org/linux-yocto' | grep -o 'branch=[^;]*' | cut -d= -f2 || true)
	check "[$m] KBRANCH is the recipe's ($recipe_kbranch) and SRC_URI fetches it" \
		"KBRANCH=$kbranch, SRC_URI branch=$git_branch" \
		test -n "$recipe_kbranch" -a "$kbranch" = "$recipe_kbranch" -a "$git_branch" = "$recipe_kbranch"

	conf_body=$(python3 "$py" func "$env_file" do_configure || true)
	check "[$m] do_configure is the kernel's (kernel_do_configure, not cargo_common_do_configure)" \
		"$(echo "$conf_body" | grep -m2 -oE '(kernel|cargo_common)_do_configure' | tr '\n' ' ')" \
		sh -c 'printf "%s\n" "$1" | grep -qE "^[[:space:]]*kernel_do_configure" && ! printf "%s\n" "$1" | grep -q cargo_common_do_configure' _ "$conf_body"

	place_body=$(python3 "$py" func "$env_file" do_rinet_place || true)
	check "[$m] do_rinet_place is a shell task running place-in-tree.sh" "" \
		sh -c 'printf "%s\n" "$1" | grep -q "rinet-kernel/place-in-tree.sh"' _ "$place_body"
	p_place=$(python3 "$py" parents "$env_file" do_rinet_place || echo "(no such task)")
	p_configme=$(python3 "$py" parents "$env_file" do_kernel_configme || echo "(no such task)")
	check "[$m] task order: do_patch -> do_rinet_place -> do_kernel_configme" \
		"do_rinet_place after: $(echo "$p_place" | tr '\n' ' '); do_kernel_configme after: $(echo "$p_configme" | tr '\n' ' ')" \
		sh -c 'echo "$1" | grep -qx do_patch && echo "$2" | grep -qx do_rinet_place' _ "$p_place" "$p_configme"

	v=$(g KMETA_AUDIT_WERROR)
	check "[$m] KMETA_AUDIT_WERROR non-empty" "'$v'" test -n "$v"
	v=$(g KCONF_AUDIT_LEVEL)
	check "[$m] KCONF_AUDIT_LEVEL >= 2" "'$v'" test "${v:-0}" -ge 2
	v=$(g KCONFIG_MODE)
	check "[$m] KCONFIG_MODE = --allnoconfig" "'$v'" test "$v" = --allnoconfig
	v=$(g LINUX_KERNEL_TYPE)
	check "[$m] LINUX_KERNEL_TYPE = tiny" "'$v'" test "$v" = tiny
	v=$(g KMACHINE)
	check "[$m] KMACHINE = $m" "'$v'" test "$v" = "$m"
	v=$(g KERNEL_IMAGETYPE)
	check "[$m] KERNEL_IMAGETYPE = $(expected_imagetype "$m")" "'$v'" test "$v" = "$(expected_imagetype "$m")"
	v=$(g RINET_CARGO_FLAGS)
	check "[$m] RINET_CARGO_FLAGS = --frozen" "'$v'" test "$v" = --frozen
	rf=$(g RINET_RUSTFLAGS)
	workdir=$(g WORKDIR)
	tmpdir=$(g TMPDIR)
	missing=
	for r in "--remap-path-prefix=$workdir=" "--remap-path-prefix=$tmpdir/work-shared=" $(g RUST_DEBUG_REMAP); do
		case " $rf" in *" $r"*) ;; *) missing="$missing $r" ;; esac
	done
	check "[$m] RINET_RUSTFLAGS remaps WORKDIR and work-shared (and keeps RUST_DEBUG_REMAP)" "missing:$missing" test -z "$missing"
	check "[$m] no TINYRUST_SRC_DIR in bitbake -e" "" sh -c '! grep -q TINYRUST_SRC_DIR "$1"' _ "$env_file"
	n=$(grep -vE '^#' "$env_file" | grep -E '^(export )?[A-Za-z_][A-Za-z0-9_]*\(\) \{|^(export )?(do_|S=|B=|SRC_URI=|KBRANCH|RINET)' | grep -cF "$repo" || true)
	check "[$m] no task code, S, B or SRC_URI names the checkout's path" "$n lines" test "$n" = 0
done

# rust-native: the version oe-core ships is the one the host tool pins
channel=$(sed -n 's/^channel *= *"\(.*\)"/\1/p' "$repo/rinet-kernel/rust-toolchain.toml")
if [ -n "${REUSE_DUMPS:-}" ] && [ -s "$out/env-rust-native.txt" ]; then
	v=$(get "$out/env-rust-native.txt" PV)
	check "rust-native PV ($v) = rinet-kernel/rust-toolchain.toml channel ($channel)" "" test "$v" = "$channel"
elif [ -n "$first" ] && MACHINE=$first bb_env rust-native "$out/env-rust-native.txt" "$out/bitbake-e.rust-native.log"; then
	v=$(get "$out/env-rust-native.txt" PV)
	check "rust-native PV ($v) = rinet-kernel/rust-toolchain.toml channel ($channel)" "" test "$v" = "$channel"
else
	fail "bitbake -e rust-native (log $out/bitbake-e.rust-native.log)"
fi

# The image and the machine-specific recipes (issue 19): the distro's init manager (no
# systemd in DISTRO_FEATURES), the web server each machine's image installs (nostromo where
# fork() exists, busybox httpd without an MMU), the boot loader and flash script packaged
# per machine.
for m in $machines; do
	img=$out/env-core-image-tiny-rust.$m.txt
	if [ -n "${REUSE_DUMPS:-}" ] && [ -s "$img" ]; then
		:
	elif ! MACHINE=$m bb_env core-image-tiny-rust "$img" "$out/bitbake-e.image.$m.log"; then
		fail "[$m] bitbake -e core-image-tiny-rust (log $out/bitbake-e.image.$m.log)"
		continue
	fi
	features=" $(get "$img" DISTRO_FEATURES) "
	check "[$m] INIT_MANAGER = mdev-busybox and DISTRO_FEATURES without systemd" \
		"INIT_MANAGER=$(get "$img" INIT_MANAGER) DISTRO_FEATURES=$features" \
		sh -c 'test "$1" = mdev-busybox && ! printf "%s" "$2" | grep -q " systemd "' _ "$(get "$img" INIT_MANAGER)" "$features"
	install=" $(get "$img" PACKAGE_INSTALL | tr -s ' \t\n' ' ') "
	case $m in
	stm32*) want=absent ;;
	*) want=present ;;
	esac
	has=absent
	case $install in *" nostromo "*) has=present ;; esac
	check "[$m] nostromo in the image: $want" "PACKAGE_INSTALL=$install" test "$has" = "$want"
	case $m in stm32*) stm32=1 ;; *) stm32= ;; esac
	if [ -n "$stm32" ]; then
		for r in afboot-stm32 tinyrust-flash; do
			e=$out/env-$r.$m.txt
			if [ -z "${REUSE_DUMPS:-}" ] || [ ! -s "$e" ]; then
				MACHINE=$m bb_env "$r" "$e" "$out/bitbake-e.$r.$m.log" || { fail "[$m] bitbake -e $r"; continue; }
			fi
			check "[$m] $r is packaged per machine (PACKAGE_ARCH = MACHINE_ARCH)" \
				"PACKAGE_ARCH=$(get "$e" PACKAGE_ARCH) MACHINE_ARCH=$(get "$e" MACHINE_ARCH)" \
				test "$(get "$e" PACKAGE_ARCH)" = "$(get "$e" MACHINE_ARCH)"
		done
	fi
	# the SD card of the machines that boot from one (the Quark family): a wic image of the
	# machine's layout, after the kernel's deploy (which writes the bundled kernel)
	case $m in galileo)
		e=$out/env-tinyrust-sdcard.$m.txt
		if [ -z "${REUSE_DUMPS:-}" ] || [ ! -s "$e" ]; then
			MACHINE=$m bb_env tinyrust-sdcard "$e" "$out/bitbake-e.tinyrust-sdcard.$m.log" || fail "[$m] bitbake -e tinyrust-sdcard"
		fi
		if [ -s "$e" ]; then
			# the layout wic reads: WKS_FILE, first found along WKS_SEARCH_PATH
			wks_file=$(get "$e" WKS_FILE)
			wks=
			for d in $(get "$e" WKS_SEARCH_PATH | tr ':' ' '); do
				[ -f "$d/$wks_file" ] && wks=$d/$wks_file && break
			done
			check "[$m] tinyrust-sdcard is a wic image of the layer's $wks_file" \
				"IMAGE_FSTYPES=$(get "$e" IMAGE_FSTYPES) found: '$wks'" \
				sh -c 'test "$1" = wic && case "$2" in "$3"/meta-tinyrust/*) ;; *) exit 1 ;; esac' _ \
				"$(get "$e" IMAGE_FSTYPES | tr -d ' ')" "$wks" "$repo"
			dep=$(python3 "$py" taskdeps "$e" do_image_wic)
			check "[$m] tinyrust-sdcard's do_image_wic waits for the kernel's do_deploy" "depends: $dep" \
				sh -c 'case " $1 " in *"virtual/kernel:do_deploy"*|*"linux-tinyrust:do_deploy"*) ;; *) exit 1 ;; esac' _ "$dep"
			check "[$m] tinyrust-sdcard installs no packages (the kernel carries the image)" \
				"PACKAGE_INSTALL='$(get "$e" PACKAGE_INSTALL)'" test -z "$(get "$e" PACKAGE_INSTALL | tr -d ' ')"
			# the whole graph resolves: the boot loader, the kernel and the image it bundles
			if MACHINE=$m bb -g tinyrust-sdcard >"$out/bitbake-g.tinyrust-sdcard.$m.log" 2>&1; then
				list=" $(tr '\n' ' ' <"$build/pn-buildlist") "
				missing=
				for r in "$(get "$e" EFI_PROVIDER)" linux-tinyrust core-image-tiny-rust; do
					case $list in *" $r "*) ;; *) missing="$missing $r" ;; esac
				done
				check "[$m] bitbake -g tinyrust-sdcard builds the boot loader, the kernel and the bundled image" \
					"missing:$missing" test -z "$missing"
			else
				fail "[$m] bitbake -g tinyrust-sdcard ($(grep -m2 ERROR "$out/bitbake-g.tinyrust-sdcard.$m.log" | tr '\n' ' '))"
			fi
		fi
		;;
	esac
	# the user space: busybox from the distro's configuration only, and on ARMv7-M musl with
	# the M-profile thread-pointer patch
	for r in busybox musl tinyrust-base; do
		e=$out/env-$r.$m.txt
		if [ -z "${REUSE_DUMPS:-}" ] || [ ! -s "$e" ]; then
			MACHINE=$m bb_env "$r" "$e" "$out/bitbake-e.$r.$m.log" || { fail "[$m] bitbake -e $r"; continue; }
		fi
	done
	e=$out/env-busybox.$m.txt
	if [ -s "$e" ]; then
		cfgs=$(get "$e" TINYRUST_BUSYBOX_CFGS | tr ' ' '\n' | sed 's|.*/||' | tr '\n' ' ')
		case $m in
		stm32*) want="tinyrust.cfg nommu.cfg " ;;
		*) want="tinyrust.cfg " ;;
		esac
		check "[$m] busybox is configured from $want(TINYRUST_BUSYBOX_CFGS)" "got: $cfgs" test "$cfgs" = "$want"
		check "[$m] busybox's do_configure is the distro's (allnoconfig, not oe-core's defconfig)" "" \
			sh -c 'python3 "$1" func "$2" do_configure | grep -q "oe_runmake allnoconfig"' _ "$py" "$e"
	fi
	e=$out/env-musl.$m.txt
	if [ -s "$e" ]; then
		case " $(get "$e" SRC_URI) " in *"get_tls-on-M-profile.patch"*) has=yes ;; *) has=no ;; esac
		case $m in stm32*) want=yes ;; *) want=no ;; esac
		check "[$m] musl carries the M-profile thread-pointer patch: $want" "" test "$has" = "$want"
	fi
done

# --- 4. Task signatures: no absolute path of the checkout in what bitbake hashes, and no
# file outside the recipe's sources among the checksummed files.
if [ -n "${SKIP_SIGNATURES:-}" ]; then
	skip "task signatures (SKIP_SIGNATURES set)"
else
	for m in $machines; do
		env_file=$out/env-linux-tinyrust.$m.txt
		[ -s "$env_file" ] || continue
		stamp=$(get "$env_file" STAMP)
		if ! MACHINE=$m bb -S none linux-tinyrust >"$out/sig.$m.log" 2>&1; then
			fail "[$m] bitbake -S none linux-tinyrust ($(grep -m2 ERROR "$out/sig.$m.log" | tr '\n' ' '))"
			continue
		fi
		# the newest sigdata of each task
		sigs=$(find "$(dirname "$stamp")" -maxdepth 1 -name "$(basename "$stamp").do_*.sigdata.*" -printf '%T@ %p\n' |
			sort -rn | awk '{ t = $2; sub(/.*\.do_/, "", t); sub(/\.sigdata.*/, "", t); if (!seen[t]++) print $2 }' | sort)
		if [ -z "$sigs" ]; then
			fail "[$m] bitbake -S none wrote no sigdata for linux-tinyrust under $(dirname "$stamp")"
			continue
		fi
		: >"$out/sigs.$m.txt"
		for s in $sigs; do
			t=${s##*.do_}
			t=do_${t%%.sigdata.*}
			PATH=$bitbake_dir/bin:$PATH bitbake-dumpsig "$s" >"$out/sig.tmp" 2>&1 || true
			{
				echo "=== $t"
				cat "$out/sig.tmp"
			} >>"$out/sigs.$m.txt"
		done
		ntasks=$(echo "$sigs" | wc -l)
		leak=$(grep -F "$repo" "$out/sigs.$m.txt" | cut -c1-200 | head -3 || true)
		check "[$m] no signature of linux-tinyrust's $ntasks tasks names $repo" "$leak" test -z "$leak"
		res=$(python3 "$py" sigfiles "$env_file" "$out/sigs.$m.txt")
		first_line=$(echo "$res" | sed -n 1p)
		others=$(echo "$res" | sed -n 2p)
		check "[$m] do_fetch checksums exactly the ${first_line%% *} files of the file:// sources" \
			"${first_line#* }" test "${first_line#* }" = same
		check "[$m] no task checksums a file outside the file:// sources (oe-core's SPDX3_DEP_FILES aside)" \
			"$others" test -z "$others"
	done
fi

# --- 5. Replay of the recipe's task code against staged sources
if [ -n "${SKIP_REPLAY:-}" ]; then
	skip "task replay (SKIP_REPLAY set)"
	machines=
elif [ ! -r "$linux_source" ]; then
	fail "task replay: no $linux_source (apt-get install linux-source-6.12, or LINUX_SOURCE=)"
	machines=
fi
ktools=
if [ -n "$kern_tools" ]; then
	for d in "$kern_tools/tools" "$kern_tools"; do
		[ -x "$d/scc" ] && [ -x "$d/spp" ] && ktools=$d && break
	done
	[ -n "$ktools" ] || fail "KERN_TOOLS_DIR=$kern_tools holds no tools/scc, tools/spp"
elif [ -n "$machines" ]; then
	skip "kern-tools (spp, scc, kgit, merge_config.sh, symbol_why.py): KERN_TOOLS_DIR not set;" \
		"do_kernel_metadata, do_kernel_configme and the configuration audit are not run;" \
		"the fragments are merged by the kernel's merge_config.sh -n in .scc order"
fi

pristine=$out/linux-source
if [ -n "$machines" ]; then
	id=$(stat -c '%n %s %Y' "$linux_source")
	if [ "$(cat "$pristine/.from" 2>/dev/null)" != "$id" ]; then
		echo "# extracting $linux_source" >&2
		rm -rf "$pristine" "$pristine.tmp"
		mkdir -p "$pristine.tmp"
		tar -xf "$linux_source" -C "$pristine.tmp" --strip-components=1
		echo "$id" >"$pristine.tmp/.from"
		mv "$pristine.tmp" "$pristine"
	fi
fi

# a run file's exit status, its output in LOG
run_task() { # RUNFILE LOG
	sh "$1" >"$2" 2>&1
}

for m in $machines; do
	env_file=$out/env-linux-tinyrust.$m.txt
	[ -s "$env_file" ] || continue
	g() { get "$env_file" "$1"; }
	tmpdir=$(g TMPDIR)
	stage=$out/stage/$m
	st=$stage/tmp # stands in for TMPDIR: every task path moves with it
	map() { echo "$st${1#"$tmpdir"}"; }
	S=$(g S)
	B=$(g B)
	UNPACKDIR=$(g UNPACKDIR)
	case "$S$B$UNPACKDIR" in *"$tmpdir"*"$tmpdir"*"$tmpdir"*) ;; *)
		fail "[$m] S, B and UNPACKDIR are not all under TMPDIR ($S $B $UNPACKDIR)"
		continue
		;;
	esac
	sS=$(map "$S")
	sB=$(map "$B")
	sU=$(map "$UNPACKDIR")
	rm -rf "$stage"
	mkdir -p "$stage/wrap" "$sU" "$(dirname "$sS")"

	# OE's cross tools, stood in for by Debian's
	arch=$(g ARCH)
	host_prefix=$(g HOST_PREFIX)
	case $arch in
	x86) deb=x86_64-linux-gnu- ;;
	arm) deb=arm-linux-gnueabi- ;;
	*) deb= ;;
	esac
	if [ -z "$deb" ] || ! command -v "${deb}gcc" >/dev/null; then
		fail "[$m] no Debian cross compiler for ARCH=$arch (${deb:-?}gcc)"
		continue
	fi
	for t in gcc cpp g++ ld ld.bfd as ar nm objcopy objdump readelf strip; do
		command -v "$deb$t" >/dev/null || continue
		printf '#!/bin/sh\nexec %s "$@"\n' "$deb$t" >"$stage/wrap/$host_prefix$t"
		chmod +x "$stage/wrap/$host_prefix$t"
	done
	if command -v pkg-config >/dev/null; then
		printf '#!/bin/sh\nexec pkg-config "$@"\n' >"$stage/wrap/pkg-config-native"
		chmod +x "$stage/wrap/pkg-config-native"
	fi
	task_path=$stage/wrap${ktools:+:$ktools}:$clean_path
	runfile() { # CWD FUNC [ARG]: the task's run file, paths moved to the stage
		local f=$stage/run.$2${3:+.$3}
		python3 "$py" runfile "$env_file" "$tmpdir" "$st" "$task_path" "$(map "$1")" "$2" ${3:+"$3"} >"$f"
		echo "$f"
	}

	# do_unpack: the file:// sources, as the fetcher lays them out in UNPACKDIR
	if n=$(python3 "$py" stage "$env_file" "$sU" 2>&1); then
		pass "[$m] do_unpack stand-in: $n file:// sources staged in UNPACKDIR (crate:// not fetched)"
	else
		fail "[$m] do_unpack stand-in: $n"
		continue
	fi
	ktype=$(g LINUX_KERNEL_TYPE)
	python3 "$py" scc "$sU" "$m" "$ktype" >"$stage/scc-order.txt"
	bsp=$(sed -n 's/^bsp //p' "$stage/scc-order.txt")
	check "[$m] the kernel metadata has one BSP description for KMACHINE=$m KTYPE=$ktype ($(basename "$(dirname "$bsp")")/$(basename "$bsp"))" \
		"$(cat "$stage/scc-order.txt")" test -n "$bsp"
	[ -n "$bsp" ] || continue
	patches=$(sed -n 's/^patch //p' "$stage/scc-order.txt")
	frags=$(sed -n 's/^kconf //p' "$stage/scc-order.txt")

	# S: the kernel tree (do_kernel_checkout: unpacked, not git)
	cp -al "$pristine" "$sS"

	# do_kernel_metadata (patch mode): spp --find, scc --cmds patch
	if [ -n "$ktools" ]; then
		rf=$(runfile "$S" do_kernel_metadata)
		if run_task "$rf" "$stage/log.do_kernel_metadata"; then
			found=$(sed -n 's/.*BSP entry point \/ definition: *//p' "$stage/log.do_kernel_metadata" | head -1)
			check "[$m] do_kernel_metadata: spp --find -DKMACHINE=$m -DKTYPE=$ktype finds $(basename "$bsp")" \
				"found '$found'" test "$found" = "$bsp"
			queue=$(sed 's|.*/||' "$sS/.kernel-meta/patch.queue" 2>/dev/null | tr '\n' ' ')
			want=$(echo "$patches" | sed 's|.*/||' | tr '\n' ' ')
			check "[$m] do_kernel_metadata: patch queue in tinyrust.scc order ($(echo "$patches" | wc -l) patches)" \
				"queue: $queue; scc: $want" test "$queue" = "$want"
			patches=$(sed "s|^\([^/]\)|$sS/.kernel-meta/\1|" "$sS/.kernel-meta/patch.queue" 2>/dev/null || true)
		else
			fail "[$m] do_kernel_metadata ($(grep -m2 ERROR "$stage/log.do_kernel_metadata" | tr '\n' ' '); log $stage/log.do_kernel_metadata)"
			continue
		fi
	fi

	# do_patch: kgit-s2q applies the queue with git am; patch -p1 here
	ok=1
	for p in $patches; do
		if ! patch -p1 -s -d "$sS" <"$p" >>"$stage/log.do_patch" 2>&1; then
			fail "[$m] do_patch stand-in: $(basename "$p") does not apply (log $stage/log.do_patch)"
			ok=
			break
		fi
	done
	[ -n "$ok" ] || continue
	pass "[$m] do_patch stand-in: $(echo "$patches" | wc -w) patches applied with patch -p1 in queue order"

	# do_populate_lic: LIC_FILES_CHKSUM
	bad=$(python3 "$py" licchk "$env_file" "$tmpdir" "$st")
	check "[$m] LIC_FILES_CHKSUM matches the staged S and UNPACKDIR" "$bad" test -z "$bad"

	# do_unpack stand-in for the crates rinet patches: unpacked into the vendoring
	# directory as bitbake's crate fetcher does (NAME-VERSION/, a .cargo-checksum.json
	# listing no files), checked against the recipe's sha256: the host tool's download
	# (cargo xtask kernel), else crates.io's
	vend=$(map "$(g CARGO_VENDORING_DIRECTORY)")
	ok=1
	for d in "$repo"/rinet-kernel/patches/*/; do
		c=$(basename "$d")
		sum=$(sed -n "s/^SRC_URI\[$c\.sha256sum\] = \"\(.*\)\"$/\1/p" "$crates_inc")
		file=$out/crates/$c.crate
		mkdir -p "$out/crates" "$vend"
		host_dl=${XDG_CACHE_HOME:-$HOME/.cache}/meta-tinyrust/downloads/$c.crate
		if [ ! -s "$file" ] && [ -s "$host_dl" ]; then
			cp "$host_dl" "$file"
		fi
		if [ ! -s "$file" ] || [ "$(sha256sum <"$file" | cut -d' ' -f1)" != "$sum" ]; then
			curl -fsSL --retry 3 -o "$file" "https://static.crates.io/crates/${c%-*}/$c.crate" || true
		fi
		if [ -z "$sum" ] || [ "$(sha256sum <"$file" | cut -d' ' -f1)" != "$sum" ]; then
			fail "[$m] crate $c: not in the recipe's crate list, or its download does not match"
			ok=
			break
		fi
		rm -rf "${vend:?}/$c"
		tar -xzf "$file" -C "$vend"
		printf '{"files":{},"package":"%s"}' "$sum" >"$vend/$c/.cargo-checksum.json"
	done
	[ -n "$ok" ] || continue

	# do_rinet_place, as bitbake -e expands it
	rf=$(runfile "$S" do_rinet_place)
	if run_task "$rf" "$stage/log.do_rinet_place"; then
		pass "[$m] do_rinet_place (expanded task code) runs"
	else
		fail "[$m] do_rinet_place ($(tail -3 "$stage/log.do_rinet_place" | tr '\n' ' '); log $stage/log.do_rinet_place)"
		continue
	fi
	missing=
	for f in net/rinet/Kconfig net/rinet/Makefile net/rinet/rinet-rust.mk net/rinet/rust/rinet-kernel/Cargo.toml \
		net/rinet/rust/rinet-kernel/Cargo.lock net/rinet/rust/rinet/Cargo.toml; do
		[ -f "$sS/$f" ] || missing="$missing $f"
	done
	check "[$m] rinet is in the tree before do_kernel_configme (net/rinet/Kconfig, crates)" "missing:$missing" test -z "$missing"
	for d in "$repo"/rinet-kernel/patches/*/; do
		c=$(basename "$d")
		for p in "$d"*.patch; do
			check "[$m] do_rinet_place applied $(basename "$p") to the vendored $c" "" \
				patch -d "$vend/$c" -p1 -R -s -f --dry-run -i "$p"
		done
	done
	cfg=$(map "$(g CARGO_HOME)")/config.toml
	check "[$m] cargo's config replaces crates.io with the vendored crates ($(basename "$vend"))" "$cfg" \
		sh -c 'grep -q "replace-with = \"bitbake\"" "$1" && grep -qF "directory = \"$2\"" "$1"' _ "$cfg" "$vend"

	# do_kernel_configme
	mkdir -p "$sB"
	if [ -n "$ktools" ]; then
		rf=$(runfile "$B" do_kernel_configme)
		if run_task "$rf" "$stage/log.do_kernel_configme"; then
			pass "[$m] do_kernel_configme (expanded task code: scc, merge_config.sh -n) writes .config"
		else
			fail "[$m] do_kernel_configme ($(grep -m3 -E 'ERROR|rror' "$stage/log.do_kernel_configme" | tr '\n' ' ' | cut -c1-300); log $stage/log.do_kernel_configme)"
			continue
		fi
		queue=$(cd "$sS" && PATH=$task_path scc --configs -o .kernel-meta 2>/dev/null | tr ' ' '\n' | sed '/^$/d; s|.*/||' | tr '\n' ' ') || true
		want=$(echo "$frags" | sed 's|.*/||' | tr '\n' ' ')
		check "[$m] scc --configs: the config queue is the .scc order ($(echo "$frags" | wc -l) fragments)" \
			"queue: $queue; scc: $want" test "$queue" = "$want"
	else
		# shellcheck disable=SC2086 # paths without blanks
		if (cd "$sS" && ARCH=$arch CROSS_COMPILE=$deb scripts/kconfig/merge_config.sh -n -O "$sB" $frags) \
			>"$stage/log.merge_config" 2>&1 && [ -f "$sB/.config" ]; then
			pass "[$m] merge_config.sh -n (kernel's) with the fragments in .scc order writes .config"
		else
			fail "[$m] merge_config.sh -n ($(tail -3 "$stage/log.merge_config" | tr '\n' ' '))"
			continue
		fi
	fi

	# do_configure: kernel_do_configure (make olddefconfig)
	rf=$(runfile "$B" do_configure)
	if run_task "$rf" "$stage/log.do_configure"; then
		pass "[$m] do_configure (expanded task code: kernel_do_configure) runs"
	else
		fail "[$m] do_configure ($(tail -3 "$stage/log.do_configure" | tr '\n' ' '); log $stage/log.do_configure)"
		continue
	fi
	check "[$m] .config has CONFIG_RINET=y" "" grep -qx CONFIG_RINET=y "$sB/.config"
	# shellcheck disable=SC2086
	bad=$(python3 "$py" fragcheck "$sB/.config" $frags 2>"$stage/fragcheck.count")
	check "[$m] every fragment value is in .config ($(cut -d' ' -f2 "$stage/fragcheck.count") values)" \
		"$(echo "$bad" | grep -c . || true) not: $(echo "$bad" | head -12 | tr '\n' ';')" test -z "$bad"
	target=$({
		cat "$sB/.config"
		echo "include $sS/net/rinet/rinet-rust.mk"
	} | make -s -f - rinet-print-target 2>&1 | cut -d'|' -f1 || true)
	check "[$m] rinet-rust.mk picks the Rust target $(expected_rust_target "$m")" "'$target'" \
		test "$target" = "$(expected_rust_target "$m")"

	if [ -n "$(g TINYRUST_FLASH_END)" ]; then
		want=$((($(g TINYRUST_FLASH_END) - $(g TINYRUST_FLASH_KERNEL_ADDR)) / 1024))
		check "[$m] KERNEL_IMAGE_MAXSIZE = the flash slot in KiB ($want)" "'$(g KERNEL_IMAGE_MAXSIZE)'" \
			test "$(g KERNEL_IMAGE_MAXSIZE)" = "$want"
	fi
	# do_flash_sizecheck (machines with a flash map): after the bundling, before do_deploy;
	# its task code passes an image that fills the slot and fails one a byte larger
	if [ -n "$(g TINYRUST_FLASH_END)" ]; then
		parents=$(python3 "$py" parents "$env_file" do_flash_sizecheck | tr '\n' ' ' || true)
		deploy=$(python3 "$py" parents "$env_file" do_deploy | tr '\n' ' ' || true)
		check "[$m] do_flash_sizecheck runs after do_bundle_initramfs and before do_deploy" \
			"after: $parents; do_deploy after: $deploy" \
			sh -c 'case " $1" in *" do_bundle_initramfs "*) ;; *) exit 1 ;; esac; case " $2" in *" do_flash_sizecheck "*) ;; *) exit 1 ;; esac' _ "$parents" "$deploy"
		slot=$(($(g TINYRUST_FLASH_END) - $(g TINYRUST_FLASH_KERNEL_ADDR)))
		kod=$sB/$(g KERNEL_OUTPUT_DIR)
		mkdir -p "$kod"
		rf=$(runfile "$B" do_flash_sizecheck)
		for t in $(g KERNEL_IMAGETYPES); do
			truncate -s "$slot" "$kod/$t.initramfs"
		done
		if run_task "$rf" "$stage/log.do_flash_sizecheck.fits"; then
			pass "[$m] do_flash_sizecheck passes a $slot-byte bundled image (the whole slot)"
		else
			fail "[$m] do_flash_sizecheck fails a $slot-byte image ($(tail -2 "$stage/log.do_flash_sizecheck.fits" | tr '\n' ' '))"
		fi
		for t in $(g KERNEL_IMAGETYPES); do
			truncate -s "$((slot + 1))" "$kod/$t.initramfs"
		done
		if ! run_task "$rf" "$stage/log.do_flash_sizecheck.over" && grep -q "over the" "$stage/log.do_flash_sizecheck.over"; then
			pass "[$m] do_flash_sizecheck fails a bundled image one byte over ($(grep -o 'over the.*' "$stage/log.do_flash_sizecheck.over" | head -1))"
		else
			fail "[$m] do_flash_sizecheck lets an image one byte over pass ($(tail -2 "$stage/log.do_flash_sizecheck.over" | tr '\n' ' '))"
		fi
	fi

	# do_kernel_configcheck: kernel-yocto's audit; with KMETA_AUDIT_WERROR a mismatch is fatal
	if [ -n "$ktools" ]; then
		kcc=$(g KERNEL_CC)
		kld=$(g KERNEL_LD)
		if (cd "$sS" && env PATH="$task_path:$sS/scripts/util/" CC="${kcc//"$tmpdir"/"$st"}" LD="${kld//"$tmpdir"/"$st"}" \
			OBJCOPY="$(g KERNEL_OBJCOPY)" STRIP="$(g KERNEL_STRIP)" ARCH="$arch" srctree="$sS" \
			python3 "$ktools/symbol_why.py" --dotconfig "$sB/.config" --mismatches "") >"$stage/log.configcheck" 2>&1; then
			bad=$(grep -v '^\[INFO\]' "$stage/log.configcheck" | grep . || true)
			check "[$m] do_kernel_configcheck audit (symbol_why.py --mismatches): none" \
				"$(echo "$bad" | head -8 | tr '\n' ' ' | cut -c1-500)" test -z "$bad"
		else
			fail "[$m] symbol_why.py --mismatches failed ($(tail -2 "$stage/log.configcheck" | tr '\n' ' '))"
		fi
	fi
done

# --- 6. afboot-stm32: the recipe's patches on its SRCREV, do_compile's make line, the result
# against the flash map (it must end before the device tree; it jumps to the kernel's XIP
# address, which it holds as a literal with the Thumb bit set).
afb_env=$out/env-afboot-stm32.stm32f429-disco.txt
if [ -z "$afboot_dir" ]; then
	case " $machines " in
	*" stm32f429-disco "*) skip "afboot-stm32 build: AFBOOT_STM32_DIR not set" ;;
	esac
elif [ ! -s "$afb_env" ]; then
	fail "afboot-stm32 build: no bitbake -e dump of afboot-stm32 for stm32f429-disco ($afb_env)"
else
	ag() { get "$afb_env" "$1"; }
	astage=$out/stage/afboot-stm32
	rm -rf "$astage"
	mkdir -p "$astage/src" "$astage/unpack"
	rev=$(ag SRCREV)
	if ! git -C "$afboot_dir" archive "$rev" 2>"$astage/log.archive" | tar -x -C "$astage/src"; then
		fail "afboot-stm32: $afboot_dir has no commit $rev (the recipe's SRCREV)"
	elif ! python3 "$py" stage "$afb_env" "$astage/unpack" >"$astage/log.stage" 2>&1; then
		fail "afboot-stm32: staging the file:// sources ($(tail -1 "$astage/log.stage"))"
	else
		ok=1
		if ! f=$(apply_patches "$afb_env" "$astage/src" "$astage/unpack" "$astage/log.do_patch"); then
			fail "afboot-stm32 do_patch stand-in: $f does not apply (log $astage/log.do_patch)"
			ok=
		fi
		kaddr=$(ag TINYRUST_FLASH_KERNEL_ADDR)
		daddr=$(ag TINYRUST_FLASH_DTB_ADDR)
		baddr=$(ag TINYRUST_FLASH_AFBOOT_ADDR)
		target=$(ag do_compile | sed -n 's/.*oe_runmake \([A-Za-z0-9_-]*\).*/\1/p' | head -1)
		[ -n "$target" ] || target=$(python3 "$py" func "$afb_env" do_compile | sed -n 's/.*oe_runmake \([A-Za-z0-9_-]*\).*/\1/p' | head -1)
		if [ -n "$ok" ] && make -C "$astage/src" "$target" CROSS_COMPILE=arm-none-eabi- \
			KERNEL_ADDR="$kaddr" DTB_ADDR="$daddr" >"$astage/log.do_compile" 2>&1 &&
			[ -f "$astage/src/$target.bin" ]; then
			pass "afboot-stm32: do_compile's make $target builds with the recipe's patches (arm-none-eabi-gcc $(arm-none-eabi-gcc -dumpversion), binutils $(arm-none-eabi-ld --version | sed -n '1s/.* //p'))"
			size=$(stat -c %s "$astage/src/$target.bin")
			room=$((daddr - baddr))
			check "afboot-stm32: $target.bin ($size B) ends before the device tree ($room B from $baddr)" "" \
				test "$size" -le "$room"
			le=$(printf '%08x' $((kaddr | 1)) | sed 's/\(..\)\(..\)\(..\)\(..\)/\4\3\2\1/')
			check "afboot-stm32: $target.bin jumps to the kernel's XIP address $kaddr" "" \
				sh -c 'od -An -v -tx1 "$1" | tr -d " \n" | grep -q "$2"' _ "$astage/src/$target.bin" "$le"
		elif [ -n "$ok" ]; then
			fail "afboot-stm32: make $target ($(grep -m2 -E 'rror|undefined' "$astage/log.do_compile" | tr '\n' ' ' | cut -c1-300); log $astage/log.do_compile)"
		fi
	fi
fi

# --- 6b. tinyrust-flash: do_compile as bitbake -e expands it writes a flash script for the
# machine with every placeholder filled in, which the shell accepts.
for m in $machines; do
	e=$out/env-tinyrust-flash.$m.txt
	[ -s "$e" ] || continue
	fstage=$out/stage/tinyrust-flash.$m
	rm -rf "$fstage"
	ftmp=$(get "$e" TMPDIR)
	fst=$fstage/tmp
	fB=$fst$(get "$e" B | sed "s|^$ftmp||")
	fU=$fst$(get "$e" UNPACKDIR | sed "s|^$ftmp||")
	mkdir -p "$fB" "$fU"
	if ! python3 "$py" stage "$e" "$fU" >"$fstage/log.stage" 2>&1; then
		fail "[$m] tinyrust-flash: staging the file:// sources ($(tail -1 "$fstage/log.stage"))"
		continue
	fi
	python3 "$py" runfile "$e" "$ftmp" "$fst" "$clean_path" "$fB" do_compile >"$fstage/run.do_compile"
	script=$fB/flash-$m.sh
	if sh "$fstage/run.do_compile" >"$fstage/log.do_compile" 2>&1 && [ -f "$script" ]; then
		left=$(grep -o '@[A-Z_]*@' "$script" | sort -u | tr '\n' ' ' || true)
		check "[$m] tinyrust-flash writes flash-$m.sh with every placeholder filled ($(grep -o 'afboot-[a-z0-9-]*\.bin' "$script" | head -1), $(sed -n 's/^board=.*:-\(.*\)}$/\1/p' "$script"))" \
			"left: $left" sh -c 'test -z "$1" && sh -n "$2"' _ "$left" "$script"
	else
		fail "[$m] tinyrust-flash do_compile ($(tail -2 "$fstage/log.do_compile" | tr '\n' ' '))"
	fi
done

# --- 6c. tinyrust-base: do_install as bitbake -e expands it installs every file of its
# SRC_URI, /init executable, and every program the distro's inittab runs.
e=$(ls "$out"/env-tinyrust-base.*.txt 2>/dev/null | head -1 || true)
if [ -n "$machines" ] && [ -n "$e" ] && [ -s "$e" ]; then
	tstage=$out/stage/tinyrust-base
	rm -rf "$tstage"
	ttmp=$(get "$e" TMPDIR)
	tst=$tstage/tmp
	tD=$tst$(get "$e" D | sed "s|^$ttmp||")
	tU=$tst$(get "$e" UNPACKDIR | sed "s|^$ttmp||")
	mkdir -p "$tD" "$tU"
	if python3 "$py" stage "$e" "$tU" >"$tstage/log.stage" 2>&1; then
		python3 "$py" runfile "$e" "$ttmp" "$tst" "$clean_path" "$tU" do_install >"$tstage/run.do_install"
		if sh "$tstage/run.do_install" >"$tstage/log.do_install" 2>&1; then
			missing=
			for u in $(get "$e" SRC_URI); do
				f=${u#file://}
				f=${f%%;*}
				[ -n "$(find "$tD" -name "$(basename "$f")" -type f)" ] || missing="$missing $f"
			done
			inittab=$repo/meta-tinyrust-distro/recipes-core/busybox/busybox-inittab/inittab
			for p in $(sed -n 's|^[^#]*::[a-z]*:\(/[^ ]*\).*|\1|p' "$inittab"); do
				[ -x "$tD$p" ] || missing="$missing $p(inittab)"
			done
			[ -x "$tD/init" ] || missing="$missing /init(executable)"
			check "tinyrust-base do_install installs its $(get "$e" SRC_URI | wc -w) files, /init and what the inittab runs" \
				"missing:$missing" test -z "$missing"
		else
			fail "tinyrust-base do_install ($(tail -2 "$tstage/log.do_install" | tr '\n' ' '))"
		fi
	else
		fail "tinyrust-base: staging the file:// sources ($(tail -1 "$tstage/log.stage"))"
	fi
fi

# --- 7. busybox's do_configure (the distro's: allnoconfig and its fragments) as bitbake -e
# expands it, on a copy of the host tool's busybox source with oe-core's busybox patches
# (merge_config.sh from the kernel source, as kern-tools-native has it). On the STM32F429
# the .config must be the host tool's, but for the compiler flags oe-core sets.
if [ -n "${SKIP_REPLAY:-}" ]; then
	skip "busybox do_configure replay (SKIP_REPLAY set)"
elif [ -z "$host_busybox" ]; then
	skip "busybox do_configure replay: HOST_BUSYBOX_DIR not set"
elif [ ! -f "$host_busybox/.config" ] || [ ! -f "$host_busybox/Makefile" ]; then
	fail "busybox do_configure replay: $host_busybox is not a configured busybox tree"
elif [ ! -x "$pristine/scripts/kconfig/merge_config.sh" ]; then
	fail "busybox do_configure replay: no merge_config.sh (the kernel source is extracted by the kernel replay)"
else
	for m in $machines; do
		e=$out/env-busybox.$m.txt
		[ -s "$e" ] || continue
		bstage=$out/stage/busybox.$m
		rm -rf "$bstage"
		btmp=$(get "$e" TMPDIR)
		bst=$bstage/tmp
		bS=$bst$(get "$e" S | sed "s|^$btmp||")
		bB=$bst$(get "$e" B | sed "s|^$btmp||")
		bU=$bst$(get "$e" UNPACKDIR | sed "s|^$btmp||")
		mkdir -p "$bS" "$bU" "$bstage/wrap"
		(cd "$host_busybox" && tar -cf - --exclude='*.o' --exclude='*.a' --exclude=.config --exclude='.config.old' .) | tar -xf - -C "$bS"
		if ! python3 "$py" stage "$e" "$bU" >"$bstage/log.stage" 2>&1; then
			fail "[$m] busybox: staging the file:// sources ($(tail -1 "$bstage/log.stage"))"
			continue
		fi
		if ! f=$(apply_patches "$e" "$bS" "$bU" "$bstage/log.do_patch"); then
			fail "[$m] busybox do_patch stand-in: $f does not apply (log $bstage/log.do_patch)"
			continue
		fi
		cp "$pristine/scripts/kconfig/merge_config.sh" "$bstage/wrap/"
		rf=$bstage/run.do_configure
		python3 "$py" runfile "$e" "$btmp" "$bst" "$bstage/wrap:$clean_path" "$bB" do_configure >"$rf"
		if ! sh "$rf" >"$bstage/log.do_configure" 2>&1; then
			fail "[$m] busybox do_configure (expanded task code) ($(tail -3 "$bstage/log.do_configure" | tr '\n' ' ' | cut -c1-300); log $bstage/log.do_configure)"
			continue
		fi
		n=$(grep -c '=y$' "$bB/.config" || true)
		pass "[$m] busybox do_configure (expanded task code: allnoconfig, the distro's fragments, oldconfig) runs: $n options on"
		if [ "$m" = stm32f429-disco ]; then
			# a symbol one tree does not have at all (an oe-core patch's new option) counts
			# only if the other tree switches it on
			d=$(python3 - "$host_busybox/.config" "$bB/.config" <<'PY'
import re, sys
def load(p):
    c = {}
    for l in open(p):
        m = re.match(r"^(CONFIG_\w+)=(.*)$", l) or re.match(r"^# (CONFIG_\w+) is not set$", l)
        if m and m.group(1) != "CONFIG_EXTRA_CFLAGS":
            c[m.group(1)] = m.group(2) if m.lastindex == 2 else "n"
    return c
host, oe = load(sys.argv[1]), load(sys.argv[2])
for k in sorted(set(host) | set(oe)):
    a, b = host.get(k), oe.get(k)
    if a != b and not (a is None and b == "n") and not (b is None and a == "n"):
        print("%s: host tool %s, bitbake %s" % (k, a, b))
PY
)
			check "[$m] busybox's .config is the host tool's (the ARMv7-M busybox booted on mps2-an386), but for EXTRA_CFLAGS" \
				"$(echo "$d" | head -8 | tr '\n' ';')" test -z "$d"
		fi
	done
fi

say "# $npass passed, $nfail failed; details in $out"
[ "$nfail" = 0 ]
