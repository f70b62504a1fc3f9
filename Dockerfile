# Build the manager binary.
# Base images are pinned by the digest of their multi-platform index, so a
# rebuild of a release uses exactly the same bases; the tag stays for people.
# To update one: docker buildx imagetools inspect golang:1.26 (or the
# distroless tag) and copy the index's "Digest:".
# The builder runs on the build machine's own platform and cross-compiles
# (CGO_ENABLED=0), so a multi-arch build needs no emulation to compile.
FROM --platform=${BUILDPLATFORM} golang:1.26@sha256:3c3e25a4da13fd0478eed2df1eb35a0e667094a7124d3993a6a1d30f71c17e79 AS builder
ARG TARGETOS
ARG TARGETARCH
# What the binary reports about itself (internal/version, the startup log
# line and the dcs_backup_operator_build_info metric). `make docker-build` and
# the release workflow pass them.
ARG VERSION=dev
ARG COMMIT=unknown
ARG DATE=unknown

WORKDIR /workspace
# Copy the Go module manifests first so the dependency layer is cached.
COPY go.mod go.mod
COPY go.sum go.sum
RUN go mod download

# Copy the Go sources
COPY main.go main.go
COPY api/ api/
COPY internal/ internal/

# CGO_ENABLED=0 gives a static binary for the distroless static image; the
# time zone database is embedded by main.go's time/tzdata import.
RUN CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} go build -trimpath \
    -ldflags="-s -w -X github.com/dcs-operator/dcs-backup-operator/internal/version.version=${VERSION} -X github.com/dcs-operator/dcs-backup-operator/internal/version.commit=${COMMIT} -X github.com/dcs-operator/dcs-backup-operator/internal/version.date=${DATE}" \
    -o manager .

# Use distroless as a minimal base image to package the manager binary.
# Refer to https://github.com/GoogleContainerTools/distroless for more details.
FROM gcr.io/distroless/static:nonroot@sha256:e2e927ec666bae08560abb3c55d0659eceabb657f56b6782ab500a9fc7f555e3
ARG VERSION=dev
ARG COMMIT=unknown
ARG DATE=unknown
LABEL org.opencontainers.image.title="dcs-backup-operator" \
      org.opencontainers.image.description="Kubernetes operator that backs up DCS instances (managed Redis of Huawei Cloud and Open Telekom Cloud)" \
      org.opencontainers.image.source="https://github.com/dcs-operator/dcs-backup-operator" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}" \
      org.opencontainers.image.created="${DATE}"
WORKDIR /
COPY --from=builder /workspace/manager .
USER 65532:65532

ENTRYPOINT ["/manager"]
