"""Video sources. Each yields the same thing: a folder of ``.mp4`` files plus a DFDC
``metadata.json``, so everything after notebook 01 is identical for every source.

The modules::

    metadata.py          the DFDC metadata.json format, read strictly but forgivingly
    artifacts.py         the one model of what makes a fake look fake (both generators draw through it)
    clip_set.py          what the two generators share: their output folder, resumable
    synthetic.py         the offline default: rendered scenes and their overlay fakes
    synthetic_face.py    the synthetic source's faces: identity, motion, rendering
    faces.py             real talking faces from registry packages, with overlay and self-blended fakes
    face_clips.py        which real recordings, from which package, under which licence
    face_plan.py         which windows become reals and what each fake is made of, split by person
    blend.py             overlays and self-blended images pasted into real frames
    dfdc.py              a subset of a local copy of Kaggle's DFDC data
    dfdc_candidates.py   which clips a DFDC copy holds, names and zip members checked
    dfdc_parts.py        synthetic dfdc_train_part_N folders (the sharded path's test data)
    kaggle.py            DFDC through the official Kaggle API

Their settings are :mod:`dfd_utils.config.data`: reading the configuration loads no generator.
"""

from dfd_utils.sources.metadata import Skip, VideoRecord, load_subset

__all__ = ["Skip", "VideoRecord", "load_subset"]
