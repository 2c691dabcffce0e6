"""The errors the data-plane programs raise.

Every message says what went wrong and what to do about it; the CLI prints the
message alone (no traceback) and exits non-zero.
"""

from __future__ import annotations


class ModelshipServingError(Exception):
    """Base of every error a user can fix by changing their input or environment."""


class PackagingError(ModelshipServingError):
    """The model, the sample or the output of `modelship package` is not usable."""


class UnsupportedModelError(PackagingError):
    """The model is of a kind that cannot be converted to ONNX."""


class SampleError(PackagingError):
    """The sample data does not fit the model (missing columns, wrong types, unreadable)."""


class ParityError(PackagingError):
    """The converted model does not give the same answers as the original."""


class OutputExistsError(PackagingError):
    """The output model repository already holds this model; nothing is overwritten."""


class FetchError(ModelshipServingError):
    """A model repository could not be fetched from its uri."""


class ChecksumError(FetchError):
    """The fetched repository's sha256 differs from the expected one."""


class ServeError(ModelshipServingError):
    """Triton could not be found, prepared or started."""


class ScoringError(ModelshipServingError):
    """A batch scoring job cannot run: bad input, schema mismatch, unusable model or output."""


class CompareError(ModelshipServingError):
    """`modelship compare` cannot measure: an unreadable table, an endpoint that does not answer."""


class SchemaMismatchError(ScoringError):
    """The input table does not have the columns and types the model was packaged with."""


def one_line(error: BaseException) -> str:
    """A library's error message on one line (scikit-learn's, tarfile's and others span lines),
    for the one-line messages above."""
    return " ".join(str(error).split())
