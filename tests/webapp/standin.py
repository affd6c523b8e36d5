#!/usr/bin/env python3
"""Test stand-in for the Catalyst web app (see README.md next to this file).

Serves, on 127.0.0.1:<port> (plain HTTP):
  GET  /api/git-token/{installationId}      the web app's git token endpoint
  GET  /api/internal/secrets/{environmentId} the web app's secrets endpoint
  GET/POST /git/<name>.git/...              git smart HTTP (git http-backend), Basic auth
                                            x-access-token:<token from /api/git-token>
  GET  /_stats                              {"requests": {"<path> <status>": count}}
  GET  /_healthz                            "ok"

Standard library only. Never logs a token, a password or a secret value.
"""

import argparse
import base64
import json
import os
import secrets
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

GIT_USER = "x-access-token"
API_GROUP = "catalyst.catalyst.dev"
API_VERSION = "v1alpha1"
TEAM_LABEL = "catalyst.dev/team"
PROJECT_LABEL = "catalyst.dev/project"


def log(msg):
    sys.stderr.write("standin: %s\n" % msg)
    sys.stderr.flush()


# --- kubeconfig ---------------------------------------------------------------------------------


def read_kubeconfig(path):
    """The first server / CA / client cert / client key of a kubeconfig in the simple layout of
    scripts/cluster-up.sh (one `key: value` a line, data base64-embedded)."""
    wanted = ("server", "certificate-authority-data", "client-certificate-data", "client-key-data")
    found = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            s = line.strip()
            if s.startswith("- "):
                s = s[2:].strip()
            key, sep, value = s.partition(":")
            if not sep or key not in wanted or key in found:
                continue
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            found[key] = value
    missing = [k for k in wanted if not found.get(k)]
    if missing:
        raise SystemExit("standin: %s: missing %s" % (path, ", ".join(missing)))
    return found


class Kube:
    """A tiny admin client of the API server (client certificate auth)."""

    def __init__(self, kubeconfig):
        kc = read_kubeconfig(kubeconfig)
        self.server = kc["server"].rstrip("/")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        tmp = tempfile.mkdtemp(prefix="standin-kc-")
        try:
            files = {}
            for key, name in (("certificate-authority-data", "ca.crt"),
                              ("client-certificate-data", "client.crt"),
                              ("client-key-data", "client.key")):
                p = os.path.join(tmp, name)
                fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as f:
                    f.write(base64.b64decode(kc[key]))
                files[name] = p
            ctx.load_verify_locations(cafile=files["ca.crt"])
            ctx.load_cert_chain(files["client.crt"], files["client.key"])
        finally:  # loaded into the context: the files are no longer needed
            for name in os.listdir(tmp):
                os.unlink(os.path.join(tmp, name))
            os.rmdir(tmp)
        self.ctx = ctx

    def request(self, method, path, body=None):
        """(status, parsed JSON or None). Raises OSError on transport failure."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.server + path, data=data, method=method)
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=10) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, None

    def token_review(self, token):
        """The authenticated username of a bearer token, or None."""
        status, obj = self.request("POST", "/apis/authentication.k8s.io/v1/tokenreviews", {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenReview",
            "spec": {"token": token},
        })
        if status != 201 and status != 200:
            log("TokenReview failed: HTTP %d" % status)
            return None
        st = (obj or {}).get("status") or {}
        if st.get("authenticated") is not True:
            return None
        return (st.get("user") or {}).get("username") or None


# --- state ----------------------------------------------------------------------------------------


class State:
    def __init__(self, args):
        self.args = args
        self.kube = Kube(args.kubeconfig)
        self.lock = threading.Lock()
        self.tokens = {}  # git token -> monotonic expiry
        self.stats = {}   # "<path> <status>" -> count

    def issue_token(self):
        token = secrets.token_urlsafe(30)
        now = time.monotonic()
        with self.lock:
            for t in [t for t, exp in self.tokens.items() if exp <= now]:
                del self.tokens[t]
            self.tokens[token] = now + self.args.token_ttl
        return token

    def token_valid(self, token):
        with self.lock:
            exp = self.tokens.get(token)
        return exp is not None and exp > time.monotonic()

    def count(self, path, status):
        key = "%s %d" % (path, status)
        with self.lock:
            self.stats[key] = self.stats.get(key, 0) + 1

    def snapshot(self):
        with self.lock:
            return dict(self.stats)


def sa_namespace(username):
    """<ns> of system:serviceaccount:<ns>:<sa>, else None."""
    parts = (username or "").split(":")
    if len(parts) == 4 and parts[0] == "system" and parts[1] == "serviceaccount" \
            and parts[2] and parts[3]:
        return parts[2]
    return None


# --- HTTP -----------------------------------------------------------------------------------------


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "catalyst-webapp-standin"
    sys_version = ""
    state = None  # set in main

    # Logging: one line per response, path and status only (no query, headers or bodies).
    def log_request(self, code="-", size="-"):
        path = self.path.split("?", 1)[0]
        try:
            code = int(code)
        except (TypeError, ValueError):
            code = 0
        if path not in ("/_stats", "/_healthz"):
            self.state.count(path, code)
        log("%s %s %d" % (self.command, path, code))

    def log_message(self, fmt, *args):
        log(fmt % args)

    # -- helpers
    def send_body(self, status, body, ctype, extra=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, status, obj, extra=()):
        self.send_body(status, json.dumps(obj).encode(), "application/json", extra)

    def bearer(self):
        h = self.headers.get("Authorization", "")
        if not h.startswith("Bearer "):
            return None
        tok = h[len("Bearer "):].strip()
        return tok or None

    def read_body(self):
        """The request body (chunked transfer encoding decoded)."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            out = bytearray()
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    raise ValueError("truncated chunked body")
                size = int(line.split(b";", 1)[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.readline(65537)  # CRLF after the chunk
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def discard_body(self):
        if self.headers.get("Transfer-Encoding") or int(self.headers.get("Content-Length") or 0):
            self.close_connection = True

    # -- dispatch
    def do_GET(self):
        self.dispatch()

    def do_POST(self):
        self.dispatch()

    def dispatch(self):
        path = urllib.parse.urlsplit(self.path).path
        try:
            if path.startswith("/git/"):
                return self.git(path[len("/git"):])
            self.discard_body()
            if self.command != "GET":
                return self.send_json(405, {"error": "Method not allowed"})
            if path == "/_healthz":
                return self.send_body(200, b"ok", "text/plain")
            if path == "/_stats":
                return self.send_json(200, {"requests": self.state.snapshot()})
            parts = path.split("/")
            if len(parts) == 4 and parts[:3] == ["", "api", "git-token"] and parts[3]:
                return self.git_token(urllib.parse.unquote(parts[3]))
            if len(parts) == 5 and parts[:4] == ["", "api", "internal", "secrets"] and parts[4]:
                return self.secrets(urllib.parse.unquote(parts[4]))
            return self.send_json(404, {"error": "Not found"})
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as e:  # noqa: BLE001 - a test server: answer 500, keep serving
            log("error on %s %s: %s" % (self.command, path, type(e).__name__))
            self.close_connection = True
            try:
                self.send_json(500, {"error": "Internal server error"})
            except OSError:
                pass

    # -- GET /api/git-token/{installationId}
    def git_token(self, installation_id):
        token = self.bearer()
        if token is None:
            return self.send_json(401, {"error": "Missing or invalid Authorization header"})
        try:
            username = self.state.kube.token_review(token)
        except OSError as e:
            log("TokenReview: cluster unreachable: %s" % type(e).__name__)
            username = None
        ns = sa_namespace(username)
        if ns is None:
            return self.send_json(401, {"error": "Unauthorized"})

        project_id = self.project_installation_id(ns)
        if project_id is None or project_id != installation_id:
            return self.send_json(403, {"error": "Forbidden"})

        no_store = (("Cache-Control", "no-store"), ("Pragma", "no-cache"))
        if installation_id == "pat":
            if not self.state.args.pat_mode:
                return self.send_json(404, {"error": "Not found"})
            if not self.state.args.pat:
                return self.send_json(500, {"error": "GITHUB_PAT not configured"})
            return self.send_body(200, self.state.args.pat.encode(), "text/plain", no_store)
        if not (installation_id.isascii() and installation_id.isdigit()):
            return self.send_json(400, {"error": "Invalid installation ID"})
        return self.send_body(200, self.state.issue_token().encode(), "text/plain", no_store)

    def project_installation_id(self, ns):
        """spec.githubInstallationId (as a string) of the Project that namespace ns belongs to
        (labels catalyst.dev/team and catalyst.dev/project), else None."""
        kube = self.state.kube
        q = urllib.parse.quote
        try:
            status, nsobj = kube.request("GET", "/api/v1/namespaces/" + q(ns, safe=""))
            if status != 200 or not nsobj:
                return None
            labels = (nsobj.get("metadata") or {}).get("labels") or {}
            team, project = labels.get(TEAM_LABEL), labels.get(PROJECT_LABEL)
            if not team or not project:
                return None
            status, proj = kube.request("GET", "/apis/%s/%s/namespaces/%s/projects/%s" % (
                API_GROUP, API_VERSION, q(team, safe=""), q(project, safe="")))
            if status != 200 or not proj:
                return None
        except OSError as e:
            log("project lookup: cluster unreachable: %s" % type(e).__name__)
            return None
        v = (proj.get("spec") or {}).get("githubInstallationId")
        if isinstance(v, bool) or v is None or v == "":
            return None
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        return str(v)

    # -- GET /api/internal/secrets/{environmentId}
    def secrets(self, environment_id):
        try:
            data = self.load_secrets()
        except (OSError, ValueError) as e:
            log("secrets file unreadable: %s" % type(e).__name__)
            return self.send_json(500, {"error": "Failed to resolve secrets"})
        forced = data.get("__status__") if isinstance(data, dict) else None
        if isinstance(forced, int) and not isinstance(forced, bool):
            return self.send_json(forced, {"error": "Simulated failure"})

        token = self.bearer()
        if token is None:
            return self.send_json(401, {"error": "Missing authorization token"})
        try:
            username = self.state.kube.token_review(token)
        except OSError as e:
            log("TokenReview: cluster unreachable: %s" % type(e).__name__)
            username = None
        if not (username or "").startswith("system:serviceaccount:"):
            return self.send_json(401, {"error": "Unauthorized"})

        env = data.get(environment_id) if isinstance(data, dict) else None
        if environment_id == "__status__" or not isinstance(env, dict):
            return self.send_json(404, {"error": "Environment not found"})
        return self.send_json(200, {"secrets": env})

    def load_secrets(self):
        path = self.state.args.secrets_file
        if not path:
            return {}
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except FileNotFoundError:
            return {}
        return json.loads(text) if text.strip() else {}

    # -- /git/<name>.git/... (git http-backend as a CGI)
    def git(self, path_info):
        path_info = urllib.parse.unquote(path_info)
        if not self.git_authorized():
            self.discard_body()
            return self.send_json(401, {"error": "Unauthorized"},
                                  (("WWW-Authenticate", 'Basic realm="git"'),))
        if self.command not in ("GET", "POST"):
            self.discard_body()
            return self.send_json(405, {"error": "Method not allowed"})
        if not self.state.args.git_root or ".." in path_info.split("/"):
            self.discard_body()
            return self.send_json(404, {"error": "Not found"})
        body = self.read_body() if self.command == "POST" else b""

        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/"),
            "GIT_PROJECT_ROOT": self.state.args.git_root,
            "GIT_HTTP_EXPORT_ALL": "1",
            # Repositories may belong to another user than the stand-in's.
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "safe.directory",
            "GIT_CONFIG_VALUE_0": "*",
            "GATEWAY_INTERFACE": "CGI/1.1",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "SERVER_SOFTWARE": self.server_version,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": str(self.server.server_address[1]),
            "REMOTE_ADDR": self.client_address[0],
            "REQUEST_METHOD": self.command,
            "PATH_INFO": path_info,
            "QUERY_STRING": urllib.parse.urlsplit(self.path).query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_USER": GIT_USER,
            "AUTH_TYPE": "Basic",
        }
        for k, v in self.headers.items():  # HTTP_* (Git-Protocol, Content-Encoding, ...)
            lk = k.lower()
            if lk in ("authorization", "proxy-authorization", "cookie", "content-type",
                      "content-length", "transfer-encoding"):
                continue
            env["HTTP_" + k.upper().replace("-", "_")] = v

        errf = tempfile.TemporaryFile()
        proc = subprocess.Popen([self.state.args.git_http_backend], env=env,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errf)

        def feed():
            try:
                proc.stdin.write(body)
            except OSError:
                pass
            finally:
                try:
                    proc.stdin.close()
                except OSError:
                    pass

        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        try:
            status, headers = 200, []
            while True:
                line = proc.stdout.readline()
                if not line or line in (b"\r\n", b"\n"):
                    break
                name, _, value = line.decode("latin-1").rstrip("\r\n").partition(":")
                value = value.strip()
                if name.lower() == "status":
                    status = int(value.split()[0])
                else:
                    headers.append((name, value))
            self.close_connection = True  # the body runs to EOF
            self.send_response(status)
            for name, value in headers:
                if name.lower() not in ("connection", "transfer-encoding"):
                    self.send_header(name, value)
            self.send_header("Connection", "close")
            self.end_headers()
            while True:
                chunk = proc.stdout.read1(65536)
                if not chunk:
                    break
                self.wfile.write(chunk)
            self.wfile.flush()
        finally:
            proc.stdout.close()
            rc = proc.wait()
            feeder.join()
            errf.seek(0)
            err = errf.read(2000).decode("utf-8", "replace").strip()
            errf.close()
            if rc != 0 or err:
                log("git-http-backend %s: exit %d%s" % (path_info, rc, (": " + err) if err else ""))

    def git_authorized(self):
        h = self.headers.get("Authorization", "")
        if not h.startswith("Basic "):
            return False
        try:
            user, sep, password = base64.b64decode(h[6:].strip(), validate=True) \
                .decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return bool(sep) and user == GIT_USER and self.state.token_valid(password)


def default_backend():
    p = "/usr/lib/git-core/git-http-backend"
    if os.path.exists(p):
        return p
    try:
        exec_path = subprocess.run(["git", "--exec-path"], capture_output=True, text=True,
                                   check=True).stdout.strip()
        return os.path.join(exec_path, "git-http-backend")
    except (OSError, subprocess.CalledProcessError):
        return p


def main():
    ap = argparse.ArgumentParser(description="Test stand-in for the Catalyst web app.")
    ap.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: ephemeral)")
    ap.add_argument("--kubeconfig", required=True,
                    help="admin kubeconfig (TokenReview, Namespace and Project reads)")
    ap.add_argument("--git-root", default=None,
                    help="GIT_PROJECT_ROOT: /git/<name>.git serves <git-root>/<name>.git "
                         "(none: every /git/ request 404s after auth)")
    ap.add_argument("--secrets-file", default=None,
                    help='JSON {"<environmentId>": {"KEY": "value"}}, re-read per request; '
                         'top-level "__status__": <int> fails every secrets request')
    ap.add_argument("--pat-mode", action="store_true",
                    help="/api/git-token/pat answers the PAT (else 404)")
    ap.add_argument("--pat", default="", help="the PAT served in PAT mode")
    ap.add_argument("--token-ttl", type=float, default=3600.0,
                    help="seconds a git token stays valid (default 3600)")
    ap.add_argument("--git-http-backend", default=None, help="path of git-http-backend")
    args = ap.parse_args()
    if args.git_root:
        args.git_root = os.path.abspath(args.git_root)
    if args.secrets_file:
        args.secrets_file = os.path.abspath(args.secrets_file)
    args.git_http_backend = args.git_http_backend or default_backend()

    Handler.state = State(args)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True

    def stop(signum, frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    sys.stdout.write("listening %d\n" % server.server_address[1])
    sys.stdout.flush()
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    log("stopped")


if __name__ == "__main__":
    main()
