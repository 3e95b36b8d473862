"""MP4 writing (resnet_viz.export.video): frame count, size, codec, colours, padding, cancel, errors."""

from __future__ import annotations

import sys

import av  # the tests install PyAV (extra "video")
import numpy as np
import pytest

from resnet_viz.export.video import VideoCancelled, VideoUnavailable, video_missing, write_mp4
from resnet_viz.export.written import WriteError

RED, GREEN, BLUE, GREY = (220, 30, 40), (30, 160, 60), (40, 60, 220), (128, 128, 128)


def _frame(color, width=64, height=48):
    return np.full((height, width, 3), color, dtype=np.uint8)


def _decode(path):
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
        return stream, frames


def test_mp4_has_the_frames_the_held_frames_and_the_size(tmp_path):
    calls = []
    frames = (_frame(c) for c in (RED, GREEN, BLUE, GREY, RED))  # a generator: pulled one at a time
    out = write_mp4(frames, tmp_path / "v.mp4", fps=10, total=5, hold_s=0.5, progress=lambda d, t: calls.append((d, t)))
    assert out == tmp_path / "v.mp4"
    stream, decoded = _decode(out)
    assert len(decoded) == 5 + 5  # 5 frames and the last held 0.5 s at 10 fps
    assert (stream.codec_context.name, stream.codec_context.pix_fmt) == ("h264", "yuv420p")
    assert (stream.width, stream.height) == (64, 48) and decoded[0].shape == (48, 64, 3)
    assert float(stream.average_rate) == pytest.approx(10.0)
    assert calls == [(i, 5) for i in range(1, 6)]
    for got, want in zip(decoded[:4], (RED, GREEN, BLUE, GREY)):  # colours come back (BT.709 tagged both ways)
        assert np.abs(got[24, 32].astype(int) - want).max() <= 6
    assert np.abs(decoded[-1][24, 32].astype(int) - RED).max() <= 6  # the held frame is the last one


def test_odd_size_is_padded_with_white_and_total_defaults_to_len(tmp_path):
    calls = []
    out = write_mp4(
        [_frame((0, 0, 0), 33, 21)] * 2, tmp_path / "odd.mp4", hold_s=0, progress=lambda d, t: calls.append(t)
    )
    stream, decoded = _decode(out)
    assert (stream.width, stream.height) == (34, 22) and len(decoded) == 2
    assert decoded[0][10, 16].max() <= 20  # black inside
    assert decoded[0][10, 33].min() >= 200 and decoded[0][21, 16].min() >= 200  # white padding
    assert calls == [2, 2]


def test_cancel_leaves_nothing_and_keeps_an_older_file(tmp_path):
    path = tmp_path / "v.mp4"
    with pytest.raises(VideoCancelled, match="cancelled"):
        write_mp4([_frame(RED)] * 5, path, progress=lambda d, t: d < 2)
    assert list(tmp_path.iterdir()) == []
    path.write_bytes(b"older video")
    with pytest.raises(VideoCancelled):
        write_mp4([_frame(RED)] * 5, path, progress=lambda d, t: d < 3)
    assert path.read_bytes() == b"older video" and list(tmp_path.iterdir()) == [path]


def test_bad_frames_are_refused_naming_the_frame(tmp_path):
    path = tmp_path / "v.mp4"
    with pytest.raises(ValueError, match=r"frame 2: size 64x50 \(WxH\) differs from the first frame's 64x48"):
        write_mp4([_frame(RED), _frame(RED), _frame(RED, 64, 50)], path)
    with pytest.raises(ValueError, match="no frames"):
        write_mp4(iter([]), path)
    with pytest.raises(ValueError, match="frame 0: float32"):
        write_mp4([np.zeros((4, 4, 3), np.float32)], path)
    with pytest.raises(ValueError, match="fps"):
        write_mp4([_frame(RED)], path, fps=0)
    assert list(tmp_path.iterdir()) == []


def test_unwritable_path_is_a_write_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(WriteError, match="is a file, not a folder"):
        write_mp4([_frame(RED)], tmp_path / "file" / "v.mp4")


def test_without_pyav_the_error_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "av", None)  # `import av` raises ImportError
    with pytest.raises(VideoUnavailable) as info:
        write_mp4([_frame(RED)], tmp_path / "v.mp4")
    assert str(info.value) == video_missing()
    assert "pip install 'resnet-viz[video]'" in str(info.value) and "\n" not in str(info.value)
    assert not (tmp_path / "v.mp4").exists()
