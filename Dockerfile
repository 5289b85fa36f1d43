# syntax=docker/dockerfile:1
#
# cloudsync image: the worker (entrypoint), plus the starter CLI and the Graph
# simulator under /usr/local/bin. Static, CGO-free binaries on distroless,
# running as the distroless "nonroot" user (65532).
#
#   docker build -t cloudsync:dev .
#   docker run --rm cloudsync:dev --help                       # worker flags and environment
#   docker run --rm --entrypoint starter cloudsync:dev --help  # operator CLI
#
# go.mod asks for go 1.26.8: if the golang:1.26 image is older, the go command
# fetches that toolchain (GOTOOLCHAIN=auto); pin golang:1.26.8 or newer once published.

FROM --platform=$BUILDPLATFORM golang:1.26 AS build
WORKDIR /src
ENV CGO_ENABLED=0

# Module downloads get their own layer: it is rebuilt only when go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download && go mod verify

COPY . .
# Cross-compile for the target platform (docker buildx build --platform linux/amd64,linux/arm64).
ARG TARGETOS
ARG TARGETARCH
RUN --mount=type=cache,target=/root/.cache/go-build \
    GOOS=$TARGETOS GOARCH=$TARGETARCH CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/bin/worker ./worker && \
    GOOS=$TARGETOS GOARCH=$TARGETARCH CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/bin/starter ./starter && \
    GOOS=$TARGETOS GOARCH=$TARGETARCH CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/bin/graphsim ./graphsim/cmd/graphsim && \
    GOOS=$TARGETOS GOARCH=$TARGETARCH CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/bin/codec-server ./codec/cmd/codec-server
# /sim: where graphsim writes ca.pem and env in docker-compose. It must exist
# in the image, owned by nonroot, so a fresh named volume mounted there is
# writable (Docker copies the image directory's ownership into the volume).
RUN mkdir -p /out/sim

FROM gcr.io/distroless/static-debian12:nonroot
LABEL org.opencontainers.image.title="cloudsync" \
      org.opencontainers.image.description="Onboards Microsoft Entra tenants to Cloud Sync with Temporal workflows"
COPY --from=build /out/bin/worker /usr/local/bin/worker
COPY --from=build /out/bin/starter /usr/local/bin/starter
COPY --from=build /out/bin/graphsim /usr/local/bin/graphsim
COPY --from=build /out/bin/codec-server /usr/local/bin/codec-server
COPY --from=build --chown=65532:65532 /out/sim /sim
USER 65532:65532
# Health and metrics (--metrics-addr, to come): /healthz, /readyz, /metrics.
EXPOSE 9090
ENTRYPOINT ["/usr/local/bin/worker"]
