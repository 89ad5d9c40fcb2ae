"""The web console under /ui: server-rendered pages of the service (Jinja2, plain JavaScript, no build step)."""
