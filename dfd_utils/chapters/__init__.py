"""The study's chapters beyond the paper: each one's orchestration and its reading, on the paper's library.

The library (``dfd_utils``: sources, frames, flow, splits, datasets, models, training,
evaluation, figures) does what the paper describes; ``dfd_utils.stages`` runs its
pipeline (notebooks 01-08). These modules are the questions the study adds, one
chapter each, calling the library and never the tooling::

    difficulty.py         00  the rule that sets the artifacts' strengths from measured magnitudes (no model)
    choose_difficulty.py  00  the measurements over strengths that rule reads
    real_faces.py         09  the five detectors on real faces, full frame against face crop
    real_face_detector.py 09  one of them chosen on validation: dfd predict's default for real video
    claims.py             10  the paper's claims as data, and the verdict each gets
    claims_checks.py      10  each claim's effect measured, with the standard interval for it
    claims_verdicts.py    10  what a claim is decided on, and the rule that decides
    claims_text.py        10  the chapter's tables and sentences, computed from the verdicts
    families.py           12  controlled families of fakes: what each detector sees
    families_kinds.py     12  chapter 09's set, one kind of fake at a time
    families_scoring.py   12  saved detectors scored on a test split (cross table, frame-order test)
    families_reading.py   12  the chapter's tables and readings, from intervals that look both ways
    frame_order.py        12  each model scored with its frames shuffled and with one repeated
    frame_count.py        13  the per-frame models' AUC against frames sampled per video
    findings.py               what the study found, into the README and the book's front page
"""
