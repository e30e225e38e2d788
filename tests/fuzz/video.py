"""The video target: small generated clips (MP4, MPEG-TS, Matroska, WebM, AVI with plain and packed
MPEG-4 B-frames, MJPEG, HEVC, VP9, MPEG-2, a rotated phone-style clip) mutated at three levels —
bytes of the file, packets (dropped, repeated, swapped, truncated, their timestamps removed,
repeated or shuffled, their keyframe flags flipped) and bytes inside packets — then read through
``smolplug.open_frames`` three ways: every frame; a seeded list of positions (unsorted, repeated,
some past the end: the seek paths); and every third frame with a second spec (ROI, grey, planar
float, rotation off). One in ``--fresh-every`` is read again in a fresh process.

Checked: opening fails only with smolplug's typed errors (``SmolplugError`` / ``OSError``); every
requested position comes back once, in request order, with a valid status and a message when it is
not OK; float outputs are finite; a frame delivered OK by two reads (one decoding forward, one
seeking) is bit-identical in both; the fresh process gives the same statuses and bytes.

Damage the decoder does not report (a lost packet whose successors it conceals silently, HEVC
decoding damaged data without complaint, an MJPEG frame whose scan fails and which FFmpeg returns
holding the previous picture) can make an OK frame differ from every frame of the undamaged clip,
or make two decode paths differ: such frames are counted as ``OK-silent-damage`` (the reader cannot
know). The forward/seek comparison is made between frames that are pictures of the undamaged clip;
a difference there is a wrong frame — unless FFmpeg logged an error while decoding the mutant (it
reports some damage only in its log, which a library cannot read per decoder), which is counted as
``differs-after-logged-error``. The harness captures FFmpeg's log in a single-threaded decode of
the mutant to tell these apart.

Decodes are counted as decoded frames (``reader.frames_decoded``, index passes included). FFmpeg
itself is not instrumented under the sanitizer build: the checks there cover smolplug's converter
and everything it hands FFmpeg's frames to.
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

import smolplug
from smolplug import FrameRequest, FrameSpec, SmolplugError, Status
from smolplug.request.selection import FrameSelection

from . import Context, register

GROUP_SIZE = 4
W, H, N = 64, 48, 24
SPEC_A = FrameSpec(24, 32, layout="NHWC", dtype="uint8")
SPEC_B = FrameSpec(12, 10, roi=(4, 6, 30, 20), colorspace="GRAY", dtype="float32", resize="letterbox")
Digest = tuple[tuple[int, ...], tuple[int, ...], str]


def _make_seeds(directory: Path) -> dict[str, bytes]:
    from ..clips import make_clip
    from ..media import make_packed_mpeg4_avi

    kinds = {
        "h264.mp4": dict(codec="libx264", gop=8, bframes=2),
        "h264.ts": dict(codec="libx264", gop=8, bframes=2),
        "h264.mkv": dict(codec="libx264", gop=8, bframes=2),
        "hevc.mkv": dict(codec="libx265", gop=8, bframes=2),
        "vp9.webm": dict(codec="libvpx-vp9", gop=8, bframes=0),
        "mpeg4.avi": dict(codec="mpeg4", gop=8, bframes=2),
        "mjpeg.avi": dict(codec="mjpeg", gop=1, bframes=0, pix_fmt="yuvj420p"),
        "mpeg2.ts": dict(codec="mpeg2video", gop=8, bframes=2),
        "rot90.mp4": dict(codec="libx264", gop=8, bframes=2, rotation=90),
    }
    seeds = {}
    for name, kw in kinds.items():
        path = make_clip(directory / name, n=N, w=W, h=H, **kw)
        seeds[name] = path.read_bytes()
    packed = make_packed_mpeg4_avi(directory / "packed.avi", n=N, w=W, h=H, gop=8, bframes=2)
    seeds["packed.avi"] = packed.read_bytes()
    return seeds


_DIR = Path(tempfile.mkdtemp(prefix="smolplug-fuzz-video-"))
SEEDS = _make_seeds(_DIR)
SEED_NAMES = sorted(SEEDS)
_PICTURES: dict[str, set[bytes]] = {}


def pictures(name: str) -> set[bytes]:
    """Every frame of the undamaged seed, as the forward read converts it (SPEC_A)."""
    if name not in _PICTURES:
        path = _DIR / f"seed-{name}"
        path.write_bytes(SEEDS[name])
        req = FrameRequest(SPEC_A, strict=False)  # as the reads below: low-res decoding included
        with smolplug.open_frames(path, req) as reader:
            _PICTURES[name] = {f.tobytes() for b in reader for f in b.data}
    return _PICTURES[name]


# -- mutations ------------------------------------------------------------------------------------
def _bytes(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    d = bytearray(data)
    op = rng.randrange(6)
    lo = min(256, len(d) - 1)
    if op == 0:
        for _ in range(rng.randint(1, 32)):
            i = rng.randrange(lo, len(d))
            d[i] ^= 1 << rng.randrange(8)
        return bytes(d), "bit-flips"
    if op == 1:
        a = rng.randrange(lo, len(d))
        n = min(len(d) - a, rng.choice([16, 256, 4096]))
        d[a : a + n] = rng.randbytes(n)
        return bytes(d), "overwrite"
    if op == 2:
        return bytes(d[: rng.randrange(lo, len(d))]), "truncate"
    if op == 3:
        a = rng.randrange(lo, len(d))
        b = min(len(d), a + rng.randint(1, 2048))
        return bytes(d[:a] + d[a:b] + d[a:]), "duplicate-range"
    if op == 4:
        a = rng.randrange(lo, len(d))
        b = min(len(d), a + rng.randint(1, 2048))
        return bytes(d[:a] + d[b:]), "delete-range"
    a = rng.randrange(lo, len(d))
    return bytes(d[:a] + rng.randbytes(rng.randint(1, 512)) + d[a:]), "insert"


def _packets(rng: random.Random, name: str, data: bytes) -> tuple[bytes, str]:
    """Remux the clip's video packets through PyAV with one packet-level change."""
    import av

    src = _DIR / f"in-{name}"
    src.write_bytes(data)
    out = _DIR / f"out-{name}"
    op = rng.choice(
        ["drop", "repeat", "swap", "cut-packet", "no-pts", "same-pts", "shuffle-pts", "flip-key", "payload"]
    )
    with av.open(str(src)) as inp:
        s = inp.streams.video[0]
        packets = [p for p in inp.demux(s) if p.size]
        if not packets:
            return data, "no-packets"
        k = rng.randrange(len(packets))
        with av.open(str(out), "w", format=inp.format.name.split(",")[0]) as o:
            os_ = o.add_stream_from_template(s)
            for i, p in enumerate(packets):
                chunk = [p]
                if i == k:
                    if op == "drop":
                        chunk = []
                    elif op == "repeat":
                        chunk = [p, _clone(p, bytes(p))]
                    elif op == "swap" and i + 1 < len(packets):
                        packets[i], packets[i + 1] = packets[i + 1], packets[i]
                        chunk = [packets[i]]
                    elif op == "cut-packet":
                        chunk = [_clone(p, bytes(p)[: max(1, p.size // 2)])]
                    elif op == "payload":
                        b = bytearray(bytes(p))
                        for _ in range(rng.randint(1, 8)):
                            b[rng.randrange(len(b))] = rng.randrange(256)
                        chunk = [_clone(p, bytes(b))]
                    elif op == "flip-key":
                        p.is_keyframe = not p.is_keyframe
                for q in chunk:
                    if op == "no-pts" and rng.random() < 0.3:
                        q.pts = None
                    elif op == "same-pts" and i == k and i > 0:
                        q.pts = packets[i - 1].pts
                    elif op == "shuffle-pts" and rng.random() < 0.2 and q.pts is not None:
                        q.pts += rng.randint(-3, 3) * max(int(q.duration or 1), 1)
                    q.stream = os_
                    # the muxer may refuse a change (non-monotonic dts, ...): keep the rest
                    with contextlib.suppress(av.error.FFmpegError, ValueError):
                        o.mux(q)
    return out.read_bytes(), f"packet-{op}"


def _clone(p: Any, payload: bytes) -> Any:
    import av

    q = av.Packet(payload)
    q.pts, q.dts, q.time_base, q.is_keyframe = p.pts, p.dts, p.time_base, p.is_keyframe
    q.duration = p.duration
    return q


def mutate(rng: random.Random) -> tuple[str, bytes, list[str]]:
    import av

    name = rng.choice(SEED_NAMES)
    data, ops = SEEDS[name], []
    for _ in range(rng.choice([1, 1, 2])):
        if rng.random() < 0.5:
            try:
                data, op = _packets(rng, name, data)
            except (av.error.FFmpegError, IndexError, ValueError):
                op = "packet-unreadable"
        else:
            data, op = _bytes(rng, data)
        ops.append(op)
    return name, data, ops


# -- reading --------------------------------------------------------------------------------------
def _read(path: Path, frames: Any, spec: FrameSpec, **opts: Any) -> tuple[list, Any]:
    req = FrameRequest(spec, frames=frames, on_error="skip", batch_size=5, **opts)
    out = []
    with smolplug.open_frames(path, req) as reader:
        for b in reader:
            for i, st, msg, data in zip(b.indices, b.status, b.messages, b.data, strict=True):
                out.append((int(i), int(st), msg, data.copy()))
    return out, reader


#: warnings FFmpeg gives for undamaged files (yuvj pixel formats, DivX/Xvid packed B-frames)
BENIGN = ("deprecated pixel format", "packed B-frames", "packed xvid")


def ffmpeg_logs_errors(path: Path) -> bool:
    """Does FFmpeg log an error or a warning (other than ``BENIGN``) while demuxing
    and decoding the file sequentially? (single-threaded:
    PyAV's log callback takes the GIL from FFmpeg's threads, which can deadlock threaded decoding, so
    logging stays off while the readers run)."""
    import av
    import av.logging

    av.logging.set_level(av.logging.WARNING)  # MJPEG's "not implemented" scans are warnings
    av.logging.set_skip_repeated(False)  # the same message as the previous mutant's must count too
    try:
        with av.logging.Capture(local=True) as logs, av.open(str(path), metadata_errors="replace") as c:
            s = c.streams.video[0]
            s.thread_type = "NONE"
            for packet in c.demux(s):
                with contextlib.suppress(av.error.FFmpegError):
                    packet.decode()
    except (av.error.FFmpegError, IndexError, ValueError):
        return True
    finally:
        av.logging.set_level(None)
    return any(level <= av.logging.WARNING and not any(b in msg for b in BENIGN) for level, _, msg in logs)


def read_all(path: Path, positions: list[int]) -> dict[str, Any]:
    """The three reads of one mutant (raises what opening the file raises)."""
    a, ra = _read(path, None, SPEC_A, strict=False)
    b, rb = _read(path, positions, SPEC_A, strict=False)
    c, rc = _read(path, FrameSelection.every(3), SPEC_B, strict=True, autorotate=False)
    decoded = ra.frames_decoded + rb.frames_decoded + rc.frames_decoded
    return {"all": a, "list": b, "every3": c, "decoded": decoded}


def digest(reads: dict[str, Any]) -> Digest:
    b = reads["list"]
    h = hashlib.blake2b(digest_size=16)
    for _, st, _, data in b:
        h.update(data.tobytes() if st <= Status.WARNING else b"-")
    return tuple(i for i, *_ in b), tuple(st for _, st, *_ in b), h.hexdigest()


def _check(
    ctx: Context, name: str, path: Path, data: bytes, reads: dict[str, Any], positions: list[int], n: int
) -> None:
    expected = {"all": list(range(n)), "list": positions, "every3": list(range(0, n, 3))}
    valid = set(Status._value2member_map_)
    for key, items in reads.items():
        if key == "decoded":
            continue
        if [i for i, *_ in items] != expected[key]:
            ctx.problem(
                f"{key}: positions {[i for i, *_ in items][:12]} != requested {expected[key][:12]}", data
            )
        for i, st, msg, frame in items:
            ctx.status(Status(st).name if st in valid else str(st))
            if st not in valid:
                ctx.problem(f"{key}: frame {i} has invalid status {st}", data)
            elif st != Status.OK and not msg:
                ctx.problem(f"{key}: frame {i} is {Status(st).name} without a message", data)
            if frame.dtype != np.uint8 and not np.isfinite(frame).all():
                ctx.problem(f"{key}: frame {i} has non-finite values", data)
            if 0 <= i < n and st == Status.MISSING and not msg:
                ctx.problem(f"{key}: frame {i} missing without a reason", data)
    seen = pictures(name)
    for key in ("all", "list"):
        for _, st, _, f in reads[key]:
            if st == Status.OK and f.tobytes() not in seen:
                ctx.status("OK-silent-damage")
    forward = {i: f for i, st, _, f in reads["all"] if st == Status.OK and f.tobytes() in seen}
    for i, st, _, f in reads["list"]:
        if st == Status.OK and i in forward and f.tobytes() in seen and not np.array_equal(forward[i], f):
            if ffmpeg_logs_errors(path):
                ctx.status("differs-after-logged-error")
            else:
                ctx.problem(
                    f"frame {i}: read forward and read by seeking give different pictures, both OK", data
                )


def run_group(rng: random.Random, ctx: Context) -> None:
    from smolplug.video import load_index

    for _ in range(GROUP_SIZE):
        name, data, ops = mutate(rng)
        ctx.input(data)
        for op in ops:
            ctx.op(op)
        path = _DIR / f"mutant{Path(name).suffix}"
        path.write_bytes(data)
        try:
            n = load_index(path, False).n_frames
        except SmolplugError as exc:
            if not isinstance(exc, (ValueError, OSError)):
                ctx.problem(f"open: {type(exc).__name__} is not ValueError/OSError-compatible", data)
            ctx.status(f"refused:{type(exc).__name__}")
            ctx.count("video-open", decode=False)
            continue
        except Exception as exc:  # an untyped error: the check this target is for
            ctx.problem(f"open: untyped {type(exc).__module__}.{type(exc).__name__}: {exc}", data)
            continue
        positions = [rng.randrange(-2, n + 3) for _ in range(rng.randint(1, 12))]
        try:
            reads = read_all(path, positions)
        except Exception as exc:
            ctx.problem(f"read: {type(exc).__module__}.{type(exc).__name__}: {exc}", data)
            continue
        ctx.count("video-frames", reads["decoded"])
        ctx.count("video-reads", 3, decode=False)
        _check(ctx, name, path, data, reads, positions, n)
        ctx.sample_fresh((data, Path(name).suffix, positions), digest(reads))


def fresh(payloads: list[tuple[bytes, str, list[int]]]) -> list[Digest | str]:
    out: list[Digest | str] = []
    for data, suffix, positions in payloads:
        path = _DIR / f"fresh{suffix}"
        path.write_bytes(data)
        try:
            out.append(digest(read_all(path, positions)))
        except Exception as exc:
            out.append(f"{type(exc).__name__}: {exc}")
    return out


register("video", run_group, fresh=fresh, group_size=GROUP_SIZE)
