FROM busybox
ENV GREETING="hello world" SINGLE='it''s' ESCAPED=a\ b EMPTY="" 
ARG WITH_SPACE="a b" PLAIN
LABEL "key with space"="value" k2='v 2'
RUN echo "$GREETING" '$SINGLE' \$ESCAPED
USER "nobody"
