"""Themes, icons and other data files shipped with the console."""
