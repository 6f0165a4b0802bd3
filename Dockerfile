# Multi-stage build: compile in the Rust image, run from a slim Debian.
# cargo-chef builds the dependencies in their own layer from a recipe of
# the manifests only, so editing the project's code rebuilds the project,
# not its ~400 dependencies.
FROM lukemathwalker/cargo-chef:latest-rust-1.95-bookworm AS chef
WORKDIR /src

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS build
COPY --from=planner /src/recipe.json recipe.json
RUN cargo chef cook --release --recipe-path recipe.json
COPY . .
RUN cargo build --release --bin crm-server

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* && useradd --system --create-home crm
COPY --from=build /src/target/release/crm-server /usr/local/bin/crm-server
USER crm
WORKDIR /home/crm
ENV BIND_ADDRESS=0.0.0.0:8080
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --retries=5 CMD curl -fs http://127.0.0.1:8080/readyz || exit 1
ENTRYPOINT ["crm-server"]
CMD ["serve"]
