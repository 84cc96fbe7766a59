FROM busybox
HEALTHCHECK NONE
FROM busybox AS checked
HEALTHCHECK --interval=5m --timeout=3s \
  CMD curl -f http://localhost/ || exit 1
FROM busybox
HEALTHCHECK --start-period=10s --start-interval=1s --retries=5 CMD ["true"]
