FROM busybox
VOLUME ["/data", "/logs"]
VOLUME /cache /tmp/other
EXPOSE 80/tcp
EXPOSE 53/udp 8080 9000-9010
USER 1000:1000
WORKDIR /home/user
WORKDIR relative/dir
