"""Cross-cutting web parts: app factory, templates, sign-in, guards, errors, health."""
