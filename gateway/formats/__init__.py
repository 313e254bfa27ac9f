"""Renderers: a chat answer (whole or as chunks) in another API's shape."""
