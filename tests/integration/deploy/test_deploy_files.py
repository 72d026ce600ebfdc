"""deploy/: every YAML parses and holds what running tracecol beside an agent needs; the
example configs are accepted by the real binary; the systemd unit verifies and its
command line starts, answers /healthz, reopens on SIGHUP and drains on SIGTERM."""

import glob
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import unittest

import yaml

import deploy_support as ds


def load_yaml(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def seconds(text):
    m = re.fullmatch(r"(\d+)(s|m)?", str(text))
    assert m, text
    return int(m.group(1)) * (60 if m.group(2) == "m" else 1)


def toml_keys(text):
    """Top-level keys of a flat TOML file (what --config reads)."""
    return [m.group(1) for m in re.finditer(r"^\s*([A-Za-z0-9_.-]+)\s*=", text, re.M)]


def kubernetes_config_toml():
    cms = [d for d in load_yaml(ds.src("deploy", "kubernetes", "configmap.yaml")) if d["kind"] == "ConfigMap"]
    return cms[0]["data"]["tracecol.toml"]


class EveryYamlParses(unittest.TestCase):
    def test_every_yaml_file_under_deploy_parses(self):
        files = sorted(glob.glob(ds.src("deploy", "**", "*.yml"), recursive=True) +
                       glob.glob(ds.src("deploy", "**", "*.yaml"), recursive=True))
        self.assertGreaterEqual(len(files), 3)
        for path in files:
            with self.subTest(path=os.path.relpath(path, ds.SOURCE_DIR)):
                docs = load_yaml(path)
                self.assertTrue(docs)
                for d in docs:
                    self.assertIsInstance(d, dict)


class Compose(unittest.TestCase):
    def setUp(self):
        (self.doc,) = load_yaml(ds.src("deploy", "docker-compose.yml"))
        self.services = self.doc["services"]

    def mounts(self, service):
        out = {}
        for v in self.services[service].get("volumes", []):
            source, target = v.split(":")[:2]
            out[target] = source
        return out

    def test_tracecol_and_the_agent_share_the_socket_volume(self):
        tracecol, agent = self.services["tracecol"], self.services["agent"]
        sock = tracecol["environment"]["TRACECOL_SOCKET"]
        self.assertEqual(agent["environment"]["TRACECOL_SOCKET"], sock)
        sock_dir = os.path.dirname(sock)
        self.assertIn(sock_dir, self.mounts("tracecol"))
        self.assertEqual(self.mounts("tracecol")[sock_dir], self.mounts("agent").get(sock_dir),
                         "the same named volume at the socket's directory in both")
        self.assertIn(self.mounts("tracecol")[sock_dir], self.doc["volumes"])
        # The socket is 0660 tracecol:tracecol (gid 10001): the agent joins that group.
        self.assertIn("10001", [str(g) for g in agent.get("group_add", [])])

    def test_ndjson_goes_to_a_named_volume(self):
        export_file = self.services["tracecol"]["environment"]["TRACECOL_EXPORT_FILE"]
        source = self.mounts("tracecol").get(os.path.dirname(export_file))
        self.assertIn(source, self.doc["volumes"])

    def test_tracecol_is_built_from_the_root_dockerfile_with_healthcheck_and_grace(self):
        tracecol = self.services["tracecol"]
        build = tracecol["build"]
        self.assertEqual(os.path.normpath(os.path.join(ds.src("deploy"), build["context"], build["dockerfile"])),
                         ds.src("Dockerfile"))
        self.assertIn("/usr/local/bin/tracecol-healthcheck", tracecol["healthcheck"]["test"])
        self.assertGreaterEqual(seconds(tracecol["stop_grace_period"]), 20)
        for port in tracecol.get("ports", []):
            self.assertTrue(str(port).startswith("127.0.0.1:"), "publish the unauthenticated API on loopback only")
        _, known = ds.known_env_vars_and_flags()
        for name in tracecol["environment"]:
            self.assertIn(name, known)

    def test_the_tracecol_environment_is_accepted_by_the_binary(self):
        environment = self.services["tracecol"]["environment"]
        with tempfile.TemporaryDirectory() as tmp:
            env = {k: v for k, v in os.environ.items() if not k.startswith("TRACECOL_")}
            for name, value in environment.items():
                env[name] = str(value).replace("/run/tracecol", tmp).replace("/var/lib/tracecol", tmp)
            env["TRACECOL_HTTP_LISTEN"] = "127.0.0.1:0"
            proc = ds.Process([ds.BINARY], env, tmp)
            try:
                port = ds.http_port(proc)
                self.assertTrue(port, proc.err())
                self.assertIn("exporters: console ndjson:%s/traces.ndjson" % tmp, proc.err())
                self.assertEqual(ds.http_get(port, "/healthz")[0], 200)
                proc.proc.send_signal(signal.SIGTERM)
                self.assertEqual(proc.wait_exit(), 0, proc.err())
                self.assertEqual(proc.sanitizer_report(), "")
            finally:
                proc.close()

    def test_the_agent_runs_the_python_client_example(self):
        agent = self.services["agent"]
        self.assertEqual(agent["depends_on"]["tracecol"]["condition"], "service_healthy")
        dockerfile = os.path.normpath(os.path.join(ds.src("deploy"), agent["build"]["context"],
                                                   agent["build"]["dockerfile"]))
        with open(dockerfile, encoding="utf-8") as f:
            text = f.read()
        self.assertIn("COPY client/python ", text)
        cmd = json.loads(re.search(r"^CMD (\[.*\])$", text, re.M).group(1))
        script = cmd[-1].replace("/opt/tracecol-client/", "client/python/")
        self.assertTrue(os.path.exists(ds.src(script)), script + " (the Python client's example agent) is missing")


class Kubernetes(unittest.TestCase):
    def setUp(self):
        docs = load_yaml(ds.src("deploy", "kubernetes", "deployment.yaml"))
        self.deployment = [d for d in docs if d["kind"] == "Deployment"][0]
        self.pod = self.deployment["spec"]["template"]["spec"]
        self.sidecar = [c for c in self.pod["initContainers"] if c["name"] == "tracecol"][0]
        self.agent = [c for c in self.pod["containers"] if c["name"] == "agent"][0]
        self.config = kubernetes_config_toml()

    def config_value(self, key):
        m = re.search(r"^\s*%s\s*=\s*\"?([^\"\n]*)\"?" % re.escape(key), self.config, re.M)
        return m.group(1) if m else None

    def test_tracecol_is_a_native_sidecar(self):
        self.assertEqual(self.sidecar["restartPolicy"], "Always")
        self.assertEqual(self.deployment["spec"]["selector"]["matchLabels"],
                         {k: v for k, v in self.deployment["spec"]["template"]["metadata"]["labels"].items()
                          if k in self.deployment["spec"]["selector"]["matchLabels"]})

    def test_probes_hit_healthz_and_readyz_on_the_configured_port(self):
        port = int(self.config_value("http-listen").rsplit(":", 1)[1])
        named = {p["name"]: p["containerPort"] for p in self.sidecar["ports"]}
        for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz"), ("startupProbe", "/healthz")):
            get = self.sidecar[probe]["httpGet"]
            self.assertEqual(get["path"], path)
            self.assertEqual(named.get(get["port"], get["port"]), port)
        self.assertTrue(self.config_value("http-listen").startswith("0.0.0.0:"), "the kubelet probes the pod IP")

    def test_grace_period_covers_the_drain(self):
        # read grace 2 s + exporter drain 15 s + reply grace 1 s (daemon/daemon.cpp)
        self.assertGreaterEqual(self.pod["terminationGracePeriodSeconds"], 20)

    def test_every_container_has_requests_and_limits(self):
        for c in self.pod["initContainers"] + self.pod["containers"]:
            for kind in ("requests", "limits"):
                self.assertIn("cpu", c["resources"][kind], c["name"])
                self.assertIn("memory", c["resources"][kind], c["name"])

    def test_the_socket_emptydir_is_mounted_in_both_at_the_socket_directory(self):
        socket_dir = os.path.dirname(self.config_value("socket"))
        agent_env = {e["name"]: e.get("value") for e in self.agent.get("env", [])}
        self.assertEqual(agent_env["TRACECOL_SOCKET"], self.config_value("socket"))

        def mount_of(container):
            return {m["mountPath"]: m["name"] for m in container["volumeMounts"]}[socket_dir]
        self.assertEqual(mount_of(self.sidecar), mount_of(self.agent))
        volume = [v for v in self.pod["volumes"] if v["name"] == mount_of(self.sidecar)][0]
        self.assertIn("emptyDir", volume)
        self.assertEqual(self.pod["securityContext"]["fsGroup"], 10001, "tracecol's group: the agent may connect")

    def test_the_config_map_is_mounted_and_passed_to_config(self):
        cm_volume = [v for v in self.pod["volumes"] if "configMap" in v][0]
        self.assertEqual(cm_volume["configMap"]["name"], "tracecol-config")
        mount = [m for m in self.sidecar["volumeMounts"] if m["name"] == cm_volume["name"]][0]
        args = self.sidecar["args"]
        self.assertEqual(args[args.index("--config") + 1], mount["mountPath"] + "/tracecol.toml")
        # Every writable path the config names is on a volume (the root filesystem is read-only).
        self.assertTrue(self.sidecar["securityContext"]["readOnlyRootFilesystem"])
        mounts = [m["mountPath"] for m in self.sidecar["volumeMounts"]]
        for key in ("socket", "export-file"):
            self.assertIn(os.path.dirname(self.config_value(key)), mounts, key)


class ExampleConfigs(unittest.TestCase):
    """The systemd and ConfigMap configs: only known keys, and the binary runs with them."""

    def check_config(self, text, label):
        flags, _ = ds.known_env_vars_and_flags()
        for key in toml_keys(text):
            self.assertIn(key, flags, "%s: '%s' is not a tracecol flag (tracecol refuses unknown keys)"
                          % (label, key))
        with tempfile.TemporaryDirectory() as tmp:
            for old, new in (("/run/tracecol", tmp + "/run"), ("/var/lib/tracecol", tmp + "/data")):
                text = text.replace(old, new)
            text = re.sub(r'^(\s*http-listen\s*=\s*)".*"', r'\1"127.0.0.1:0"', text, flags=re.M)
            os.makedirs(tmp + "/run")
            os.makedirs(tmp + "/data")
            config = os.path.join(tmp, "tracecol.toml")
            with open(config, "w") as f:
                f.write(text)
            env = {k: v for k, v in os.environ.items() if not k.startswith("TRACECOL_")}
            proc = ds.Process([ds.BINARY, "--config", config], env, tmp)
            try:
                port = ds.http_port(proc)
                self.assertTrue(port, "%s: no 'http listening' line:\n%s" % (label, proc.err()))
                # The values came from the file: the socket and the NDJSON path are the remapped ones.
                self.assertIn("listening on unix:%s/run/tracecol.sock" % tmp, proc.err())
                self.assertIn("ndjson:%s/data/traces.ndjson" % tmp, proc.err())
                self.assertEqual(ds.http_get(port, "/healthz")[0], 200)
                proc.proc.send_signal(signal.SIGTERM)
                self.assertEqual(proc.wait_exit(), 0, proc.err())
                self.assertEqual(proc.sanitizer_report(), "")
                self.assertIn("exit summary:", proc.err())
            finally:
                proc.close()

    def test_the_systemd_example_config_runs(self):
        self.check_config(ds.read("deploy", "systemd", "tracecol.toml"), "deploy/systemd/tracecol.toml")

    def test_the_kubernetes_config_map_config_runs(self):
        self.check_config(kubernetes_config_toml(), "deploy/kubernetes/configmap.yaml")

    def test_a_bad_value_in_a_config_file_is_refused(self):
        """Control: the check above would notice a config the binary rejects."""
        with tempfile.TemporaryDirectory() as tmp:
            config = os.path.join(tmp, "bad.toml")
            with open(config, "w") as f:
                f.write('socket = "%s/s.sock"\nhttp-listen = "off"\nmax-traces = "lots"\n' % tmp)
            r = subprocess.run([ds.BINARY, "--config", config], capture_output=True, text=True, timeout=ds.DEADLINE)
            self.assertEqual(r.returncode, 2, r.stderr)


class Systemd(unittest.TestCase):
    def setUp(self):
        self.text = ds.read("deploy", "systemd", "tracecol.service")
        self.directives = {}
        for line in self.text.splitlines():
            if "=" in line and not line.lstrip().startswith(("#", ";", "[")):
                key, _, value = line.partition("=")
                self.directives.setdefault(key.strip(), []).append(value.strip())

    def one(self, key):
        self.assertIn(key, self.directives)
        return self.directives[key][-1]

    def test_the_unit_is_hardened(self):
        self.assertTrue(self.one("DynamicUser") == "yes" or self.directives.get("User"))
        self.assertEqual(self.one("ProtectSystem"), "strict")
        self.assertEqual(self.one("ProtectHome"), "yes")
        self.assertEqual(self.one("PrivateTmp"), "yes")
        self.assertEqual(self.one("NoNewPrivileges"), "yes")
        self.assertEqual(self.one("RuntimeDirectory"), "tracecol")
        self.assertEqual(self.one("StateDirectory"), "tracecol")
        self.assertEqual(set(self.one("RestrictAddressFamilies").split()), {"AF_UNIX", "AF_INET", "AF_INET6"})
        self.assertIn("@system-service", self.directives["SystemCallFilter"])
        self.assertIn("MemoryMax", self.directives)
        self.assertRegex(self.one("ExecReload"), r"kill -HUP \$MAINPID")
        self.assertGreaterEqual(seconds(self.one("TimeoutStopSec")), 20)

    def test_the_directories_match_the_example_config(self):
        config = ds.read("deploy", "systemd", "tracecol.toml")
        socket = re.search(r'^socket\s*=\s*"(.*)"', config, re.M).group(1)
        export = re.search(r'^export-file\s*=\s*"(.*)"', config, re.M).group(1)
        self.assertEqual(os.path.dirname(socket), "/run/" + self.one("RuntimeDirectory"))
        self.assertEqual(os.path.dirname(export), "/var/lib/" + self.one("StateDirectory"))
        argv = shlex.split(self.one("ExecStart"))
        self.assertEqual(argv[1:3], ["--config", "/etc/tracecol/tracecol.toml"])

    def test_the_sysusers_file_creates_the_account_the_unit_names(self):
        if not shutil.which("systemd-sysusers"):
            self.skipTest("systemd-sysusers is not installed")
        with tempfile.TemporaryDirectory() as root:
            os.makedirs(root + "/etc")
            with open(ds.src("deploy", "systemd", "tracecol.sysusers")) as f:
                r = subprocess.run(["systemd-sysusers", "--root=" + root, "-"], stdin=f, capture_output=True,
                                   text=True, timeout=ds.DEADLINE)
            self.assertEqual(r.returncode, 0, r.stderr)
            with open(root + "/etc/passwd") as f:
                users = {line.split(":")[0] for line in f}
            with open(root + "/etc/group") as f:
                groups = {line.split(":")[0] for line in f}
        self.assertIn(self.one("User"), users)
        self.assertIn(self.one("Group"), groups)

    def test_systemd_analyze_verify_passes(self):
        if not shutil.which("systemd-analyze"):
            self.skipTest("systemd-analyze is not installed")
        with tempfile.TemporaryDirectory() as tmp:
            # verify checks that ExecStart exists: point it at the built binary.
            unit = os.path.join(tmp, "tracecol.service")
            with open(unit, "w") as f:
                f.write(self.text.replace("/usr/local/bin/tracecol", ds.BINARY))
            r = subprocess.run(["systemd-analyze", "verify", unit], capture_output=True, text=True, timeout=ds.DEADLINE)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stderr.strip(), "")
            # --threshold is on the 0..100 scale the report shows divided by 10: 30 means 3.0.
            r = subprocess.run(["systemd-analyze", "security", "--offline=true", "--threshold=30", unit],
                               capture_output=True, text=True, timeout=ds.DEADLINE)
            if "Unknown option" in r.stderr or "unrecognized option" in r.stderr:
                return  # older systemd: no offline security check
            self.assertEqual(r.returncode, 0, "exposure above 3.0:\n" + r.stdout[-600:] + r.stderr)

    def test_execstart_runs_reloads_on_sighup_and_drains_on_sigterm(self):
        """ExecStart with the example config (paths remapped as systemd would create them)."""
        with tempfile.TemporaryDirectory() as tmp:
            config = ds.read("deploy", "systemd", "tracecol.toml")
            config = config.replace("/run/tracecol", tmp + "/run").replace("/var/lib/tracecol", tmp + "/data")
            config = re.sub(r'^(http-listen\s*=\s*)".*"', r'\1"127.0.0.1:0"', config, flags=re.M)
            os.makedirs(tmp + "/run")
            os.makedirs(tmp + "/data")
            with open(tmp + "/tracecol.toml", "w") as f:
                f.write(config)
            argv = [a.replace("/usr/local/bin/tracecol", ds.BINARY).replace("/etc/tracecol", tmp)
                    for a in shlex.split(self.one("ExecStart"))]
            env = {k: v for k, v in os.environ.items() if not k.startswith("TRACECOL_")}
            proc = ds.Process(argv, env, tmp)
            try:
                port = ds.http_port(proc)
                self.assertTrue(port, proc.err())
                self.assertEqual(ds.http_get(port, "/healthz")[0], 200)
                reply = ds.send_lines(tmp + "/run/tracecol.sock", [
                    json.dumps({"type": "span", "trace_id": "5e", "span_id": "1", "name": "agent.run",
                                "kind": "AGENT", "run_id": "systemd", "started_at": 1732500000.0,
                                "ended_at": 1732500000.1}),
                    json.dumps({"type": "trace_end", "trace_id": "5e"})])
                self.assertEqual(reply.get("accepted"), 2, reply)
                ndjson = tmp + "/data/traces.ndjson"
                self.assertTrue(ds.wait_until(lambda: os.path.exists(ndjson) and os.path.getsize(ndjson) > 0))
                # ExecReload (kill -HUP): the file is reopened, the daemon keeps running.
                os.rename(ndjson, ndjson + ".1")
                proc.proc.send_signal(signal.SIGHUP)
                self.assertTrue(ds.wait_until(lambda: "SIGHUP" in proc.err()))
                self.assertTrue(ds.wait_until(lambda: os.path.exists(ndjson)), "reopened after SIGHUP")
                self.assertEqual(ds.http_get(port, "/healthz")[0], 200)
                proc.proc.send_signal(signal.SIGTERM)
                self.assertEqual(proc.wait_exit(), 0, proc.err())
                self.assertEqual(proc.sanitizer_report(), "")
                self.assertRegex(proc.err(), r"exit summary: .*accepted=2 ")
            finally:
                proc.close()


if __name__ == "__main__":
    unittest.main()
