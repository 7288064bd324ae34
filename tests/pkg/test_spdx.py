# SPDX-License-Identifier: Apache-2.0
"""Every source file names its licence (deploy/spdx-headers.py): the check
passes on this tree, and on a scratch tree it names each file without the
tag, the script adds it where each kind of file keeps its header, and a
second run changes nothing."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "deploy", "spdx-headers.py")
TAG = "SPDX-License-Identifier: Apache-2.0"


def run(*args):
    return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True,
                          timeout=60)


def test_every_source_of_this_tree_has_the_tag():
    r = run("--check")
    assert r.returncode == 0, r.stdout + r.stderr
    assert os.path.getsize(os.path.join(ROOT, "LICENSE")) > 10000
    with open(os.path.join(ROOT, "LICENSE"), encoding="utf-8") as f:
        assert "Apache License" in f.read(400)


SCRATCH = {
    "src/a.c": "/*\n * a.c: a module.\n */\n#include <stdio.h>\n",
    "src/b.h": "#pragma once\n",
    "src/tail.c": "/*\n * tail.c: tag only at the end.\n */\nint x;\n/* " + TAG + " */\n",
    "tools/run.sh": "#!/bin/sh\n# run.sh: runs.\n# more words.\nset -e\n",
    "tools/tool": "#!/usr/bin/python3\nprint(1)\n",
    "CMakeLists.txt": "# the build\nproject(x C)\n",
    "x.py": '"""docstring."""\nimport os\n',
    "data.json": "{}\n",
    "notes.md": "# notes\n",
}


def test_check_names_each_untagged_file_and_apply_is_idempotent(tmp_path):
    for rel, text in SCRATCH.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    (tmp_path / "tools/run.sh").chmod(0o755)
    r = run("--check", "--root", str(tmp_path))
    assert r.returncode == 1
    named = sorted(line.split(":")[0] for line in r.stdout.splitlines())
    assert named == sorted(["src/a.c", "src/b.h", "src/tail.c", "tools/run.sh", "tools/tool",
                            "CMakeLists.txt", "x.py"]), r.stdout

    r = run("--root", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert run("--check", "--root", str(tmp_path)).returncode == 0
    text = {rel: (tmp_path / rel).read_text() for rel in SCRATCH}
    assert text["src/a.c"] == "/*\n * a.c: a module.\n * " + TAG + "\n */\n#include <stdio.h>\n"
    assert text["src/b.h"] == "/* " + TAG + " */\n#pragma once\n"
    assert text["tools/run.sh"] == ("#!/bin/sh\n# run.sh: runs.\n# more words.\n# " + TAG +
                                    "\nset -e\n")
    assert text["tools/tool"].startswith("#!/usr/bin/python3\n# " + TAG + "\n")
    assert text["x.py"].startswith("# " + TAG + '\n"""docstring."""')
    assert text["data.json"] == "{}\n" and text["notes.md"] == "# notes\n"
    assert (tmp_path / "tools/run.sh").stat().st_mode & 0o777 == 0o755
    # the tagged files still parse
    subprocess.run(["sh", "-n", str(tmp_path / "tools/run.sh")], check=True)
    subprocess.run([sys.executable, "-m", "py_compile", str(tmp_path / "x.py")], check=True)

    r = run("--root", str(tmp_path))
    assert r.returncode == 0 and r.stdout == ""
    assert {rel: (tmp_path / rel).read_text() for rel in SCRATCH} == text
