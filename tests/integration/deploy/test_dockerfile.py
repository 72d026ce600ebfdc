"""The Dockerfile builds the way `make build` does and runs what the README promises.

There is no Docker engine on the build machines: these tests read the Dockerfile, execute
the parts that can run on the host (its package-list pipeline, its ENTRYPOINT/CMD/ENV, its
HEALTHCHECK command) and compare the rest with the Makefile, the presets and the binary.
"""

import fnmatch
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import unittest

import deploy_support as ds


def dockerfile():
    return ds.parse_dockerfile(ds.read("Dockerfile"))


def final_stage(instructions):
    last = max(i.stage for i in instructions)
    return [i for i in instructions if i.stage == last]


def build_stage(instructions):
    names = ds.stage_names(instructions)
    build = [s for s, (_, alias) in names.items() if alias and alias.lower() == "build"]
    assert build, "no stage named 'build'"
    return [i for i in instructions if i.stage == build[0]]


def arg_default(stage, name):
    for i in stage:
        if i.keyword == "ARG" and i.args.startswith(name + "="):
            return shlex.split(i.args)[0].partition("=")[2]
    return None


class DockerfileMatchesMakefile(unittest.TestCase):
    """Same package list file, same filter, same preset build commands as `make build`."""

    def test_stages_are_bookworm_and_bookworm_slim(self):
        names = ds.stage_names(dockerfile())
        images = [image for image, _ in names.values()]
        self.assertEqual(images[0], "debian:bookworm")
        self.assertEqual(images[-1], "debian:bookworm-slim")
        self.assertGreaterEqual(len(images), 2, "multi-stage")

    def test_build_stage_installs_the_makefile_package_list_minus_test_only_tools(self):
        self.assertEqual(ds.make_value("$(PACKAGES_FILE)"), "deploy/debian-packages.txt")
        make_packages = ds.make_value("$(PACKAGES)").split()
        self.assertTrue(make_packages)

        stage = build_stage(dockerfile())
        copies = [i for i in stage if i.keyword == "COPY" and "deploy/debian-packages.txt" in i.args]
        self.assertEqual(len(copies), 1, "the build stage copies deploy/debian-packages.txt")
        copied_to = shlex.split(copies[0].args)[-1]
        run = [i for i in stage if i.keyword == "RUN" and copied_to in i.args]
        self.assertEqual(len(run), 1, "one RUN reads the package list")
        test_only = (arg_default(stage, "TEST_ONLY_PACKAGES") or "").split()

        # Execute the Dockerfile's own pipeline (everything before the install) on the host.
        commands = ds.shell_commands(run[0].args)
        install_at = next(n for n, c in enumerate(commands) if "apt-get install" in c)
        pipeline = [c for c in commands[:install_at] if "apt-get" not in c]
        install = commands[install_at]
        with tempfile.TemporaryDirectory() as tmp:
            script = " && ".join(pipeline)
            for path in sorted(set(re.findall(r"/tmp/[\w.-]+", script + " " + install)), key=len, reverse=True):
                mapped = os.path.join(tmp, os.path.basename(path))
                script = script.replace(path, mapped)
                install = install.replace(path, mapped)
            shutil.copy(ds.src("deploy", "debian-packages.txt"), os.path.join(tmp, "debian-packages.txt"))
            env = dict(os.environ, TEST_ONLY_PACKAGES=" ".join(test_only))
            subprocess.run(["sh", "-ec", script], check=True, env=env, timeout=ds.DEADLINE)
            m = re.search(r"<\s*(\S+)", install)
            self.assertIsNotNone(m, "apt-get install reads the filtered list: " + install)
            with open(m.group(1)) as f:
                docker_packages = f.read().split()
        self.assertIn("--no-install-recommends", install)

        for p in test_only:
            self.assertIn(p, make_packages, "TEST_ONLY_PACKAGES names %s, which the list no longer has" % p)
        self.assertEqual(docker_packages, [p for p in make_packages if p not in test_only])
        for needed in ("build-essential", "cmake", "ninja-build"):
            self.assertIn(needed, docker_packages)

    def test_build_stage_runs_the_makefile_build_commands(self):
        make_build = [ds.normalize_command(c) for c in ds.makefile_recipe("build")]
        make_build = [c for c in make_build if c and c[0] == "cmake"]
        self.assertEqual(len(make_build), 2, "make build: configure and build with the release preset")
        stage = build_stage(dockerfile())
        docker_cmds = []
        for i in stage:
            if i.keyword == "RUN":
                docker_cmds += [ds.normalize_command(c) for c in ds.shell_commands(i.args)]
        docker_cmake = [c for c in docker_cmds if c and c[0] == "cmake"]
        self.assertEqual(len(docker_cmake), len(make_build))
        for make_cmd, docker_cmd in zip(make_build, docker_cmake):
            # The Dockerfile may only add `--target tracecol` (it ships just the daemon).
            extra = [t for t in docker_cmd if t not in make_cmd]
            self.assertEqual([t for t in docker_cmd if t in make_cmd], make_cmd)
            self.assertIn(extra, ([], ["--target", "tracecol"]))
        # The README's release build commands, where it shows them, are the same.
        readme = ds.read("README.md")
        for line in re.findall(r"cmake (?:--build )?--preset release[^\n`&|;#]*", readme):
            self.assertIn(ds.normalize_command(line), make_build, "README: " + line)

    def test_the_binary_copied_out_is_where_the_release_preset_puts_it(self):
        presets = json.loads(ds.read("CMakePresets.json"))
        base = {p["name"]: p for p in presets["configurePresets"]}
        binary_dir = base["release"].get("binaryDir") or base[base["release"]["inherits"]]["binaryDir"]
        self.assertEqual(binary_dir.replace("${sourceDir}/", "").replace("${presetName}", "release"), "build/release")
        run_recipe = " ".join(ds.makefile_recipe("run"))
        self.assertIn("./build/release/daemon/tracecol", run_recipe)
        build_runs = " ".join(i.args for i in build_stage(dockerfile()) if i.keyword == "RUN")
        self.assertIn("build/release/daemon/tracecol", build_runs)

    def test_runtime_stage_has_the_libraries_the_binary_links(self):
        """Every shared library of the built daemon comes from a package every bookworm
        image has (libc6, libgcc-s1, Priority: required) or one the runtime stage installs."""
        if not shutil.which("ldd") or not shutil.which("dpkg"):
            self.skipTest("needs ldd and dpkg")
        runtime = final_stage(dockerfile())
        installed = set()
        for i in runtime:
            if i.keyword == "RUN":
                for c in ds.shell_commands(i.args):
                    if "apt-get install" in c:
                        installed |= {t for t in shlex.split(c.split("apt-get install", 1)[1]) if not t.startswith("-")}
        ldd = subprocess.run(["ldd", ds.BINARY], capture_output=True, text=True, check=True).stdout
        libs = re.findall(r"=>\s*(/\S+)", ldd) + re.findall(r"^\s*(/\S+ld-linux\S*)", ldd, re.M)
        self.assertTrue(libs)
        for lib in libs:
            real = os.path.realpath(lib)
            owner = None
            for candidate in (lib, real, "/usr" + lib, "/usr" + real):
                r = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
                if r.returncode == 0:
                    owner = r.stdout.split(":")[0].strip()
                    break
            if owner is None:
                if any(s in lib for s in ("asan", "ubsan", "tsan")):
                    continue  # a sanitizer build's runtime, never in the image
                self.fail("no Debian package owns " + lib)
            priority = subprocess.run(["dpkg-query", "-W", "-f=${Priority}", owner],
                                      capture_output=True, text=True).stdout.strip()
            if "asan" in owner or "ubsan" in owner or "tsan" in owner:
                continue
            # libc6 and libgcc-s1 are in every Debian image (Essential packages need them).
            self.assertTrue(priority == "required" or owner in ("libc6", "libgcc-s1") or owner in installed,
                            "%s (from %s, priority %s) is not in bookworm-slim: install it in the runtime stage"
                            % (lib, owner, priority))

    def test_dockerignore_keeps_build_outputs_out_and_sources_in(self):
        patterns = [p.strip() for p in ds.read(".dockerignore").splitlines() if p.strip() and not p.startswith("#")]

        def ignored(path):
            parts = path.split("/")
            for p in patterns:
                p = p.rstrip("/")
                anywhere = p.startswith("**/")
                core = p[3:] if anywhere else p
                starts = range(len(parts)) if anywhere else range(1)
                for k in starts:
                    for j in range(k + 1, len(parts) + 1):
                        if fnmatch.fnmatch("/".join(parts[k:j]), core):
                            return True
            return False

        for path in ("build/release/daemon/tracecol", ".git/config", "tests/integration/otel_js/node_modules/x.js",
                     "var/traces.ndjson"):
            self.assertTrue(ignored(path), path + " should not be sent to the Docker daemon")
        for i in dockerfile():
            if i.keyword == "COPY" and "--from=" not in i.args:
                for source in shlex.split(i.args)[:-1]:
                    if source.startswith("--"):
                        continue
                    if source != ".":
                        self.assertTrue(os.path.exists(ds.src(source)), source)
                        self.assertFalse(ignored(source), source + " is copied but ignored")
        for path in ("CMakeLists.txt", "CMakePresets.json", "daemon/main.cpp", "protocol/span.hpp",
                     "daemon/http/ui/index.html", "deploy/debian-packages.txt", "deploy/docker/healthcheck.sh"):
            self.assertFalse(ignored(path), path + " is needed by the build")


class DockerfileRuntimeContract(unittest.TestCase):
    """Non-root, socket volume, port, healthcheck, env defaults the binary knows, exec form."""

    def setUp(self):
        self.runtime = final_stage(dockerfile())
        self.env = {}
        for i in self.runtime:
            if i.keyword == "ENV":
                self.env.update(ds.parse_env(i.args))

    def one(self, keyword):
        found = [i for i in self.runtime if i.keyword == keyword]
        self.assertEqual(len(found), 1, keyword)
        return found[0]

    def test_runs_as_a_non_root_user(self):
        user = self.one("USER").args.split(":")[0]
        self.assertNotIn(user, ("root", "0"))
        self.assertIn("useradd", " ".join(i.args for i in self.runtime if i.keyword == "RUN"))

    def test_socket_directory_is_a_volume_and_the_port_is_exposed(self):
        volumes = self.one("VOLUME").exec_form() or self.one("VOLUME").args.split()
        self.assertIn("/run/tracecol", volumes)
        self.assertEqual(os.path.dirname(self.env["TRACECOL_SOCKET"]), "/run/tracecol")
        self.assertEqual(self.env["TRACECOL_SOCKET"], "/run/tracecol/tracecol.sock")
        self.assertIn(os.path.dirname(self.env["TRACECOL_EXPORT_FILE"]), volumes)
        self.assertEqual(self.one("EXPOSE").args.split()[0].split("/")[0], "4318")
        self.assertTrue(self.env["TRACECOL_HTTP_LISTEN"].endswith(":4318"))

    def test_every_env_default_is_a_variable_the_binary_reads(self):
        _, known = ds.known_env_vars_and_flags()
        self.assertIn("TRACECOL_SOCKET", known)
        for name in self.env:
            if name.startswith("TRACECOL_"):
                self.assertIn(name, known, name + " is not read by tracecol (see tracecol --help)")

    def test_entrypoint_is_exec_form_so_tracecol_is_pid_1(self):
        entry = self.one("ENTRYPOINT").exec_form()
        self.assertIsNotNone(entry, "shell form would make /bin/sh PID 1 and swallow SIGTERM")
        self.assertEqual(os.path.basename(entry[0]), "tracecol")
        stop = [i for i in self.runtime if i.keyword == "STOPSIGNAL"]
        self.assertIn(stop[0].args if stop else "SIGTERM", ("SIGTERM", "15"))

    def test_healthcheck_probes_healthz_with_a_file_the_image_has(self):
        hc = self.one("HEALTHCHECK")
        cmd = hc.args[hc.args.index("CMD") + 3:].strip()
        argv = json.loads(cmd) if cmd.startswith("[") else shlex.split(cmd)
        copies = {shlex.split(i.args)[-1]: shlex.split(i.args)[-2] for i in self.runtime if i.keyword == "COPY"}
        self.assertIn(argv[0], copies, "the HEALTHCHECK program is copied into the image")
        script = ds.read(copies[argv[0]])
        self.assertTrue(script.startswith("#!/bin/bash"))
        self.assertIn("/healthz", script)


class ContainerEntrypointOnTheHost(unittest.TestCase):
    """The image's command line (ENTRYPOINT + CMD + ENV), paths remapped into a temp dir,
    started as PID 1 of a new PID namespace where the host allows it: it starts, answers
    /healthz (through the image's own HEALTHCHECK program too) and drains on SIGTERM."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        runtime = final_stage(dockerfile())
        env = {}
        for i in runtime:
            if i.keyword == "ENV":
                env.update(ds.parse_env(i.args))
        entry = [i for i in runtime if i.keyword == "ENTRYPOINT"][0].exec_form()
        cmd_i = [i for i in runtime if i.keyword == "CMD"]
        cmd = cmd_i[0].exec_form() if cmd_i else []
        self.assertIsNotNone(cmd, "CMD is exec form")
        self.image_argv = entry + cmd
        self.image_env = env
        root = self.tmp.name
        self.remap = {"/run/tracecol": os.path.join(root, "run"), "/var/lib/tracecol": os.path.join(root, "data")}
        for d in self.remap.values():
            os.makedirs(d)

    def remapped(self, value):
        for old, new in self.remap.items():
            value = value.replace(old, new)
        return value

    def test_starts_answers_healthz_and_drains_on_sigterm(self):
        argv = [ds.BINARY] + [self.remapped(a) for a in self.image_argv[1:]]
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRACECOL_")}
        env.update({k: self.remapped(v) for k, v in self.image_env.items()})
        self.assertEqual(env["TRACECOL_HTTP_LISTEN"], "0.0.0.0:4318")
        env["TRACECOL_HTTP_LISTEN"] = "127.0.0.1:0"  # the one change: a free loopback port on a shared host
        prefix = ds.pid_namespace_prefix()
        proc = ds.Process(prefix + argv, env, self.tmp.name)
        self.addCleanup(proc.close)

        port = ds.http_port(proc)
        self.assertTrue(port, "no 'http listening' line; stderr:\n" + proc.err())
        socket_path = env["TRACECOL_SOCKET"]
        self.assertTrue(ds.wait_until(lambda: os.path.exists(socket_path)))
        self.assertEqual(oct(os.stat(socket_path).st_mode & 0o777), oct(int(env["TRACECOL_SOCKET_MODE"], 8)))
        pid = proc.proc.pid
        if prefix:
            pid = ds.wait_until(lambda: ds.child_pid(proc.proc.pid))
            self.assertTrue(pid)
            with open("/proc/%d/status" % pid) as f:
                nspid = [l for l in f.read().splitlines() if l.startswith("NSpid:")][0].split()
            self.assertEqual(nspid[-1], "1", "tracecol is PID 1 in its namespace")

        self.assertEqual(ds.http_get(port, "/healthz")[0], 200)
        self.assertEqual(ds.http_get(port, "/readyz")[0], 200)
        # The image's HEALTHCHECK program, as Docker would run it (env from the image).
        hc_env = dict(env, TRACECOL_HTTP_LISTEN="0.0.0.0:%d" % port)
        hc = subprocess.run(["bash", ds.src("deploy", "docker", "healthcheck.sh")], env=hc_env,
                            capture_output=True, text=True, timeout=ds.DEADLINE)
        self.assertEqual(hc.returncode, 0, hc.stderr)

        # An open trace (root never ended) is exported at shutdown, to the NDJSON volume.
        reply = ds.send_lines(socket_path, [json.dumps({
            "type": "span_start", "trace_id": "c0ffee", "span_id": "1", "run_id": "container-run",
            "name": "agent.run", "kind": "AGENT", "started_at": 1732500000.0})])
        self.assertEqual(reply.get("accepted"), 1, reply)

        os.kill(pid, signal.SIGTERM)
        code = proc.wait_exit()
        self.assertEqual(code, 0, "exit status after SIGTERM; stderr:\n" + proc.err())
        self.assertEqual(proc.sanitizer_report(), "")
        err = proc.err()
        self.assertIn("received SIGTERM", err)
        self.assertRegex(err, r"exit summary: .*accepted=1 ")
        export_file = env["TRACECOL_EXPORT_FILE"]
        self.assertTrue(export_file.startswith(self.remap["/var/lib/tracecol"]))
        with open(export_file) as f:
            records = [json.loads(line) for line in f if line.strip()]
        self.assertEqual([r["run_id"] for r in records], ["container-run"])
        self.assertFalse(records[0]["complete"])
        self.assertFalse(os.path.exists(socket_path), "the socket file is removed on exit")

        # And the HEALTHCHECK fails once nothing answers.
        hc = subprocess.run(["bash", ds.src("deploy", "docker", "healthcheck.sh")], env=hc_env,
                            capture_output=True, text=True, timeout=ds.DEADLINE)
        self.assertNotEqual(hc.returncode, 0)


if __name__ == "__main__":
    unittest.main()
