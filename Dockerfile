# ctrlfuse-serve images, CPU and CUDA, from one Dockerfile:
#   docker build -t ctrlfuse-serve:0.1.0-cpu .
#   docker build -t ctrlfuse-serve:0.1.0-cuda --build-arg VARIANT=cuda .
# Add --build-arg REVISION="$(git describe --always --dirty)" so that
# ctrlfuse_build_info names the commit (the build context has no .git).
# Every build step is scripts/image-build.sh (tests/deploy/image_build_test.sh
# runs the same steps without Docker). The runtime stage holds only the
# binaries, the shared libraries they load, the bundled model and CA
# certificates; it runs as an unprivileged user. docs/deploy.md has the rest.
ARG VARIANT=cpu
ARG BUILD_BASE=debian:12
ARG CPU_BASE=debian:12-slim
# The torch wheel brings its own CUDA libraries (staged with the binaries);
# the CUDA base adds the NVIDIA container runtime's settings and cudart.
ARG CUDA_BASE=nvidia/cuda:13.0.0-base-ubuntu24.04

FROM ${BUILD_BASE} AS build
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
WORKDIR /src
# Dependency layers first, cached until the pins change.
COPY scripts/deps.txt scripts/requirements.txt scripts/image-build.sh scripts/
# One RUN per step on purpose: each is its own cached layer.
# hadolint ignore=DL3059
RUN scripts/image-build.sh deps
# hadolint ignore=DL3059
RUN scripts/image-build.sh venv /opt/venv
COPY . .
ARG REVISION=unknown
RUN CTRLFUSE_REVISION="${REVISION}" scripts/image-build.sh build /opt/venv /src/build-image
ARG VARIANT
# hadolint ignore=DL3059
RUN scripts/image-build.sh stage /src/build-image /opt/ctrlfuse "${VARIANT}" \
    && scripts/image-build.sh verify /opt/ctrlfuse

FROM ${CPU_BASE} AS runtime-cpu

FROM ${CUDA_BASE} AS runtime-cuda
ENV NVIDIA_DRIVER_CAPABILITIES=compute,utility \
    NVIDIA_VISIBLE_DEVICES=all

# hadolint ignore=DL3006
FROM runtime-${VARIANT} AS runtime
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# CA certificates only (for TLS to other services); versions follow the base.
# hadolint ignore=DL3008
RUN apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 ctrlfuse \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin ctrlfuse
COPY --from=build /opt/ctrlfuse /opt/ctrlfuse
ENV PATH=/opt/ctrlfuse/bin:${PATH} \
    OMP_WAIT_POLICY=PASSIVE
USER 10001:10001
WORKDIR /tmp
EXPOSE 50051 9464
# grpc.health.v1 on the gRPC port; warm-up may take minutes (start period).
# Kubernetes ignores this and uses the Deployment's probes.
HEALTHCHECK --interval=30s --timeout=10s --start-period=600s --retries=3 \
  CMD ["ctrlfuse-client", "--server=127.0.0.1:50051", "--retries=0", "--deadline=5", "health"]
ENTRYPOINT ["ctrlfuse-server", "--bundled_model=/opt/ctrlfuse/models/tiny-demo.pth"]
