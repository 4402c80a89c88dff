"""dfd: a reproducible study of deepfake video detection (the paper's five detectors, and beyond).

The package follows the data path; each module holds one idea::

    sources/        01  where videos come from: synthetic, real faces (registry clips), DFDC, Kaggle;
                        artifacts.py is the one model of what makes a fake look fake
    video.py            decoding, exact frame sampling, writing clips
    face_tracking.py    YuNet (or Haar) detections followed through a clip, face crops
    frames.py       02  extraction: 16 frames per video, stamped (the writer)
    frame_store.py      the extracted frames' layout and reader (every later stage)
    flow.py         03  Farneback optical flow between consecutive frames
    flow_reading.py 03  what a fake adds to its original's flow (chapter 03's reading)
    splits.py           train/val/test by original family (a fake in its original's split)
    resplit.py          each seed after the first on its own split of the same videos
    datasets.py         frames, 3D frames and flow as tensors; the models' views
    models/             the backbone factory and the five detectors (the paper's tables)
    losses.py           BCE and BCE + soft F1, class weights
    precision.py        device, bf16/fp16 autocast, memory format, per CPU
    train.py        04-07  one resumable training loop for all five
    evaluate.py         video scores (frame-to-video rules), metrics, thresholds, intervals
    stats.py            cluster bootstrap BCa, paired differences, TOST equivalence, detectable effects
    gradcam.py          where a detector looks
    report.py       08  comparison tables and their computed reading
    calibration.py  11  reliability, ECE, a temperature fitted on validation (``dfd predict`` applies it)
    plots.py, panels.py the figures (arrays) and the chapters' shared panels (results)
    predict.py, cli.py  ``dfd predict``: any video, scored as the training data was
    difficulty.py   00  the rule that sets the artifacts' strengths from measured magnitudes (no model)
    claims*.py      10  the paper's claims as data, their checks, verdicts and text
    frame_order.py  12  each model scored with its frames shuffled and repeated
    stages/             each notebook's work as functions (difficulty, subset, frames, flow, detector, regime,
                        real_faces, families, frame_count, shards)

Around it: ``config.py`` and ``settings.py`` (one typed configuration), ``profiles.py``
(overlays on the demo profile), ``pipeline.py`` (papermill under DVC, the chapter list),
``kernels.py`` (every stage's CPU kernels capped at AVX2: the same bits on every x86-64 machine),
``notebook.py`` (a notebook's first call), ``provenance.py``, ``ledger.py``, ``kept.py`` (kept files hashed
again before reuse) and ``lock.py`` (reruns that tell the truth), ``frame_settings.py`` (frames
read as their settings say), ``io.py``, ``paths.py``, ``seed.py``, ``book.py``, ``vendor.py``,
``execution.py`` (each stage's run time and machine, for the book).
"""
