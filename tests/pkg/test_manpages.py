# SPDX-License-Identifier: Apache-2.0
"""The man pages and the bash completion (deploy/CMakeLists.txt builds the
pages from docs/man/*.scd with scdoc into <build>/man): each renders with
man -l and no groff warning, plantroomctl(1) documents every command of
`plantroomctl --help`, the example of plantroom.json(5) is a valid config;
the completion script loads in a plain bash and completes commands, the
workorders and audit verbs, options and their values, and knows every
command and verb of the help."""
import json
import os
import re
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("PLANTROOM_BUILD", os.path.join(ROOT, "build"))
BIN = os.environ.get("PLANTROOM_BIN", os.path.join(BUILD, "bin"))
COMPLETION = os.path.join(ROOT, "deploy", "plantroomctl.bash-completion")
PAGES = {"plantroomd.8": "PLANTROOMD", "plantroomctl.1": "PLANTROOMCTL",
         "plantroom.json.5": "PLANTROOM.JSON"}


def page(name):
    path = os.path.join(BUILD, "man", name)
    if not os.path.exists(path):
        pytest.fail(f"{path} not built: install scdoc (deploy/deps.sh) and rebuild")
    return path


def render(name):
    r = subprocess.run(["man", "--warnings", "-l", page(name)], capture_output=True, text=True,
                       timeout=60, env=dict(os.environ, MANWIDTH="100", MAN_KEEP_FORMATTING="",
                                            MANPAGER="cat", PAGER="cat", LC_ALL="C.UTF-8"))
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip() == "", f"{name}: {r.stderr}"
    return r.stdout


def ctl_help_commands():
    """(command, verb or None) of every line of plantroomctl --help (a verb
    is a lowercase second word: "workorders list", "audit verify")."""
    r = subprocess.run([os.path.join(BIN, "plantroomctl"), "--help"], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0
    out = []
    for m in re.finditer(r"^  ([a-z]+)(?: ([a-z]+)\b)?", r.stdout, re.M):
        noun, verb = m.group(1), m.group(2)
        out.append((noun, verb))
    assert len(out) > 10, r.stdout
    return out


@pytest.mark.parametrize("name", sorted(PAGES))
def test_page_renders_without_warnings(name):
    text = render(name)
    assert text.splitlines()[0].startswith(name.rsplit(".", 1)[0] + "(")
    for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "SEE ALSO"):
        assert re.search(rf"^{section}$", text, re.M), (name, section)


def test_plantroomctl_page_documents_every_command():
    text = re.sub(r"\s+", " ", render("plantroomctl.1"))
    for noun, verb in ctl_help_commands():
        words = f"{noun} {verb}" if verb else noun
        assert re.search(rf"(^| ){re.escape(words)}( |$)", text), words
    text = render("plantroomd.8")
    for opt in ("--config", "--check-config", "--print-plan", "--state-dir", "--log-level"):
        assert opt in text, opt


def test_config_page_example_is_a_valid_config(tmp_path):
    with open(os.path.join(ROOT, "docs", "man", "plantroom.json.5.scd"), encoding="utf-8") as f:
        blocks = re.findall(r"^```\n(.*?)^```", f.read(), re.M | re.S)
    assert len(blocks) == 1
    cfg = json.loads(blocks[0])
    cfg["profiles_dir"] = os.path.join(ROOT, "drivers", "profiles")
    path = tmp_path / "site.json"
    path.write_text(json.dumps(cfg))
    r = subprocess.run([os.path.join(BIN, "plantroomd"), "--check-config", str(path)],
                       capture_output=True, text=True, timeout=30,
                       env=dict(os.environ, PLANTROOM_STATE_DIR=str(tmp_path)))
    assert r.returncode == 0, r.stdout + r.stderr


def complete(line):
    """What bash offers for line (the cursor at its end), with the script
    sourced in a bash without bash-completion."""
    script = ('source "$1"; read -ra COMP_WORDS <<< "$2"; '
              '[[ $2 == *" " ]] && COMP_WORDS+=(""); '
              'COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); COMP_LINE=$2; COMP_POINT=${#2}; '
              '_plantroomctl plantroomctl; printf "%s\\n" "${COMPREPLY[@]}"')
    r = subprocess.run(["bash", "--norc", "--noprofile", "-c", script, "bash", COMPLETION, line],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and not r.stderr, r.stderr
    return sorted(x for x in r.stdout.splitlines() if x)


def test_completion_loads_and_completes(tmp_path):
    r = subprocess.run(["bash", "--norc", "--noprofile", "-c",
                        'source "$1" && complete -p plantroomctl', "bash", COMPLETION],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and "-F _plantroomctl plantroomctl" in r.stdout, r.stderr
    assert complete("plantroomctl wo") == ["workorders"]
    assert complete("plantroomctl re") == ["reload", "replay", "report"]
    assert complete("plantroomctl --config x.json workorders a") == ["ack", "assign"]
    assert complete("plantroomctl workorders list --st") == ["--status"]
    assert complete("plantroomctl workorders list --status in") == ["in_progress"]
    assert complete("plantroomctl workorders export --format ") == ["csv", "json"]
    assert complete("plantroomctl --") == ["--config", "--help", "--ledger", "--state-dir",
                                            "--version"]
    assert complete("plantroomctl status --") == ["--json", "--socket"]
    assert complete("plantroomctl audit ") == ["verify"]
    assert complete("plantroomctl audit verify --") == ["--head", "--json"]
    (tmp_path / "site.json").write_text("{}")
    assert complete(f"plantroomctl --config {tmp_path}/si") == [f"{tmp_path}/site.json"]


def test_completion_knows_every_command_of_the_help():
    commands = complete("plantroomctl ")
    for noun, verb in ctl_help_commands():
        assert noun in commands, noun
        if verb:
            assert verb in complete(f"plantroomctl {noun} "), (noun, verb)


def test_config_page_names_every_top_level_key():
    """plantroom.json(5) keeps up with configuration.md's "Top level" table."""
    with open(os.path.join(ROOT, "docs", "configuration.md"), encoding="utf-8") as f:
        text = f.read()
    table = text.split("### Top level", 1)[1].split("\n### ", 1)[0]
    keys = re.findall(r"`([a-z_]+)`", "".join(ln.split("|")[1] for ln in table.splitlines()
                                               if ln.startswith("| `")))
    assert len(keys) > 15, table
    page_text = render("plantroom.json.5")
    for key in keys:
        assert re.search(rf"\b{re.escape(key)}\b", page_text), key
