"""The study's stages as functions: each notebook tells the story, these do the work.

One module per stage, in the order of the data path (named as its DVC stage where it is
one); each takes the plain sections of ``params.yaml`` and returns what its notebook shows::

    choose_difficulty.py 00  the artifacts' strengths, from magnitudes measured before any model
    subset.py            01  the DFDC-format subset from the chosen source
    extract_frames.py    02  16 frames per video, labels, manifest, grouped splits
    shards.py            02  the same, one DFDC part at a time, merged (the scale path)
    part_records.py      02  the shards' records checked: --parts ranges, part.json read back
    optical_flow.py      03  Farneback optical flow between consecutive frames
    detector.py          04-07  train, evaluate and save one detector
    regime.py            07  how much of the 3D CNN trains, chosen on validation
    real_faces.py        09  the five detectors on real faces, full frame against face crop
    families.py          12  controlled families of fakes: what each detector sees
    families_kinds.py    12  chapter 09's set, one kind of fake at a time
    families_scoring.py  12  saved detectors scored on a test split (cross table, frame-order test)
    families_reading.py  12  the chapter's tables and readings, from intervals
    frame_count.py       13  the per-frame models' AUC against frames sampled per video
"""
