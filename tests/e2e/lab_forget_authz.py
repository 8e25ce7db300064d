#!/usr/bin/python3
"""Deactivates every valid authorization pebble has granted in the lab (lab_forget_authz).

Why: pebble 2.4.0 reuses a valid authorization when rand.Intn(100) > PEBBLE_AUTHZREUSE is false,
so PEBBLE_AUTHZREUSE=0 still reuses 1 time in 100 (wfe.go, makeAuthorizations), and a renewal
under an injected fault then succeeds without any validation. A deactivated authorization is
never reused.

Usage: lab_forget_authz.py LAB PEBBLE_CA_FILE PEBBLE_LOG...
The authorizations come from the pebble logs ("authz ID set VALID"); each is deactivated with
the account key of the certbot or lego account that owns it (the others are refused by pebble
and ignored). IDs done are remembered in LAB/authz-deactivated so each is handled once.
Debian's python3-acme (a certbot dependency) does the JWS signing and nonce handling.
"""
import glob
import json
import os
import re
import sys
from urllib.parse import urlsplit

import requests

import josepy as jose
from acme import client, errors, messages
from cryptography.hazmat.primitives import serialization


def accounts(lab):
    """(account URL, JWK) of every certbot and lego account in the lab."""
    for regr in glob.glob(f"{lab}/certbot/config/accounts/*/dir/*/regr.json"):
        with open(regr) as f:
            uri = json.load(f)["uri"]
        with open(os.path.join(os.path.dirname(regr), "private_key.json")) as f:
            yield uri, jose.JWK.json_loads(f.read())
    for account in glob.glob(f"{lab}/lego/accounts/*/*/account.json"):
        with open(account) as f:
            uri = json.load(f)["registration"]["uri"]
        directory = os.path.dirname(account)
        keys = glob.glob(f"{directory}/keys/*.key")
        if not keys:
            continue
        with open(keys[0], "rb") as f:
            key = serialization.load_pem_private_key(f.read(), password=None)
        yield uri, (jose.JWKEC(key=key) if hasattr(key, "curve") else jose.JWKRSA(key=key))


def pebble_origin(log):
    """https://HOST:PORT of the pebble that wrote LAB/logs/pebble-NAME.log (from LAB/pebble-NAME.json)."""
    config = re.sub(r"logs/(pebble-[a-z]+)\.log$", r"\1.json", log)
    with open(config) as f:
        return "https://" + json.load(f)["pebble"]["listenAddress"]


def main():
    lab, ca_file, logs = sys.argv[1], sys.argv[2], sys.argv[3:]
    done_file = f"{lab}/authz-deactivated"
    done = set(open(done_file).read().split()) if os.path.exists(done_file) else set()
    todo = []  # (origin, authz id)
    for log in logs:
        with open(log, errors="replace") as f:
            ids = re.findall(r"authz (\S+) set VALID", f.read())
        todo += [(pebble_origin(log), authz) for authz in ids if authz not in done]
    if not todo:
        return 0
    clients = {}  # origin -> [ClientV2 per account of that CA]
    for uri, key in accounts(lab):
        origin = "https://" + urlsplit(uri).netloc
        net = client.ClientNetwork(
            key, alg=jose.ES256 if isinstance(key, jose.JWKEC) else jose.RS256,
            verify_ssl=ca_file, user_agent="certcast-lab", timeout=10,
            account=messages.RegistrationResource(uri=uri, body=messages.Registration()))
        try:
            directory = messages.Directory.from_json(net.get(f"{origin}/dir").json())
        except requests.exceptions.RequestException:
            continue  # that CA is stopped or hung: nothing can reuse its authorizations now
        clients.setdefault(origin, []).append(client.ClientV2(directory, net))
    deactivated = 0
    for origin, authz in todo:
        for acme_client in clients.get(origin, []):
            try:
                acme_client._post(f"{origin}/authZ/{authz}",
                                  messages.UpdateAuthorization(status="deactivated"))
                deactivated += 1
                break
            except (errors.Error, messages.Error):
                # Another account's authorization (unauthorized), or one a restarted pebble
                # no longer knows (404): either way no one can reuse it through this account.
                continue
        done.add(authz)
    with open(done_file, "w") as f:
        f.write("\n".join(sorted(done)) + "\n")
    print(f"lab_forget_authz: deactivated {deactivated} of {len(todo)} valid authorizations",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
