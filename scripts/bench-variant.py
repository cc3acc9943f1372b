#!/usr/bin/env python3
"""A config of the demo doing less than the product, for `scripts/bench` to measure what each
promise costs a login.

Usage: python3 scripts/bench-variant.py VARIANT < config.toml > variant.toml

  no-email      every hub's `notify = "never"`: no connection email
  anchor-work   and no trail: `[traces]` and the `[dashboard]` that reads it removed. What the
                anchor (node-oidc-provider, a plain OP) does at a login: neither an email nor a
                journal entry, which FranceConnect's own application adds around that engine.

Measurements only: the demo and every deployment keep their email and trail.
"""
import re
import sys
import tomllib

VARIANTS = {"no-email": set(), "anchor-work": {"traces", "dashboard"}}


def variant(text, name):
    dropped = VARIANTS[name]
    out, skipping, in_hub = [], False, False
    for line in text.splitlines():
        header = re.fullmatch(r"\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?", line)
        if header:
            table = header.group(1)
            skipping = table in dropped
            in_hub = re.fullmatch(r"hub\.[A-Za-z0-9_-]+", table) is not None
            if not skipping:
                out.append(line)
                # A hub's table: its own notify setting, whatever it said (it defaults to
                # every connection when absent).
                if in_hub:
                    out.append('notify = "never"')
            continue
        if skipping or (in_hub and re.match(r"\s*notify\s*=", line)):
            continue
        out.append(line)
    result = "\n".join(out) + "\n"
    parsed = tomllib.loads(result)  # a transform that broke the file fails here, not at start
    assert not dropped & parsed.keys()
    assert all(hub.get("notify") == "never" for hub in parsed.get("hub", {}).values())
    return result


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in VARIANTS:
        sys.exit(__doc__)
    sys.stdout.write(variant(sys.stdin.read(), sys.argv[1]))
