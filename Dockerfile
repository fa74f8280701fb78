# tripflow: one image for every role (all | api | worker | watch | migrate).
#   docker build -t tripflow .
#   docker run --rm -e DATABASE_URL=postgres://… -e API_TOKEN=$(openssl rand -hex 32) -p 3000:3000 tripflow
# The TypeScript runs through tsx (a production dependency), so nothing is compiled to JavaScript.

# --- build: every dependency, a type check as a gate, then the dev dependencies removed ---------------
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json vitest.config.ts ./
COPY pipeline ./pipeline
COPY api ./api
COPY db ./db
COPY test ./test
RUN npx tsc --noEmit -p . \
 && npm prune --omit=dev --no-audit --no-fund \
 && npm cache clean --force

# --- runtime: production dependencies (tsx included) and the sources read at run time ---------------
FROM node:20-bookworm-slim
# The container's loopback is unreachable through -p, so the API listens on every interface; the api
# and all roles then start only with API_TOKEN (given at run time, never baked into the image).
ENV NODE_ENV=production HOST=0.0.0.0
WORKDIR /app
# Sources stay owned by root (read-only to the app); only the file folders belong to the node user.
# rejected/ is where refused files go: beside ARCHIVE_DIR, so /app/rejected with the defaults below.
COPY --from=build /app/node_modules ./node_modules
COPY package.json package-lock.json ./
COPY pipeline ./pipeline
COPY api ./api
COPY db ./db
COPY test/fixtures/trips.csv ./test/fixtures/trips.csv
RUN mkdir -p landing archive rejected && chown node:node landing archive rejected
USER node

EXPOSE 3000
# /health answers 200 when the database answers. Only the roles that serve HTTP (all, api) have it:
# a worker or watch container must turn this check off (docker-compose.yml does for the worker).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node itself is PID 1 (not npm or npx), so SIGTERM reaches main.ts, which finishes the running steps.
CMD ["node", "--import", "tsx", "pipeline/main.ts", "all"]
