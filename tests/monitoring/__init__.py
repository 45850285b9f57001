"""The monitoring endpoints: Prometheus metrics, the load balancer probe, the django-health-check plugin."""
