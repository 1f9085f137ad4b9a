#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Puts rinet into a Linux source tree that has the patch series applied: the glue as
# net/rinet/ (patch 0001 sources net/rinet/Kconfig and builds net/rinet in place of
# net/ipv4) and the Rust crates the glue's Makefile builds as net/rinet/rust/. It must
# run before the tree is configured. The one step between the patched tree and the
# kernel build, for the host tool (cargo xtask kernel) and the Yocto recipe alike.
#
# It also applies rinet's patches to crates.io crates (patches/NAME-VERSION/*.patch) to
# the unpacked crates cargo builds from: VENDORED_CRATES is the directory that holds
# them as bitbake's crate fetcher unpacks them (NAME-VERSION/, whose .cargo-checksum.json
# lists no files, so cargo takes the patched sources), the recipe's
# ${CARGO_VENDORING_DIRECTORY} and the host tool's copy of it alike.
#
# usage: place-in-tree.sh KERNEL_SOURCE_TREE VENDORED_CRATES
#
# Files are copied only when they differ, so that make and cargo rebuild only what
# changed; files gone from the crates go from the tree too. A patch already applied is
# left as it is.
set -eu

[ $# -eq 2 ] || { echo "usage: $0 KERNEL_SOURCE_TREE VENDORED_CRATES" >&2; exit 2; }
tree=$1
crates=$2
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")

if [ ! -f "$tree/net/Kconfig" ]; then
	echo "$0: $tree is not a Linux source tree (no net/Kconfig)" >&2
	exit 1
fi
if ! grep -q 'net/rinet/Kconfig' "$tree/net/Kconfig"; then
	echo "$0: $tree/net/Kconfig does not source net/rinet/Kconfig: apply the patch series first" >&2
	exit 1
fi

# copy FILE(S) relative to FROM into TO, where they differ
copy_changed() {
	from=$1
	to=$2
	shift 2
	for f in "$@"; do
		if ! cmp -s "$from/$f" "$to/$f"; then
			mkdir -p "$(dirname "$to/$f")"
			cp "$from/$f" "$to/$f"
		fi
	done
}

# a crate: its manifest, its lock file if it has one, and src/ (not target/ nor tests/)
place_crate() {
	name=$1
	from=$top/$name
	to=$tree/net/rinet/rust/$name
	files=$(cd "$from" && find Cargo.toml Cargo.lock src -type f 2>/dev/null | LC_ALL=C sort)
	[ -n "$files" ] || { echo "$0: no crate in $from" >&2; exit 1; }
	# shellcheck disable=SC2086 # file names are plain
	copy_changed "$from" "$to" $files
	(cd "$to" && find . -type f | sed 's|^\./||') | while read -r f; do
		[ -e "$from/$f" ] || rm -f "$to/$f"
	done
}

glue=$(cd "$here/glue" && find . -maxdepth 1 -type f | sed 's|^\./||' | LC_ALL=C sort)
# shellcheck disable=SC2086
copy_changed "$here/glue" "$tree/net/rinet" $glue
place_crate rinet
place_crate rinet-kernel

# The patches' identity, for the glue's Makefile: cargo does not see a vendored crate's
# files change (it goes by the package's checksum), so a new patch set builds in a target
# directory of its own.
cat "$here"/patches/*/*.patch | sha256sum | cut -c1-12 >"$tree/net/rinet/rust/crate-patches.id.new"
if cmp -s "$tree/net/rinet/rust/crate-patches.id.new" "$tree/net/rinet/rust/crate-patches.id"; then
	rm "$tree/net/rinet/rust/crate-patches.id.new"
else
	mv "$tree/net/rinet/rust/crate-patches.id.new" "$tree/net/rinet/rust/crate-patches.id"
fi

for dir in "$here"/patches/*/; do
	crate=$(basename "$dir")
	[ -d "$crates/$crate" ] || { echo "$0: $crates/$crate: no such crate to patch" >&2; exit 1; }
	for p in "$dir"*.patch; do
		if ! patch -d "$crates/$crate" -p1 -R -s -f --dry-run -i "$p" >/dev/null 2>&1; then
			patch -d "$crates/$crate" -p1 -N -s -i "$p"
		fi
	done
done
