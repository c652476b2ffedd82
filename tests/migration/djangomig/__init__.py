"""A Django project on ``signed_cookies`` sessions, switched to cookiesess in checks.py."""
