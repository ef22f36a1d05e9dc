# Pictor's image, for both modes: `serve` (embedded, the default command), `api` and `worker`
# (a cluster node). Build: `docker build -t pictor .`
#
# Stage 1 installs every dependency (the build needs TypeScript and esbuild), builds the engine
# export and the studio bundle, then drops the dev dependencies.
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Install scripts stay as package.json's allowScripts says: onnxruntime-node's CUDA download
# and esbuild's binary check do not run (the CPU runtime and esbuild's binary ship in npm).
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

# Stage 2: only what runs. Node runs the TypeScript sources directly (type stripping).
FROM node:24-slim
ENV NODE_ENV=production \
    PICTOR_DATA_DIR=/data \
    PICTOR_SERVER__HOST=0.0.0.0 \
    PICTOR_SERVER__PORT=8080
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
COPY --from=build /app/src ./src
COPY --from=build /app/models ./models
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 8080
# Every role answers /v1/health/ready on server.port (a worker node serves only its health).
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PICTOR_SERVER__PORT}/v1/health/ready`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "bin/pictor.js"]
CMD ["serve"]
