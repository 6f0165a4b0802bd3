#!/usr/bin/env python3
"""Attack / race measurements against a release crm-server.

Starts the server itself, first on a throwaway SQLite database, then on a
scratch PostgreSQL database that it creates and drops, and measures:

  1. fragment bomb (N=22, N=30; POST and GET; 20 concurrent f30 with RSS
     and /healthz latency),
  2. 300 concurrent wrong-password logins from 250 loopback addresses
     (RSS baseline / peak / +5 s, answers by code, total time),
  3. 40 parallel wrong guesses for one account from one address,
  4. the last-admin race (100 rounds of "A demotes B while B demotes A"),
  5. concurrency scripts (addStage at position 0, updateStage renames,
     addOpportunityContact of one contact, updateOpportunity titles).

Python 3.11 standard library only. See tools/attack/README.md.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import shutil
import socket
import sqlite3
import string
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter

DEFAULT_BIN = os.environ.get("CRM_SERVER_BIN", "/work/attack-target/release/crm-server")
DEFAULT_PG = os.environ.get("ATTACK_PG_URL", "postgres://postgres@127.0.0.1:5432")
PASSWORD = "correct horse battery"
CLIENT_TIMEOUT = 60.0

# Every answer that looks like the server misbehaving: (db, test, request, answer).
ANOMALIES: list[tuple[str, str, str, str]] = []
CURRENT = {"db": "?", "test": "?"}
ANOMALY_LOCK = threading.Lock()
# (db, test, code, message) -> count, for --verbose.
MESSAGES: Counter = Counter()


# --------------------------------------------------------------------- HTTP

class Answer:
    def __init__(self, status, raw: bytes, elapsed: float, request: str):
        self.status = status
        self.raw = raw
        self.elapsed = elapsed
        self.json = None
        self.code = None
        self.request = request
        if status is None:
            self.code = "NET:" + raw.decode(errors="replace")[:60]
        else:
            try:
                self.json = json.loads(raw)
            except ValueError:
                self.code = f"HTTP{status}-nonjson"
            if self.json is not None:
                errs = self.json.get("errors") if isinstance(self.json, dict) else None
                if errs:
                    self.code = (errs[0].get("extensions") or {}).get("code") or "NO_CODE"
                    with ANOMALY_LOCK:
                        MESSAGES[(CURRENT["db"], CURRENT["test"], self.code,
                                  str(errs[0].get("message"))[:120])] += 1
                else:
                    self.code = "OK"
        bad = (
            status is None
            or status >= 500
            or self.code in ("INTERNAL", "NO_CODE")
            or self.code.startswith("HTTP")
        )
        if bad:
            with ANOMALY_LOCK:
                ANOMALIES.append((CURRENT["db"], CURRENT["test"], request[:300],
                                  f"status={status} t={elapsed:.2f}s body={raw[:400]!r}"))

    @property
    def data(self):
        return (self.json or {}).get("data") if isinstance(self.json, dict) else None

    def error_field(self, key):
        errs = (self.json or {}).get("errors") or []
        return (errs[0].get("extensions") or {}).get(key) if errs else None


def connect(port: int, source: str | None = None) -> http.client.HTTPConnection:
    conn = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=CLIENT_TIMEOUT,
        source_address=(source, 0) if source else None)
    conn.connect()
    return conn


def send(conn, method, path, body=None, headers=None, label="") -> Answer:
    t0 = time.perf_counter()
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        raw = resp.read()
        return Answer(resp.status, raw, time.perf_counter() - t0, label)
    except Exception as e:  # noqa: BLE001 - every failure is a figure here
        return Answer(None, repr(e).encode(), time.perf_counter() - t0, label)
    finally:
        conn.close()


def gql_request(query, variables=None, token=None, method="POST"):
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    if method == "POST":
        headers["Content-Type"] = "application/json"
        body = json.dumps({"query": query, "variables": variables or {}})
        return "POST", "/graphql", body, headers
    qs = {"query": query}
    if variables:
        qs["variables"] = json.dumps(variables)
    return "GET", "/graphql?" + urllib.parse.urlencode(qs), None, headers


def gql(port, query, variables=None, token=None, method="POST", source=None) -> Answer:
    m, path, body, headers = gql_request(query, variables, token, method)
    label = f"{m} {query[:200]} vars={json.dumps(variables)[:150] if variables else ''}"
    try:
        conn = connect(port, source)
    except Exception as e:  # noqa: BLE001
        return Answer(None, repr(e).encode(), 0.0, label)
    return send(conn, m, path, body, headers, label)


def must(ans: Answer, what: str):
    if ans.code != "OK":
        raise RuntimeError(f"{what} failed: status={ans.status} body={ans.raw[:500]!r}")
    return ans.data


def burst(specs):
    """specs: list of (query, variables, token, source). Opens every
    connection first, then sends all requests at the same moment.
    Returns (answers, wall seconds from release to last answer)."""
    n = len(specs)
    barrier = threading.Barrier(n + 1)
    answers: list[Answer | None] = [None] * n

    def run(i):
        query, variables, token, source = specs[i]
        m, path, body, headers = gql_request(query, variables, token)
        label = f"{m} {query[:200]} vars={json.dumps(variables)[:150] if variables else ''}"
        conn = None
        try:
            conn = connect(PORT[0], source)
        except Exception as e:  # noqa: BLE001
            err = e
        try:
            barrier.wait(timeout=120)
        except threading.BrokenBarrierError:
            pass
        if conn is None:
            answers[i] = Answer(None, repr(err).encode(), 0.0, label)
            return
        answers[i] = send(conn, m, path, body, headers, label)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    barrier.wait(timeout=120)
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    return answers, time.perf_counter() - t0


PORT = [0]  # the running server's port, for burst()


def codes(answers) -> Counter:
    return Counter(a.code for a in answers)


def fmt_codes(c: Counter) -> str:
    return " ".join(f"{k}:{v}" for k, v in sorted(c.items(), key=lambda kv: (-kv[1], kv[0])))


# ----------------------------------------------------------------- process

def rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1


class RssSampler(threading.Thread):
    def __init__(self, pid, interval=0.02):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak = rss_kib(pid)
        self.samples = 0
        self._halt = threading.Event()

    def run(self):
        while not self._halt.is_set():
            self.peak = max(self.peak, rss_kib(self.pid))
            self.samples += 1
            time.sleep(self.interval)

    def stop(self):
        self._halt.set()
        self.join()
        self.peak = max(self.peak, rss_kib(self.pid))
        return self.peak


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def healthz(port) -> tuple[int | None, float]:
    t0 = time.perf_counter()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=CLIENT_TIMEOUT)
        conn.request("GET", "/healthz")
        r = conn.getresponse()
        r.read()
        conn.close()
        return r.status, time.perf_counter() - t0
    except Exception:  # noqa: BLE001
        return None, time.perf_counter() - t0


class Server:
    def __init__(self, binary: str, database_url: str | None, label: str):
        self.label = label
        self.dir = tempfile.mkdtemp(prefix=f"crm-attack-{label}-")
        self.sqlite_path = None
        if database_url is None:
            self.sqlite_path = os.path.join(self.dir, "crm.db")
            database_url = f"sqlite://{self.sqlite_path}?mode=rwc"
        self.database_url = database_url
        self.port = free_port()
        alphabet = string.ascii_letters + string.digits
        env = {k: v for k, v in os.environ.items()}
        env.update(
            DATABASE_URL=database_url,
            DATA_DIR=self.dir,
            BIND_ADDRESS=f"127.0.0.1:{self.port}",
            JWT_SECRET="".join(secrets.choice(alphabet) for _ in range(48)),
            RUST_LOG="warn",
        )
        self.log_path = os.path.join(self.dir, "server.log")
        self.log = open(self.log_path, "wb")
        # cwd = the temp dir, so no .env of the checkout is loaded.
        self.proc = subprocess.Popen([binary, "serve"], env=env, cwd=self.dir,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        self.pid = self.proc.pid
        deadline = time.time() + 90
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited rc={self.proc.returncode}: {self.log_tail()}")
            st, _ = healthz(self.port)
            if st == 200:
                break
            time.sleep(0.1)
        else:
            raise RuntimeError("server did not answer /healthz within 90 s")
        PORT[0] = self.port

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, n=4000) -> str:
        try:
            with open(self.log_path, "rb") as f:
                return f.read()[-n:].decode(errors="replace")
        except OSError:
            return ""

    def log_counts(self) -> tuple[int, int]:
        try:
            with open(self.log_path, "rb") as f:
                text = f.read().decode(errors="replace")
        except OSError:
            return -1, -1
        return text.count("panic"), sum(1 for line in text.splitlines() if " ERROR " in line or '"ERROR"' in line)

    def stop(self, keep_dir=False):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        if not keep_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def sql(self, query: str) -> list[tuple]:
        if self.sqlite_path:
            con = sqlite3.connect(f"file:{self.sqlite_path}?mode=ro", uri=True, timeout=30)
            try:
                return con.execute(query).fetchall()
            finally:
                con.close()
        out = subprocess.run(["psql", self.database_url, "-qAt", "-F", "\t", "-c", query],
                             check=True, capture_output=True, text=True).stdout
        return [tuple(line.split("\t")) for line in out.splitlines() if line]


# ------------------------------------------------------------------- setup

def sign_up(port, slug, email="admin@attack.test", name="Ann"):
    q = ("mutation($i: SignUpInput!) { signUp(input: $i) { accessToken "
         "user { id } tenant { slug } } }")
    d = must(gql(port, q, {"i": {"tenantName": slug, "tenantSlug": slug, "name": name,
                                 "email": email, "password": PASSWORD}}), "signUp")
    return d["signUp"]["accessToken"], d["signUp"]["user"]["id"]


LOGIN = ("mutation($s: String!, $e: String!, $p: String!) { "
         "login(input: {tenantSlug: $s, email: $e, password: $p}) { accessToken } }")


# ------------------------------------------------------------------- tests

def bomb(n: int) -> str:
    parts = [f"query {{ ...f{n} }}", "fragment f0 on Query { __typename }"]
    parts += [f"fragment f{i} on Query {{ ...f{i - 1} ...f{i - 1} }}" for i in range(1, n + 1)]
    return " ".join(parts)


def test_fragment_bomb(srv: Server, r: dict):
    port = srv.port
    for n in (22, 30):
        for method in ("POST", "GET"):
            a = gql(port, bomb(n), method=method)
            r[f"1. f{n} {method}: time / HTTP / code"] = f"{a.elapsed * 1000:.1f} ms / {a.status} / {a.code}"
    time.sleep(0.5)
    before = rss_kib(srv.pid)
    sampler = RssSampler(srv.pid)
    sampler.start()
    lat: list[float] = []
    during = [0]
    done = threading.Event()

    def probe():
        while not done.is_set() or len(lat) < 5:
            st, dt = healthz(port)
            lat.append(dt if st == 200 else float("inf"))
            if not done.is_set():
                during[0] += 1
            time.sleep(0.005)

    prober = threading.Thread(target=probe, daemon=True)
    specs = [(bomb(30), None, None, None)] * 20
    prober.start()
    answers, wall = burst(specs)
    done.set()
    prober.join()
    peak = sampler.stop()
    after = rss_kib(srv.pid)
    r["1. 20x f30 concurrent: wall / codes"] = f"{wall * 1000:.1f} ms / {fmt_codes(codes(answers))}"
    r["1. RSS before / peak / after (MiB)"] = f"{before / 1024:.1f} / {peak / 1024:.1f} / {after / 1024:.1f}"
    r["1. /healthz max latency (n, in-flight n)"] = f"{max(lat) * 1000:.1f} ms ({len(lat)}, {during[0]})"


def test_login_flood(srv: Server, r: dict, slug: str):
    time.sleep(1.0)
    base = rss_kib(srv.pid)
    sampler = RssSampler(srv.pid, 0.02)
    sampler.start()
    specs = [(LOGIN, {"s": slug, "e": f"nobody{i}@attack.test", "p": f"wrong password {i}"},
              None, f"127.0.1.{i % 250 + 1}") for i in range(300)]
    t0 = time.perf_counter()
    answers, wall = burst(specs)
    total = time.perf_counter() - t0
    peak = sampler.stop()
    time.sleep(5)
    after = rss_kib(srv.pid)
    lat = sorted(a.elapsed for a in answers)
    retry = [a.error_field("retryAfterSeconds") for a in answers if a.code == "RATE_LIMITED"]
    retry = [x for x in retry if x is not None]
    r["2. 300 logins: codes"] = fmt_codes(codes(answers))
    r["2. total time (release->last) / p50 / max"] = (
        f"{wall:.2f} s / {lat[len(lat) // 2] * 1000:.0f} ms / {lat[-1] * 1000:.0f} ms")
    r["2. RSS base / peak / +5 s (MiB)"] = f"{base / 1024:.1f} / {peak / 1024:.1f} / {after / 1024:.1f}"
    if retry:
        r["2. retryAfterSeconds min..max"] = f"{min(retry)}..{max(retry)}"
    _ = total


def test_one_account(srv: Server, r: dict, slug: str, email: str):
    specs = [(LOGIN, {"s": slug, "e": email, "p": f"wrong guess {i}"}, None, "127.0.2.1")
             for i in range(40)]
    answers, wall = burst(specs)
    c = codes(answers)
    r["3. 40 guesses, 1 account, 1 addr: codes"] = f"{fmt_codes(c)} ({wall * 1000:.0f} ms)"
    # The account's owner from another address is not locked out.
    a = gql(srv.port, LOGIN, {"s": slug, "e": email, "p": PASSWORD}, source="127.0.2.2")
    r["3. owner from another address"] = a.code


def test_last_admin(srv: Server, r: dict, rounds: int, run_id: str):
    port = srv.port
    demote = "mutation($id: ID!) { updateUser(id: $id, input: {role: SALES}) { id role } }"
    pair_outcomes = Counter()
    all_answers = []
    api_zero = 0
    api_counts = Counter()
    t0 = time.perf_counter()
    for i in range(rounds):
        slug = f"race-{run_id}-{i}"
        tok_a, id_a = sign_up(port, slug, "a@race.test", "A")
        d = must(gql(port, "mutation($i: CreateUserInput!) { createUser(input: $i) { id } }",
                     {"i": {"email": "b@race.test", "name": "B", "role": "ADMIN", "password": PASSWORD}},
                     tok_a), "createUser")
        id_b = d["createUser"]["id"]
        tok_b = must(gql(port, LOGIN, {"s": slug, "e": "b@race.test", "p": PASSWORD}),
                     "login B")["login"]["accessToken"]
        answers, _ = burst([(demote, {"id": id_b}, tok_a, None), (demote, {"id": id_a}, tok_b, None)])
        all_answers += answers
        pair_outcomes[f"{answers[0].code}/{answers[1].code}"] += 1
        admins = None
        for tok in (tok_a, tok_b):
            a = gql(port, "{ users { role active } }", token=tok)
            if a.code == "OK":
                admins = sum(1 for u in a.data["users"] if u["role"] == "ADMIN" and u["active"])
                break
        api_counts[admins] += 1
        if admins == 0:
            api_zero += 1
    elapsed = time.perf_counter() - t0
    rows = srv.sql(
        "SELECT t.slug, SUM(CASE WHEN u.role = 'ADMIN' AND u.active THEN 1 ELSE 0 END) "
        f"FROM tenants t JOIN users u ON u.tenant_id = t.id WHERE t.slug LIKE 'race-{run_id}-%' "
        "GROUP BY t.slug")
    db_counts = Counter(int(n) for _, n in rows)
    c = codes(all_answers)
    r["4. last-admin: rounds / time"] = f"{rounds} / {elapsed:.1f} s"
    r["4. outcomes (A demotes B / B demotes A)"] = fmt_codes(pair_outcomes)
    r["4. rounds with 0 admins: DB / API"] = f"{db_counts.get(0, 0)} / {api_zero}"
    r["4. admins per tenant (DB)"] = " ".join(f"{k}adm:{v}" for k, v in sorted(db_counts.items()))
    r["4. INTERNAL answers"] = str(c.get("INTERNAL", 0))
    if None in api_counts:
        r["4. rounds where neither token could list users"] = str(api_counts[None])


def stage_list(port, tok, pid):
    d = must(gql(port, "query($id: ID!) { pipeline(id: $id) { stages { id name position } } }",
                 {"id": pid}, tok), "pipeline")
    return d["pipeline"]["stages"]


def positions_ok(stages) -> str:
    pos = [s["position"] for s in stages]
    ok = sorted(pos) == list(range(len(pos))) and pos == sorted(pos)
    return f"{'yes' if ok else 'NO'} (n={len(pos)}{'' if ok else ', got ' + str(pos)})"


def test_concurrency(srv: Server, r: dict, tok: str):
    port = srv.port
    d = must(gql(port, "{ pipelines { id stages { id } } }", token=tok), "pipelines")
    pid = d["pipelines"][0]["id"]
    n0 = len(d["pipelines"][0]["stages"])

    add = ("mutation($p: ID!, $n: String!) { addStage(pipelineId: $p, input: {name: $n, probability: 10}, "
           "position: 0) { id position } }")
    answers, wall = burst([(add, {"p": pid, "n": f"New stage {i}"}, tok, None) for i in range(10)])
    stages = stage_list(port, tok, pid)
    r["5a. 10x addStage pos 0: codes"] = f"{fmt_codes(codes(answers))} ({wall * 1000:.0f} ms)"
    r["5a. positions 0..n-1 after"] = positions_ok(stages) + f" (had {n0})"

    ren = "mutation($id: ID!, $n: String!) { updateStage(id: $id, input: {name: $n}) { id name } }"
    # Request i renames stage i mod n to "Renamed (i mod 10)": both plain
    # concurrent renames and name clashes between stages.
    specs = [(ren, {"id": stages[i % len(stages)]["id"], "n": f"Renamed {i % 10}"}, tok, None)
             for i in range(40)]
    answers, wall = burst(specs)
    stages2 = stage_list(port, tok, pid)
    names = [s["name"] for s in stages2]
    r["5b. 40x updateStage rename: codes"] = f"{fmt_codes(codes(answers))} ({wall * 1000:.0f} ms)"
    r["5b. names unique / positions 0..n-1 after"] = (
        f"{'yes' if len(set(names)) == len(names) else 'NO'} / {positions_ok(stages2)}")

    c = must(gql(port, "mutation { createContact(input: {kind: PERSON, name: \"Carl Contact\"}) { id } }",
                 token=tok), "createContact")["createContact"]["id"]
    o = must(gql(port, "mutation($s: ID!) { createOpportunity(input: {title: \"Race\", stageId: $s, "
                       "potential: \"1\"}) { id version } }", {"s": stages2[0]["id"]}, tok),
             "createOpportunity")["createOpportunity"]
    addc = ("mutation($o: ID!, $c: ID!) { addOpportunityContact(opportunityId: $o, input: {contactId: $c}) "
            "{ id } }")
    answers, wall = burst([(addc, {"o": o["id"], "c": c}, tok, None)] * 10)
    opp = must(gql(port, "query($id: ID!) { opportunity(id: $id) { version contacts { contact { id } } } }",
                   {"id": o["id"]}, tok), "opportunity")["opportunity"]
    r["5c. 10x addOpportunityContact same: codes"] = f"{fmt_codes(codes(answers))} ({wall * 1000:.0f} ms)"
    r["5c. contacts on opportunity after"] = str(len(opp["contacts"]))

    upd = "mutation($id: ID!, $t: String!) { updateOpportunity(id: $id, input: {title: $t}) { id version } }"
    v0 = opp["version"]
    answers, wall = burst([(upd, {"id": o["id"], "t": f"Title {i}"}, tok, None) for i in range(100)])
    opp2 = must(gql(port, "query($id: ID!) { opportunity(id: $id) { version title } }", {"id": o["id"]}, tok),
                "opportunity")["opportunity"]
    c100 = codes(answers)
    lat = max(a.elapsed for a in answers)
    r["5d. 100x updateOpportunity: codes"] = f"{fmt_codes(c100)} ({wall * 1000:.0f} ms, max {lat * 1000:.0f} ms)"
    r["5d. version delta / OK answers"] = f"{opp2['version'] - v0} / {c100.get('OK', 0)}"


def run_db(label: str, binary: str, database_url: str | None, rounds: int, keep: bool) -> dict:
    r: dict = {}
    CURRENT["db"] = label
    srv = Server(binary, database_url, label)
    run_id = secrets.token_hex(3)
    try:
        r["0. server start RSS (MiB)"] = f"{rss_kib(srv.pid) / 1024:.1f}"
        slug = f"main-{run_id}"
        tok, _ = sign_up(srv.port, slug)
        steps = [
            ("1 fragment bomb", lambda: test_fragment_bomb(srv, r)),
            ("2 login flood", lambda: test_login_flood(srv, r, slug)),
            ("3 one account", lambda: test_one_account(srv, r, slug, "admin@attack.test")),
            ("4 last admin", lambda: test_last_admin(srv, r, rounds, run_id)),
            ("5 concurrency", lambda: test_concurrency(srv, r, tok)),
        ]
        for name, fn in steps:
            CURRENT["test"] = name
            print(f"[{label}] {name} ...", file=sys.stderr, flush=True)
            try:
                fn()
            except Exception as e:  # noqa: BLE001
                r[f"!! {name} aborted"] = repr(e)[:200]
            if not srv.alive():
                r["!! server died"] = f"during {name}: rc={srv.proc.returncode}"
                break
        panics, errors = srv.log_counts()
        r["6. log: 'panic' / ERROR lines"] = f"{panics} / {errors}"
        if panics or errors:
            print(f"--- {label} server log tail ---\n{srv.log_tail(3000)}", file=sys.stderr)
    finally:
        srv.stop(keep_dir=keep)
        if keep:
            print(f"[{label}] kept {srv.dir}", file=sys.stderr)
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=DEFAULT_BIN, help="crm-server release binary (default %(default)s)")
    ap.add_argument("--pg-url", default=DEFAULT_PG, help="PostgreSQL server URL, no database (default %(default)s)")
    ap.add_argument("--databases", default="sqlite,postgres", help="comma list: sqlite,postgres")
    ap.add_argument("--rounds", type=int, default=100, help="last-admin race rounds (default 100)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dirs (server logs)")
    ap.add_argument("--verbose", action="store_true", help="also list error messages by test and code")
    ap.add_argument("--json", help="also write the figures as JSON to this file")
    args = ap.parse_args()
    if not os.access(args.bin, os.X_OK):
        sys.exit(f"no executable at {args.bin}; build with: cargo build --release --bin crm-server")

    results: dict[str, dict] = {}
    for db in args.databases.split(","):
        if db == "sqlite":
            results["sqlite"] = run_db("sqlite", args.bin, None, args.rounds, args.keep)
        elif db == "postgres":
            name = f"crm_attack_{os.getpid()}_{secrets.token_hex(3)}"
            admin = args.pg_url.rstrip("/") + "/postgres"
            subprocess.run(["psql", admin, "-qAtc", f'CREATE DATABASE "{name}"'], check=True)
            try:
                results["postgres"] = run_db("postgres", args.bin, args.pg_url.rstrip("/") + "/" + name,
                                             args.rounds, args.keep)
            finally:
                subprocess.run(["psql", admin, "-qAtc", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'],
                               check=False)
        else:
            sys.exit(f"unknown database {db}")

    cols = list(results)
    keys: list[str] = []
    for res in results.values():
        for k in res:
            if k not in keys:
                keys.append(k)
    first_seen = {k: i for i, k in enumerate(keys)}
    keys.sort(key=lambda k: (k.split(" ")[0], first_seen[k]))
    w0 = max(len(k) for k in keys)
    widths = [max([len(c)] + [len(str(results[c].get(k, ""))) for k in keys]) for c in cols]
    print("| " + "metric".ljust(w0) + " | " + " | ".join(c.ljust(w) for c, w in zip(cols, widths)) + " |")
    print("|" + "-" * (w0 + 2) + "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for k in keys:
        print("| " + k.ljust(w0) + " | " + " | ".join(str(results[c].get(k, "")).ljust(w)
                                                   for c, w in zip(cols, widths)) + " |")
    if ANOMALIES:
        print(f"\n{len(ANOMALIES)} anomalous answers (status >= 500, INTERNAL, no code, network error):")
        seen = Counter()
        for db, test, req, ans in ANOMALIES:
            key = (db, test, ans[:80])
            seen[key] += 1
            if seen[key] <= 2:
                print(f"- [{db}] {test}: {req}\n    -> {ans}")
    else:
        print("\nNo anomalous answers (no 5xx, INTERNAL, uncoded error or network error).")
    if args.verbose:
        print("\nError messages (db, test, code, message: count):")
        for (db, test, code, msg), n in sorted(MESSAGES.items()):
            print(f"- [{db}] {test} {code}: {msg!r} x{n}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"results": results, "anomalies": ANOMALIES}, f, indent=2)


if __name__ == "__main__":
    main()
