"""Django cache backends shipped with cache_dashboard, for servers Django has no backend for."""
