# keybroker container image: the broker (keybroker) and the operator's command
# line (keybrokerctl) on Debian 12, nothing else.
#
#   docker build -t keybroker .
#   docker run --rm -p 50051:50051 -v keybroker-data:/var/lib/keybroker keybroker \
#       --listen 0.0.0.0:50051 --insecure-plaintext --data-dir /var/lib/keybroker  # first try only
#
# Plaintext on an address other hosts reach must be asked for by name
# (--insecure-plaintext): DEKs travel in the responses. Deployments serve TLS.
#
# Deployments pass `--config FILE` (the Helm chart in helm/keybroker mounts it at
# /etc/keybroker/config/config.yaml). The image runs as the numeric non-root user
# 65532 and writes nothing outside mounted volumes, so it runs with a read-only root
# file system: the chart gives it an emptyDir on /tmp and mounts the keyring.
#
# The runtime stage installs exactly the shared libraries the binaries link;
# tests/docker/dockerfile_test.py checks that list against `ldd` of the built
# binaries, so a new library dependency fails the tests until it is added here.

# --- build: the project's own scripts, Release, two jobs ----------------------
FROM debian:12 AS build
ARG DEBIAN_FRONTEND=noninteractive
WORKDIR /src
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN ./scripts/install-deps.sh && rm -rf /var/lib/apt/lists/*
COPY . .
RUN KEYBROKER_JOBS=2 KEYBROKER_TARGETS="keybroker keybrokerctl" \
      ./scripts/build.sh -DCMAKE_BUILD_TYPE=Release -DKEYBROKER_BUILD_TESTS=OFF \
 && install -D -s -m 0755 build/server/keybroker /out/keybroker \
 && install -D -s -m 0755 build/ctl/keybrokerctl /out/keybrokerctl

# --- runtime: debian:12-slim, the linked libraries, CA roots, the binaries ----
FROM debian:12-slim
ARG DEBIAN_FRONTEND=noninteractive
LABEL org.opencontainers.image.title="keybroker" \
      org.opencontainers.image.description="Envelope-encryption broker (gRPC keybroker.v1.KeyBroker)"
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates \
      libabsl20220623 \
      libbrotli1 \
      libc-ares2 \
      libc6 \
      libcivetweb1 \
      libcpprest2.10 \
      libgcc-s1 \
      libgrpc++1.51 \
      libgrpc29 \
      libprometheus-cpp-core1.0 \
      libprotobuf32 \
      libre2-9 \
      libssl3 \
      libstdc++6 \
      libyaml-cpp0.7 \
      zlib1g \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 65532 keybroker \
 && useradd --system --uid 65532 --gid 65532 --no-create-home \
      --home-dir /var/lib/keybroker --shell /usr/sbin/nologin keybroker \
 && install -d -o 65532 -g 65532 -m 0750 /var/lib/keybroker \
 && install -d -m 0755 /etc/keybroker
COPY --from=build /out/keybroker /out/keybrokerctl /usr/local/bin/
USER 65532:65532
WORKDIR /var/lib/keybroker
# gRPC (listen), then HTTP /metrics, /healthz, /readyz (metrics_listen)
EXPOSE 50051 9090
ENTRYPOINT ["keybroker"]
CMD ["--config", "/etc/keybroker/config/config.yaml"]
