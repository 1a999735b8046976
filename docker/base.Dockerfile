# Node on the debootstrapped Debian base; built by docker/build-base.sh from a context holding the
# host's `node` binary and `npm` directory (nothing is pulled from a registry).
#   --target node        runtime base: Node only
#   --target node-build  build base: Node and npm (npm never reaches a runtime image)
FROM cda-debian:bookworm AS node
ARG NODE_VERSION=unknown
LABEL cda.node.version="${NODE_VERSION}"
COPY node /usr/local/bin/node
RUN node -e 'if (Number(process.versions.node.split(".")[0]) < 20) process.exit(1)'
ENV NODE_ENV=production

FROM node AS node-build
COPY npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm && npm --version
ENV NODE_ENV=development
