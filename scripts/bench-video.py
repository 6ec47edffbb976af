#!/usr/bin/env python3
"""Video benchmarks of ringcast with a real H.264/AAC MPEG-TS stream (issue 13's shapes).

  join    N viewers request a live TS mount at once; each measures the time from its request
          to the first byte of a decodable keyframe packet (a PES start on the video PID with
          random_access_indicator). Run once with keyframe joins (the default) and once against
          a relay started with --burst 64k, which joins a burst behind the live edge as before
          (a keyframe further back than the burst is not used).
  hls     N HLS clients poll the mount's playlist and fetch each new segment once, as players
          do, for the window; then N plain viewers of the same mount for the same window. For
          each: the relay's CPU-seconds per GB delivered (from /proc), its RSS before and after
          the audience arrived, and the segment download times.

The stream: a clip encoded once by ffmpeg (testsrc2, libx264 at --rate, GOP 2 s, AAC), pushed
live with `ffmpeg -re -stream_loop -1 -c copy`. Everything runs on 127.0.0.1 and stops by itself
(every loop is bounded in time). Prints a human summary and one JSON line per cell (--out
appends them to a file).

Usage: bench-video.py --ringcast build/relay/ringcast [--join-viewers 1000] [--hls-clients 2000]
                      [--rate 4M] [--seconds 20] [--out docs/bench/video-results.jsonl]
"""
import argparse
import json
import os
import re
import selectors
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

PACKET = 188
PASSWORD = "benchpw"


def rate_bits(text):
    units = {"k": 1e3, "K": 1e3, "m": 1e6, "M": 1e6}
    return int(float(text[:-1]) * units[text[-1]]) if text[-1] in units else int(text)


def percentile(values, q):
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Relay:
    def __init__(self, binary, workdir, name, extra):
        self.log_path = os.path.join(workdir, f"{name}.log")
        self.process = subprocess.Popen(
            [binary, "--listen", "127.0.0.1:0", "--source-password", PASSWORD, "--max-connections", "20000",
             "--log-level", "info", *extra],
            stdout=subprocess.DEVNULL, stderr=open(self.log_path, "wb"))
        self.port = None
        for _ in range(150):
            with open(self.log_path, "rb") as f:
                found = re.search(rb"listening on http://127\.0\.0\.1:(\d+)/", f.read())
            if found:
                self.port = int(found.group(1))
                break
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        if self.port is None:
            raise SystemExit(f"ringcast did not start: {open(self.log_path).read()[-2000:]}")
        self.pusher = None

    def push(self, clip, mount):
        self.pusher = subprocess.Popen(
            ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", clip,
             "-c", "copy", "-f", "mpegts", "-method", "PUT", "-content_type", "video/mp2t",
             f"http://source:{PASSWORD}@127.0.0.1:{self.port}{mount}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stats(self):
        import urllib.request
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/stats", timeout=5) as r:
            return json.load(r)

    def stop(self):
        for p in (self.pusher, self.process):
            if p and p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p in (self.pusher, self.process):
            if p:
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()


def encode_clip(path, bits):
    if os.path.exists(path):
        return
    video = max(bits - 160_000, 200_000)
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
         "testsrc2=size=1280x720:rate=25", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
         "-t", "20", "-c:v", "libx264", "-preset", "ultrafast", "-g", "50", "-keyint_min", "50",
         "-sc_threshold", "0", "-pix_fmt", "yuv420p", "-b:v", str(video), "-minrate", str(video),
         "-maxrate", str(video), "-bufsize", str(video // 2), "-x264-params", "nal-hrd=cbr",
         "-c:a", "aac", "-b:a", "128k", "-f", "mpegts", "-muxrate", str(bits), "-y", path],
        check=True, timeout=300)


def video_pid(clip):
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", "stream=id",
                          "-of", "csv=p=0", clip], capture_output=True, text=True, check=True).stdout
    return int(out.strip().split()[0], 16)


def wait_ready(relay, mount, seconds, full_ring=False):
    """The mount's window holds `seconds` of keyframes (and, with full_ring, the ring has
    lapped, so the relay's RSS no longer grows with the stream)."""
    deadline = time.monotonic() + seconds + 60
    while time.monotonic() < deadline:
        try:
            stats = relay.stats()["mounts"].get(mount, {})
            if stats.get("video", {}).get("timeshift_window_seconds", 0) >= seconds and \
                    (not full_ring or stats.get("ring_fill", 0) >= 0.999):
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"{mount} never held {seconds} s of keyframes")


def keyframe_at(data, start, vpid):
    """The offset of the first keyframe packet at or after `start` (packet-aligned), or None."""
    head = bytes([0x47, 0x40 | (vpid >> 8), vpid & 0xFF])
    at = data.find(head, start)
    while at != -1:
        if at % PACKET == 0 and at + 6 <= len(data):
            afc = (data[at + 3] >> 4) & 3
            if afc & 2 and data[at + 4] > 0 and data[at + 5] & 0x40:
                return at
        at = data.find(head, at + 1)
    return None


def get_request(path):
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: bench-video\r\n\r\n".encode()


def connect(selector, port, data):
    """A non-blocking connection to the relay, registered to send its request once connected."""
    s = socket.socket()
    s.setblocking(False)
    s.connect_ex(("127.0.0.1", port))
    selector.register(s, selectors.EVENT_WRITE, data)
    return s


def join_storm(port, mount, viewers, vpid, timeout_s=8.0):
    """N connections, requests sent as fast as they connect; time to the first keyframe byte."""
    selector = selectors.DefaultSelector()
    request = get_request(mount)
    states = []
    for _ in range(viewers):
        state = {"sent": None, "buffer": bytearray(), "body": None, "done": None}
        state["socket"] = connect(selector, port, state)
        states.append(state)
    deadline = time.monotonic() + timeout_s
    pending = viewers
    while pending and time.monotonic() < deadline:
        for key, events in selector.select(timeout=0.2):
            state = key.data
            s = state["socket"]
            if events & selectors.EVENT_WRITE and state["sent"] is None:
                state["sent"] = time.monotonic()
                s.send(request)
                selector.modify(s, selectors.EVENT_READ, state)
                continue
            try:
                chunk = s.recv(1 << 18)
            except BlockingIOError:
                continue
            except OSError:
                chunk = b""
            now = time.monotonic()
            if not chunk:
                selector.unregister(s)
                s.close()
                pending -= 1
                continue
            if state["body"] is None:
                state["buffer"] += chunk
                end = state["buffer"].find(b"\r\n\r\n")
                if end == -1:
                    continue
                state["body"] = bytearray(state["buffer"][end + 4:])
                state["scan"] = 0
            else:
                state["body"] += chunk
            body = state["body"]
            # A keyframe packet's head may straddle two reads: look again from a packet before.
            found = keyframe_at(body, max(0, state["scan"] - PACKET), vpid)
            state["scan"] = len(body)
            if found is not None:
                state["done"] = now - state["sent"]
                selector.unregister(s)
                s.close()
                pending -= 1
                state["buffer"] = state["body"] = bytearray()
    for state in states:
        if state["done"] is None:
            try:
                selector.unregister(state["socket"])
            except (KeyError, ValueError):
                pass
            state["socket"].close()
    times = [st["done"] * 1000 for st in states if st["done"] is not None]
    return {"viewers": viewers, "reached_keyframe": len(times),
            "first_keyframe_ms_p50": percentile(times, 0.5), "first_keyframe_ms_p99": percentile(times, 0.99),
            "first_keyframe_ms_max": max(times) if times else None}


class HttpFetch:
    """One GET on a fresh connection (as the relay closes each answer), read to its end."""

    def __init__(self, selector, port, path, owner, kind):
        self.request = get_request(path)
        self.owner, self.kind = owner, kind
        self.sent = None
        self.head = bytearray()
        self.body_bytes = 0
        self.keep_body = kind == "playlist"
        self.body = bytearray()
        self.status = None
        self.socket = connect(selector, port, self)


def hls_clients(port, mount, clients, seconds, relay_pid, scratch):
    """Players: every 1 s (half a segment) each asks for the playlist and fetches a segment it
    has not had, the newest; they start spread over 2 s."""
    selector = selectors.DefaultSelector()
    start = time.monotonic()
    next_poll = [start + 2.0 * i / clients for i in range(clients)]
    last_segment = [None] * clients
    busy = [False] * clients
    received = 0
    segment_times, playlists, segments, errors = [], 0, 0, 0
    window_start = start + 4.0  # after everyone's first segment
    window_end = window_start + seconds
    cpu0 = rss0 = cpu1 = rss1 = None
    bytes_at_window = bytes_in_window = 0
    while time.monotonic() < window_end + 3:
        now = time.monotonic()
        if cpu0 is None and now >= window_start:
            cpu0, rss0, bytes_at_window = cpu_seconds(relay_pid), rss_kib(relay_pid), received
        if now < window_end:
            for i in range(clients):
                if not busy[i] and now >= next_poll[i]:
                    busy[i] = True
                    next_poll[i] = now + 1.0
                    HttpFetch(selector, port, f"{mount}/index.m3u8", i, "playlist")
        for key, events in selector.select(timeout=0.01):
            f = key.data
            if events & selectors.EVENT_WRITE and f.sent is None:
                f.sent = time.monotonic()
                try:
                    f.socket.send(f.request)
                except OSError:
                    pass
                selector.modify(f.socket, selectors.EVENT_READ, f)
                continue
            try:
                n = f.socket.recv_into(scratch)
            except BlockingIOError:
                continue
            except OSError:
                n = 0
            if n:
                data = memoryview(scratch)[:n]
                if f.status is None:
                    f.head += data
                    end = f.head.find(b"\r\n\r\n")
                    if end == -1:
                        continue
                    f.status = int(f.head[9:12])
                    rest = f.head[end + 4:]
                    f.body_bytes += len(rest)
                    if f.keep_body:
                        f.body += rest
                else:
                    f.body_bytes += n
                    if f.keep_body:
                        f.body += data
                received += n
                continue
            selector.unregister(f.socket)
            f.socket.close()
            i = f.owner
            if f.kind == "playlist":
                playlists += 1
                names = [line for line in f.body.decode(errors="replace").splitlines()
                         if line and not line.startswith("#")]
                if f.status == 200 and names and names[-1] != last_segment[i]:
                    last_segment[i] = names[-1]
                    HttpFetch(selector, port, f"{mount}/{names[-1]}", i, "segment")
                    continue
                if f.status != 200:
                    errors += 1
            else:
                segments += 1
                if f.status == 200:
                    segment_times.append((time.monotonic() - f.sent) * 1000)
                else:
                    errors += 1
            busy[i] = False
        if time.monotonic() >= window_end and cpu0 is not None and cpu1 is None:
            cpu1, rss1, bytes_in_window = cpu_seconds(relay_pid), rss_kib(relay_pid), received - bytes_at_window
    for key in list(selector.get_map().values()):
        key.fileobj.close()
    gb = bytes_in_window / 1e9
    return {"clients": clients, "seconds": seconds, "gb": round(gb, 3),
            "cpu_s_per_gb": round((cpu1 - cpu0) / gb, 3) if gb else None,
            "relay_cpu_share": round((cpu1 - cpu0) / seconds, 3),
            "rss_kib_start": rss0, "rss_kib_end": rss1, "playlists": playlists, "segments": segments,
            "errors": errors, "segment_ms_p50": percentile(segment_times, 0.5),
            "segment_ms_p99": percentile(segment_times, 0.99)}


def plain_viewers(port, mount, viewers, seconds, relay_pid, scratch):
    selector = selectors.DefaultSelector()
    request = get_request(mount)
    sockets = [connect(selector, port, None) for _ in range(viewers)]
    received = 0
    start = time.monotonic()
    window_start, window_end = start + 4.0, start + 4.0 + seconds
    cpu0 = None
    while time.monotonic() < window_end:
        now = time.monotonic()
        if cpu0 is None and now >= window_start:
            cpu0, rss0, at_start = cpu_seconds(relay_pid), rss_kib(relay_pid), received
        for key, events in selector.select(timeout=0.05):
            s = key.fileobj
            if events & selectors.EVENT_WRITE:
                s.send(request)
                selector.modify(s, selectors.EVENT_READ, None)
                continue
            try:
                n = s.recv_into(scratch)
            except BlockingIOError:
                continue
            except OSError:
                n = 0
            if n == 0:
                selector.unregister(s)
                continue
            received += n
    cpu1, rss1 = cpu_seconds(relay_pid), rss_kib(relay_pid)
    for s in sockets:
        s.close()
    gb = (received - at_start) / 1e9
    return {"viewers": viewers, "seconds": seconds, "gb": round(gb, 3),
            "cpu_s_per_gb": round((cpu1 - cpu0) / gb, 3) if gb else None,
            "relay_cpu_share": round((cpu1 - cpu0) / seconds, 3), "rss_kib_start": rss0, "rss_kib_end": rss1}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ringcast", required=True)
    parser.add_argument("--join-viewers", type=int, default=1000)
    parser.add_argument("--hls-clients", type=int, default=2000)
    parser.add_argument("--rate", default="4M")
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3, help="join storms per join policy")
    parser.add_argument("--skip", action="append", default=[], choices=["join", "hls"])
    parser.add_argument("--out")
    args = parser.parse_args()
    bits = rate_bits(args.rate)
    workdir = tempfile.mkdtemp(prefix="ringcast-bench-video-")
    clip = os.path.join(tempfile.gettempdir(), f"ringcast-bench-{bits}.ts")
    encode_clip(clip, bits)
    vpid = video_pid(clip)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=os.path.dirname(os.path.abspath(__file__))).stdout.strip()
    results = []

    def report(cell, numbers):
        line = {"cell": cell, "commit": commit, "rate": bits, **numbers}
        results.append(line)
        print(json.dumps(line), flush=True)

    if "join" not in args.skip:
        for policy, extra in (("keyframe", []), ("burst-64k", ["--burst", "64k"])):
            relay = Relay(args.ringcast, workdir, f"relay-{policy}", extra)
            try:
                relay.push(clip, "/live.ts")
                wait_ready(relay, "/live.ts", 4)
                for run in range(args.runs):
                    report(f"join-{policy}", {"run": run, **join_storm(relay.port, "/live.ts", args.join_viewers, vpid)})
                    time.sleep(2)
            finally:
                relay.stop()

    if "hls" not in args.skip:
        scratch = bytearray(1 << 18)
        # An 8 MiB ring (16 s at 4 Mbit/s, a window of 8 s) laps soon: RSS is then steady.
        relay = Relay(args.ringcast, workdir, "relay-hls", ["--ring-size", "8m"])
        try:
            relay.push(clip, "/live.ts")
            wait_ready(relay, "/live.ts", 6, full_ring=True)
            idle = rss_kib(relay.process.pid)
            report("hls", {"rss_kib_idle": idle,
                           **hls_clients(relay.port, "/live.ts", args.hls_clients, args.seconds,
                                         relay.process.pid, scratch)})
            time.sleep(3)
            report("plain", {"rss_kib_idle": idle,
                             **plain_viewers(relay.port, "/live.ts", args.hls_clients, args.seconds,
                                             relay.process.pid, scratch)})
        finally:
            relay.stop()
    if args.out:
        with open(args.out, "a") as out:
            for line in results:
                out.write(json.dumps(line) + "\n")


if __name__ == "__main__":
    main()
