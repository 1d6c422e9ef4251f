"""The composition root: entry points, settings, the qasync loop, window assembly and wiring."""
