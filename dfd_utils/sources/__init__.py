"""Video sources. Each yields the same thing: a folder of ``.mp4`` files plus a DFDC
``metadata.json``, so everything after notebook 01 is identical for every source."""

from dfd_utils.sources.metadata import Skip, VideoRecord, load_subset

__all__ = ["Skip", "VideoRecord", "load_subset"]
