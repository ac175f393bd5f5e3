"""Connector plugins, one module (or small package) per external system.

Each is registered under the entry-point group ``hub.connectors`` in
``pyproject.toml``; the core finds them through ``hub.registry`` and never
imports one directly. A connector never imports another connector.
"""
