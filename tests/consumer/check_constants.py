"""The constants the Python, Rust and Julia bindings write out by hand equal the header's.

Go reads them from convt.h through cgo and C++ through the preprocessor; these three copy the
numbers, so a value added to or renumbered in include/convt/convt.h must reach them. Every
CONVT_PARAM_* must be in each binding, and every constant a binding has must carry the
header's value.

Usage: python3 check_constants.py <repository root>
"""

import re
import sys
from pathlib import Path


def header_constants(root):
    text = (root / "include/convt/convt.h").read_text()
    values = {m[1]: int(m[2]) for m in re.finditer(r"\bCONVT_([A-Z0-9_]+)\s*=\s*(-?\d+)", text)}
    for m in re.finditer(r"#define CONVT_([A-Z0-9_]+) \((-?\d+)\)", text):
        values[m[1]] = int(m[2])
    return values


BINDINGS = {
    # file: a pattern giving (name without CONVT_, value)
    "bindings/python/convt/_capi.py": r"^([A-Z][A-Z0-9_]*) = (-?\d+)\s*(?:#.*)?$",
    "bindings/rust/src/sys.rs": r"^pub const CONVT_([A-Z0-9_]+): \w+ = (-?\d+);",
    "bindings/julia/src/Convt.jl": r"^const ([A-Z][A-Z0-9_]*) = (?:Int32\()?(-?\d+)\)?",
}


def main():
    root = Path(sys.argv[1])
    header = header_constants(root)
    params = {name for name in header if name.startswith("PARAM_")}
    failures = []
    for path, pattern in BINDINGS.items():
        found = {m[1]: int(m[2])
                 for m in re.finditer(pattern, (root / path).read_text(), re.MULTILINE)}
        for name, value in sorted(found.items()):
            if name in header and header[name] != value:
                failures.append(f"{path}: {name} = {value}, the header says {header[name]}")
            elif name not in header:
                failures.append(f"{path}: {name} = {value} is not in the header")
        for name in sorted(params - found.keys()):
            failures.append(f"{path}: CONVT_{name} = {header[name]} is missing")
        print(f"{path}: {len(found)} constants checked")
    for failure in failures:
        print("FAILED:", failure)
    print(f"{len(header)} header constants; {len(failures)} mismatches")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
