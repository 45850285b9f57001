"""FileBasedCache: shared by processes on one host; its incr is read-modify-write, not atomic."""

from cache_dashboard.adapters.base import Adapter


class FileBasedAdapter(Adapter):
    name = "file"
    probe_in_thread = False  # no socket to hang on
