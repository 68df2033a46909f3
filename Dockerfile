# Build a static binary (modernc SQLite is pure Go: no cgo), then run it as
# an unprivileged user on a minimal base with no shell.
#
# Base images are pinned by digest, so a rebuild gets the same bytes. To
# move to newer ones: crane digest golang:1.26-bookworm (and the distroless
# tag), then update both lines.
FROM golang:1.26-bookworm@sha256:18aedc16aa19b3fd7ded7245fc14b109e054d65d22ed53c355c899582bbb2113 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=
ARG BUILD_DATE=
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT} -X main.buildDate=${BUILD_DATE}" -o /out/incidenthub ./cmd/incidenthub \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot@sha256:afa5c872c891853ca7fcf1f12c3edb23f7eeef36189728842dd51042ff57f7ab
COPY --from=build /out/incidenthub /usr/local/bin/incidenthub
# SQLite's default file, data/incidenthub.db, resolves to /data from /.
COPY --from=build --chown=nonroot:nonroot /out/data /data
WORKDIR /
USER nonroot:nonroot
EXPOSE 8080
ENV INCIDENTHUB_CONFIG=/etc/incidenthub/incidenthub.yaml
# No shell or curl in the image: the binary probes itself.
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
  CMD ["/usr/local/bin/incidenthub", "healthcheck", "--ready"]
ENTRYPOINT ["/usr/local/bin/incidenthub"]
CMD ["serve"]
