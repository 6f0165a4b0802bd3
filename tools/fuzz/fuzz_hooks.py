"""Schemathesis hooks for tools/fuzz/run.sh (loaded through SCHEMATHESIS_HOOKS).

- Strategies for the schema's custom scalars (Date, DateTime, Decimal): mostly
  valid values, some hostile ones.
- One custom check, `crm_server_contract`: no HTTP answer >= 500, every
  GraphQL `errors[]` entry has a string `extensions.code`, and no error is
  coded INTERNAL (a server-side failure dressed as a 200).
- Every HTTP call is counted (after_call); every violation is recorded with its
  query and an answer excerpt. At exit the totals and the distinct violations
  are written as JSON to $FUZZ_STATS, which run.sh aggregates.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import threading
from collections import Counter

import schemathesis
from hypothesis import strategies as st
from schemathesis.graphql import nodes

_LOCK = threading.Lock()
_STATS_PATH = os.environ.get("FUZZ_STATS")
_LABEL = os.environ.get("FUZZ_LABEL", "")

_requests = 0
_by_status: Counter = Counter()
_counts: Counter = Counter()  # status>=500, error-without-code, internal-error, network-error, ...
_codes: Counter = Counter()  # extensions.code of every GraphQL error seen
_op_codes: dict[str, Counter] = {}  # per operation: codes seen, "data" for answers without errors
_failures: dict[tuple, dict] = {}

# ---------------------------------------------------------------- scalars

_valid_dates = st.dates().map(lambda d: d.isoformat())
_odd_strings = st.sampled_from(
    ["", " ", "0", "-1", "NaN", "Infinity", "2026-02-30", "2026-13-01", "9999-12-31T23:59:60Z", "null", "\u0000"]
) | st.text(max_size=40)

schemathesis.graphql.scalar("Date", st.one_of(_valid_dates, _valid_dates, _odd_strings).map(nodes.String))

_valid_datetimes = st.datetimes(timezones=st.just(__import__("datetime").timezone.utc)).map(
    lambda d: d.isoformat().replace("+00:00", "Z")
)
schemathesis.graphql.scalar("DateTime", st.one_of(_valid_datetimes, _valid_datetimes, _odd_strings).map(nodes.String))

_decimals = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=-(10**12), max_value=10**12).map(str),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["0", "-0", "1e30", "1E-30", "99999999999999999999999999999999", "0.000000000000000000001"]),
    _odd_strings,
)
schemathesis.graphql.scalar("Decimal", _decimals.map(nodes.String))

# IDs: mostly the fixtures run.sh created in the tenant (any kind of object, so
# one kind's id also lands where another's is expected), sometimes garbage.
_fixture_ids: list[str] = []
if os.environ.get("FUZZ_IDS") and os.path.exists(os.environ["FUZZ_IDS"]):
    with open(os.environ["FUZZ_IDS"]) as _f:
        _fixture_ids = [line.strip() for line in _f if line.strip()]
_random_ids = st.one_of(st.uuids().map(str).map(nodes.String), st.text(max_size=40).map(nodes.String), st.integers().map(nodes.Int))
if _fixture_ids:
    _fixtures = st.sampled_from(_fixture_ids).map(nodes.String)
    schemathesis.graphql.scalar("ID", st.one_of(_fixtures, _fixtures, _fixtures, _random_ids))

# ---------------------------------------------------------------- classification


def _excerpt(text: str, n: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[:n] + "..."


def _normalise(message: str) -> str:
    # Group messages that differ only by ids, numbers or quoted values.
    message = re.sub(r' \(occurred while parsing "[^"]*"\)', "", message)
    # Type names ("Int", "DateTime", "CreateOpportunityInput") stay; values go.
    message = re.sub(r'"[^"]*"', lambda m: m[0] if re.fullmatch(r'"[A-Z][A-Za-z0-9]*"', m[0]) else '"…"', message)
    message = re.sub(r"\d+", "N", message)
    return message[:120]


def _problems(response) -> list[tuple[str, str]]:
    """(kind, grouping message) for each contract violation in this answer."""
    out: list[tuple[str, str]] = []
    if response.status_code >= 500:
        out.append(("status>=500", f"HTTP {response.status_code}"))
    try:
        payload = json.loads(response.content)
    except Exception:
        if response.status_code < 500 and "json" in (response.headers.get("content-type") or [""])[0]:
            out.append(("invalid-json", "body is not JSON"))
        return out
    if not isinstance(payload, dict):
        return out
    errors = payload.get("errors")
    if not isinstance(errors, list):
        return out
    for err in errors:
        if not isinstance(err, dict):
            out.append(("error-without-code", "errors[] entry is not an object"))
            continue
        ext = err.get("extensions")
        code = ext.get("code") if isinstance(ext, dict) else None
        message = str(err.get("message", ""))
        if not isinstance(code, str) or not code:
            out.append(("error-without-code", _normalise(message)))
        elif code in ("INTERNAL", "INTERNAL_SERVER_ERROR"):
            out.append(("internal-error", _normalise(message)))
    return out


def _codes_of(response) -> list[str]:
    try:
        payload = json.loads(response.content)
        return [
            str((e.get("extensions") or {}).get("code") or "<none>") if isinstance(e, dict) else "<none>"
            for e in payload.get("errors") or []
        ]
    except Exception:
        return []


def _record(case, response, problems) -> None:
    query = case.body if isinstance(case.body, str) else json.dumps(case.body)
    try:
        body = response.content.decode("utf-8", "replace")
    except Exception:
        body = repr(response.content)
    for kind, msg in problems:
        key = (kind, case.operation.label, msg)
        entry = _failures.get(key)
        if entry is None:
            _failures[key] = {
                "kind": kind,
                "operation": case.operation.label,
                "message": msg,
                "run": _LABEL,
                "status": response.status_code,
                "query": _excerpt(query, 600),
                "answer": _excerpt(body, 400),
                "count": 1,
            }
        else:
            entry["count"] += 1
            # Keep the shortest reproducer.
            if len(query) < len(entry["query"]):
                entry["query"] = _excerpt(query, 600)
                entry["answer"] = _excerpt(body, 400)


@schemathesis.hook
def after_call(context, case, response) -> None:
    global _requests
    problems = _problems(response)
    codes = _codes_of(response)
    with _LOCK:
        _requests += 1
        _codes.update(codes)
        _op_codes.setdefault(case.operation.label, Counter()).update(codes or ["data"])
        _by_status[str(response.status_code)] += 1
        for kind, _ in problems:
            _counts[kind] += 1
        if problems:
            _record(case, response, problems)


@schemathesis.hook
def after_network_error(context, case, request) -> None:
    global _requests
    with _LOCK:
        _requests += 1
        _by_status["network-error"] += 1
        _counts["network-error"] += 1
        key = ("network-error", case.operation.label, "no answer")
        if key not in _failures:
            query = case.body if isinstance(case.body, str) else json.dumps(case.body)
            _failures[key] = {
                "kind": "network-error",
                "operation": case.operation.label,
                "message": "no answer (connection refused/reset or timeout)",
                "run": _LABEL,
                "status": None,
                "query": _excerpt(query, 600),
                "answer": "",
                "count": 0,
            }
        _failures[key]["count"] += 1


@schemathesis.check
def crm_server_contract(ctx, response, case):
    """No 5xx, every GraphQL error has extensions.code, no INTERNAL error."""
    problems = _problems(response)
    if problems:
        raise AssertionError("; ".join(f"{kind}: {msg}" for kind, msg in problems))


def _dump() -> None:
    if not _STATS_PATH:
        return
    with _LOCK:
        data = {
            "run": _LABEL,
            "requests": _requests,
            "by_status": dict(_by_status),
            "counts": dict(_counts),
            "codes": dict(_codes),
            "by_operation": {op: dict(c) for op, c in sorted(_op_codes.items())},
            "failures": list(_failures.values()),
        }
    with open(_STATS_PATH, "w") as f:
        json.dump(data, f, indent=1)


atexit.register(_dump)
