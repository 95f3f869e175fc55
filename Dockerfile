# syntax=docker/dockerfile:1
# One image for every tunnelkey service: `tunnelkey <service>` (deploy/image/tunnelkey.mjs) runs it.
#   docker build -t tunnelkey:0.1.0 .
#   docker run --rm tunnelkey:0.1.0 --help
# Stages: deps (production node_modules, the native PKCS#11 binding compiled), build (the repo's own
# build: npm ci with dev dependencies, `npm run build` = swc through nx), runtime (node:20 slim,
# non-root, production dependencies and the built output only). Checked offline by
# e2e/src/deployment/image.unit.spec.ts (every COPY source exists, every deployed command dispatches).

ARG NODE_IMAGE=node:20-bookworm-slim

# Every workspace's package.json and the lock file, and nothing else: the dependency layers below
# are reused until one of them changes (a new workspace needs no change here).
FROM ${NODE_IMAGE} AS manifests
WORKDIR /src
COPY . .
RUN mkdir /manifests \
 && find . -name package.json -not -path '*/node_modules/*' -exec cp --parents {} /manifests/ \; \
 && cp package-lock.json /manifests/

FROM ${NODE_IMAGE} AS base
WORKDIR /app
# pkcs11js (the PKCS#11 signer of libs/pki) compiles at install time.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY --from=manifests /manifests ./

FROM base AS deps
RUN npm ci --omit=dev --no-audit --no-fund

FROM base AS build
RUN npm ci --no-audit --no-fund
COPY . .
# The repository's own build (swc through nx); e2e is not shipped. Then what the runtime needs of
# each workspace, gathered in /out: its package.json (exports point at dist/) and dist/ without the
# compiled tests, and the console's static files (the gateway serves them from src/console/static).
RUN npm run build -- --exclude=@tunnelkey/e2e \
 && for manifest in $(find . -name package.json -not -path '*/node_modules/*' -not -path './package.json'); do \
      p="$(dirname "$manifest")"; mkdir -p "/out/$p" && cp "$manifest" "/out/$p/" \
      && if [ -d "$p/dist" ]; then cp -r "$p/dist" "/out/$p/dist"; fi; \
    done \
 && find /out \( -name '*.spec.js*' -o -name '*.test-helper.js*' \) -delete \
 && mkdir -p /out/services/gateway/src/console \
 && cp -r services/gateway/src/console/static /out/services/gateway/src/console/static

FROM ${NODE_IMAGE} AS runtime
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="tunnelkey" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV NODE_ENV=production \
    TUNNELKEY_VERSION=${VERSION} \
    HTTP_HOST=0.0.0.0 \
    LOG_LEVEL=info
WORKDIR /app
COPY --from=deps /app/package.json ./
COPY --from=deps /app/node_modules node_modules
COPY --from=build /out ./
COPY deploy/image/tunnelkey.mjs deploy/image/tunnelkey.mjs
RUN chmod 0755 deploy/image/tunnelkey.mjs && ln -s /app/deploy/image/tunnelkey.mjs /usr/local/bin/tunnelkey
# The node user of the base image (uid 1000), owning nothing under /app: the root filesystem can be
# read-only (Kubernetes: readOnlyRootFilesystem; writable volumes only where a service writes).
USER 1000:1000
ENTRYPOINT ["tunnelkey"]
CMD ["--help"]
