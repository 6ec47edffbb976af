#!/usr/bin/env python3
"""What a decoder meets first in an MPEG-TS capture: `ts_check.py FILE` prints one line,
"pat pmt keyframe", when the file starts with a PAT, then the PMT it names, then the start of a
video keyframe (random_access_indicator, or an H.264 IDR / SPS at the PES start); otherwise a
description of what it starts with. Exit status 0 only for the first case."""
import sys

PACKET = 188


def packets(data):
    for i in range(0, len(data) - PACKET + 1, PACKET):
        yield data[i:i + PACKET]


def pid_of(p):
    return ((p[1] & 0x1F) << 8) | p[2]


def payload(p):
    afc = (p[3] >> 4) & 3
    start = 4
    if afc & 2:
        start += 1 + p[4]
    return p[start:] if afc & 1 else b""


def main():
    data = open(sys.argv[1], "rb").read()
    ps = list(packets(data))
    if len(ps) < 3 or any(p[0] != 0x47 for p in ps[:3]):
        print("not MPEG-TS from byte 0")
        return 1
    if pid_of(ps[0]) != 0:
        print(f"starts with PID {pid_of(ps[0])}, not a PAT")
        return 1
    pat = payload(ps[0])
    section = pat[1 + pat[0]:]  # pointer field
    pmt_pid = ((section[10] & 0x1F) << 8) | section[11]
    if pid_of(ps[1]) != pmt_pid:
        print(f"the PAT names PMT PID {pmt_pid}, the next packet is PID {pid_of(ps[1])}")
        return 1
    pmt = payload(ps[1])
    section = pmt[1 + pmt[0]:]
    info_length = ((section[10] & 0x0F) << 8) | section[11]
    at = 12 + info_length
    section_end = 3 + (((section[1] & 0x0F) << 8) | section[2]) - 4
    video = None
    while at + 5 <= section_end:
        stream_type, epid = section[at], ((section[at + 1] & 0x1F) << 8) | section[at + 2]
        if stream_type in (0x1B, 0x24) and video is None:
            video = epid
        at += 5 + (((section[at + 3] & 0x0F) << 8) | section[at + 4])
    p = ps[2]
    if video is None or pid_of(p) != video or not p[1] & 0x40:
        print(f"third packet: PID {pid_of(p)}, video PID {video}, PES start {bool(p[1] & 0x40)}")
        return 1
    random_access = bool((p[3] >> 4) & 2) and p[4] > 0 and bool(p[5] & 0x40)
    body = payload(p)
    es = body[9 + body[8]:] if body[:3] == b"\x00\x00\x01" else b""
    idr = any(es[i:i + 3] == b"\x00\x00\x01" and (es[i + 3] & 0x1F) in (5, 7) for i in range(len(es) - 3))
    if not (random_access or idr):
        print("third packet starts a video PES that is not a keyframe")
        return 1
    print("pat pmt keyframe")
    return 0


sys.exit(main())
