# cpsf as a container: a static-enough binary on a slim base with CA
# certificates (the AWS SDK verifies TLS against the system roots).
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
RUN cargo build --release --locked --bin cpsf

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/cpsf /usr/local/bin/cpsf
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/cpsf"]
CMD ["--help"]
