"""oca's ffmpeg backend (app `oca-ffmpeg`): upstream mers-ffmpeg's HTTP API, made safe.

`python -m oca.backends.media_server --host H --port P --data DIR` serves `/ping`, `/probe`,
`/pipeline` (create, list), `/pipeline/{id}` (status, stop), `/pipeline/{id}/output/{oid}`
(download) and `/upload`. ffmpeg always runs with an argument list; see `safety.py` for
what a pipeline may ask for.
"""
