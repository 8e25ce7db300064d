#!/usr/bin/env python3
"""Writes a simulator TOML (certcast simulate --config) that draws every fault rate, look-alike
rate, client share and noise level of a fleet from wide ranges, from one seed.

Why: a model tuned on the simulator's presets can memorise their parameter set; a fleet drawn
from wide ranges around it (each rate x [1/4, 4], log-uniform; client weights uniform) is a fleet
no modelling choice was tuned on (docs/evaluation.md, "Held-out fleets"). The same seed gives the
same file. Usage: bench/perturb_fleet.py SEED > fleet.toml
"""
import math
import random
import sys

# name, default rate per scope-year (src/collect/sim/simulator.h CERTCAST_SIM_VARIANTS)
VARIANTS = [
    ("dns_a_moved", 0.030), ("dns_record_deleted", 0.008), ("dns_wrong_aaaa", 0.008),
    ("domain_lapsed", 0.010), ("http01_firewall", 0.030), ("http01_port_closed", 0.020),
    ("http01_geo_block", 0.012), ("http01_redirect", 0.015), ("http01_webroot_moved", 0.015),
    ("http01_ipv6_broken", 0.020), ("dns01_token_expired", 0.150), ("dns01_token_revoked", 0.050),
    ("dns01_ns_moved", 0.030), ("dns01_cname_removed", 0.020), ("dns01_slow_propagation", 0.050),
    ("local_scheduler_lost", 0.020), ("local_disk_full", 0.020), ("local_runtime_broken", 0.015),
    ("local_hook_failing", 0.010), ("local_permissions", 0.010), ("stale_hook_missing", 0.020),
    ("stale_hook_failing", 0.015), ("ratelimit_redeploy_loop", 0.010), ("caa_restrictive", 0.010),
    ("caa_critical_unknown", 0.003), ("dnssec_broken", 0.050), ("ca_outage", 3.0),
    ("ca_partial", 1.5), ("ca_revocation", 0.3), ("account_eab_expired", 0.2),
    ("account_key_lost", 0.010), ("account_deactivated", 0.003), ("clock_rtc_reset", 0.010),
    ("unknown_failure", 0.010),
]
LOOKALIKES = [
    ("planned_migration", 0.03), ("waf_blocks_probe", 0.02), ("token_rotated_late", 0.30),
    ("ns_move_migrated", 0.02), ("caa_still_permits", 0.03), ("ca_latency_spike", 8.0),
    ("harmless_upgrade", 0.30), ("disk_warning_cleared", 0.10), ("clock_drift_small", 0.08),
    ("deploy_lag", 0.03),
]
CLIENTS = ["w_certbot", "w_certbot_old", "w_lego", "w_lego_v5", "w_acmesh", "w_acmesh_old",
           "w_cert_manager", "w_caddy", "w_other"]


def main():
    if len(sys.argv) != 2 or not sys.argv[1].isdigit():
        sys.exit("usage: perturb_fleet.py SEED")
    rng = random.Random(int(sys.argv[1]))
    factor = lambda: math.exp(rng.uniform(math.log(0.25), math.log(4.0)))
    out = [f"# drawn by bench/perturb_fleet.py {sys.argv[1]}"]
    # Client mix: every weight uniform, a third of them switched off.
    for name in CLIENTS:
        out.append(f"{name} = {0.0 if rng.random() < 0.33 else rng.uniform(0.05, 1.0):.4f}")
    out.append(f"dns01_share = {rng.uniform(0.05, 0.6):.4f}")
    out.append(f"ari_share = {rng.uniform(0.2, 1.0):.4f}")
    out.append(f"alt_challenge_share = {rng.uniform(0.0, 0.7):.4f}")
    out.append(f"alt_ca_share = {rng.uniform(0.0, 0.6):.4f}")
    out.append(f"cdn_share = {rng.uniform(0.0, 0.3):.4f}")
    out.append(f"caa_share = {rng.uniform(0.05, 0.7):.4f}")
    out.append(f"dnssec_share = {rng.uniform(0.0, 0.4):.4f}")
    out.append(f"lineages_per_host = {rng.uniform(1.5, 8):.3f}")
    out.append(f"transient_failure = {0.004 * factor():.5f}")
    out.append(f"probe_flake = {0.004 * factor():.5f}")
    out.append(f"notices_failures_share = {rng.uniform(0.05, 0.8):.4f}")
    out.append(f"notice_failure_hours = {60 * factor():.1f}")
    out.append(f"abandoned_share = {rng.uniform(0.0, 0.4):.4f}")
    out.append("[lookalikes]")
    for name, rate in LOOKALIKES:
        out.append(f"{name} = {rate * factor():.5f}")
    for name, rate in VARIANTS:
        out.append(f"[variants.{name}]")
        out.append(f"rate = {rate * factor():.5f}")
    print("\n".join(out))


if __name__ == "__main__":
    main()
