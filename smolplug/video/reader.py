"""VideoReader: the video FrameReader — plan, seek, decode forward, convert wanted frames only."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .. import _binding as native
from ..errors import SpecError, Status
from ..readers import FrameBatch, FrameReader, FrameRequest, ReaderStats
from ..selection import FrameSelection
from .frames import convert
from .index import VideoIndex, load_index
from .plan import Segment, plan
from .renditions import pick_rendition


class VideoReader(FrameReader):
    """Frames of one video file, decoded GOP by GOP.

    Every requested frame index is delivered (``Status.OK``) or reported (``Status.MISSING``
    when the decoder never produced it, with the reason); batches come in ascending frame
    order; ``stats`` counts decoded frames and pixels.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        request: FrameRequest,
        *,
        index: VideoIndex | None = None,
        cache: Path | str | None | bool = None,
    ):
        import av

        self._av = av
        self.path = Path(path)
        self.request = request
        self.index = index or load_index(self.path, cache)
        sel = request.frames
        if sel is None:
            sel = FrameSelection.all()
        elif not isinstance(sel, FrameSelection):
            sel = FrameSelection.indices(sel)
        self.wanted, self.invalid = sel.resolve(self.index.n_frames, self.index.timestamps)
        self.segments = plan(self.index, self.wanted)
        self.stats = ReaderStats(frames_requested=len(self.wanted) + len(self.invalid))
        self.seeks = 0
        size = min(request.batch_size, max(len(self.wanted) + len(self.invalid), 1))
        self._ring = [request.allocate(size) for _ in range(request.ring_size)]
        # Decode at the lowest resolution that covers the request: a low-res rendition (same
        # frames and keyframes, see renditions.py) or, for MJPEG, FFmpeg's DCT-domain `lowres`.
        spec, self.read_path, self.lowres, self.rendition = request.spec, self.path, 0, None
        if request.scale_headroom != float("inf"):
            rend, spec = pick_rendition(
                self.path, request.spec, self.index.width, self.index.height, request.scale_headroom
            )
            if rend is not None:
                self.rendition, self.read_path = rend, rend.path
            elif self.index.codec == "mjpeg":
                self.lowres, spec = _pick_lowres(
                    request.spec, self.index.width, self.index.height, request.scale_headroom
                )
        self._read_index = self.index
        if self.rendition is not None:
            self._read_index = load_index(self.read_path, cache)
            if self._read_index.n_frames != self.index.n_frames:
                raise SpecError(
                    f"rendition {self.read_path} has {self._read_index.n_frames} frames, the source "
                    f"{self.index.n_frames}: remake the renditions"
                )
        self._cspec = native.make_spec(
            spec, strict=request.strict, max_pixels=request.max_pixels, fastdct=False, fastupsample=False
        )
        self._container: Any = None

    def __len__(self) -> int:
        return len(self.wanted) + len(self.invalid)

    # -- decoding ---------------------------------------------------------------------------
    def _open(self) -> Any:
        if self._container is None:
            self._container = self._av.open(str(self.read_path))
            stream = self._container.streams.video[0]
            stream.thread_type = "AUTO"
            if self.lowres:
                stream.codec_context.options = {"lowres": str(self.lowres)}
        return self._container

    def _decode_segment(
        self, seg: Segment, skip: str, seek_to: int
    ) -> tuple[dict[int, Any], list[str], bool]:
        """Decode from keyframe ``seek_to`` (0: reopen, no seek) up to the segment's last target.

        Returns (frames by index, errors, anchored). A target is accepted only after the
        segment's own keyframe was output in this run: frames come out in presentation order,
        so that keyframe precedes every target, and an intra frame decodes correctly however
        the decoder got there. ``anchored`` is False when the keyframe never appeared (the
        demuxer landed after it: MPEG-TS and other index-less containers seek imprecisely).
        """
        av = self._av
        if seek_to == 0:
            self.close()  # decoding from the very start needs no seek
        container = self._open()
        stream = container.streams.video[0]
        if seek_to > 0:
            container.seek(int(self._read_index.pts[seek_to]), stream=stream, backward=True, any_frame=False)
            self.seeks += 1
        cc = stream.codec_context
        per_packet = skip == "NONREF"  # skip non-reference frames except the targets themselves
        target_pts = {int(self._read_index.pts[i]) for i in seg.targets} if per_packet else set()
        cc.skip_frame = "DEFAULT" if per_packet else skip
        pts_to_index = {int(self._read_index.pts[i]): int(i) for i in seg.targets}
        anchor_pts = int(self._read_index.pts[seg.start])
        last_pts = int(self._read_index.pts[seg.last])
        got: dict[int, Any] = {}
        errors: list[str] = []
        anchored = False
        try:
            for packet in container.demux(stream):
                if per_packet:
                    # FFmpeg reads skip_frame per packet: a target packet is always decoded
                    want = "DEFAULT" if packet.pts is None or int(packet.pts) in target_pts else "NONREF"
                    if cc.skip_frame != want:
                        cc.skip_frame = want
                try:
                    frames = packet.decode()
                except av.error.FFmpegError as exc:  # a corrupt packet: its frame goes missing
                    errors.append(f"decoder error near pts {packet.pts}: {exc}")
                    continue
                for frame in frames:
                    self.stats.frames_decoded += 1
                    self.stats.pixels_decoded += frame.width * frame.height
                    if frame.pts is None:
                        continue
                    pts = int(frame.pts)
                    if pts == anchor_pts:
                        anchored = True
                    elif pts > anchor_pts and not anchored:
                        return got, errors, False  # overshot the keyframe
                    i = pts_to_index.get(pts)
                    if i is not None and anchored:
                        got[i] = frame
                    if pts >= last_pts:
                        return got, errors, anchored
        except av.error.FFmpegError as exc:  # the demuxer gave up (truncated file)
            errors.append(f"demuxer error: {exc}")
        finally:
            cc.skip_frame = "DEFAULT"
        return got, errors, anchored

    def _segment_frames(self, seg: Segment) -> Iterator[tuple[int, Any]]:
        """(index, frame or reason) for every target of the segment, in order; exact by construction."""
        keys = self._read_index.keyframes
        k = int(np.searchsorted(keys, seg.start))
        seeks = [seg.start] + [int(keys[max(k - 2**j, 0)]) for j in range(32) if k - 2 ** (j - 1) > 0]
        got: dict[int, Any] = {}
        errors: list[str] = []
        skip = seg.skip
        for seek_to in dict.fromkeys(seeks):  # ordered, unique; ends at 0 (from the start)
            frames, errs, anchored = self._decode_segment(seg, skip, seek_to)
            got.update(frames)
            errors += errs
            if anchored:
                break
        missing = [int(t) for t in seg.targets if int(t) not in got]
        if missing and skip != "DEFAULT":
            # targets that are non-reference frames were skipped: decode them without skipping
            retry = Segment(seg.start, np.asarray(missing, np.int64), "DEFAULT")
            for seek_to in dict.fromkeys(seeks):
                frames, errs, anchored = self._decode_segment(retry, "DEFAULT", seek_to)
                got.update(frames)
                errors += errs
                if anchored:
                    break
        reason = (
            "; ".join(errors[:3]) or "the decoder did not produce this frame (missing or undecodable data)"
        )
        for t in seg.targets:
            t = int(t)
            yield t, got.get(t, reason)

    def _items(self) -> Iterator[tuple[int, Any]]:
        for seg in self.segments:
            yield from self._segment_frames(seg)
        n = self.index.n_frames
        for i in self.invalid:
            yield int(i), f"frame {int(i)} does not exist (the video has {n} frames)"

    # -- batching ---------------------------------------------------------------------------
    def __iter__(self) -> Iterator[FrameBatch]:
        items = ((i, item, self._cspec, str(self.path)) for i, item in self._items())
        yield from batch_items(items, self.request, self._ring, self.index.timestamps, self.stats)

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None


def batch_items(
    items: Iterator[tuple[int, Any, Any, str]],
    req: FrameRequest,
    ring: list[np.ndarray],
    timestamps: np.ndarray,
    stats: ReaderStats,
) -> Iterator[FrameBatch]:
    """Convert (frame index, av.VideoFrame or reason, native spec, source) items into batches
    that fill the ring's buffers in turn; a reported frame's slot holds the padding value."""
    from ..errors import error_for

    bs, slot, k = req.batch_size, 0, 0
    buf = ring[0]
    idx: list[int] = []
    status: list[int] = []
    messages: list[str] = []
    sources: list[str] = []

    def flush() -> FrameBatch:
        n = len(timestamps)
        times = np.asarray([timestamps[i] if 0 <= i < n else np.nan for i in idx], np.float64)
        fb = FrameBatch(
            buf[: len(idx)],
            np.asarray(idx, np.int64),
            np.asarray(status, np.int8),
            list(messages),
            timestamps=times,
            sources=list(sources),
        )
        ok = int((fb.status <= Status.WARNING).sum())
        stats.frames_delivered += ok
        stats.frames_failed += len(idx) - ok
        if req.on_error == "raise" and ok < len(idx):
            j = int(np.flatnonzero(fb.status > Status.WARNING)[0])
            raise error_for(int(fb.status[j]), f"frame {idx[j]}: {messages[j]}", index=idx[j])
        return fb

    for i, item, cspec, source in items:
        if isinstance(item, str):
            req.spec.fill_frame(buf[slot])
            status.append(int(Status.MISSING))
            messages.append(item)
        else:
            res = convert(item, cspec, buf[slot])
            status.append(int(res["status"]))
            messages.append(res["message"])
        idx.append(i)
        sources.append(source)
        slot += 1
        if slot == bs:
            yield flush()
            k += 1
            buf = ring[k % len(ring)]
            slot, idx, status, messages, sources = 0, [], [], [], []
    if idx:
        yield flush()


def _pick_lowres(spec: Any, w: int, h: int, headroom: float) -> tuple[int, Any]:
    """Largest FFmpeg ``lowres`` k (decode at 1/2**k) whose frame still covers the request."""
    from ..geometry import compute_geometry

    g = compute_geometry(spec, w, h)
    k = 0
    while k < 3 and g.sw / 2 ** (k + 1) >= g.dw * headroom and g.sh / 2 ** (k + 1) >= g.dh * headroom:
        k += 1
    if k and spec.roi is not None:
        x, y, rw, rh = spec.roi
        f = 2**k
        spec = spec.replace(roi=(x / f, y / f, rw / f, rh / f))
    return k, spec
