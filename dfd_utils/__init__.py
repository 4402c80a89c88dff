"""dfd: a reproducible study of deepfake video detection (the paper's five detectors, and beyond).

The paper's library follows the data path; each module holds one idea::

    config/             params.yaml as typed, checked settings (standard library only: no stage depends on more)
    sources/        01  where videos come from: synthetic, real faces (registry clips), DFDC, Kaggle;
                        artifacts.py is the one model of what makes a fake look fake
    video.py            decoding, exact frame sampling, writing clips
    face_tracking.py    YuNet (or Haar) detections followed through a clip, face crops
    frames.py       02  extraction: 16 frames per video, stamped (the writer)
    frame_store.py      the extracted frames' layout and reader (every later stage)
    frame_settings.py   the frames a run reads are the frames its settings describe
    flow.py         03  Farneback optical flow between consecutive frames
    flow_reading.py 03  what a fake adds to its original's flow (chapter 03's reading)
    splits.py           train/val/test by original family (a fake in its original's split)
    resplit.py          each seed after the first on its own split of the same videos
    split_arrays.py     one split's frames or flow as one memory-mapped array (RAM no longer grows with clips)
    datasets.py         frames, 3D frames and flow as tensors; the models' views
    models/             the backbone factory and the five detectors (the paper's tables)
    features.py         a frozen trunk's features, computed once per video and reused
    digest.py           SHA-256 of tensors' exact values (what a run trained on)
    losses.py           BCE and BCE + soft F1, class weights
    precision.py        device, bf16/fp16 autocast, memory format, per CPU
    train.py        04-07  the one training loop for all five, on one process or N ranks
    resume.py           a run's saved state: resume exactly, or start over saying why
    ranks.py            what one rank of N does inside the loop (DDP, sampler, rank 0 writes)
    distributed.py      torchrun's launcher and each rank's entry into the one loop
    evaluate.py         video scores (frame-to-video rules), metrics, thresholds, intervals
    stats.py            cluster bootstrap BCa, paired differences, TOST equivalence, detectable effects
    gradcam.py          where a detector looks
    calibration.py  11  reliability, ECE, a temperature fitted on validation (``dfd predict`` applies it)
    predict.py, cli.py  ``dfd predict``: any video, scored as the training data was
    explain.py          ``dfd predict --explain``: a clip's Grad-CAM strip as a PNG
    cards.py            model and data cards (``dfd info --card``, the book's cards page)

The paper's pipeline and the study's chapters beyond it::

    stages/             notebooks 01-08: the paper's pipeline as functions (its own map)
    report.py       08  comparison tables and their computed reading
    plots.py, panels.py the figures (arrays) and the chapters' shared panels (results)
    chapters/           00, 09, 10, 12, 13: the questions the study adds, each one's work and reading (its own map)

Running the study (DVC, papermill, reruns that tell the truth)::

    pipeline.py         papermill under DVC: one stage per notebook, the chapter list
    notebook_run.py     how a stage executes its notebook (sockets, a progress line, quiet)
    notebook.py         a notebook's first call: parameters, logs, seeds
    seed.py             one seeding helper
    profiles.py         overlays on the demo profile (smoke, paper, paper_check)
    kernels.py          every stage's CPU kernels capped at AVX2: the same bits on every x86-64 machine
    provenance.py       stamps: what made a kept output (inputs, settings, code)
    kept.py, ledger.py  kept files hashed again before reuse; a generated folder's ledger
    lock.py             one writer per output folder
    io.py, paths.py     atomic writes, JSON, progress; where every stage reads and writes
    safe_names.py       names read from files a user did not write, checked before they become paths

Tooling around the study (building the book, Lab, Colab, checks and measurements; no chapter imports it)::

    tooling/            its own map
"""
