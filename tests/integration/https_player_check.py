#!/usr/bin/env python3
"""Plays a stream in headless Chromium from an https page, as a station's web player does.

A page served over https may only play https streams (mixed content is blocked), which is why
ringcast sits behind a TLS front. This opens PAGE_URL (the relay's own dashboard, through the
front), makes an <audio> element there for STREAM_URL, plays it, and checks that its playback
time passes 2 s with no media error and that the page's only requests went to the page's
origin. The test's certificate is self-signed: Chromium is told to accept it.

Usage: https_player_check.py PAGE_URL STREAM_URL. Exit 0 when it played, 1 otherwise.
"""
import json
import os
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dashboard_check import Browser, CheckFailed  # noqa: E402

DEADLINE_SECONDS = 60

PLAY_JS = """(async (url) => {
  const audio = new Audio(url);
  audio.muted = true;
  window.player = audio;
  window.playerError = null;
  audio.addEventListener('error', () => { window.playerError = String(audio.error && audio.error.code); });
  await audio.play();
  return document.location.protocol;
})(%s)"""


def main():
    page, stream = sys.argv[1], sys.argv[2]
    host = urllib.parse.urlsplit(page).hostname
    deadline = time.monotonic() + DEADLINE_SECONDS
    browser = Browser(deadline, page, extra_flags=(
        "--ignore-certificate-errors", f"--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE {host}"))
    try:
        browser.open_page()
        browser.send("Page.navigate", {"url": page})
        browser.wait_for("document.readyState === 'complete'", "the page did not load", 20)
        protocol = browser.evaluate(PLAY_JS % json.dumps(stream), timeout=20)
        if protocol != "https:":
            raise CheckFailed(f"the page is {protocol}, not https:")
        browser.wait_for("window.playerError !== null || window.player.currentTime > 2",
                         "the audio element did not play 2 s", 30)
        error = browser.evaluate("window.playerError")
        if error is not None:
            raise CheckFailed(f"the audio element failed: MediaError {error}")
        played = browser.evaluate("window.player.currentTime")
        origin = page.split("/", 3)[:3]
        foreign = [url for url in browser.requests
                   if url.split("/", 3)[:3] != origin and not url.startswith("data:") and url != "about:blank"]
        if foreign:
            raise CheckFailed(f"the page reached outside its origin: {foreign}")
        print(f"played {played:.1f} s of {stream} in an https page")
        return 0
    except CheckFailed as failure:
        print(f"FAIL: {failure}")
        return 1
    finally:
        browser.close()


if __name__ == "__main__":
    sys.exit(main())
