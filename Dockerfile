# One image for every role; docker-compose.yml picks the role per service.
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY config ./config
COPY actors ./actors
COPY src ./src
COPY bin ./bin
ENV NODE_ENV=production LOG_LEVEL=info
ENTRYPOINT ["node", "bin/tickgate.js"]
