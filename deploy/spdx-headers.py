#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""spdx-headers.py: every source file of plantroom names its licence with an
SPDX tag, `SPDX-License-Identifier: Apache-2.0` (LICENSE at the root has the
text; deploy/debian/copyright says the same for the package).

Where the tag goes, by kind of file:
  - C and headers (.c, .h): the last line of the file's leading /* ... */
    comment (every file starts with one: what it is for); a file without a
    leading comment gets `/* SPDX-License-Identifier: Apache-2.0 */` as its
    first line;
  - files with # comments (Python, shell, CMake, the maintainer scripts,
    the systemd unit, scripts without a suffix that start with #!): after
    the shebang (and a coding line) and the leading # comment block, as a
    `# SPDX-License-Identifier: ...` line.
The tag counts only inside that leading comment, so moving it to the end of
a file does not pass. JSON and Markdown cannot hold comments (LICENSE and
the package's copyright file cover them).

Usage:
  spdx-headers.py [--root DIR]          add the tag where it is missing
  spdx-headers.py --check [--root DIR]  exit 1 naming each file without it
Idempotent: a second run changes nothing. Files are those git tracks plus
new untracked ones it does not ignore (all files under DIR but build*/ and
.git when DIR is not a git work tree).
"""
import argparse
import os
import subprocess
import sys

TAG = "SPDX-License-Identifier: Apache-2.0"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
C_SUFFIXES = (".c", ".h")
HASH_SUFFIXES = (".py", ".sh", ".cmake", ".bash", ".bash-completion", ".service", ".in")
HASH_NAMES = ("CMakeLists.txt",)
SKIP_DIRS = (".git", "__pycache__")


def list_files(root):
    """Repository-relative paths of the candidate files under root."""
    try:
        out = subprocess.run(["git", "-C", root, "ls-files", "-z", "--cached", "--others",
                              "--exclude-standard"], capture_output=True, check=True).stdout
        # A file deleted from the work tree but still in the index is not a source.
        return sorted({p for p in out.decode().split("\0")
                       if p and os.path.isfile(os.path.join(root, p))})
    except (OSError, subprocess.CalledProcessError):
        pass
    paths = []
    for d, dirs, files in os.walk(root):
        dirs[:] = [x for x in dirs if x not in SKIP_DIRS and not x.startswith("build")]
        paths += [os.path.relpath(os.path.join(d, f), root) for f in files]
    return sorted(paths)


def kind_of(root, path):
    """'c', 'hash' or None (not a source file that takes a tag)."""
    name = os.path.basename(path)
    if name.endswith(C_SUFFIXES):
        return "c"
    if name.endswith(HASH_SUFFIXES) or name in HASH_NAMES:
        return "hash"
    if "." not in name:
        try:
            with open(os.path.join(root, path), "rb") as f:
                if f.read(2) == b"#!":
                    return "hash"
        except OSError:
            return None
    return None


def c_leading_comment(lines):
    """Index of the line that closes the leading /* comment, or None."""
    if not lines or not lines[0].lstrip().startswith("/*"):
        return None
    for i, line in enumerate(lines):
        if "*/" in line:
            return i
    return None


def c_has_tag(lines):
    end = c_leading_comment(lines)
    return end is not None and any(TAG in line for line in lines[:end + 1])


def c_add_tag(lines):
    end = c_leading_comment(lines)
    if end is None:
        return [f"/* {TAG} */\n"] + lines
    if end > 0 and lines[end].strip() == "*/":
        return lines[:end] + [f" * {TAG}\n"] + lines[end:]
    # a one-line (or oddly closed) leading comment: the tag on a line before it
    return [f"/* {TAG} */\n"] + lines


def hash_prologue(lines):
    """(index after the shebang/coding lines, index after the leading # block)."""
    i = 0
    if i < len(lines) and lines[i].startswith("#!"):
        i += 1
    if i < len(lines) and lines[i].startswith("#") and "coding" in lines[i]:
        i += 1
    start = i
    while i < len(lines) and lines[i].startswith("#") and not lines[i].startswith("#!"):
        i += 1
    return start, i


def hash_has_tag(lines):
    start, end = hash_prologue(lines)
    return any(TAG in line for line in lines[start:end])


def hash_add_tag(lines):
    _, end = hash_prologue(lines)
    return lines[:end] + [f"# {TAG}\n"] + lines[end:]


CHECKS = {"c": (c_has_tag, c_add_tag), "hash": (hash_has_tag, hash_add_tag)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="report files without the tag, exit 1")
    ap.add_argument("--root", default=ROOT, help="the source tree (default: this repository)")
    args = ap.parse_args()
    missing, changed = [], []
    for path in list_files(args.root):
        kind = kind_of(args.root, path)
        if kind is None:
            continue
        full = os.path.join(args.root, path)
        with open(full, encoding="utf-8", newline="") as f:
            lines = f.read().splitlines(keepends=True)
        has, add = CHECKS[kind]
        if has(lines):
            continue
        if args.check:
            missing.append(path)
            continue
        st = os.stat(full)
        with open(full, "w", encoding="utf-8", newline="") as f:
            f.write("".join(add(lines)))
        os.chmod(full, st.st_mode)
        changed.append(path)
    if args.check:
        for path in missing:
            print(f"{path}: no '{TAG}' in its leading comment "
                  "(deploy/spdx-headers.py adds it)")
        return 1 if missing else 0
    for path in changed:
        print(f"tagged {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
