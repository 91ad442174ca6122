#!/usr/bin/env python3
"""A minimal service manager for testing the fd store hand-off without systemd.

Runs the service with $NOTIFY_SOCKET, keeps what it stores (FDSTORE=1, FDNAME=), stops it, and starts
it again with the stored descriptor at fd 3 and LISTEN_PID/LISTEN_FDS/LISTEN_FDNAMES, as systemd does
on a restart. A client connects while no process is running: it must be queued and then served.
"""
import os
import signal
import socket
import subprocess
import sys
import tempfile


def wait_ready(notify, store):
    while True:
        message, fds, _, _ = socket.recv_fds(notify, 4096, 16)
        fields = dict(line.split("=", 1) for line in message.decode().split("\n") if "=" in line)
        if fields.get("FDSTORE") == "1":
            for old in store.pop(fields["FDNAME"], []):
                os.close(old)  # systemd keeps one entry per name here; this service stores one listener
            store[fields["FDNAME"]] = fds
        else:
            for fd in fds:
                os.close(fd)
        if fields.get("READY") == "1":
            return


def read_reply(connection):
    reply = b""
    while not reply.endswith(b"\n"):
        chunk = connection.recv(64)
        if not chunk:
            break
        reply += chunk
    return reply.decode().strip()


def ping(port):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(b"ping\n")
        return read_reply(connection)


def main(binary):
    directory = tempfile.mkdtemp()
    notify_path = os.path.join(directory, "notify")
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(notify_path)
    notify.settimeout(60)
    env = dict(os.environ, NOTIFY_SOCKET=notify_path)
    store = {}

    first = subprocess.Popen([binary, "--serve", "--listen", "127.0.0.1:0", "--fd-store"], env=env)
    wait_ready(notify, store)
    listener = store["listener"][0]
    port = socket.socket(fileno=os.dup(listener)).getsockname()[1]
    first_reply = ping(port)

    first.send_signal(signal.SIGTERM)
    first.wait(timeout=30)

    # Nobody is accepting now, but the listener is alive in the store: this connection waits in the backlog.
    pending = socket.create_connection(("127.0.0.1", port), timeout=30)
    pending.sendall(b"ping\n")

    script = (f"exec 3<&{listener}; exec {listener}<&-; "
              "export LISTEN_PID=$$ LISTEN_FDS=1 LISTEN_FDNAMES=listener; exec \"$0\" --serve --fd-store")
    second = subprocess.Popen(["sh", "-c", script, binary], env=env, pass_fds=[listener])
    wait_ready(notify, store)
    pending_reply = read_reply(pending)
    second_reply = ping(port)
    second.send_signal(signal.SIGTERM)
    second.wait(timeout=30)

    print(f"first: {first_reply} (pid {first.pid}), exit {first.returncode}")
    print(f"queued during the restart: {pending_reply}")
    print(f"second: {second_reply} (pid {second.pid}), exit {second.returncode}")
    ok = (first_reply == f"pong {first.pid}" and pending_reply == f"pong {second.pid}"
          and second_reply == f"pong {second.pid}" and first.returncode == 0 and second.returncode == 0)
    print("fd store hand-off: " + ("ok" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
