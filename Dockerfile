# ctrlfuse-serve container.
#
# CPU (Debian 12's LibTorch 1.13):
#   docker build -t ctrlfuse-serve .
# GPU: build on an image that has LibTorch 2.x with CUDA and point CMake at
# it, e.g. an NVIDIA PyTorch image (its torch ships LibTorch):
#   docker build -t ctrlfuse-serve:cuda --build-arg BASE=nvcr.io/nvidia/pytorch:24.05-py3 \
#     --build-arg TORCH_CMAKE="$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')" .
ARG BASE=debian:12
FROM ${BASE} AS build
ARG TORCH_CMAKE=""
WORKDIR /src
COPY scripts/deps.txt scripts/deps.txt
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      $(grep -v '^#' scripts/deps.txt | grep -v -E '^(libtorch-dev|python3-torch|prometheus|python3-skimage)$' \
        | if [ -z "$TORCH_CMAKE" ]; then cat; echo libtorch-dev; else cat; fi) \
    && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release ${TORCH_CMAKE:+-DCMAKE_PREFIX_PATH=$TORCH_CMAKE} \
    && ninja -C build ctrlfuse-server ctrlfuse-client ctrlfuse-eval \
    && mkdir -p /out/bin && cp build/server/ctrlfuse-server build/client/ctrlfuse-client build/tools/ctrlfuse-eval /out/bin/

FROM build AS runtime
# The build stage already carries the runtime libraries (LibTorch, gRPC,
# OpenCV, OpenBLAS); a slimmer runtime stage would list them by hand.
COPY --from=build /out/bin/ /usr/local/bin/
COPY models/ /opt/ctrlfuse/models/
ENV OMP_WAIT_POLICY=PASSIVE
EXPOSE 50051 9464
USER 65534
ENTRYPOINT ["/usr/local/bin/ctrlfuse-server", "--bundled_model=/opt/ctrlfuse/models/tiny-demo.pth"]
