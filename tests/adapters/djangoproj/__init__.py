"""A real Django project for the adapter tests, run in subprocesses only.

Django's settings are process-wide; other test modules may configure them, so
this project never runs inside the main pytest process.
"""
