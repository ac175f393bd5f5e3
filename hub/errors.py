"""Exceptions of the hub.

HubError
├── ParseError          a raw item cannot be understood (it goes to quarantine)
├── ConfigError         the configuration is invalid (clear message, no traceback)
└── UnknownConnector    no plugin by that name ("did you mean ...?")
"""

from __future__ import annotations


class HubError(Exception):
    """Base of every error the hub raises on purpose."""


class ParseError(HubError):
    """A raw item (or captured file) cannot be parsed; the message says why, for an operator."""


class ConfigError(HubError):
    """The configuration is invalid."""


class UnknownConnector(HubError):
    """No connector plugin is registered under that name."""
