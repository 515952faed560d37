# cpsf worker as a container image.
# Build: docker build -t cpsf . ; run with an IAM role (ECS task role) or
# the usual AWS_* variables. /healthz is served on 127.0.0.1:9090 inside the
# container, for the HEALTHCHECK (and ECS container health checks).

FROM rust:1.95-bookworm AS build
WORKDIR /src
# Dependencies first, with a placeholder crate: this layer is reused until
# Cargo.toml or Cargo.lock change.
COPY Cargo.toml Cargo.lock ./
RUN mkdir src \
 && echo 'fn main() {}' > src/main.rs \
 && touch src/lib.rs \
 && cargo build --release --locked --bin cpsf \
 && rm -rf src target/release/cpsf* target/release/deps/cpsf-* target/release/deps/libcpsf-* target/release/.fingerprint/cpsf-*
# The binary embeds the state machine, the bootstrap template, the sample
# app and the replay templates.
COPY statemachines ./statemachines
COPY bootstrap ./bootstrap
COPY app ./app
COPY test_events ./test_events
COPY src ./src
RUN cargo build --release --locked --bin cpsf

# glibc and CA certificates, no shell, runs as an unprivileged user.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/cpsf /usr/local/bin/cpsf
ENV CPSF_LISTEN=127.0.0.1:9090 \
    CPSF_LOG_FORMAT=json
# distroless's nonroot user, by number so any runtime can resolve it.
USER 65532:65532
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
  CMD ["/usr/local/bin/cpsf", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/cpsf", "worker"]
