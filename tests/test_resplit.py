"""Seeds that draw their own split: every video once, families whole, the same shares, tensors with their videos."""

import torch

from dfd_utils.datasets import SplitData
from dfd_utils.features import FeatureCache
from dfd_utils.models import build_model
from dfd_utils.resplit import resplit, shares


def split(names: list[str], families: list[str], labels: list[int]) -> SplitData:
    v = len(names)
    index = torch.tensor([int(n[1:].split(".")[0]) for n in names], dtype=torch.uint8)
    frames = index.view(v, 1, 1, 1, 1).expand(v, 2, 3, 8, 8).contiguous()  # every pixel holds its video's number
    return SplitData(videos=names, families=families, labels=torch.tensor(labels, dtype=torch.float32),
                     frames=frames, flows=None, frames3d=None)


def study_splits(num_families: int = 20) -> dict[str, SplitData]:
    """Families of one real and two fakes; stage 02's split: 12 / 4 / 4 families."""
    parts = {"train": [], "val": [], "test": []}
    for f in range(num_families):
        real = f"v{3 * f}.mp4"
        part = "train" if f < 0.6 * num_families else "val" if f < 0.8 * num_families else "test"
        parts[part] += [(real, real, 0), (f"v{3 * f + 1}.mp4", real, 1), (f"v{3 * f + 2}.mp4", real, 1)]
    return {s: split(*map(list, zip(*sorted(r)))) for s, r in parts.items()}


def test_a_resplit_keeps_every_video_once_and_every_family_whole():
    data = study_splits()
    again = resplit(data, seed=1)
    pooled = sorted(v for d in data.values() for v in d.videos)
    assert sorted(v for d in again.values() for v in d.videos) == pooled
    where = {f: s for s, d in again.items() for f in d.families}
    assert all(where[f] == s for s, d in again.items() for f in d.families)  # a family in one split only
    assert [len(again[s].videos) for s in ("train", "val", "test")] == [36, 12, 12]  # stage 02's shares
    assert shares(again) == shares(data) == (0.6, 0.2, 0.2)
    for d in again.values():  # each tensor row still belongs to its video, in name order
        assert d.videos == sorted(d.videos)
        assert [int(d.frames[i, 0, 0, 0, 0]) for i in range(len(d.videos))] == [
            int(v[1:].split(".")[0]) for v in d.videos]
        assert d.labels.tolist() == [0.0 if f == v else 1.0 for v, f in zip(d.videos, d.families)]


def test_each_seed_draws_its_own_test_videos_and_a_seed_always_the_same():
    data = study_splits()
    tests = {seed: resplit(data, seed)["test"].videos for seed in (1, 2, 3)}
    assert tests[1] == resplit(data, 1)["test"].videos
    assert len({tuple(t) for t in tests.values()}) == 3


def test_the_feature_cache_serves_each_split_its_own_features(tmp_path):
    torch.manual_seed(0)
    net = build_model("baseline", backbone="resnet18", hidden=8, dropout=0.0).eval()
    data = study_splits(num_families=6)
    cache = FeatureCache(tmp_path)
    first = cache(net, data)
    second = cache(net, resplit(data, 1))
    for s in ("train", "val", "test"):  # the same video has the same features whichever split holds it
        for d in (first[s], second[s]):
            assert d.features.shape[0] == len(d.videos)
    by_video = {v: f for d in first.values() for v, f in zip(d.videos, d.features)}
    for d in second.values():
        for v, f in zip(d.videos, d.features):
            torch.testing.assert_close(f, by_video[v])
    assert second["test"].videos != first["test"].videos
