# syntax=docker/dockerfile:1
#
# polyglot-users: gRPC, gRPC-Web and Connect on one port.
#   docker build -t polyglot-users .
#   docker run -p 50051:50051 -e JWT_SECRET=... -v users-data:/data polyglot-users
#
# Node 24 is the Active LTS line; the build stage has the compilers
# better-sqlite3 falls back to when no prebuilt binary matches.
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
# "prepare" would build before the sources are here, so lifecycle scripts are
# skipped and the one native module is built explicitly.
RUN npm ci --ignore-scripts --no-audit --no-fund \
 && npm rebuild better-sqlite3
COPY . .
RUN npm run build \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=50051 \
    DATA_DIR=/data
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/web-client/dist ./web-client/dist
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 50051
# /readyz is 200 only while storage answers and the server is not shutting down.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "dist/server/health/readiness-probe.js"]
# Exec form: node is PID 1 and receives SIGTERM itself; give `docker stop` a
# grace period above SHUTDOWN_TIMEOUT_MS (10 s by default), e.g. --stop-timeout 20.
STOPSIGNAL SIGTERM
# The same command as `npm start` (a test keeps them equal); see "Runtime flags" in the README.
CMD ["node", "--max-semi-space-size=24", "dist/server/main.js"]
