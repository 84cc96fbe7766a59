FROM nginx:1.25-alpine
LABEL maintainer="ops@example.com" \
      org.opencontainers.image.title="web" \
      org.opencontainers.image.description="static site"
COPY nginx.conf /etc/nginx/nginx.conf
COPY site/ /usr/share/nginx/html/
EXPOSE 80 443
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
