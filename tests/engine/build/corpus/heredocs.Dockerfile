# syntax=docker/dockerfile:1.4
FROM busybox
RUN <<EOF
echo hello
echo world > /greeting
EOF
COPY <<EOF /etc/app.conf
listen = 8080
name = $HOSTNAME
EOF
RUN <<-"SCRIPT" sh
	echo "no $expansion here"
	SCRIPT
RUN cat <<A <<B > /both
first
A
second
B
COPY <<'CFG' /etc/raw.conf
path=$PATH
CFG
