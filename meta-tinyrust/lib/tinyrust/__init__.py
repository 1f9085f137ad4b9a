# SPDX-License-Identifier: MIT
"""Python helpers of the meta-tinyrust layer (added to bitbake's path by addpylib)."""

# The modules bitbake imports with the package (addpylib), so that metadata can call
# tinyrust.kmeta.kconfig_value().
BBIMPORTS = ["kmeta"]
