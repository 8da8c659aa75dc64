# Multi-stage build: compile in the Rust image, then an image of the binary alone, with what
# it needs to run: the C library it links (and its loader), and the CA certificates (TLS to
# PostgreSQL and Stripe is rustls: no OpenSSL, no libpq). Migrations are embedded in the
# binary. No shell, no package manager, no curl: the health check is the binary's own.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p orderpay \
 && mkdir -p /out/usr/local/bin /out/etc/ssl/certs \
 && cp target/release/orderpay /out/usr/local/bin/orderpay \
 && cp /etc/ssl/certs/ca-certificates.crt /out/etc/ssl/certs/ \
 && for lib in $(ldd target/release/orderpay | grep -o '/[^ ]*'); do \
      mkdir -p "/out$(dirname "$lib")" && cp -L "$lib" "/out$lib"; \
    done \
 && echo 'orderpay:x:10001:10001:orderpay:/:/nonexistent' > /out/etc/passwd \
 && echo 'orderpay:x:10001:' > /out/etc/group

FROM scratch
COPY --from=build /out/ /
USER orderpay
ENV PATH=/usr/local/bin PORT=8080 LOG_FORMAT=json RUST_LOG=info
EXPOSE 8080
# The image has no curl: the binary asks its own /readyz.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s CMD ["/usr/local/bin/orderpay", "health"]
# `serve` creates the database if missing and applies pending migrations before listening.
CMD ["/usr/local/bin/orderpay", "serve"]
