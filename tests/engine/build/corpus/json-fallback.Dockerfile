FROM busybox
CMD [ "not", "closed"
CMD ["single"]
ENTRYPOINT [ 'single', 'quotes' ]
RUN ["sh", "-c", "echo \"quoted\" and \\backslash"]
CMD []
COPY ["src dir/", "/dest dir/"]
