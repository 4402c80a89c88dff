import cv2
import numpy as np
import pytest

from conftest import numbered_frames, read_code, write_h264
from dfd_utils.video import VideoError, probe, read_frames_by_seeking, read_sampled_frames, sample_indices


def test_index_formula_matches_the_documented_values():
    assert sample_indices(300) == [0, 19, 39, 59, 79, 99, 119, 139, 159, 179, 199, 219, 239, 259, 279, 299]
    assert sample_indices(16) == list(range(16))
    assert sample_indices(17) == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 16]
    assert sample_indices(5, 1) == [0]


def test_index_formula_refuses_short_videos():
    with pytest.raises(ValueError, match="at least 16 frames"):
        sample_indices(15)


def test_numbered_frames_round_trip():
    frames = numbered_frames(40)
    assert [read_code(f) for f in frames] == list(range(40))


def test_sampled_frames_are_exactly_the_indexed_ones_in_h264(numbered_h264):
    frames, indices, decoded = read_sampled_frames(numbered_h264)
    assert decoded == 90
    assert indices == sample_indices(90)
    assert [read_code(f) for f in frames] == indices
    assert frames.shape == (16, 96, 160, 3) and frames.dtype == np.uint8


def test_frame_count_comes_from_decoding_not_the_header(tmp_path, numbered_h264):
    """A clip cut with an edit list: the header and the decoder can disagree."""
    import subprocess

    from conftest import ffmpeg

    cut = tmp_path / "cut.mp4"
    subprocess.run([ffmpeg(), "-y", "-loglevel", "error", "-ss", "1.37", "-i", str(numbered_h264), "-c", "copy",
                    str(cut)], check=True)
    cap = cv2.VideoCapture(str(cut))
    truth = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        truth.append(read_code(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)))
    cap.release()
    frames, indices, decoded = read_sampled_frames(cut)
    assert decoded == len(truth)
    assert [read_code(f) for f in frames] == [truth[i] for i in indices]


def test_sequential_reading_matches_seeking_on_a_simple_clip(tiny_video):
    path = tiny_video(n=30)
    frames, indices, _ = read_sampled_frames(path)
    np.testing.assert_array_equal(frames, read_frames_by_seeking(path, indices))


@pytest.mark.parametrize("content, reason", [(b"", "empty"), (b"not a video at all" * 100, "cannot open")])
def test_bad_files_name_the_file_and_the_problem(tmp_path, content, reason):
    path = tmp_path / "bad.mp4"
    path.write_bytes(content)
    with pytest.raises(VideoError, match=reason) as err:
        read_sampled_frames(path)
    assert "bad.mp4" in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(VideoError, match="does not exist"):
        probe(tmp_path / "nope.mp4")


def test_truncated_file_is_refused(tmp_path, numbered_h264):
    data = numbered_h264.read_bytes()
    path = tmp_path / "truncated.mp4"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(VideoError) as err:
        read_sampled_frames(path)
    assert "truncated.mp4" in str(err.value)


def test_too_short_video(tiny_video):
    with pytest.raises(VideoError, match="only 10 decodable frames, 16 needed"):
        read_sampled_frames(tiny_video(n=10))


def test_grayscale_video_reads_as_three_channels(tiny_video):
    frames, _, _ = read_sampled_frames(tiny_video(n=20, gray=True))
    assert frames.shape[-1] == 3
    spread = np.abs(frames.astype(int) - frames.mean(axis=-1, keepdims=True)).max()
    assert spread <= 4  # gray: the three channels agree up to chroma rounding


def test_probe_reads_orientation(tiny_video):
    assert probe(tiny_video("wide.mp4", h=72, w=128)).is_landscape
    assert not probe(tiny_video("tall.mp4", h=128, w=72)).is_landscape


def test_non_ascii_file_name(tmp_path):
    path = write_h264(tmp_path / "vidéo ñ 動画.mp4", numbered_frames(20))
    frames, indices, _ = read_sampled_frames(path)
    assert [read_code(f) for f in frames] == indices
