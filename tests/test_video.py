"""Video reader: exact frames under every plan, sampling, errors, conversion."""

from __future__ import annotations

import numpy as np
import pytest

av = pytest.importorskip("av", reason="PyAV not installed")

import smolplug  # noqa: E402
from smolplug import FrameRequest, FrameSpec, Status  # noqa: E402
from smolplug.request.selection import FrameSelection  # noqa: E402
from smolplug.video import VideoReader, load_index  # noqa: E402
from smolplug.video.plan import plan  # noqa: E402
from smolplug.video.scan import build_index  # noqa: E402

from .clips import make_clip, sequential_planes  # noqa: E402
from .conftest import DATA  # noqa: E402

CLIPS = {
    "h264-closed-gop-bframes": dict(codec="libx264", gop=12, bframes=3),
    "h264-open-gop": dict(codec="libx264", gop=15, bframes=2, options={"open_gop": True}),
    "h264-vfr": dict(codec="libx264", gop=10, bframes=2, vfr=True),
    "mpeg4-bframes": dict(codec="mpeg4", gop=10, bframes=2),
    "mjpeg": dict(codec="mjpeg", gop=1, bframes=0, pix_fmt="yuvj420p"),
    "h264-mpegts": dict(codec="libx264", gop=12, bframes=2),  # no index: imprecise seeks
    "hevc-bframes": dict(codec="libx265", gop=12, bframes=3),
    "hevc-10bit": dict(codec="libx265", gop=10, bframes=2, pix_fmt="yuv420p10le"),  # via reformat
}
EXT = {"h264-vfr": ".mkv", "mpeg4-bframes": ".avi", "mjpeg": ".avi", "h264-mpegts": ".ts"}


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("clips")
    return {name: make_clip(d / f"{name}{EXT.get(name, '.mp4')}", n=70, **kw) for name, kw in CLIPS.items()}


SELECTIONS = [
    FrameSelection.all(),
    FrameSelection.every(7),
    FrameSelection.every(30, offset=5),
    FrameSelection.sample(n=9, seed=3),
    FrameSelection.indices([0, 1, 2, 11, 12, 13, 40, 69]),
    FrameSelection.frames(20, 35, 2),
]


def _raw_frames(reader: VideoReader) -> dict[int, list[np.ndarray]]:
    out = {}
    for i, item in reader._items():
        assert not isinstance(item, str), (i, item)
        out[i] = [np.frombuffer(p, np.uint8).reshape(-1, p.line_size).copy() for p in item.planes]
    return out


@pytest.mark.parametrize("name", sorted(CLIPS))
@pytest.mark.parametrize("sel", SELECTIONS, ids=lambda s: f"{s.kind}{s.args}"[:30])
def test_every_plan_decodes_exactly_the_sequential_frames(clips, name, sel):
    path = clips[name]
    ref = sequential_planes(path)
    index = build_index(path)
    assert sorted(ref) == index.pts.tolist(), "index must list exactly the frames a sequential decode outputs"
    full_res = FrameRequest(FrameSpec(8, 8), frames=sel, scale_headroom=float("inf"))  # no lowres/renditions
    reader = VideoReader(path, full_res, index=index)
    got = _raw_frames(reader)
    assert sorted(got) == reader.wanted.tolist()
    for i, planes in got.items():
        want = ref[int(index.pts[i])]
        assert all(np.array_equal(a, b) for a, b in zip(planes, want, strict=True)), (name, i)
    reader.close()


def test_plan_seeks_once_per_gop_and_stops_at_last_target(clips):
    index = build_index(clips["h264-closed-gop-bframes"])
    assert index.keyframes.tolist() == list(range(0, 70, 12))
    segs = plan(index, np.array([3, 5, 30, 31, 60]))
    assert [(s.start, s.targets.tolist()) for s in segs] == [(0, [3, 5]), (24, [30, 31]), (60, [60])]
    assert segs[-1].skip == "NONKEY"
    # keyframe 24 directly follows target 23: continuing decodes nothing extra, so no seek
    assert [s.targets.tolist() for s in plan(index, np.array([13, 23, 25]))] == [[13, 23, 25]]
    # keyframe 24 lies two frames past target 22: seeking skips frame 23
    assert [s.targets.tolist() for s in plan(index, np.array([13, 22, 25]))] == [[13, 22], [25]]


def test_sparse_plan_decodes_fewer_frames(clips):
    path = clips["h264-closed-gop-bframes"]
    spec = FrameSpec(16, 16)
    full = VideoReader(path, FrameRequest(spec))
    list(full)
    sparse = VideoReader(path, FrameRequest(spec, frames=FrameSelection.indices([1, 25, 49])))
    list(sparse)
    assert sparse.frames_decoded < full.frames_decoded / 3
    assert sparse.pixels_decoded < full.pixels_decoded / 3


def test_ten_bit_frames_convert_through_reformat(clips):
    from .conftest import psnr

    path = clips["hevc-10bit"]
    spec = FrameSpec(48, 80)
    with VideoReader(path, FrameRequest(spec, frames=[0, 17], scale_headroom=float("inf"))) as reader:
        (b,) = list(reader)
        assert b.status.tolist() == [0, 0]
    with av.open(str(path)) as c:
        first = next(c.decode(c.streams.video[0]))
        assert first.format.name == "yuv420p10le"
        from PIL import Image

        ref = np.asarray(
            Image.fromarray(first.to_ndarray(format="rgb24")).resize((80, 48), Image.Resampling.BILINEAR),
            np.float32,
        ).transpose(2, 0, 1)
    assert psnr(b.data[0], ref) >= 35


def test_batches_timestamps_and_conversion(clips):
    path = clips["h264-vfr"]
    index = build_index(path)
    spec = FrameSpec(48, 80, layout="NHWC", dtype="uint8")
    reader = VideoReader(path, FrameRequest(spec, batch_size=4, frames=FrameSelection.every(5)))
    batches = []
    for bt in reader:  # batch data lives in a 2-slot ring: copy what is kept
        bt.data = bt.data.copy()
        batches.append(bt)
    idx = np.concatenate([b.indices for b in batches])
    assert idx.tolist() == list(range(0, 70, 5))
    ts = np.concatenate([b.timestamps for b in batches])
    assert np.allclose(ts, index.timestamps[idx])
    assert [len(b) for b in batches] == [4, 4, 4, 2]
    # conversion equals converting the sequentially decoded frame
    from smolplug import _binding
    from smolplug.video.frames import convert

    cspec = _binding.make_spec(spec, strict=True, max_pixels=None, fastdct=False, fastupsample=False)
    with av.open(str(path)) as c:
        seq = {int(f.pts): f for f in c.decode(c.streams.video[0])}
        for b in batches:
            for j, i in enumerate(b.indices):
                want = np.empty(spec.frame_shape, np.uint8)
                convert(seq[int(index.pts[i])], cspec, want)
                assert np.array_equal(b.data[j], want)


def test_time_range_selection(clips):
    path = clips["h264-vfr"]
    index = build_index(path)
    t = index.timestamps
    reader = VideoReader(path, FrameRequest(FrameSpec(8, 8), frames=FrameSelection.seconds(t[10], t[20])))
    assert reader.wanted.tolist() == list(range(10, 20))


def test_missing_frames_reported_not_dropped(clips):
    path = clips["mpeg4-bframes"]
    req = FrameRequest(FrameSpec(8, 8), frames=[3, 500, 7], on_error="skip")
    with VideoReader(path, req) as reader:
        (b,) = list(reader)
    assert b.indices.tolist() == [3, 500, 7]  # request order: reported at its place
    assert b.status.tolist() == [Status.OK, Status.MISSING, Status.OK]
    assert "does not exist" in b.messages[1] and np.isnan(b.timestamps[1])
    with (
        pytest.raises(smolplug.errors.MissingFrameError),
        VideoReader(path, FrameRequest(FrameSpec(8, 8), frames=[500])) as r,
    ):
        list(r)


def test_truncated_and_corrupt_streams_report_every_frame(tmp_path):
    src = make_clip(tmp_path / "src.ts", n=60, gop=12, bframes=2).read_bytes()  # MPEG-TS: streamable
    cut = tmp_path / "cut.ts"
    cut.write_bytes(src[: int(len(src) * 0.5) // 188 * 188])
    bad = bytearray(src)
    rng = np.random.default_rng(0)
    for pos in rng.integers(len(src) // 4, len(src) * 3 // 4, 40):
        bad[pos] ^= 0xFF
    corrupt = tmp_path / "corrupt.ts"
    corrupt.write_bytes(bytes(bad))
    full = build_index(tmp_path / "src.ts")
    for path in (cut, corrupt):
        wanted = FrameSelection.indices(range(full.n_frames))  # ask for every frame the original had
        req = FrameRequest(FrameSpec(8, 8), frames=wanted, on_error="skip", batch_size=16)
        with VideoReader(path, req) as reader:
            batches = list(reader)
        idx = np.concatenate([b.indices for b in batches])
        status = np.concatenate([b.status for b in batches])
        assert sorted(idx.tolist()) == list(range(full.n_frames)), path.name  # nothing dropped
        assert set(status.tolist()) <= {Status.OK, Status.CORRUPT, Status.MISSING}
        missing = [m for b in batches for m, st in zip(b.messages, b.status, strict=True) if st != Status.OK]
        assert all(missing)
        if path is cut:
            assert (status == Status.OK).sum() >= 20 and (status == Status.MISSING).sum() >= 20


def test_index_cache_is_reused_and_invalidated(clips, tmp_path):
    import os
    import shutil

    path = tmp_path / "v.mp4"
    shutil.copy(clips["h264-closed-gop-bframes"], path)
    cache = tmp_path / "cache"
    first = load_index(path, cache)
    files = list(cache.glob("*.index.json"))
    assert len(files) == 1
    stamp = files[0].stat().st_mtime_ns
    again = load_index(path, cache)
    assert again.pts.tolist() == first.pts.tolist() and files[0].stat().st_mtime_ns == stamp
    make_clip(path, n=30)  # the file changes: the cached index must not be used
    os.utime(path, ns=(stamp + 10**9, stamp + 10**9))
    assert load_index(path, cache).n_frames == 30


@pytest.mark.parametrize(
    "fmt", ["yuv420p", "yuvj420p", "nv12", "yuv422p", "yuv444p", "gray", "rgb24", "bgr24"]
)
def test_pixel_formats_agree_with_ffmpeg_rgb(fmt):
    from PIL import Image

    from .clips import moving_frame
    from .conftest import psnr

    rgb = moving_frame(7, 166, 98)
    src = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format=fmt)
    spec = FrameSpec(49, 83, colorspace="GRAY" if fmt == "gray" else "RGB")
    from smolplug import _binding
    from smolplug.video.frames import convert

    out = np.empty(spec.frame_shape, np.float32)
    res = convert(
        src, _binding.make_spec(spec, strict=True, max_pixels=None, fastdct=False, fastupsample=False), out
    )
    assert res["status"] == 0, res
    ref_img = src.to_ndarray(format="gray" if fmt == "gray" else "rgb24")
    mode = "L" if fmt == "gray" else "RGB"
    ref = np.asarray(Image.fromarray(ref_img, mode).resize((83, 49), Image.Resampling.BILINEAR), np.float32)
    ref = ref[None] if ref.ndim == 2 else ref.transpose(2, 0, 1)
    assert psnr(out, ref) >= 35, fmt


def test_roi_on_video_frames(clips):
    path = clips["h264-closed-gop-bframes"]
    full = VideoReader(path, FrameRequest(FrameSpec(96, 160, dtype="uint8"), frames=[9]))
    (fb,) = list(full)
    roi = VideoReader(path, FrameRequest(FrameSpec(40, 50, roi=(30, 20, 50, 40), dtype="uint8"), frames=[9]))
    (rb,) = list(roi)
    assert np.abs(rb.data[0].astype(int) - fb.data[0][:, 20:60, 30:80]).max() <= 1


def test_real_clips(tmp_path):
    for name in ("vtest.avi", "bikes.mp4"):
        path = DATA / "video" / name
        if not path.exists():
            pytest.skip(f"{path} not found (../shared/data absent)")
        ref = sequential_planes(path)
        index = build_index(path)
        assert sorted(ref) == index.pts.tolist()
        reader = VideoReader(
            path, FrameRequest(FrameSpec(8, 8), frames=FrameSelection.sample(n=25, seed=1)), index=index
        )
        for i, planes in _raw_frames(reader).items():
            assert all(np.array_equal(a, b) for a, b in zip(planes, ref[int(index.pts[i])], strict=True)), (
                name,
                i,
            )


def test_open_frames_hook_serves_videos(clips, pm):
    req = FrameRequest(FrameSpec(16, 16), frames=FrameSelection.every(10))
    with smolplug.open_frames(clips["mpeg4-bframes"], req, pm=pm) as reader:
        assert isinstance(reader, VideoReader)
        assert np.concatenate([b.indices for b in reader]).tolist() == list(range(0, 70, 10))


def test_mjpeg_lowres_decodes_exactly_at_reduced_size(clips):
    path = clips["mjpeg"]
    spec = FrameSpec(20, 40)  # the clip is 160x96: 1/4 still covers 40x20
    reader = VideoReader(path, FrameRequest(spec, frames=FrameSelection.every(9)))
    assert reader.lowres == 2
    got = _raw_frames(reader)
    with av.open(str(path)) as c:
        st = c.streams.video[0]
        st.codec_context.options = {"lowres": "2"}
        ref = {
            int(f.pts): [np.frombuffer(p, np.uint8).reshape(-1, p.line_size).copy() for p in f.planes]
            for f in c.decode(st)
        }
    assert all(
        np.array_equal(a, b)
        for i, pl in got.items()
        for a, b in zip(pl, ref[int(reader.index.pts[i])], strict=True)
    )
    lo = np.concatenate([b.data.copy() for b in VideoReader(path, FrameRequest(spec, frames=[9]))])
    hi = np.concatenate(
        [
            b.data.copy()
            for b in VideoReader(path, FrameRequest(spec, frames=[9], scale_headroom=float("inf")))
        ]
    )
    from .conftest import psnr

    assert psnr(lo, hi) >= 30


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    from smolplug.video.renditions import make_renditions

    d = tmp_path_factory.mktemp("rend")
    src = make_clip(d / "src.mp4", n=50, w=320, h=192, gop=10, bframes=2)
    return src, make_renditions(src, [96, 48])


def test_renditions_keep_frames_timestamps_and_keyframes(rendered):
    src, rends = rendered
    base = build_index(src)
    assert [(r.width, r.height) for r in rends] == [(160, 96), (80, 48)]
    for r in rends:
        ix = build_index(r.path)
        assert ix.n_frames == base.n_frames
        assert ix.keyframes.tolist() == base.keyframes.tolist()
        assert np.allclose(ix.timestamps, base.timestamps)


def test_reader_picks_smallest_covering_rendition(rendered):
    from .conftest import psnr

    src, _ = rendered
    cases = [
        (FrameSpec(40, 60), 48),
        (FrameSpec(64, 100), 96),
        (FrameSpec(150, 250), None),
        (FrameSpec(40, 40, roi=(160, 96, 80, 80)), 96),
    ]
    for spec, height in cases:
        r = VideoReader(src, FrameRequest(spec, frames=[0, 13, 49]))
        assert (r.rendition.height if r.rendition else None) == height, spec
        low = np.concatenate([b.data.copy() for b in r])
        ref = np.concatenate(
            [
                b.data.copy()
                for b in VideoReader(src, FrameRequest(spec, frames=[0, 13, 49], scale_headroom=float("inf")))
            ]
        )
        assert psnr(low, ref) >= 28, spec
        assert r.pixels_decoded <= VideoReader(src, FrameRequest(spec)).index.width * 192 * 50


def test_stale_manifest_is_ignored(rendered, tmp_path):
    import shutil

    from smolplug.video.renditions import list_renditions

    src, _ = rendered
    copy = tmp_path / "src.mp4"
    shutil.copy2(src, copy)  # same bytes and mtime: same fingerprint, the same cached renditions
    assert len(list_renditions(copy)) == 2
    make_clip(copy, n=20)  # the source changes: renditions no longer match
    assert list_renditions(copy) == []


def test_renditions_go_to_the_cache_and_leave_the_media_folder_alone(tmp_path, monkeypatch):
    from smolplug.video.renditions import list_renditions, make_renditions

    monkeypatch.setenv("SMOLPLUG_CACHE_DIR", str(tmp_path / "cache"))
    media = tmp_path / "media"
    media.mkdir()
    src = make_clip(media / "c.mp4", n=14, w=128, h=64, gop=7)
    rends = make_renditions(src, [32])
    assert sorted(p.name for p in media.iterdir()) == ["c.mp4"]  # nothing written beside the video
    assert all((tmp_path / "cache") in r.path.parents for r in rends)
    assert [r.height for r in list_renditions(src)] == [32]


def test_renditions_beside_the_source_when_asked(tmp_path):
    from smolplug.video.renditions import list_renditions, make_renditions, manifest_path

    src = make_clip(tmp_path / "c.mp4", n=14, w=128, h=64, gop=7)
    rends = make_renditions(src, [32], beside_source=True)
    assert manifest_path(src).is_file() and rends[0].path.parent == tmp_path / "c.mp4.renditions"
    assert [r.height for r in list_renditions(src)] == [32]


def test_cli_renditions_make(tmp_path):
    from smolplug.cli import main
    from smolplug.video.renditions import list_renditions

    src = make_clip(tmp_path / "c.mp4", n=12, w=128, h=64, gop=6)
    assert main(["renditions", "make", str(src), "--heights", "32,16"]) == 0
    assert [r.height for r in list_renditions(src)] == [16, 32]
    assert main(["renditions", "make", str(src), "--heights", "64"]) == 1  # not smaller than the source
    assert main(["renditions", "make", str(src), "--heights", "x"]) == 2
    assert main(["renditions", "make", str(src), "--heights", "16", "--beside-source"]) == 0
    assert (tmp_path / "c.mp4.renditions.json").is_file()


def test_numbered_chunks_read_as_one_video(tmp_path, pm):
    from smolplug.video.chunks import ChunkedVideoReader

    d = tmp_path / "chunks"
    d.mkdir()
    for k, n in [(0, 20), (1, 15), (2, 25), (10, 5)]:  # natural order: 10 comes last
        make_clip(d / f"part_{k}.mp4", n=n, gop=8, bframes=2)
    sizes = [20, 15, 25, 5]
    offsets = np.cumsum([0] + sizes)
    sel = FrameSelection.indices([0, 19, 20, 34, 35, 59, 60, 64, 65])
    req = FrameRequest(FrameSpec(8, 8), frames=sel, on_error="skip", scale_headroom=float("inf"))
    with smolplug.open_frames(d, req, pm=pm) as reader:
        assert isinstance(reader, ChunkedVideoReader)
        assert len(reader) == 9
        items = list(reader._items())
    assert [i for i, *_ in items] == [0, 19, 20, 34, 35, 59, 60, 64, 65]
    assert isinstance(items[-1][1], str) and "does not exist" in items[-1][1]
    chunk_names = ["part_0.mp4", "part_1.mp4", "part_2.mp4", "part_10.mp4"]
    for i, frame, _, source in items[:-1]:
        k = int(np.searchsorted(offsets, i, side="right") - 1)
        assert source.endswith(chunk_names[k])
        ref = sequential_planes(d / chunk_names[k])
        local_pts = sorted(ref)[i - offsets[k]]
        planes = [np.frombuffer(p, np.uint8).reshape(-1, p.line_size) for p in frame.planes]
        assert all(np.array_equal(a, b) for a, b in zip(planes, ref[local_pts], strict=True)), i
    with ChunkedVideoReader(d, FrameRequest(FrameSpec(8, 8))) as reader:
        batches = [(b.indices.copy(), b.timestamps.copy()) for b in reader]
    idx = np.concatenate([b[0] for b in batches])
    ts = np.concatenate([b[1] for b in batches])
    assert idx.tolist() == list(range(65)) and np.all(np.diff(ts) > 0)


@pytest.mark.parametrize(
    "kw", [dict(codec="libx264", gop=12, bframes=2), dict(codec="mpeg4", gop=8, bframes=0)]
)
def test_sparse_plans_decoded_side_by_side_give_the_same_frames(tmp_path, kw):
    """Segments of a sparse plan decoded by several decoders at once: the same outcomes, in the
    same order, the same frames decoded, as one decoder; leaving early stops the workers."""
    import threading
    import zlib

    from smolplug.frames.readers import ReaderStats
    from smolplug.video.decode import VideoDecoder

    path = make_clip(tmp_path / ("c.mp4" if kw["codec"] == "libx264" else "c.avi"), n=96, w=160, h=96, **kw)
    index = load_index(path, False)
    wanted = np.arange(5, 96, 13)

    def run(workers):
        stats = ReaderStats()
        dec = VideoDecoder(path, index, stats, workers=workers)
        out = [
            (d.index, d.status, zlib.crc32(d.frame.to_ndarray(format="gray").tobytes()))
            for d in dec.frames(wanted)
        ]
        dec.close()
        # the segments went to as many decoders side by side (none for one: decoded in place)
        assert len(dec._clones) == (workers if workers > 1 else 0)
        return out, stats.frames_decoded

    one, decoded_one = run(1)
    three, decoded_three = run(3)
    assert [o[0] for o in one] == wanted.tolist() and all(o[1] == Status.OK for o in one)
    assert three == one and decoded_three == decoded_one
    before = threading.active_count()
    dec = VideoDecoder(path, index, ReaderStats(), workers=3)
    gen = dec.frames(wanted)
    next(gen)
    gen.close()
    dec.close()
    assert threading.active_count() == before
