ARG NODE_VERSION=20
FROM node:${NODE_VERSION}-alpine
WORKDIR /usr/src/app
COPY package*.json ./
RUN npm ci --omit=dev \
 && npm cache clean --force
COPY --chown=node:node . .
USER node
ENV NODE_ENV production
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=3s --start-period=5s --retries=3 \
  CMD wget -qO- http://localhost:3000/health || exit 1
CMD [ "node", "server.js" ]
