"""Chapter 03's reading: what a fake adds to its original's flow, computed by hand on stored fields."""

import numpy as np

from dfd_utils.flow import flow_path
from dfd_utils.flow_reading import fake_flow_change, fake_flow_text


def store(root, name, flow):
    path = flow_path(root, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, flow.astype(np.float16))


def test_the_change_is_measured_where_the_fake_moved_the_flow(tmp_path):
    original = np.zeros((4, 2, 6, 8), np.float32)
    original[:, 0] = 1.0  # everything moves 1 px right
    fake = original.copy()
    fake[:, 1, :3, :4] = 0.5  # a quarter of the frame also moves 0.5 px down
    store(tmp_path, "o.mp4", original)
    store(tmp_path, "f.mp4", fake)
    summary = fake_flow_change(tmp_path, ["f.mp4"], ["o.mp4"])
    assert summary == {"fakes": 1, "changed_px": 0.5, "changed_share": 0.25, "natural_px": 1.0}
    assert "more than 0.1 px on 25.0 % of the pixels, by 0.50 px on average there" in fake_flow_text(summary)


def test_no_pairs_say_so():
    assert "nothing to compare" in fake_flow_text({"fakes": 0})
