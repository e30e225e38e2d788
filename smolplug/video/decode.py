"""Decoding runs: seek to a seek point (or start over), feed packets, identify the frames that
come out, and account for every wanted frame — delivered intact, delivered or refused as damaged,
or missing with the reason.

Identity: a frame is the index's frame whose timestamp it carries (``identity="pts"``), or, for
videos without usable timestamps, its place in a from-start decode (``identity="count"``). After a
seek, nothing counts until the seek point's own frame has come out (the anchor).

Damage: FFmpeg reports some errors when a packet is sent (the packet's frame never comes out)
and flags others on the frame (``is_corrupt``: concealment), but a frame *predicted* from a
damaged one comes out unflagged, with wrong pixels. So damage is tracked in decode order: a frame
is damaged when an error occurred at or before its packet with no clean closed keyframe in
between. A frame decoded after a damaged one may come out before it (a B-frame displayed before
its reference), so frames are held until ``reorder + 1`` later frames have come out (or the run
ends) before their status is decided.

Exactness after a seek: where the index came from a sequential decode (untrusted timestamps), it
holds a CRC of every frame's luma; every frame decoded after a seek is checked against it, and a
seek point that gives a different frame is abandoned for an earlier one (ultimately the start).
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import Status
from ..frames.readers import ReaderStats
from .container import open_video
from .damage import DamageLog
from .index import NONREF_B_CODECS, VideoIndex
from .parallel import MAX_WORKERS, decode_segments
from .plan import Segment, plan
from .scan import luma_crc, save_index


@dataclass
class Decoded:
    """One wanted frame's outcome."""

    index: int
    frame: Any  #: the av.VideoFrame (None when not delivered)
    status: Status  #: OK, WARNING (damaged, delivered), CORRUPT (damaged, refused) or MISSING
    message: str = ""


@dataclass
class _Run:
    """What one decoding run learnt (besides the frames it yielded)."""

    anchored: bool = False
    inexact: bool = False  #: a frame decoded after the seek differs from the sequential decode
    errors: list[str] = field(default_factory=list)


@dataclass
class _Held:
    pos: int
    frame: Any
    dec: int | None  #: decode index of the frame's packet in this run (None: unknown)
    out: int  #: frames output in this run when it came out


class VideoDecoder:
    """Decodes the wanted frames of one file (a source video or one of its renditions)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        index: VideoIndex,
        stats: ReaderStats,
        *,
        strict: bool = True,
        lowres: int = 0,
        cache: Path | str | None | bool = None,
        workers: int = 1,
    ):
        import av

        self._av = av
        self.path = Path(path)
        self.index = index
        self.stats = stats
        self.strict = strict
        self.lowres = lowres
        self.cache = cache
        self.seeks = 0
        self._container: Any = None
        self._pos = {int(t): i for i, t in enumerate(index.pts)} if index.identity == "pts" else {}
        self._hold = index.reorder + 1
        self._seekable = True
        self._skipping = True  #: skip_frame may be used (False once it gave an inexact frame)
        self._threads = 0  #: decoder threads for the current plan (0: FFmpeg's choice)
        self.workers = max(1, min(int(workers), MAX_WORKERS))  #: segments decoded side by side
        self._clones: list[VideoDecoder] = []

    # -- container ------------------------------------------------------------------------------
    def _open(self) -> Any:
        if self._container is None:
            self._container = open_video(self.path)
            stream = self._container.streams.video[0]
            stream.thread_type = "AUTO"
            if self._threads:
                stream.codec_context.thread_count = self._threads
            if self.lowres:
                stream.codec_context.options = {"lowres": str(self.lowres)}
        return self._container

    def close(self) -> None:
        self._close_container()
        for c in self._clones:
            c.close()

    def _close_container(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None

    # -- public ---------------------------------------------------------------------------------
    def frames(self, wanted: np.ndarray) -> Iterator[Decoded]:
        """One :class:`Decoded` per frame of ``wanted`` (ascending, unique), mostly ascending."""
        segments = plan(self.index, np.asarray(wanted, np.int64))
        # frame threads decode several frames at once but each thread waits for the frames it
        # references: a seek point and a frame or two per segment leave nothing to overlap, and
        # starting and draining the threads costs more than they save. Sparse plans decode on
        # one thread. (Not slice threads: FFmpeg's H.264 decoder then conceals damaged macroblocks
        # without flagging the frame.)
        threads = 1 if len(wanted) < 2 * len(segments) else 0
        if threads != self._threads:
            self.close()
            self._threads = threads
        if threads == 1 and self.workers > 1 and len(segments) > 1:
            yield from decode_segments(self, segments, self.workers)
            return
        for seg in segments:
            yield from self._segment(seg)

    # -- segments -------------------------------------------------------------------------------
    def _chain(self, start: int) -> list[int]:
        """Seek points to try for a segment: its own, then ever earlier ones, ending at 0 (from
        the start: always exact)."""
        if not self._seekable:
            return [0]
        keys = self.index.keyframes
        k = int(np.searchsorted(keys, start))
        earlier = [int(keys[max(k - 2**j, 0)]) for j in range(40) if k - 2 ** (j - 1) > 0]
        return list(dict.fromkeys([start, *earlier, 0]))

    def _segment(self, seg: Segment) -> Iterator[Decoded]:
        remaining = {int(t) for t in seg.targets}
        errors: list[str] = []
        first = seg.skip if self._skipping else "DEFAULT"
        modes = [first] if first == "DEFAULT" else [first, "DEFAULT"]
        for skip in modes:  # a target skipped as a non-reference frame is decoded again without skipping
            for seek_to in self._chain(seg.start):
                if not remaining:
                    break
                if seek_to > min(remaining) or (
                    seek_to and not (self._seekable and self.index.keyframe[seek_to])
                ):
                    continue
                run = _Run()
                for d in self._run(sorted(remaining), seek_to, skip, run):
                    remaining.discard(d.index)
                    yield d
                errors += run.errors
                if run.inexact and skip != "DEFAULT":
                    # a frame unlike the sequential decode's after skipping frames: skipping is
                    # not exact in this file (packed B-frames, damage); decode everything
                    self._skipping = False
                    break
                if run.inexact and self._seekable:
                    self._abandon(seek_to)
                elif run.anchored:
                    break
            if not remaining:
                return
        reason = (
            "; ".join(dict.fromkeys(errors[:3]))
            or "the decoder did not produce this frame (missing or undecodable data)"
        )
        for t in sorted(remaining):
            yield Decoded(t, None, Status.MISSING, reason)

    def _abandon(self, seek_to: int) -> None:
        """A seek point gave a frame unlike the sequential decode's: never use it again."""
        if seek_to > 0 and self.index.keyframe[seek_to]:
            self.index.keyframe[seek_to] = False
            save_index(self.index, self.cache)

    # -- one run --------------------------------------------------------------------------------
    def _run(self, targets: list[int], seek_to: int, skip: str, run: _Run) -> Iterator[Decoded]:
        av, ix = self._av, self.index
        if seek_to == 0:  # decoding from the very start needs no seek: a fresh decoder
            self._close_container()  # (its own only: clones may be decoding other segments)
        container = self._open()
        stream = container.streams.video[0]
        if seek_to > 0:
            self.seeks += 1
            try:
                container.seek(int(ix.pts[seek_to]), stream=stream, backward=True, any_frame=False)
            except av.error.FFmpegError as exc:  # the demuxer cannot seek there: try earlier
                run.errors.append(f"seek to frame {seek_to} failed: {exc}")
                return
        cc = stream.codec_context
        by_pts = ix.identity == "pts"
        # frames decoded after a seek or while skipping others are checked against the
        # sequential decode's CRCs where the index has them
        verify = ix.crc is not None and (seek_to > 0 or skip != "DEFAULT") and not self.lowres
        check_pos = ix.pos is not None and seek_to > 0 and by_pts
        wanted = set(targets)
        last = targets[-1]
        per_packet = skip == "NONREF"  # skip non-reference frames except the targets themselves
        wanted_pts = {int(ix.pts[i]) for i in targets}
        target_pts = wanted_pts if per_packet else set()
        # where a packet's timestamp is its frame's (container timing), reading stops once every
        # target's packet is in the decoder and a flush brings them out: nothing after the last
        # target is demuxed or decoded (frame threads and B-frame reordering would otherwise
        # want several more packets before giving the last target out)
        unsent = set(wanted_pts) if by_pts and ix.timing == "container" else None
        sent_all = False
        cc.skip_frame = "DEFAULT" if per_packet else skip
        run.anchored = seek_to == 0
        state = DamageLog()
        dec_of: dict[int, int] = {}  # packet pts -> decode index in this run
        came_out: set[int] = set()  # decode indices whose frame came out
        held: deque[_Held] = deque()
        d = -1
        outputs = 0
        count = -1
        last_pos = -1
        stop = drained = False

        def take(frame: Any, flushing: bool = False) -> None:
            nonlocal outputs, count, last_pos, stop
            outputs += 1
            if by_pts:
                pos = None if frame.pts is None else self._pos.get(int(frame.pts))
                dec = None if frame.pts is None else dec_of.get(int(frame.pts))
                if dec is not None:
                    came_out.add(dec)
            else:
                count += 1
                pos, dec = count, None
            if not (flushing and (pos is None or pos > last)):
                # frames past the last wanted one come out only when the decoder is flushed: decoder
                # threads decode a few frames ahead in any reader, they are not counted
                self.stats.frames_decoded += 1
                self.stats.pixels_decoded += frame.width * frame.height
            if pos is None:
                return
            if not run.anchored:
                if pos == seek_to:
                    run.anchored = True
                elif pos > seek_to:
                    stop = True  # overshot the seek point's frame: the seek landed after it
                    return
                else:
                    return  # a frame before the seek point (leading picture): not ours
            if pos <= last_pos:
                return
            last_pos = pos
            if frame.is_corrupt:  # its own error: reason() names it for this frame
                state.error(dec if dec is not None else d, "FFmpeg flagged it as decoded with errors")
            if pos in wanted:
                held.append(_Held(pos, frame, dec, outputs))
            if pos >= last:
                stop = True

        try:
            for packet in container.demux(stream):
                if packet.size:
                    d += 1
                    if packet.is_corrupt:  # the demuxer saw damage (MPEG-TS continuity errors, ...)
                        state.error(d, "the container flagged its data as damaged", upto=d)
                        run.errors.append(f"damaged packet near pts {packet.pts}")
                    if packet.pts is not None:
                        t = int(packet.pts)
                        dec_of[t] = d
                        if check_pos and not self._same_place(t, packet.pos):
                            # after this seek the demuxer labels packets differently than when
                            # reading from the start (a damaged container index): seeks cannot
                            # be trusted in this file; decode from the start instead
                            self._seekable = False
                            run.inexact = True
                            break
                        if packet.is_keyframe and by_pts:
                            p = self._pos.get(t)
                            if p is not None and ix.keyframe[p]:
                                state.keyframe(d, p, self._ends_damage(p))
                    if per_packet:
                        # FFmpeg reads skip_frame per packet: a target packet is always decoded
                        want = "DEFAULT" if packet.pts is None or int(packet.pts) in target_pts else "NONREF"
                        if cc.skip_frame != want:
                            cc.skip_frame = want
                try:
                    frames = packet.decode()
                except av.error.FFmpegError as exc:  # a damaged packet: its frame never comes out
                    # with frame threads the error may belong to a packet sent up to a few earlier
                    first = max(0, d - max(cc.thread_count, 1) + 1)
                    state.error(first, f"decoder error near pts {packet.pts}", upto=d)
                    run.errors.append(f"decoder error near pts {packet.pts}: {exc}")
                    continue
                for frame in frames:
                    if stop:  # decoded ahead by decoder threads: not wanted, not counted
                        break
                    take(frame)
                yield from self._release(held, outputs - self._hold, state, verify, run)
                if stop or run.inexact:
                    break
                if unsent is not None and packet.pts is not None:
                    unsent.discard(int(packet.pts))
                    if not unsent:
                        sent_all = True
                        break
            else:
                drained = True  # the end of the stream: PyAV's last (empty) packet flushed the decoder
        except av.error.FFmpegError as exc:  # the demuxer gave up (truncated or damaged file)
            state.error(d + 1, "the file is damaged or truncated here")
            run.errors.append(f"the file ends or is damaged after packet {d}: {exc}")
        except IndexError:  # PyAV's end-of-stream flush fails when damage made the demuxer add streams
            pass
        finally:
            cc.skip_frame = "DEFAULT"
        if not run.inexact and not drained and (sent_all or self._unsettled(held, dec_of, came_out, state)):
            try:  # flush: frames already sent come out (their damage included), nothing more is read
                for frame in cc.decode(None):
                    take(frame, flushing=True)
            except av.error.EOFError:
                pass
            except av.error.FFmpegError as exc:
                state.error(d, "decoder error while flushing")
                run.errors.append(f"decoder error: {exc}")
        yield from self._release(held, None, state, verify, run)

    def _same_place(self, t: int, where: int | None) -> bool:
        """Does the packet with timestamp ``t`` come from where the index saw it?"""
        p = self._pos.get(t)
        if p is None or where is None or where < 0:
            return True
        want = int(self.index.pos[p])  # type: ignore[index]
        return want < 0 or want == int(where)

    def _ends_damage(self, pos: int) -> str:
        """How the keyframe at ``pos`` ends damage before it (see :meth:`DamageLog.keyframe`)."""
        closed = self.index.closed
        if closed is None or closed[pos]:
            return "decoded"
        return "shown" if self.index.codec in NONREF_B_CODECS else ""

    def _unsettled(
        self, held: deque[_Held], dec_of: dict[int, int], came_out: set[int], state: DamageLog
    ) -> bool:
        """Could a frame still inside the decoder (decoded before a held frame, shown after it:
        its reference) turn out damaged? Then the decoder is flushed to find out; otherwise the
        frames in flight are left alone (a seek discards them)."""
        if not held:
            return False
        if any(h.dec is None for h in held):
            return True
        errored = {e for e, _ in state.errors}
        for t, dec in dec_of.items():
            if dec in came_out or dec in errored:
                continue
            pos = self._pos.get(t)
            if pos is not None and any(dec < h.dec and pos > h.pos for h in held):
                return True
        return False

    def _release(
        self, held: deque[_Held], upto: int | None, state: DamageLog, verify: bool, run: _Run
    ) -> Iterator[Decoded]:
        """Decide the status of held frames that are final: ``reorder + 1`` frames came out after
        them (``upto``), or the run is over (None)."""
        while held and (upto is None or held[0].out <= upto) and not run.inexact:
            h = held.popleft()
            reason = state.reason(h.dec, h.pos)
            if reason:
                msg = f"frame {h.pos} is damaged: {reason}"
                if self.strict:
                    yield Decoded(h.pos, None, Status.CORRUPT, msg + " (strict=False delivers its pixels)")
                else:
                    yield Decoded(h.pos, h.frame, Status.WARNING, msg)
                continue
            if verify:
                want = int(self.index.crc[h.pos])
                if want != -1 and luma_crc(h.frame) != want:
                    run.inexact = True  # this seek point is not exact: the caller tries an earlier one
                    held.clear()
                    return
            yield Decoded(h.pos, h.frame, Status.OK)
