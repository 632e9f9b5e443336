#!/usr/bin/env python3
"""Generate data/services.tsv from the IANA service-names/port-numbers CSV.

Usage (from anywhere):
    scripts/gen-services.py [CSV] [-o OUT]

CSV defaults to ../shared/data/iana-service-names-port-numbers.csv and OUT to
data/services.tsv, both relative to the repository root. Python 3 stdlib only.

Output: '#' comment lines (source, sha256, snapshot date, counts), then one row per
named (port or port range, protocol) record:

    port<TAB>proto<TAB>name<TAB>description

- port is `80` or `6000-6063`; proto is tcp, udp, sctp or dccp.
- Rows without a service name (Unassigned, Reserved, ...) and rows without a port
  (DNS-SD names) are skipped.
- A named row with a port but an empty protocol (boe-* 6400-6410, active-net
  3322-3325, ...) is emitted twice: once for tcp, once for udp.
- Descriptions have every run of whitespace (tabs, embedded newlines) collapsed to one
  space and are trimmed.
- Rows are sorted by (first port, proto in the order tcp, udp, sctp, dccp, file order),
  so the first row for a (port, proto) is the primary name (80/tcp: http, www, www-http).

The build (build.rs) validates every row again; the checks here catch surprises in a
new IANA snapshot early, with a CSV line number.
"""

import argparse
import collections
import csv
import hashlib
import os
import re
import sys
import unicodedata

EXPECTED_HEADER = [
    "Service Name",
    "Port Number",
    "Transport Protocol",
    "Description",
    "Assignee",
    "Contact",
    "Registration Date",
    "Modification Date",
    "Reference",
    "Service Code",
    "Unauthorized Use Reported",
    "Assignment Notes",
]
PROTOS = ("tcp", "udp", "sctp", "dccp")  # same order as netdiag's Proto enum
PORT_RE = re.compile(r"(0|[1-9][0-9]{0,4})(?:-([1-9][0-9]{0,4}))?")
DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}(?:-[0-9]{2})?")
MAX_NAME_LEN = 63  # RFC 6335 allows 15; legacy names are no longer, this is a sanity bound

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_CSV = os.path.join(REPO_ROOT, "..", "shared", "data", "iana-service-names-port-numbers.csv")
DEFAULT_OUT = os.path.join(REPO_ROOT, "data", "services.tsv")


def die(msg):
    sys.exit("gen-services: " + msg)


def collapse(text):
    # str.split() with no argument splits on runs of any Unicode whitespace.
    return " ".join(text.split())


def parse_port(value, where):
    m = PORT_RE.fullmatch(value)
    if not m:
        die(f"{where}: bad port {value!r}")
    lo = int(m.group(1))
    hi = int(m.group(2)) if m.group(2) else lo
    if hi > 65535 or lo > hi or (m.group(2) and lo == hi):
        die(f"{where}: bad port range {value!r}")
    return lo, hi


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("csv", nargs="?", default=DEFAULT_CSV, help="IANA CSV (default: %(default)s)")
    ap.add_argument("-o", "--output", default=DEFAULT_OUT, help="output TSV (default: %(default)s)")
    args = ap.parse_args()

    with open(args.csv, "rb") as f:
        raw = f.read()
    sha256 = hashlib.sha256(raw).hexdigest()

    out_rows = []  # (lo, proto_rank, order, port_text, proto, name, desc)
    newest = ""
    with open(args.csv, newline="", encoding="utf-8") as f:
        reader = csv.reader(f, strict=True)
        header = next(reader, None)
        if header != EXPECTED_HEADER:
            die(f"unexpected CSV header: {header!r}")
        for order, rec in enumerate(reader):
            where = f"{os.path.basename(args.csv)}: record ending at line {reader.line_num}"
            if len(rec) != len(EXPECTED_HEADER):
                die(f"{where}: {len(rec)} fields, expected {len(EXPECTED_HEADER)}")
            name, port, proto, desc = (rec[0].strip(), rec[1].strip(), rec[2].strip(), rec[3])
            for date in (rec[6].strip(), rec[7].strip()):
                if date:
                    if not DATE_RE.fullmatch(date):
                        die(f"{where}: bad date {date!r}")
                    newest = max(newest, date)
            if not name or not port:
                continue  # Unassigned/Reserved rows; port-less DNS-SD names
            if (
                len(name) > MAX_NAME_LEN
                or not name.isascii()
                or any(not (0x21 <= ord(c) <= 0x7E) for c in name)
            ):
                die(f"{where}: service name {name!r} is not printable ASCII without spaces")
            lo, hi = parse_port(port, where)
            port_text = str(lo) if lo == hi else f"{lo}-{hi}"
            if proto == "":
                protos = ("tcp", "udp")
            elif proto.lower() in PROTOS:
                protos = (proto.lower(),)
            else:
                die(f"{where}: unknown transport protocol {proto!r}")
            desc = collapse(desc)
            if any(unicodedata.category(c) == "Cc" for c in desc):
                die(f"{where}: control character in description {desc!r}")
            for p in protos:
                out_rows.append((lo, PROTOS.index(p), order, port_text, p, name, desc))

    if not out_rows:
        die("no named rows found")
    seen = set()
    for lo, _, _, port_text, p, name, _ in out_rows:
        key = (port_text, p, name.lower())
        if key in seen:
            die(f"duplicate row {port_text}/{p} {name}")
        seen.add(key)

    out_rows.sort(key=lambda r: (r[0], r[1], r[2]))
    counts = collections.Counter(r[4] for r in out_rows)
    count_text = ", ".join(f"{p} {counts[p]}" for p in PROTOS)

    lines = [
        "# netdiag services table. GENERATED by scripts/gen-services.py; do not edit by hand.",
        "# source: " + os.path.basename(args.csv)
        + " (IANA Service Name and Transport Protocol Port Number Registry, CC0)",
        "# source sha256: " + sha256,
        "# registry snapshot date: " + newest
        + " (newest Registration/Modification Date in the source)",
        f"# rows: {len(out_rows)} ({count_text}); empty-protocol rows are listed once for tcp and once for udp",
        "# sorted by (first port, proto tcp<udp<sctp<dccp, source order); the first name of a port/proto is its primary name",
        "# port\tproto\tname\tdescription",
    ]
    for r in out_rows:
        lines.append("\t".join((r[3], r[4], r[5], r[6])))
    data = ("\n".join(lines) + "\n").encode("utf-8")

    tmp = args.output + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, args.output)
    print(f"wrote {args.output}: {len(out_rows)} rows ({count_text})", file=sys.stderr)


if __name__ == "__main__":
    main()
