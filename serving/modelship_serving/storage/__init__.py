"""Object storage (s3://, gs://, az://) through one library, pyarrow.fs.

`filesystems` builds a pyarrow FileSystem per scheme from the environment the credentials
Secret fills; `objects` lists, downloads, uploads and deletes objects with retries, byte
budgets and messages that never show a secret. Arrow's dataset machinery reads the same
filesystems directly. http(s) (read-only single files) stays in modelship_serving.fetch.http.
"""
