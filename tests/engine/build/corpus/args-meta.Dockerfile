ARG REGISTRY=docker.io
ARG IMAGE=library/busybox
ARG TAG
FROM ${REGISTRY}/${IMAGE}:${TAG:-latest}
ARG TAG
ARG BUILD_DATE VCS_REF=unknown
LABEL org.label-schema.build-date=$BUILD_DATE org.label-schema.vcs-ref=$VCS_REF
RUN echo "building ${TAG}"
