# Multi-stage build: compile in the Rust image, run in a slim Debian with only the binary.
# Migrations are embedded in the binary; no libpq is needed (TLS is rustls).
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p orderpay \
 && cp target/release/orderpay /usr/local/bin/orderpay

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 orderpay
COPY --from=build /usr/local/bin/orderpay /usr/local/bin/orderpay
USER orderpay
ENV PORT=8080 LOG_FORMAT=json RUST_LOG=info
EXPOSE 8080
# The image has no curl: the binary asks its own /readyz.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s CMD ["orderpay", "health"]
# `serve` creates the database if missing and applies pending migrations before listening.
CMD ["orderpay", "serve"]
