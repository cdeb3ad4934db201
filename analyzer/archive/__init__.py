"""Batch jobs over archives of captures (`dualstack batch`).

    inputs     files, directories and globs -> capture files (sniffed), content hash
    jobs       one capture -> its raw flows and manifest facts (runs in a worker)
    engine     where tasks run: a local process pool, or a Dask cluster
    lock       one job at a time per OUTDIR
    manifest   OUTDIR/manifest.jsonl, one line per finished input; resume
    parts      each finished input's flows under OUTDIR/parts/
    stitch     flows of connections cut by file rotation joined back into one
    output     flows/ and listeners/ Parquet datasets, report.txt, summary.json
    progress   files, packets, rate and ETA on standard error
    pipeline   the job from start to end
"""
