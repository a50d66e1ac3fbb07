#!/usr/bin/env python3
"""Mints DPoP proofs (RFC 9449 §4.2) for bench/dpop.sh: one line each, all by one P-256
key, each with a fresh jti, for POST to the given token endpoint, iat = now. Built on the
`cryptography` package, not on Latchkey's code. Usage: dpop_proofs.py URL COUNT > file"""
import base64, json, os, sys, time
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

url, count = sys.argv[1], int(sys.argv[2])
key = ec.generate_private_key(ec.SECP256R1())
nums = key.public_key().public_numbers()
jwk = {"kty": "EC", "crv": "P-256", "x": b64(nums.x.to_bytes(32, "big")), "y": b64(nums.y.to_bytes(32, "big"))}
header = b64(json.dumps({"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk}, separators=(",", ":")).encode())
now = int(time.time())
out = sys.stdout
for _ in range(count):
    claims = {"jti": b64(os.urandom(16)), "htm": "POST", "htu": url, "iat": now}
    signing_input = header + "." + b64(json.dumps(claims, separators=(",", ":")).encode())
    r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    out.write(signing_input + "." + b64(r.to_bytes(32, "big") + s.to_bytes(32, "big")) + "\n")
