FROM --platform=linux/amd64 busybox AS one
COPY --link --chmod=0644 a.txt /a.txt
COPY --from=one --chown=1:2 /a.txt /b.txt
ADD --link=false --chown=root https://example.com/x.tgz /x/
RUN --network=none --mount=type=bind,target=/src --mount=type=tmpfs,target=/tmp echo hi
RUN --mount="type=secret,id=token" cat /run/secrets/token
