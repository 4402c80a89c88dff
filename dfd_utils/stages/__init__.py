"""The paper's pipeline as functions (notebooks 01-08): each notebook tells the story, these do the work.

One module per stage, in the order of the data path (named as its DVC stage where it is
one); each takes the plain sections of ``params.yaml`` and returns what its notebook
shows. The chapters beyond the paper are ``dfd_utils.chapters``::

    subset.py            01  the DFDC-format subset from the chosen source
    extract_frames.py    02  16 frames per video, labels, manifest, grouped splits
    shards.py            02  the same, one DFDC part at a time, merged (the scale path)
    part_records.py      02  the shards' records checked: --parts ranges, part.json read back
    optical_flow.py      03  Farneback optical flow between consecutive frames
    detector.py          04-07  train, evaluate and save one detector
    regime.py            07  how much of the 3D CNN trains, chosen on validation
"""
