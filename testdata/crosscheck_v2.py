#!/usr/bin/env python3
"""Independent cross-check of testdata/format2_vector.json (crypto.md §9).

Recomputes every published output of the format-2 vector from its inputs with
Python's `cryptography` package, written from the byte layout in crypto.md §3
and sharing no code with the Go implementation, and checks that the two
negative cases fail to open. It also re-derives the reference format-1 vector
(testdata/format1_vector.json) as a check of the HKDF/GCM usage itself.

Run from the repository root:  python3 testdata/crosscheck_v2.py
Exit status 0 means every byte matches.
"""

import base64
import json
import os
import struct
import sys

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

HERE = os.path.dirname(os.path.abspath(__file__))
DATA_LABEL = b"coffer/secret/v2/data"
DEK_LABEL = b"coffer/secret/v2/dek"
KEK_INFO = b"coffer/secret/v2/kek"

failures = []


def check(what, got, want):
    if got != want:
        failures.append(what)
        print(f"MISMATCH {what}:\n  python:    {got}\n  published: {want}")
    else:
        print(f"ok  {what}")


def aad(label, ws, name):
    ws_b, name_b = ws.encode("utf-8"), name.encode("utf-8")
    return (label + b"\x00" + struct.pack(">H", len(ws_b)) + ws_b
            + struct.pack(">H", len(name_b)) + name_b)


def hkdf(ikm, salt, info):
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(ikm)


def open_v2(kek, data, wrapped, ws, name):
    """Reads a format-2 record exactly as crypto.md §3 describes."""
    if data[0] != 2 or len(data) < 29 or wrapped[0] != 2 or len(wrapped) != 77:
        raise ValueError("bad header")
    salt, nonce, sealed = wrapped[1:17], wrapped[17:29], wrapped[29:]
    dek = AESGCM(hkdf(kek, salt, KEK_INFO)).decrypt(nonce, sealed, aad(DEK_LABEL, ws, name))
    if len(dek) != 32:
        raise ValueError("bad DEK length")
    return AESGCM(dek).decrypt(data[1:13], data[13:], aad(DATA_LABEL, ws, name))


def format2():
    with open(os.path.join(HERE, "format2_vector.json"), encoding="utf-8") as f:
        v = json.load(f)
    i, o = v["inputs"], v["outputs"]
    kek = bytes.fromhex(i["kek_hex"])
    dek = bytes.fromhex(i["dek_hex"])
    dn = bytes.fromhex(i["data_nonce_hex"])
    salt = bytes.fromhex(i["wrap_salt_hex"])
    wn = bytes.fromhex(i["wrap_nonce_hex"])
    ws, name, value = i["workspace"], i["name"], i["value"].encode("utf-8")

    check("v2 inputs: kek base64", base64.b64encode(kek).decode(), i["kek_base64"])
    check("v2 inputs: fixed bytes", (kek, dek, dn, salt, wn),
          (bytes(range(32)), b"\x11" * 32, b"\x22" * 12, b"\x33" * 16, b"\x44" * 12))

    data_aad, dek_aad = aad(DATA_LABEL, ws, name), aad(DEK_LABEL, ws, name)
    check("v2 data AAD", data_aad.hex(), o["data_aad_hex"])
    check("v2 DEK AAD", dek_aad.hex(), o["dek_aad_hex"])
    check("v2 HKDF info", KEK_INFO.decode(), o["hkdf_info"])
    wk = hkdf(kek, salt, KEK_INFO)
    check("v2 HKDF output", wk.hex(), o["hkdf_output_hex"])

    data = b"\x02" + dn + AESGCM(dek).encrypt(dn, value, data_aad)
    wrapped = b"\x02" + salt + wn + AESGCM(wk).encrypt(wn, dek, dek_aad)
    check("v2 data length", len(data), 29 + len(value))
    check("v2 wrapped DEK length", len(wrapped), 77)
    check("v2 ciphertext hex", data.hex(), o["ciphertext_hex"])
    check("v2 ciphertext base64", base64.b64encode(data).decode(), o["ciphertext_base64"])
    check("v2 wrapped DEK hex", wrapped.hex(), o["wrapped_dek_hex"])
    check("v2 wrapped DEK base64", base64.b64encode(wrapped).decode(), o["wrapped_dek_base64"])

    pub_data = bytes.fromhex(o["ciphertext_hex"])
    pub_wrapped = bytes.fromhex(o["wrapped_dek_hex"])
    check("v2 published blobs open", open_v2(kek, pub_data, pub_wrapped, ws, name), value)
    for neg in v["negative"]:
        try:
            open_v2(kek, pub_data, pub_wrapped, neg["workspace"], neg["name"])
            failed = False
        except InvalidTag:
            failed = True
        check(f"v2 negative {neg['workspace']}/{neg['name']} fails", failed, True)


def format1():
    with open(os.path.join(HERE, "format1_vector.json"), encoding="utf-8") as f:
        v = json.load(f)
    i, o = v["inputs"], v["outputs"]
    kek = base64.b64decode(i["kek_base64"], validate=True)
    dek = bytes.fromhex(i["dek_hex"])
    dn = bytes.fromhex(i["data_nonce_hex"])
    salt = bytes.fromhex(i["wrap_salt_hex"])
    wn = bytes.fromhex(i["wrap_nonce_hex"])
    dek_text = base64.b64encode(dek)
    wk = hkdf(kek, salt, b"")
    check("v1 HKDF output", wk.hex(), o["hkdf_output_hex"])
    check("v1 DEK text", dek_text.decode(), o["dek_text"])
    data = dn + AESGCM(dek).encrypt(dn, i["value"].encode("utf-8"), None)
    check("v1 _data", base64.b64encode(data).decode(), o["_data"])
    wrap = salt + wn + AESGCM(wk).encrypt(wn, dek_text, None)
    check("v1 _encrypted_dek", base64.b64encode(wrap).decode(), o["_encrypted_dek"])


format2()
format1()
if failures:
    print(f"FAILED: {len(failures)} mismatches")
    sys.exit(1)
print("all values match")
