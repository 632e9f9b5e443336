#!/usr/bin/env python3
"""Compatibility check: Debian's prometheus-blackbox-exporter and `netdiag exporter` probe the same targets with
the same module file, and the metric names, types and label names of every answer are compared.

Usage: sudo scripts/exporter-compat.py [path/to/netdiag]   (root: it makes its own network namespace)

Network rule: everything runs inside a namespace this script creates (loopback only). The namespace's
resolv.conf points at a DNS responder this script runs there, so `web.test` resolves to 127.0.0.1 and every
other name is NXDOMAIN without a query leaving the machine. Every wait is bounded; the script kills only the
processes it started and deletes only its namespace.

Exit status: 0 when every difference is one listed in EXPECTED (netdiag's additions and the metrics blackbox
0.23 has that netdiag does not emit, each with its reason), 1 otherwise.
"""

import os
import re
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NETDIAG = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target/debug/netdiag")
BLACKBOX = "/usr/bin/prometheus-blackbox-exporter"

# Differences that are expected, with why; anything else fails the check.
EXPECTED = {
    "probe_failure_info": "netdiag's addition: why the probe failed (layer, code)",
}

CONFIG = """\
modules:
  http_2xx:
    prober: http
    timeout: 3s
  http_post_2xx:
    prober: http
    timeout: 3s
    http:
      method: POST
      body: '{}'
      headers:
        Content-Type: application/json
  http_body_ok:
    prober: http
    timeout: 3s
    http:
      preferred_ip_protocol: ip4
      fail_if_body_not_matches_regexp: ["Directory listing"]
      fail_if_header_not_matches:
        - header: Content-Type
          regexp: 'text/html'
  http_body_fail:
    prober: http
    timeout: 3s
    http:
      fail_if_body_matches_regexp: ["Directory listing"]
  http_404:
    prober: http
    timeout: 3s
    http:
      valid_status_codes: [404]
  http_tls_insecure:
    prober: http
    timeout: 3s
    http:
      tls_config:
        insecure_skip_verify: true
  tls_connect:
    prober: tcp
    timeout: 3s
    tcp:
      tls: true
      tls_config:
        insecure_skip_verify: true
  tcp_connect:
    prober: tcp
    timeout: 3s
  ssh_banner:
    prober: tcp
    timeout: 3s
    tcp:
      query_response:
      - expect: "^SSH-2.0-"
      - send: "SSH-2.0-blackbox-ssh-check"
  icmp:
    prober: icmp
    timeout: 3s
    icmp:
      preferred_ip_protocol: ip4
  dns_a:
    prober: dns
    timeout: 3s
    dns:
      preferred_ip_protocol: ip4
      query_name: web.test
      query_type: A
      validate_answer_rrs:
        fail_if_not_matches_regexp: ["web.test.\t60\tIN\tA\t127.0.0.1"]
  dns_nxdomain:
    prober: dns
    timeout: 3s
    dns:
      preferred_ip_protocol: ip4
      query_name: nothing.test
      query_type: A
"""


def dns_responder(sock):
    """NXDOMAIN for every name but web.test (A 127.0.0.1, TTL 60; no AAAA)."""
    for _ in range(100000):
        try:
            q, peer = sock.recvfrom(1500)
        except OSError:
            return
        if len(q) < 12:
            continue
        i, labels = 12, []
        while i < len(q) and q[i] != 0:
            n = q[i]
            labels.append(q[i + 1:i + 1 + n].decode("ascii", "replace").lower())
            i += 1 + n
        qtype = int.from_bytes(q[i + 1:i + 3], "big")
        name = ".".join(labels)
        known = name == "web.test"
        answer = known and qtype == 1
        r = bytearray(q[0:2]) + bytes([0x81, 0x80 | (0 if known else 3)])
        r += b"\x00\x01" + (b"\x00\x01" if answer else b"\x00\x00") + b"\x00\x00\x00\x00"
        r += q[12:i + 5]
        if answer:
            r += b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04" + bytes([127, 0, 0, 1])
        sock.sendto(bytes(r), peer)


def banner_server(sock):
    """Says an SSH-like banner and reads a line, like sshd before key exchange."""
    sock.settimeout(120)
    for _ in range(10000):
        try:
            c, _ = sock.accept()
        except OSError:
            return
        try:
            c.settimeout(2)
            c.sendall(b"SSH-2.0-compat-test\r\n")
            c.recv(100)
        except OSError:
            pass
        c.close()


def tls_server(sock, ctx):
    """TLS on a raw socket: handshake, then an HTTP answer for whoever asks."""
    sock.settimeout(120)
    for _ in range(10000):
        try:
            c, _ = sock.accept()
        except OSError:
            return
        try:
            c.settimeout(2)
            t = ctx.wrap_socket(c, server_side=True)
            try:
                t.recv(4096)
                t.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            except OSError:
                pass
            t.close()
        except (OSError, ssl.SSLError):
            c.close()


def listen(port=0):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(64)
    return s


def wait_port(port, secs=10):
    end = time.time() + secs
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def parse(text):
    """{name: (type, frozenset(label names))} from the classic text format."""
    types, labels = {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split(" ", 3)
            types[name] = typ
        elif line and not line.startswith("#"):
            m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s", line)
            if m:
                names = frozenset(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="', m.group(3) or ""))
                labels.setdefault(m.group(1), set()).add(names)
    return {n: (types.get(n, "untyped"), frozenset().union(*labels.get(n, [frozenset()]))) for n in set(types) | set(labels)}


def scrape(port, module, target):
    url = "http://127.0.0.1:%d/probe?module=%s&target=%s" % (port, module, urllib.request.quote(target, safe=""))
    req = urllib.request.Request(url, headers={"Accept": "text/plain;version=0.0.4", "X-Prometheus-Scrape-Timeout-Seconds": "4"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.read().decode()


def inside():
    tmp = tempfile.mkdtemp(prefix="ndcompat")
    procs = []
    try:
        dns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        dns.bind(("127.0.0.1", 53))
        threading.Thread(target=dns_responder, args=(dns,), daemon=True).start()
        ssh = listen()
        threading.Thread(target=banner_server, args=(ssh,), daemon=True).start()
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30", "-subj", "/CN=web.test",
                        "-keyout", tmp + "/key.pem", "-out", tmp + "/cert.pem"], check=True, capture_output=True)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(tmp + "/cert.pem", tmp + "/key.pem")
        tls = listen()
        threading.Thread(target=tls_server, args=(tls, ctx), daemon=True).start()
        web = listen()
        web_port = web.getsockname()[1]
        web.close()
        closed = listen()
        closed_port = closed.getsockname()[1]
        closed.close()
        open(tmp + "/blackbox.yml", "w").write(CONFIG)
        procs.append(subprocess.Popen([sys.executable, "-m", "http.server", str(web_port), "--bind", "127.0.0.1"],
                                      cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        procs.append(subprocess.Popen([BLACKBOX, "--config.file=" + tmp + "/blackbox.yml", "--web.listen-address=127.0.0.1:9115"],
                                      stdout=subprocess.DEVNULL, stderr=open(tmp + "/blackbox.log", "w")))
        procs.append(subprocess.Popen([NETDIAG, "exporter", "--config", tmp + "/blackbox.yml", "--listen", "127.0.0.1:9116"],
                                      stdout=subprocess.DEVNULL, stderr=open(tmp + "/netdiag.log", "w")))
        for p in (web_port, 9115, 9116):
            if not wait_port(p):
                print("server on port %d did not start" % p)
                return 1
        live = "http://127.0.0.1:%d/" % web_port
        cases = [
            ("http_2xx", live, "live"), ("http_2xx", "http://web.test:%d/" % web_port, "by name"),
            ("http_2xx", "http://127.0.0.1:%d/" % closed_port, "refused"), ("http_2xx", "http://nothing.test/", "NXDOMAIN"),
            ("http_post_2xx", live, "POST (501 from http.server)"), ("http_body_ok", live, "regexes pass"),
            ("http_body_fail", live, "body regex fails"), ("http_404", live + "nope", "404 accepted"),
            ("http_tls_insecure", "https://127.0.0.1:%d/" % tls.getsockname()[1], "https"),
            ("tls_connect", "127.0.0.1:%d" % tls.getsockname()[1], "tcp+tls"),
            ("tcp_connect", "127.0.0.1:%d" % web_port, "open"), ("tcp_connect", "127.0.0.1:%d" % closed_port, "refused"),
            ("tcp_connect", "nothing.test:80", "NXDOMAIN"),
            ("ssh_banner", "127.0.0.1:%d" % ssh.getsockname()[1], "banner matches"),
            ("ssh_banner", "127.0.0.1:%d" % web_port, "banner does not match"),
            ("icmp", "127.0.0.1", "echo"), ("icmp", "nothing.test", "NXDOMAIN"),
            ("dns_a", "127.0.0.1:53", "A record, regexp"), ("dns_nxdomain", "127.0.0.1", "NXDOMAIN rcode"),
            ("dns_a", "127.0.0.1:%d" % closed_port, "nothing listens"),
        ]
        unexpected = 0
        print("%-18s %-24s %-8s %s" % ("MODULE", "CASE", "SUCCESS", "DIFFERENCES (metric: blackbox | netdiag)"))
        for module, target, what in cases:
            a, b = scrape(9115, module, target), scrape(9116, module, target)
            ma, mb = parse(a), parse(b)
            sa = re.search(r"^probe_success (\S+)", a, re.M)
            sb = re.search(r"^probe_success (\S+)", b, re.M)
            succ = "%s|%s" % (sa.group(1) if sa else "?", sb.group(1) if sb else "?")
            diffs = []
            for name in sorted(set(ma) | set(mb)):
                if ma.get(name) == mb.get(name):
                    continue
                show = lambda m: "-" if m is None else "%s{%s}" % (m[0], ",".join(sorted(m[1])))
                note = EXPECTED.get(name)
                if not note:
                    unexpected += 1
                diffs.append("%s: %s | %s%s" % (name, show(ma.get(name)), show(mb.get(name)), "  (expected: %s)" % note if note else "  UNEXPECTED"))
            if sa and sb and float(sa.group(1)) != float(sb.group(1)):
                unexpected += 1
                diffs.append("probe_success differs  UNEXPECTED")
            print("%-18s %-24s %-8s %s" % (module, what, succ, diffs[0] if diffs else "same names, types and labels"))
            for d in diffs[1:]:
                print("%-52s %s" % ("", d))
        print()
        print("unexpected differences: %d" % unexpected)
        return 0 if unexpected == 0 else 1
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()


def main():
    if os.environ.get("NDCOMPAT_INSIDE"):
        sys.exit(inside())
    if os.geteuid() != 0:
        print("exporter-compat: needs root to create a network namespace")
        sys.exit(2)
    for exe in (NETDIAG, BLACKBOX):
        if not os.path.exists(exe):
            print("exporter-compat: %s is missing (build netdiag; apt-get install prometheus-blackbox-exporter)" % exe)
            sys.exit(2)
    ns = "ndcompat%d" % os.getpid()
    etc = "/etc/netns/" + ns
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        os.makedirs(etc, exist_ok=True)
        open(etc + "/resolv.conf", "w").write("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
        subprocess.run(["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"], check=True)
        subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv4.ping_group_range=0 2147483647"], check=False)
        env = dict(os.environ, NDCOMPAT_INSIDE="1")
        r = subprocess.run(["ip", "netns", "exec", ns, sys.executable, os.path.abspath(__file__), NETDIAG], env=env, timeout=600)
        sys.exit(r.returncode)
    finally:
        subprocess.run(["ip", "netns", "delete", ns], check=False)
        subprocess.run(["rm", "-rf", etc], check=False)


if __name__ == "__main__":
    main()
