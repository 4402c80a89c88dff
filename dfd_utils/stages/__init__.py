"""The study's stages as functions: each notebook tells the story, these do the work.

One module per stage, in the order of the data path; each takes the plain sections
of ``params.yaml`` and returns what its notebook shows::

    subset.py      01  the DFDC-format subset from the chosen source
    frames.py      02  16 frames per video, labels, manifest, grouped splits
    flow.py        03  Farneback optical flow between consecutive frames
    detector.py    04-07  train, evaluate and save one detector
    real_faces.py  09  the five detectors on real faces, full frame against face crop
"""
