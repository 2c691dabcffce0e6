"""Which files make up a dataset, decided by Arrow's own dataset discovery.

A dataset is every file below a folder or prefix, hive partitions (``region=eu/``) included,
except files and folders whose names start with ``.`` or ``_`` (``_SUCCESS``, ``.crc``, an
upload in progress): the rule Arrow, Spark and Hive readers apply, so a reader of the same
folder sees the same files. Nothing is read here: the discovery is finished with an empty
schema, so files of any format are only listed.
"""

from __future__ import annotations

from typing import Any

SKIPPED_PREFIXES = (".", "_")


def discovered_files(filesystem: Any, base: str) -> list[str]:
    """The dataset's files below ``base`` on the pyarrow ``filesystem``, as paths relative
    to ``base``, in path order; FileNotFoundError when there is no such folder."""
    import pyarrow as pa
    import pyarrow.dataset as ds
    from pyarrow.fs import FileSelector

    factory = ds.FileSystemDatasetFactory(
        filesystem,
        FileSelector(base, recursive=True),
        ds.ParquetFileFormat(),  # only what a read would use; nothing is read
        ds.FileSystemFactoryOptions(
            partition_base_dir=base, selector_ignore_prefixes=list(SKIPPED_PREFIXES)
        ),
    )
    prefix = base.rstrip("/") + "/"
    return sorted(path.removeprefix(prefix) for path in factory.finish(pa.schema([])).files)
