#!/usr/bin/env python3
"""Loads ringcast's dashboard in headless Chromium and checks that it shows what /stats says.

Debian's chromium is driven over the DevTools protocol on a pipe (--remote-debugging-pipe:
JSON messages separated by NUL bytes on descriptors 3 and 4), so nothing beyond python3's
standard library and the browser is needed. The page is asked to refresh, its numbers are read
from the DOM as a person sees them, and /stats is fetched right after; they must agree, and
agree with what the test set up (--expect-*). The page may reach only its own origin.
A screenshot is saved, then a tampered page must fail the same comparison: the check can fail.

Usage: dashboard_check.py BASE_URL SCREENSHOT.png [--expect-viewers /m=N]... [--expect-refused kind=N]...
Exit status 0 when every check passed, 1 otherwise (each failure printed as FAIL: ...).
"""
import argparse
import base64
import json
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

DEADLINE_SECONDS = 75  # for everything this script does; each wait is bounded within it
WIDTH, HEIGHT = 1280, 900

# Reads the page as a person would: the text shown, found through the data-* attributes.
COLLECT_JS = """(async (refresh) => {
  if (refresh) await window.ringcastDashboard.refresh();
  const text = (el) => (el ? el.textContent.trim() : null);
  const all = (selector) => [...document.querySelectorAll(selector)];
  const mounts = {};
  for (const row of all('#mounts tr[data-mount]')) {
    const cells = {};
    for (const cell of row.querySelectorAll('[data-field]')) {
      cells[cell.dataset.field] = text(cell.querySelector('[data-value]') || cell);
    }
    cells.play = row.querySelector('[data-play]') ? 'yes' : 'no';
    mounts[row.dataset.mount] = cells;
  }
  const charts = {};
  for (const canvas of all('canvas[data-chart]')) {
    const key = canvas.dataset.chart;
    charts[key] = {points: Number(canvas.dataset.points || 0),
                   legend: all(`[data-legend="${key}"] [data-mount]`).map((e) => e.dataset.mount)};
  }
  return JSON.stringify({
    state: document.getElementById('status').dataset.state,
    historySamples: Number(document.body.dataset.historySamples),
    totals: Object.fromEntries(all('[data-total]').map((e) => [e.dataset.total, text(e)])),
    refused: Object.fromEntries(all('[data-refused]').map((e) => [e.dataset.refused, text(e)])),
    workers: all('#workers tr[data-worker]').map((row) => Object.fromEntries(
        [...row.querySelectorAll('[data-field]')].map((cell) => [cell.dataset.field, text(cell)]))),
    mounts, charts});
})(%s)"""

# A deliberately wrong page: one viewer count and the refusal total changed in the DOM.
TAMPER_JS = """(() => {
  const viewers = document.querySelector('#mounts tr[data-mount] [data-field="viewers"]');
  viewers.textContent = String(Number(viewers.textContent.replace(/,/g, '')) + 1);
  document.querySelector('[data-total="refused"]').textContent = '0';
  return viewers.closest('tr').dataset.mount;
})()"""


class CheckFailed(Exception):
    pass


def remaining(deadline):
    left = deadline - time.monotonic()
    if left <= 0:
        raise CheckFailed(f"over the {DEADLINE_SECONDS} s budget")
    return left


class Browser:
    """Chromium with the DevTools protocol on a pipe; one page session."""

    def __init__(self, deadline, base, extra_flags=()):
        self.deadline = deadline
        self.profile = tempfile.mkdtemp(prefix="ringcast-chromium-")
        chromium = shutil.which("chromium") or shutil.which("chromium-browser")
        if not chromium:
            raise CheckFailed("chromium is not installed (Debian package chromium)")
        to_browser_read, self.to_browser = os.pipe()
        self.from_browser, from_browser_write = os.pipe()

        def descriptors_3_and_4():
            # dup first: a pipe end may already sit on 3 or 4.
            read_end, write_end = os.dup(to_browser_read), os.dup(from_browser_write)
            os.dup2(read_end, 3)
            os.dup2(write_end, 4)

        flags = [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--remote-debugging-pipe", f"--user-data-dir={self.profile}",
            # Nothing but the relay: no updates, sync, QUIC probes or first-run pings.
            "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--disable-quic", "--disable-extensions",
            "--disable-default-apps", "--mute-audio", "--hide-scrollbars",
            # A scripted click is no user gesture; the player's play() must still be allowed.
            "--autoplay-policy=no-user-gesture-required",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            f"--window-size={WIDTH},{HEIGHT}", *extra_flags, "about:blank",
        ]
        self.log = open(os.path.join(self.profile, "chromium.log"), "wb")
        self.process = subprocess.Popen([chromium, *flags], stdin=subprocess.DEVNULL,
                                        stdout=self.log, stderr=self.log,
                                        preexec_fn=descriptors_3_and_4, pass_fds=(3, 4))
        os.close(to_browser_read)
        os.close(from_browser_write)
        self.buffer = b""
        self.next_id = 0
        self.session = None
        self.requests = []  # every URL the page asked for
        self.problems = []  # console errors, exceptions, failed loads

    def close(self):
        try:
            if self.process.poll() is None:
                try:
                    self.send("Browser.close", session=False, wait=False)
                    self.process.wait(timeout=5)
                except (OSError, subprocess.TimeoutExpired, CheckFailed):
                    self.process.kill()
                    self.process.wait(timeout=5)
        finally:
            for fd in (self.to_browser, self.from_browser):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self.log.close()
            shutil.rmtree(self.profile, ignore_errors=True)

    def chromium_log(self):
        with open(os.path.join(self.profile, "chromium.log"), "rb") as log:
            return log.read().decode(errors="replace")[-3000:]

    def _read_message(self, timeout):
        end = time.monotonic() + timeout
        while b"\0" not in self.buffer:
            wait = min(end - time.monotonic(), remaining(self.deadline))
            if wait <= 0:
                return None
            ready, _, _ = select.select([self.from_browser], [], [], wait)
            if not ready:
                continue
            chunk = os.read(self.from_browser, 1 << 20)
            if not chunk:
                raise CheckFailed("chromium closed its DevTools pipe:\n" + self.chromium_log())
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def _on_event(self, message):
        method, params = message.get("method"), message.get("params", {})
        if method == "Network.requestWillBeSent":
            self.requests.append(params["request"]["url"])
        elif method == "Network.loadingFailed" and not params.get("canceled"):
            self.problems.append(f"a request failed: {params.get('errorText')}")
        elif method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            self.problems.append(f"exception: {details.get('exception', {}).get('description', details.get('text'))}")
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            self.problems.append("console error: " + " ".join(str(a.get("value", a.get("description")))
                                                               for a in params.get("args", [])))
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            self.problems.append(f"browser log: {params['entry'].get('text')}")

    def send(self, method, params=None, session=True, wait=True, timeout=10):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            message["sessionId"] = self.session
        os.write(self.to_browser, json.dumps(message).encode() + b"\0")
        if not wait:
            return None
        end = time.monotonic() + timeout
        while True:
            reply = self._read_message(end - time.monotonic())
            if reply is None:
                raise CheckFailed(f"no answer to {method} within {timeout} s")
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise CheckFailed(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self._on_event(reply)

    def open_page(self):
        target = self.send("Target.createTarget", {"url": "about:blank"}, session=False)
        self.session = self.send("Target.attachToTarget",
                                 {"targetId": target["targetId"], "flatten": True}, session=False)["sessionId"]
        for domain in ("Page", "Runtime", "Network", "Log"):
            self.send(f"{domain}.enable")
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False})

    def evaluate(self, expression, timeout=10):
        result = self.send("Runtime.evaluate", {"expression": expression, "awaitPromise": True,
                                                "returnByValue": True}, timeout=timeout)
        if "exceptionDetails" in result:
            raise CheckFailed(f"script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression, what, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if self.evaluate(expression):
                return
            event = self._read_message(0.1)  # take events meanwhile
            if event is not None:
                self._on_event(event)
        raise CheckFailed(f"{what} within {seconds} s")

    def screenshot(self, path):
        # The whole page and no more: as wide as the window, as tall as the document.
        height = self.evaluate("Math.ceil(document.body.getBoundingClientRect().height)")
        clip = {"x": 0, "y": 0, "width": WIDTH, "height": height, "scale": 1}
        data = self.send("Page.captureScreenshot",
                         {"format": "png", "clip": clip, "captureBeyondViewport": True})["data"]
        with open(path, "wb") as out:
            out.write(base64.b64decode(data))


# --- reading the page's text back into numbers (the inverse of the page's formatting) ---
RATE_UNITS = {"b/s": 1, "kb/s": 1e3, "Mb/s": 1e6, "Gb/s": 1e9}
BYTE_UNITS = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}


def parse_count(text):
    if text is None or not re.fullmatch(r"\d{1,3}(,\d{3})*", text):
        raise ValueError(f"not a count: {text!r}")
    return int(text.replace(",", ""))


def parse_with_unit(text, units):
    match = re.fullmatch(r"(\d+(?:\.\d+)?) (\S+)", text or "")
    if not match or match.group(2) not in units:
        raise ValueError(f"not a number in {'/'.join(units)}: {text!r}")
    return float(match.group(1)) * units[match.group(2)]


def parse_rate(text):
    return parse_with_unit(text, RATE_UNITS)


def parse_bytes(text):
    return parse_with_unit(text, BYTE_UNITS)


def parse_fraction(text):
    return parse_with_unit(text, {"%": 0.01})


def compare(page, stats, expect):
    """Every disagreement between the page, /stats and what the test set up, as text."""
    problems = []

    def check(what, shown, parse, wanted, tolerance=0.0):
        try:
            value = parse(shown)
        except ValueError as error:
            problems.append(f"{what}: {error}")
            return
        if abs(value - wanted) > tolerance:
            problems.append(f"{what}: the page shows {shown!r} ({value:g}), /stats says {wanted:g}")

    # Displayed with three significant digits: half a percent of rounding.
    def rounding(value):
        return value * 0.005 + 1

    stats_mounts = stats["mounts"]
    if set(page["mounts"]) != set(stats_mounts):
        problems.append(f"mounts: the page lists {sorted(page['mounts'])}, /stats {sorted(stats_mounts)}")
    if set(stats_mounts) != set(expect["viewers"]):
        problems.append(f"mounts: /stats lists {sorted(stats_mounts)}, the test set up {sorted(expect['viewers'])}")
    for mount in sorted(set(page["mounts"]) & set(stats_mounts)):
        shown, real = page["mounts"][mount], stats_mounts[mount]
        check(f"{mount} viewers", shown.get("viewers"), parse_count, real["viewers"])
        if mount in expect["viewers"] and real["viewers"] != expect["viewers"][mount]:
            problems.append(f"{mount} viewers: /stats says {real['viewers']}, the test attached "
                            f"{expect['viewers'][mount]}")
        check(f"{mount} ring size", shown.get("ring_bytes"), parse_bytes, real["ring_bytes"],
              rounding(real["ring_bytes"]))
        check(f"{mount} ring fill", shown.get("ring_fill"), parse_fraction, real["ring_fill"], 0.02)
        # Sampled every 250 ms by the relay; the page was refreshed just before /stats was read.
        check(f"{mount} ingest bitrate", shown.get("ingest_bitrate"), parse_rate,
              real["ingest_bitrate"], 0.15 * real["ingest_bitrate"] + rounding(real["ingest_bitrate"]))
        if shown.get("title", "") != real.get("title", ""):
            problems.append(f"{mount} title: the page shows {shown.get('title')!r}, /stats {real.get('title')!r}")
        if (shown.get("source") == "live") != real["source_connected"]:
            problems.append(f"{mount} source: the page shows {shown.get('source')!r}, "
                            f"/stats source_connected is {real['source_connected']}")

    for mount in sorted(page["mounts"]):
        real = stats_mounts.get(mount, {})
        playable = real.get("content_type", "").startswith("audio/") or "video" in real
        if (page["mounts"][mount].get("play") == "yes") != playable:
            problems.append(f"{mount}: a play button {'missing' if playable else 'shown'} for "
                            f"{real.get('content_type')}{' (video)' if 'video' in real else ''}")
        hls = real.get("hls", {}).get("sessions")
        if hls is not None:
            check(f"{mount} HLS sessions", page["mounts"][mount].get("hls_sessions"), parse_count, hls, 1)

    if len(page["workers"]) != len(stats["workers"]):
        problems.append(f"workers: the page lists {len(page['workers'])}, /stats {len(stats['workers'])}")
    for index, (shown, real) in enumerate(zip(page["workers"], stats["workers"])):
        check(f"worker {index} viewers", shown.get("viewers"), parse_count, real["viewers"])
        # The page's own /stats request and this script's are open connections too, each on
        # whichever worker the acceptor dealt it to.
        check(f"worker {index} connections", shown.get("connections_open"), parse_count,
              real["connections_open"], 1)
        # Sampled every 250 ms by the relay, so they move between the two reads.
        check(f"worker {index} busy", shown.get("busy"), parse_fraction, real["busy"], 0.25)
        check(f"worker {index} write delay", (shown.get("write_delay_ms") or "").removesuffix(" ms"),
              parse_count, real["write_delay_ms"], 0.5 * real["write_delay_ms"] + 10)
    if sum(w["viewers"] for w in stats["workers"]) != stats["totals"]["viewers"]:
        problems.append("workers: /stats' per-worker viewers do not add up to its total")

    totals, real_totals = page["totals"], stats["totals"]
    check("total mounts", totals.get("mounts"), parse_count, real_totals["mounts"])
    check("total viewers", totals.get("viewers"), parse_count, real_totals["viewers"])
    ingest = sum(m["ingest_bitrate"] for m in stats_mounts.values())
    check("total ingest", totals.get("ingest_bitrate"), parse_rate, ingest, 0.15 * ingest + rounding(ingest))
    for key in ("bytes_in", "bytes_out"):  # still growing: a few percent
        check(f"total {key}", totals.get(key), parse_bytes, real_totals[key], 0.05 * real_totals[key] + 1024)
    check("total refused", totals.get("refused"), parse_count, sum(stats["refused"].values()))
    for kind, count in stats["refused"].items():
        check(f"refused {kind}", page["refused"].get(kind), parse_count, count)
        wanted = expect["refused"].get(kind, 0)
        if count != wanted:
            problems.append(f"refused {kind}: /stats says {count}, the test provoked {wanted}")
    return problems


def check_history(history, expect):
    """/stats/history's shape, and its newest sample against what the test set up."""
    problems = []
    if history.get("interval_seconds") != 2 or not isinstance(history.get("capacity"), int) or \
            not isinstance(history.get("samples"), list):
        return [f"/stats/history is not shaped as documented: {json.dumps(history)[:300]}"]
    samples = history["samples"]
    if not samples:
        return ["/stats/history holds no sample"]
    times = [sample["uptime_seconds"] for sample in samples]
    if times != sorted(times) or len(set(times)) != len(times):
        problems.append(f"/stats/history samples are not oldest first: {times}")
    newest = samples[-1]
    for key in ("viewers", "connections_open", "bytes_in", "bytes_out", "refused"):
        if not isinstance(newest.get(key), int):
            problems.append(f"/stats/history sample has no {key}: {json.dumps(newest)[:300]}")
    for mount, viewers in expect["viewers"].items():
        sampled = newest["mounts"].get(mount)
        if sampled is None or sampled.get("viewers") != viewers or not sampled.get("ingest_bitrate"):
            problems.append(f"/stats/history's newest sample of {mount} is {sampled}, "
                            f"wanted {viewers} viewers and a bitrate")
    if newest.get("refused") != sum(expect["refused"].values()):
        problems.append(f"/stats/history's newest sample counts {newest.get('refused')} refusals, "
                        f"the test provoked {sum(expect['refused'].values())}")
    return problems


def expectations(pairs, value_type=int):
    result = {}
    for pair in pairs:
        key, _, value = pair.rpartition("=")
        result[key] = value_type(value)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base")
    parser.add_argument("screenshot")
    parser.add_argument("--expect-viewers", action="append", default=[], metavar="MOUNT=N")
    parser.add_argument("--expect-refused", action="append", default=[], metavar="KIND=N")
    parser.add_argument("--min-history", type=int, default=2, metavar="N",
                        help="samples /stats/history must have given the page on load")
    args = parser.parse_args()
    expect = {"viewers": expectations(args.expect_viewers), "refused": expectations(args.expect_refused)}
    base = args.base.rstrip("/")
    deadline = time.monotonic() + DEADLINE_SECONDS

    def fetch(path):
        with urllib.request.urlopen(base + path, timeout=min(5, remaining(deadline))) as response:
            return json.load(response)

    def fetch_stats():
        return fetch("/stats")

    failures = []
    # What the page will find at least: the samples held now (none leave in these seconds).
    history = fetch("/stats/history")
    failures += check_history(history, expect)
    history_points = sum(len(sample["mounts"]) for sample in history["samples"])

    browser = Browser(deadline, base)
    try:
        browser.open_page()
        browser.send("Page.navigate", {"url": base + "/"})
        try:
            browser.wait_for("document.body && document.body.dataset.uptime !== undefined && "
                             "document.body.dataset.historySamples !== undefined",
                             "the dashboard did not show /stats", 15)
        except CheckFailed as error:
            seen = browser.evaluate("`${document.readyState} ${location.href} ${document.title}: ` + "
                                    "(document.body ? document.body.innerText.slice(0, 300) : 'no body')")
            raise CheckFailed(f"{error}; the browser shows {seen!r}, requests {browser.requests}, "
                              f"problems {browser.problems}")

        # Refresh the page, read it, read /stats: a sample taken between the two (every 250 ms)
        # may move the bitrate, so disagreement is retried twice before it counts.
        for attempt in range(3):
            page = json.loads(browser.evaluate(COLLECT_JS % "true"))
            stats = fetch_stats()
            problems = compare(page, stats, expect)
            if not problems:
                break
        failures += problems
        print(f"page: {json.dumps(page['totals'])}")
        for mount, cells in sorted(page["mounts"].items()):
            print(f"page: {mount}: {json.dumps(cells)}")

        if page["state"] != "live":
            failures.append(f"the status reads {page['state']!r}, not 'live'")
        if page["historySamples"] < args.min_history:
            failures.append(f"the page loaded {page['historySamples']} samples of /stats/history, "
                            f"wanted at least {args.min_history}")
        for key, chart in page["charts"].items():
            if sorted(chart["legend"]) != sorted(stats["mounts"]):
                failures.append(f"chart {key}: legend {chart['legend']}, mounts {sorted(stats['mounts'])}")
            # Every (sample, mount) of the history fetched before the page loaded, and the polls since.
            if chart["points"] < history_points:
                failures.append(f"chart {key}: {chart['points']} points drawn, fewer than the "
                                f"{history_points} that /stats/history held before the page loaded")

        # The watch button of an MPEG-TS video mount plays its HLS in the page's video element
        # (Chromium plays HLS natively), a few seconds of it, before the screenshot is taken.
        video = sorted(m for m, s in stats["mounts"].items() if "video" in s)
        if video:
            browser.evaluate(f"document.querySelector('[data-watch=\"{video[0]}\"]').click(), true")
            try:
                browser.wait_for("window.ringcastDashboard.video.currentTime > 3 && "
                                 "window.ringcastDashboard.video.videoWidth > 0",
                                 f"the video player did not play {video[0]}'s HLS", 25)
                print(f"ok: the watch button plays {video[0]} as HLS "
                      f"({browser.evaluate('window.ringcastDashboard.video.videoWidth')} px wide)")
            except CheckFailed as error:
                state = browser.evaluate("(() => { const v = window.ringcastDashboard.video; "
                                         "return `${v.src} ready=${v.readyState} t=${v.currentTime} "
                                         "error=${v.error && v.error.code} ${v.error && v.error.message}`; })()")
                failures.append(f"{error} ({state})")

        browser.screenshot(args.screenshot)
        print(f"screenshot: {args.screenshot}")

        foreign = [url for url in browser.requests
                   if not url.startswith(base + "/") and not url.startswith("data:") and url != "about:blank"]
        if foreign:
            failures.append(f"the page reached beyond its origin: {foreign}")
        if not any(url == base + "/stats/history" for url in browser.requests):
            failures.append(f"the page never asked for /stats/history: {browser.requests}")
        failures += browser.problems

        # The check must be able to fail: a page showing a wrong viewer count and refusal total.
        tampered_mount = browser.evaluate(TAMPER_JS)
        caught = compare(json.loads(browser.evaluate(COLLECT_JS % "false")), fetch_stats(), expect)
        if not any(p.startswith(f"{tampered_mount} viewers") for p in caught) or \
                not any(p.startswith("total refused") for p in caught):
            failures.append(f"a tampered page passed the comparison (found only: {caught})")
        else:
            print(f"ok: a tampered page is caught ({len(caught)} disagreements)")

        # The play button of an audio mount plays it in the page (the browser is muted).
        audio = sorted(m for m, s in stats["mounts"].items() if s["content_type"].startswith("audio/"))
        if audio:
            browser.evaluate(f"document.querySelector('[data-play=\"{audio[0]}\"]').click(), true")
            try:
                browser.wait_for("window.ringcastDashboard.player.currentTime > 0.5",
                                 f"the player did not play {audio[0]}", 15)
                print(f"ok: the play button plays {audio[0]}")
            except CheckFailed as error:
                state = browser.evaluate("(() => { const p = window.ringcastDashboard.player; "
                                         "return `${p.src} ready=${p.readyState} error=${p.error && p.error.code}`; })()")
                failures.append(f"{error} ({state})")
            browser.evaluate(f"document.querySelector('[data-play=\"{audio[0]}\"]').click(), true")
    except CheckFailed as error:
        failures.append(str(error))
    finally:
        browser.close()

    for failure in failures:
        print(f"FAIL: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
