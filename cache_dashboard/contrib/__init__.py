"""Integrations with other packages, each imported only by projects that use that package."""
