#!/usr/bin/env python3
"""Mints Latchkey refresh tokens or authorization codes ahead of a write benchmark
(bench/writes.sh, bench/pg.sh), straight into the database, the way the store writes
them after a sign-in: one live session + one refresh token per token, or one
authorization code (with a PKCE S256 challenge, which Latchkey requires) per code.
The server then redeems them through the real /token endpoint.

    mint.py sqlite DB  --client ID --user ID --kind refresh|code --n N --out FILE
    mint.py pg     URL --client ID --user ID --kind refresh|code --n N --out FILE
      (pg: runs psql; the SQL goes through stdin in one transaction)

FILE gets one token (or code) per line. The PKCE verifier is VERIFIER below.
Scopes: openid + offline_access, so every redemption and every refresh also signs an
ID token (the server's default RS256), as a real OIDC client's would.
"""
import argparse
import base64
import hashlib
import json
import os
import secrets
import sqlite3
import subprocess
import sys
import time

VERIFIER = "bench-verifier-0123456789-0123456789-0123456789"
REDIRECT = "https://bench.test/cb"
SCOPES = json.dumps(["openid", "offline_access"])


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def challenge():
    return b64url(hashlib.sha256(VERIFIER.encode()).digest())


def rows(kind, n, client, user, now):
    """Yields (table, columns, values) for every row to insert."""
    for _ in range(n):
        tok = b64url(secrets.token_bytes(32))
        h = hashlib.sha256(tok.encode()).digest()
        if kind == "refresh":
            sid = b64url(secrets.token_bytes(16))
            yield tok, [
                ("sessions",
                 ("id", "user_id", "client_id", "scopes", "auth_time", "created_at",
                  "last_used_at", "expires_at"),
                 (sid, user, client, SCOPES, now, now, now, now + 86400)),
                ("refresh_tokens",
                 ("hash", "session_id", "client_id", "created_at", "idle_expires_at"),
                 (h, sid, client, now, now + 86400)),
            ]
        else:
            yield tok, [
                ("auth_codes",
                 ("hash", "client_id", "user_id", "redirect_uri", "redirect_uri_sent",
                  "scopes", "code_challenge", "auth_time", "created_at", "expires_at"),
                 (h, client, user, REDIRECT, True, SCOPES, challenge(), now, now,
                  now + 3600)),
            ]


def pg_literal(v):
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, bytes):
        return "'\\x" + v.hex() + "'::bytea"
    return "'" + str(v).replace("'", "''") + "'"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("backend", choices=["sqlite", "pg"])
    ap.add_argument("target")
    ap.add_argument("--client", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--kind", choices=["refresh", "code"], required=True)
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    now = int(time.time())
    tokens = []
    if a.backend == "sqlite":
        db = sqlite3.connect(a.target)
        db.execute("PRAGMA foreign_keys = ON")
        with db:
            for tok, inserts in rows(a.kind, a.n, a.client, a.user, now):
                tokens.append(tok)
                for table, cols, vals in inserts:
                    vals = tuple(int(v) if isinstance(v, bool) else v for v in vals)
                    db.execute(
                        f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                        vals)
        db.close()
    else:
        sql = ["BEGIN;"]
        for tok, inserts in rows(a.kind, a.n, a.client, a.user, now):
            tokens.append(tok)
            for table, cols, vals in inserts:
                sql.append(f"INSERT INTO {table} ({', '.join(cols)}) VALUES "
                           f"({', '.join(pg_literal(v) for v in vals)});")
        sql.append("COMMIT;")
        subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", a.target],
                       input="\n".join(sql).encode(), check=True,
                       stdout=subprocess.DEVNULL)
    with open(a.out, "w") as f:
        f.write("\n".join(tokens) + "\n")
    os.chmod(a.out, 0o600)
    print(f"mint: {a.n} {a.kind} {'tokens' if a.kind == 'refresh' else 'codes'} -> {a.out}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
