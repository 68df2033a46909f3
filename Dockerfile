# Build a static binary (modernc SQLite is pure Go: no cgo), then run it as
# an unprivileged user on a minimal base.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/incidenthub ./cmd/incidenthub \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/incidenthub /usr/local/bin/incidenthub
COPY --from=build --chown=nonroot:nonroot /out/data /data
WORKDIR /data
USER nonroot:nonroot
EXPOSE 8080
ENV INCIDENTHUB_CONFIG=/etc/incidenthub/incidenthub.yaml
ENTRYPOINT ["/usr/local/bin/incidenthub"]
CMD ["serve"]
