"""One module per kind of Dockerfile step: config-only, RUN, COPY/ADD."""
