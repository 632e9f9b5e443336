#!/usr/bin/env python3
"""bench/echo_load.py - load for an echo server: CLIENTS concurrent clients, each doing ROUNDS round trips of
SIZE bytes and checking every echo. Exits 0 when every byte came back, 1 otherwise.

  echo_load.py HOST PORT tcp     CLIENTS ROUNDS SIZE   one connection per client, ROUNDS round trips on it
  echo_load.py HOST PORT connect CLIENTS ROUNDS SIZE   a fresh connection for every round trip
  echo_load.py HOST PORT udp     CLIENTS ROUNDS SIZE   one datagram and its echo per round (1 s deadline each)

Network rule: the benchmark scripts point it only at 127.0.0.1 inside a namespace they create.
"""
import socket
import sys
import threading


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed before the whole echo came back")
        buf += chunk
    return buf


def tcp_client(host, port, rounds, size, i, fresh):
    msg = (b"%06d" % i) * (size // 6 + 1)
    msg = msg[:size]
    s = None
    for _ in range(rounds):
        if s is None:
            s = socket.create_connection((host, port), timeout=10)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(msg)
        if recv_exact(s, size) != msg:
            raise ValueError("echo mismatch")
        if fresh:
            s.close()
            s = None
    if s is not None:
        s.close()


def udp_client(host, port, rounds, size, i):
    msg = ((b"%06d" % i) * (size // 6 + 1))[:size]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1.0)
    for _ in range(rounds):
        for _try in range(3):
            s.sendto(msg, (host, port))
            try:
                data, _ = s.recvfrom(65536)
            except socket.timeout:
                continue
            if data != msg:
                raise ValueError("echo mismatch")
            break
        else:
            raise TimeoutError("no echo after 3 tries")
    s.close()


def main():
    host, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    clients, rounds, size = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
    errors = []

    def run(i):
        try:
            if mode == "udp":
                udp_client(host, port, rounds, size, i)
            else:
                tcp_client(host, port, rounds, size, i, mode == "connect")
        except Exception as e:  # noqa: BLE001 - any failure fails the run
            errors.append(f"client {i}: {e!r}")

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    if errors:
        print("\n".join(errors[:5]), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
