ARG BASE_IMAGE=ubuntu:22.04
FROM $BASE_IMAGE
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update -y && \
    apt-get upgrade -y && \
    apt-get install -y ca-certificates git git-lfs wget tzdata openssh-client && \
    rm -rf /var/lib/apt/lists/*
ARG DOCKER_MACHINE_VERSION
ARG DUMB_INIT_VERSION
COPY gitlab-runner_*.deb checksums-* install-deps install-gitlab-runner /tmp/
RUN /tmp/install-deps "${DOCKER_MACHINE_VERSION}" "${DUMB_INIT_VERSION}"
RUN /tmp/install-gitlab-runner && rm -rf /tmp/*
STOPSIGNAL SIGQUIT
VOLUME ["/etc/gitlab-runner", "/home/gitlab-runner"]
ENTRYPOINT ["/usr/bin/dumb-init", "/entrypoint"]
CMD ["run", "--user=gitlab-runner", "--working-directory=/home/gitlab-runner"]
