FROM alpine:3.19
RUN apk add --no-cache bash curl jq git openssh-client
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN curl -fsSL https://example.com/install.sh | bash
WORKDIR /work
ENTRYPOINT ["/bin/bash"]
