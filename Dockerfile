# Sésame provider image: `idp` on distroless, as a non-root user, no shell.
# Build: docker build -t sesame-idp:0.1.0 .
# Kubernetes probes (/healthz, /readyz) replace a HEALTHCHECK.

FROM rust:1-bookworm AS builder
WORKDIR /src
COPY . .
RUN cargo build --release -p idp --locked \
    && install -m 0755 target/release/idp /idp

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=builder /idp /usr/local/bin/idp
# 65532 is distroless's `nonroot`; numeric so runAsNonRoot can verify it.
USER 65532:65532
ENV SESAME_BIND=0.0.0.0:8080 \
    SESAME_LOG_FORMAT=json
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/idp"]
CMD ["serve"]
