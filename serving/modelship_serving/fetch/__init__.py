"""`modelship fetch`: bring a model repository from its uri into the pod, verified and atomically.

What a uri may point at:

- ``file:///abs/dir``: a model repository directory (the one `modelship package --output` wrote).
- ``s3://bucket/prefix``, ``gs://bucket/prefix`` and ``az://container/prefix``: every object
  under ``prefix/`` is a file of the repository, at its path relative to the prefix (read
  through modelship_serving.storage, pyarrow.fs).
- an archive: a uri (``file://``, ``http(s)://``, ``s3://``, ``gs://``, ``az://``) whose
  path ends in ``.tar.gz``, ``.tgz`` or ``.tar`` is a tar of the repository, whose root is the
  repository root (``tar -C DIR -czf model.tar.gz .``); ``http(s)://`` uris are always
  archives, since HTTP cannot list a directory. Archives may hold only regular files and
  directories, no links.

Credentials come only from environment variables, filled from the credentials Secret:
``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``, ``AWS_REGION``
and ``AWS_ENDPOINT_URL`` (S3-compatible servers such as MinIO) for s3;
``GOOGLE_APPLICATION_CREDENTIALS`` (and ``STORAGE_EMULATOR_HOST`` for an emulator) for gs;
``AZURE_STORAGE_CONNECTION_STRING``, or ``AZURE_STORAGE_ACCOUNT_NAME`` with a key, a SAS token
or workload identity, for az (see modelship_serving.storage.filesystems);
``MODELSHIP_HTTP_AUTHORIZATION`` (sent as the Authorization header) for http(s).
They are never logged, and uris are shown without user info or query strings. The
Authorization header goes only to the uri's own origin (scheme, host, port), never over a
redirect elsewhere, and a redirect from https to http is refused.

A fetch writes at most ``--max-bytes`` and ends by ``--timeout-seconds`` (see
modelship_serving.fetch.limits); a directory source is copied without following any link out
of it, and truncated archives are refused (see modelship_serving.fetch.archive).
"""
