"""Reading Kubernetes manifests from files and folders into a ClusterState.

:func:`load_manifests` reads YAML and JSON files and folders into a
:class:`LoadResult`; :mod:`service.manifests.source` is the YAML/JSON reader
underneath (documents with line numbers), reusable for other file formats.
Problems name file, document, line, field and what was expected.
"""

from service.manifests.load import MANIFEST_SUFFIXES, LoadResult, load_manifests
from service.manifests.source import (
    MAX_FILE_BYTES,
    Document,
    locate,
    parse_documents,
    read_documents,
)

__all__ = [
    "MANIFEST_SUFFIXES",
    "MAX_FILE_BYTES",
    "Document",
    "LoadResult",
    "load_manifests",
    "locate",
    "parse_documents",
    "read_documents",
]
