"""Helpers for the deploy tests: repo paths, Dockerfile parsing, running the daemon.

Standard library only (plus PyYAML in the YAML tests). Every wait polls a condition
against a deadline; nothing sleeps for a fixed time to let something happen.
"""

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

SOURCE_DIR = os.environ.get("TRACECOL_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", "..", ".."))
BINARY = os.environ.get("TRACECOL_TEST_BINARY") or os.environ.get("TRACECOL_BINARY") or os.path.join(
    SOURCE_DIR, "build", "release", "daemon", "tracecol")
DEADLINE = 30.0  # generous: a loaded 2-core box under ASan


def src(*parts):
    return os.path.join(SOURCE_DIR, *parts)


def read(*parts):
    with open(src(*parts), encoding="utf-8") as f:
        return f.read()


def wait_until(pred, timeout=DEADLINE):
    """Polls pred with a short backoff until it is truthy or timeout passes; its last value."""
    end = time.monotonic() + timeout
    delay = 0.005
    while True:
        value = pred()
        if value or time.monotonic() >= end:
            return value
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


# ---- Dockerfile ------------------------------------------------------------------------

class Instruction:
    def __init__(self, keyword, args, stage):
        self.keyword = keyword  # upper case
        self.args = args        # the text after the keyword, continuations joined
        self.stage = stage      # index of the FROM it belongs to

    def exec_form(self):
        """The JSON array of an exec-form instruction, or None for shell form."""
        text = self.args
        for flag in re.findall(r"^--\S+\s+", text):
            text = text[len(flag):]
        text = text.strip()
        if not text.startswith("["):
            return None
        return json.loads(text)

    def __repr__(self):
        return "%s %s" % (self.keyword, self.args)


def parse_dockerfile(text):
    """Instructions in order: comments dropped, backslash continuations joined."""
    lines, current = [], ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if current and stripped.startswith("#"):
            continue  # a comment inside a continuation
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        lines.append(current + stripped)
        current = ""
    if current:
        lines.append(current)
    out, stage = [], -1
    for line in lines:
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        out.append(Instruction(keyword, args.strip(), stage))
    return out


def parse_env(args):
    """ENV NAME=value NAME2="value 2" (the key=value form) as a dict."""
    env = {}
    for token in shlex.split(args):
        name, eq, value = token.partition("=")
        if not eq:
            raise ValueError("ENV in the legacy 'NAME value' form: " + args)
        env[name] = value
    return env


def stage_names(instructions):
    names = {}
    for i in instructions:
        if i.keyword == "FROM":
            m = re.match(r"(\S+)(?:\s+AS\s+(\S+))?", i.args, re.I)
            names[i.stage] = (m.group(1), m.group(2))
    return names


# ---- Makefile --------------------------------------------------------------------------

def make_value(expression):
    """Evaluates a make expression in the context of the repo's Makefile (GNU make --eval)."""
    out = subprocess.run(
        ["make", "-s", "-C", SOURCE_DIR, "--no-print-directory", "--eval",
         "h7-print-value: ; @printf '%s\\n' " + expression, "h7-print-value"],
        check=True, capture_output=True, text=True, timeout=DEADLINE)
    return out.stdout.strip()


def makefile_recipe(target):
    """The recipe lines of `target:` in the Makefile (tab-indented lines after it)."""
    lines = read("Makefile").splitlines()
    recipe, inside = [], False
    for line in lines:
        if re.match(r"^%s\s*:" % re.escape(target), line):
            inside = True
            continue
        if inside:
            if line.startswith("\t"):
                recipe.append(line.strip())
            elif line.strip() == "" or not line.startswith("\t"):
                break
    return recipe


def normalize_command(cmd):
    """A cmake command without output redirections and job counts, as a token list."""
    cmd = re.sub(r"\s*[12]?>\s*/dev/null", "", cmd)
    tokens = shlex.split(cmd)
    out, skip = [], False
    for t in tokens:
        if skip:
            skip = False
            continue
        if t in ("-j", "--parallel"):
            skip = True
            continue
        if re.match(r"^-j\S+$", t) or t.startswith("--parallel="):
            continue
        out.append(t)
    return out


def shell_commands(run_args):
    """The commands of a RUN line split on && and ;."""
    return [c.strip() for c in re.split(r"&&|;", run_args) if c.strip()]


# ---- the daemon ------------------------------------------------------------------------

class Process:
    """A child process with stdout/stderr in files; stopped (SIGKILL) by close()."""

    def __init__(self, argv, env, workdir, name="daemon"):
        self.out_path = os.path.join(workdir, name + ".stdout")
        self.err_path = os.path.join(workdir, name + ".stderr")
        self._out = open(self.out_path, "wb")
        self._err = open(self.err_path, "wb")
        self.proc = subprocess.Popen(argv, env=env, stdout=self._out, stderr=self._err,
                                     stdin=subprocess.DEVNULL, start_new_session=True)

    def out(self):
        with open(self.out_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def err(self):
        with open(self.err_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def sanitizer_report(self):
        """ASan/UBSan/LSan output in stderr (a sanitizer build); empty when none."""
        err = self.err()
        for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:", "ERROR: ThreadSanitizer"):
            at = err.find(marker)
            if at >= 0:
                return err[max(0, at - 200):at + 4000]
        return ""

    def wait_exit(self, timeout=DEADLINE):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def close(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self._out.close()
        self._err.close()


def http_port(process, host="127.0.0.1"):
    """The port from the daemon's 'http listening on HOST:PORT' log line; 0 at the deadline."""
    pattern = re.compile(r"http listening on %s:(\d+)" % re.escape(host))

    def find():
        m = pattern.search(process.err())
        return int(m.group(1)) if m else 0
    return wait_until(lambda: find() or process.proc.poll() is not None) and find()


def http_get(port, path, timeout=5.0):
    """(status, body) of GET http://127.0.0.1:port/path; (0, error) when unreachable."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")
    except OSError as e:
        return 0, str(e)


def send_lines(socket_path, lines):
    """Writes protocol lines to the daemon's socket, then a flush; the flushed reply (dict)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(DEADLINE)
    try:
        s.connect(socket_path)
        s.sendall(("".join(line + "\n" for line in lines) + '{"type":"flush","id":1}\n').encode())
        buf = b""
        while b"\n" not in buf:
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
        return json.loads(buf.split(b"\n", 1)[0])
    finally:
        s.close()


def known_env_vars_and_flags():
    """(flags, env names) from `tracecol --help` (CLI11 prints '(Env:NAME)')."""
    out = subprocess.run([BINARY, "--help"], capture_output=True, text=True, timeout=DEADLINE, check=True).stdout
    flags = set(re.findall(r"^\s+(?:-\w,\s*)?--([a-z0-9-]+)", out, re.M))
    envs = set(re.findall(r"\(Env:(TRACECOL_[A-Z0-9_]+)\)", out))
    return flags, envs


def pid_namespace_prefix():
    """argv prefix that runs a command as PID 1 of a new PID namespace, or [] if unavailable."""
    for prefix in (["unshare", "--pid", "--fork", "--kill-child"],
                   ["unshare", "--pid", "--fork", "--kill-child", "--map-current-user"]):
        try:
            r = subprocess.run(prefix + ["sh", "-c", "test $$ -eq 1"], capture_output=True, timeout=DEADLINE)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if r.returncode == 0:
            return prefix
    return []


def child_pid(parent_pid):
    """The first child of parent_pid (from /proc), or 0."""
    try:
        with open("/proc/%d/task/%d/children" % (parent_pid, parent_pid)) as f:
            pids = f.read().split()
        return int(pids[0]) if pids else 0
    except OSError:
        return 0
