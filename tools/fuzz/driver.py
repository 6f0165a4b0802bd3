"""Helpers for tools/fuzz/run.sh (standard library only).

  driver.py setup URL OUTDIR  signs up a tenant, creates one object of each kind
                              and writes OUTDIR/token and OUTDIR/ids (one ID a line)
  driver.py report STATS:RC... merges the stats files written by fuzz_hooks.py
                              (RC: schemathesis' exit code for that run), prints
                              totals and distinct failures; exit 1 on any
"""

from __future__ import annotations

import json
import re
import secrets
import sys
import urllib.request
from collections import Counter


def gql(url: str, query: str, variables: dict | None = None, token: str | None = None) -> dict:
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    with urllib.request.urlopen(req, timeout=30) as resp:
        payload = json.load(resp)
    if payload.get("errors"):
        raise SystemExit(f"setup query failed: {query.split('(')[0]}: {json.dumps(payload['errors'])[:500]}")
    return payload["data"]


def setup(url: str, outdir: str) -> None:
    suffix = secrets.token_hex(4)
    data = gql(
        url,
        "mutation($i: SignUpInput!) { signUp(input: $i) { accessToken user { id } tenant { id } } }",
        {
            "i": {
                "tenantName": f"Fuzz {suffix}",
                "name": "Fuzz Admin",
                "email": f"fuzz-{suffix}@fuzz.test",
                "password": "correct horse battery",
            }
        },
    )["signUp"]
    token = data["accessToken"]
    ids = [data["user"]["id"], data["tenant"]["id"]]

    def q(query: str, variables: dict | None = None) -> dict:
        return gql(url, query, variables, token)

    pipeline = q(
        'mutation { createPipeline(input: { name: "Fuzz pipeline", stages: ['
        '{ name: "Lead", probability: 10, rottenAfterDays: 5 }, { name: "Offer", probability: 60 } ] })'
        " { id stages { id } } }"
    )["createPipeline"]
    stages = [s["id"] for s in pipeline["stages"]]
    ids += [pipeline["id"], *stages]
    for p in q("{ pipelines { id stages { id } } }")["pipelines"]:
        ids += [p["id"], *(s["id"] for s in p["stages"])]
    source = q('mutation { createSource(name: "Website") { id } }')["createSource"]["id"]
    company = q(
        'mutation { createContact(input: { kind: COMPANY, name: "Fuzz Corp" }) { id } }'
    )["createContact"]["id"]
    person = q(
        "mutation($c: ID!, $s: ID!) { createContact(input: { kind: PERSON, name: \"Pat Fuzz\","
        ' email: "pat@fuzz.test", companyId: $c, sourceId: $s }) { id } }',
        {"c": company, "s": source},
    )["createContact"]["id"]
    user = q(
        "mutation($e: String!) { createUser(input: { email: $e, name: \"Sam Sales\", role: SALES,"
        ' password: "correct horse battery" }) { id } }',
        {"e": f"sam-{suffix}@fuzz.test"},
    )["createUser"]["id"]
    opportunities = []
    for title, stage in (("Fuzz deal A", stages[0]), ("Fuzz deal B", stages[1])):
        opportunities.append(
            q(
                "mutation($st: ID!, $s: ID!, $p: ID!, $u: ID!, $t: String!) { createOpportunity(input: {"
                ' title: $t, stageId: $st, potential: "1234.50", currency: "EUR", dueDate: "2030-01-31",'
                " sourceId: $s, ownerId: $u, contacts: [{ contactId: $p, isPrimary: true }] }) { id } }",
                {"st": stage, "s": source, "p": person, "u": user, "t": title},
            )["createOpportunity"]["id"]
        )
    activity = q(
        "mutation($o: ID!, $p: ID!) { createActivity(input: { kind: TASK, subject: \"Call back\","
        ' opportunityId: $o, contactId: $p, dueAt: "2030-01-01T10:00:00Z" }) { id } }',
        {"o": opportunities[0], "p": person},
    )["createActivity"]["id"]
    document = q(
        "mutation($o: ID!) { createDocument(input: { opportunityId: $o, kind: QUOTE,"
        ' title: "Quote 1", amount: "99.90" }) { id } }',
        {"o": opportunities[0]},
    )["createDocument"]["id"]
    key = q(
        'mutation($st: ID!) { createIntakeKey(input: { name: "site", stageId: $st }) { key { id } } }',
        {"st": stages[0]},
    )["createIntakeKey"]["key"]["id"]
    ids += [source, company, person, user, *opportunities, activity, document, key]
    seen: list[str] = []
    for i in ids:
        if i not in seen:
            seen.append(i)
    with open(f"{outdir}/token", "w") as f:
        f.write(token)
    with open(f"{outdir}/ids", "w") as f:
        f.write("\n".join(seen) + "\n")
    print(f"signed up tenant fuzz-{suffix}; {len(seen)} fixture ids")


KINDS = {
    "status>=500": "HTTP answers >= 500",
    "error-without-code": "GraphQL errors without extensions.code",
    "internal-error": "GraphQL errors coded INTERNAL",
    "invalid-json": "JSON content type with a body that is not JSON",
    "network-error": "requests without an answer",
}


def report(paths: list[str]) -> int:
    requests = 0
    by_status: Counter = Counter()
    counts: Counter = Counter()
    codes: Counter = Counter()
    failures: dict[tuple, dict] = {}
    broken: list[str] = []
    for arg in paths:
        path, sep, rc_text = arg.rpartition(":")
        if not sep or not rc_text.isdigit():
            path, rc_text = arg, "0"
        rc = int(rc_text)
        try:
            with open(path) as f:
                data = json.load(f)
        except (OSError, ValueError) as exc:
            broken.append(f"{path}: no stats ({exc}); schemathesis exit code {rc}")
            continue
        if data["requests"] == 0:
            broken.append(f"{data['run']}: no request was sent; schemathesis exit code {rc}")
        elif rc != 0 and not data["failures"]:
            broken.append(f"{data['run']}: schemathesis exited {rc} without a recorded violation (see its log)")
        requests += data["requests"]
        by_status.update(data["by_status"])
        counts.update(data["counts"])
        codes.update(data.get("codes", {}))
        for fl in data["failures"]:
            # One entry per kind of violation and message, listing the operations.
            fl["message"] = re.sub(r' \(occurred while parsing "[^"]*"\)', "", fl["message"])
            key = (fl["kind"], fl["message"])
            entry = failures.setdefault(
                key, {**fl, "count": 0, "runs": set(), "operations": set(), "status": set()}
            )
            entry["count"] += fl["count"]
            entry["runs"].add(fl["run"])
            entry["operations"].add(fl["operation"])
            entry["status"].add(str(fl["status"]))
            if len(fl["query"]) < len(entry["query"]):
                entry["query"], entry["answer"] = fl["query"], fl["answer"]

    if failures:
        print(f"\n== {len(failures)} distinct failures (kind: message; where; shortest query and its answer)")
        for fl in sorted(failures.values(), key=lambda f: (f["kind"], f["message"])):
            print(f"\n[{fl['kind']}] {fl['message']}")
            ops = sorted(fl["operations"])
            more = f" (and {len(ops) - 10} more)" if len(ops) > 10 else ""
            print(f"  operations: {', '.join(ops[:10])}{more}")
            print(f"  runs: {', '.join(sorted(fl['runs']))}; seen {fl['count']}x; HTTP {'/'.join(sorted(fl['status']))}")
            print(f"  query:  {fl['query']}")
            print(f"  answer: {fl['answer']}")

    print("\n== totals")
    print(f"requests:                 {requests}")
    print(f"by status:                {json.dumps(dict(sorted(by_status.items())))}")
    print(f"by GraphQL error code:    {json.dumps(dict(codes.most_common()))}")
    print(f"answers >= 500:           {counts['status>=500']}")
    print(f"errors without code:      {counts['error-without-code']}")
    print(f"errors coded INTERNAL:    {counts['internal-error']}")
    print(f"non-JSON bodies:          {counts['invalid-json']}")
    print(f"requests without answer:  {counts['network-error']}")
    for line in broken:
        print(f"run problem:              {line}")
    bad = sum(counts[k] for k in KINDS) + len(broken)
    return 1 if bad else 0


def main() -> int:
    if len(sys.argv) >= 4 and sys.argv[1] == "setup":
        setup(sys.argv[2], sys.argv[3])
        return 0
    if len(sys.argv) >= 2 and sys.argv[1] == "report":
        return report(sys.argv[2:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
