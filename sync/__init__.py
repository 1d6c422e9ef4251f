"""Qt-free networking: wire protocol, console sync client and the central server.

Empty until the server issue lands: today every write waits in the cache's outbox
(models/journal.py), applied locally and counted in the status bar.
"""
