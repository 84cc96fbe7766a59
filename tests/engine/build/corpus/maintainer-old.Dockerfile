FROM ubuntu:14.04
MAINTAINER Jane Doe <jane@example.com>
RUN apt-get update && apt-get install -y \
    git \
    vim
ADD . /src
ENV HOME /root
CMD /bin/bash
