# cpsf worker as a container image.
# Build: docker build -t cpsf . ; run with an IAM role (ECS task role) or
# the usual AWS_* variables. /healthz is served on 127.0.0.1:9090 inside the
# container, for the HEALTHCHECK (and ECS container health checks).

# The bases are build arguments, the public images by default: `docker
# build .` pulls these; a build with no registry (scripts/check-image)
# passes local ones.
ARG RUST_IMAGE=rust:1.95-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot

FROM ${RUST_IMAGE} AS build
WORKDIR /src
# Dependencies first, with placeholder crates: this layer is reused until
# a Cargo.toml or Cargo.lock change.
COPY Cargo.toml Cargo.lock ./
COPY crates/worker/Cargo.toml ./crates/worker/
COPY crates/playground/Cargo.toml ./crates/playground/
RUN mkdir -p src crates/worker/src crates/playground/src \
 && echo 'fn main() {}' > src/main.rs \
 && touch src/lib.rs crates/worker/src/lib.rs crates/playground/src/lib.rs \
 && cargo build --release --locked --no-default-features --bin cpsf \
 && rm -rf src crates/*/src target/release/cpsf* \
           target/release/deps/cpsf* target/release/deps/libcpsf* target/release/.fingerprint/cpsf*
# The binary embeds the state machine, the bootstrap template and the
# replay templates. Without the default feature `playground`
# it has no `cpsf local` and no `cpsf demo`: the playground's crate is not
# built into the image.
COPY statemachines ./statemachines
COPY bootstrap ./bootstrap
COPY test_events ./test_events
COPY crates ./crates
COPY src ./src
RUN cargo build --release --locked --no-default-features --bin cpsf

# glibc and CA certificates, no shell, runs as an unprivileged user.
FROM ${RUNTIME_IMAGE}
# A binary built beforehand takes the build stage's place with
# `--build-context build=<dir holding src/target/release/cpsf>` (BuildKit
# and podman alike: a named context overrides the stage of that name);
# scripts/check-image builds the image so.
COPY --from=build /src/target/release/cpsf /usr/local/bin/cpsf
ENV CPSF_LISTEN=127.0.0.1:9090 \
    CPSF_LOG_FORMAT=json
# distroless's nonroot user, by number so any runtime can resolve it.
USER 65532:65532
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
  CMD ["/usr/local/bin/cpsf", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/cpsf", "worker"]
