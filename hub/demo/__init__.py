"""``hub demo``'s parts: the written-for-the-demo complaint stream, its feeder, a private IMAP server and a CRM.

See :mod:`hub.cli.demo` for how they are put together with the hub's own worker,
scheduler and web UI.
"""
