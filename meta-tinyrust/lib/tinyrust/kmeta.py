# SPDX-License-Identifier: MIT
"""Values read from the layer's kernel metadata, so that a fact the kernel is built with
(the flash address its XIP image is linked at) is written once, in the kernel fragment,
and the machine's other recipes take it from there."""

import os

import bb.parse

KMETA_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "recipes-kernel",
                         "linux", "linux-tinyrust", "tinyrust-kmeta")


def kconfig_value(d, fragment, symbol):
    """The value `fragment` (a .cfg in tinyrust-kmeta) sets `symbol` to; a parse error
    names the file when it does not set it. The recipe is parsed again when the file
    changes."""
    path = os.path.normpath(os.path.join(KMETA_DIR, fragment))
    bb.parse.mark_dependency(d, path)
    with open(path, encoding="utf-8") as cfg:
        for line in cfg:
            name, sep, value = line.strip().partition("=")
            if sep and name == symbol:
                return value.strip('"')
    bb.fatal("%s does not set %s" % (path, symbol))
    return ""
