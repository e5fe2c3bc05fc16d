# syntax=docker/dockerfile:1
#
# confab in a small image: a static, pure-Go binary (modernc.org/sqlite
# needs no cgo) on distroless. Build and run it with docker compose
# (docker-compose.yml, docs/deployment.md), or alone:
#
#   docker build -t confab .
#   docker run -p 8080:8080 -p 3478:3478/udp -p 3478:3478/tcp -v confab-data:/data confab
#
# The Go version follows go.mod (a test checks that they agree).

FROM golang:1.26 AS build
WORKDIR /src
# Dependencies first, so that a code change does not download them again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/confab ./cmd/confab
# The data directory, owned by the image's unprivileged user.
RUN mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/confab /usr/local/bin/confab
COPY --from=build --chown=65532:65532 /out/data /data
ENV CONFAB_DATA=/data \
    CONFAB_ADDR=:8080 \
    CONFAB_LOG_FORMAT=json
VOLUME ["/data"]
# HTTP (or HTTPS with --tls-cert/--acme-domain), TURN/STUN on UDP and TCP.
EXPOSE 8080 3478/udp 3478/tcp
USER nonroot:nonroot
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/confab", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/confab"]
CMD ["serve"]
