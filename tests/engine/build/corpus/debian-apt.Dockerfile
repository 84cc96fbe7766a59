FROM debian:bookworm-slim

RUN set -eux; \
	apt-get update; \
	apt-get install -y --no-install-recommends \
		ca-certificates \
# curl is needed for the health check
		curl \
		gnupg \
	; \
	rm -rf /var/lib/apt/lists/*

ENV LANG C.UTF-8
VOLUME /var/lib/data
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["serve"]
