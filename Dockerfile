# ctrlfuse-serve container (one image for CPU and GPU hosts: the pinned torch
# wheel's LibTorch has CUDA; without a GPU the server runs on the CPU).
#   docker build -t ctrlfuse-serve .
# The build follows scripts/setup.sh: Debian's gRPC/OpenCV/prometheus-cpp, and
# LibTorch from the torch wheel pinned in scripts/requirements.txt.
ARG BASE=debian:12
FROM ${BASE} AS build
WORKDIR /src
COPY scripts/deps.txt scripts/requirements.txt scripts/
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      $(grep -v '^#' scripts/deps.txt | grep -v -E '^(prometheus|clang-format|clang-tidy)$') \
    && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /opt/venv \
    && /opt/venv/bin/pip install -q --no-cache-dir "$(grep '^torch==' scripts/requirements.txt)"
COPY . .
RUN TORCH_CMAKE="$(/opt/venv/bin/python -c 'import torch.utils; print(torch.utils.cmake_prefix_path)')" \
    && cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$TORCH_CMAKE" \
         -DTorch_DIR="$TORCH_CMAKE/Torch" \
    && ninja -C build ctrlfuse-server ctrlfuse-client ctrlfuse-eval \
    && mkdir -p /out/bin && cp build/server/ctrlfuse-server build/client/ctrlfuse-client build/tools/ctrlfuse-eval /out/bin/

FROM build AS runtime
# The build stage already carries the runtime libraries (LibTorch and its
# CUDA libraries in /opt/venv, gRPC, OpenCV); a slim runtime stage is the
# deployment issue's work.
COPY --from=build /out/bin/ /usr/local/bin/
COPY models/ /opt/ctrlfuse/models/
ENV OMP_WAIT_POLICY=PASSIVE
EXPOSE 50051 9464
USER 65534
ENTRYPOINT ["/usr/local/bin/ctrlfuse-server", "--bundled_model=/opt/ctrlfuse/models/tiny-demo.pth"]
