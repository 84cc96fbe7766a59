FROM busybox AS a
RUN echo a > /a
FROM busybox AS b
RUN echo b > /b
FROM a AS c
COPY --from=b /b /b
FROM scratch
COPY --from=c /a /b /
COPY --from=0 /a /zero
